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
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler.backends import llmapi, ranks_wrapped, wrapper_split_gaps
from compiler.catalog import pytorch_backend, tools
from compiler.catalog.formats import EngineFormat, format_facts
from compiler.catalog.tools import SWITCH, TOOLS_DIR, Surface, tool_facts
from compiler.decide.model import (
    Backend,
    Calibration,
    Decided,
    Limits,
    Origin,
    Route,
    RouteKind,
    Setting,
    TaskTool,
    VerifyTools,
)
from compiler.findings import Finding, draft
from compiler.resolve import Resolved
from compiler.spec import (
    AutoToggle,
    Entrypoint,
    GemmPluginDtype,
    KvCacheDtype,
    PluginDtype,
    QuantFormat,
    Toggle,
)
from compiler.versions import parse_version

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
# quantize.py caps calib_size at 32 for any *awq* qformat (quantize.py @ 5955b8af, quantize_by_modelopt.py).
AWQ_CALIB_CAP = 32
# With an fp8 KV cache, the 0.17+ builder keeps paged context FMHA for these checkpoints on SM89+ and turns FP8
# context FMHA on for them (releases.yaml builder_fp8_kv_with_paged_context_fmha, builder.py @ 008b2b8d).
FP8_PAGED_CONTEXT_FORMATS = frozenset({"fp8", "w4a8_awq", "nvfp4"})
FP8_FMHA_MIN_SM = 89
# Compute capabilities of the GPU catalog's architectures, for facts given as a minimum SM.
KNOWN_SMS = (70, 75, 80, 86, 87, 89, 90, 100, 103, 120, 121)
# The first release whose trtllm-serve flags were read (compiler/catalog/tools/trtllm-serve.yaml).
TRTLLM_SERVE_FIRST = parse_version("1.0.0rc0")


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


# --- the release's facts -------------------------------------------------------------------


def build_surface(r: Resolved) -> Surface:
    return r.release.surface("trtllm-build")


def quantize_surface(r: Resolved) -> Surface:
    return r.release.surface(QUANTIZE)


def run_surface(r: Resolved) -> Surface:
    return r.release.surface("run.py")


def convert_tool(r: Resolved) -> str:
    """The tool file of the model family's convert_checkpoint.py (llama's when the family has none)."""
    family = f"{CONVERT}-{r.model.family}"
    return family if (TOOLS_DIR / f"{family}.yaml").is_file() else CONVERT


def convert_surface(r: Resolved) -> Surface:
    return r.release.surface(convert_tool(r))


def first_convert_release(r: Resolved) -> str:
    """The first release whose family convert_checkpoint.py has flags (the script appeared then)."""
    rows = tool_facts(convert_tool(r)).rows.values()
    return str(min(fact.range.since for facts in rows for fact in facts))


def fact(r: Resolved, name: str) -> Any:
    """The value of a ranged release fact (compiler/catalog/releases.yaml) for this release."""
    row = r.release.fact(name)
    assert row is not None, f"releases.yaml has no {name} row for {r.release.version}"  # rows cover 0.8.0 on
    return row.value


def fact_source(r: Resolved, name: str) -> str:
    row = r.release.fact(name)
    return row.source if row is not None else ""


def engine_format(r: Resolved, fmt: QuantFormat) -> EngineFormat | None:
    """The engine path of a format in this release (None: the release cannot plan it)."""
    return format_facts(fmt.value).tensorrt(r.release.exact)


def convert_quant_flags(d: Decided) -> list[tuple[str, str | None]]:
    """The quantization flags convert_checkpoint.py is given for the decided format and KV cache, with their
    values (None: a switch). The GPTQ weights' flag (a path) is added by the planner, after these.

    The precision names are formats.yaml's (`weight_only_precision` of the release's row).
    """
    q, fmt = d.r.spec.quantization, d.format.value
    flags: list[tuple[str, str | None]] = []
    if fmt in (QuantFormat.INT8_WO, QuantFormat.INT4_WO, QuantFormat.INT4_AWQ, QuantFormat.INT4_GPTQ):
        row = engine_format(d.r, fmt)
        # Before a release names the precision, the flag is still what the planner would pass: the gap says so.
        precision = row.weight_only_precision if row is not None and row.weight_only_precision else fmt.value
        flags += [("--use_weight_only", None), ("--weight_only_precision", precision)]
    if fmt is QuantFormat.INT4_GPTQ:
        flags.append(("--per_group", None))
    if fmt in (QuantFormat.INT4_AWQ, QuantFormat.INT4_GPTQ):
        flags.append(("--group_size", str(q.group_size)))
    if fmt is QuantFormat.INT8_SQ:
        flags += [("--smoothquant", str(q.smoothquant_alpha)), ("--per_channel", None), ("--per_token", None)]
    if d.kv_cache.value is KvCacheDtype.INT8:
        flags.append(("--int8_kv_cache", None))
    return flags


def _convert_gaps(d: Decided) -> list[Finding]:
    """P101 drafts for what the family's convert_checkpoint.py of this release cannot be told."""
    r = d.r
    if d.route.kind not in (RouteKind.CONVERT, RouteKind.GPTQ, RouteKind.CHECKPOINT):
        return []
    surface, program = convert_surface(r), tool_facts(convert_tool(r)).program
    if not surface.flags:
        return [draft("model", f"TensorRT-LLM {r.release.version} has no {program} (it came in "
                      f"{first_convert_release(r)})", "use a newer target.tensorrt_llm", code="P101")]
    needed = convert_quant_flags(d)
    if d.format.value is QuantFormat.INT4_GPTQ:
        needed.append((str(fact(r, "gptq_checkpoint_flag")), None))
    missing = [flag if value is None or surface.has(flag) else f"{flag} {value}" for flag, value in needed
               if not surface.has(flag) or (value is not None and _choices(surface, flag)
                                             and value not in _choices(surface, flag))]
    if not missing:
        return []
    what = f"{d.format.value.value}" + (" with an int8 KV cache" if d.kv_cache.value is KvCacheDtype.INT8 else "")
    return [draft(r.first_written("quantization.format", "quantization.kv_cache", "model"),
                  f"{program} of TensorRT-LLM {r.release.version} cannot write {what}: it has no "
                  f"{', '.join(missing)}", "use another quantization.format, or a newer target.tensorrt_llm",
                  code="P101")]


def _choices(surface: Surface, flag: str) -> tuple[str, ...]:
    found = surface.fact(flag)
    return found.choices if found is not None else ()


# --- settings ------------------------------------------------------------------------------


def settings(r: Resolved, fmt: QuantFormat, kv: KvCacheDtype, route_: Route,
             limits: Limits) -> Mapping[str, Setting[object]]:
    """trtllm-build's plugin settings: every `auto` decided, every release default spelled out with its reason."""
    plugins = r.spec.plugins
    decided: dict[str, Setting[object]] = {
        "plugins.gpt_attention": _plugin_dtype(r, "plugins.gpt_attention", plugins.gpt_attention,
                                               "--gpt_attention_plugin"),
        "plugins.gemm": _plugin_dtype(r, "plugins.gemm", plugins.gemm, "--gemm_plugin"),
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


def _plugin_dtype(r: Resolved, key: str, value: PluginDtype | GemmPluginDtype, flag: str) -> Setting[object]:
    origin = Origin.WRITTEN if r.is_written(key) else Origin.DEFAULT
    if value.value != "auto" or "auto" in _choices(build_surface(r), flag):
        return Setting(key, value.value, origin, "the plugin takes the model dtype" if value.value == "auto" else "")
    return Setting(key, r.spec.model.dtype.value, Origin.DECIDED,
                   f"trtllm-build {flag} of TensorRT-LLM {r.release.version} has no 'auto', so it becomes the "
                   "model dtype")


def plugin_default(r: Resolved, name: str) -> Any:
    """trtllm-build's default for a plugin setting in this release (releases.yaml build_plugin_defaults)."""
    return fact(r, "build_plugin_defaults")[name]


def _paged_context_fmha(r: Resolved, fmt: QuantFormat, kv: KvCacheDtype) -> Setting[object]:
    key = "plugins.use_paged_context_fmha"
    written = _toggle(r, key, r.spec.plugins.use_paged_context_fmha)
    if written is not None:
        return written
    if not plugin_default(r, "use_paged_context_fmha"):
        return Setting(key, False, Origin.DEFAULT, f"off by default in TensorRT-LLM {r.release.version}")
    if kv is KvCacheDtype.INT8:
        return Setting(key, False, Origin.DECIDED, f"on by default in TensorRT-LLM {r.release.version}, but not "
                       "with an int8 KV cache: the builder turns it off there "
                       f"({fact(r, 'builder_int8_kv_with_paged_context_fmha')}), so the plan says so")
    fp8_kv_rule = fact(r, "builder_fp8_kv_with_paged_context_fmha")
    keeps = fmt.value in FP8_PAGED_CONTEXT_FORMATS and r.gpu.sm >= FP8_FMHA_MIN_SM
    if kv is KvCacheDtype.FP8 and str(fp8_kv_rule).endswith("unless_fp8_checkpoint") and not keeps:
        return Setting(key, False, Origin.DECIDED, "with an fp8 KV cache the builder keeps paged context FMHA only "
                       f"for an FP8, W4A8_AWQ or NVFP4 checkpoint on SM{FP8_FMHA_MIN_SM}+ (and then turns FP8 "
                       "context FMHA on); not here, so the plan turns it off")
    return Setting(key, True, Origin.DEFAULT, f"on by default in TensorRT-LLM {r.release.version}")


def fp8_context_fmha_sms(r: Resolved) -> tuple[int, ...] | None:
    """The SMs FP8 context FMHA runs on in this release (None: no such feature)."""
    rule = fact(r, "builder_fp8_context_fmha")
    if not rule.get("flag"):
        return None
    if "sm" in rule:
        return tuple(int(sm) for sm in rule["sm"])
    return tuple(sm for sm in KNOWN_SMS if sm >= int(rule["min_sm"]))


def _fp8_context_fmha(r: Resolved) -> Setting[object]:
    key = "plugins.use_fp8_context_fmha"
    sms = fp8_context_fmha_sms(r)
    if sms is None or not build_surface(r).has("--use_fp8_context_fmha"):
        return Setting(key, None, Origin.DEFAULT, f"trtllm-build of TensorRT-LLM {r.release.version} has no "
                       "--use_fp8_context_fmha")
    written = _toggle(r, key, r.spec.plugins.use_fp8_context_fmha)
    if written is not None:
        return written
    if not plugin_default(r, "use_fp8_context_fmha"):
        return Setting(key, False, Origin.DEFAULT, f"off by default in TensorRT-LLM {r.release.version}")
    if r.gpu.sm not in sms:
        return Setting(key, False, Origin.DECIDED, f"on by default in TensorRT-LLM {r.release.version}, which runs "
                       f"it on SM{min(sms)}+ only; {r.gpu.id} is SM{r.gpu.sm}, so the plan turns it off "
                       f"({fact_source(r, 'builder_fp8_context_fmha')})")
    return Setting(key, True, Origin.DEFAULT, f"on by default in TensorRT-LLM {r.release.version}; the builder keeps "
                   "it for FP8, W4A8_AWQ and NVFP4 checkpoints")


def _multi_block_mode(r: Resolved) -> Setting[object]:
    key = "plugins.multi_block_mode"
    written = _toggle(r, key, r.spec.plugins.multi_block_mode)
    if written is not None:
        return written
    build_flag = build_surface(r).fact("--multi_block_mode")
    if build_flag is not None:
        on = build_flag.default == "enable"
        return Setting(key, on, Origin.DEFAULT, f"a build flag in TensorRT-LLM {r.release.version}, "
                       f"{'on' if on else 'off'} by default")
    run_flag = run_surface(r).fact("--multi_block_mode")
    on = run_flag is not None and run_flag.kind != SWITCH and str(run_flag.default).lower() == "true"
    return Setting(key, on, Origin.DEFAULT, f"a run.py flag in TensorRT-LLM {r.release.version}, "
                   f"{'on' if on else 'off'} by default")


def _fused_mlp(r: Resolved) -> Setting[object]:
    key = "plugins.use_fused_mlp"
    written = _toggle(r, key, r.spec.plugins.use_fused_mlp)
    if written is not None:
        return written
    flag = build_surface(r).fact("--use_fused_mlp")
    on = flag is not None and flag.kind != SWITCH and flag.default == "enable"
    return Setting(key, on, Origin.DEFAULT, f"trtllm-build's default in TensorRT-LLM {r.release.version}")


def _custom_all_reduce(r: Resolved) -> Setting[object]:
    key = "plugins.use_custom_all_reduce"
    setting = r.spec.plugins.use_custom_all_reduce
    if not build_surface(r).has("--use_custom_all_reduce"):
        why = (f"trtllm-build of TensorRT-LLM {r.release.version} has no --use_custom_all_reduce: the all-reduce is "
               "picked at runtime")
        return Setting(key, None, Origin.WRITTEN if setting is not AutoToggle.AUTO else Origin.DEFAULT, why)
    written = _toggle(r, key, setting)
    if written is not None:
        return written
    if not (r.gpu.nvlink and r.gpu.p2p):
        missing = "no NVLink" if not r.gpu.nvlink else "no P2P"
        return Setting(key, False, Origin.DECIDED, f"enabled by default in TensorRT-LLM {r.release.version}, and it "
                       f"needs peer access over NVLink; {r.gpu.id} has {missing} ('peer access is not supported', "
                       "#1374, #1498)")
    return Setting(key, True, Origin.DEFAULT, f"on by default in TensorRT-LLM {r.release.version}")


def paged_context_fmha_effective(d: Decided) -> bool:
    """Whether the engine ends up with paged context FMHA (builders turn it off for an int8 KV cache)."""
    return d.on("plugins.use_paged_context_fmha") and d.kv_cache.value is not KvCacheDtype.INT8


# --- calibration ----------------------------------------------------------------------------


def calibration_forms(r: Resolved, tool: str) -> Mapping[str, Any]:
    """What the calibrating tool of this release reads as a dataset (releases.yaml *_calibration_forms)."""
    name = {QUANTIZE: "quantize_calibration_forms", CONVERT: "convert_calibration_forms"}[tool]
    return dict(fact(r, name))


def reads_dataset(forms: Mapping[str, Any], dataset: str, is_folder: bool) -> bool:
    """Whether a release's tool takes this dataset name or folder (a plain file is never one of its forms)."""
    if dataset in forms.get("exact", ()) or any(part in dataset for part in forms.get("contains", ())):
        return True
    if any(part in dataset.casefold() for part in forms.get("contains_casefold", ())):
        return True
    return is_folder and bool(forms.get("directory")) or (not is_folder and bool(forms.get("any_hub_dataset")))


def stage_calibration(r: Resolved, route_: Route, cal: Calibration) -> Calibration:
    """A local calibration file is staged into a folder for a release that reads folders (a data-set folder with
    the file as its train split); anything the release cannot read is left for the gap to report."""
    if route_.calibrator not in (QUANTIZE, CONVERT) or not cal.local or Path(cal.dataset).is_dir():
        return cal
    forms = calibration_forms(r, route_.calibrator)
    if forms.get("directory"):
        return replace(cal, staged=True)
    return cal


# --- what the release's tools cannot express -------------------------------------------------


DEFAULT_DATASET = "cnn_dailymail"


def gaps(d: Decided) -> list[Finding]:
    """H111 (no engine path), P101 (a flag this release lacks), P103 (a combination no release's tools express),
    P107 (calibration data the release cannot read), H104 (a format the release cannot plan)."""
    removed = unsupported(d.r, d.format.value, d.kv_cache.value)
    if removed is not None:
        return [draft(d.r.first_written("target.backend", "target.tensorrt_llm"), removed,
                      "use target.backend: pytorch (or auto), or pin target.tensorrt_llm to 1.2", code="H111")]
    wrapped = wrapper_split_gaps(d.r) if d.r.spec.launch.entrypoint is Entrypoint.SERVE and ranks_wrapped(d) else []
    return [*_calibration_gaps(d), *_plugin_gaps(d), *_route_gaps(d), *_kv_gaps(d), *wrapped]


def _calibration_gaps(d: Decided) -> list[Finding]:
    cal, r, tool = d.calibration, d.r, d.route.calibrator
    if cal is None or tool not in (QUANTIZE, CONVERT):
        return []
    forms = calibration_forms(r, tool)
    key = "quantization.calibration.dataset"
    if not forms.get("flag"):
        if cal.dataset == DEFAULT_DATASET:
            return []
        return [draft(key, f"{tool} of TensorRT-LLM {r.release.version} has no --calib_dataset: it always "
                      f"calibrates on {forms['fixed']}", f"remove calibration.dataset to calibrate on {DEFAULT_DATASET},"
                      " or use a newer target.tensorrt_llm", code="P101")]
    folder = cal.local and Path(cal.dataset).is_dir()
    if cal.staged or reads_dataset(forms, cal.dataset, folder):
        return []
    what = ("a local folder" if folder else "a local file") if cal.local else f"dataset {cal.dataset!r}"
    return [draft(key, f"{tool} of TensorRT-LLM {r.release.version} cannot read {what} as calibration data: it "
                  f"takes {_forms_text(forms)}", "use one of those, or a newer target.tensorrt_llm (folders from "
                  "0.11 for quantize.py, 0.14 for convert_checkpoint.py)", code="P107")]


def _forms_text(forms: Mapping[str, Any]) -> str:
    names = [*forms.get("exact", ()), *(f"names containing {x!r}" for x in forms.get("contains", ()))]
    names += [f"names containing {x!r} (any case)" for x in forms.get("contains_casefold", ())]
    if forms.get("directory"):
        names.append("a dataset folder")
    return ", ".join(names)


def _plugin_gaps(d: Decided) -> list[Finding]:
    r, out = d.r, []
    build = build_surface(r)
    if r.spec.plugins.gemm is GemmPluginDtype.FP8 and "fp8" not in _choices(build, "--gemm_plugin"):
        out.append(draft("plugins.gemm", f"trtllm-build of TensorRT-LLM {r.release.version} has no fp8 GEMM plugin "
                         "(--gemm_plugin fp8 came in 0.11.0)", "use plugins.gemm: auto, or a newer "
                         "target.tensorrt_llm", code="P101"))
    if r.spec.plugins.use_fp8_context_fmha is AutoToggle.ENABLE and not build.has("--use_fp8_context_fmha"):
        out.append(draft("plugins.use_fp8_context_fmha", f"trtllm-build of TensorRT-LLM {r.release.version} has no "
                         "--use_fp8_context_fmha (it came in 0.9.0)", "remove plugins.use_fp8_context_fmha, or use a "
                         "newer target.tensorrt_llm", code="P101"))
    if r.spec.launch.entrypoint is Entrypoint.SERVE and r.release.exact < TRTLLM_SERVE_FIRST:
        out.append(draft("launch.entrypoint", f"trtdeploy plans trtllm-serve from TensorRT-LLM {TRTLLM_SERVE_FIRST} "
                         f"(whose flags were read); {r.release.version} is older",
                         "use launch.entrypoint: run for a smoke generation, or a 1.x target.tensorrt_llm",
                         code="P101"))
    return out


def _route_gaps(d: Decided) -> list[Finding]:
    r, fmt = d.r, d.format.value
    out = []
    awq_unread = d.route.kind is RouteKind.CHECKPOINT and fmt is QuantFormat.INT4_AWQ and \
        not fact(r, "awq_checkpoint_convert")
    if not awq_unread:
        out += _convert_gaps(d)
    else:  # one finding for the cause, not one more for each convert flag it implies
        out.append(draft("quantization.checkpoint", f"convert_checkpoint.py of TensorRT-LLM {r.release.version} cannot "
                         "read an AutoAWQ checkpoint (it does from 0.16.0)", "remove quantization.checkpoint to "
                         "quantize with quantize.py, or use a newer release", code="P101"))
    if engine_format(r, fmt) is None:
        out.append(draft("quantization.format", f"TensorRT-LLM {r.release.version} cannot plan {fmt.value}",
                         "see H104", code="H104"))
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


# --- verify ----------------------------------------------------------------------------------


MMLU = "mmlu.py"
SUMMARIZE = "summarize.py"
SESSION_BENCHMARK = "gptSessionBenchmark"
# mmlu.py generates 2 tokens per question (Pipeline.__call__: output_len = 2) and cuts prompts to the engine's
# max_input_len itself (check_valid_length), at 0.8.0-0.10.0 (compiler/catalog/tools/mmlu.py.yaml).
MMLU_OUTPUT_TOKENS = 2
# summarize.py's task for trtllm-eval's cnn_dailymail: --eval_task summarize reads ccdv/cnn_dailymail 3.0.0.
SUMMARIZE_TASK = "cnn_dailymail"
# trtllm-eval's and trtllm-bench's --backend for an engine, 1.0 to the removal (trtllm-eval.yaml, trtllm-bench.yaml).
LLMAPI_ENGINE_BACKEND = "tensorrt"
BENCH = llmapi.BENCH


def engine_bench(r: Resolved) -> bool:
    """Whether the release's trtllm-bench throughput runs an engine with the flags read for it (0.12 to 1.0)."""
    return r.release.exact < TRTLLM_SERVE_FIRST and tools.surface(BENCH, r.release.exact, "throughput").has("--engine_dir")


def verify_tools(r: Resolved) -> VerifyTools:
    """The engine path's verify tools: trtllm-eval and trtllm-bench on the engine from 1.0; before, the
    examples' mmlu.py and the C++ gptSessionBenchmark of the releases whose flags were read, and trtllm-bench
    throughput with --engine_dir from 0.12 (tensorrt_llm/bench, compiler/catalog/tools/trtllm-bench.yaml)."""
    if r.release.exact >= TRTLLM_SERVE_FIRST:
        return llmapi.verify_tools(r, LLMAPI_ENGINE_BACKEND)
    version = r.release.version
    tasks = _example_tasks(r)
    session = tools.surface(SESSION_BENCHMARK, r.release.exact).flags
    accuracy_why = "" if tasks else f"examples/mmlu.py's and summarize.py's flags were read at 0.8.0-0.10.x, not " \
        f"at {version}, and trtllm-eval runs engines from 1.0"
    if engine_bench(r):
        return VerifyTools(
            tasks=tasks, accuracy_why=accuracy_why, benchmark=llmapi.BENCH, benchmark_why="",
            metrics=frozenset({"output_tokens_per_s"}),
            metrics_why=f"trtllm-bench's report before 1.0 (0.12.0's run.py, the 0.17.0 documentation's sample) gives "
            f"token throughput, not the time to first token, and no --streaming was read for {version}",
            dataset_tool=None, dataset_why=f"trtllm-bench of TensorRT-LLM {version} has no prepare-dataset",
            takes_dataset=True, static_batch=False)
    return VerifyTools(
        tasks=tasks,
        accuracy_why=accuracy_why,
        benchmark=SESSION_BENCHMARK if session else None,
        benchmark_why="" if session else f"gptSessionBenchmark's flags were read at 0.8.0 and 0.9.0, not at {version}, "
        "and trtllm-bench came in 0.12",
        metrics=frozenset({"output_tokens_per_s"}),
        metrics_why="gptSessionBenchmark reports each static batch's latency and tokens per second, not the time to "
        "first token",
        dataset_tool=None, dataset_why="", takes_dataset=False, static_batch=True,
    )


def _example_tasks(r: Resolved) -> dict[str, TaskTool]:
    """The examples' evaluation scripts of a pre-1.0 release: mmlu.py needs its data folder; summarize.py
    downloads CNN/DailyMail into the datasets cache unless a copy is there (--dataset_path)."""
    tasks = {}
    data_dir = tools.surface(MMLU, r.release.exact).fact("--data_dir")
    if data_dir is not None:
        tasks["mmlu"] = TaskTool("mmlu", MMLU, "required", MMLU_OUTPUT_TOKENS, None, data_dir.source, sampled=False)
    summarize = tools.surface(SUMMARIZE, r.release.exact)
    output, prompt = summarize.fact("--output_len"), summarize.fact("--max_input_length")
    if output is not None and prompt is not None:
        tasks[SUMMARIZE_TASK] = TaskTool(SUMMARIZE_TASK, SUMMARIZE, "optional", int(output.default),
                                         int(prompt.default), output.source)
    return tasks


def plan(d: Decided, steps: StepList) -> RankProgram:
    """Add the checkpoint and engine steps; return the smoke run or server each rank runs."""
    from compiler.backends.tensorrt import (
        steps as planning,  # the plan half, imported only when planning
    )

    return planning.plan(d, steps)
