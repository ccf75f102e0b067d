"""What the diff tests share: a git repository of specs, edits, `trtdeploy diff` as JSON, and reviewed snapshots.

A snapshot is the reviewed Markdown (or text) output of `trtdeploy diff`; a missing one fails the test.
Set UPDATE_SNAPSHOTS=1 to write them after reviewing a deliberate change.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from compiler.cli import cli

SNAPSHOTS = Path(__file__).parent / "snapshots"


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_GLOBAL": os.devnull}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def commit_specs(repo: Path, specs: dict[str, str]) -> None:
    """A repository on branch main whose first commit holds `specs` (path under specs/ -> text)."""
    git(repo, "init", "-q", "-b", "main")
    for name, text in specs.items():
        path = repo / "specs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "initial specs")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def diff(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["diff", "--base", "main", "--format", "json", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.output)


def by_path(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["path"]: s for s in payload["specs"]}


def snapshot(name: str, output_format: str = "markdown", *paths: str) -> None:
    """`trtdeploy diff --base main` in `output_format` must equal the reviewed snapshots/<name>.md (or .txt)."""
    result = CliRunner().invoke(cli, ["diff", "--base", "main", "--format", output_format, *(paths or ("specs",))])
    path = SNAPSHOTS / f"{name}.{'md' if output_format == 'markdown' else 'txt'}"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(result.output)
    assert path.exists(), f"no snapshot {path}: review the output and write it with UPDATE_SNAPSHOTS=1"
    assert result.output == path.read_text(), f"output changed; review and rerun with UPDATE_SNAPSHOTS=1 ({path})"
