"""Memory estimates: engine weights, KV cache and activations per GPU, and build-time needs.

Pure arithmetic over model facts. Weights follow how TensorRT-LLM lays a
checkpoint out: linear layers quantized per the format (group-wise scales and
zeros included), the embedding replicated on every tensor-parallel rank of the
first pipeline stage, lm_head split over tp (vocab padded to a multiple of tp)
and kept in the model dtype, norms in the model dtype. Checked against seed 002
(LLaMA-7B engines: 13 GB fp16, 6.6 GB int8/fp8, 3.6-3.7 GB int4) and seed 000
(CodeFuse-CodeLlama-34B: 68 GB in fp16; int4 fits one 24 GB A10).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from compiler.modelconfig import ModelFacts
from compiler.spec import KvCacheDtype, QuantFormat

GIB = 1 << 30
# Part of a GPU's memory the driver, ECC and CUDA context keep for themselves.
RESERVED_FRACTION = 0.06
# cuBLAS/TensorRT workspaces and runtime buffers that exist whatever the model.
RUNTIME_OVERHEAD_BYTES = 768 << 20

# Bits per linear-layer weight, by format.
WEIGHT_BITS: dict[QuantFormat, float] = {
    QuantFormat.NONE: 16,
    QuantFormat.INT8_WO: 8,
    QuantFormat.INT8_SQ: 8,
    QuantFormat.FP8: 8,
    QuantFormat.INT4_WO: 4,
    QuantFormat.INT4_AWQ: 4,
    QuantFormat.INT4_GPTQ: 4,
    QuantFormat.W4A8_AWQ: 4,
    QuantFormat.NVFP4: 4,
}
GROUPWISE = frozenset({QuantFormat.INT4_AWQ, QuantFormat.INT4_GPTQ, QuantFormat.W4A8_AWQ})
KV_BYTES: dict[KvCacheDtype, int] = {
    KvCacheDtype.FLOAT16: 2,
    KvCacheDtype.BFLOAT16: 2,
    KvCacheDtype.INT8: 1,
    KvCacheDtype.FP8: 1,
}


@dataclass(frozen=True)
class Linear:
    """One linear layer as one tensor-parallel rank holds it."""

    in_features: int
    out_features: int
    count: int = 1


def kv_heads_per_rank(model: ModelFacts, tp: int) -> int:
    """KV heads each rank keeps; when kv heads < tp they are duplicated (dup_kv_weight)."""
    return max(1, math.ceil(model.num_key_value_heads / tp))


def layer_linears(model: ModelFacts, tp: int) -> list[Linear]:
    """The linear layers of one decoder layer on one tensor-parallel rank."""
    q_out = model.num_attention_heads * model.head_dim // tp
    kv_out = kv_heads_per_rank(model, tp) * model.head_dim
    inter = model.intermediate_size // tp
    experts = max(1, model.num_experts)
    mlp_in = 2 if model.gated_mlp else 1
    return [
        Linear(model.hidden_size, q_out + 2 * kv_out),
        Linear(model.num_attention_heads * model.head_dim // tp, model.hidden_size),
        Linear(model.hidden_size, inter * mlp_in, experts),
        Linear(inter, model.hidden_size, experts),
    ]


def linear_bytes(layer: Linear, fmt: QuantFormat, group_size: int, dtype_bytes: int) -> float:
    """Bytes of one quantized linear layer, scales and zeros included."""
    weights = layer.in_features * layer.out_features * WEIGHT_BITS[fmt] / 8
    if fmt in GROUPWISE:
        groups = math.ceil(layer.in_features / group_size) * layer.out_features
        per_group = 2 * dtype_bytes if fmt is QuantFormat.INT4_GPTQ else dtype_bytes
        weights += groups * per_group + (layer.in_features * dtype_bytes if fmt is not QuantFormat.INT4_GPTQ else 0)
    elif fmt is QuantFormat.NVFP4:
        weights += layer.in_features * layer.out_features / 16
    elif fmt is not QuantFormat.NONE:
        weights += layer.out_features * 4
    return weights * layer.count


def padded_vocab(model: ModelFacts, tp: int) -> int:
    return math.ceil(model.vocab_size / tp) * tp


def weights_per_gpu(model: ModelFacts, fmt: QuantFormat, group_size: int, dtype_bytes: int, tp: int, pp: int) -> int:
    """Engine weight bytes on the fullest rank (first or last pipeline stage)."""
    layers = math.ceil(model.num_hidden_layers / pp)
    per_layer = sum(linear_bytes(x, fmt, group_size, dtype_bytes) for x in layer_linears(model, tp))
    per_layer += 2 * model.hidden_size * dtype_bytes
    if model.num_experts:
        per_layer += model.hidden_size * model.num_experts * dtype_bytes
    embedding = model.vocab_size * model.hidden_size * dtype_bytes
    lm_head = padded_vocab(model, tp) // tp * model.hidden_size * dtype_bytes
    ends = embedding + lm_head if pp == 1 else max(embedding, lm_head)
    return int(layers * per_layer + ends + model.hidden_size * dtype_bytes)


def kv_cache_per_gpu(model: ModelFacts, kv: KvCacheDtype, tp: int, pp: int, sequences: int, tokens: int) -> int:
    """KV cache for `sequences` sequences of `tokens` tokens each, on one rank."""
    layers = math.ceil(model.num_hidden_layers / pp)
    per_token = 2 * layers * kv_heads_per_rank(model, tp) * model.head_dim * KV_BYTES[kv]
    return sequences * tokens * per_token


def activations_per_gpu(model: ModelFacts, dtype_bytes: int, tp: int, num_tokens: int, sequences: int) -> int:
    """Transient buffers of one layer for `num_tokens` packed tokens, logits, and the runtime's own workspace."""
    qkv = (model.num_attention_heads + 2 * kv_heads_per_rank(model, tp) * tp) * model.head_dim // tp
    mlp = model.intermediate_size // tp * (2 if model.gated_mlp else 1)
    per_token = (3 * model.hidden_size + qkv + mlp) * dtype_bytes
    logits = sequences * padded_vocab(model, tp) // tp * 4
    return num_tokens * per_token + logits + RUNTIME_OVERHEAD_BYTES


@dataclass(frozen=True)
class MemoryEstimate:
    """Serving memory on the fullest GPU, and the whole engine's weights."""

    gpu_memory_bytes: int
    weights_bytes: int
    kv_cache_bytes: int
    activation_bytes: int
    total_weights_bytes: int
    # Where the KV cache takes a share of what is left (the PyTorch backend): how many max-length sequences it
    # holds. None where it is sized for max_batch_size sequences up front (an engine).
    kv_sequences: int | None = None

    @property
    def total_bytes(self) -> int:
        return self.weights_bytes + self.kv_cache_bytes + self.activation_bytes

    @property
    def usable_bytes(self) -> int:
        return int(self.gpu_memory_bytes * (1 - RESERVED_FRACTION))

    @property
    def fits(self) -> bool:
        return self.total_bytes <= self.usable_bytes

    def to_json(self) -> dict[str, object]:
        return {
            "gpu_memory_bytes": self.gpu_memory_bytes,
            "usable_bytes": self.usable_bytes,
            "per_gpu": {
                "weights_bytes": self.weights_bytes,
                "kv_cache_bytes": self.kv_cache_bytes,
                "activation_bytes": self.activation_bytes,
                "total_bytes": self.total_bytes,
            },
            "total_weights_bytes": self.total_weights_bytes,
            "fits": self.fits,
            "kv_sequences": self.kv_sequences,
        }


@dataclass(frozen=True)
class ServingShape:
    """Everything the serving estimate depends on, so alternatives (another tp, format) are easy to try."""

    model: ModelFacts
    fmt: QuantFormat
    kv: KvCacheDtype
    dtype_bytes: int
    group_size: int
    tp: int
    pp: int
    max_batch_size: int
    max_beam_width: int
    max_seq_len: int
    max_num_tokens: int


def estimate_serving(shape: ServingShape, gpu_memory_bytes: int) -> MemoryEstimate:
    sequences = shape.max_batch_size * shape.max_beam_width
    weights = weights_per_gpu(shape.model, shape.fmt, shape.group_size, shape.dtype_bytes, shape.tp, shape.pp)
    kv = kv_cache_per_gpu(shape.model, shape.kv, shape.tp, shape.pp, sequences, shape.max_seq_len)
    acts = activations_per_gpu(shape.model, shape.dtype_bytes, shape.tp, shape.max_num_tokens, sequences)
    # Every tp rank of a whole (pp 1) engine holds the same bytes: one product, not a loop over up to 2**20 ranks.
    total_weights = weights_per_gpu(shape.model, shape.fmt, shape.group_size, shape.dtype_bytes, shape.tp, 1) * shape.tp
    return MemoryEstimate(gpu_memory_bytes, weights, kv, acts, total_weights)


def estimate_shared_kv(shape: ServingShape, gpu_memory_bytes: int, kv_fraction: float, reserve_bytes: int) -> MemoryEstimate:
    """The PyTorch backend's memory: weights, activations and `reserve_bytes` (CUDA graphs) first; the KV cache
    then takes `kv_fraction` of what is left, and holds that many max-length sequences."""
    sequences = shape.max_batch_size * shape.max_beam_width
    weights = weights_per_gpu(shape.model, shape.fmt, shape.group_size, shape.dtype_bytes, shape.tp, shape.pp)
    acts = activations_per_gpu(shape.model, shape.dtype_bytes, shape.tp, shape.max_num_tokens, sequences) + reserve_bytes
    usable = int(gpu_memory_bytes * (1 - RESERVED_FRACTION))
    kv = max(0, int((usable - weights - acts) * kv_fraction))
    one = kv_cache_per_gpu(shape.model, shape.kv, shape.tp, shape.pp, 1, shape.max_seq_len)
    total_weights = weights_per_gpu(shape.model, shape.fmt, shape.group_size, shape.dtype_bytes, shape.tp, 1) * shape.tp
    return MemoryEstimate(gpu_memory_bytes, weights, kv, acts, total_weights, kv // one if one else 0)


def full_precision_bytes(model: ModelFacts, dtype_bytes: int) -> int:
    """The unquantized model in memory: what calibration loads."""
    return model.parameters * dtype_bytes


def gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB"
