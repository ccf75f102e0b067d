"""Digests of input files and folders: what the run key sees of a model, calibration set or checkpoint.

A folder's digest covers every file under it (recursively, sorted, dot-files and
dot-folders skipped) by relative path, size and sha256. Hashing a 140 GB model
takes minutes, so each file's sha256 is cached in DIR/.trtdeploy/digests.json by
(real path, size, mtime_ns) and re-hashed only when its size or mtime changes:
after the first build a digest costs one stat per file. Touching a file without
changing it re-hashes it but leaves the digest, and so the run key, unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20
CACHE_VERSION = 1


@dataclass(frozen=True)
class PathDigest:
    """The digest of one input path, and the sha256 of each file under it (keyed by relative path)."""

    path: str
    digest: str
    files: dict[str, str]

    def changed_files(self, recorded: dict[str, str]) -> list[str]:
        """Relative paths added, removed or changed since `recorded`, sorted."""
        names = set(recorded) | set(self.files)
        return sorted(n for n in names if recorded.get(n) != self.files.get(n))


class DigestCache:
    """sha256 per file, keyed by (real path, size, mtime_ns); loaded from and saved to one JSON file."""

    def __init__(self, path: Path | None, on_hash: Callable[[str, int], None] | None = None) -> None:
        """`on_hash(path, size)` is called before a file is hashed (not when its cached hash is used)."""
        self.path = path
        self.on_hash = on_hash
        self.entries: dict[str, dict[str, object]] = {}
        self.dirty = False
        if path is not None:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # a missing or damaged cache only costs a re-hash
        if isinstance(data, dict) and data.get("version") == CACHE_VERSION and isinstance(data.get("files"), dict):
            self.entries = {k: v for k, v in data["files"].items() if isinstance(v, dict)}

    def sha256(self, file: Path) -> tuple[int, str]:
        """(size, sha256) of a file, hashing it only when its size or mtime changed since it was cached."""
        real = os.path.realpath(file)
        stat = os.stat(real)
        entry = self.entries.get(real)
        if entry and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
            return stat.st_size, str(entry["sha256"])
        if self.on_hash is not None:
            self.on_hash(real, stat.st_size)
        digest = _hash_file(real)
        self.entries[real] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
        self.dirty = True
        return stat.st_size, digest

    def save(self) -> None:
        """Write the cache atomically (temp file + rename), if anything changed and it has a file."""
        if self.path is None or not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": CACHE_VERSION, "files": self.entries}, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)
        self.dirty = False


def _hash_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def digest_path(path: Path, cache: DigestCache) -> PathDigest:
    """Digest a file or a folder (see the module docstring).

    Raises:
        FileNotFoundError: the path does not exist.
    """
    if not path.exists():
        raise FileNotFoundError(str(path))
    files: dict[str, str] = {}
    total = hashlib.sha256()
    for rel, file in _files(path):
        size, sha = cache.sha256(file)
        files[rel] = sha
        total.update(f"{rel}\0{size}\0{sha}\n".encode())
    return PathDigest(str(path), total.hexdigest(), files)


def _files(path: Path) -> Iterator[tuple[str, Path]]:
    """(relative path, path) of every regular file under `path`, sorted; symlinks followed, cycles cut."""
    if path.is_file():
        yield path.name, path
        return
    seen: set[str] = set()
    found: list[tuple[str, Path]] = []
    for folder, dirs, names in os.walk(path, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            file = Path(folder, name)
            if not name.startswith(".") and file.is_file():
                found.append((file.relative_to(path).as_posix(), file))
    yield from sorted(found)
