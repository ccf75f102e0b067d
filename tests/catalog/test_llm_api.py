"""The LLM-API key tables (compiler/catalog/pytorch/llm_api.yaml) and the extra="forbid" check built on them."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from pathlib import Path

import pytest

from compiler.catalog import llm_api
from compiler.catalog.llm_api import (
    LlmApiFactsError,
    UntabulatedRelease,
    build_config_trap,
    check_llm_api_options,
    llm_api_keys,
    precedence,
    unpinned_keys,
)
from compiler.versions import Version, parse_version

RELEASES = ("1.0.0", "1.1.0", "1.2.0", "1.3.0rc1", "1.3.0")

# What the planner writes for a tiny deployment: limits, the KV cache, CUDA graphs, chunked prefill.
PLANNED = {
    "max_batch_size": 16, "max_num_tokens": 4096, "max_seq_len": 4096,
    "kv_cache_config": {"dtype": "fp8", "free_gpu_memory_fraction": 0.85, "enable_block_reuse": True},
    "cuda_graph_config": {"batch_sizes": [1, 2, 4, 8, 16], "enable_padding": True},
    "enable_chunked_prefill": True,
    "scheduler_config": {"capacity_scheduler_policy": "GUARANTEED_NO_EVICT"},
}


def v(text: str) -> Version:
    return parse_version(text)


def problems(version: str, mapping: dict[str, object]) -> list[str]:
    return check_llm_api_options(v(version), mapping)


@pytest.mark.parametrize("version", RELEASES)
def test_a_planned_config_is_accepted_by_every_release(version: str) -> None:
    assert problems(version, PLANNED) == []
    assert unpinned_keys(v(version), PLANNED) == []


@pytest.mark.parametrize(("mapping", "path"), [
    ({"max_batch_sizes": 4}, "max_batch_sizes"),
    ({"kv_cache_config": {"free_gpu_mem_fraction": 0.9}}, "kv_cache_config.free_gpu_mem_fraction"),
    ({"cuda_graph_config": {"batch_size": [1]}}, "cuda_graph_config.batch_size"),
    ({"scheduler_config": {"policy": "MAX_UTILIZATION"}}, "scheduler_config.policy"),
    ({"moe_config": {"backend": "CUTLASS", "experts": 8}}, "moe_config.experts"),
])
@pytest.mark.parametrize("version", RELEASES)
def test_an_unknown_key_is_refused_at_every_level(version: str, mapping: dict[str, object], path: str) -> None:
    [refused] = problems(version, mapping)
    assert refused.startswith(f"TensorRT-LLM {version} LLM-API key {path}: Extra inputs are not permitted")


def test_a_misspelt_key_is_refused_with_the_key_it_may_have_meant() -> None:
    assert problems("1.2.0", {"cuda_graph_config": {"batch_size": [1]}}) == [
        "TensorRT-LLM 1.2.0 LLM-API key cuda_graph_config.batch_size: Extra inputs are not permitted"
        " (did you mean batch_sizes?)"]


@pytest.mark.parametrize(("earlier", "later", "mapping", "where"), [
    ("1.0.0", "1.1.0", {"kv_cache_config": {"tokens_per_block": 32}},
     "KvCacheConfig.tokens_per_block is in TensorRT-LLM 1.1.0rc0 and newer"),
    ("1.2.0rc2", "1.2.0rc3", {"env_overrides": {"NCCL_DEBUG": "INFO"}},
     "TorchLlmArgs.env_overrides is in TensorRT-LLM 1.2.0rc3"),
    ("1.0.0", "1.1.0", {"sampler_type": "TorchSampler"}, "TorchLlmArgs.sampler_type is in TensorRT-LLM 1.1.0rc0"),
    ("1.2.0", "1.3.0rc1", {"generation_config": "auto"}, "TorchLlmArgs.generation_config is in TensorRT-LLM 1.3.0rc0"),
])
def test_a_key_added_later_is_refused_before_it_existed(earlier: str, later: str, mapping: dict[str, object],
                                                        where: str) -> None:
    refused = problems(earlier, mapping)
    assert len(refused) == 1 and "Extra inputs are not permitted" in refused[0] and where in refused[0]
    assert problems(later, mapping) == []


@pytest.mark.parametrize(("accepted", "refused", "mapping"), [
    ("1.2.0", "1.3.0", {"build_config": {"max_batch_size": 8}}),
    ("1.2.0", "1.3.0", {"kv_cache_config": {"onboard_blocks": False}}),
    ("1.1.0", "1.2.0", {"enable_trtllm_sampler": True}),
    ("1.0.0rc4", "1.1.0", {"kv_cache_dtype": "fp8"}),
])
def test_a_key_a_later_release_dropped_is_refused_there(accepted: str, refused: str,
                                                        mapping: dict[str, object]) -> None:
    assert problems(accepted, mapping) == []
    assert "Extra inputs are not permitted" in problems(refused, mapping)[0]


def test_the_pre_1_0_cuda_graph_spelling_is_refused() -> None:
    assert "Extra inputs are not permitted" in problems("1.0.0", {"cuda_graph_config": {"padding_enabled": True}})[0]


def test_engine_path_keys_are_refused_with_what_to_do_instead() -> None:
    [message] = problems("1.2.0", {"quant_config": {"quant_algo": "FP8"}})
    assert "quant_config: Extra inputs are not permitted" in message and "hf_quant_config.json" in message


@pytest.mark.parametrize(("version", "mapping", "expected"), [
    ("1.2.0", {"max_batch_size": "many"}, "max_batch_size: Input should be a valid integer"),
    ("1.2.0", {"enable_chunked_prefill": "sometimes"}, "enable_chunked_prefill: Input should be a valid boolean"),
    ("1.2.0", {"scheduler_config": {"capacity_scheduler_policy": "FIFO"}},
     "capacity_scheduler_policy: Input should be 'GUARANTEED_NO_EVICT', 'MAX_UTILIZATION' or 'STATIC_BATCH'"),
    ("1.3.0", {"kv_cache_config": {"free_gpu_memory_fraction": 1.5}}, "Input should be less than or equal to 1"),
    ("1.2.0", {"cuda_graph_config": {"max_batch_size": -1}}, "Input should be greater than or equal to 0"),
    ("1.2.0", {"cuda_graph_config": {"batch_sizes": [1, "two"]}}, "cuda_graph_config.batch_sizes.1: Input should be"),
    ("1.2.0", {"kv_cache_config": None}, "kv_cache_config: Input should be a valid dictionary"),
    ("1.0.0", {"moe_config": {"backend": "AUTO"}}, "moe_config.backend: Input should be"),
])
def test_bad_values_are_refused_as_pydantic_would(version: str, mapping: dict[str, object], expected: str) -> None:
    assert any(expected in p for p in problems(version, mapping)), problems(version, mapping)


def test_null_disables_cuda_graphs_and_yaml_strings_coerce_as_pydantic_lax_mode_does() -> None:
    assert problems("1.2.0", {"cuda_graph_config": None, "max_batch_size": "32", "print_iter_log": "true"}) == []


def test_an_open_model_checks_the_keys_it_lists_only() -> None:
    assert problems("1.1.0", {"build_config": {"max_batch_size": 8, "plugin_config": {"gemm_plugin": "auto"}}}) == []
    assert "build_config.max_batch_size: Input should be a valid integer" in \
        problems("1.1.0", {"build_config": {"max_batch_size": "x"}})[0]


@pytest.mark.parametrize(("version", "graphs", "expected"), [
    ("1.0.0", {"batch_sizes": [1, 2, 3, 4], "max_batch_size": 4}, None),
    ("1.0.0", {"batch_sizes": [1, 2, 4], "max_batch_size": 4}, "not the list generated from max_batch_size 4"),
    ("1.2.0", {"batch_sizes": [1, 2, 4], "max_batch_size": 4}, None),
    ("1.2.0", {"batch_sizes": [1, 2, 4], "max_batch_size": 8}, "must equal max(batch_sizes) 4"),
])
def test_cuda_graph_batch_sizes_and_max_batch_size_must_agree(version: str, graphs: dict[str, object],
                                                              expected: str | None) -> None:
    found = problems(version, {"cuda_graph_config": graphs})
    assert found == [] if expected is None else (len(found) == 1 and expected in found[0])


def test_unpinned_keys_are_listed_with_their_path() -> None:
    mapping = {"kv_cache_config": {"tokens_per_block": 32, "dtype": "fp8"}, "max_batch_size": 8,
               "env_overrides": {"A": "1"}}
    assert unpinned_keys(v("1.2.0"), mapping) == ["kv_cache_config.tokens_per_block", "env_overrides"]


def test_precedence_changes_after_1_2() -> None:
    old, new = precedence(v("1.2.0")), precedence(v("1.3.0"))
    assert (old.winner, old.kv_cache_config, old.pinned) == ("yaml", "replaced", True)
    assert (new.winner, new.kv_cache_config, new.pinned) == ("explicit_cli", "merged", False)


@pytest.mark.parametrize(("version", "trapped", "pinned"), [
    ("1.0.0", True, True), ("1.2.0rc3", True, True), ("1.2.0rc4", True, False), ("1.2.0rc5", False, True),
    ("1.3.0", False, True),
])
def test_the_build_config_trap_holds_through_1_2_0rc3(version: str, trapped: bool, pinned: bool) -> None:
    trap = build_config_trap(v(version))
    assert (trap.trapped, trap.pinned) == (trapped, pinned)
    if trapped:
        assert trap.knobs["max_batch_size"] == "--max_batch_size" and trap.knobs["max_input_len"] is None


def test_releases_before_1_0_are_not_tabulated() -> None:
    with pytest.raises(UntabulatedRelease):
        check_llm_api_options(v("0.21.0"), {})
    with pytest.raises(UntabulatedRelease):
        llm_api_keys(v("0.20.0"))


def test_nested_models_resolve_for_each_release() -> None:
    keys = llm_api_keys(v("1.2.0"))
    assert keys.nested["kv_cache_config"].has("dtype") and not keys.nested["kv_cache_config"].open
    assert keys.nested["build_config"].open
    assert "build_config" not in llm_api_keys(v("1.3.0")).nested


# Data integrity ---------------------------------------------------------------------------------

def _all_rows() -> Iterator[tuple[str, str, tuple[llm_api.FieldRow, ...]]]:
    for model, fields in llm_api._facts().models.items():
        for key, rows in fields.items():
            yield model, key, rows


def test_rows_of_one_key_do_not_overlap() -> None:
    far = Version(9999, 0)
    for model, key, rows in _all_rows():
        for a, b in combinations(rows, 2):
            assert not (a.range.since < (b.range.until or far) and b.range.since < (a.range.until or far)), (model, key)


@pytest.fixture
def api_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "llm_api.yaml"
    monkeypatch.setattr(llm_api, "LLM_API_FILE", path)
    llm_api._facts.cache_clear()
    llm_api.llm_api_keys.cache_clear()
    yield path
    llm_api._facts.cache_clear()
    llm_api.llm_api_keys.cache_clear()


@pytest.mark.parametrize(("body", "expected"), [
    ('models: {M: {fields: {a: [{since: "1.0.0", kind: model, model: Nope, source: s}]}}}',
     "model 'Nope' is not defined"),
    ('models: {M: {fields: {a: [{since: "1.0.0", kind: choice, source: s}]}}}', "kind 'choice'"),
    ('models: {M: {fields: {a: [{since: "1.0.0", kind: list, items: tuple, source: s}]}}}', "kind 'list'"),
    ('models: {M: {fields: {a: [{since: "1.0.0", kind: int, source: t}]}}}', "not listed under sources"),
    ('models: {M: {checks: [{since: "1.0.0", check: nope, source: s}], fields: {}}}', "check 'nope'"),
    ('models: {M: {fields: {a: [{since: 1.0, kind: int, source: s}]}}}', "must be a quoted string"),
])
def test_malformed_tables_are_refused(api_file: Path, body: str, expected: str) -> None:
    api_file.write_text('sources: {s: "note"}\n' + body + "\n")
    with pytest.raises(LlmApiFactsError, match=expected):
        llm_api._facts()
