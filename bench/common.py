"""What the benchmarks share: timing, the trtdeploy command line, and an environment with bytecode caches.

Cold-start figures depend on whether Python finds compiled bytecode. An installed
package has it (pip compiles at install); this repository's editable install may not
(PYTHONDONTWRITEBYTECODE is set on some machines). `cached_env` keeps bytecode in a
private folder (PYTHONPYCACHEPREFIX), so the working tree gets no __pycache__ and the
figures match an installed trtdeploy; `uncached_env` measures the worst case.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYCACHE = Path(tempfile.gettempdir()) / "trtdeploy-bench-pycache"


def trtdeploy_command() -> list[str]:
    """The console script beside this interpreter (what users run), else `python -m compiler.cli`."""
    script = Path(sys.executable).parent / "trtdeploy"
    return [str(script)] if script.exists() else [sys.executable, "-m", "compiler.cli"]


def cached_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "TRTDEPLOY_DEBUG")}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def uncached_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPYCACHEPREFIX", "TRTDEPLOY_DEBUG")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_quiet(argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[float, int]:
    """Wall time of one process, output discarded; returns (seconds, exit code)."""
    start = time.perf_counter()
    code = subprocess.run(list(argv), env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          check=False).returncode
    return time.perf_counter() - start, code


def median_of(runs: int, measure: Callable[[], float]) -> tuple[float, float, float]:
    """(median, min, max) of `runs` measurements."""
    values = [measure() for _ in range(runs)]
    return statistics.median(values), min(values), max(values)


def ms(seconds: float) -> str:
    """Milliseconds, with decimals below 10 ms (per-spec figures)."""
    value = seconds * 1000
    return f"{value:.2f} ms" if value < 10 else f"{value:.0f} ms"


def has_shell_tools() -> bool:
    return shutil.which("bash") is not None
