"""Real git repositories for the pull-request tests, including trees git itself would never check out.

`git mktree -z` takes any entry name as bytes: `..`, `.`, `.git`, an empty name, a newline,
bytes that are not UTF-8, and the same name twice. `tree` nests such entries, so a test
can build the tree of a hostile commit exactly.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Union

FILE, LINK, FOLDER, SUBMODULE = "100644", "120000", "040000", "160000"

# A tree: (name, entry) pairs, in order, duplicates allowed. An entry is a blob's bytes with its
# mode (a file or a link), a commit id (a submodule), or a nested tree.
Entry = Union[tuple[str, bytes], tuple[str, str], "Tree"]
Tree = list[tuple[bytes, Entry]]

_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
        "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo: Path, *args: str, data: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=repo, env={**os.environ, **_ENV}, input=data, capture_output=True,
                          check=True)
    return done.stdout.decode("utf-8", "surrogateescape").strip()


def init(repo: Path) -> Path:
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")
    return repo


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


def tree(repo: Path, entries: Tree) -> str:
    """The id of a tree holding `entries` exactly as given (git mktree checks none of the names)."""
    lines = []
    for name, entry in entries:
        if isinstance(entry, list):
            mode, kind, oid = FOLDER, "tree", tree(repo, entry)
        elif entry[0] == SUBMODULE:
            mode, kind, oid = SUBMODULE, "commit", str(entry[1])
        else:
            mode, content = entry
            assert isinstance(content, bytes)
            kind, oid = "blob", git(repo, "hash-object", "-w", "--stdin", data=content)
        lines.append(f"{mode} {kind} {oid}\t".encode() + name + b"\0")
    return git(repo, "mktree", "-z", "--missing", data=b"".join(lines))


def commit_tree(repo: Path, tree_id: str, message: str) -> str:
    return git(repo, "commit-tree", tree_id, "-m", message)
