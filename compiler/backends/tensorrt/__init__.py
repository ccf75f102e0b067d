"""The TensorRT engine path: a TensorRT-LLM checkpoint, then trtllm-build, then engines per rank.

Decide half: the quantization route (convert_checkpoint.py quantizes weight-only and
SmoothQuant itself and calibrates an int8 KV cache; ModelOpt's quantize.py does AWQ,
FP8, w4a8, nvfp4 and every fp8 KV cache; int4_gptq is a GPTQModel step or a given
checkpoint, then convert_checkpoint.py), the plugin settings with the release's
defaults, and what the release's tools cannot express. Plan half: the steps and their
exact argv (compiler/backends/tensorrt/steps.py), and the smoke run or server each rank
runs. Sources: tensorrt_llm/commands/build.py, plugin/plugin.py, builder.py,
examples/quantization/quantize.py, examples/llama/convert_checkpoint.py and
examples/run.py at the commits named in compiler/catalog/.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import TYPE_CHECKING

from compiler import catalog
from compiler.backends import wrapper_split_gaps
from compiler.catalog import pytorch_backend
from compiler.catalog.gates import GATES, has
from compiler.decide.model import Backend, Decided, Limits, Origin, Route, RouteKind, Setting
from compiler.findings import Finding, draft
from compiler.resolve import Resolved
from compiler.spec import AutoToggle, Entrypoint, GemmPluginDtype, KvCacheDtype, PluginDtype, QuantFormat, Toggle

if TYPE_CHECKING:
    from compiler.plan.steps import RankProgram, StepList

BACKEND = Backend.TENSORRT

QUANTIZE = "quantize.py"
CONVERT = "convert_checkpoint.py"
GPTQ = "gptqmodel"
# Formats ModelOpt's quantize.py produces (quantize.py @ 5955b8af and later: --qformat choices).
QUANTIZE_FORMATS = frozenset({QuantFormat.INT4_AWQ, QuantFormat.FP8, QuantFormat.W4A8_AWQ, QuantFormat.NVFP4})
# Formats whose convert step can start from an already-quantized checkpoint (convert_checkpoint.py:
# --quant_ckpt_path for GPTQ safetensors; AutoAWQ checkpoints through --weight_only_precision int4_awq).
CHECKPOINT_FORMATS = frozenset({QuantFormat.INT4_GPTQ, QuantFormat.INT4_AWQ})
QUANTIZED_KV = frozenset({KvCacheDtype.INT8, KvCacheDtype.FP8})
PLUGIN_TOGGLES = ("paged_kv_cache", "remove_input_padding", "context_fmha")
# The family whose convert_checkpoint.py flags were read (examples/llama/convert_checkpoint.py @ 5955b8af,
# aaacc9bd; examples/models/core/llama/convert_checkpoint.py @ fd96a08b).
VERIFIED_FAMILY = "llama"
# quantize.py caps calib_size at 32 for any *awq* qformat (quantize.py @ 5955b8af, quantize_by_modelopt.py).
AWQ_CALIB_CAP = 32


def unsupported(r: Resolved, fmt: QuantFormat, kv: KvCacheDtype) -> str | None:
    """Why this release has no engine path (None: it has one, or may have: an unknown release candidate)."""
    engine = pytorch_backend.engine_path(r.release.exact)
    if engine.state == "removed":
        return (f"TensorRT-LLM {r.release.version} has no TensorRT engine path (trtllm-build, convert_checkpoint.py "
                "and --backend tensorrt were removed: docs/source/legacy/tensorrt-backend-removal.md)")
    return None


def route(r: Resolved, fmt: QuantFormat, kv: KvCacheDtype) -> Route:
    """The tools that write the TensorRT-LLM checkpoint for this format and KV-cache dtype."""
    given = r.checkpoint_dir is not None and fmt in CHECKPOINT_FORMATS
    if given:
        what = "GPTQ safetensors" if fmt is QuantFormat.INT4_GPTQ else "AutoAWQ checkpoint"
        return Route(RouteKind.CHECKPOINT, None, None, None, True, "host",
                     f"quantization.checkpoint is given: convert_checkpoint.py reads the {what}; no tool of this "
                     "route calibrates, so nothing can quantize the KV cache")
    if fmt is QuantFormat.INT4_GPTQ:
        return Route(RouteKind.GPTQ, GPTQ, GPTQ, None, False, "host",
                     "TensorRT-LLM converts GPTQ weights made by an external tool: GPTQModel quantizes, "
                     "convert_checkpoint.py packs the weights")
    if fmt in QUANTIZE_FORMATS or kv is KvCacheDtype.FP8:
        return Route(RouteKind.QUANTIZE, QUANTIZE if fmt is not QuantFormat.NONE else None, QUANTIZE,
                     QUANTIZE if kv in QUANTIZED_KV else None, False, "gpu",
                     "AWQ, FP8, w4a8, nvfp4 and every fp8 KV cache go through ModelOpt's quantize.py, which "
                     "calibrates with the full-precision model on the build GPUs")
    calibrates = fmt is QuantFormat.INT8_SQ or kv is KvCacheDtype.INT8
    return Route(RouteKind.CONVERT, CONVERT if fmt is not QuantFormat.NONE else None,
                 CONVERT if calibrates else None, CONVERT if kv is KvCacheDtype.INT8 else None, False,
                 "gpu" if calibrates else "host",
                 "weight-only, SmoothQuant and int8 KV caches are convert_checkpoint.py's own options"
                 + ("; it calibrates with the full model on the build GPUs (no --load_by_shard)" if calibrates else ""))


# --- settings ------------------------------------------------------------------------------


def settings(r: Resolved, fmt: QuantFormat, kv: KvCacheDtype, route_: Route,
             limits: Limits) -> Mapping[str, Setting[object]]:
    """trtllm-build's plugin settings: every `auto` decided, every release default spelled out with its reason."""
    plugins = r.spec.plugins
    decided: dict[str, Setting[object]] = {
        "plugins.gpt_attention": _plugin_dtype(r, "plugins.gpt_attention", plugins.gpt_attention),
        "plugins.gemm": _plugin_dtype(r, "plugins.gemm", plugins.gemm),
    }
    for name in PLUGIN_TOGGLES:
        value: Toggle = getattr(plugins, name)
        origin = Origin.WRITTEN if r.is_written(f"plugins.{name}") else Origin.DEFAULT
        decided[f"plugins.{name}"] = Setting(f"plugins.{name}", value is Toggle.ENABLE, origin)
    decided["plugins.use_paged_context_fmha"] = _paged_context_fmha(r, fmt, kv)
    decided["plugins.use_fp8_context_fmha"] = _fp8_context_fmha(r)
    decided["plugins.multi_block_mode"] = _multi_block_mode(r)
    decided["plugins.use_fused_mlp"] = _fused_mlp(r)
    decided["plugins.use_custom_all_reduce"] = _custom_all_reduce(r)
    decided["plugins.tokens_per_block"] = limits.tokens_per_block  # type: ignore[assignment]
    return decided


def _toggle(r: Resolved, key: str, value: AutoToggle) -> Setting[object] | None:
    """The setting as written, or None when it is `auto` (left to the decision)."""
    if value is AutoToggle.AUTO:
        return None
    return Setting(key, value is AutoToggle.ENABLE, Origin.WRITTEN, "set by the spec")


def _plugin_dtype(r: Resolved, key: str, value: PluginDtype | GemmPluginDtype) -> Setting[object]:
    origin = Origin.WRITTEN if r.is_written(key) else Origin.DEFAULT
    if value.value != "auto" or has(r.release, "plugin_dtype_auto"):
        return Setting(key, value.value, origin, "the plugin takes the model dtype" if value.value == "auto" else "")
    return Setting(key, r.spec.model.dtype.value, Origin.DECIDED,
                   f"TensorRT-LLM {r.release.version} has no plugin dtype 'auto', so it becomes the model dtype")


def paged_context_fmha_default(r: Resolved) -> bool:
    return has(r.release, "paged_context_fmha_default_on")


def _paged_context_fmha(r: Resolved, fmt: QuantFormat, kv: KvCacheDtype) -> Setting[object]:
    key = "plugins.use_paged_context_fmha"
    written = _toggle(r, key, r.spec.plugins.use_paged_context_fmha)
    if written is not None:
        return written
    default = paged_context_fmha_default(r)
    if not default:
        return Setting(key, False, Origin.DEFAULT, f"off by default in TensorRT-LLM {r.release.version}")
    if kv is KvCacheDtype.INT8:
        return Setting(key, False, Origin.DECIDED, f"on by default in TensorRT-LLM {r.release.version}, but the "
                       "builder refuses paged context FMHA with an int8 KV cache")
    if kv is KvCacheDtype.FP8 and (fmt is not QuantFormat.FP8 or r.gpu.sm < fp8_context_fmha_min_sm()):
        return Setting(key, False, Origin.DECIDED, "with an fp8 KV cache the builder accepts paged context FMHA only "
                       "for an FP8 checkpoint, and then turns on FP8 context FMHA, which needs Hopper")
    return Setting(key, True, Origin.DEFAULT, f"on by default in TensorRT-LLM {r.release.version}")


def fp8_context_fmha_min_sm() -> int:
    return int(catalog.support().fp8_context_fmha_min_sm)


def _fp8_context_fmha(r: Resolved) -> Setting[object]:
    key = "plugins.use_fp8_context_fmha"
    if not has(r.release, "fp8_context_fmha"):
        return Setting(key, None, Origin.DEFAULT, f"{GATES['fp8_context_fmha'].what} exists in "
                       f"{GATES['fp8_context_fmha'].where()}")
    written = _toggle(r, key, r.spec.plugins.use_fp8_context_fmha)
    if written is not None:
        return written
    if not has(r.release, "fp8_context_fmha_default_on"):
        return Setting(key, False, Origin.DEFAULT, f"off by default in TensorRT-LLM {r.release.version}")
    need = fp8_context_fmha_min_sm()
    if r.gpu.sm < need:
        return Setting(key, False, Origin.DECIDED, f"on by default in TensorRT-LLM {r.release.version}, but it "
                       f"needs SM{need} and {r.gpu.id} is SM{r.gpu.sm} ('Fp8 FMHA cannot be enabled on pre-Hopper "
                       "Arch', #1914)")
    return Setting(key, True, Origin.DEFAULT, f"on by default in TensorRT-LLM {r.release.version}")


def _multi_block_mode(r: Resolved) -> Setting[object]:
    key = "plugins.multi_block_mode"
    written = _toggle(r, key, r.spec.plugins.multi_block_mode)
    if written is not None:
        return written
    on = has(r.release, "runtime_multi_block_mode_default_on")
    where = "at runtime" if has(r.release, "runtime_multi_block_mode") else "at build time"
    return Setting(key, on, Origin.DEFAULT, f"{'on' if on else 'off'} by default {where} in TensorRT-LLM "
                   f"{r.release.version}")


def _fused_mlp(r: Resolved) -> Setting[object]:
    key = "plugins.use_fused_mlp"
    written = _toggle(r, key, r.spec.plugins.use_fused_mlp)
    if written is not None:
        return written
    on = has(r.release, "fused_mlp_toggle")  # enable by default where it is a toggle, an opt-in switch before
    return Setting(key, on, Origin.DEFAULT, f"the builder's default in TensorRT-LLM {r.release.version}")


def _custom_all_reduce(r: Resolved) -> Setting[object]:
    key = "plugins.use_custom_all_reduce"
    setting = r.spec.plugins.use_custom_all_reduce
    if not has(r.release, "build_custom_all_reduce"):
        why = (f"{GATES['build_custom_all_reduce'].what} exists only before 0.12; TensorRT-LLM "
               f"{r.release.version} picks the all-reduce at runtime")
        return Setting(key, None, Origin.WRITTEN if setting is not AutoToggle.AUTO else Origin.DEFAULT, why)
    written = _toggle(r, key, setting)
    if written is not None:
        return written
    if not (r.gpu.nvlink and r.gpu.p2p):
        missing = "no NVLink" if not r.gpu.nvlink else "no P2P"
        return Setting(key, False, Origin.DECIDED, f"enabled by default before 0.12, and it needs peer access over "
                       f"NVLink; {r.gpu.id} has {missing} ('peer access is not supported', #1374, #1498)")
    return Setting(key, True, Origin.DEFAULT, f"on by default in TensorRT-LLM {r.release.version}")


def paged_context_fmha_effective(d: Decided) -> bool:
    """Whether the engine ends up with paged context FMHA (1.x builders turn it off for an int8 KV cache)."""
    return d.on("plugins.use_paged_context_fmha") and d.kv_cache.value is not KvCacheDtype.INT8


# --- what the release's tools cannot express -------------------------------------------------


DEFAULT_DATASET = "cnn_dailymail"


def gaps(d: Decided) -> list[Finding]:
    """H111 (no engine path), P101 (a flag this release lacks), P103 (a combination no release's tools express),
    H104 (nvfp4)."""
    removed = unsupported(d.r, d.format.value, d.kv_cache.value)
    if removed is not None:
        return [draft(d.r.first_written("target.backend", "target.tensorrt_llm"), removed,
                      "use target.backend: pytorch (or auto), or pin target.tensorrt_llm to 1.2", code="H111")]
    wrapped = wrapper_split_gaps(d.r) if d.r.spec.launch.entrypoint is Entrypoint.SERVE else []
    return [*_calibration_gaps(d), *_plugin_gaps(d), *_route_gaps(d), *_kv_gaps(d), *wrapped]


def _calibration_gaps(d: Decided) -> list[Finding]:
    cal, release = d.calibration, d.r.release
    if cal is None or cal.dataset == DEFAULT_DATASET:
        return []
    gate = {QUANTIZE: "quantize_calib_dataset", CONVERT: "convert_calibration"}.get(d.route.calibrator or "")
    if gate is None or has(release, gate):
        return []
    return [draft("quantization.calibration.dataset",
                  f"{d.route.calibrator} of TensorRT-LLM {release.version} always calibrates on {DEFAULT_DATASET}; "
                  f"{GATES[gate].what} exists in {GATES[gate].where()}",
                  f"use a newer target.tensorrt_llm, or remove calibration.dataset to calibrate on {DEFAULT_DATASET}",
                  code="P101")]


def _plugin_gaps(d: Decided) -> list[Finding]:
    r, out = d.r, []
    if r.spec.plugins.gemm is GemmPluginDtype.FP8 and not has(r.release, "gemm_plugin_fp8"):
        gate = GATES["gemm_plugin_fp8"]
        out.append(draft("plugins.gemm", f"TensorRT-LLM {r.release.version} has no fp8 GEMM plugin; {gate.what} "
                         f"exists in {gate.where()}", "use plugins.gemm: auto, or a newer target.tensorrt_llm",
                         code="P101"))
    if r.spec.plugins.use_fp8_context_fmha is AutoToggle.ENABLE and not has(r.release, "fp8_context_fmha"):
        gate = GATES["fp8_context_fmha"]
        out.append(draft("plugins.use_fp8_context_fmha", f"TensorRT-LLM {r.release.version} has no FP8 context "
                         f"FMHA; {gate.what} exists in {gate.where()}",
                         "remove plugins.use_fp8_context_fmha, or use a newer target.tensorrt_llm", code="P101"))
    if r.spec.launch.entrypoint is Entrypoint.SERVE and not has(r.release, "trtllm_serve"):
        gate = GATES["trtllm_serve"]
        out.append(draft("launch.entrypoint", f"TensorRT-LLM {r.release.version} has no trtllm-serve; "
                         f"{gate.what} exists in {gate.where()}",
                         "use launch.entrypoint: run for a smoke generation, or a 1.x target.tensorrt_llm",
                         code="P101"))
    return out


def _route_gaps(d: Decided) -> list[Finding]:
    r, fmt = d.r, d.format.value
    out = []
    if d.route.kind is RouteKind.CHECKPOINT and fmt is QuantFormat.INT4_AWQ and not has(r.release,
                                                                                         "convert_awq_checkpoint"):
        gate = GATES["convert_awq_checkpoint"]
        out.append(draft("quantization.checkpoint", f"TensorRT-LLM {r.release.version} cannot convert an AutoAWQ "
                         f"checkpoint; {gate.what} exists in {gate.where()}",
                         "remove quantization.checkpoint to quantize with quantize.py, or use a newer release",
                         code="P101"))
    if fmt is QuantFormat.NVFP4 and not has(r.release, "nvfp4"):
        out.append(draft("quantization.format", f"nvfp4 needs {GATES['nvfp4'].where()}", "see H104", code="H104"))
    return out


def _kv_gaps(d: Decided) -> list[Finding]:
    kv = d.kv_cache.value
    if kv not in QUANTIZED_KV or d.route.kv_quantizer is not None:
        return []
    fmt = d.format.value.value
    if d.route.kind is RouteKind.GPTQ:
        why = ("convert_checkpoint.py reads the GPTQ weights but cannot also calibrate KV-cache scales, and "
               "quantize.py cannot read a GPTQ checkpoint")
    else:
        why = ("convert_checkpoint.py reads the given checkpoint without calibrating, so no tool of this route "
               "writes KV-cache scales")
    fix = ("use kv_cache: auto with int4_gptq, or int4_awq with a quantized KV cache"
           if d.route.kind is RouteKind.GPTQ or fmt == "int4_gptq"
           else "use kv_cache: auto with quantization.checkpoint, or remove quantization.checkpoint so that "
                "quantize.py quantizes the weights and calibrates the KV cache")
    return [draft(d.r.first_written("quantization.kv_cache", "quantization.checkpoint"),
                  f"{fmt} {'from quantization.checkpoint ' if d.route.reads_checkpoint else ''}with an "
                  f"{kv.value} KV cache: {why}", fix, code="P103")]


def checkpoint_weights(checkpoint: str) -> str:
    """The path convert_checkpoint.py reads a GPTQ checkpoint from: the safetensors file itself.

    A folder (as GPTQModel and Hugging Face write them) means its model.safetensors.
    """
    return checkpoint if checkpoint.endswith(".safetensors") else posixpath.join(checkpoint, GPTQ_WEIGHTS_FILE)


# The file GPTQModel writes (the GPTQ step merges shards into it) and convert reads.
GPTQ_WEIGHTS_FILE = "model.safetensors"


def plan(d: Decided, steps: StepList) -> RankProgram:
    """Add the checkpoint and engine steps; return the smoke run or server each rank runs."""
    from compiler.backends.tensorrt import steps as planning  # the plan half, imported only when planning

    return planning.plan(d, steps)
