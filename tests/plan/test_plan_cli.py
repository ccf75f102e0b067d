"""`trtdeploy plan` prints without writing; `trtdeploy compile` writes build/<name> by default; errors exit 1."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from compiler.cli import cli
from plan.support import write_spec

GPTQ: dict[str, Any] = {"name": "cli-gptq", "quantization": {"format": "int4_gptq", "calibration": {}},
                        "parallelism": {"tp": 2}, "target": {"gpu": "A100-SXM-80GB"}}
BROKEN: dict[str, Any] = {"parallelism": {"tp": 3}}


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_plan_json_has_the_documented_keys(tmp_path: Path) -> None:
    result = invoke("plan", str(write_spec(tmp_path, GPTQ)), "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["name"] == "cli-gptq" and doc["findings"] == []
    memory = doc["memory"]
    assert {"gpu_memory_bytes", "per_gpu", "total_weights_bytes"} <= set(memory)
    assert set(memory["per_gpu"]) == {"weights_bytes", "kv_cache_bytes", "activation_bytes", "total_bytes"}
    assert [s["id"] for s in doc["steps"]] == ["gptq", "convert", "build"]
    for step in doc["steps"]:
        assert {"id", "tool", "argv", "inputs", "outputs", "fingerprint", "aspects"} <= set(step)
        assert isinstance(step["argv"], list) and all(isinstance(a, str) for a in step["argv"])
    assert doc["launch"]["world_size"] == 2 and doc["launch"]["argv"][:3] == ["mpirun", "-n", "2"]
    assert doc["tensorrt_llm"] == {"version": "0.16.0"}
    assert doc["variables"]["EXAMPLES_DIR"] == {"env": "TRTDEPLOY_EXAMPLES_DIR", "default": "/app/tensorrt_llm/examples"}


def test_plan_json_of_a_spec_with_errors_has_the_same_keys_with_findings_and_no_steps(tmp_path: Path) -> None:
    good = json.loads(invoke("plan", str(write_spec(tmp_path, GPTQ)), "--format", "json").output)
    result = invoke("plan", str(write_spec(tmp_path, GPTQ, BROKEN, name="broken.yaml")), "--format", "json")
    assert result.exit_code == 1
    broken = json.loads(result.output)
    assert set(broken) == set(good)
    assert broken["steps"] == [] and broken["launch"] is None and broken["memory"] is None
    assert {"D102", "L103"} <= {f["code"] for f in broken["findings"]} and broken["name"] == "cli-gptq"
    assert broken["backend"] == good["backend"] and broken["tensorrt_llm"] == good["tensorrt_llm"]


def test_plan_text_shows_commands_memory_and_decisions(tmp_path: Path) -> None:
    result = invoke("plan", str(write_spec(tmp_path, GPTQ)))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "memory per GPU" in out and "GiB" in out
    assert "exec" not in out and "python3 steps/gptq_quantize.py" in out and "--quant_ckpt_path" in out
    assert "trtllm-build" in out and "--max_seq_len 2048" in out
    assert "decisions:" in out and "quantization.path: gptq" in out
    markdown = invoke("plan", str(write_spec(tmp_path, GPTQ)), "--format", "markdown").output
    assert markdown.startswith("# Plan: cli-gptq") and "```bash" in markdown


def test_plan_writes_nothing(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, GPTQ)
    before = sorted(p.name for p in tmp_path.iterdir())
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert invoke("plan", str(spec)).exit_code == 0
    finally:
        os.chdir(cwd)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_errors_print_findings_and_exit_1(tmp_path: Path, fmt: str) -> None:
    result = invoke("plan", str(write_spec(tmp_path, BROKEN)), "--format", fmt)
    assert result.exit_code == 1
    assert "D102" in result.output
    if fmt == "json":
        assert json.loads(result.output)["findings"][0]["code"].startswith("D")


def test_compile_writes_build_name_by_default_and_refuses_errors(tmp_path: Path) -> None:
    good, bad = write_spec(tmp_path, GPTQ), write_spec(tmp_path, BROKEN, name="bad.yaml")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = invoke("compile", str(good))
        assert result.exit_code == 0, result.output
        assert (tmp_path / "build" / "cli-gptq" / "plan.json").is_file()
        refused = invoke("compile", str(bad), "-o", "out")
        assert refused.exit_code == 1 and "D102" in refused.output
        assert not (tmp_path / "out").exists()
    finally:
        os.chdir(cwd)


def test_missing_spec_is_an_error(tmp_path: Path) -> None:
    result = invoke("plan", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1 and "S100" in result.output
