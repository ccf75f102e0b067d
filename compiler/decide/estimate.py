"""The serving-memory estimate of a decided spec, shared by the memory rules and the plan.

Pure arithmetic (compiler/memory.py) over the decided format, KV-cache dtype, limits
and topology; `serving_estimate(d, tp=4)` tries an alternative for a hint.
"""

from __future__ import annotations

from compiler.decide.model import Backend, Decided
from compiler.memory import MemoryEstimate, ServingShape, estimate_serving, estimate_shared_kv
from compiler.spec import KvCacheDtype, ModelDtype, QuantFormat

DTYPE_BYTES = {ModelDtype.FLOAT16: 2, ModelDtype.BFLOAT16: 2}
# What captured CUDA graphs and their pools keep, an estimate: decoding graphs of up to 128 sequences hold
# small activation buffers per batch size, and PyTorch's caching allocator keeps a pool per graph.
CUDA_GRAPH_RESERVE = 512 << 20


def serving_shape(d: Decided, *, fmt: QuantFormat | None = None, kv: KvCacheDtype | None = None,
                  tp: int | None = None, pp: int | None = None) -> ServingShape:
    """The serving shape of a spec, optionally with another format, KV dtype, tp or pp (for hints)."""
    limits, r = d.limits, d.r
    return ServingShape(
        model=r.model,
        fmt=fmt or d.format.value,
        kv=kv or d.kv_cache.value,
        dtype_bytes=DTYPE_BYTES[r.spec.model.dtype],
        group_size=r.spec.quantization.group_size,
        tp=tp or d.topology.tp,
        pp=pp or d.topology.pp,
        max_batch_size=limits.max_batch_size,
        max_beam_width=limits.max_beam_width,
        max_seq_len=limits.max_seq_len,
        max_num_tokens=limits.max_num_tokens.value,
    )


def serving_estimate(d: Decided, *, fmt: QuantFormat | None = None, kv: KvCacheDtype | None = None,
                     tp: int | None = None, pp: int | None = None) -> MemoryEstimate:
    """Memory per GPU of the spec as decided (or with an alternative, see serving_shape).

    An engine sizes its KV cache for max_batch_size full sequences; the PyTorch backend gives
    the KV cache a share (runtime.kv_cache_free_gpu_memory_fraction) of what weights,
    activations and CUDA graphs leave.
    """
    shape = serving_shape(d, fmt=fmt, kv=kv, tp=tp, pp=pp)
    if d.backend.value is Backend.PYTORCH:
        fraction = float(d.value("runtime.kv_cache_free_gpu_memory_fraction"))  # type: ignore[arg-type]
        reserve = CUDA_GRAPH_RESERVE if d.r.spec.runtime.cuda_graphs.enabled else 0
        return estimate_shared_kv(shape, d.r.gpu.memory_bytes, fraction, reserve)
    return estimate_serving(shape, d.r.gpu.memory_bytes)
