"""`trtdeploy check` end to end: output formats, exit codes, silencing, and the shipped specs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import cli

ROOT = Path(__file__).resolve().parents[2]
BROKEN = """\
name: broken
model:
  name: llama-2-7b
parallelism:
  tp: 3
target:
  gpu: H100-SXM
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_shipped_specs_pass() -> None:
    code, out = run("check", str(ROOT / "specs"))
    assert code == 0, out
    assert "0 errors" in out


def test_text_format_has_place_code_and_help(tmp_path: Path) -> None:
    spec = tmp_path / "b.yaml"
    spec.write_text(BROKEN)
    code, out = run("check", str(spec))
    assert code == 1
    assert f"{spec}:5:3: D102 error: num_attention_heads (32) is not divisible by tp (3)" in out
    assert "  help: use tp: 1, 2, 4, 8" in out


def test_json_format(tmp_path: Path) -> None:
    spec = tmp_path / "b.yaml"
    spec.write_text(BROKEN)
    code, out = run("check", "--format", "json", str(spec))
    payload = json.loads(out)
    assert code == 1
    finding = next(f for f in payload["files"][0]["findings"] if f["code"] == "D102")
    assert {k: finding[k] for k in ("severity", "key", "line", "column")} == {
        "severity": "error", "key": "parallelism.tp", "line": 5, "column": 3}
    assert set(finding) >= {"code", "severity", "message", "hint", "key", "line", "column"}
    assert payload["summary"]["errors"] >= 1


def test_github_format(tmp_path: Path) -> None:
    spec = tmp_path / "b.yaml"
    spec.write_text(BROKEN)
    code, out = run("check", "--format", "github", str(spec))
    assert code == 1
    assert f"::error file={spec},line=5,col=3,title=D102::" in out


def test_ignore_on_command_line_and_in_spec(tmp_path: Path) -> None:
    spec = tmp_path / "b.yaml"
    spec.write_text(BROKEN)
    _, out = run("check", "--ignore", "D102,D105,L103", str(spec))
    assert "D102" not in out and "L103" not in out
    spec.write_text(BROKEN + "ignore: [D102, D103, D104, D105, D107, L103]\n")
    _, out = run("check", str(spec))
    assert "D102" not in out


def test_error_raises_warnings(tmp_path: Path) -> None:
    spec = tmp_path / "w.yaml"
    spec.write_text("model: {name: mpt-7b}\nparallelism: {tp: 3}\ntarget: {gpu: H100-SXM}\n")
    _, plain = run("check", "--ignore", "D102,D104,D105,L103", str(spec))
    assert "D107 warning" in plain
    code, raised = run("check", "--ignore", "D102,D104,D105,L103", "--error", "D107", str(spec))
    assert "D107 error" in raised and code == 1


def test_usage_error_exits_2() -> None:
    code, _ = run("check")
    assert code == 2
    code, _ = run("check", "--format", "yaml", "x.yaml")
    assert code == 2


def test_missing_and_binary_files_never_traceback(tmp_path: Path) -> None:
    binary = tmp_path / "b.yaml"
    binary.write_bytes(bytes(range(256)))
    code, out = run("check", str(binary), str(tmp_path / "missing.yaml"))
    assert code == 1
    assert "Traceback" not in out
    assert "S101" in out and "S100" in out


def test_folder_of_many_specs(tmp_path: Path) -> None:
    for i in range(300):
        (tmp_path / f"s{i:03}.yaml").write_text(f"name: s{i}\nmodel: {{name: llama-2-7b}}\ntarget: {{gpu: A100-80GB}}\n")
    code, out = run("check", "--format", "json", str(tmp_path))
    assert code == 0
    assert len(json.loads(out)["files"]) == 300


@pytest.mark.parametrize("command", [["--help"], ["check", "--help"], ["explain", "D102"], ["gpus"], ["models"], ["schema"]])
def test_commands_run(command: list[str]) -> None:
    code, out = run(*command)
    assert code == 0 and out


def test_explain_unknown_code() -> None:
    code, _ = run("explain", "D999")
    assert code == 2


def test_help_imports_no_heavy_module() -> None:
    probe = ("import sys; from compiler.cli import main\n"
             "try:\n    main(['check', '--help'])\nexcept SystemExit:\n    pass\n"
             "heavy = [m for m in ('torch', 'modelopt', 'tensorrt_llm', 'rich', 'jinja2') if m in sys.modules]\n"
             "print('HEAVY=' + ','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "HEAVY="


def test_check_imports_no_heavy_module() -> None:
    probe = ("import sys; from compiler.cli import main\n"
             f"try:\n    main(['check', {str(ROOT / 'specs')!r}])\nexcept SystemExit:\n    pass\n"
             "heavy = [m for m in ('torch', 'modelopt', 'tensorrt_llm', 'transformers') if m in sys.modules]\n"
             "print('HEAVY=' + ','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "HEAVY=\n" in out + "\n"
