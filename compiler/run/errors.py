"""The run stage's messages: every problem a user can fix is a Finding with a B code, printed one way.

`BuildError` is only the carrier that stops a command: it holds the findings (one, or
every problem of a plan.json at once) and the exit code. The codes are documented in the
rule registry (compiler/rules/build.py), so `trtdeploy explain B201` works; this module
does not import the registry, to keep `trtdeploy build DIR` light.
"""

from __future__ import annotations

from collections.abc import Iterable

from compiler.findings import Finding, Location, Severity


def problem(code: str, message: str, hint: str = "", location: Location | None = None,
            severity: Severity = Severity.ERROR) -> Finding:
    """A run-stage finding: `code` is a B code, `message` states what is wrong with the values, `hint` the fix."""
    return Finding(code, severity, message, hint, location=location)


class BuildError(Exception):
    """Stops a build, status or doctor command with findings; exit_code is 1 (failed) or 2 (usage error)."""

    def __init__(self, code: str, message: str, hint: str = "", *, exit_code: int = 1,
                 location: Location | None = None) -> None:
        self.findings: tuple[Finding, ...] = (problem(code, message, hint, location),)
        self.exit_code = exit_code
        super().__init__(message)

    @classmethod
    def of(cls, findings: Iterable[Finding], exit_code: int = 1) -> BuildError:
        """A BuildError carrying several findings (at least one)."""
        found = tuple(findings)
        error = cls(found[0].code, found[0].message, found[0].hint, exit_code=exit_code, location=found[0].location)
        error.findings = found
        return error

    @property
    def finding(self) -> Finding:
        return self.findings[0]

    @property
    def message(self) -> str:
        return self.findings[0].message

    @property
    def hint(self) -> str:
        return self.findings[0].hint


def finding_text(finding: Finding) -> str:
    """`[file:line:col: ]CODE severity: message` and, when there is a fix, `  help: hint`; ends with a newline."""
    from compiler.escape import visible  # messages quote spec values and file names: one line each, no escapes

    loc = finding.location
    place = f"{visible(loc.file)}:{loc.line}:{loc.column}: " if loc else ""
    text = f"{place}{finding.code} {finding.severity.value}: {visible(finding.message)}\n"
    return text + (f"  help: {visible(finding.hint)}\n" if finding.hint else "")
