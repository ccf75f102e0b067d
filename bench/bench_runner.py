"""(d) The runner's own overhead on a 20-step plan whose tools take no time.

A synthetic build folder like tests/run's: plan.json with 20 chained steps, and
steps/NN-sNN.sh scripts that write one file into $STEP_OUT with the shell's own
`printf` (an instant stand-in). Overhead = wall time of `trtdeploy build DIR` minus
the time the same 20 scripts take when run directly one after another (bash start
included, since every step pays it anyway). Also: the same build through the Runner
in this process (no interpreter start), and a second build where every step is up to
date (preflight, digests and skipping only).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import cached_env, ms, run_quiet, trtdeploy_command

STEPS = 20
RUNS = 5
SCRIPT = """#!/usr/bin/env bash
# bench step {index}: an instant stand-in tool
set -euo pipefail
cd "$(dirname "$0")/.."
STEP_OUT=${{STEP_OUT:?}}
mkdir -p "$STEP_OUT"
printf '%s\\n' 'output of {step_id}' > "$STEP_OUT/out.txt"
"""


def write_folder(root: Path) -> Path:
    """plan.json (schema 1) and the step scripts of a 20-step chain."""
    steps = []
    (root / "steps").mkdir(parents=True)
    for index in range(1, STEPS + 1):
        step_id = f"s{index:02d}"
        fingerprint = hashlib.sha256(f"bench/{step_id}".encode()).hexdigest()
        script = f"steps/{index:02d}-{step_id}.sh"
        (root / script).write_text(SCRIPT.format(index=index, step_id=step_id), encoding="utf-8")
        (root / script).chmod(0o755)
        steps.append({"id": step_id, "tool": "printf", "impact": "rebuild", "argv": ["printf", step_id], "inputs": [],
                      "outputs": [f"store/{step_id}-{fingerprint[:16]}"],
                      "depends_on": [f"s{index - 1:02d}"] if index > 1 else [], "fingerprint": fingerprint,
                      "aspects": {}, "reason": "benchmark", "env": {}, "script": script})
    plan = {"schema_version": 1, "name": "bench", "spec": "bench.yaml", "backend": "tensorrt",
            "tensorrt_llm": {"version": "1.2.0"},
            "steps": steps}  # the document's other keys are optional (compiler/plan/document.py)
    (root / "plan.json").write_text(json.dumps(plan, indent=2), encoding="utf-8")
    return root


def scripts_alone(root: Path) -> float:
    """The tools' own time: the 20 scripts run directly, in order, each into a fresh folder."""
    out = Path(tempfile.mkdtemp(prefix="bench-out-"))
    try:
        start = time.perf_counter()
        for index, script in enumerate(sorted((root / "steps").glob("*.sh"))):
            env = {**os.environ, "STEP_OUT": str(out / str(index))}
            subprocess.run(["bash", str(script)], cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)


def build_cli(root: Path) -> tuple[float, float]:
    """(first build, second build with every step up to date) as `trtdeploy build` processes."""
    argv = [*trtdeploy_command(), "build", str(root), "--skip-doctor", "--plain"]
    first, code = run_quiet(argv, cached_env())
    assert code == 0, f"the benchmark build failed with exit {code}"
    second, code = run_quiet(argv, cached_env())
    assert code == 0
    return first, second


def build_in_process(root: Path) -> float:
    from compiler.run.digest import DigestCache
    from compiler.run.folder import BuildFolder
    from compiler.run.lock import STATE_DIR
    from compiler.run.plandoc import load_plan, path_vars
    from compiler.run.progress import make_reporter
    from compiler.run.runner import Runner, Selection, decide
    from compiler.run.store import Store

    start = time.perf_counter()
    with BuildFolder(root), open(os.devnull, "w") as sink:
        stdout, sys.stdout = sys.stdout, sink
        try:
            plan = load_plan(root)
            store = Store(plan.root)
            cache = DigestCache(plan.root / STATE_DIR / "digests.json")
            decisions = decide(plan, Selection(), store, path_vars(plan), cache)
            result = Runner(plan, store, cache, make_reporter(True)).run(decisions)
        finally:
            sys.stdout = stdout
    assert result.failure is None and len(result.ran) == STEPS, result
    return time.perf_counter() - start


def main() -> list[str]:
    lines: list[str] = []
    tools, cli_first, cli_second, inproc = [], [], [], []
    run_quiet([*trtdeploy_command(), "--help"], cached_env())  # bytecode cache
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory(prefix="trtdeploy-bench-run-") as tmp:
            tools.append(scripts_alone(write_folder(Path(tmp) / "a")))
            first, second = build_cli(write_folder(Path(tmp) / "b"))
            cli_first.append(first)
            cli_second.append(second)
            inproc.append(build_in_process(write_folder(Path(tmp) / "c")))
    tool, first, second, own = (statistics.median(v) for v in (tools, cli_first, cli_second, inproc))
    for line in (
        f"(d) {STEPS} instant steps run directly by bash, one after another: {ms(tool)} (the tools' own time)",
        (f"(d) trtdeploy build (a process): {ms(first)}; runner overhead {ms(first - tool)} in all, "
         f"{ms((first - tool) / STEPS)} per step (median of {RUNS})"),
        f"(d) Runner in this process: {ms(own)}; overhead {ms(own - tool)} in all, {ms((own - tool) / STEPS)} per step",
        f"(d) second trtdeploy build, all {STEPS} steps up to date: {ms(second)}",
    ):
        print(line, flush=True)
        lines.append(line)
    return lines


if __name__ == "__main__":
    from machine import describe

    print(describe())
    main()
