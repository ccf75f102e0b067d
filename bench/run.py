"""Run every benchmark and print its figures with the machine they ran on: `python bench/run.py`.

Not part of the test run (pytest collects tests/ only). Targets on a 2-core machine:
(a) `check` over 1,000 specs under 1 s, (c) `--help` under 0.15 s and `check ONE_SPEC`
cold start under 0.3 s, (e) hostile documents refused in bounded time. Exits 1 when a
target is missed, so CI can run it as a gate.
Options: --count N (specs for (a)/(b), default 1000), --only a,b,c,d,e.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench_hostile
import bench_pipeline
import bench_runner
import bench_startup
from common import has_shell_tools
from machine import describe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000, help="generated specs for (a) and (b)")
    parser.add_argument("--only", default="a,b,c,d,e",
                        help="which benchmarks: a,b (pipeline), c (startup), d (runner), e (hostile documents)")
    args = parser.parse_args(argv)
    wanted = set(args.only.split(","))
    print(describe(), flush=True)
    began = time.perf_counter()
    lines: list[str] = []
    if wanted & {"a", "b"}:
        lines += bench_pipeline.main(args.count)
    if "c" in wanted:
        lines += bench_startup.main()
    if "d" in wanted and has_shell_tools():
        lines += bench_runner.main()
    if "e" in wanted:
        lines += bench_hostile.main()
    missed = [line for line in lines if "MISSES" in line]
    print(f"done in {time.perf_counter() - began:.0f} s; "
          + (f"{len(missed)} target(s) missed" if missed else "every target met"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
