"""The build folder as a whole: held under its lock, and compile's files replaced in it recoverably.

compile writes plan.json, plan.md, steps/ and launch/ (the generated entries); a build
adds store/, logs/ and .trtdeploy/, which stay where they are: only generated entries
ever move. A write happens under the build lock (BuildFolder), in three phases:

1. stage: every file is written (and fsynced) under .trtdeploy/compile/new/;
2. commit: .trtdeploy/compile/journal.json names the entries to replace (atomic write);
3. swap: entry by entry, plan.json last, the old one is renamed into
   .trtdeploy/compile/old/ and the staged one into place; then the journal and the
   staging folder are removed.

A kill before the commit leaves the folder as it was (the next holder of the lock
removes the staging folder); a kill after it leaves a journal, and the next holder
rolls the swap forward (`recover`), so a folder is never lost and never mixed.
An OSError during the swap rolls it back instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

from compiler.findings import Finding, Severity
from compiler.run.errors import BuildError, problem
from compiler.run.lock import STATE_DIR, BuildLock
from compiler.run.store import fsync_dir, remove

PLAN_FILE = "plan.json"
STAGE = "compile"
JOURNAL = "journal.json"
JOURNAL_VERSION = 1
KEPT = frozenset({"store", "logs", STATE_DIR})
NOT_REPLACEABLE = "B110"
UNWRITABLE = "B111"
INTERRUPTED = "B112"


def is_build_folder(path: Path) -> bool:
    """An empty folder, or one holding plan.json or trtdeploy's state folder."""
    if not path.is_dir():
        return False
    return (path / PLAN_FILE).is_file() or (path / STATE_DIR).is_dir() or not any(path.iterdir())


def check_replaceable(dest: Path) -> None:
    """Raises BuildError (B110) when `dest` exists and is not a build folder compile may write into."""
    if not os.path.lexists(dest):
        return
    if not dest.is_dir():
        raise BuildError(NOT_REPLACEABLE, f"cannot write {dest}: it exists and is not a folder",
                         "pass another folder with -o, or remove that file")
    if not is_build_folder(dest):
        raise BuildError(NOT_REPLACEABLE, f"cannot write {dest}: it is a folder with files but no plan.json, "
                         "so not a build folder to replace", "pass another folder with -o")


def compile_pending(root: Path) -> bool:
    """Whether a compile into `root` was interrupted after its commit (read only: for `status`)."""
    return (root / STATE_DIR / STAGE / JOURNAL).is_file()


def pending_plan_json(root: Path) -> Path | None:
    """The plan.json an interrupted compile will put in place, while it is still staged (read only)."""
    staged = root / STATE_DIR / STAGE / "new" / PLAN_FILE
    return staged if compile_pending(root) and staged.is_file() else None


def unwritable(root: Path, exc: OSError) -> BuildError:
    """The B111 error for an OSError while writing under `root`."""
    where = exc.filename or root
    return BuildError(UNWRITABLE, f"cannot write {where}: {exc.strerror or exc}",
                      f"check free space and permissions under {root}")


class BuildFolder:
    """A build folder held under its lock, after any interrupted compile in it was completed.

    Attributes:
        root: the folder (absolute).
        notes: findings about what entering did (an interrupted compile completed or dropped).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))
        self.created = not os.path.lexists(self.root)
        self.lock = BuildLock(self.root)
        self.notes: list[Finding] = []

    def __enter__(self) -> BuildFolder:
        self.lock.acquire()
        try:
            note = recover(self.root)
        except OSError as exc:
            self.lock.release()
            raise unwritable(self.root, exc) from None
        except BaseException:
            self.lock.release()
            raise
        if note is not None:
            self.notes.append(note)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.lock.release()

    def write(self, files: Mapping[str, str], executable: Callable[[str], bool]) -> None:
        """Replace the generated entries with `files` (relative path -> text); the rest of the folder stays.

        Raises:
            BuildError: B111 when something cannot be written; the folder is then as it was (a folder
                this call created is removed again).
        """
        try:
            write_files(self.root, files, executable)
        except BaseException as exc:
            if self.created and not compile_pending(self.root):
                remove(self.root)
            if isinstance(exc, OSError):
                raise unwritable(self.root, exc) from None
            raise


def write_build_folder(dest: Path, files: Mapping[str, str], executable: Callable[[str], bool]) -> list[Finding]:
    """`trtdeploy compile`: write `files` as the build folder `dest`, under its lock; returns notes.

    Raises:
        BuildError: `dest` is not a build folder (B110), cannot be written (B111) or is locked
            by a build (B201); `dest` is then as it was.
    """
    dest = Path(os.path.abspath(dest))
    check_replaceable(dest)
    with BuildFolder(dest) as folder:
        folder.write(files, executable)
        return folder.notes


# ---------------------------------------------------------------- the three phases


def write_files(root: Path, files: Mapping[str, str], executable: Callable[[str], bool]) -> None:
    """Stage, commit and swap (see the module docstring). The caller holds the lock and ran `recover`."""
    stage = root / STATE_DIR / STAGE
    entries = _entries(files)
    try:
        remove(stage)
        _stage(stage / "new", files, executable)
        _commit(stage, entries)
    except BaseException:
        remove(stage)
        raise
    try:
        _swap(root, stage, entries)
    except OSError:
        _roll_back(root, stage, entries)
        raise
    _finish(stage)


def _entries(files: Mapping[str, str]) -> list[str]:
    """The top-level names the files make up, plan.json last (so a plan.json is never newer than its scripts)."""
    names = sorted({path.split("/")[0] for path in files})
    bad = [n for n in names if n in KEPT or n in ("", ".", "..")]
    if bad:
        raise ValueError(f"compile may not write {bad}: those belong to the build")
    return sorted(names, key=lambda name: name == PLAN_FILE)


def _stage(new: Path, files: Mapping[str, str], executable: Callable[[str], bool]) -> None:
    new.mkdir(parents=True)
    for relative, text in files.items():
        path = new / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        path.chmod(0o755 if executable(relative) else 0o644)
    for folder in sorted({p.parent for p in new.rglob("*")}):
        folder.chmod(0o755)


def _commit(stage: Path, entries: list[str]) -> None:
    """Write the journal atomically: from here on, the swap is completed whatever happens."""
    tmp = stage / f"{JOURNAL}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump({"version": JOURNAL_VERSION, "entries": entries}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, stage / JOURNAL)
    fsync_dir(stage)


def _swap(root: Path, stage: Path, entries: list[str]) -> None:
    """Move each staged entry into place, the current one aside first. Idempotent: it resumes where it stopped."""
    old = stage / "old"
    for name in entries:
        staged, current, aside = stage / "new" / name, root / name, old / name
        if not os.path.lexists(staged):
            continue  # already in place
        if os.path.lexists(current):
            if os.path.lexists(aside):
                remove(current)  # not reached by a swap; a copy of the old entry is aside already
            else:
                old.mkdir(exist_ok=True)
                os.rename(current, aside)
        os.rename(staged, current)
    fsync_dir(root)


def _roll_back(root: Path, stage: Path, entries: list[str]) -> None:
    """After an OSError in the swap: put the old entries back. If that fails too, the journal stays for `recover`."""
    try:
        for name in entries:
            staged, current, aside = stage / "new" / name, root / name, stage / "old" / name
            if not os.path.lexists(staged) and os.path.lexists(current):
                os.rename(current, staged)
            if os.path.lexists(aside) and not os.path.lexists(current):
                os.rename(aside, current)
        _finish(stage)
    except OSError:
        pass


def _finish(stage: Path) -> None:
    journal = stage / JOURNAL
    if os.path.lexists(journal):
        os.unlink(journal)
        fsync_dir(stage)
    remove(stage)


def recover(root: Path) -> Finding | None:
    """Complete (journal present) or drop (staging only) a compile interrupted in `root`. The caller holds the lock."""
    stage = root / STATE_DIR / STAGE
    if not os.path.lexists(stage):
        return None
    entries = _read_journal(stage / JOURNAL)
    if entries is None:
        remove(stage)
        return problem(INTERRUPTED, f"{root}: removed the files of a compile interrupted before it changed the folder",
                       severity=Severity.NOTE)
    _swap(root, stage, entries)
    _finish(stage)
    return problem(INTERRUPTED, f"{root}: completed a compile that was interrupted while it replaced the files "
                   f"({', '.join(entries)})", severity=Severity.NOTE)


def _read_journal(path: Path) -> list[str] | None:
    """The entries a committed journal names; None when there is none (or it is not one of ours)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    entries = data.get("entries") if isinstance(data, dict) and data.get("version") == JOURNAL_VERSION else None
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        return None
    if any("/" in e or e in KEPT or e in ("", ".", "..") for e in entries):
        return None
    return entries
