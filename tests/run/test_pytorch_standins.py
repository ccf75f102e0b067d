"""The PyTorch backend's stand-ins (tests/standins/trtllm-serve, hf_ptq.py) refuse what the release refuses.

They run as the planner's steps would run them: separate processes, under this
virtual environment's python3 (they import the compiler package's tables). The model
folders here are written by hand (config.json, and an hf_quant_config.json as ModelOpt
writes it); test_real_hf_ptq.py serves a checkpoint ModelOpt really exported.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

STANDINS = Path(__file__).resolve().parents[1] / "standins"
SERVE = STANDINS / "trtllm-serve"
HF_PTQ = STANDINS / "hf_ptq.py"
KNOBS = ("TRTDEPLOY_STANDIN_VERSION", "TRTDEPLOY_STANDIN_MODELOPT_VERSION", "TRTDEPLOY_STANDIN_FAIL",
         "TRTDEPLOY_STANDIN_LOG", "TRTDEPLOY_STANDIN_SERVE_EXIT", "TRTDEPLOY_STANDIN_GPU_SM")


def run_standin(program: Path, args: list[str], **knobs: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in KNOBS} | knobs
    return subprocess.run([sys.executable, str(program), *args], env=env, capture_output=True, text=True, check=False)


def model_folder(root: Path, quantization: Mapping[str, object] | None = None,
                 quantization_config: Mapping[str, object] | None = None) -> Path:
    """A Hugging Face model folder with just what the serve stand-in reads."""
    root.mkdir(parents=True, exist_ok=True)
    config: dict[str, object] = {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}
    if quantization_config is not None:
        config["quantization_config"] = dict(quantization_config)
    (root / "config.json").write_text(json.dumps(config))
    if quantization is not None:
        (root / "hf_quant_config.json").write_text(json.dumps({"producer": {"name": "modelopt", "version": "0.37.0"},
                                                               "quantization": dict(quantization)}))
    return root


def config_file(root: Path, options: Mapping[str, object]) -> Path:
    path = root / "llm_api_options.yaml"
    path.write_text(yaml.safe_dump(dict(options)))
    return path


@pytest.fixture
def fp8_model(tmp_path: Path) -> Path:
    return model_folder(tmp_path / "fp8", {"quant_algo": "FP8", "kv_cache_quant_algo": "FP8",
                                           "exclude_modules": ["lm_head"]})


def validate(model: Path, args: list[str], version: str, **knobs: str) -> subprocess.CompletedProcess[str]:
    return run_standin(SERVE, [str(model), *args], TRTDEPLOY_STANDIN_VERSION=version,
                       TRTDEPLOY_STANDIN_SERVE_EXIT="validated", **knobs)


def effective(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    line = next(line for line in result.stdout.splitlines() if "effective" in line)
    return json.loads(line.split("effective ", 1)[1])


# trtllm-serve: argv, LLM-API keys, checkpoints ------------------------------------------------------

def test_serve_refuses_an_option_the_release_lacks_with_a_usage_error(fp8_model: Path, tmp_path: Path) -> None:
    options = config_file(tmp_path, {"max_batch_size": 8})
    result = validate(fp8_model, ["--config", str(options)], "1.1.0")
    assert result.returncode == 2
    assert "trtllm-serve serve 1.1.0: unknown flag --config" in result.stderr
    assert validate(fp8_model, ["--extra_llm_api_options", str(options)], "1.1.0").returncode == 0


def test_serve_accepts_a_valid_config_and_refuses_an_unknown_key_at_any_level(fp8_model: Path, tmp_path: Path) -> None:
    good = {"max_batch_size": 8, "kv_cache_config": {"dtype": "fp8", "free_gpu_memory_fraction": 0.8},
            "cuda_graph_config": {"batch_sizes": [1, 2, 4, 8]}, "enable_chunked_prefill": True}
    assert validate(fp8_model, ["--config", str(config_file(tmp_path, good))], "1.2.0").returncode == 0
    for bad, key in (({**good, "max_batch_sizes": 8}, "max_batch_sizes"),
                     ({**good, "kv_cache_config": {"dtype": "fp8", "tokens_per_blok": 32}},
                      "kv_cache_config.tokens_per_blok")):
        result = validate(fp8_model, ["--config", str(config_file(tmp_path, bad))], "1.2.0")
        assert result.returncode == 1
        assert f"TensorRT-LLM 1.2.0 LLM-API key {key}: Extra inputs are not permitted" in result.stderr


def test_serve_refuses_a_key_of_a_later_release(fp8_model: Path, tmp_path: Path) -> None:
    options = config_file(tmp_path, {"kv_cache_config": {"tokens_per_block": 32}})
    result = validate(fp8_model, ["--extra_llm_api_options", str(options)], "1.0.0")
    assert result.returncode == 1 and "KvCacheConfig.tokens_per_block is in TensorRT-LLM 1.1.0rc0" in result.stderr
    assert validate(fp8_model, ["--extra_llm_api_options", str(options)], "1.3.0").returncode == 0


@pytest.mark.parametrize(("quantization", "quantization_config", "refusal"), [
    ({"quant_algo": "W8A8_SQ_PER_CHANNEL", "kv_cache_quant_algo": None}, None, "quant_algo W8A8_SQ_PER_CHANNEL"),
    ({"quant_algo": "FP8", "kv_cache_quant_algo": "INT8"}, None, "kv_cache_quant_algo INT8"),
    ({"quant_algo": "W4A16_SUPERB"}, None, "unsupported quant mode"),
    (None, {"quant_method": "gptq", "bits": 4, "group_size": 128}, "quant_method 'gptq' does not load"),
])
def test_serve_refuses_a_checkpoint_the_pytorch_backend_cannot_load(
        tmp_path: Path, quantization: Mapping[str, object] | None, quantization_config: Mapping[str, object] | None,
        refusal: str) -> None:
    model = model_folder(tmp_path / "m", quantization, quantization_config)
    result = validate(model, [], "1.2.0")
    assert result.returncode == 1 and refusal in result.stderr, result.stderr


def test_serve_refuses_a_checkpoint_the_named_gpu_cannot_run(fp8_model: Path) -> None:
    assert validate(fp8_model, [], "1.2.0", TRTDEPLOY_STANDIN_GPU_SM="90").returncode == 0
    ampere = validate(fp8_model, [], "1.2.0", TRTDEPLOY_STANDIN_GPU_SM="80")
    assert ampere.returncode == 1 and "quant_algo FP8: not supported on SM 80" in ampere.stderr


def test_serve_refuses_a_model_that_is_not_a_local_folder(tmp_path: Path) -> None:
    result = validate(tmp_path / "meta-llama/Llama-3.1-8B", [], "1.2.0")
    assert result.returncode == 1 and "no config.json there" in result.stderr


@pytest.mark.parametrize(("version", "limits"), [
    # Through 1.2.0rc3 the CLI's build_config overwrites the YAML's top-level limits.
    ("1.1.0", {"max_batch_size": 16, "max_num_tokens": 8192, "free_gpu_memory_fraction": 0.9}),
    # 1.2: the YAML wins over the flags, and its kv_cache_config replaces the CLI's (the fraction falls back to 0.9).
    ("1.2.0", {"max_batch_size": 8, "max_num_tokens": 1024, "free_gpu_memory_fraction": 0.9}),
    # main: flags typed on the command line win; kv_cache_config is merged.
    ("1.3.0", {"max_batch_size": 16, "max_num_tokens": 1024, "free_gpu_memory_fraction": 0.6}),
])
def test_serve_applies_the_release_s_precedence_of_flags_and_yaml(fp8_model: Path, tmp_path: Path, version: str,
                                                                  limits: dict[str, object]) -> None:
    options = config_file(tmp_path, {"max_batch_size": 8, "max_num_tokens": 1024, "kv_cache_config": {"dtype": "fp8"}})
    result = validate(fp8_model, ["--max_batch_size", "16", "--kv_cache_free_gpu_memory_fraction", "0.6",
                                  "--extra_llm_api_options", str(options)], version)
    assert result.returncode == 0, result.stderr
    assert {k: effective(result)[k] for k in limits} == limits


def test_limits_under_build_config_hold_in_the_trap_releases(fp8_model: Path, tmp_path: Path) -> None:
    options = config_file(tmp_path, {"build_config": {"max_batch_size": 8, "max_num_tokens": 1024}})
    result = validate(fp8_model, ["--max_batch_size", "16", "--extra_llm_api_options", str(options)], "1.1.0")
    assert (effective(result)["max_batch_size"], effective(result)["max_num_tokens"]) == (8, 1024)


def test_serve_answers_health_and_one_completion_on_loopback_then_exits(fp8_model: Path, tmp_path: Path) -> None:
    options = config_file(tmp_path, {"max_batch_size": 8})
    with serving(fp8_model, options) as url:
        with urllib.request.urlopen(f"{url}/health") as health:
            assert health.status == 200 and health.read() == b""
        with urllib.request.urlopen(f"{url}/v1/models") as models:
            assert [card["id"] for card in json.loads(models.read())["data"]] == ["fp8"]  # the folder's name
        # The request's model is not checked against the registered one; the answer names the registered one.
        status, body = complete(url, {"model": "anything", "prompt": "the model data", "max_tokens": 2})
    assert status == 200
    assert body["choices"][0]["text"] == " model the" and body["model"] == "fp8"


@pytest.mark.parametrize(("payload", "refusal"), [
    ({"prompt": "hi"}, "model\n  Field required"),
    ({"model": "fp8", "prompt": "hi", "max_tokenz": 2}, "max_tokenz\n  Extra inputs are not permitted"),
    ({"model": "fp8", "prompt": "hi", "max_tokens": "many"}, "max_tokens\n  Input should be a valid integer"),
])
def test_serve_refuses_a_completion_request_as_its_pydantic_model_does(fp8_model: Path, tmp_path: Path,
                                                                       payload: dict[str, object],
                                                                       refusal: str) -> None:
    options = config_file(tmp_path, {"max_batch_size": 8})
    with serving(fp8_model, options, TRTDEPLOY_STANDIN_SERVE_EXIT="terminated") as url:
        status, body = complete(url, payload)
    assert status == 400 and refusal in body["error"]


@contextlib.contextmanager
def serving(model: Path, options: Path, **knobs: str) -> Iterator[str]:
    """The stand-in serving `model` on a free loopback port; stopped with SIGTERM if it is still there."""
    env = {k: v for k, v in os.environ.items() if k not in KNOBS} | {"TRTDEPLOY_STANDIN_VERSION": "1.2.0"} | knobs
    with subprocess.Popen([sys.executable, str(SERVE), str(model), "--host", "0.0.0.0", "--port", "0",
                           "--config", str(options)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as server:
        url = _listening_url(server)
        assert url.startswith("http://127.0.0.1:")
        try:
            yield url
        finally:
            if server.poll() is None and "TRTDEPLOY_STANDIN_SERVE_EXIT" in knobs:
                server.send_signal(signal.SIGTERM)
            assert server.wait() == 0


def complete(url: str, payload: Mapping[str, object]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{url}/v1/completions", method="POST", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def _listening_url(server: subprocess.Popen[str]) -> str:
    assert server.stdout is not None
    for line in server.stdout:
        if "listening on " in line:
            return line.split("listening on ", 1)[1].strip()
    raise AssertionError(f"the stand-in exited before listening: {server.stderr.read() if server.stderr else ''}")


# hf_ptq.py: argv per ModelOpt release ---------------------------------------------------------------

@pytest.mark.parametrize(("modelopt", "args", "refusal"), [
    ("0.37.0", ["--pyt_ckpt_path", "/m", "--qformat", "int8_wo"], "--qformat 'int8_wo' is not one of"),
    ("0.47.0", ["--model", "/m", "--qformat", "w4a8_awq"], "--qformat 'w4a8_awq' is not one of"),
    ("0.37.0", ["--pyt_ckpt_path", "/m", "--calib_seq", "64"], "unknown flag --calib_seq"),
    ("0.33.0", ["--qformat", "fp8"], "--pyt_ckpt_path is required"),
])
def test_hf_ptq_refuses_what_that_modelopt_release_refuses(modelopt: str, args: list[str], refusal: str) -> None:
    result = run_standin(HF_PTQ, args, TRTDEPLOY_STANDIN_MODELOPT_VERSION=modelopt)
    assert result.returncode == 2 and refusal in result.stderr


def test_hf_ptq_acts_as_the_modelopt_the_trtllm_release_ships(tmp_path: Path) -> None:
    # TensorRT-LLM 1.2 ships ModelOpt 0.37 (no int8_wo); the argv passes the check and then the run finds no model.
    result = run_standin(HF_PTQ, ["--pyt_ckpt_path", str(tmp_path), "--qformat", "int8_wo"],
                         TRTDEPLOY_STANDIN_VERSION="1.2.0")
    assert result.returncode == 2 and "hf_ptq.py 0.37.0: --qformat 'int8_wo'" in result.stderr
    checked = run_standin(HF_PTQ, ["--pyt_ckpt_path", str(tmp_path), "--qformat", "fp8"],
                          TRTDEPLOY_STANDIN_VERSION="1.2.0")
    assert checked.returncode == 1 and "no config.json there" in checked.stderr


def test_the_fail_and_log_knobs(fp8_model: Path, tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    failed = run_standin(SERVE, [str(fp8_model)], TRTDEPLOY_STANDIN_FAIL="trtllm-serve",
                         TRTDEPLOY_STANDIN_LOG=str(log), TRTDEPLOY_STANDIN_VERSION="1.2.0")
    assert failed.returncode == 1 and "failing as asked" in failed.stderr
    record = json.loads(log.read_text())
    assert isinstance(record.pop("pid"), int)
    assert record == {"tool": "trtllm-serve", "argv": [str(fp8_model)], "version": "1.2.0"}


@pytest.fixture(autouse=True)
def _no_inherited_knobs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in KNOBS:
        monkeypatch.delenv(name, raising=False)
    yield
