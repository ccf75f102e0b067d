"""The build lock when its runner died while a step's process was between fork and exec.

That child holds the lock's open file until exec closes it (or the parent-death signal ends it),
so a build started right after the kill finds the lock taken by a runner that no longer exists.
Here a process takes the lock as the runner does, forks a child that keeps the file open for a
moment, and exits.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from compiler.run.errors import BuildError
from compiler.run.lock import LOCK_FILE, STATE_DIR, BuildLock

# argv: lock file, host to record, seconds the forked child keeps the file open. Prints the child's pid.
RUNNER_THEN_CHILD = """
import fcntl, json, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": sys.argv[2], "started": "then"}).encode(), 0)
child = os.fork()
if child == 0:
    null = os.open(os.devnull, os.O_RDWR)
    for stream in (1, 2):  # so that the caller's pipes close when the runner exits
        os.dup2(null, stream)
    time.sleep(float(sys.argv[3]))
    os._exit(0)
print(child, flush=True)
os._exit(0)
"""


def _runner_died_leaving_a_child(root: Path, host: str, seconds: float) -> None:
    lock = root / STATE_DIR / LOCK_FILE
    lock.parent.mkdir(parents=True)
    done = subprocess.run([sys.executable, "-c", RUNNER_THEN_CHILD, str(lock), host, str(seconds)],
                          capture_output=True, text=True, check=True)
    assert int(done.stdout) > 0
    probe = os.open(lock, os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):  # the child still holds it: the case under test is real
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(probe)


def test_a_lock_left_in_a_dead_runners_child_is_taken_once_the_child_ends(tmp_path: Path) -> None:
    _runner_died_leaving_a_child(tmp_path, socket.gethostname(), 2.0)
    with BuildLock(tmp_path):
        held = json.loads((tmp_path / STATE_DIR / LOCK_FILE).read_text())
        assert held["pid"] == os.getpid() and held["host"] == socket.gethostname()


def test_a_lock_recorded_by_a_runner_of_another_host_is_refused(tmp_path: Path) -> None:
    # Another host's pid says nothing about this one: the build is refused, naming that runner.
    _runner_died_leaving_a_child(tmp_path, "other-host", 2.0)
    with pytest.raises(BuildError) as refused:
        BuildLock(tmp_path).acquire()
    [finding] = refused.value.findings
    assert finding.code == "B201" and "on host other-host" in finding.message
