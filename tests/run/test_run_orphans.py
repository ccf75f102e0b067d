"""Real processes: what a step forks never outlives the step, a SIGTERM, or a runner killed with SIGKILL.

The stand-in step here forks a worker that keeps appending to the step's output (as a
tool's data-loader process would), then sleeps. On its retry, the same script writes down
whether the first attempt's worker is still alive: it must be gone before the retry starts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from compiler.run.processes import cgroup_path
from runkit import Host

Build = Callable[..., Result]
WORKER = {
    # a worker in the step's session (what PR_SET_PDEATHSIG alone misses)
    "session": '( while :; do echo tick >> "$STEP_OUT/worker.log"; sleep 0.05; done ) & echo $! > "$MARKS/worker.pid"',
    # a worker that leaves the session: only the step's cgroup holds it
    "setsid": 'setsid sh -c \'echo $$ > "$MARKS/worker.pid"; while :; do echo tick >> "$STEP_OUT/worker.log"; '
              'sleep 0.05; done\' & while [ ! -s "$MARKS/worker.pid" ]; do sleep 0.01; done',
}
SCRIPT = """#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p "$STEP_OUT"
if [ ! -e "$MARKS/first-attempt" ]; then
  touch "$MARKS/first-attempt"
  {worker}
  echo sleeping
  {after_fork}
fi
old=$(cat "$MARKS/worker.pid")
if [ -r "/proc/$old/stat" ] && ! sed 's/.*) //' "/proc/$old/stat" | grep -q '^[ZX]'; then
  echo alive > "$MARKS/worker-at-retry"
else
  echo gone > "$MARKS/worker-at-retry"
fi
echo built > "$STEP_OUT/out.bin"
"""
# Runs the CLI with the cgroup turned off, to test the session alone (what hosts without cgroup v2 get).
NO_CGROUP = "import sys, compiler.run.processes as p; p.cgroup_path = lambda step: None; " \
            "from compiler.cli import main; main(sys.argv[1:])"


def cgroup_writable() -> bool:
    probe = cgroup_path("probe")
    try:
        probe.mkdir() if probe is not None else None
    except OSError:
        return False
    if probe is None:
        return False
    probe.rmdir()
    return True


needs_cgroup = pytest.mark.skipif(not cgroup_writable(), reason="cgroup v2 is not writable here (the session is tested alone)")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in {"Z", "X"}


def stand_in(folder: Path, worker: str, after_fork: str = "sleep 600") -> Path:
    """Replace the quantize step's script with the forking stand-in; returns the folder for its marks."""
    (folder / "steps" / "01-quantize.sh").write_text(SCRIPT.format(worker=WORKER[worker], after_fork=after_fork))
    marks = folder.parent / "marks"
    marks.mkdir()
    return marks


def start(folder: Path, marks: Path, code: str | None = None) -> subprocess.Popen[bytes]:
    """The runner as a process of its own group (the test kills only what it means to)."""
    argv = ["build", str(folder), "--skip-doctor", "--plain"]
    cmd = [sys.executable, "-c", code, *argv] if code else [sys.executable, "-m", "compiler.cli", *argv]
    return subprocess.Popen(cmd, env={**os.environ, "MARKS": str(marks)}, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for_worker(folder: Path, marks: Path, proc: subprocess.Popen[bytes]) -> int:
    """Until the first attempt has forked its worker and sleeps; returns the worker's pid."""
    log = folder / "logs" / "01-quantize.log"
    deadline = time.monotonic() + 60
    while not (log.exists() and "sleeping" in log.read_text()):
        assert proc.poll() is None, proc.communicate()[1].decode()
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.02)
    return int((marks / "worker.pid").read_text())


@pytest.mark.parametrize("containment", ["session", pytest.param("cgroup", marks=needs_cgroup)])
def test_a_worker_of_a_runner_killed_with_sigkill_is_gone_before_the_retry(
        containment: str, host: Host, compile_folder: Callable[..., Path], trtdeploy: Build,
        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = compile_folder()
    marks = stand_in(folder, "session")
    runner = start(folder, marks, NO_CGROUP if containment == "session" else None)
    worker = wait_for_worker(folder, marks, runner)
    record = json.loads((folder / ".trtdeploy" / "attempts" / "quantize.json").read_text())
    assert (record["cgroup"] is not None) == (containment == "cgroup")
    os.kill(runner.pid, signal.SIGKILL)  # the runner alone: its step gets SIGKILL from the kernel, the worker does not
    runner.wait()
    assert alive(worker), "the worker died with the runner: nothing left to test"
    monkeypatch.setenv("MARKS", str(marks))
    retry = trtdeploy("build", str(folder), "--skip-doctor", "--plain", "--only", "quantize")
    assert retry.exit_code == 0, retry.output
    assert "B210 warning: stopped " in retry.stderr and "interrupted run of step quantize" in retry.stderr
    assert str(worker) in retry.stderr
    assert (marks / "worker-at-retry").read_text() == "gone\n"
    assert not alive(worker)
    output = next((folder / "store").glob("quantize-*"))
    assert (output / "out.bin").read_text() == "built\n" and not (output / "worker.log").exists()
    assert not list((folder / ".trtdeploy" / "attempts").iterdir())


@needs_cgroup
def test_a_worker_that_left_the_session_is_held_by_the_cgroup(host: Host, compile_folder: Callable[..., Path],
                                                              trtdeploy: Build, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = compile_folder()
    marks = stand_in(folder, "setsid")
    runner = start(folder, marks)
    worker = wait_for_worker(folder, marks, runner)
    assert int(Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[3]) == worker  # its own session
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    assert alive(worker)
    monkeypatch.setenv("MARKS", str(marks))
    retry = trtdeploy("build", str(folder), "--skip-doctor", "--plain", "--only", "quantize")
    assert retry.exit_code == 0, retry.output
    assert "B210 warning: stopped " in retry.stderr
    assert (marks / "worker-at-retry").read_text() == "gone\n" and not alive(worker)


def test_status_names_what_is_still_running_and_writes_nothing(host: Host, compile_folder: Callable[..., Path],
                                                                trtdeploy: Build) -> None:
    folder = compile_folder()
    marks = stand_in(folder, "session")
    runner = start(folder, marks, NO_CGROUP)
    worker = wait_for_worker(folder, marks, runner)
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    status = trtdeploy("status", str(folder))
    assert status.exit_code == 0
    assert "B210 warning: " in status.stderr and "of an interrupted run of step quantize" in status.stderr
    assert f"{worker}" in status.stderr and alive(worker)  # status reads only; the next build stops it


def test_processes_a_finished_step_left_are_stopped_before_its_output_is_kept(
        host: Host, compile_folder: Callable[..., Path], trtdeploy: Build, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = compile_folder()
    marks = stand_in(folder, "session", after_fork="")  # forks its worker, then ends at once with exit 0
    monkeypatch.setenv("MARKS", str(marks))
    result = trtdeploy("build", str(folder), "--skip-doctor", "--plain", "--only", "quantize")
    assert result.exit_code == 0, result.output
    worker = int((marks / "worker.pid").read_text())
    assert not alive(worker)
    assert "B210 warning: step quantize left " in result.stderr
    assert "# trtdeploy: stopped " in (folder / "logs" / "01-quantize.log").read_text()


def test_sigterm_stops_the_step_and_everything_it_forked(host: Host, compile_folder: Callable[..., Path]) -> None:
    folder = compile_folder()
    marks = stand_in(folder, "session")
    runner = start(folder, marks, NO_CGROUP)
    worker = wait_for_worker(folder, marks, runner)
    os.kill(runner.pid, signal.SIGTERM)  # a scheduler cancelling the job
    _, err = runner.communicate(timeout=120)
    assert runner.returncode == 1 and "Aborted!" in err.decode(), err.decode()  # click's answer to an interrupt
    assert not alive(worker)
    assert "interrupted; the step and every process it started were stopped" in (folder / "logs" / "01-quantize.log").read_text()
    assert not list((folder / ".trtdeploy" / "attempts").iterdir())
