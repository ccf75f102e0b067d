"""Normalized model-architecture facts and the Hugging Face ``config.json`` reader.

This module owns three things:

* :class:`ModelFacts` -- the normalized, hashable description of a decoder-only
  checkpoint's shape (layers, widths, heads, vocabulary, context length, RoPE
  settings, MoE shape, parameter count).  The model catalog
  (``compiler/catalog/models.yaml``) stores exactly these figures per model.
* :func:`facts_from_hf_config` -- turns a Hugging Face ``config.json`` mapping
  (llama, mistral, mixtral, qwen2, falcon in both its ``RW*`` and native forms,
  MPT, baichuan) into :class:`ModelFacts`.  Anything it cannot read raises
  :class:`UnsupportedModelConfig`, whose ``.key`` names the offending config key;
  no ``KeyError``/``TypeError``/``ValueError`` escapes.
* :func:`facts_from_catalog_entry` -- builds :class:`ModelFacts` from one
  ``models.yaml`` row (already-normalized field names), with the same checks.
* :func:`count_parameters` -- the one parameter-count formula the catalog's
  ``parameters`` figures are computed with.

``rope_scaling`` is stored frozen so the dataclass stays hashable: a tuple of
``(key, value)`` pairs sorted by key, with nested mappings frozen the same way
and lists turned into tuples.  :func:`freeze_rope_scaling` builds that form from
a mapping and :func:`rope_scaling_as_dict` turns it back into a plain ``dict``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final

__all__ = [
    "ARCHITECTURE_FAMILIES",
    "FrozenRopeScaling",
    "ModelFacts",
    "UnsupportedModelConfig",
    "count_parameters",
    "facts_from_catalog_entry",
    "facts_from_hf_config",
    "freeze_rope_scaling",
    "rope_scaling_as_dict",
]

#: HF ``architectures[0]`` -> the TensorRT-LLM example family that converts it.
ARCHITECTURE_FAMILIES: Final[Mapping[str, str]] = {
    "LlamaForCausalLM": "llama",
    "LLaMAForCausalLM": "llama",  # early (pre-4.28) transformers conversions of LLaMA 1
    "MistralForCausalLM": "llama",
    "MixtralForCausalLM": "llama",
    "Qwen2ForCausalLM": "qwen",
    "FalconForCausalLM": "falcon",
    "RWForCausalLM": "falcon",  # original trust_remote_code Falcon ("RefinedWeb") configs
    "MPTForCausalLM": "mpt",
    "BaichuanForCausalLM": "baichuan",
    "BaiChuanForCausalLM": "baichuan",  # Baichuan-7B (v1) spelling
}

#: Fallback when a config has no ``architectures`` list: HF ``model_type`` -> architecture.
_MODEL_TYPE_ARCHITECTURES: Final[Mapping[str, str]] = {
    "llama": "LlamaForCausalLM",
    "mistral": "MistralForCausalLM",
    "mixtral": "MixtralForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "falcon": "FalconForCausalLM",
    "RefinedWeb": "RWForCausalLM",
    "RefinedWebModel": "RWForCausalLM",
    "mpt": "MPTForCausalLM",
    "baichuan": "BaichuanForCausalLM",
}

_MAX_COUNT: Final[int] = 10**7
"""Upper bound for layer/head/width/vocab/expert counts; anything above is not a real model."""

_MAX_POSITIONS: Final[int] = 10**9
"""Upper bound for context lengths (10M-token contexts exist, so counts' bound is too low)."""

_DEFAULT_ROPE_THETA: Final[float] = 10000.0

FrozenRopeScaling = tuple[tuple[str, object], ...]
"""Hashable form of a ``rope_scaling`` mapping: ``(key, value)`` pairs sorted by key."""


class UnsupportedModelConfig(ValueError):
    """A ``config.json`` this module cannot normalize.

    ``key`` names the offending config key (dotted for nested keys, e.g.
    ``attn_config.kv_n_heads``); ``str(exc)`` is one sentence naming it.
    """

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.message: str = message
        self.key: str = key


@dataclass(frozen=True)
class ModelFacts:
    """Normalized architecture facts of one decoder-only checkpoint.

    ``family`` is the TensorRT-LLM example folder that converts the checkpoint
    (llama, qwen, falcon, mpt, baichuan).  ``rope_scaling`` is ``None`` or a
    :data:`FrozenRopeScaling` tuple.  ``num_experts``/``experts_per_token`` are 0
    for dense models.  ``parameters`` is :func:`count_parameters` of the other
    fields.  ``qkv_bias`` records whether the q/k/v projections carry biases
    (true for Qwen2).
    """

    family: str
    architecture: str
    num_hidden_layers: int
    hidden_size: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    max_position_embeddings: int
    rope_scaling: FrozenRopeScaling | None
    rope_theta: float
    tie_word_embeddings: bool
    gated_mlp: bool
    num_experts: int
    experts_per_token: int
    parameters: int
    torch_dtype: str | None
    qkv_bias: bool


# --------------------------------------------------------------------------- rope_scaling


def _freeze(value: object) -> object:
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def freeze_rope_scaling(value: Mapping[str, object] | None) -> FrozenRopeScaling | None:
    """Return the hashable, key-sorted form of a ``rope_scaling`` mapping (``None`` stays ``None``)."""
    if value is None:
        return None
    return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))


def rope_scaling_as_dict(value: FrozenRopeScaling | None) -> dict[str, object] | None:
    """Turn a frozen ``rope_scaling`` back into a plain ``dict`` (nested tuples of values stay tuples)."""
    if value is None:
        return None
    return {k: v for k, v in value}


# --------------------------------------------------------------------------- parameter count


def _norms_per_layer(f: ModelFacts) -> int:
    # Falcon's original multi-query decoder (falcon-7b) has one shared input
    # LayerNorm per layer; its new decoder architecture (falcon-40b/180b, GQA)
    # has ln_attn and ln_mlp.  Every other family has two norms per layer.
    if f.family == "falcon" and f.num_key_value_heads == 1:
        return 1
    return 2


def count_parameters(f: ModelFacts) -> int:
    """Exact parameter count implied by the shapes in ``f``.

    Counts: token embeddings (vocab x hidden); lm_head (vocab x hidden unless
    tied); per layer the q (hidden x heads x head_dim), k and v (hidden x
    kv_heads x head_dim each) and o (heads x head_dim x hidden) projections,
    plus q/k/v biases when ``qkv_bias``; the MLP (3 x hidden x inter when gated,
    else 2 x hidden x inter), times ``num_experts`` plus a hidden x num_experts
    router for MoE; the norms (``hidden`` weights each, ``2*hidden`` for Falcon's
    LayerNorm which has a bias) per layer and the final norm.  Linear-layer
    biases other than q/k/v are not counted (none of the catalogued models has
    them).  ``f.parameters`` itself is ignored.
    """
    h = f.hidden_size
    q_width = f.num_attention_heads * f.head_dim
    kv_width = f.num_key_value_heads * f.head_dim

    attention = h * q_width + 2 * h * kv_width + q_width * h
    if f.qkv_bias:
        attention += q_width + 2 * kv_width

    mlp = (3 if f.gated_mlp else 2) * h * f.intermediate_size
    if f.num_experts > 0:
        mlp = mlp * f.num_experts + h * f.num_experts

    norm = 2 * h if f.family == "falcon" else h
    per_layer = attention + mlp + _norms_per_layer(f) * norm

    embeddings = f.vocab_size * h
    lm_head = 0 if f.tie_word_embeddings else f.vocab_size * h
    return embeddings + lm_head + f.num_hidden_layers * per_layer + norm


# --------------------------------------------------------------------------- config reading

_MISSING: Final[object] = object()


def _lookup(config: Mapping[str, object], key: str) -> object:
    """Value at a (possibly dotted) key, or ``_MISSING``."""
    node: object = config
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _as_count(value: object, key: str, *, limit: int = _MAX_COUNT, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UnsupportedModelConfig(
            f"Config key '{key}' must be an integer, but it is {_type_name(value)} {value!r}.", key
        )
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise UnsupportedModelConfig(f"Config key '{key}' must be a whole number, but it is {value!r}.", key)
        value = int(value)
    lowest = 0 if allow_zero else 1
    if value < lowest:
        raise UnsupportedModelConfig(
            f"Config key '{key}' must be at least {lowest}, but it is {value}.", key
        )
    if value > limit:
        raise UnsupportedModelConfig(
            f"Config key '{key}' is {value}, which is implausibly large (more than {limit}).", key
        )
    return value


def _req_count(config: Mapping[str, object], *keys: str, limit: int = _MAX_COUNT) -> int:
    """First present key among ``keys`` as a positive count; raise naming ``keys[0]`` if none is present."""
    for key in keys:
        value = _lookup(config, key)
        if value is not _MISSING and value is not None:
            return _as_count(value, key, limit=limit)
    names = "' or '".join(keys)
    raise UnsupportedModelConfig(f"Config key '{names}' is required but missing.", keys[0])


def _opt_count(
    config: Mapping[str, object], *keys: str, default: int, limit: int = _MAX_COUNT, allow_zero: bool = False
) -> int:
    for key in keys:
        value = _lookup(config, key)
        if value is not _MISSING and value is not None:
            return _as_count(value, key, limit=limit, allow_zero=allow_zero)
    return default


def _opt_bool(config: Mapping[str, object], key: str, default: bool) -> bool:
    value = _lookup(config, key)
    if value is _MISSING or value is None:
        return default
    if not isinstance(value, bool):
        raise UnsupportedModelConfig(
            f"Config key '{key}' must be true or false, but it is {_type_name(value)} {value!r}.", key
        )
    return value


def _opt_float(config: Mapping[str, object], key: str, default: float) -> float:
    value = _lookup(config, key)
    if value is _MISSING or value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise UnsupportedModelConfig(
            f"Config key '{key}' must be a positive number, but it is {_type_name(value)} {value!r}.", key
        )
    return float(value)


def _opt_str(config: Mapping[str, object], *keys: str) -> str | None:
    for key in keys:
        value = _lookup(config, key)
        if value is _MISSING or value is None:
            continue
        if not isinstance(value, str):
            raise UnsupportedModelConfig(
                f"Config key '{key}' must be a string, but it is {_type_name(value)} {value!r}.", key
            )
        return value
    return None


def _rope_scaling(config: Mapping[str, object]) -> FrozenRopeScaling | None:
    value = _lookup(config, "rope_scaling")
    if value is _MISSING or value is None:
        return None
    if not isinstance(value, Mapping):
        raise UnsupportedModelConfig(
            f"Config key 'rope_scaling' must be a mapping or null, but it is {_type_name(value)} {value!r}.",
            "rope_scaling",
        )
    return freeze_rope_scaling(value)


def _architecture(config: Mapping[str, object]) -> str:
    archs = _lookup(config, "architectures")
    if archs is _MISSING or archs is None:
        model_type = _lookup(config, "model_type")
        if isinstance(model_type, str) and model_type in _MODEL_TYPE_ARCHITECTURES:
            return _MODEL_TYPE_ARCHITECTURES[model_type]
        raise UnsupportedModelConfig(
            "Config key 'architectures' is required but missing (and 'model_type' names no supported model).",
            "architectures",
        )
    if not isinstance(archs, (list, tuple)) or not archs or not isinstance(archs[0], str):
        raise UnsupportedModelConfig(
            f"Config key 'architectures' must be a non-empty list of class names, but it is {archs!r}.",
            "architectures",
        )
    arch = archs[0]
    if arch not in ARCHITECTURE_FAMILIES:
        supported = ", ".join(sorted(ARCHITECTURE_FAMILIES))
        raise UnsupportedModelConfig(
            f"Config key 'architectures' names {arch!r}, which is not a supported architecture ({supported}).",
            "architectures",
        )
    return arch


def _head_dim(config: Mapping[str, object], hidden: int, heads: int, hidden_key: str, heads_key: str) -> int:
    explicit = _opt_count(config, "head_dim", default=0, allow_zero=True)
    if explicit:
        return explicit
    if hidden % heads:
        raise UnsupportedModelConfig(
            f"Config key '{heads_key}' ({heads}) does not divide '{hidden_key}' ({hidden}) and no 'head_dim' is given.",
            heads_key,
        )
    return hidden // heads


def _check_kv(heads: int, kv_heads: int, kv_key: str) -> None:
    if kv_heads > heads or heads % kv_heads:
        raise UnsupportedModelConfig(
            f"Config key '{kv_key}' ({kv_heads}) must divide the number of attention heads ({heads}).", kv_key
        )


def _finish(facts: ModelFacts) -> ModelFacts:
    return replace(facts, parameters=count_parameters(facts))


def _llama_like(config: Mapping[str, object], arch: str, family: str) -> ModelFacts:
    hidden = _req_count(config, "hidden_size")
    heads = _req_count(config, "num_attention_heads")
    kv_heads = _opt_count(config, "num_key_value_heads", default=heads)
    _check_kv(heads, kv_heads, "num_key_value_heads")
    num_experts = _opt_count(config, "num_local_experts", "num_experts", default=0, allow_zero=True)
    experts_per_token = 0
    if num_experts:
        experts_per_token = _req_count(config, "num_experts_per_tok")
        if experts_per_token > num_experts:
            raise UnsupportedModelConfig(
                f"Config key 'num_experts_per_tok' ({experts_per_token}) exceeds the number of experts ({num_experts}).",
                "num_experts_per_tok",
            )
    qkv_bias = True if family == "qwen" else _opt_bool(config, "attention_bias", False)
    return _finish(
        ModelFacts(
            family=family,
            architecture=arch,
            num_hidden_layers=_req_count(config, "num_hidden_layers"),
            hidden_size=hidden,
            num_attention_heads=heads,
            num_key_value_heads=kv_heads,
            head_dim=_head_dim(config, hidden, heads, "hidden_size", "num_attention_heads"),
            intermediate_size=_req_count(config, "intermediate_size"),
            vocab_size=_req_count(config, "vocab_size"),
            max_position_embeddings=_req_count(
                config, "max_position_embeddings", "max_sequence_length", limit=_MAX_POSITIONS
            ),
            rope_scaling=_rope_scaling(config),
            rope_theta=_opt_float(config, "rope_theta", _DEFAULT_ROPE_THETA),
            tie_word_embeddings=_opt_bool(config, "tie_word_embeddings", False),
            gated_mlp=True,
            num_experts=num_experts,
            experts_per_token=experts_per_token,
            parameters=0,
            torch_dtype=_opt_str(config, "torch_dtype", "dtype"),
            qkv_bias=qkv_bias,
        )
    )


def _falcon(config: Mapping[str, object], arch: str) -> ModelFacts:
    hidden_key = "hidden_size" if _lookup(config, "hidden_size") is not _MISSING else "n_embed"
    heads_key = "num_attention_heads" if _lookup(config, "num_attention_heads") is not _MISSING else "n_head"
    hidden = _req_count(config, "hidden_size", "n_embed")
    heads = _req_count(config, "num_attention_heads", "n_head")
    # Old RW configs of the 40B model ("model_type": "RefinedWeb") carry n_head_kv
    # but no new_decoder_architecture flag; transformers treats them as the new decoder.
    model_type = _lookup(config, "model_type")
    implied_new = model_type == "RefinedWeb" or _lookup(config, "n_head_kv") not in (_MISSING, None)
    new_arch = _opt_bool(config, "new_decoder_architecture", implied_new)
    if new_arch:
        kv_key = "num_kv_heads" if _lookup(config, "num_kv_heads") not in (_MISSING, None) else "n_head_kv"
        kv_heads = _opt_count(config, "num_kv_heads", "n_head_kv", default=heads)
    elif _opt_bool(config, "multi_query", True):  # FalconConfig's default is multi-query
        kv_key, kv_heads = "multi_query", 1
    else:
        kv_key, kv_heads = heads_key, heads
    _check_kv(heads, kv_heads, kv_key)
    return _finish(
        ModelFacts(
            family="falcon",
            architecture=arch,
            num_hidden_layers=_req_count(config, "num_hidden_layers", "n_layer"),
            hidden_size=hidden,
            num_attention_heads=heads,
            num_key_value_heads=kv_heads,
            head_dim=_head_dim(config, hidden, heads, hidden_key, heads_key),
            intermediate_size=_opt_count(config, "ffn_hidden_size", default=4 * hidden),
            vocab_size=_req_count(config, "vocab_size"),
            max_position_embeddings=_opt_count(
                config, "max_position_embeddings", default=2048, limit=_MAX_POSITIONS
            ),
            rope_scaling=_rope_scaling(config),
            rope_theta=_opt_float(config, "rope_theta", _DEFAULT_ROPE_THETA),
            tie_word_embeddings=_opt_bool(config, "tie_word_embeddings", True),
            gated_mlp=False,
            num_experts=0,
            experts_per_token=0,
            parameters=0,
            torch_dtype=_opt_str(config, "torch_dtype", "dtype"),
            qkv_bias=_opt_bool(config, "bias", False),
        )
    )


def _mpt(config: Mapping[str, object], arch: str) -> ModelFacts:
    d_model = _req_count(config, "d_model")
    heads = _req_count(config, "n_heads")
    ratio_value = _lookup(config, "expansion_ratio")
    if ratio_value is _MISSING or ratio_value is None:
        ratio: float = 4.0
    elif isinstance(ratio_value, bool) or not isinstance(ratio_value, (int, float)) or not ratio_value > 0:
        raise UnsupportedModelConfig(
            f"Config key 'expansion_ratio' must be a positive number, but it is {ratio_value!r}.", "expansion_ratio"
        )
    else:
        ratio = float(ratio_value)
    ffn_default = d_model * ratio
    if not ffn_default.is_integer():
        raise UnsupportedModelConfig(
            f"Config key 'expansion_ratio' ({ratio}) does not give a whole MLP width for d_model {d_model}.",
            "expansion_ratio",
        )
    attn_type = _opt_str(config, "attn_config.attn_type")
    if attn_type == "multiquery_attention":
        kv_key, kv_heads = "attn_config.attn_type", 1
    else:
        kv_key = "attn_config.kv_n_heads"
        kv_heads = _opt_count(config, "attn_config.kv_n_heads", default=heads)
    _check_kv(heads, kv_heads, kv_key)
    rope_theta = _DEFAULT_ROPE_THETA
    if _opt_bool(config, "attn_config.rope", False):
        rope_theta = _opt_float(config, "attn_config.rope_theta", _DEFAULT_ROPE_THETA)
    return _finish(
        ModelFacts(
            family="mpt",
            architecture=arch,
            num_hidden_layers=_req_count(config, "n_layers"),
            hidden_size=d_model,
            num_attention_heads=heads,
            num_key_value_heads=kv_heads,
            head_dim=_head_dim(config, d_model, heads, "d_model", "n_heads"),
            intermediate_size=_opt_count(config, "ffn_config.ffn_hidden_size", default=int(ffn_default)),
            vocab_size=_req_count(config, "vocab_size"),
            max_position_embeddings=_opt_count(config, "max_seq_len", default=2048, limit=_MAX_POSITIONS),
            rope_scaling=None,
            rope_theta=rope_theta,
            # MPT reuses the token embedding as its output projection unless told otherwise.
            tie_word_embeddings=_opt_bool(config, "tie_word_embeddings", True),
            gated_mlp=False,
            num_experts=0,
            experts_per_token=0,
            parameters=0,
            torch_dtype=_opt_str(config, "torch_dtype", "dtype"),
            qkv_bias=not _opt_bool(config, "no_bias", False),
        )
    )


def _baichuan(config: Mapping[str, object], arch: str) -> ModelFacts:
    hidden = _req_count(config, "hidden_size")
    heads = _req_count(config, "num_attention_heads")
    return _finish(
        ModelFacts(
            family="baichuan",
            architecture=arch,
            num_hidden_layers=_req_count(config, "num_hidden_layers"),
            hidden_size=hidden,
            num_attention_heads=heads,
            num_key_value_heads=heads,
            head_dim=_head_dim(config, hidden, heads, "hidden_size", "num_attention_heads"),
            intermediate_size=_req_count(config, "intermediate_size"),
            vocab_size=_req_count(config, "vocab_size"),
            # Baichuan2-13B (ALiBi) has only model_max_length; the 7B has both keys.
            max_position_embeddings=_req_count(
                config, "model_max_length", "max_position_embeddings", limit=_MAX_POSITIONS
            ),
            rope_scaling=None,
            rope_theta=_opt_float(config, "rope_theta", _DEFAULT_ROPE_THETA),
            tie_word_embeddings=_opt_bool(config, "tie_word_embeddings", False),
            gated_mlp=True,
            num_experts=0,
            experts_per_token=0,
            parameters=0,
            torch_dtype=_opt_str(config, "torch_dtype", "dtype"),
            qkv_bias=False,
        )
    )


def facts_from_hf_config(config: Mapping[str, object]) -> ModelFacts:
    """Normalize a Hugging Face ``config.json`` mapping into :class:`ModelFacts`.

    Raises :class:`UnsupportedModelConfig` (``.key`` = the offending key) when the
    architecture is not in :data:`ARCHITECTURE_FAMILIES`, a required key is
    missing, or a value has the wrong type or an impossible size.
    """
    if not isinstance(config, Mapping):
        raise UnsupportedModelConfig(
            f"The model config must be a JSON object, but it is {_type_name(config)}.", "<root>"
        )
    arch = _architecture(config)
    family = ARCHITECTURE_FAMILIES[arch]
    try:
        if family in ("llama", "qwen"):
            return _llama_like(config, arch, family)
        if family == "falcon":
            return _falcon(config, arch)
        if family == "mpt":
            return _mpt(config, arch)
        return _baichuan(config, arch)
    except UnsupportedModelConfig:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:  # defensive: never leak these
        raise UnsupportedModelConfig(
            f"The model config could not be read ({type(exc).__name__}: {exc}).", "<root>"
        ) from exc


_FAMILIES: Final[frozenset[str]] = frozenset(ARCHITECTURE_FAMILIES.values())


def facts_from_catalog_entry(entry: Mapping[str, object]) -> ModelFacts:
    """Build :class:`ModelFacts` from one ``models.yaml`` model row.

    The row uses the normalized field names (see the catalog schema); ``rope_theta``
    defaults to 10000.0 and ``qkv_bias`` follows the family (Qwen2 has q/k/v
    biases).  When ``param_source`` is ``computed`` the stored ``parameters`` must
    equal :func:`count_parameters`.  Problems raise :class:`UnsupportedModelConfig`
    naming the field.
    """
    if not isinstance(entry, Mapping):
        raise UnsupportedModelConfig(
            f"The catalog entry must be a mapping, but it is {_type_name(entry)}.", "<root>"
        )
    family = _opt_str(entry, "family")
    if family not in _FAMILIES:
        raise UnsupportedModelConfig(
            f"Catalog field 'family' must be one of {', '.join(sorted(_FAMILIES))}, but it is {family!r}.", "family"
        )
    arch = _opt_str(entry, "architecture")
    if arch is None or ARCHITECTURE_FAMILIES.get(arch) != family:
        raise UnsupportedModelConfig(
            f"Catalog field 'architecture' ({arch!r}) is not a supported architecture of family {family!r}.",
            "architecture",
        )
    heads = _req_count(entry, "num_attention_heads")
    kv_heads = _req_count(entry, "num_key_value_heads")
    _check_kv(heads, kv_heads, "num_key_value_heads")
    num_experts = _opt_count(entry, "num_experts", default=0, allow_zero=True)
    experts_per_token = _opt_count(entry, "experts_per_token", default=0, allow_zero=True)
    if (num_experts == 0) != (experts_per_token == 0) or experts_per_token > num_experts:
        raise UnsupportedModelConfig(
            f"Catalog field 'experts_per_token' ({experts_per_token}) does not fit 'num_experts' ({num_experts}).",
            "experts_per_token",
        )
    gated = _lookup(entry, "gated_mlp")
    if not isinstance(gated, bool):
        raise UnsupportedModelConfig(
            f"Catalog field 'gated_mlp' must be true or false, but it is {_type_name(gated)} {gated!r}.", "gated_mlp"
        )
    tie = _lookup(entry, "tie_word_embeddings")
    if not isinstance(tie, bool):
        raise UnsupportedModelConfig(
            f"Catalog field 'tie_word_embeddings' must be true or false, but it is {_type_name(tie)} {tie!r}.",
            "tie_word_embeddings",
        )
    facts = ModelFacts(
        family=family,
        architecture=arch,
        num_hidden_layers=_req_count(entry, "num_hidden_layers"),
        hidden_size=_req_count(entry, "hidden_size"),
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        head_dim=_req_count(entry, "head_dim"),
        intermediate_size=_req_count(entry, "intermediate_size"),
        vocab_size=_req_count(entry, "vocab_size"),
        max_position_embeddings=_req_count(entry, "max_position_embeddings", limit=_MAX_POSITIONS),
        rope_scaling=_rope_scaling(entry),
        rope_theta=_opt_float(entry, "rope_theta", _DEFAULT_ROPE_THETA),
        tie_word_embeddings=tie,
        gated_mlp=gated,
        num_experts=num_experts,
        experts_per_token=experts_per_token,
        parameters=_req_count(entry, "parameters", limit=10**14),
        torch_dtype=_opt_str(entry, "torch_dtype"),
        qkv_bias=family == "qwen",
    )
    if _opt_str(entry, "param_source") == "computed":
        expected = count_parameters(facts)
        if facts.parameters != expected:
            raise UnsupportedModelConfig(
                f"Catalog field 'parameters' ({facts.parameters}) differs from the count computed from the shapes ({expected}).",
                "parameters",
            )
    return facts
