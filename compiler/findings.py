"""The one diagnostic type every stage reports: a Finding at a place in a spec file."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace


class Severity(str, enum.Enum):
    """How bad a finding is. Errors fail `check`; warnings and notes do not."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, order=True)
class Location:
    """Where a value was written: 1-based line and column in a file."""

    file: str
    line: int
    column: int


@dataclass(frozen=True)
class Finding:
    """A problem found in a spec, with the key it concerns and how to fix it.

    Attributes:
        code: stable rule code, e.g. ``D102``.
        severity: error, warning or note.
        message: the problem, with the actual values.
        hint: a concrete fix, shown as ``help:``.
        key: dotted key path in the spec (``parallelism.tp``), or "" for the file.
        location: where the key's value was written, when known.
    """

    code: str
    severity: Severity
    message: str
    hint: str = ""
    key: str = ""
    location: Location | None = None
    # A draft made by a rule or a decision without a severity of its own: the rule registry
    # gives it the rule's severity (and its code, location and default hint).
    draft: bool = field(default=False, compare=False, repr=False)

    def with_severity(self, severity: Severity) -> Finding:
        return replace(self, severity=severity)

    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location
        return (loc.file if loc else "", loc.line if loc else 0, loc.column if loc else 0, self.code)

    def to_json(self) -> dict[str, object]:
        loc = self.location
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "hint": self.hint,
            "key": self.key,
            "file": loc.file if loc else None,
            "line": loc.line if loc else None,
            "column": loc.column if loc else None,
        }


def draft(key: str, message: str, hint: str = "", severity: Severity | None = None, code: str = "") -> Finding:
    """A finding about a spec key, to be completed by the rule registry (code, location, default severity)."""
    return Finding(code, severity or Severity.ERROR, message, hint, key, None, draft=severity is None)


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)
