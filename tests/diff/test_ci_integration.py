"""The CI integration files: pre-commit hooks run trtdeploy, and the documented workflow is the example's."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_pre_commit_hooks_run_check() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} == {"trtdeploy-check", "trtdeploy-check-all"}
    for hook in hooks:
        assert hook["language"] == "python" and hook["entry"].startswith("trtdeploy check")
        argv = shlex.split(hook["entry"])[1:]
        if hook["pass_filenames"]:
            argv.append(str(ROOT / "specs/llama-7b-fp8-h100.yaml"))
        done = subprocess.run([sys.executable, "-m", "compiler.cli", *argv], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_documented_workflow_is_the_example() -> None:
    workflow = (ROOT / "examples/gitops/.github/workflows/trtdeploy.yml").read_text()
    doc = (ROOT / "docs/gitops.md").read_text()
    body = workflow.split("name: trtdeploy", 1)[1]
    assert "name: trtdeploy" + body in doc
    parsed = yaml.safe_load(workflow)
    steps = parsed["jobs"]["check"]["steps"]
    commands = " ".join(s.get("run", "") for s in steps)
    assert "trtdeploy check --format github specs/" in commands
    assert "trtdeploy diff --base" in commands and "--format markdown" in commands


def test_example_layout_checks_clean() -> None:
    done = subprocess.run([sys.executable, "-m", "compiler.cli", "check", "examples/gitops/specs"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
