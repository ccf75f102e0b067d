"""decide: the route, calibration and release defaults decided once; S100; rules never raising."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.findings import Severity
from compiler.decide.core import decide
from compiler.decide.model import Decided, RouteKind
from compiler.load import load_spec
from compiler.pipeline import check_spec
from compiler.resolve import Resolved, resolve
from compiler.rules.hardware import supported_formats
from compiler.versions import parse_version


def _resolved(write_spec: Callable[..., Path], text: str) -> Resolved:
    resolution = resolve(load_spec(write_spec(text)))
    assert resolution.resolved is not None, resolution.findings
    return resolution.resolved


def _decided(write_spec: Callable[..., Path], text: str) -> Decided:
    return decide(_resolved(write_spec, text))


def test_missing_file_is_s100(tmp_path: Path) -> None:
    [finding] = check_spec(tmp_path / "missing.yaml").findings
    assert (finding.code, finding.severity) == ("S100", Severity.ERROR)


@pytest.mark.parametrize(
    ("quantization", "kind", "calibrator", "kv_quantizer", "full_model_on"),
    [
        ("{format: none}", RouteKind.CONVERT, None, None, "host"),
        ("{format: int8_wo}", RouteKind.CONVERT, None, None, "host"),
        ("{format: int4_wo, kv_cache: int8}", RouteKind.CONVERT, "convert_checkpoint.py", "convert_checkpoint.py",
         "gpu"),
        ("{format: int8_sq}", RouteKind.CONVERT, "convert_checkpoint.py", None, "gpu"),
        ("{format: int4_awq}", RouteKind.QUANTIZE, "quantize.py", None, "gpu"),
        ("{format: fp8}", RouteKind.QUANTIZE, "quantize.py", None, "gpu"),
        ("{format: none, kv_cache: fp8}", RouteKind.QUANTIZE, "quantize.py", "quantize.py", "gpu"),
        ("{format: int4_gptq}", RouteKind.GPTQ, "gptqmodel", None, "host"),
        ("{format: int4_gptq, checkpoint: ./gptq}", RouteKind.CHECKPOINT, None, None, "host"),
        ("{format: int4_awq, checkpoint: ./awq}", RouteKind.CHECKPOINT, None, None, "host"),
        ("{format: int4_awq, checkpoint: ./awq, kv_cache: fp8}", RouteKind.CHECKPOINT, None, None, "host"),
        ("{format: fp8, checkpoint: ./ignored}", RouteKind.QUANTIZE, "quantize.py", None, "gpu"),
    ],
)
def test_the_route_is_decided_once(write_spec: Callable[..., Path], quantization: str, kind: RouteKind,
                                   calibrator: str | None, kv_quantizer: str | None, full_model_on: str) -> None:
    d = _decided(write_spec, f"model: {{name: llama-2-7b}}\nquantization: {quantization}\n"
                             "target: {gpu: H100, backend: tensorrt}\n")
    assert (d.route.kind, d.route.calibrator, d.route.kv_quantizer, d.route.full_model_on) == \
        (kind, calibrator, kv_quantizer, full_model_on)
    assert (d.calibration is not None) is (calibrator is not None)


@pytest.mark.parametrize(("release", "paged", "multi_block"),
                         [("0.8.0", False, False), ("0.12.0", False, False), ("0.16.0", False, True),
                          ("1.2.0", True, True)])
def test_release_defaults_are_decided(write_spec: Callable[..., Path], release: str, paged: bool,
                                      multi_block: bool) -> None:
    d = _decided(write_spec, f"model: {{name: llama-2-7b}}\n"
                             f"target: {{gpu: H100, tensorrt_llm: '{release}', backend: tensorrt}}\n")
    assert (d.on("plugins.use_paged_context_fmha"), d.on("plugins.multi_block_mode")) == (paged, multi_block)


def test_first_written_prefers_written_keys(write_spec: Callable[..., Path]) -> None:
    r = _resolved(write_spec, "model: {name: llama-2-7b}\nlimits: {max_input_len: 100}\ntarget: {gpu: H100}\n")
    assert r.first_written("limits.max_num_tokens", "limits.max_input_len") == "limits.max_input_len"
    assert r.first_written("build.gpus", "build.gpu") == "build.gpus"


def test_supported_formats_follow_the_matrix() -> None:
    assert "fp8" not in supported_formats(80, parse_version("1.2.0"))
    assert "fp8" in supported_formats(89, parse_version("0.8.0"))
    assert "nvfp4" not in supported_formats(100, parse_version("0.16.0"))
    assert "nvfp4" in supported_formats(100, parse_version("0.17.0"))
    # The 1.x builder refuses INT8/INT4 weights and SmoothQuant on SM>=100 (builder.py).
    assert {"int8_sq", "int4_awq", "int8_wo"}.isdisjoint(supported_formats(100, parse_version("1.2.0")))


SPECS = st.fixed_dictionaries(
    {
        "model": st.fixed_dictionaries({"name": st.sampled_from(
            ["tinyllama-1.1b", "llama-2-7b", "llama-2-70b", "llama-3.1-8b", "falcon-7b", "mixtral-8x7b",
             "codefuse-codellama-34b", "qwen2-7b"]),
            "dtype": st.sampled_from(["float16", "bfloat16"])}),
        "quantization": st.fixed_dictionaries(
            {"format": st.sampled_from(["none", "int8_wo", "int4_wo", "int4_awq", "int4_gptq", "int8_sq", "fp8",
                                        "w4a8_awq", "nvfp4", "auto"]),
             "kv_cache": st.sampled_from(["auto", "float16", "bfloat16", "int8", "fp8"]),
             "group_size": st.sampled_from([32, 64, 128]),
             "act_order": st.booleans()},
            optional={"checkpoint": st.just("./ckpt"),
                      "calibration": st.fixed_dictionaries({"samples": st.sampled_from([16, 32, 512])})}),
        "parallelism": st.fixed_dictionaries({"tp": st.sampled_from([1, 2, 3, 4, 6, 8, 16]),
                                              "pp": st.sampled_from([1, 2, 3, 4])}),
        "limits": st.fixed_dictionaries(
            {"max_batch_size": st.sampled_from([1, 4, 64]), "max_input_len": st.sampled_from([128, 2048, 40000]),
             "max_output_len": st.sampled_from([64, 1024])},
            optional={"max_num_tokens": st.sampled_from([512, 8192, 20000]),
                      "max_beam_width": st.sampled_from([1, 4])}),
        "plugins": st.fixed_dictionaries(
            {},
            optional={name: st.sampled_from(["auto", "enable", "disable"]) for name in
                      ("multi_block_mode", "use_paged_context_fmha", "use_fp8_context_fmha", "use_custom_all_reduce")}
            | {name: st.sampled_from(["enable", "disable"]) for name in
               ("paged_kv_cache", "remove_input_padding", "context_fmha")}
            | {"gpt_attention": st.sampled_from(["auto", "disable"])}),
        "target": st.fixed_dictionaries(
            {"gpu": st.sampled_from(["T4", "V100-32GB", "A10", "A100-SXM-80GB", "RTX-4090", "L40S", "H100-SXM",
                                     "B200"]),
             "gpus_per_node": st.sampled_from([1, 2, 8]), "nodes": st.sampled_from([1, 2, 3]),
             "tensorrt_llm": st.sampled_from(["0.8.0", "0.12.0", "0.16.0", "1.2.0"])}),
        "build": st.fixed_dictionaries({}, optional={"gpu": st.sampled_from(["A10", "H100-SXM"]),
                                                     "gpus": st.sampled_from([1, 2]),
                                                     "host_memory_gib": st.sampled_from([8, 512])}),
        "launch": st.fixed_dictionaries(
            {"launcher": st.sampled_from(["mpirun", "slurm"]), "entrypoint": st.sampled_from(["run", "serve"])},
            optional={"hosts": st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3)}),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=SPECS)
def test_rules_never_raise_and_always_explain(spec: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "random.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    report = check_spec(path)
    assert report.resolved is not None, [f.message for f in report.findings]
    for finding in report.findings:
        assert finding.message and finding.hint and finding.location is not None, finding
