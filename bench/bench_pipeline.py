"""(a) `check` and (b) `plan --format json` over 1,000 generated specs, in process and through the CLI.

(a) is one `trtdeploy check DIR` process over the folder (what CI runs), plus the
in-process `check_spec` loop. (b) is the in-process pipeline `check_spec` +
`make_plan` + `plan_json` for every spec, the same through the click command in
this process (the CLI layer without process start), and one process per spec
(median of a sample, times 1,000: what a shell loop over the folder costs).
"""

from __future__ import annotations

import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, cached_env, median_of, ms, run_quiet, trtdeploy_command
from specgen import generate

CHECK_TARGET_S = 2.0
PROCESS_SAMPLE = 15


def check_cli(folder: Path) -> dict[str, float]:
    env = cached_env()
    run_quiet([*trtdeploy_command(), "check", str(folder)], env)  # warm the bytecode cache and the page cache
    median, low, high = median_of(3, lambda: run_quiet([*trtdeploy_command(), "check", str(folder)], env)[0])
    return {"median": median, "min": low, "max": high}


def check_in_process(paths: list[Path]) -> float:
    from compiler.pipeline import check_spec

    start = time.perf_counter()
    for path in paths:
        check_spec(path)
    return time.perf_counter() - start


def plan_in_process(paths: list[Path]) -> tuple[float, int]:
    from compiler.pipeline import check_spec
    from compiler.plan.planner import make_plan
    from compiler.render import plan_json

    planned = 0
    start = time.perf_counter()
    for path in paths:
        report = check_spec(path)
        if report.decided is not None and not report.errors:
            plan_json(make_plan(report.decided, report.findings))
            planned += 1
    return time.perf_counter() - start, planned


def plan_click_in_process(paths: list[Path]) -> float:
    """`trtdeploy plan --format json SPEC` through click's main, in this process, output captured."""
    from compiler.cli import cli

    start = time.perf_counter()
    for path in paths:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                cli.main(["plan", "--format", "json", str(path)], prog_name="trtdeploy", standalone_mode=True)
            except SystemExit:
                pass
    return time.perf_counter() - start


def plan_per_process(paths: list[Path]) -> float:
    env = cached_env()
    sample = paths[:: max(1, len(paths) // PROCESS_SAMPLE)][:PROCESS_SAMPLE]
    run_quiet([*trtdeploy_command(), "plan", "--format", "json", str(sample[0])], env)
    return statistics.median(run_quiet([*trtdeploy_command(), "plan", "--format", "json", str(p)], env)[0]
                             for p in sample)


def main(count: int = 1000) -> list[str]:
    """Run (a) and (b); return the lines of figures (also printed)."""
    lines: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    with tempfile.TemporaryDirectory(prefix="trtdeploy-bench-") as tmp:
        paths = generate(Path(tmp) / "specs", count)
        folder = Path(tmp) / "specs"
        cli = check_cli(folder)
        verdict = "meets" if cli["median"] < CHECK_TARGET_S else "MISSES"
        say(f"(a) trtdeploy check DIR, {count} specs, one process: {cli['median']:.2f} s median of 3 "
            f"(min {cli['min']:.2f}, max {cli['max']:.2f}); {verdict} the {CHECK_TARGET_S:g} s target")
        check_in_process(paths[:50])  # imports and catalogs, outside the timing
        seconds = check_in_process(paths)
        say(f"(a) check_spec in process: {seconds:.2f} s for {count} specs ({ms(seconds / count)} per spec)")
        seconds, planned = plan_in_process(paths)
        say(f"(b) check_spec + make_plan + plan_json in process: {seconds:.2f} s for {count} specs "
            f"({planned} planned, the rest stop at their errors; {ms(seconds / count)} per spec)")
        seconds = plan_click_in_process(paths)
        say(f"(b) `plan --format json` through click in one process: {seconds:.2f} s for {count} specs "
            f"({ms(seconds / count)} per spec)")
        each = plan_per_process(paths)
        say(f"(b) `plan --format json`, one process per spec: {ms(each)} median of {PROCESS_SAMPLE} "
            f"(~{each * count:.0f} s for {count} specs in a shell loop)")
    return lines


if __name__ == "__main__":
    from machine import describe

    print(describe())
    sys.path.insert(0, str(ROOT))
    main()
