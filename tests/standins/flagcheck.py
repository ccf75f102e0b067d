"""The stand-ins' one argv check, against the flag tables of ../shared/reference/trtllm.md (§1.1-1.3).

A thin adapter over tests/reference_flags.py (the parser of those tables that the
plan tests use too), so the stand-ins and the planner's tests read the tables the
same way. Stdlib only, like reference_flags: the stand-ins run under whatever
python3 the step scripts find on PATH.

The release line (TRTDEPLOY_STANDIN_LINE: 0.8 | 0.12 | 1.x) picks the column;
TRTDEPLOY_STANDIN_VERSION (e.g. 0.10.0), when set, applies the cells that name flags
of one exact release (e.g. --modelopt_quant_ckpt_path at 0.10.0).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

HERE = Path(os.path.realpath(__file__)).parent
LINE_COLUMN = {"0.8": "0.8.0", "0.12": "0.16.0.dev", "1.x": "1.x"}


def _reference_flags() -> ModuleType:
    sys.path.insert(0, str(HERE.parent))
    try:
        return importlib.import_module("reference_flags")
    finally:
        sys.path.remove(str(HERE.parent))


def check_argv(tool: str, line: str, argv: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Parse a tool's argv (program name excluded) and check it against the release line's column.

    Returns:
        (flag -> values given, problems); a switch maps to [].
    """
    column = LINE_COLUMN.get(line)
    if column is None:
        return {}, [f"TRTDEPLOY_STANDIN_LINE={line!r} is not one of {sorted(LINE_COLUMN)}"]
    reference = _reference_flags()
    problems = reference.check_argv(tool, column, argv, os.environ.get("TRTDEPLOY_STANDIN_VERSION") or None)
    parsed, _ = reference.parse_argv(argv)
    given = {flag: values for flag, values, _ in parsed}
    return given, [f"{problem} (release line {line})" for problem in problems]
