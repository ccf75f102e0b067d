"""TensorRT-LLM releases by exact version, and the facts of each release range (releases.yaml).

`known_releases()` lists every release from 0.8.0 to the newest known, each with its date,
commit and source. `release_facts(version)` says which facts apply to a version a spec names:
a listed release uses its own; a version between listed ones (0.12.1, a dev or rc build not
listed) uses the rows whose range holds it; a version newer than the newest known uses the
newest known release's facts and carries a message for a finding; a version older than 0.8.0
is refused. `ranged(name, version)` is one fact of releases.yaml's `facts:` at a version.
Tool flags are not here: `ReleaseFacts.surface(tool)` reads them from tools/<tool>.yaml.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass

from compiler.catalog.ranges import (
    CatalogFactsError,
    RangedFact,
    load_yaml,
    pick,
    ranged_rows,
    source_texts,
    version_of,
)
from compiler.catalog.tools import Surface, surface
from compiler.versions import Version, VersionError, parse_version

FILE = "releases.yaml"


@dataclass(frozen=True)
class Release:
    """One published TensorRT-LLM release: when, at which commit (when resolved), and from where."""

    version: Version
    date: str | None
    commit: str | None
    source: str
    note: str = ""


class ReleaseStatus(str, enum.Enum):
    """How a requested version relates to the releases known."""

    KNOWN = "known"        # a listed release
    UNLISTED = "unlisted"  # between listed releases (a patch, dev or rc build not listed)
    NEWER = "newer"        # after the newest known release


class ReleaseNotSupported(ValueError):
    """The version is not a version number, or is older than the oldest release known (0.8.0)."""


@dataclass(frozen=True)
class ReleaseFacts:
    """Which facts apply to a requested version, and why.

    `facts_version` is the version every ranged fact and tool surface is read at: the requested
    version, except after the newest known release, where it is the newest known one.
    `message` is set when the caller should tell the user (UNLISTED, NEWER).
    """

    requested: Version
    status: ReleaseStatus
    release: Release
    facts_version: Version
    message: str | None

    @property
    def version(self) -> str:
        """The release as the spec wrote it (or the default), for messages."""
        return str(self.requested)

    @property
    def exact(self) -> Version:
        """The version facts are read at (the newest known one for a newer release)."""
        return self.facts_version

    def fact(self, name: str) -> RangedFact | None:
        """The row of releases.yaml's fact `name` for this release, if one applies."""
        return ranged(name, self.facts_version)

    def surface(self, tool: str, subcommand: str | None = None) -> Surface:
        """The flags `tool` accepts in this release."""
        return surface(tool, self.facts_version, subcommand)


@dataclass(frozen=True)
class _Releases:
    releases: tuple[Release, ...]
    facts: Mapping[str, tuple[RangedFact, ...]]


@functools.cache
def _load() -> _Releases:
    data = load_yaml(FILE)
    sources = source_texts(FILE, data.get("sources") or {})
    releases = tuple(sorted((_release(row, sources) for row in data.get("releases") or ()),
                            key=lambda release: release.version))
    if not releases:
        raise CatalogFactsError(f"{FILE}: no releases")
    versions = [release.version for release in releases]
    if len(set(versions)) != len(versions):
        raise CatalogFactsError(f"{FILE}: a release is listed twice")
    facts = {str(name): ranged_rows(FILE, str(name), rows, sources)
             for name, rows in (data.get("facts") or {}).items()}
    return _Releases(releases, facts)


def _release(row: object, sources: Mapping[str, str]) -> Release:
    if not isinstance(row, Mapping) or row.get("source") not in sources:
        raise CatalogFactsError(f"{FILE}: release row {row!r} needs a version and a listed source")
    version = version_of(FILE, "releases", row.get("version"))
    commit = row.get("commit")
    if commit is not None and (len(str(commit)) != 40 or any(c not in "0123456789abcdef" for c in str(commit))):
        raise CatalogFactsError(f"{FILE}: release {version}: commit {commit!r} is not 40 hex digits")
    return Release(version, row.get("date"), commit, sources[str(row["source"])], str(row.get("note", "")))


def known_releases() -> tuple[Release, ...]:
    """Every release known, oldest first."""
    return _load().releases


def newest_release() -> Release:
    return _load().releases[-1]


def oldest_release() -> Release:
    return _load().releases[0]


def _as_version(version: Version | str) -> Version:
    if isinstance(version, Version):
        return version
    try:
        return parse_version(version)
    except VersionError as exc:
        raise ReleaseNotSupported(str(exc)) from None


def release_facts(version: Version | str) -> ReleaseFacts:
    """Which release's facts apply to `version` (known or not).

    Raises:
        ReleaseNotSupported: not a version number, or older than the oldest release known.
    """
    requested = _as_version(version)
    releases = known_releases()
    if requested < releases[0].version:
        raise ReleaseNotSupported(f"TensorRT-LLM {requested} is older than {releases[0].version}, "
                                  "the oldest release whose facts are known")
    newest = releases[-1]
    if requested > newest.version:
        return ReleaseFacts(requested, ReleaseStatus.NEWER, newest, newest.version,
                            f"TensorRT-LLM {requested} is newer than the newest release known ({newest.version}); "
                            f"its flags and limits are taken from {newest.version} and may have changed")
    release = [known for known in releases if known.version <= requested][-1]
    if release.version == requested:
        return ReleaseFacts(requested, ReleaseStatus.KNOWN, release, requested, None)
    return ReleaseFacts(requested, ReleaseStatus.UNLISTED, release, requested,
                        f"TensorRT-LLM {requested} is not a listed release; the facts of the release ranges "
                        f"that hold it apply (the nearest listed release before it is {release.version})")


def fact_names() -> tuple[str, ...]:
    """The names of releases.yaml's ranged facts."""
    return tuple(_load().facts)


def fact_rows(name: str) -> tuple[RangedFact, ...]:
    """Every row of one fact, oldest first.

    Raises:
        KeyError: no fact of that name.
    """
    return _load().facts[name]


def ranged(name: str, version: Version | str) -> RangedFact | None:
    """The row of fact `name` that applies to `version`, or None when no row covers it.

    Raises:
        KeyError: no fact of that name.
        ReleaseNotSupported: `version` is not a version number.
    """
    return pick(fact_rows(name), _as_version(version))
