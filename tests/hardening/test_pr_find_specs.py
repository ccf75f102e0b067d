"""Issue 10, items 4 and 5: finding the specs to read.

- A spec in a folder without search permission is a finding (or a usage error) on every command, not a
  PermissionError (exit 3). The commands run as a real process without the capabilities that let root read
  anything (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), dropped with util-linux's setpriv, so the folder's mode
  000 holds for root too; as any other user they run as they are.
- `check` of a folder that holds no spec fails (S100) instead of passing having checked nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import cli
from gitkit import commit_all, init

SPEC = """\
name: chat
model: {name: llama-2-7b}
quantization: {format: int8_wo}
target: {gpu: A100-80GB, tensorrt_llm: "1.2.0"}
"""
NO_OVERRIDE = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
               "--bounding-set=-dac_override,-dac_read_search"]

# Each command with the paths it is given; {locked} has mode 000, {spec} is inside it, {ok} is readable.
# ---------------------------------------------------------------- item 4: a folder that cannot be searched

COMMANDS = {
    "check a spec in it": ["check", "{spec}"],
    "check it": ["check", "{locked}"],
    "check its parent": ["check", "."],
    "check it as JSON": ["check", "--format", "json", "{spec}"],
    "check it for GitHub": ["check", "--format", "github", "{locked}"],
    "plan": ["plan", "{spec}"],
    "plan as Markdown": ["plan", "--format", "markdown", "{spec}"],
    "compile": ["compile", "{spec}", "-o", "out"],
    "compile into it": ["compile", "{ok}", "-o", "{locked}/out"],
    "build": ["build", "{spec}", "--skip-doctor"],
    "build --dry-run": ["build", "{spec}", "--dry-run"],
    "build --clean": ["build", "{spec}", "--clean"],
    "status": ["status", "{locked}"],
    "doctor": ["doctor", "{spec}"],
    "diff, old in it": ["diff", "{spec}", "{ok}"],
    "diff, new in it": ["diff", "{ok}", "{spec}"],
    "diff --base over it": ["diff", "--base", "HEAD", "."],
    "diff --base over it, Markdown": ["diff", "--base", "HEAD", "--format", "markdown", "."],
}


def _runner() -> list[str]:
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without util-linux's setpriv: a mode-000 folder cannot be made unreadable")
    return NO_OVERRIDE


@pytest.fixture()
def locked(tmp_path: Path) -> Iterator[Path]:
    """A git work tree holding ok.yaml and locked/spec.yaml, locked/ with mode 000 (restored afterwards)."""
    repo = init(tmp_path / "repo")
    (repo / "ok.yaml").write_text(SPEC)
    (repo / "locked").mkdir()
    (repo / "locked" / "spec.yaml").write_text(SPEC)
    commit_all(repo, "specs")
    (repo / "locked").chmod(0)
    yield repo
    (repo / "locked").chmod(0o755)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_folder_without_search_permission_gives_a_finding_not_a_crash(locked: Path, name: str) -> None:
    places = {"spec": "locked/spec.yaml", "locked": "locked", "ok": "ok.yaml"}
    args = [arg.format(**places) for arg in COMMANDS[name]]
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "TRTDEPLOY_DEBUG": "1"}
    done = subprocess.run([*_runner(), sys.executable, "-m", "compiler.cli", *args], cwd=locked, env=env,
                          capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert "Traceback" not in output and "internal error" not in output, output
    assert done.returncode in (1, 2), output  # a finding or a refusal: the spec cannot be read
    assert "ermission denied" in output or "cannot read" in output or name.startswith("diff --base"), output


def test_the_test_really_cannot_read_the_folder(locked: Path) -> None:
    """Guards the test above: without the capabilities, the folder's mode holds."""
    done = subprocess.run([*_runner(), "cat", "locked/spec.yaml"], cwd=locked, capture_output=True, timeout=60)
    assert done.returncode != 0 and b"ermission denied" in done.stderr


# ---------------------------------------------------------------- item 5: a check that checked nothing fails

EMPTY_FOLDERS = {
    "empty": {},
    "only hidden specs": {".github/spec.yaml": SPEC, ".spec.yaml": SPEC},
    "only other files": {"README.md": "# specs", "spec.yaml.bak": SPEC, "spec.json": "{}"},
    "only empty folders": {"a/b/c/.keep": ""},
}


@pytest.mark.parametrize("name", list(EMPTY_FOLDERS))
def test_check_of_a_folder_without_specs_fails(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    for relative, text in EMPTY_FOLDERS[name].items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    for fmt in ("text", "json", "github"):
        result = CliRunner().invoke(cli, ["check", "--format", fmt, str(folder)])
        assert result.exit_code == 1 and "S100" in result.output and "no specs found" in result.output


def test_a_folder_with_specs_beside_an_empty_one_passes(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "chat.yaml").write_text(SPEC)
    (tmp_path / "empty").mkdir()
    assert CliRunner().invoke(cli, ["check", str(tmp_path / "specs")]).exit_code == 0
    both = CliRunner().invoke(cli, ["check", str(tmp_path / "specs"), str(tmp_path / "empty")])
    assert both.exit_code == 1 and f"no specs found under {tmp_path / 'empty'}" in both.output
