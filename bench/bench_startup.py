"""(c) Cold start: `trtdeploy --help`, `check ONE_SPEC` and `status BUILD_DIR` as whole processes, median of 15.

`status BUILD_DIR` is the runner's path (plan.json read through its pydantic document, no
spec, catalogs or planner), on the 20-step folder of bench_runner.py.

Measured with bytecode caches (as an installed trtdeploy runs) against the target, and
without them (every compiler/ module compiled from source on each start) for reference.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_runner import write_folder
from common import (
    ROOT,
    cached_env,
    median_of,
    ms,
    run_quiet,
    trtdeploy_command,
    uncached_env,
)

RUNS = 15
TARGET_S = 0.3
SPEC = ROOT / "specs" / "llama-7b-fp8-h100.yaml"
COMMANDS = {
    "trtdeploy --help": ["--help"],
    "trtdeploy check ONE_SPEC": ["check", str(SPEC)],
    "trtdeploy plan --format json ONE_SPEC": ["plan", "--format", "json", str(SPEC)],
}
TARGETED = {"trtdeploy --help", "trtdeploy check ONE_SPEC"}


def measure(args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    argv = [*trtdeploy_command(), *args]
    run_quiet(argv, env)  # fills the bytecode cache (when allowed) and the page cache

    def once() -> float:
        seconds, code = run_quiet(argv, env)
        assert code in (0, 1), f"{' '.join(argv)} exited {code}"
        return seconds

    return median_of(RUNS, once)


def main() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="trtdeploy-bench-status-") as tmp:
        build_dir = write_folder(Path(tmp) / "build")
        return measure_all({**COMMANDS, "trtdeploy status BUILD_DIR": ["status", str(build_dir)]})


def measure_all(commands: dict[str, list[str]]) -> list[str]:
    lines: list[str] = []
    python_only = median_of(RUNS, lambda: run_quiet([sys.executable, "-c", "pass"])[0])[0]
    for label, env in (("bytecode cached", cached_env()), ("no bytecode cache", uncached_env())):
        for name, args in commands.items():
            median, low, high = measure(args, env)
            verdict = ""
            if name in TARGETED and label == "bytecode cached":
                verdict = f"; {'meets' if median < TARGET_S else 'MISSES'} the {TARGET_S:g} s target"
            line = (f"(c) {name} [{label}]: {ms(median)} median of {RUNS} "
                    f"(min {ms(low)}, max {ms(high)}){verdict}")
            print(line, flush=True)
            lines.append(line)
    line = f"(c) for scale: `python -c pass` starts in {ms(python_only)}"
    print(line)
    lines.append(line)
    return lines


if __name__ == "__main__":
    from machine import describe

    print(describe())
    main()
