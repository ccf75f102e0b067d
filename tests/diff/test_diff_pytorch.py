"""`trtdeploy diff` on the PyTorch backend: what re-runs when a spec served by trtllm-serve changes.

Nothing is built on the PyTorch backend, so no change says rebuild: the format and the
calibration re-run ModelOpt's HF export (requantize); tp, pp, the limits, the plugins'
KV-cache block size and every runtime.* setting only change the launch (relaunch), since
the HF export is one checkpoint the server shards when it loads. The same holds where the
head side does not plan (a spec with errors): the fallback is the PyTorch backend's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from diffkit import by_path, commit_specs, diff, edit, snapshot

SERVED = """\
name: chat-fp8
model:
  name: llama-2-7b
  path: /models/llama-2-7b-hf
quantization:
  format: fp8
  kv_cache: fp8
  calibration:
    dataset: cnn_dailymail
    samples: 512
parallelism:
  tp: 1
  pp: 1
limits:
  max_batch_size: 16
  max_input_len: 2048
  max_output_len: 512
target:
  gpu: H100-SXM
  tensorrt_llm: "1.2.0"
  backend: pytorch
launch:
  entrypoint: serve
"""
SPEC = "specs/chat.yaml"


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    commit_specs(tmp_path, {"chat.yaml": SERVED})
    monkeypatch.chdir(tmp_path)
    return tmp_path


def changed(repo: Path, old: str, new: str) -> dict[str, Any]:
    edit(repo / SPEC, old, new)
    code, payload = diff("specs")
    assert code == 0, payload
    spec = by_path(payload)[SPEC]
    assert "rebuild" not in {spec["impact"], *(s.get("impact") for s in spec["steps"])}
    return spec


def reruns(spec: dict[str, Any]) -> dict[str, list[str]]:
    return {s["step"]: s["aspects"] for s in spec["steps"]}


@pytest.mark.parametrize(("old", "new"), [
    ("format: fp8", "format: int4_awq"),
    ("samples: 512", "samples: 256"),
    ("kv_cache: fp8", "kv_cache: auto"),
])
def test_format_and_calibration_requantize(repo: Path, old: str, new: str) -> None:
    spec = changed(repo, old, new)
    assert spec["impact"] == "requantize"
    assert reruns(spec)["quantize"] == ["quant_inputs"] and "upstream" in reruns(spec)["launch"]


@pytest.mark.parametrize(("old", "new", "aspect"), [
    ("tp: 1", "tp: 2", "launch"),
    ("pp: 1", "pp: 2", "launch"),
    ("max_batch_size: 16", "max_batch_size: 64", "launch"),
    ("max_input_len: 2048", "max_input_len: 1024", "launch"),
    ("launch:\n", "runtime:\n  enable_block_reuse: false\n  kv_cache_free_gpu_memory_fraction: 0.8\nlaunch:\n", "launch"),
    ("launch:\n", "runtime:\n  llm_api_options: {enable_iter_perf_stats: true}\nlaunch:\n", "launch"),
    ("launch:\n", "plugins:\n  tokens_per_block: 64\nlaunch:\n", "launch"),
])
def test_parallelism_limits_and_llm_api_settings_relaunch(repo: Path, old: str, new: str, aspect: str) -> None:
    spec = changed(repo, old, new)
    assert spec["impact"] == "relaunch" and reruns(spec) == {"launch": [aspect]}


def test_a_head_that_does_not_plan_falls_back_on_the_pytorch_backend_s_costs(repo: Path) -> None:
    # tp 3 does not divide LLaMA-2-7B's 32 heads (D102): no plan on the head side, so the section decides.
    edit(repo / SPEC, "tp: 1", "tp: 3")
    code, payload = diff("specs")
    spec = by_path(payload)[SPEC]
    assert code == 1 and "D102" in {f["code"] for f in spec["findings"]["added"]}
    assert spec["impact"] == "relaunch" and spec["steps"] == []


def test_the_tp_change_as_a_review_reads_it(repo: Path) -> None:
    changed(repo, "tp: 1", "tp: 2")
    snapshot("pytorch_tp")
