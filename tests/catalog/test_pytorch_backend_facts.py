"""The PyTorch backend's quantization and release facts (compiler/catalog/pytorch/{quantization,backend}.yaml)."""

from __future__ import annotations

from itertools import combinations

import pytest

from compiler.catalog import gpus
from compiler.catalog.llm_api import UntabulatedRelease
from compiler.catalog.pytorch_backend import (
    hf_export_layout,
    all_rows,
    architecture_of,
    checkpoint_support,
    engine_path,
    format_route,
    hf_ptq_export,
    hf_ptq_kv_export,
    kv_algo_support,
    kv_route,
    modelopt_shipped,
    quant_algo_support,
    spec_formats,
    spec_kv_dtypes,
)
from compiler.catalog.tools import surface
from compiler.spec import KvCacheDtype, QuantFormat
from compiler.versions import Version, parse_version

RELEASES = ("1.0.0", "1.1.0", "1.2.0", "1.3.0rc1", "1.3.0")


def v(text: str) -> Version:
    return parse_version(text)


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize(("spec_format", "loads"), [
    ("none", True), ("fp8", True), ("int4_awq", True), ("w4a8_awq", True), ("nvfp4", True), ("int8_wo", True),
    ("int4_wo", True), ("int8_sq", False), ("int4_gptq", False),
])
def test_what_the_pytorch_backend_loads_per_format(release: str, spec_format: str, loads: bool) -> None:
    assert format_route(spec_format, v(release), modelopt_shipped(v(release)).version).loads is loads


@pytest.mark.parametrize(("spec_kv", "loads", "dtype"), [
    ("auto", True, "auto"), ("float16", True, "auto"), ("bfloat16", True, "auto"), ("fp8", True, "fp8"),
    ("int8", False, None),
])
def test_kv_dtypes_on_the_pytorch_backend(spec_kv: str, loads: bool, dtype: str | None) -> None:
    route = kv_route(spec_kv, v("1.2.0"), v("0.37.0"))
    assert (route.loads, route.kv_cache_config_dtype) == (loads, dtype)


def test_the_tables_cover_every_spec_format_and_kv_dtype() -> None:
    assert set(spec_formats()) == {f.value for f in QuantFormat} - {"auto"}
    assert set(spec_kv_dtypes()) == {k.value for k in KvCacheDtype}


@pytest.mark.parametrize(("gpu", "quant_algo", "runs"), [
    ("A100-SXM-80GB", "W4A16_AWQ", True), ("B200", "W4A16_AWQ", False), ("H100-SXM", "W4A16_AWQ", True),
    ("A100-SXM-80GB", "FP8", False), ("L40S", "FP8", True), ("L40S", "FP8_PER_CHANNEL_PER_TOKEN", False),
    ("H100-SXM", "NVFP4", False), ("B200", "NVFP4", True), ("A10", "W4A8_AWQ", False), ("L4", "W4A8_AWQ", True),
    ("B200", "W4A16", False),
])
def test_gpu_support_of_quant_algos(gpu: str, quant_algo: str, runs: bool) -> None:
    support = quant_algo_support(quant_algo, v("1.2.0"))
    assert support is not None and support.on_sm(gpus()[gpu].sm) is runs


def test_fp8_kv_is_allowed_on_ampere_and_int8_kv_nowhere() -> None:
    fp8, int8 = kv_algo_support("FP8", v("1.1.0")), kv_algo_support("INT8", v("1.1.0"))
    assert fp8 is not None and fp8.on_sm(80) and fp8.on_sm(86)
    assert int8 is not None and not int8.loads and not int8.on_sm(90)


def test_nvfp4_affine_kv_written_by_modelopt_does_not_load() -> None:
    export = hf_ptq_kv_export("nvfp4_affine", v("0.37.0"))
    assert export is not None and export.quant_algo == "NVFP4_AFFINE"
    support = kv_algo_support(export.quant_algo, v("1.2.0"))
    assert support is not None and not support.loads


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize(("method", "loads"), [("modelopt", True), ("gptq", False), ("awq", False)])
def test_gptq_and_awq_checkpoints_are_refused_by_every_released_1x(release: str, method: str, loads: bool) -> None:
    support = checkpoint_support(method, v(release))
    assert support is not None and support.loads is loads


def test_a_quant_algo_nobody_tabulated_is_unknown_not_refused() -> None:
    assert quant_algo_support("W2A16_MAGIC", v("1.2.0")) is None


@pytest.mark.parametrize(("spec_format", "modelopt", "qformat"), [
    ("w4a8_awq", "0.37.0", "w4a8_awq"), ("w4a8_awq", "0.47.0", "w4a8_awq_beta"),
    ("int8_sq", "0.44.0", "int8_sq"), ("int8_sq", "0.45.0", "int8_smoothquant"),
    ("int8_wo", "0.37.0", None), ("int8_wo", "0.39.0", "int8_wo"), ("int8_wo", "0.47.0", "int8_weight_only"),
    ("int4_wo", "0.47.0", None), ("int4_gptq", "0.37.0", None), ("none", "0.33.0", None),
])
def test_hf_ptq_qformat_per_modelopt_release(spec_format: str, modelopt: str, qformat: str | None) -> None:
    assert format_route(spec_format, v("1.2.0"), v(modelopt)).qformat == qformat


# Every (format, ModelOpt release) with an hf_ptq.py qformat; int8_wo has none before 0.39 (tested above).
WRITABLE = [(f, m) for f in ("fp8", "int4_awq", "w4a8_awq", "nvfp4", "int8_wo", "int8_sq")
            for m in ("0.33.0", "0.35.0", "0.37.0", "0.39.0", "0.43.0", "0.45.0", "0.46.0", "0.47.0")
            if not (f == "int8_wo" and m in ("0.33.0", "0.35.0", "0.37.0"))]


@pytest.mark.parametrize(("spec_format", "modelopt"), WRITABLE)
def test_each_qformat_named_is_one_hf_ptq_accepts_and_exports_the_formats_algo(spec_format: str, modelopt: str) -> None:
    route = format_route(spec_format, v("1.2.0"), v(modelopt))
    qformat_fact = surface("hf_ptq.py", v(modelopt)).fact("--qformat")
    assert route.qformat is not None and qformat_fact is not None and route.qformat in qformat_fact.choices
    export = hf_ptq_export(route.qformat, v(modelopt))
    assert export is not None and export.quant_algo == route.quant_algo


@pytest.mark.parametrize("modelopt", ["0.33.0", "0.37.0", "0.43.0", "0.47.0"])
@pytest.mark.parametrize("spec_kv", ["auto", "fp8"])
def test_each_kv_qformat_named_is_one_hf_ptq_accepts(modelopt: str, spec_kv: str) -> None:
    route = kv_route(spec_kv, v("1.2.0"), v(modelopt))
    choices = surface("hf_ptq.py", v(modelopt)).fact("--kv_cache_qformat").choices  # type: ignore[union-attr]
    assert route.qformat in choices
    export = hf_ptq_kv_export(str(route.qformat), v(modelopt))
    assert export is not None and export.quant_algo == route.quant_algo


@pytest.mark.parametrize(("release", "state", "pinned"), [
    ("0.16.0", "present", True), ("1.2.0", "present", True), ("1.3.0rc1", "present", True),
    ("1.3.0rc10", "present", False), ("1.3.0rc18", "unknown", True), ("1.3.0", "removed", False),
    ("1.4.0rc4", "removed", False),
])
def test_the_engine_path_per_release(release: str, state: str, pinned: bool) -> None:
    path = engine_path(v(release))
    assert (path.state, path.pinned) == (state, pinned) and path.source


@pytest.mark.parametrize(("release", "modelopt", "pinned"), [
    ("1.0.0", "0.33.0", True), ("1.0.1", "0.33.0", True), ("1.1.0", "0.37.0", True), ("1.1.0rc3", "0.33.0", False),
    ("1.2.0", "0.37.0", False), ("1.3.0rc2", "0.37.0", False),
])
def test_the_modelopt_each_release_ships(release: str, modelopt: str, pinned: bool) -> None:
    shipped = modelopt_shipped(v(release))
    assert (str(shipped.version), shipped.pinned) == (modelopt, pinned)


@pytest.mark.parametrize(("modelopt", "read_at"), [("0.33.0", "7a27f2a5"), ("0.37.0", "df0882a6"), ("0.47.0", "df0882a6")])
def test_the_hf_export_is_one_checkpoint_for_every_tp_and_pp(modelopt: str, read_at: str) -> None:
    # What lets a tp/pp change relaunch on the PyTorch backend without re-quantizing.
    layout = hf_export_layout(parse_version(modelopt))
    assert layout.per_rank is False and read_at in layout.source and "export_hf_checkpoint" in layout.note


def test_architectures_of_compute_capabilities() -> None:
    assert [architecture_of(sm) for sm in (75, 80, 86, 89, 90, 100, 120)] == [
        None, "ampere", "ampere", "ada", "hopper", "blackwell-sm100", "blackwell-sm120"]


def test_releases_before_1_0_are_not_tabulated_for_the_pytorch_backend() -> None:
    with pytest.raises(UntabulatedRelease):
        quant_algo_support("FP8", v("0.18.0"))
    with pytest.raises(UntabulatedRelease):
        modelopt_shipped(v("0.21.0"))


def test_rows_of_one_entry_do_not_overlap_and_name_a_source() -> None:
    far = Version(9999, 0)
    for where, rows in all_rows():
        assert all(row.source for row in rows), where
        for a, b in combinations(rows, 2):
            assert not (a.range.since < (b.range.until or far) and b.range.since < (a.range.until or far)), where
