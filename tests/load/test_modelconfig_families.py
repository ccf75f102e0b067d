"""The Falcon, MPT and Baichuan config.json readers, on the configs those models publish.

Each config below is the model's config.json as published on the Hugging Face Hub (keys that
the readers ignore, such as auto_map and dropout rates, are kept where they were, so that the
readers are shown to skip them). The facts read from each must equal the catalog's row for the
same model (compiler/catalog/models.yaml), which was written from the model cards and papers,
independently of these readers; then a spec naming the model folder plans end to end.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compiler.catalog import find_model
from compiler.modelconfig import ModelFacts, UnsupportedModelConfig, facts_from_hf_config
from compiler.pipeline import check_spec

# tiiuae/falcon-7b, the revision with transformers' own Falcon classes.
FALCON_7B: dict[str, Any] = {
    "alibi": False, "apply_residual_connection_post_layernorm": False, "architectures": ["FalconForCausalLM"],
    "attention_dropout": 0.0, "bias": False, "bos_token_id": 11, "eos_token_id": 11, "hidden_dropout": 0.0,
    "hidden_size": 4544, "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "falcon",
    "multi_query": True, "new_decoder_architecture": False, "num_attention_heads": 71, "num_hidden_layers": 32,
    "parallel_attn": True, "torch_dtype": "bfloat16", "transformers_version": "4.27.4", "use_cache": True,
    "vocab_size": 65024,
}
# tiiuae/falcon-7b, the original trust_remote_code revision ("RefinedWebModel").
FALCON_7B_RW: dict[str, Any] = {
    "alibi": False, "apply_residual_connection_post_layernorm": False, "architectures": ["RWForCausalLM"],
    "attention_dropout": 0.0, "auto_map": {"AutoConfig": "configuration_RW.RWConfig",
                                           "AutoModelForCausalLM": "modelling_RW.RWForCausalLM"},
    "bias": False, "bos_token_id": 11, "eos_token_id": 11, "hidden_dropout": 0.0, "hidden_size": 4544,
    "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "RefinedWebModel", "multi_query": True,
    "n_head": 71, "n_layer": 32, "parallel_attn": True, "torch_dtype": "bfloat16", "transformers_version": "4.27.4",
    "use_cache": True, "vocab_size": 65024,
}
# tiiuae/falcon-40b, the original revision: grouped KV heads as n_head_kv, no new_decoder_architecture key.
FALCON_40B_RW: dict[str, Any] = {
    "alibi": False, "apply_residual_connection_post_layernorm": False, "architectures": ["RWForCausalLM"],
    "attention_dropout": 0.0, "bias": False, "bos_token_id": 11, "eos_token_id": 11, "hidden_dropout": 0.0,
    "hidden_size": 8192, "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "RefinedWeb",
    "n_head": 128, "n_head_kv": 8, "n_layer": 60, "parallel_attn": True, "torch_dtype": "bfloat16",
    "transformers_version": "4.27.4", "use_cache": True, "vocab_size": 65024,
}
# tiiuae/falcon-40b, the revision with transformers' own Falcon classes.
FALCON_40B: dict[str, Any] = {
    "alibi": False, "architectures": ["FalconForCausalLM"], "bias": False, "hidden_size": 8192,
    "model_type": "falcon", "new_decoder_architecture": True, "num_attention_heads": 128, "num_hidden_layers": 60,
    "num_kv_heads": 8, "parallel_attn": True, "torch_dtype": "bfloat16", "vocab_size": 65024,
}
# mosaicml/mpt-7b: ALiBi, no biases, a 4x MLP.
MPT_7B: dict[str, Any] = {
    "architectures": ["MPTForCausalLM"],
    "attn_config": {"alibi": True, "alibi_bias_max": 8, "attn_impl": "torch", "attn_pdrop": 0,
                    "attn_type": "multihead_attention", "attn_uses_sequence_id": False, "clip_qkv": None,
                    "prefix_lm": False, "qk_ln": False, "softmax_scale": None},
    "d_model": 4096, "emb_pdrop": 0, "embedding_fraction": 1.0, "expansion_ratio": 4, "init_device": "cpu",
    "learned_pos_emb": True, "logit_scale": None, "max_seq_len": 2048, "model_type": "mpt", "n_heads": 32,
    "n_layers": 32, "no_bias": True, "norm_type": "low_precision_layernorm", "resid_pdrop": 0,
    "tokenizer_name": "EleutherAI/gpt-neox-20b", "torch_dtype": "bfloat16", "use_cache": False, "verbose": 0,
    "vocab_size": 50432,
}
# mosaicml/mpt-30b: 8k context.
MPT_30B: dict[str, Any] = {
    **MPT_7B, "d_model": 7168, "n_heads": 64, "n_layers": 48, "max_seq_len": 8192,
}
# baichuan-inc/Baichuan2-7B-Base: RoPE, both max_position_embeddings and model_max_length.
BAICHUAN2_7B: dict[str, Any] = {
    "_from_model_config": True, "architectures": ["BaichuanForCausalLM"],
    "auto_map": {"AutoConfig": "configuration_baichuan.BaichuanConfig",
                 "AutoModelForCausalLM": "modeling_baichuan.BaichuanForCausalLM"},
    "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
    "intermediate_size": 11008, "max_position_embeddings": 4096, "model_max_length": 4096, "model_type": "baichuan",
    "num_attention_heads": 32, "num_hidden_layers": 32, "pad_token_id": 0, "rms_norm_eps": 1e-06,
    "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.29.2", "use_cache": True,
    "vocab_size": 125696, "z_loss_weight": 0,
}
# baichuan-inc/Baichuan2-13B-Base: ALiBi, model_max_length only.
BAICHUAN2_13B: dict[str, Any] = {
    "_from_model_config": True, "architectures": ["BaichuanForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
    "gradient_checkpointing": False, "hidden_act": "silu", "hidden_size": 5120, "initializer_range": 0.02,
    "intermediate_size": 13696, "model_max_length": 4096, "model_type": "baichuan", "num_attention_heads": 40,
    "num_hidden_layers": 40, "pad_token_id": 0, "rms_norm_eps": 1e-06, "tie_word_embeddings": False,
    "torch_dtype": "bfloat16", "transformers_version": "4.29.2", "use_cache": True, "vocab_size": 125696,
    "z_loss_weight": 0,
}

PUBLISHED = [
    ("falcon-7b", FALCON_7B), ("falcon-7b", FALCON_7B_RW), ("falcon-40b", FALCON_40B_RW), ("falcon-40b", FALCON_40B),
    ("mpt-7b", MPT_7B), ("mpt-30b", MPT_30B), ("baichuan2-7b", BAICHUAN2_7B), ("baichuan2-13b", BAICHUAN2_13B),
]
# What the readers and the catalog must agree on (architecture differs by revision: RW vs Falcon classes).
SHAPE = ("family", "num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim",
         "intermediate_size", "vocab_size", "max_position_embeddings", "tie_word_embeddings", "gated_mlp",
         "parameters", "torch_dtype")


def _shape(facts: ModelFacts) -> dict[str, object]:
    return {name: getattr(facts, name) for name in SHAPE}


@pytest.mark.parametrize(("model", "config"), PUBLISHED,
                         ids=[f"{m}-{c['architectures'][0]}" for m, c in PUBLISHED])
def test_a_published_config_reads_as_the_catalog_row(model: str, config: dict[str, Any]) -> None:
    row = find_model(model)
    assert row is not None
    assert _shape(facts_from_hf_config(config)) == _shape(row.facts)


def test_falcon_kv_heads_follow_the_decoder_generation() -> None:
    assert facts_from_hf_config(FALCON_7B).num_key_value_heads == 1  # multi-query
    assert facts_from_hf_config({**FALCON_7B, "multi_query": False}).num_key_value_heads == 71
    assert facts_from_hf_config(FALCON_40B_RW).num_key_value_heads == 8  # n_head_kv implies the new decoder
    with pytest.raises(UnsupportedModelConfig) as refused:
        facts_from_hf_config({**FALCON_40B, "num_kv_heads": 7})
    assert refused.value.key == "num_kv_heads"


def test_mpt_attention_variants_and_a_broken_expansion_ratio() -> None:
    multiquery = {**MPT_7B, "attn_config": {**MPT_7B["attn_config"], "attn_type": "multiquery_attention"}}
    assert facts_from_hf_config(multiquery).num_key_value_heads == 1
    grouped = {**MPT_7B, "attn_config": {**MPT_7B["attn_config"], "attn_type": "grouped_query_attention",
                                         "kv_n_heads": 8}}
    assert facts_from_hf_config(grouped).num_key_value_heads == 8
    assert facts_from_hf_config({**MPT_7B, "no_bias": False}).qkv_bias is True
    for ratio in (0, -1, "4", True, 4.1):
        with pytest.raises(UnsupportedModelConfig) as refused:
            facts_from_hf_config({**MPT_7B, "expansion_ratio": ratio})
        assert refused.value.key == "expansion_ratio", ratio


def test_baichuan_needs_a_length_key() -> None:
    without = {k: v for k, v in BAICHUAN2_13B.items() if k != "model_max_length"}
    with pytest.raises(UnsupportedModelConfig) as refused:
        facts_from_hf_config(without)
    assert "model_max_length" in str(refused.value)


@pytest.mark.parametrize(("model", "config"), [("falcon-7b", FALCON_7B_RW), ("mpt-7b", MPT_7B),
                                               ("baichuan2-7b", BAICHUAN2_7B)])
def test_a_model_folder_of_each_family_checks_and_plans(model: str, config: dict[str, Any], tmp_path: Path) -> None:
    folder = tmp_path / model
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"model: {{path: ./{model}}}\nquantization: {{format: int8_wo}}\n"
                    "target: {gpu: A100-SXM-80GB, tensorrt_llm: '1.2.0', backend: tensorrt}\n", encoding="utf-8")
    report = check_spec(spec, plan=True)
    assert not report.errors, [f"{f.code} {f.message}" for f in report.findings]
    assert report.plan is not None and report.resolved is not None
    assert report.resolved.model.family == config_family(config)
    convert = next(step for step in report.plan.steps if step.id == "convert")
    assert f"/{config_family(config)}/convert_checkpoint.py" in str(convert.argv[1])


def config_family(config: dict[str, Any]) -> str:
    return {"RWForCausalLM": "falcon", "MPTForCausalLM": "mpt", "BaichuanForCausalLM": "baichuan"}[
        config["architectures"][0]]
