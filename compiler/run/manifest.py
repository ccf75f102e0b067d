"""What a completed step left: the manifest of its output folder and the digest of its script, and what changed since.

When a step completes, its completion record keeps every file of its output (relative path
-> size, mtime_ns, sha256; a symbolic link -> its target) and the sha256 of the script that
ran. Later, `changes` compares the folder with that manifest: cheaply by default (a stat per
file; a file is hashed only when its size is the same and its mtime moved, to tell an edit
from a touch), or by every sha256 with `full` (`status --verify`, `build --verify`), which
also catches an edit that kept the size and mtime.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK = 1 << 20
SHOWN = 3  # files named in a reason; the rest are counted


@dataclass(frozen=True)
class Change:
    """One file of an output that is not as recorded: `what` is edited, deleted or added."""

    path: str
    what: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def script_sha256(path: Path) -> str | None:
    """sha256 of a step script, or None when it is missing or unreadable."""
    try:
        return file_sha256(path)
    except OSError:
        return None


def _entries(folder: Path, skip: frozenset[str]) -> dict[str, Path]:
    """Every file and symbolic link under `folder` (links not followed), by relative path, less `skip`."""
    found: dict[str, Path] = {}
    for parent, dirs, names in os.walk(folder):
        base = Path(parent)
        for name in names + [d for d in dirs if (base / d).is_symlink()]:
            relative = (base / name).relative_to(folder).as_posix()
            if relative not in skip:
                found[relative] = base / name
    return found


def manifest(folder: Path, skip: frozenset[str] = frozenset()) -> dict[str, dict[str, Any]]:
    """The manifest of an output folder (see the module docstring)."""
    out: dict[str, dict[str, Any]] = {}
    for relative, path in sorted(_entries(folder, skip).items()):
        info = path.lstat()
        if path.is_symlink():
            out[relative] = {"link": os.readlink(path)}
        else:
            out[relative] = {"size": info.st_size, "mtime_ns": info.st_mtime_ns, "sha256": file_sha256(path)}
    return out


def changes(folder: Path, recorded: Mapping[str, Mapping[str, Any]], full: bool,
            skip: frozenset[str] = frozenset()) -> list[Change]:
    """Files of `folder` edited, deleted or added since `recorded`, sorted by path."""
    present = _entries(folder, skip) if folder.is_dir() else {}
    found = [Change(relative, "added") for relative in present if relative not in recorded]
    for relative, entry in recorded.items():
        path = present.get(relative)
        if path is None:
            found.append(Change(relative, "deleted"))
        elif not _same(path, entry, full):
            found.append(Change(relative, "edited"))
    return sorted(found, key=lambda c: c.path)


def _same(path: Path, entry: Mapping[str, Any], full: bool) -> bool:
    if "link" in entry:
        return path.is_symlink() and os.readlink(path) == entry["link"]
    if path.is_symlink() or not path.is_file():
        return False
    info = path.stat()
    if info.st_size != entry.get("size"):
        return False
    if not full and info.st_mtime_ns == entry.get("mtime_ns"):
        return True
    return file_sha256(path) == entry.get("sha256")


def describe(found: list[Change]) -> str:
    """'rank0.engine edited, config.json deleted and 2 more'."""
    shown = ", ".join(f"{c.path} {c.what}" for c in found[:SHOWN])
    return shown + (f" and {len(found) - SHOWN} more" if len(found) > SHOWN else "")
