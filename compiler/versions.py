"""TensorRT-LLM (and ModelOpt) version numbers: parsing, ordering and release ranges.

Facts in compiler/catalog/ hold per release range: a row applies from `since`
(inclusive) until `until` (exclusive). Versions order as PEP 440 does for the
forms these projects publish: 0.16.0.dev2024121000 < 0.16.0rc1 < 0.16.0 < 0.16.0.post1,
and "0.16" is 0.16.0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Pre-release stages, in PEP 440 order.
DEV, RC, FINAL, POST = 0, 1, 2, 3
_STAGES = {"dev": DEV, ".dev": DEV, "rc": RC, ".rc": RC, "post": POST, ".post": POST}
_VERSION = re.compile(r"^(\d{1,4})\.(\d{1,4})(?:\.(\d{1,4}))?(?:(\.?dev|\.?rc|\.?post)(\d{0,12}))?$")


@dataclass(frozen=True, order=True)
class Version:
    """A release number; compares in release order. `text` is how it was written."""

    major: int
    minor: int
    patch: int = 0
    stage: int = FINAL
    number: int = 0
    text: str = field(default="", compare=False)

    def __str__(self) -> str:
        return self.text or self.canonical

    @property
    def canonical(self) -> str:
        base = f"{self.major}.{self.minor}.{self.patch}"
        suffix = {DEV: ".dev", RC: "rc", FINAL: "", POST: ".post"}[self.stage]
        return base + (f"{suffix}{self.number}" if self.stage != FINAL else "")

    @property
    def is_prerelease(self) -> bool:
        return self.stage in (DEV, RC)

    @property
    def final(self) -> Version:
        """The final release this version belongs to: 1.3.0rc1 -> 1.3.0."""
        return Version(self.major, self.minor, self.patch)


class VersionError(ValueError):
    """Text that is not a version number of the forms TensorRT-LLM publishes."""


def parse_version(text: str) -> Version:
    """Parse "0.8.0", "0.16", "1.2.0rc2", "0.16.0.dev2024121000" or "1.0.0.post1".

    Raises:
        VersionError: for anything else.
    """
    match = _VERSION.match(text.strip())
    if match is None:
        raise VersionError(f"'{text}' is not a version number")
    major, minor, patch, stage, number = match.groups()
    return Version(int(major), int(minor), int(patch or 0), _STAGES[stage] if stage else FINAL,
                   int(number or 0), text.strip())


@dataclass(frozen=True)
class VersionRange:
    """Releases from `since` (inclusive) until `until` (exclusive; None: still true in the newest known)."""

    since: Version
    until: Version | None = None

    def __contains__(self, version: object) -> bool:
        if not isinstance(version, Version):
            return False
        return self.since <= version and (self.until is None or version < self.until)

    def __str__(self) -> str:
        if self.until is None:
            return f"TensorRT-LLM {self.since} and newer"
        return f"TensorRT-LLM {self.since} up to (not including) {self.until}"
