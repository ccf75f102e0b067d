"""What the real tools refuse beyond their argv, from the package's release facts (compiler/catalog/releases.yaml).

Each check reads the row of the release the stand-in plays and refuses as the real tool
would, with the tool's own message and the row's source:
  quantize.py       --calib_dataset in none of the forms quantize_calibration_forms lists, when it calibrates
  convert_checkpoint.py --calib_dataset in none of the forms of convert_calibration_forms, when it calibrates
  trtllm-build      builder_sm100_refusals for the checkpoint's quantization on TRTDEPLOY_STANDIN_SM;
                    paged context FMHA with an int8 (or fp8) KV cache where the release's builder raises;
                    FP8 context FMHA (asked for, or turned on for FP8 paged context FMHA) on a GPU the
                    release's attention plugin refuses it on (builder_fp8_context_fmha)
A stand-in has no GPU: TRTDEPLOY_STANDIN_SM names the compute capability the build runs on (e.g. 100);
unset, no check that depends on the GPU runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from compiler.catalog.formats import formats
from compiler.catalog.releases import ranged
from compiler.catalog.tools import Surface
from compiler.versions import Version

SM_ENV = "TRTDEPLOY_STANDIN_SM"
Args = dict[str, list[str]]


def _one(args: Args, flag: str) -> str | None:
    values = args.get(flag)
    return values[0] if values else None


def dataset_accepted(forms: Mapping[str, Any], dataset: str) -> bool:
    """True when `dataset` is one of the forms a calibration_forms row lists.

    A plain data file is no form any release names: even a file whose name contains a known
    dataset name reaches datasets.load_dataset as a dataset name and fails there.
    """
    if os.path.isfile(dataset):
        return False
    if dataset in forms.get("exact", ()) or any(name in dataset for name in forms.get("contains", ())):
        return True
    if any(name in dataset.lower() for name in forms.get("contains_casefold", ())):
        return True
    if forms.get("directory") and os.path.isdir(dataset):
        return True
    return bool(forms.get("any_hub_dataset")) and not os.path.exists(dataset)


def _calibration_refusal(fact_name: str, version: Version, dataset: str | None) -> str | None:
    row = ranged(fact_name, version)
    if row is None or dataset is None or not row.value.get("flag") or dataset_accepted(row.value, dataset):
        return None
    return (f"NotImplementedError: Unsupported dataset name or local repo directory: {dataset}. "
            f"(TensorRT-LLM {version}: {row.source})")


def quantize_refusals(version: Version, args: Args) -> list[str]:
    """quantize.py reads --calib_dataset only when it calibrates: a calibrating qformat or a quantized KV cache."""
    qformat = _one(args, "--qformat") or "full_prec"
    calibrating_formats = {engine.qformat for fmt in formats().values() if fmt.calibrates
                           for engine in [fmt.tensorrt(version)] if engine is not None}
    kv = _one(args, "--kv_cache_dtype")
    if qformat not in calibrating_formats and kv in (None, "None"):
        return []
    refusal = _calibration_refusal("quantize_calibration_forms", version, _one(args, "--calib_dataset"))
    return [refusal] if refusal else []


def convert_refusals(version: Version, args: Args) -> list[str]:
    """convert_checkpoint.py loads --calib_dataset for SmoothQuant and for an int8 KV cache."""
    if "--smoothquant" not in args and "--int8_kv_cache" not in args:
        return []
    refusal = _calibration_refusal("convert_calibration_forms", version, _one(args, "--calib_dataset"))
    return [refusal] if refusal else []


def _sm() -> int | None:
    text = os.environ.get(SM_ENV)
    return int(text) if text else None


def build_refusals(version: Version, facts: Surface, args: Args, quantization: Mapping[str, Any]) -> list[str]:
    """What trtllm-build's builder (or the attention plugin it builds) raises for this checkpoint quantization,
    release and GPU."""
    algo, kv = quantization.get("quant_algo"), quantization.get("kv_cache_quant_algo")
    problems = []
    sm = _sm()
    sm100 = ranged("builder_sm100_refusals", version)
    if sm is not None and sm100 is not None:
        for rule in sm100.value:
            if rule["sm_from"] <= sm < rule["sm_until"] and (algo in rule["quant_algos"]
                                                            or kv in rule["kv_cache_quant_algos"]):
                problems.append(f"RuntimeError: {rule['message']} (SM{sm}, TensorRT-LLM {version}: {sm100.source})")
    paged = _switch_on(facts, args, "--use_paged_context_fmha")
    if paged:
        problems += _paged_context_refusals(version, algo, kv)
    if sm is not None and not problems:
        problems += _fp8_context_fmha_refusals(version, facts, args, sm, forced=paged and _forces_fp8_fmha(version,
                                                                                                           algo, kv))
    return problems


def _switch_on(facts: Surface, args: Args, flag: str) -> bool:
    """Whether an enable|disable plugin flag ends up enabled: as given, else the release's default."""
    fact = facts.fact(flag)
    if fact is None:
        return False
    given = _one(args, flag)
    return (given if given is not None else fact.default) == "enable"


def _paged_context_refusals(version: Version, algo: object, kv: object) -> list[str]:
    refusals = []
    int8 = ranged("builder_int8_kv_with_paged_context_fmha", version)
    fp8 = ranged("builder_fp8_kv_with_paged_context_fmha", version)
    # 0.9.0 refuses both quantized KV caches with one message (builder.py @ 250d9c29).
    both = fp8 is not None and fp8.value == "error"
    if kv == "INT8" and int8 is not None and int8.value == "error":
        kind = "fp8/int8" if both else "int8"
        refusals.append(f"RuntimeError: Paged Context FMHA doesn't work with {kind} kv cache currently. "
                        f"(TensorRT-LLM {version}: {int8.source})")
    if kv == "FP8" and fp8 is not None and fp8.value == "error":
        refusals.append(f"RuntimeError: Paged Context FMHA doesn't work with fp8/int8 kv cache currently. "
                        f"(TensorRT-LLM {version}: {fp8.source})")
    elif kv == "FP8" and fp8 is not None and fp8.value == "error_unless_fp8_checkpoint" and algo != "FP8":
        refusals.append(f"RuntimeError: FP8 Paged Context FMHA only works with fp8 quantization workflow currently. "
                        f"(TensorRT-LLM {version}: {fp8.source})")
    return refusals


def _forces_fp8_fmha(version: Version, algo: object, kv: object) -> bool:
    """Paged context FMHA on an fp8 KV cache of an FP8 checkpoint: the 0.10-0.16 builder turns FP8 context FMHA on
    ('FP8 Context FMHA is enabled by default to support FP8 Paged Context FMHA.', builder.py @ 9bd15f19)."""
    fp8 = ranged("builder_fp8_kv_with_paged_context_fmha", version)
    return kv == "FP8" and algo == "FP8" and fp8 is not None and fp8.value == "error_unless_fp8_checkpoint"


def _fp8_context_fmha_refusals(version: Version, facts: Surface, args: Args, sm: int, forced: bool) -> list[str]:
    """The attention plugin's check where FP8 context FMHA is on (releases.yaml builder_fp8_context_fmha): it reads
    the plugin config whatever the checkpoint's quantization (functional.py @ 9bd15f19)."""
    rule = ranged("builder_fp8_context_fmha", version)
    if rule is None or rule.value.get("elsewhere") != "error" or sm in rule.value["sm"]:
        return []
    if not (forced or _switch_on(facts, args, "--use_fp8_context_fmha")):
        return []
    return [f"Assertion failed: {rule.value['message']} (SM{sm}, TensorRT-LLM {version}: {rule.source})"]
