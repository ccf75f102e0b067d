"""One build at a time per build folder.

`fcntl.flock` on DIR/.trtdeploy/lock, held for the whole run. The kernel drops the
lock when the holder's process ends, however it ends, so a SIGKILLed build leaves
no stale lock. The holder writes its pid, host and start time into the file so
that a second build can say who holds it. The descriptor is not inherited by the
steps (Python opens files close-on-exec), so a step left running cannot hold it.

Close-on-exec acts only at exec: a step's process holds the lock's open file from fork until
then (its pre-exec setup joins the step's cgroup, which can take a while on a loaded host). A
runner SIGKILLed in that window leaves the lock held by that child until the kernel's
parent-death signal ends it. So a build refused by a holder whose recorded runner is gone (same
host, no such process) waits for the lock a little (ORPHAN_WAIT_S) before it reports it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from compiler.run.errors import BuildError

STATE_DIR = ".trtdeploy"
LOCK_FILE = "lock"
UNWRITABLE = "B111"
LOCKED = "B201"
# How long a refused build waits for the holder to write its pid, host and start time.
HOLDER_WAIT_S = 2.0
# How long a refused build waits for the lock when the runner that took it is gone (see above).
ORPHAN_WAIT_S = 10.0
POLL_S = 0.02


class BuildLock:
    """A context manager holding the build folder's lock.

    Raises:
        BuildError: on enter, when another process holds the lock.
    """

    def __init__(self, root: Path) -> None:
        self.path = root / STATE_DIR / LOCK_FILE
        self.fd: int | None = None

    def __enter__(self) -> BuildLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise BuildError(UNWRITABLE, f"cannot create the lock file {self.path}: {exc.strerror or exc}",
                             "the build folder must be writable by this user") from None
        if not _take(fd) and not (_runner_gone(fd) and _take_within(fd, ORPHAN_WAIT_S)):
            holder = _holder(fd)
            os.close(fd)
            raise BuildError(LOCKED, f"build folder is locked by {holder}",
                             "wait for that build to finish, or stop it; a build that dies releases the lock by itself")
        self.fd = fd
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": _now()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        os.fsync(fd)

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)
            self.fd = None


def _take(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _take_within(fd: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not _take(fd):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True


def _runner_gone(fd: int) -> bool:
    """Whether the lock file names a runner of this host that no longer exists (its lock outlives it only in
    a child that has not reached exec yet)."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode())
        pid, host = int(info["pid"]), str(info["host"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if host != socket.gethostname() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _holder(fd: int) -> str:
    """'pid N on host H since T' from the lock file, or a plain phrase if the holder never writes it.

    The holder writes its details just after taking the lock, so a build started at the same
    moment can find the file still empty: it waits for them a little (HOLDER_WAIT_S).
    """
    deadline = time.monotonic() + HOLDER_WAIT_S
    while True:
        try:
            info = json.loads(os.pread(fd, 4096, 0).decode())
            return f"pid {info['pid']} on host {info['host']} since {info['started']}"
        except (OSError, ValueError, KeyError, TypeError):
            if time.monotonic() >= deadline:
                return "another trtdeploy build (it is starting)"
            time.sleep(0.01)


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")
