"""The stand-ins check argv against the package's tool surfaces, refuse what the real release refuses, and write plausible trees."""

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

from compiler.catalog.releases import newest_release  # noqa: E402


def run(tool: str, args: list[str], version: str = "1.2.0", **env: str) -> subprocess.CompletedProcess[str]:
    script = STANDINS / tool
    full_env = {**os.environ, "TRTDEPLOY_STANDIN_VERSION": version, **env}
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


@pytest.mark.parametrize(("tool", "version", "args", "message"), [
    ("trtllm-build", "0.8.0", ["--max_seq_len", "2048"], "trtllm-build 0.8.0: unknown flag --max_seq_len"),
    ("trtllm-build", "1.2.0", ["--max_output_len", "512"], "trtllm-build 1.2.0: unknown flag --max_output_len"),
    ("trtllm-build", "1.2.0", ["--bogus", "1"], "trtllm-build 1.2.0: unknown flag --bogus"),
    ("trtllm-build", "1.2.0", ["--context_fmha", "on"], "--context_fmha 'on' is not one of enable, disable"),
    ("trtllm-build", "0.10.0", ["--gpt_attention_plugin", "auto"], "--gpt_attention_plugin 'auto' is not one of"),
    ("quantize.py", "0.16.0", ["--qformat", "nvfp4"], "--qformat 'nvfp4' is not one of"),
    ("quantize.py", "0.9.0", ["--calib_dataset", "x"], "quantize.py 0.9.0: unknown flag --calib_dataset"),
    ("convert_checkpoint.py", "1.2.0", ["--ammo_quant_ckpt_path", "x"], "unknown flag --ammo_quant_ckpt_path"),
    ("convert_checkpoint.py", "1.2.0", ["--use_weight_only", "int8"], "unexpected argument 'int8'"),
    ("convert_checkpoint.py", "1.2.0", ["--tp_size"], "--tp_size needs a value"),
    ("convert_checkpoint.py", "0.13.0", ["--calib_size", "8"], "convert_checkpoint.py 0.13.0: unknown flag --calib_size"),
])
def test_bad_argv_exits_2_naming_the_flag(tool: str, version: str, args: list[str], message: str, tmp_path: Path) -> None:
    done = run(tool, [*args, "--output_dir", str(tmp_path / "out")], version)
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


def test_the_check_is_the_package_surface_of_the_exact_release(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRTDEPLOY_STANDIN_VERSION", "0.16.0")
    given, problems, version = check_argv("convert_checkpoint.py", ["--quant_ckpt_path", "x", "--per_group", "-sq", "0.5"])
    assert (given, problems, str(version)) == ({"--quant_ckpt_path": ["x"], "--per_group": [], "--smoothquant": ["0.5"]},
                                               [], "0.16.0")
    monkeypatch.setenv("TRTDEPLOY_STANDIN_VERSION", "0.9.0")
    assert check_argv("convert_checkpoint.py", ["--modelopt_quant_ckpt_path", "x"])[1]  # 0.10.0 only
    monkeypatch.setenv("TRTDEPLOY_STANDIN_VERSION", "0.10.0")
    assert check_argv("convert_checkpoint.py", ["--modelopt_quant_ckpt_path", "x"])[1] == []


def test_a_release_newer_than_known_plays_the_newest_and_a_bad_version_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRTDEPLOY_STANDIN_VERSION", "9.0.0")
    assert str(check_argv("trtllm-build", ["--max_seq_len", "8"])[2]) == str(newest_release().version)
    monkeypatch.setenv("TRTDEPLOY_STANDIN_VERSION", "0.7.1")
    _, problems, version = check_argv("trtllm-build", [])
    assert version is None and problems == ["TRTDEPLOY_STANDIN_VERSION='0.7.1': TensorRT-LLM 0.7.1 is older than 0.8.0, "
                                            "the oldest release whose facts are known"]


# ---------------------------------------------------------------- refusals beyond argv (refusals.py)


def fp8_args(host: Host, out: Path, dataset: str, qformat: str = "fp8") -> list[str]:
    return ["--model_dir", str(host.model), "--qformat", qformat, "--calib_dataset", dataset, "--output_dir", str(out)]


@pytest.mark.parametrize(("version", "dataset", "qformat", "accepted"), [
    ("1.2.0", "FILE", "fp8", False),                   # a plain file is no form of any release
    ("1.2.0", "FILE", "int8_wo", True),                # int8_wo does not calibrate: the dataset is never read
    ("1.2.0", "FOLDER", "fp8", True),                  # a folder: the train split's text column
    ("1.2.0", "pileval", "fp8", True),
    ("1.2.0", "ccdv/cnn_dailymail", "fp8", True),
    ("1.2.0", "my-ScienceQA-copy", "fp8", True),       # 1.x matches scienceqa in the name, case-insensitively
    ("1.2.0", "wikitext", "fp8", False),
    ("0.16.0", "my-ScienceQA-copy", "fp8", False),     # not before 0.17
    ("0.10.0", "FOLDER", "fp8", False),                # 0.10 reads no folder (unless named cnn_dailymail)
])
def test_quantize_refuses_calibration_data_its_release_does_not_read(
        host: Host, tmp_path: Path, version: str, dataset: str, qformat: str, accepted: bool) -> None:
    given = {"FILE": str(host.calib / "train.jsonl"), "FOLDER": str(host.calib)}.get(dataset, dataset)
    done = run("quantize.py", fp8_args(host, tmp_path / "ckpt", given, qformat), version)
    assert (done.returncode == 0) is accepted, done.stderr
    if not accepted:
        assert f"Unsupported dataset name or local repo directory: {given}." in done.stderr
        assert "quantize_by_modelopt.py @" in done.stderr  # the row's source


def checkpoint(folder: Path, quant_algo: str | None, kv: str | None = None) -> Path:
    folder.mkdir(parents=True)
    config = {"architecture": "LlamaForCausalLM", "dtype": "float16",
              "mapping": {"world_size": 1, "tp_size": 1, "pp_size": 1},
              "quantization": {"quant_algo": quant_algo, "kv_cache_quant_algo": kv}}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "rank0.safetensors").write_bytes(b"weights")
    return folder


@pytest.mark.parametrize(("version", "sm", "quant_algo", "kv", "message"), [
    ("1.2.0", "100", "W4A16_AWQ", None, "INT8/INT4 quantization is not supported on SM>=100."),
    ("1.2.0", "100", "W8A16", None, "INT8/INT4 quantization is not supported on SM>=100."),
    ("1.2.0", "103", None, "INT8", "INT8/INT4 quantization is not supported on SM>=100."),
    ("1.2.0", "100", "W8A8_SQ_PER_CHANNEL", None, "SmoothQuant is not supported on SM>=100."),
    ("1.2.0", "90", "W4A16_AWQ", None, None),
    ("1.2.0", "120", "W4A16_AWQ", None, None),         # the builder checks 100 <= SM < 120
    ("1.2.0", "100", "FP8", "FP8", None),
    ("0.16.0", "100", "W4A16_AWQ", None, None),         # no such check before 0.17
])
def test_trtllm_build_refuses_what_the_builder_refuses_on_blackwell(
        tmp_path: Path, version: str, sm: str, quant_algo: str | None, kv: str | None, message: str | None) -> None:
    ckpt = checkpoint(tmp_path / "ckpt", quant_algo, kv)
    done = run("trtllm-build", ["--checkpoint_dir", str(ckpt), "--output_dir", str(tmp_path / "engine")], version,
               TRTDEPLOY_STANDIN_SM=sm)
    if message is None:
        assert done.returncode == 0, done.stderr
    else:
        assert done.returncode == 2 and f"RuntimeError: {message} (SM{sm}" in done.stderr
        assert not (tmp_path / "engine").exists()


# The 0.9.0 builder names both quantized KV caches in its message (builder.py @ 250d9c29); 0.10-0.16 name int8.
@pytest.mark.parametrize(("version", "paged_context", "message"), [
    ("0.16.0", ["--use_paged_context_fmha", "enable"], "Paged Context FMHA doesn't work with int8 kv cache currently."),
    ("0.16.0", [], None),                                       # off by default there
    ("0.9.0", ["--use_paged_context_fmha", "enable"], "Paged Context FMHA doesn't work with fp8/int8 kv cache "
                                                      "currently."),
    ("1.2.0", [], None),                                        # on by default, but the builder turns it off and warns
    ("1.2.0", ["--use_paged_context_fmha", "enable"], None),
])
def test_trtllm_build_refuses_paged_context_fmha_with_int8_kv_where_the_builder_raises(
        tmp_path: Path, version: str, paged_context: list[str], message: str | None) -> None:
    ckpt = checkpoint(tmp_path / "ckpt", "W8A16", "INT8")
    done = run("trtllm-build", ["--checkpoint_dir", str(ckpt), "--output_dir", str(tmp_path / "engine"), *paged_context],
               version)
    assert (done.returncode == 2) is (message is not None), done.stderr
    assert message is None or f"RuntimeError: {message}" in done.stderr


# FP8 context FMHA, asked for or turned on by the 0.10-0.16 builder for FP8 paged context FMHA, stops the build in the
# attention plugin outside SM90 (0.9-0.11) or SM89/SM90 (0.12-0.16); from 0.17 the builder turns it off instead.
@pytest.mark.parametrize(("version", "sm", "quant_algo", "kv", "flags", "message"), [
    ("0.11.0", "89", "FP8", None, ["--use_fp8_context_fmha", "enable"], "FP8 FMHA cannot be enabled on Pre-Hopper Arch."),
    ("0.11.0", "90", "FP8", None, ["--use_fp8_context_fmha", "enable"], None),
    ("0.11.0", "89", "FP8", "FP8", ["--use_paged_context_fmha", "enable"],
     "FP8 FMHA cannot be enabled on Pre-Hopper Arch."),         # turned on by the builder, not by the flags
    ("0.11.0", "89", "FP8", "FP8", [], None),                   # paged context FMHA is off by default there
    ("0.12.0", "89", "FP8", "FP8", ["--use_paged_context_fmha", "enable"], None),
    ("0.16.0", "80", None, None, ["--use_fp8_context_fmha", "enable"],
     "FP8 FMHA cannot be enabled except on Ada or Hopper Arch."),
    ("1.2.0", "80", None, None, ["--use_fp8_context_fmha", "enable"], None),
])
def test_trtllm_build_refuses_fp8_context_fmha_where_the_attention_plugin_stops(
        tmp_path: Path, version: str, sm: str, quant_algo: str | None, kv: str | None, flags: list[str],
        message: str | None) -> None:
    ckpt = checkpoint(tmp_path / "ckpt", quant_algo, kv)
    done = run("trtllm-build", ["--checkpoint_dir", str(ckpt), "--output_dir", str(tmp_path / "engine"), *flags],
               version, TRTDEPLOY_STANDIN_SM=sm)
    assert (done.returncode == 2) is (message is not None), done.stderr
    assert message is None or f"Assertion failed: {message} (SM{sm}" in done.stderr


@pytest.mark.parametrize(("version", "quant_algo", "message"), [
    ("0.9.0", "FP8", "Paged Context FMHA doesn't work with fp8/int8 kv cache currently."),
    ("0.16.0", "W4A16_AWQ", "FP8 Paged Context FMHA only works with fp8 quantization workflow currently."),
    ("0.16.0", "W4A8_AWQ", "FP8 Paged Context FMHA only works with fp8 quantization workflow currently."),
    ("0.16.0", "FP8", None),
    ("1.2.0", "W4A16_AWQ", None),                               # the builder turns it off and warns
])
def test_trtllm_build_refuses_paged_context_fmha_with_fp8_kv_where_the_builder_raises(
        tmp_path: Path, version: str, quant_algo: str, message: str | None) -> None:
    ckpt = checkpoint(tmp_path / "ckpt", quant_algo, "FP8")
    done = run("trtllm-build", ["--checkpoint_dir", str(ckpt), "--output_dir", str(tmp_path / "engine"),
                                "--use_paged_context_fmha", "enable"], version)
    assert (done.returncode == 2) is (message is not None), done.stderr
    assert message is None or f"RuntimeError: {message}" in done.stderr


def test_the_converter_checks_the_flags_of_the_family_it_is_called_as(host: Host, tmp_path: Path) -> None:
    script = tmp_path / "examples" / "falcon" / "convert_checkpoint.py"
    script.parent.mkdir(parents=True)
    script.symlink_to(STANDINS / "convert_checkpoint.py")
    args = ["--model_dir", str(host.model), "--int8_kv_cache", "--output_dir", str(tmp_path / "out")]
    env = {**os.environ, "TRTDEPLOY_STANDIN_VERSION": "0.16.0"}
    falcon = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, env=env, timeout=60)
    assert falcon.returncode == 2 and "convert_checkpoint.py-falcon 0.16.0: unknown flag --int8_kv_cache" in falcon.stderr
    assert run("convert_checkpoint.py", args, "0.16.0").returncode == 0  # llama's converter takes it


def test_the_summarize_py_stand_in_refuses_what_its_release_refuses(host: Host, tmp_path: Path) -> None:
    converted = run("convert_checkpoint.py", ["--model_dir", str(host.model), "--output_dir", str(tmp_path / "ckpt"),
                                              "--dtype", "float16"], version="0.8.0")
    assert converted.returncode == 0, converted.stderr
    built = run("trtllm-build", ["--checkpoint_dir", str(tmp_path / "ckpt"), "--output_dir", str(tmp_path / "engine"),
                                 "--max_input_len", "512"], version="0.8.0")
    assert built.returncode == 0, built.stderr
    engine = ["--test_trt_llm", "--hf_model_dir", str(host.model), "--engine_dir", str(tmp_path / "engine")]
    later = run("summarize.py", [*engine, "--dataset_dir", "data"], version="0.8.0")  # a 0.11+ spelling
    assert later.returncode == 2 and "unknown flag --dataset_dir" in later.stderr
    unread = run("summarize.py", engine, version="0.11.0")  # no rows: the release's flags were not read
    assert unread.returncode == 2
    too_long = run("summarize.py", engine, version="0.8.0")  # the default --max_input_length 923 > 512
    assert too_long.returncode == 1 and "--max_input_length 923 is above the engine's max_input_len 512" in too_long.stderr
    done = run("summarize.py", [*engine, "--max_input_length", "512", "--max_ite", "3"], version="0.8.0",
               TRTDEPLOY_STANDIN_SCORE="cnn_dailymail:24.5")
    assert done.returncode == 0, done.stderr
    assert "[TRT-LLM] [I] TensorRT-LLM beam 0 result\n" in done.stdout and "[TRT-LLM] [I]   rouge1 : 24.5\n" in done.stdout
