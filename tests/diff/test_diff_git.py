"""`trtdeploy diff --base REV` on a real temporary git repository, with reviewed Markdown snapshots.

Set UPDATE_SNAPSHOTS=1 to rewrite the snapshots after reviewing a deliberate change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import cli
from diffkit import by_path, commit_specs, diff, edit, git, snapshot

BASE = """\
# The fleet's common settings.
abstract: true
model:
  name: llama-2-7b
  path: /models/llama-2-7b-hf
quantization:
  format: fp8
  calibration:
    dataset: cnn_dailymail
    samples: 512
    seq_len: 512
limits:
  max_batch_size: 16
  max_input_len: 2048
  max_output_len: 512
target:
  gpu: H100-SXM
  tensorrt_llm: "0.16.0"
"""
PROD = """\
extends: base.yaml
name: chat-prod
parallelism:
  tp: 2
launch:
  launcher: mpirun
"""
STAGING = """\
extends: base.yaml
name: chat-staging
"""
CANARY = """\
name: canary
model:
  name: llama-2-7b
quantization:
  format: int8_wo
target:
  gpu: A100-80GB
  tensorrt_llm: "1.2.0"
"""


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    commit_specs(tmp_path, {"base.yaml": BASE, "prod.yaml": PROD, "staging.yaml": STAGING, "canary.yaml": CANARY})
    monkeypatch.chdir(tmp_path)
    return tmp_path


def markdown(name: str) -> None:
    snapshot(name)


def test_comment_only_change_is_none(repo: Path) -> None:
    edit(repo / "specs/prod.yaml", "name: chat-prod\n", "name: chat-prod  # the production chat\n")
    code, payload = diff("specs")
    spec = by_path(payload)["specs/prod.yaml"]
    assert code == 0 and spec["impact"] == "none" and spec["changes"] == []
    markdown("comment_only")


def test_launcher_change_is_relaunch(repo: Path) -> None:
    edit(repo / "specs/prod.yaml", "launcher: mpirun", "launcher: slurm")
    code, payload = diff("specs")
    spec = by_path(payload)["specs/prod.yaml"]
    assert code == 0 and spec["impact"] == "relaunch"
    assert spec["changes"] == [{"key": "launch.launcher", "old": "mpirun", "new": "slurm", "line": 6}]
    assert spec["memory"]["before"] == spec["memory"]["after"]
    assert [s["step"] for s in spec["steps"]] == ["launch"]
    markdown("launcher")


def test_batch_size_change_is_rebuild_and_moves_memory(repo: Path) -> None:
    edit(repo / "specs/canary.yaml", "target:", "limits:\n  max_batch_size: 64\ntarget:")
    code, payload = diff("specs")
    spec = by_path(payload)["specs/canary.yaml"]
    assert code == 0 and spec["impact"] == "rebuild"
    before, after = spec["memory"]["before"]["per_gpu_bytes"], spec["memory"]["after"]["per_gpu_bytes"]
    # 56 more sequences of 2048 tokens of LLaMA-2-7B fp16 KV: 56 * 2048 * 2 * 32 * 4096 * 2 bytes, plus logits.
    assert after - before >= 56 * 2048 * 2 * 32 * 4096 * 2
    assert {s["step"] for s in spec["steps"]} == {"build", "launch"}
    markdown("batch_size")


def test_calibration_change_is_requantize(repo: Path) -> None:
    edit(repo / "specs/prod.yaml", "parallelism:", "quantization:\n  calibration:\n    samples: 256\nparallelism:")
    code, payload = diff("specs")
    spec = by_path(payload)["specs/prod.yaml"]
    assert code == 0 and spec["impact"] == "requantize"
    assert spec["changes"][0]["key"] == "quantization.calibration.samples"
    assert spec["changes"][0]["old"] == 512 and spec["changes"][0]["new"] == 256
    markdown("calibration")


def test_format_change_is_requantize(repo: Path) -> None:
    edit(repo / "specs/canary.yaml", "format: int8_wo", "format: int4_wo")
    code, payload = diff("specs")
    spec = by_path(payload)["specs/canary.yaml"]
    assert spec["impact"] == "requantize"
    assert spec["memory"]["after"]["per_gpu_bytes"] < spec["memory"]["before"]["per_gpu_bytes"]


def test_base_change_reaches_every_spec_that_extends_it(repo: Path) -> None:
    edit(repo / "specs/base.yaml", "max_output_len: 512", "max_output_len: 1024")
    code, payload = diff("specs")
    specs = by_path(payload)
    assert code == 0
    assert specs["specs/prod.yaml"]["impact"] == "rebuild"
    assert specs["specs/staging.yaml"]["impact"] == "rebuild"
    assert specs["specs/prod.yaml"]["via"] == ["specs/base.yaml"]
    assert specs["specs/base.yaml"]["abstract"] is True and specs["specs/base.yaml"]["impact"] == "none"
    assert "specs/canary.yaml" not in specs
    markdown("base_through_extends")


def test_added_and_removed_specs(repo: Path) -> None:
    (repo / "specs/new.yaml").write_text(CANARY.replace("canary", "fresh"))
    (repo / "specs/canary.yaml").unlink()
    code, payload = diff("specs")
    specs = by_path(payload)
    assert specs["specs/new.yaml"]["status"] == "added"
    assert specs["specs/canary.yaml"]["status"] == "removed"
    assert code == 0
    markdown("added_removed")


def test_renamed_spec(repo: Path) -> None:
    git(repo, "mv", "specs/canary.yaml", "specs/canary-a100.yaml")
    _, payload = diff("specs")
    spec = by_path(payload)["specs/canary-a100.yaml"]
    assert spec["status"] == "renamed" and spec["old_path"] == "specs/canary.yaml" and spec["impact"] == "none"


def test_change_that_breaks_a_spec_exits_1(repo: Path) -> None:
    edit(repo / "specs/prod.yaml", "tp: 2", "tp: 3")
    code, payload = diff("specs")
    spec = by_path(payload)["specs/prod.yaml"]
    assert code == 1
    assert "D102" in {f["code"] for f in spec["findings"]["added"]}
    assert payload["summary"]["introduces_errors"] is True
    markdown("breaks_spec")


def test_two_files_and_usage_errors(repo: Path) -> None:
    result = CliRunner().invoke(cli, ["diff", "--format", "json", "specs/canary.yaml", "specs/staging.yaml"])
    assert json.loads(result.output)["specs"][0]["impact"] == "requantize"
    assert CliRunner().invoke(cli, ["diff", "specs/canary.yaml"]).exit_code == 2
    assert CliRunner().invoke(cli, ["diff", "--base", "no-such-rev", "specs"]).exit_code == 2
