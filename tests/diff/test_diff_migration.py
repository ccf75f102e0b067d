"""`trtdeploy diff` across a change of backend: the migration report of each spec.

A backend change is written (target.backend) or decided: `auto` picks the engine path before
1.0, the PyTorch backend from 1.0 unless the spec needs the engine path, and the PyTorch backend
only from 1.3.0, where the engine path is gone. The report says what is dropped, added, what maps
to what (the PyTorch backend's MANAGED_OPTIONS and ENGINE_ONLY tables), what the spec writes that
has no equivalent, and what the new backend cannot serve (H110, H111), in text, Markdown and JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.backends.pytorch import ENGINE_ONLY, MANAGED_OPTIONS
from compiler.pipeline import check_spec
from diffkit import by_path, commit_specs, diff, edit, git, snapshot

# An engine-path fp8 spec on 1.2.0, as the worked example of docs/backends.md.
ENGINE = """\
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
  tp: 2
limits:
  max_batch_size: 16
  max_input_len: 2048
  max_output_len: 512
plugins:
  use_paged_context_fmha: enable
  multi_block_mode: enable
target:
  gpu: H100-SXM
  tensorrt_llm: "1.2.0"
  backend: tensorrt
launch:
  entrypoint: serve
"""
SPEC = "specs/chat.yaml"


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    commit_specs(tmp_path, {"chat.yaml": ENGINE})
    monkeypatch.chdir(tmp_path)
    return tmp_path


def migrated(repo: Path, *edits: tuple[str, str]) -> dict[str, Any]:
    for old, new in edits:
        edit(repo / SPEC, old, new)
    _, payload = diff("specs")
    return by_path(payload)[SPEC]


def subjects(migration: dict[str, Any], part: str) -> dict[str, str]:
    return {item["subject"]: item["becomes"] for item in migration[part]}


TO_1_3 = ('  tensorrt_llm: "1.2.0"\n  backend: tensorrt\n', '  tensorrt_llm: "1.3.0"\n')


def test_the_engine_path_spec_on_1_3_migrates_to_the_pytorch_backend(repo: Path) -> None:
    spec = migrated(repo, TO_1_3)
    migration = spec["migration"]
    assert (migration["from"], migration["to"]) == ("tensorrt", "pytorch")
    assert "engine path is removed there" in migration["why"]
    assert spec["impact"] == "requantize" and {"step": "build", "tool": "trtllm-build", "aspects": ["removed"]} \
        in spec["steps"]
    assert subjects(migration, "dropped")["step build"] == ""
    assert {"plugins.gemm", "plugins.paged_kv_cache", "plugins.remove_input_padding"} <= \
        set(subjects(migration, "dropped"))
    assert subjects(migration, "added") == {"launch/llm_api_options.yaml": ""}
    mapped = subjects(migration, "mapped")
    assert mapped["step quantize"] == "hf_ptq.py"
    assert mapped["plugins.use_paged_context_fmha"] == "runtime.enable_chunked_prefill = false"
    assert mapped["limits.max_num_tokens"] == "LLM-API max_num_tokens"
    assert mapped["quantization.kv_cache"] == "LLM-API kv_cache_config.dtype"
    assert mapped["parallelism.tp"] == "trtllm-serve --tp_size"
    # What the spec writes and the PyTorch backend has no setting for: said once, with why.
    assert subjects(migration, "no_equivalent") == {"plugins.multi_block_mode": ""}
    assert migration["cannot_serve"] == []
    snapshot("migration_engine_to_pytorch")


def test_auto_across_1_0_is_a_migration_too(repo: Path) -> None:
    spec = migrated(repo, ('  tensorrt_llm: "1.2.0"\n  backend: tensorrt\n', '  tensorrt_llm: "0.16.0"\n'))
    assert spec["migration"] is None  # 0.16.0 has the engine path only, as the base
    edit(repo / SPEC, '  tensorrt_llm: "0.16.0"\n', '  tensorrt_llm: "1.0.0"\n')
    spec = migrated(repo)
    assert (spec["migration"]["from"], spec["migration"]["to"]) == ("tensorrt", "pytorch")
    assert spec["migration"]["why"] == "the default backend of TensorRT-LLM 1.0.0"


def test_what_the_pytorch_backend_cannot_serve_is_named_with_its_hint(repo: Path) -> None:
    spec = migrated(repo, ("format: fp8\n  kv_cache: fp8", "format: int8_sq\n  kv_cache: auto"), TO_1_3)
    migration = spec["migration"]
    assert (migration["from"], migration["to"]) == ("tensorrt", "pytorch")
    [h110] = migration["cannot_serve"]
    assert h110["code"] == "H110" and "cannot load int8_sq (W8A8_SQ_PER_CHANNEL)" in h110["message"]
    assert h110["hint"] == "use fp8 on Ada/Hopper, or pin target.tensorrt_llm to 1.2 or older with target.backend: " \
                           "tensorrt"
    assert not any(item["subject"].startswith("step ") for part in ("dropped", "added", "mapped")
                   for item in migration[part])  # the head does not plan: no steps to compare
    snapshot("migration_cannot_serve", "text")


def test_back_to_the_engine_path_on_1_3_cannot_be_served(repo: Path) -> None:
    edit(repo / SPEC, '  tensorrt_llm: "1.2.0"\n  backend: tensorrt\n', '  tensorrt_llm: "1.2.0"\n  backend: pytorch\n'
         'runtime:\n  enable_block_reuse: false\n')
    git(repo, "commit", "-qam", "on the PyTorch backend")
    spec = migrated(repo, ('  tensorrt_llm: "1.2.0"\n  backend: pytorch\n', '  tensorrt_llm: "1.3.0"\n  backend: tensorrt\n'))
    migration = spec["migration"]
    assert (migration["from"], migration["to"]) == ("pytorch", "tensorrt")
    assert [f["code"] for f in migration["cannot_serve"]] == ["H111"]
    assert subjects(migration, "no_equivalent") == {"runtime.enable_block_reuse": ""}
    mapped = subjects(migration, "mapped")
    assert mapped["LLM-API max_batch_size"] == "limits.max_batch_size (trtllm-build)"
    assert mapped["runtime.enable_chunked_prefill"].startswith("plugins.use_paged_context_fmha")


def test_the_same_backend_has_no_migration(repo: Path) -> None:
    spec = migrated(repo, ("max_batch_size: 16", "max_batch_size: 32"))
    assert spec["migration"] is None and spec["impact"] == "rebuild"


ENGINE_SPECS = [
    {"target": {"gpu": "H100-SXM", "tensorrt_llm": release, "backend": "tensorrt"},
     "plugins": {toggle: "enable" for toggle in ("use_paged_context_fmha", "use_fp8_context_fmha", "multi_block_mode",
                                                 "use_fused_mlp", "use_custom_all_reduce")} | {"tokens_per_block": 64},
     "quantization": {"format": "fp8", "calibration": {}}, "model": {"name": "llama-2-7b"}, "name": "x"}
    for release in ("0.8.0", "0.12.0", "0.16.0", "1.2.0")
]


@pytest.mark.parametrize("spec", ENGINE_SPECS, ids=lambda s: s["target"]["tensorrt_llm"])
def test_every_engine_setting_has_a_row_in_the_pytorch_backend_s_tables(spec: dict[str, Any], tmp_path: Path) -> None:
    # So that a migration never falls back on "the PyTorch backend has no such setting".
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    decided = check_spec(path).decided
    assert decided is not None and decided.backend.value.value == "tensorrt"
    managed = {key for keys in MANAGED_OPTIONS.values() for key in keys}
    assert set(decided.settings) - set(ENGINE_ONLY) - managed == set()
