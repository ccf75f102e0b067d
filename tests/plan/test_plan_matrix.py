"""Every format x KV dtype x release x GPU: what is planned uses exactly the flags of the release's tool surfaces.

Each combination that checks without an error finding is planned, and every
argv (each step's, and the launch's run.py) is checked against the exact
release's surface in compiler/catalog/tools/*.yaml. A second pass plans every combination
the planner itself accepts, findings or not, so that flag paths guarded by
validator errors (an int8 KV cache on 1.x, fp8 on an A100) are checked too.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from compiler.pipeline import check_spec
from compiler.plan.model import Plan
from compiler.plan.planner import make_plan
from compiler.spec import QuantFormat
from compiler.versions import parse_version
from plan.support import RELEASES, flag_value, plan_problems, text, write_spec

FORMATS = [f.value for f in QuantFormat]
KV = ("float16", "int8", "fp8")
GPUS = ("H100-SXM", "A100-SXM-80GB")
COMBOS = list(itertools.product(RELEASES, GPUS, FORMATS, KV))
QUANTIZE_FORMATS = {"int4_awq", "fp8", "w4a8_awq", "nvfp4"}
# Errors a combination may have: hardware and release support (H), the GPTQ + KV gap (P103),
# int8 KV with 1.x's paged context FMHA default (C105), a line without the format (P101).
ALLOWED_ERRORS = {"H102", "H103", "H104", "P101", "P103", "C105"}


def _spec(tmp: Path, release: str, gpu: str, fmt: str, kv: str) -> Path:
    return write_spec(tmp, {"quantization": {"format": fmt, "kv_cache": kv, "calibration": {}},
                            "target": {"gpu": gpu, "tensorrt_llm": release, "backend": "tensorrt"}})


def _build(plan: Plan) -> list[str]:
    return text(plan.step("build").argv)


# When a flag's form changed, stated here from the upstream files (independently of the package's tables).
MAX_SEQ_LEN_FROM = "0.11.0"        # trtllm-build --max_seq_len replaces --max_output_len (build.py @ 05316d33)
PLUGIN_AUTO_FROM = "0.11.0"        # plugin dtype 'auto' (plugin.py @ 05316d33)
KV_CACHE_TYPE_FROM = "0.13.0"      # --kv_cache_type paged|continuous; --paged_kv_cache deprecated
FP8_FMHA_DEFAULT_ON_FROM = "0.17.0"  # use_fp8_context_fmha defaults to True (plugin.py @ c20322ff)
CALIB_MAX_SEQ_FROM = "0.10.0"      # quantize.py --calib_max_seq_length (quantize.py @ 9bd15f19)
CALIB_DATASET_FROM = "0.10.0"      # quantize.py --calib_dataset (quantize.py @ 9bd15f19)


def _since(release: str, first: str) -> bool:
    return parse_version(release) >= parse_version(first)


def _check_route(plan: Plan, fmt: str, kv: str) -> None:
    tools = [s.tool for s in plan.steps]
    if fmt == "int4_gptq":
        assert tools == ["gptqmodel", "convert_checkpoint.py", "trtllm-build"]
    elif fmt in QUANTIZE_FORMATS or kv == "fp8":
        assert tools == ["quantize.py", "trtllm-build"]
    else:
        assert tools == ["convert_checkpoint.py", "trtllm-build"]
    if kv == "int8" and tools[0] == "convert_checkpoint.py":
        assert "--int8_kv_cache" in text(plan.steps[0].argv)


def _check_limits(plan: Plan, release: str) -> None:
    build = plan.step("build").argv
    for flag in ("--max_batch_size", "--max_input_len", "--max_beam_width", "--max_num_tokens"):
        assert flag_value(build, flag), flag
    if not _since(release, MAX_SEQ_LEN_FROM):
        assert flag_value(build, "--max_output_len") == "1024" and flag_value(build, "--max_seq_len") is None
    else:
        assert flag_value(build, "--max_seq_len") == "2048" and flag_value(build, "--max_output_len") is None


def _check_release_flags(plan: Plan, release: str, gpu: str, kv: str) -> None:
    build = plan.step("build").argv
    paged = ("--kv_cache_type", "paged") if _since(release, KV_CACHE_TYPE_FROM) else ("--paged_kv_cache", "enable")
    assert flag_value(build, paged[0]) == paged[1]
    assert flag_value(build, "--gpt_attention_plugin") == ("auto" if _since(release, PLUGIN_AUTO_FROM) else "float16")
    # Where FP8 context FMHA is on by default, an A100 (SM80) build says disable rather than lean on the builder.
    fp8_fmha = flag_value(build, "--use_fp8_context_fmha")
    assert fp8_fmha == ("disable" if _since(release, FP8_FMHA_DEFAULT_ON_FROM) and gpu.startswith("A100") else None)
    if _since(release, FP8_FMHA_DEFAULT_ON_FROM) and kv == "int8":  # paged context FMHA is on by default there
        assert flag_value(build, "--use_paged_context_fmha") == "disable"
    assert flag_value(build, "--use_custom_all_reduce") is None  # both GPUs have NVLink and P2P


def _check_calibration(plan: Plan, release: str, fmt: str) -> None:
    first = plan.steps[0]
    if first.tool != "quantize.py":
        return
    assert flag_value(first.argv, "--calib_size") == ("32" if "awq" in fmt else "512")
    assert (flag_value(first.argv, "--calib_dataset") is not None) == _since(release, CALIB_DATASET_FROM)
    assert (flag_value(first.argv, "--calib_max_seq_length") is not None) == _since(release, CALIB_MAX_SEQ_FROM)


def _check_all(plan: Plan, release: str, gpu: str, fmt: str, kv: str) -> None:
    assert plan_problems(plan) == []
    _check_route(plan, plan.resolved["format"], kv)  # type: ignore[arg-type]
    _check_limits(plan, release)
    _check_release_flags(plan, release, gpu, kv)
    _check_calibration(plan, release, str(plan.resolved["format"]))


@pytest.mark.parametrize(("release", "gpu"), list(itertools.product(RELEASES, GPUS)))
def test_every_combination_without_errors_plans_with_the_release_flags(tmp_path: Path, release: str, gpu: str) -> None:
    planned = 0
    for fmt, kv in itertools.product(FORMATS, KV):
        report = check_spec(_spec(tmp_path, release, gpu, fmt, kv))
        assert report.resolved is not None
        errors = {f.code for f in report.findings if f.severity.value == "error"}
        assert errors <= ALLOWED_ERRORS, (fmt, kv, [f"{f.code} {f.message}" for f in report.findings])
        if errors:
            assert fmt not in ("none", "int8_wo") or kv != "float16", (fmt, kv, errors)
            continue
        _check_all(make_plan(report.decided, report.findings), release, gpu, fmt, kv)
        planned += 1
    assert planned >= 6, f"only {planned} combinations planned on {release} / {gpu}"


@pytest.mark.parametrize(("release", "gpu"), list(itertools.product(RELEASES, GPUS)))
def test_every_combination_the_planner_accepts_uses_the_release_flags(tmp_path: Path, release: str, gpu: str) -> None:
    for fmt, kv in itertools.product(FORMATS, KV):
        decided = check_spec(_spec(tmp_path, release, gpu, fmt, kv)).decided
        assert decided is not None
        if decided.gaps:
            gaps = {g.key for g in decided.gaps}
            assert (fmt == "int4_gptq" and kv != "float16") or (fmt == "nvfp4" and release != "1.2.0"), gaps
            continue
        _check_all(make_plan(decided), release, gpu, fmt, kv)


@pytest.mark.parametrize(("release", "flag"), [("0.8.0", "--ammo_quant_ckpt_path"), ("0.9.0", "--ammo_quant_ckpt_path"),
                                               ("0.10.0", "--modelopt_quant_ckpt_path"), ("0.16.0", "--quant_ckpt_path"),
                                               ("1.2.0", "--quant_ckpt_path")])
def test_gptq_checkpoint_flag_follows_the_exact_release(tmp_path: Path, release: str, flag: str) -> None:
    report = check_spec(_spec(tmp_path, release, "A100-SXM-80GB", "int4_gptq", "float16"))
    assert report.resolved is not None
    convert = make_plan(report.decided).step("convert")
    gptq = make_plan(report.decided).step("gptq")
    assert flag_value(convert.argv, flag) == f"{gptq.output}/model.safetensors"
    assert [f for f in ("--ammo_quant_ckpt_path", "--modelopt_quant_ckpt_path", "--quant_ckpt_path")
            if flag_value(convert.argv, f) is not None] == [flag]
