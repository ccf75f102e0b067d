"""Memory estimates against the seeds' measured figures.

Seed 002 lists LLaMA-7B engine sizes from `ls -lh` (GiB): 13G fp16, 6.6G int8_wo /
int8_sq / fp8, 3.6G int4_wo, 3.7G int4_awq / int4_gptq. Seed 000 says
CodeFuse-CodeLlama-34B takes 68 GB in fp16 ("至少需要 3 张 A10") and that its int4
GPTQ engine runs on one 24 GB A10 at batch 1 with 2048 tokens in and 1024 out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from compiler import catalog
from compiler.memory import GIB, full_precision_bytes, weights_per_gpu
from compiler.pipeline import check_spec
from compiler.spec import QuantFormat

TOLERANCE = 0.10
LLAMA_7B_ENGINE_GIB = {
    QuantFormat.NONE: 13.0,
    QuantFormat.INT8_WO: 6.6,
    QuantFormat.INT8_SQ: 6.6,
    QuantFormat.FP8: 6.6,
    QuantFormat.INT4_WO: 3.6,
    QuantFormat.INT4_AWQ: 3.7,
    QuantFormat.INT4_GPTQ: 3.7,
}
CODEFUSE = """\
model: {{name: codefuse-codellama-34b}}
quantization: {{format: {fmt}{extra}}}
parallelism: {{tp: {tp}}}
limits: {{max_batch_size: 1, max_input_len: 2048, max_output_len: 1024}}
target: {{gpu: A10, tensorrt_llm: "0.8.0"}}
"""


def _codefuse(write_spec: Callable[..., Path], fmt: str, tp: int = 1) -> set[str]:
    extra = ", checkpoint: ./codefuse-34b-4bits" if fmt == "int4_gptq" else ""
    extra += ", calibration: {}" if fmt not in ("none", "int8_wo", "int4_wo", "int4_gptq") else ""
    path = write_spec(CODEFUSE.format(fmt=fmt, extra=extra, tp=tp), f"codefuse-{fmt}-tp{tp}.yaml")
    return {f.code for f in check_spec(path).findings}


@pytest.mark.parametrize("fmt", list(LLAMA_7B_ENGINE_GIB), ids=lambda f: f.value)
def test_llama_7b_engine_size_matches_seed_002(fmt: QuantFormat) -> None:
    model = catalog.models()["llama-7b"].facts
    size = weights_per_gpu(model, fmt, 128, 2, 1, 1) / GIB
    assert size == pytest.approx(LLAMA_7B_ENGINE_GIB[fmt], rel=TOLERANCE)


def test_codefuse_34b_full_precision_is_68_gb() -> None:
    model = catalog.models()["codefuse-codellama-34b"].facts
    assert full_precision_bytes(model, 2) / 1e9 == pytest.approx(68, rel=TOLERANCE)


def test_codefuse_int4_gptq_fits_one_a10(write_spec: Callable[..., Path]) -> None:
    codes = _codefuse(write_spec, "int4_gptq")
    assert "M101" not in codes and "M105" not in codes


def test_codefuse_fp16_fails_one_a10_with_a_hint_that_fits(write_spec: Callable[..., Path]) -> None:
    path = write_spec(CODEFUSE.format(fmt="none", extra="", tp=1))
    [finding] = [f for f in check_spec(path).findings if f.code == "M101"]
    tps = re.findall(r"use tp: (\d+)", finding.hint)
    formats = re.findall(r"quantization\.format: (\w+)", finding.hint)
    assert tps or formats, finding.hint
    for tp in tps:
        assert "M101" not in _codefuse(write_spec, "none", int(tp))
    for fmt in formats:
        assert "M101" not in _codefuse(write_spec, fmt)


def test_codefuse_fp16_needs_more_than_two_a10s(write_spec: Callable[..., Path]) -> None:
    # Seed 000 says at least three; tp 3 does not split 64 heads, so four is the layout.
    assert "M101" in _codefuse(write_spec, "none", 2)
    assert "M101" not in _codefuse(write_spec, "none", 4)
