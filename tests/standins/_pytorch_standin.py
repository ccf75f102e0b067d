"""What the PyTorch backend's stand-ins share: the argv check against the package's own tool tables, and knobs.

Unlike the engine-path stand-ins (flagcheck.py, over the reference tables), these import
the installed `compiler` package and check argv with compiler.catalog.tools, the same
tables the planner checks what it emits against; so they run under the python3 of the
virtual environment trtdeploy is installed in.

Knobs for tests (besides each stand-in's own):
  TRTDEPLOY_STANDIN_VERSION=<x.y.z>     the TensorRT-LLM release to act as (default: the newest release of compiler/catalog/releases.yaml)
  TRTDEPLOY_STANDIN_FAIL=<tool>         exit 1 with a message
  TRTDEPLOY_STANDIN_LOG=<file>          append one JSON line {"tool", "argv", "version", "pid"} per invocation

Exit status: 2 for a command line the tool's parser refuses (argparse and click both exit 2),
1 for what the tool refuses once running (a config, a model), 0 when done.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import _standin as s

from compiler.catalog.tools import ParsedArgs, surface
from compiler.catalog.releases import newest_release
from compiler.versions import Version, parse_version

USAGE_ERROR = 2
RUNTIME_ERROR = 1


class Refused(Exception):
    """What the running tool refuses (a config key, a model it cannot load): exit 1 with the message."""


def trtllm_release() -> Version:
    written = os.environ.get("TRTDEPLOY_STANDIN_VERSION")
    return parse_version(written) if written else newest_release().version


def run(tool: str, version: Version, body: Callable[[ParsedArgs], None]) -> int:
    """Log the call, honour the fail knob, check argv against the tool's surface for `version`, run `body`."""
    argv = sys.argv[1:]
    s._log_call(tool, argv, str(version))
    if os.environ.get("TRTDEPLOY_STANDIN_FAIL") == tool:
        print(f"stand-in {tool}: failing as asked by TRTDEPLOY_STANDIN_FAIL={tool}", file=sys.stderr)
        return RUNTIME_ERROR
    parsed = surface(tool, version).parse(argv)
    problems = parsed.all_problems()
    if problems:
        for problem in problems:
            print(f"stand-in {tool}: error: {problem}", file=sys.stderr)
        return USAGE_ERROR
    print(f"stand-in {tool} ({version}): {len(argv)} arguments checked", flush=True)
    try:
        body(parsed)
    except s.StandinError as exc:
        print(f"stand-in {tool}: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except Refused as exc:
        print(f"stand-in {tool}: {exc}", file=sys.stderr)
        return RUNTIME_ERROR
    print(f"stand-in {tool}: done", flush=True)
    return 0


def one(parsed: ParsedArgs, flag: str, default: str | None = None) -> str | None:
    """The (last) value given for `flag` at this level, by its canonical name."""
    values = parsed.values.get(flag)
    return values[-1] if values else default
