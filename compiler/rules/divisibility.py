"""D rules: does the model split evenly over tensor and pipeline parallelism?

Facts from TensorRT-LLM's converters (dup_kv_weight asserts tp % num_kv_heads == 0 in
examples/llama/convert_checkpoint.py @ 5955b8af and tensorrt_llm/models/convert_utils.py),
its issues on group-wise INT4 and tp (#1636, #2445, NVIDIA/Model-Optimizer#23; group sizes
64 and 128: #988) and seed 002,
which shows convert_checkpoint.py failing at tp 3 and run.py at pp 3.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from compiler.findings import Finding, Severity
from compiler.memory import GROUPWISE
from compiler.modelconfig import ModelFacts
from compiler.decide.model import Decided
from compiler.rules import draft, rule


def splits_evenly(model: ModelFacts, tp: int, group_size: int | None = None) -> bool:
    """True when every tp-split width of the model divides by tp (and by the group size per rank)."""
    kv = model.num_key_value_heads
    widths = [model.num_attention_heads, model.hidden_size, model.intermediate_size]
    if any(w % tp for w in widths) or (tp % kv if kv < tp else 0):
        return False
    if group_size:
        rank_widths = [model.num_attention_heads * model.head_dim // tp, model.intermediate_size // tp]
        return all(w % group_size == 0 for w in rank_widths)
    return True


def valid_tps(model: ModelFacts, group_size: int | None = None, limit: int = 64) -> list[int]:
    # A valid tp divides the head count, so only its divisors are tried: `limit` may be tp x pp (up to 2**40)
    # and a config.json may declare 10**7 heads, where a plain range would not finish.
    heads = model.num_attention_heads
    small = [d for d in range(1, math.isqrt(heads) + 1) if heads % d == 0]
    divisors = sorted({*small, *(heads // d for d in small)})
    return [tp for tp in divisors if tp <= limit and splits_evenly(model, tp, group_size)]


def _tp_hint(d: Decided, group_size: int | None = None) -> str:
    tps = valid_tps(d.r.model, group_size, max(8, d.topology.world_size))
    return f"use tp: {', '.join(map(str, tps))}" if tps else "no tp splits this model evenly"


def _divisors(n: int, limit: int = 64) -> str:
    return ", ".join(str(d) for d in range(1, min(n, limit) + 1) if n % d == 0)


@rule(
    "D101", "layers-not-divisible-by-pp", Severity.ERROR,
    "The number of layers does not divide by pp.",
    why="TensorRT-LLM 0.8 asserts `mNbLayers % pipelineParallelism == 0` when run.py loads the engine "
    "(seed 002); from 0.12 the extra layers are silently dropped (Mapping.pp_layers divides with //).",
    bad="model: {name: llama-2-7b}   # 32 layers\nparallelism: {pp: 3}\n",
    good="model: {name: llama-2-7b}\nparallelism: {pp: 4}\n",
    hint="use a pp that divides the layer count",
)
def layers_not_divisible_by_pp(d: Decided) -> Iterator[Finding]:
    r = d.r
    layers, pp = r.model.num_hidden_layers, r.spec.parallelism.pp
    if layers % pp:
        yield draft("parallelism.pp", f"num_hidden_layers ({layers}) is not divisible by pp ({pp})",
                    f"use pp: {_divisors(layers)}")


@rule(
    "D102", "heads-not-divisible-by-tp", Severity.ERROR,
    "The number of attention heads does not divide by tp.",
    why="tensorrt_llm/layers/attention.py asserts 'num_attention_heads must be divisible by tp_size'; "
    "convert_checkpoint.py fails earlier with a reshape error (seed 002, tp 3 on LLaMA-30B).",
    bad="model: {name: llama-30b}   # 52 heads\nparallelism: {tp: 3}\n",
    good="model: {name: llama-30b}\nparallelism: {tp: 4}\n",
    hint="use a tp that divides the head count",
)
def heads_not_divisible_by_tp(d: Decided) -> Iterator[Finding]:
    r = d.r
    heads, tp = r.model.num_attention_heads, r.spec.parallelism.tp
    if heads % tp:
        yield draft("parallelism.tp", f"num_attention_heads ({heads}) is not divisible by tp ({tp})", _tp_hint(d))


@rule(
    "D103", "kv-heads-incompatible-with-tp", Severity.ERROR,
    "Key-value heads neither divide by tp nor replicate evenly over it.",
    why="When kv heads < tp, convert duplicates them with dup_kv_weight, which asserts tp % kv_heads == 0. "
    "When kv heads >= tp and do not divide, each rank takes ceil(kv/tp) heads: legal but wasteful "
    "(a warning).",
    bad="model: {name: llama-2-70b}   # 8 kv heads\nparallelism: {tp: 6}\n",
    good="model: {name: llama-2-70b}\nparallelism: {tp: 8}\n",
    hint="use a tp that divides the kv heads, or a multiple of them",
)
def kv_heads_incompatible_with_tp(d: Decided) -> Iterator[Finding]:
    r = d.r
    kv, tp = r.model.num_key_value_heads, r.spec.parallelism.tp
    if kv < tp and tp % kv:
        yield draft("parallelism.tp", f"tp ({tp}) exceeds num_key_value_heads ({kv}) and is not a multiple of it; "
                    "KV heads cannot be replicated evenly", _tp_hint(d))
    elif kv >= tp and kv % tp:
        yield draft("parallelism.tp", f"num_key_value_heads ({kv}) is not divisible by tp ({tp}); ranks hold "
                    "uneven KV heads", _tp_hint(d), Severity.WARNING)


@rule(
    "D104", "hidden-not-divisible-by-tp", Severity.ERROR,
    "The hidden size does not divide by tp.",
    why="Row- and column-parallel linears split the hidden width by tp; TensorRT-LLM has no padding for dense weights.",
    bad="model: {path: ./my-model}   # hidden_size 5000\nparallelism: {tp: 3}\n",
    good="model: {path: ./my-model}\nparallelism: {tp: 2}\n",
    hint="use a tp that divides hidden_size",
)
def hidden_not_divisible_by_tp(d: Decided) -> Iterator[Finding]:
    r = d.r
    hidden, tp = r.model.hidden_size, r.spec.parallelism.tp
    if hidden % tp:
        yield draft("parallelism.tp", f"hidden_size ({hidden}) is not divisible by tp ({tp})", _tp_hint(d))


@rule(
    "D105", "intermediate-not-divisible-by-tp", Severity.ERROR,
    "The MLP's intermediate size does not divide by tp.",
    why="The MLP's first linear is split by columns and the second by rows over tp; uneven splits fail in convert.",
    bad="model: {name: llama-2-7b}   # intermediate 11008\nparallelism: {tp: 3}\n",
    good="model: {name: llama-2-7b}\nparallelism: {tp: 2}\n",
    hint="use a tp that divides intermediate_size",
)
def intermediate_not_divisible_by_tp(d: Decided) -> Iterator[Finding]:
    r = d.r
    inter, tp = r.model.intermediate_size, r.spec.parallelism.tp
    if inter % tp:
        yield draft("parallelism.tp", f"intermediate_size ({inter}) is not divisible by tp ({tp})", _tp_hint(d))


@rule(
    "D106", "group-size-splits-rank-width", Severity.ERROR,
    "A group-wise int4 format's group size does not divide a row-parallel layer's per-rank input width.",
    why="ModelOpt and TensorRT-LLM do not pad K to the group size: 'Weight shape is not divisible for block "
    "size for block quantization' (Model-Optimizer#23; TensorRT-LLM #1636, #2445). LLaMA-2-7B int4_awq at "
    "tp 4 fails with group 128 (11008/4 = 2752) and passes with 64.",
    bad="model: {name: llama-2-7b}\nquantization: {format: int4_awq, group_size: 128}\nparallelism: {tp: 4}\n",
    good="model: {name: llama-2-7b}\nquantization: {format: int4_awq, group_size: 64}\nparallelism: {tp: 4}\n",
    hint="use group_size 64, or a lower tp",
)
def group_size_splits_rank_width(d: Decided) -> Iterator[Finding]:
    r = d.r
    if d.format.value not in GROUPWISE:
        return
    tp, group = r.spec.parallelism.tp, r.spec.quantization.group_size
    widths = {
        "o_proj": r.model.num_attention_heads * r.model.head_dim,
        "down_proj": r.model.intermediate_size,
    }
    for layer, width in widths.items():
        if width % tp == 0 and (width // tp) % group:
            alternatives = [g for g in (64, 128) if g != group and (width // tp) % g == 0]
            fix = f"use group_size {alternatives[0]}" if alternatives else _tp_hint(d, group)
            yield draft("quantization.group_size", f"{layer} input width per rank ({width} / tp {tp} = {width // tp}) "
                        f"is not divisible by group_size {group}", fix)


@rule(
    "D107", "vocab-padded-for-tp", Severity.WARNING,
    "The vocabulary does not divide by tp, so lm_head is zero-padded.",
    why="pad_vocab_size rounds the vocabulary up to a multiple of tp; the logits get padding columns that "
    "a client reading raw logits must ignore.",
    bad="model: {name: mpt-7b}\nparallelism: {tp: 3}\n",
    good="model: {name: llama-2-7b}\nparallelism: {tp: 2}\n",
    hint="fine for generation; ignore with `ignore: [D107]` unless you read raw logits",
)
def vocab_padded_for_tp(d: Decided) -> Iterator[Finding]:
    r = d.r
    vocab, tp = r.model.vocab_size, r.spec.parallelism.tp
    if vocab % tp:
        padded = -(-vocab // tp) * tp
        yield draft("parallelism.tp", f"vocab_size ({vocab}) is not divisible by tp ({tp}); lm_head is padded "
                    f"to {padded}", "")


@rule(
    "D108", "head-size-unsupported", Severity.ERROR,
    "The attention head size is not a multiple of 8.",
    why="TensorRT-LLM's attention kernels take head sizes that are multiples of 8 (TensorRT-LLM #855).",
    bad="model: {path: ./odd-heads}   # head_dim 100\n",
    good="model: {name: llama-2-7b}   # head_dim 128\n",
    hint="this model cannot be built by TensorRT-LLM's attention plugin",
)
def head_size_unsupported(d: Decided) -> Iterator[Finding]:
    r = d.r
    if r.model.head_dim % 8:
        yield draft("model", f"head size {r.model.head_dim} is not a multiple of 8", "")
