"""The stand-ins check argv against the reference flag tables and write plausible output trees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runkit import STANDINS, Host

sys.path.insert(0, str(STANDINS))
from flagcheck import check_argv  # noqa: E402


def run(tool: str, args: list[str], line: str = "1.x", **env: str) -> subprocess.CompletedProcess[str]:
    script = STANDINS / tool
    full_env = {**os.environ, "TRTDEPLOY_STANDIN_LINE": line, **env}
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, env=full_env, timeout=60)


def quantize_args(host: Host, out: Path, *extra: str) -> list[str]:
    return ["--model_dir", str(host.model), "--qformat", "fp8", "--kv_cache_dtype", "fp8", "--tp_size", "2",
            "--calib_size", "16", "--output_dir", str(out), *extra]


def test_quantize_writes_a_checkpoint_derived_from_its_flags(host: Host, tmp_path: Path) -> None:
    done = run("quantize.py", quantize_args(host, tmp_path / "ckpt"))
    assert done.returncode == 0, done.stderr
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert config["architecture"] == "LlamaForCausalLM" and config["dtype"] == "float16"
    assert config["mapping"] == {"world_size": 2, "tp_size": 2, "pp_size": 1}
    assert config["quantization"] == {"quant_algo": "FP8", "kv_cache_quant_algo": "FP8"}
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["config.json", "rank0.safetensors", "rank1.safetensors"]
    built = run("trtllm-build", ["--checkpoint_dir", str(tmp_path / "ckpt"), "--output_dir", str(tmp_path / "engine"),
                                 "--max_batch_size", "4", "--use_fp8_context_fmha", "enable"])
    assert built.returncode == 0, built.stderr
    engine = json.loads((tmp_path / "engine" / "config.json").read_text())
    assert engine["build_config"] == {"max_batch_size": "4", "use_fp8_context_fmha": "enable"}
    assert sorted(p.name for p in (tmp_path / "engine").iterdir()) == ["config.json", "rank0.engine", "rank1.engine"]


def test_outputs_depend_on_inputs_only(host: Host, tmp_path: Path) -> None:
    for name in ("one", "two"):
        assert run("quantize.py", quantize_args(host, tmp_path / name)).returncode == 0
    assert (tmp_path / "one" / "rank1.safetensors").read_bytes() == (tmp_path / "two" / "rank1.safetensors").read_bytes()
    (host.model / "model.safetensors").write_bytes(b"other")
    assert run("quantize.py", quantize_args(host, tmp_path / "three")).returncode == 0
    assert (tmp_path / "one" / "rank1.safetensors").read_bytes() != (tmp_path / "three" / "rank1.safetensors").read_bytes()


@pytest.mark.parametrize(("tool", "line", "args", "message"), [
    ("trtllm-build", "0.8", ["--max_seq_len", "2048"], "--max_seq_len does not exist in '0.8.0'"),
    ("trtllm-build", "1.x", ["--max_output_len", "512"], "--max_output_len does not exist in '1.x"),
    ("trtllm-build", "1.x", ["--bogus", "1"], "--bogus is unknown to the '1.x"),
    ("trtllm-build", "1.x", ["--context_fmha", "on"], "--context_fmha 'on' is not one of ['enable', 'disable']"),
    ("quantize.py", "0.12", ["--qformat", "nvfp4"], "--qformat 'nvfp4' is not one of"),
    ("quantize.py", "0.8", ["--calib_dataset", "x"], "--calib_dataset does not exist in '0.8.0'"),
    ("convert_checkpoint.py", "1.x", ["--ammo_quant_ckpt_path", "x"], "--ammo_quant_ckpt_path is unknown"),
    ("convert_checkpoint.py", "1.x", ["--use_weight_only", "int8"], "--use_weight_only is a store_true switch but got ['int8']"),
    ("convert_checkpoint.py", "1.x", ["--tp_size"], "--tp_size takes one value, got []"),
])
def test_bad_argv_exits_2_naming_the_flag(tool: str, line: str, args: list[str], message: str, tmp_path: Path) -> None:
    done = run(tool, [*args, "--output_dir", str(tmp_path / "out")], line)
    assert done.returncode == 2
    assert message in done.stderr
    assert not (tmp_path / "out").exists()


def test_trtllm_build_needs_a_checkpoint_config(tmp_path: Path) -> None:
    done = run("trtllm-build", ["--checkpoint_dir", str(tmp_path), "--output_dir", str(tmp_path / "engine")])
    assert done.returncode == 2 and f"--checkpoint_dir {tmp_path}: no config.json there" in done.stderr


def test_knobs_fail_and_log(host: Host, tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    failed = run("quantize.py", quantize_args(host, tmp_path / "x"), TRTDEPLOY_STANDIN_FAIL="quantize.py",
                 TRTDEPLOY_STANDIN_LOG=str(log))
    assert failed.returncode == 1 and "failing as asked by TRTDEPLOY_STANDIN_FAIL=quantize.py" in failed.stderr
    other = run("quantize.py", quantize_args(host, tmp_path / "y"), TRTDEPLOY_STANDIN_FAIL="trtllm-build",
                TRTDEPLOY_STANDIN_LOG=str(log))
    assert other.returncode == 0
    assert [json.loads(line)["tool"] for line in log.read_text().splitlines()] == ["quantize.py", "quantize.py"]


def test_the_check_is_the_reference_tables_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_argv("convert_checkpoint.py", "0.12", ["--quant_ckpt_path", "x", "--per_group"]) == (
        {"--quant_ckpt_path": ["x"], "--per_group": []}, [])
    assert check_argv("trtllm-build", "2.0", [])[1] == ["TRTDEPLOY_STANDIN_LINE='2.0' is not one of ['0.12', '0.8', '1.x']"]
    assert check_argv("convert_checkpoint.py", "0.8", ["--modelopt_quant_ckpt_path", "x"])[1]  # 0.10.0 only
    monkeypatch.setenv("TRTDEPLOY_STANDIN_VERSION", "0.10.0")
    assert check_argv("convert_checkpoint.py", "0.8", ["--modelopt_quant_ckpt_path", "x"])[1] == []
