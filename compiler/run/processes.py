"""Every process a step starts, held together so that none outlives the step or an interrupted run.

Each run of a step starts in a session (and process group) of its own, and, where cgroup v2
is writable, in a cgroup of its own: a worker that calls setsid itself still cannot escape
that. The runner stops the whole group when the step's main process exits (a worker left
behind would keep writing into an output already promoted), and on Ctrl-C or SIGTERM.

A runner killed with SIGKILL cannot stop anything: its step's main process gets SIGKILL
from the kernel (PR_SET_PDEATHSIG), but the workers it forked do not. So each run is
recorded in .trtdeploy/attempts/<step>.json (session id, the leader's start time, the boot
id and the cgroup) before it can fork, and the next build stops whatever is left of it
before it touches the store. A recorded session is trusted only on the same boot, and only
if its leader is gone or still the same process (a pid is not reused while its session has
members, so members of a session whose leader is gone are the step's).
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from compiler.findings import Finding, Severity
from compiler.run.errors import BuildError, problem

ATTEMPTS = "attempts"
LEFT_RUNNING = "B210"
STOP_GRACE_S = 10.0     # after SIGTERM, before SIGKILL (a tool writing a large file may need a moment)
GONE_TIMEOUT_S = 30.0   # after SIGKILL: only a process stuck in the kernel (D state) takes this long
POLL_S = 0.02
_PROC = Path("/proc")


@dataclass(frozen=True)
class Attempt:
    """The record of one run of a step, enough to find its processes again from another runner."""

    step: str
    boot_id: str
    sid: int | None = None
    start_ticks: int | None = None
    cgroup: str | None = None


class StepGroup:
    """The processes of one run of one step: spawn it, stop all of it, forget it."""

    def __init__(self, state_dir: Path, step_id: str) -> None:
        self.record_path = state_dir / ATTEMPTS / f"{step_id}.json"
        self.step_id = step_id
        self.cgroup = cgroup_path(step_id)
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], stdout: int) -> subprocess.Popen[bytes]:
        """Start the step's main process in a new session (and the cgroup), recorded before it can fork.

        The record names the cgroup before the cgroup exists, so that a kill at any moment leaves
        nothing the next build does not know about.
        """
        _write_record(self.record_path, Attempt(self.step_id, boot_id(), cgroup=str(self.cgroup) if self.cgroup else None))
        if self.cgroup is not None and not _make_cgroup(self.cgroup):
            self.cgroup = None
        procs = str(self.cgroup / "cgroup.procs") if self.cgroup else None
        try:
            proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=stdout,
                                    stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_child_setup(procs))
        except BaseException:
            self.close()  # nothing started
            raise
        self.proc = proc
        if self.cgroup is not None and not _in_cgroup(proc.pid, self.cgroup):
            _remove_cgroup(self.cgroup)  # the move was refused: the session alone holds the step
            self.cgroup = None
        _write_record(self.record_path, Attempt(self.step_id, boot_id(), proc.pid, _start_ticks(proc.pid),
                                                str(self.cgroup) if self.cgroup else None))
        return proc

    def stop(self, grace: float) -> list[int]:
        """SIGTERM everything (when grace > 0), then SIGKILL what is left; returns the pids that were running.

        Raises:
            BuildError: B210 when processes are still there GONE_TIMEOUT_S after SIGKILL.
        """
        running = self.members()
        if not running:
            return []
        group = self.proc.pid if self.proc is not None else None
        if grace > 0:
            _signal_all(running, signal.SIGTERM, group)
            _wait_gone(self.members, grace)
        stop_all(self.members, self.step_id, group)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.wait()
        return running

    def members(self) -> list[int]:
        """Live processes of this run: the main process, and its cgroup (else its session, scanned in /proc).

        Only privileged code can move a process out of a cgroup, so where there is one its list is complete
        and far cheaper than a scan of every process on the host.
        """
        found = set(cgroup_members(self.cgroup) if self.cgroup else [])
        if self.proc is not None:
            if self.cgroup is None:
                found.update(session_members(self.proc.pid))
            if self.proc.poll() is None:
                found.add(self.proc.pid)
        return sorted(found)

    def close(self) -> None:
        """Forget the run: its processes are gone."""
        if self.cgroup is not None:
            _remove_cgroup(self.cgroup)
        self.record_path.unlink(missing_ok=True)


# ---------------------------------------------------------------- what interrupted runs left


def stop_leftovers(state_dir: Path) -> list[Finding]:
    """Stop what interrupted runs left running, and forget their records. Call holding the build lock.

    Returns:
        A B210 warning for each run that had processes left, naming them.
    Raises:
        BuildError: B210 when some cannot be stopped (their record is kept for the next run).
    """
    notes = []
    for path, attempt in _records(state_dir):
        left = attempt_members(attempt)
        if left:
            stop_all(functools.partial(attempt_members, attempt), attempt.step)
            notes.append(problem(LEFT_RUNNING, f"stopped {_count(left)} left running by an interrupted run of step "
                                 f"{attempt.step} (pid {', '.join(map(str, left))})",
                                 "nothing to do: they were stopped before the step runs again", severity=Severity.WARNING))
        if attempt.cgroup:
            _remove_cgroup(Path(attempt.cgroup))
        path.unlink(missing_ok=True)
    return notes


def running_leftovers(state_dir: Path) -> list[Finding]:
    """Read only (for `status`): a warning for each interrupted run whose processes are still running."""
    notes = []
    for _, attempt in _records(state_dir):
        left = attempt_members(attempt)
        if left:
            notes.append(problem(LEFT_RUNNING, f"{_count(left)} of an interrupted run of step {attempt.step} "
                                 f"{'is' if len(left) == 1 else 'are'} still running (pid {', '.join(map(str, left))})",
                                 "the next `trtdeploy build` stops them before it runs the step again",
                                 severity=Severity.WARNING))
    return notes


def attempt_members(attempt: Attempt) -> list[int]:
    """Live processes of a recorded run: its cgroup's, and its session's when the session is still its own."""
    found = set(cgroup_members(Path(attempt.cgroup)) if attempt.cgroup else [])
    # Without /proc a reused pid cannot be told apart, so a recorded session is trusted only with it.
    if attempt.sid is not None and _PROC.is_dir() and attempt.boot_id == boot_id():
        leader = _start_ticks(attempt.sid)
        if leader is None or leader == attempt.start_ticks:  # else the pid was reused: the session is gone
            found.update(session_members(attempt.sid))
    return sorted(found - {os.getpid()})


def _records(state_dir: Path) -> list[tuple[Path, Attempt]]:
    folder = state_dir / ATTEMPTS
    if not folder.is_dir():
        return []
    for stray in folder.glob(".*.tmp"):  # a record write cut by a kill
        stray.unlink(missing_ok=True)
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            found.append((path, Attempt(**json.loads(path.read_text(encoding="utf-8")))))
        except (OSError, ValueError, TypeError):
            path.unlink(missing_ok=True)  # a record cut by a kill while it was written: its run never started
    return found


def _count(pids: list[int]) -> str:
    return f"{len(pids)} process{'es' if len(pids) != 1 else ''}"


# ---------------------------------------------------------------- stopping


def stop_all(members: Callable[[], list[int]], step_id: str, group: int | None = None) -> None:
    """SIGKILL the members (and the process group `group`, where /proc cannot list them) until none is left
    (they may fork while being killed).

    Raises:
        BuildError: B210 when some are still there after GONE_TIMEOUT_S.
    """
    deadline = time.monotonic() + GONE_TIMEOUT_S
    while True:
        left = members()
        if not left:
            return
        _signal_all(left, signal.SIGKILL, group)
        if time.monotonic() > deadline:
            raise BuildError(LEFT_RUNNING, f"processes of step {step_id} could not be stopped (pid {', '.join(map(str, left))})",
                             "stop them (they may be stuck in the kernel, state D in ps), then run the build again")
        time.sleep(POLL_S)


def _signal_all(pids: list[int], sig: signal.Signals, group: int | None = None) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    if group is not None:
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _wait_gone(members: Callable[[], list[int]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while members() and time.monotonic() < deadline:
        time.sleep(POLL_S)


# ---------------------------------------------------------------- /proc


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), or None if there is no such process."""
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    return data.rsplit(b")", 1)[1].decode().split()


def _start_ticks(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def session_members(sid: int) -> list[int]:
    """Live processes (not zombies) whose session or process group is `sid`."""
    if not _PROC.is_dir():
        return _group_alive(sid)
    found = []
    for entry in os.scandir(_PROC):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields and fields[0] not in ("Z", "X") and sid in (int(fields[2]), int(fields[3])):
            found.append(int(entry.name))
    return found


def _group_alive(pgid: int) -> list[int]:
    """Without /proc: the group's id when it has members (os.killpg probes it), else nothing."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return []
    return [pgid]


def boot_id() -> str:
    try:
        return (_PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except OSError:
        return ""


# ---------------------------------------------------------------- cgroup v2


@functools.cache
def _own_cgroup() -> Path | None:
    """This process's cgroup v2 folder, when the unified hierarchy is mounted (read once per process)."""
    try:
        lines = (_PROC / "self" / "cgroup").read_text().splitlines()
        mounts = (_PROC / "self" / "mountinfo").read_text().splitlines()
    except OSError:
        return None
    relative = next((line[3:] for line in lines if line.startswith("0::")), None)
    for mount in mounts:
        fields = mount.split()
        if relative is not None and " - cgroup2 " in mount and len(fields) > 4:
            root, point = fields[3], fields[4]
            inside = os.path.relpath(relative, root) if relative.startswith(root) else None
            if inside is not None and not inside.startswith(".."):
                return Path(point) / inside
    return None


def cgroup_path(step_id: str) -> Path | None:
    """Where a cgroup for one run of a step goes: below this process's own; None without cgroup v2."""
    own = _own_cgroup()
    return own / f"trtdeploy-{os.getpid()}-{step_id}-{secrets.token_hex(3)}" if own is not None else None


def _make_cgroup(path: Path) -> bool:
    """Create the cgroup; False where that is not allowed (not root, not delegated, read-only)."""
    try:
        path.mkdir()
    except OSError:
        return False
    return True


def cgroup_members(path: Path) -> list[int]:
    try:
        text = (path / "cgroup.procs").read_text()
    except OSError:
        return []
    return [int(pid) for pid in text.split()]


def _in_cgroup(pid: int, path: Path) -> bool:
    return pid in cgroup_members(path)


def _remove_cgroup(path: Path) -> None:
    """rmdir a cgroup once it is empty (a cgroup folder holds only kernel files, so rmdir is the way)."""
    try:
        path.rmdir()
    except OSError:
        pass


# ---------------------------------------------------------------- the step's first moments


def _child_setup(cgroup_procs: str | None) -> Callable[[], None]:
    """Runs in the child between fork and exec (the runner has no threads, so this is safe):
    on Linux, SIGKILL when the runner dies (even by SIGKILL), and exit at once if it already
    died; then join the step's cgroup, so that whatever the step forks is in it too."""
    runner = os.getpid()
    pdeathsig = _prctl_pdeathsig()

    def setup() -> None:
        if pdeathsig is not None:
            pdeathsig()
            if os.getppid() != runner:
                os._exit(1)
        if cgroup_procs is not None:
            try:
                with open(cgroup_procs, "w") as handle:
                    handle.write("0")
            except OSError:
                pass  # the runner sees the step is not in the cgroup and relies on its session

    return setup


@functools.cache
def _prctl_pdeathsig() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def set_it() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return set_it


def _write_record(path: Path, attempt: Attempt) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(attempt)), encoding="utf-8")
    os.replace(tmp, path)
