"""TensorRT-LLM release lines: which flag set, defaults and support matrix a version selects.

The three lines are those of ../shared/reference/trtllm.md §0: 0.8-0.10 (the
`--max_output_len` era), 0.12-0.x (`--max_seq_len`, plugin dtype `auto`) and 1.x
(the TensorRT engine backend, `examples/models/core/`).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class ReleaseLine(str, enum.Enum):
    """A family of TensorRT-LLM releases that share command-line flags."""

    V0_8 = "0.8"
    V0_12 = "0.12"
    V1 = "1.x"

    @property
    def label(self) -> str:
        return {"0.8": "0.8-0.10", "0.12": "0.12-0.x", "1.x": "1.x"}[self.value]

    @property
    def reference_column(self) -> str:
        """The column of the flag tables in ../shared/reference/trtllm.md that documents this line."""
        return {"0.8": "0.8.0", "0.12": "0.16.0.dev", "1.x": "1.x"}[self.value]


NEWEST_RELEASE = "1.2.0"
SUPPORTED = "0.8.x-0.10.x, 0.12.x-0.21.x or 1.x"


@dataclass(frozen=True)
class Release:
    """The release a spec names, and the line it belongs to."""

    version: str
    line: ReleaseLine


class UnknownRelease(ValueError):
    """The version names no supported release line."""


_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?([a-z0-9.]*)$")


def parse_release(text: str | None) -> Release:
    """Map `target.tensorrt_llm` to its release line.

    Raises:
        UnknownRelease: for versions outside the three supported lines (0.11 is a
            transition release whose flags belong to neither neighbour).
    """
    if text is None:
        return Release(NEWEST_RELEASE, ReleaseLine.V1)
    match = _VERSION.match(text.strip())
    if not match:
        raise UnknownRelease(f"'{text}' is not a version number")
    major, minor = int(match.group(1)), int(match.group(2))
    if major == 1:
        return Release(text, ReleaseLine.V1)
    if major == 0 and 8 <= minor <= 10:
        return Release(text, ReleaseLine.V0_8)
    if major == 0 and 12 <= minor <= 21:
        return Release(text, ReleaseLine.V0_12)
    if major == 0 and minor == 11:
        raise UnknownRelease("0.11 is a transition release whose flags match neither 0.10 nor 0.12")
    raise UnknownRelease(f"TensorRT-LLM {text} is outside the supported releases")
