"""The one error type the run stage raises for problems a user can fix."""

from __future__ import annotations


class BuildError(Exception):
    """A problem with the build folder, the host or the arguments, reported as `trtdeploy: message` + `help:`.

    Attributes:
        message: what is wrong, with the actual values.
        hint: how to fix it (printed as `help:`), or "".
        exit_code: 1 for a failed build or preflight, 2 for a usage error.
    """

    def __init__(self, message: str, hint: str = "", exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code
