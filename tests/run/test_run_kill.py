"""Real processes: a build killed with SIGKILL in each step resumes to the same outputs; the lock."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from runkit import Host, Knobs, calls, tree

Build = Callable[..., Result]
TOOLS = {"quantize": "quantize.py", "convert": "convert_checkpoint.py", "build": "trtllm-build"}


def start_build(folder: Path, sleep_tool: str) -> subprocess.Popen[bytes]:
    """`python -m compiler.cli build` in its own process group, with one stand-in sleeping mid-way."""
    env = {**os.environ, "TRTDEPLOY_STANDIN_SLEEP": f"{sleep_tool}:60"}
    cmd = [sys.executable, "-m", "compiler.cli", "build", str(folder), "--skip-doctor", "--plain"]
    return subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Until `path` holds `text` (the stand-in has written part of its output and sleeps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        assert proc.poll() is None, f"the build ended early with {proc.returncode}"
        time.sleep(0.05)
    raise AssertionError(f"{path} never showed {text!r}")


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.mark.parametrize(("flow", "victim", "index"), [
    ("quantize", "quantize", 1), ("quantize", "build", 2), ("convert", "convert", 1), ("convert", "build", 2),
])
def test_sigkill_in_each_step_resumes_to_the_same_outputs(flow: str, victim: str, index: int, host: Host,
                                                          compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    reference = compile_folder(Knobs(flow=flow), name="reference")
    assert trtdeploy("build", str(reference), "--skip-doctor", "--plain").exit_code == 0
    folder = compile_folder(Knobs(flow=flow), name="killed")
    proc = start_build(folder, TOOLS[victim])
    wait_for(folder / "logs" / f"{index:02d}-{victim}.log", "sleeping", proc)
    kill_group(proc)
    assert not list((folder / "store").glob(f"{victim}-*"))  # the half-written output is only in store/.tmp
    before = calls(host).count(TOOLS[victim])
    result = trtdeploy("build", str(folder), "--skip-doctor", "--plain")
    assert result.exit_code == 0, result.output
    assert f"{victim} … running" in result.stdout and f"{victim} … skipped" not in result.stdout
    assert calls(host).count(TOOLS[victim]) == before + 1
    assert tree(folder / "store") == tree(reference / "store")
    assert not any((folder / "store" / ".tmp").iterdir())


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in {"Z", "X"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_killing_only_the_runner_also_stops_its_step(host: Host, compile_folder: Callable[..., Path]) -> None:
    folder = compile_folder()
    proc = start_build(folder, "quantize.py")
    wait_for(folder / "logs" / "01-quantize.log", "sleeping", proc)
    step_pid = json.loads(host.calls.read_text().splitlines()[-1])["pid"]
    assert _alive(step_pid)
    os.kill(proc.pid, signal.SIGKILL)  # the runner alone, not its group
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _alive(step_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = _alive(step_pid)
    if alive:
        os.kill(step_pid, signal.SIGKILL)
    assert not alive, "the step outlived its runner"


def test_a_second_build_is_refused_while_the_first_holds_the_lock(host: Host, compile_folder: Callable[..., Path],
                                                                 trtdeploy: Build) -> None:
    folder = compile_folder()
    first = start_build(folder, "quantize.py")
    try:
        wait_for(folder / "logs" / "01-quantize.log", "sleeping", first)
        second = trtdeploy("build", str(folder), "--skip-doctor", "--plain")
        assert second.exit_code == 1
        assert f"B201 error: build folder is locked by pid {first.pid} on host {socket.gethostname()} since " in second.stderr
        clean = trtdeploy("build", str(folder), "--clean")
        assert clean.exit_code == 1 and f"locked by pid {first.pid}" in clean.stderr
    finally:
        kill_group(first)
    third = trtdeploy("build", str(folder), "--skip-doctor", "--plain")  # SIGKILL left no stale lock
    assert third.exit_code == 0, third.output
