"""The step store: each step's output kept under DIR/store/<id>-<fp16>/, with a completion record.

A step writes into a fresh temporary folder under store/.tmp/. Only when its
process exits 0 and that folder is non-empty is it renamed into place (one
rename: atomic on one file system) and then the record
`.trtdeploy-complete.json` written inside it (temp file, fsync, rename, fsync of
the folder). A folder without a record is not done, so a step killed at any
moment is never taken as built; store/.tmp is emptied at the start of each run.
The record also keeps the manifest of the output and the digest of the script
that made it (compiler/run/manifest.py), so a later change to either is seen.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: compiler.run.folder (used by compile) needs the store's helpers, not pydantic
    from compiler.run.plandoc import BuildPlan, RunStep

STORE = "store"
TMP = ".tmp"
RECORD = ".trtdeploy-complete.json"
RECORD_VERSION = 2


@dataclass(frozen=True)
class Record:
    """What a completed step was built from: enough for `status` to say why it is stale now.

    `inputs` maps an input's path as written in plan.json to {kind, path, digest, files};
    `depends_on` maps each input step to the {run_key, output_id} of the output it read.
    `output_id` is new on every run, so a step that re-ran makes its readers stale even
    when its run key is unchanged (for example after --force). `outputs` is the output
    folder's manifest, `script` and `script_sha256` the script that ran.
    """

    step: str
    fingerprint: str
    run_key: str
    output_id: str
    aspects: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    depends_on: dict[str, dict[str, str]] = field(default_factory=dict)
    started: str = ""
    finished: str = ""
    seconds: float = 0.0
    host: str = ""
    script: str = ""
    script_sha256: str = ""
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"version": RECORD_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: object) -> Record | None:
        """A record, or None for anything that is not a complete record of this version."""
        if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
            return None
        try:
            return cls(**{k: v for k, v in data.items() if k != "version"})
        except TypeError:
            return None


class Store:
    """DIR/store: final step folders, their records, and temporary folders."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / STORE
        self.tmp = self.dir / TMP

    def final(self, step: RunStep) -> Path:
        return self.root / step.output

    def record(self, step: RunStep) -> Record | None:
        """The completion record of the step's store folder, or None if it is missing, damaged or foreign."""
        record = read_record(self.final(step))
        return record if record is not None and record.step == step.id else None

    def has_record_file(self, step: RunStep) -> bool:
        """Whether the step's folder has a record file at all (one `record` may still refuse)."""
        return (self.final(step) / RECORD).is_file()

    def earlier_builds(self, step: RunStep) -> list[Record]:
        """Complete records of the same step id under other fingerprints (kept, unused by this plan)."""
        if not self.dir.is_dir():
            return []
        found = []
        for folder in sorted(self.dir.glob(f"{step.id}-*")):
            record = read_record(folder) if folder != self.final(step) else None
            if record is not None and record.step == step.id:
                found.append(record)
        return found

    def new_tmp(self, step: RunStep) -> Path:
        """A fresh, empty temporary folder for one run of `step` (the step's STEP_OUT)."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        path = self.tmp / f"{Path(step.output).name}.{os.getpid()}.{secrets.token_hex(4)}"
        path.mkdir()
        return path

    def clean_tmp(self) -> list[str]:
        """Remove leftovers of interrupted runs; returns their names. Call only while holding the lock."""
        if not self.tmp.is_dir():
            return []
        names = sorted(p.name for p in self.tmp.iterdir())
        for name in names:
            remove(self.tmp / name)
        return names

    def promote(self, tmp: Path, step: RunStep) -> Path:
        """Rename a finished temporary folder into place; an older folder is removed only afterwards."""
        final = self.final(step)
        old = None
        if final.exists() or final.is_symlink():
            old = self.tmp / f"replaced-{final.name}.{secrets.token_hex(4)}"
            os.rename(final, old)
        os.rename(tmp, final)
        fsync_dir(self.dir)
        if old is not None:
            remove(old)
        return final

    def write_record(self, step: RunStep, record: Record) -> None:
        """Write the completion record atomically: temp file, fsync, rename, fsync of the folder."""
        folder = self.final(step)
        tmp = folder / f"{RECORD}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(record.to_json(), handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, folder / RECORD)
        fsync_dir(folder)

    def unused(self, plan: BuildPlan) -> list[Path]:
        """Store folders the plan does not use (older fingerprints, removed steps), sorted."""
        if not self.dir.is_dir():
            return []
        used = {Path(s.output).name for s in plan.steps}
        return sorted(p for p in self.dir.iterdir() if p.name not in used and p.name != TMP)


def read_record(folder: Path) -> Record | None:
    try:
        data = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return Record.from_json(data)


def has_content(folder: Path) -> bool:
    """True if the folder holds at least one entry (what a step must leave in STEP_OUT to count as done)."""
    try:
        return any(True for _ in folder.iterdir())
    except OSError:
        return False


def tree_bytes(path: Path) -> int:
    """Bytes of the files under a path (not following links), for reports."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def remove(path: Path) -> None:
    """Remove a folder or file, ignoring what is already gone."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable; best effort where directories cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
