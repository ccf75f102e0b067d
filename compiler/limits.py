"""Effective engine limits and the serving-memory estimate of a resolved spec.

Shared by the memory rules and the planner so both see the same numbers: the
planner always emits these limits explicitly (a release's defaults reject longer prompts:
NVIDIA/TensorRT-LLM#2702, triton-inference-server/tensorrtllm_backend#141).
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.memory import MemoryEstimate, ServingShape, estimate_serving
from compiler.resolve import Resolved
from compiler.spec import KvCacheDtype, ModelDtype, QuantFormat
from compiler.versions import ReleaseLine

# TensorRT-LLM's max_num_tokens default since 0.11 (BuildConfig), reference §1.1.
DEFAULT_MAX_NUM_TOKENS = 8192
TOKENS_PER_BLOCK = {ReleaseLine.V0_8: 128, ReleaseLine.V0_12: 64, ReleaseLine.V1: 32}
DTYPE_BYTES = {ModelDtype.FLOAT16: 2, ModelDtype.BFLOAT16: 2}


@dataclass(frozen=True)
class EffectiveLimits:
    """The limits the engine is built with; `max_num_tokens_reason` says where that one came from."""

    max_batch_size: int
    max_input_len: int
    max_output_len: int
    max_seq_len: int
    max_beam_width: int
    max_num_tokens: int
    max_num_tokens_reason: str
    tokens_per_block: int


def effective_limits(r: Resolved) -> EffectiveLimits:
    limits = r.spec.limits
    if limits.max_num_tokens is not None:
        tokens, why = limits.max_num_tokens, "set by the spec"
    else:
        tokens = min(limits.max_batch_size * limits.max_input_len, max(DEFAULT_MAX_NUM_TOKENS, limits.max_input_len))
        why = (f"min(max_batch_size x max_input_len, max({DEFAULT_MAX_NUM_TOKENS}, max_input_len)) = {tokens}, "
               "so the longest prompt fits one engine step")
    return EffectiveLimits(
        max_batch_size=limits.max_batch_size,
        max_input_len=limits.max_input_len,
        max_output_len=limits.max_output_len,
        max_seq_len=limits.max_input_len + limits.max_output_len,
        max_beam_width=limits.max_beam_width,
        max_num_tokens=tokens,
        max_num_tokens_reason=why,
        tokens_per_block=r.spec.plugins.tokens_per_block or TOKENS_PER_BLOCK[r.release.line],
    )


def serving_shape(r: Resolved, *, fmt: QuantFormat | None = None, kv: KvCacheDtype | None = None,
                  tp: int | None = None, pp: int | None = None) -> ServingShape:
    """The serving shape of a spec, optionally with another format, KV dtype, tp or pp (for hints)."""
    limits = effective_limits(r)
    return ServingShape(
        model=r.model,
        fmt=fmt or r.format,
        kv=kv or r.kv_cache,
        dtype_bytes=DTYPE_BYTES[r.spec.model.dtype],
        group_size=r.spec.quantization.group_size,
        tp=tp or r.spec.parallelism.tp,
        pp=pp or r.spec.parallelism.pp,
        max_batch_size=limits.max_batch_size,
        max_beam_width=limits.max_beam_width,
        max_seq_len=limits.max_seq_len,
        max_num_tokens=limits.max_num_tokens,
    )


def serving_estimate(r: Resolved, **override: object) -> MemoryEstimate:
    """Memory per GPU of the spec as written (or with an override, see serving_shape)."""
    return estimate_serving(serving_shape(r, **override), r.gpu.memory_bytes)  # type: ignore[arg-type]
