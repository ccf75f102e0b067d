"""Interrupted and concurrent builds: SIGKILL anywhere, then a re-run gives the uninterrupted build's store.

tests/run/test_run_kill.py kills each step of the quantize and convert flows while the
stand-in sleeps half-way through its output, and checks the lock. This adds what it
leaves out:
  * every file operation of the runner itself (mkdir, rename, replace, fsync, unlink,
    rmdir): the build process counts them and SIGKILLs itself just before the N-th, for
    every N of the quantize flow's build (22 of them) and a seeded sample of 5 in the
    convert and GPTQ-checkpoint flows (so also between a step's promotion and its
    completion record, and inside the record's own atomic write);
  * SIGKILL of the runner's whole process group at seeded random times;
  * the GPTQ-checkpoint flow's steps killed half-way;
  * after every kill, before the re-run: `status` calls done only steps whose store folder
    is complete (byte-equal to the reference build); after the re-run the whole store,
    completion records included (less their times, host and random ids), equals the
    reference and store/.tmp is empty;
  * two runners started at the same moment: exactly one builds, the other is refused
    naming the winner's pid.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from runkit import (
    Host,
    Knobs,
    calls,
    host_env,
    make_host,
    make_plan,
    write_build_folder,
)

SEED = 20240601
FLOWS = ("quantize", "convert", "gptq_ckpt")
TOOLS = {"quantize": "quantize.py", "convert": "convert_checkpoint.py", "build": "trtllm-build"}
# Fields of a completion record that differ between two equal builds (a run key covers the random
# output ids of the steps it read, so that a re-run upstream always shows downstream).
VOLATILE = {"started", "finished", "seconds", "host", "output_id", "run_key"}
# Counts the runner's file operations and SIGKILLs the process just before the KILL_AT-th (0: never);
# the count is written to COUNT_FILE at exit, to size the sample.
CRASHER = r"""
import atexit, os, signal, sys
target, count = int(os.environ["KILL_AT"]), [0]
def hook(name):
    real = getattr(os, name)
    def hooked(*args, **kwargs):
        count[0] += 1
        if count[0] == target:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    setattr(os, name, hooked)
for name in ("mkdir", "rename", "replace", "fsync", "unlink", "rmdir"):
    hook(name)
atexit.register(lambda: open(os.environ["COUNT_FILE"], "w").write(str(count[0])))
from compiler.cli import main
main(sys.argv[1:])
"""


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Host]:
    made = make_host(tmp_path / "host")
    for name in ("TRTDEPLOY_MODEL_DIR", "TRTDEPLOY_STANDIN_FAIL", "TRTDEPLOY_STANDIN_SLEEP", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in host_env(made).items():
        monkeypatch.setenv(name, value)
    yield made


def folder(host: Host, root: Path, flow: str) -> Path:
    return write_build_folder(make_plan(Knobs(flow=flow), host), root)


def build_command(target: Path) -> list[str]:
    return [sys.executable, "-m", "compiler.cli", "build", str(target), "--skip-doctor", "--plain"]


def start(argv: list[str], **env: str) -> subprocess.Popen[bytes]:
    """A process in its own group (so a kill takes its steps too), output kept for the asserts."""
    return subprocess.Popen(argv, env={**os.environ, **env}, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate(timeout=30)


def full_tree(store: Path) -> dict[str, Any]:
    """Every file under store/ (records included, as JSON less what differs between equal builds)."""
    out: dict[str, Any] = {}
    for path in sorted(store.rglob("*")):
        relative = path.relative_to(store).as_posix()
        if not path.is_file() or relative.startswith(".tmp/"):
            continue
        if path.name == ".trtdeploy-complete.json":
            record = {k: v for k, v in json.loads(path.read_text()).items() if k not in VOLATILE}
            record["depends_on"] = sorted(record.get("depends_on", {}))
            record["outputs"] = {name: {k: v for k, v in entry.items() if k != "mtime_ns"}  # when it was written
                                 for name, entry in record.get("outputs", {}).items()}
            out[relative] = record
        else:
            out[relative] = path.read_bytes()
    return out


def resumed_equals(reference: Path, target: Path, trtdeploy: Callable[..., Result]) -> None:
    """Only complete outputs count as done now; a re-run then gives the reference store."""
    status = json.loads(trtdeploy("status", str(target), "--format", "json").stdout)
    ref = full_tree(reference / "store")
    now = full_tree(target / "store")
    for step in status["steps"]:
        if step["state"] == "done":
            name = step["output"].removeprefix("store/")
            mine = {k: v for k, v in now.items() if k.startswith(name + "/")}
            assert mine == {k: v for k, v in ref.items() if k.startswith(name + "/")}, f"{name} taken as complete"
    result = trtdeploy("build", str(target), "--skip-doctor", "--plain")
    assert result.exit_code == 0, result.output
    assert full_tree(target / "store") == ref
    tmp = target / "store" / ".tmp"
    assert not tmp.exists() or not any(tmp.iterdir())


@pytest.fixture
def reference(host: Host, tmp_path: Path, trtdeploy: Callable[..., Result]) -> Callable[[str], Path]:
    built: dict[str, Path] = {}

    def get(flow: str) -> Path:
        if flow not in built:
            built[flow] = folder(host, tmp_path / f"reference-{flow}", flow)
            assert trtdeploy("build", str(built[flow]), "--skip-doctor", "--plain").exit_code == 0
        return built[flow]

    return get


def crash_points(host: Host, tmp_path: Path, flow: str) -> int:
    """How many file operations an uninterrupted build of `flow` makes."""
    counted = folder(host, tmp_path / f"count-{flow}", flow)
    count_file = tmp_path / f"count-{flow}.txt"
    done = subprocess.run([sys.executable, "-c", CRASHER, *build_command(counted)[3:]], capture_output=True,
                          env={**os.environ, "KILL_AT": "0", "COUNT_FILE": str(count_file)}, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    return int(count_file.read_text())


@pytest.mark.parametrize("flow", FLOWS)
def test_sigkill_at_the_runners_own_file_operations(flow: str, host: Host, tmp_path: Path,
                                                    reference: Callable[[str], Path],
                                                    trtdeploy: Callable[..., Result]) -> None:
    total = crash_points(host, tmp_path, flow)
    assert total > 10
    # Every one of them in the quantize flow; a seeded sample in the others (same runner code, other tools).
    every = range(1, total + 1)
    points = list(every) if flow == "quantize" else sorted(random.Random(f"{SEED}-{flow}").sample(every, 5))
    for point in points:
        target = folder(host, tmp_path / f"killed-{flow}-{point}", flow)
        proc = start([sys.executable, "-c", CRASHER, *build_command(target)[3:]], KILL_AT=str(point),
                     COUNT_FILE=str(tmp_path / "ignored.txt"))
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL, (point, err.decode()[-2000:])
        resumed_equals(reference(flow), target, trtdeploy)


def test_sigkill_at_random_times(host: Host, tmp_path: Path, reference: Callable[[str], Path],
                                 trtdeploy: Callable[..., Result]) -> None:
    """Each tool sleeps 0.2 s half-way through its output, so random times fall in every phase."""
    rng = random.Random(SEED)
    slow = {"TRTDEPLOY_STANDIN_SLEEP": "0.2"}
    timing = folder(host, tmp_path / "timing", "quantize")
    began = time.monotonic()
    done = start(build_command(timing), **slow)
    done.communicate(timeout=120)
    assert done.returncode == 0
    span = time.monotonic() - began
    for index in range(6):
        flow = FLOWS[index % len(FLOWS)]
        target = folder(host, tmp_path / f"random-{index}", flow)
        proc = start(build_command(target), **slow)
        time.sleep(rng.uniform(0.05, span))
        kill_group(proc)
        resumed_equals(reference(flow), target, trtdeploy)


@pytest.mark.parametrize(("victim", "index"), [("convert", 1), ("build", 2)])
def test_gptq_checkpoint_flow_killed_half_way_through_a_step(victim: str, index: int, host: Host, tmp_path: Path,
                                                            reference: Callable[[str], Path],
                                                            trtdeploy: Callable[..., Result]) -> None:
    expected = reference("gptq_ckpt")
    target = folder(host, tmp_path / "killed", "gptq_ckpt")
    proc = start(build_command(target), TRTDEPLOY_STANDIN_SLEEP=f"{TOOLS[victim]}:60")
    log = target / "logs" / f"{index:02d}-{victim}.log"
    deadline = time.monotonic() + 60
    while not (log.exists() and "sleeping" in log.read_text(errors="replace")):
        assert proc.poll() is None and time.monotonic() < deadline, "the build ended or never reached the step"
        time.sleep(0.02)
    kill_group(proc)
    before = calls(host).count(TOOLS[victim])
    resumed_equals(expected, target, trtdeploy)
    assert calls(host).count(TOOLS[victim]) == before + 1


def test_two_runners_started_together(host: Host, tmp_path: Path, reference: Callable[[str], Path]) -> None:
    """Both start at once: one builds, the other is refused naming the first's pid; the result is complete."""
    target = folder(host, tmp_path / "race", "quantize")
    # The first tool sleeps 1.5 s, so the winner still holds the lock however late the other one starts.
    procs = [start(build_command(target), TRTDEPLOY_STANDIN_SLEEP="quantize.py:1.5") for _ in range(2)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    codes = sorted(proc.returncode for proc in procs)
    assert codes == [0, 1], [o[1].decode()[-1000:] for o in outputs]
    winner, loser = (0, 1) if procs[0].returncode == 0 else (1, 0)
    message = outputs[loser][1].decode()
    assert f"build folder is locked by pid {procs[winner].pid} on host {socket.gethostname()} since " in message
    assert "Traceback" not in message
    assert full_tree(target / "store") == full_tree(reference("quantize") / "store")
