"""The exact argv of each checkpoint and engine tool, for the spec's release, with the reason for each choice.

Flags are those of the release line's column in reference §1 (trtllm-build §1.1,
quantize.py §1.2, convert_checkpoint.py §1.3); the compiler rules of §1.1's notes,
§4, §6 and §7 decide which are emitted. Every limit the spec sets is emitted, so
nothing is left to a release's default.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from compiler import catalog
from compiler.limits import effective_limits
from compiler.plan.argv import BUILD_ARGS, PARALLELISM, QUANT_INPUTS, TOOL, UPSTREAM, Argv
from compiler.plan.features import GATES, gptq_checkpoint_flag, has
from compiler.plan.layout import QUANTIZE_SCRIPT, convert_script
from compiler.plan.model import MODEL_DIR, STEP_OUT, Arg, Var
from compiler.plan.quant import (
    AWQ_CALIB_CAP,
    CONVERT_DATASET_NAMES,
    GPTQ_BITS,
    QFORMAT,
    QUANTIZED_KV,
    Calibration,
    is_awq,
)
from compiler.resolve import Resolved
from compiler.spec import AutoToggle, GemmPluginDtype, KvCacheDtype, PluginDtype, QuantFormat, Toggle

GPTQ_SCRIPT = "steps/gptq_quantize.py"
GPTQ_TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "steps" / "gptq_quantize.py.j2"
WEIGHT_ONLY_PRECISION = {QuantFormat.INT8_WO: "int8", QuantFormat.INT4_WO: "int4"}


@functools.cache
def gptq_script_digest() -> str:
    """The GPTQ script's template digest: a changed script re-runs the GPTQ step."""
    return hashlib.sha256(GPTQ_TEMPLATE.read_bytes()).hexdigest()


def _io(b: Argv, program: tuple[Arg, ...], model: Arg) -> None:
    b.add(TOOL, *program)
    b.opt(TOOL, "--model_dir", model)
    b.opt(TOOL, "--output_dir", Var(STEP_OUT))


def _parallelism(b: Argv, r: Resolved) -> None:
    # tp and pp are baked into the checkpoint, one rank<N>.safetensors per rank (reference §1.2).
    b.opt(PARALLELISM, "--tp_size", r.spec.parallelism.tp)
    b.opt(PARALLELISM, "--pp_size", r.spec.parallelism.pp)


def gptq_argv(r: Resolved, cal: Calibration) -> Argv:
    """GPTQModel, through the script rendered into steps/ (reference cpu-feasibility §3)."""
    b = Argv()
    _io(b, ("python3", GPTQ_SCRIPT), Var(MODEL_DIR))
    q = r.spec.quantization
    b.opt(QUANT_INPUTS, "--bits", GPTQ_BITS)
    b.opt(QUANT_INPUTS, "--group_size", q.group_size)
    if q.act_order:
        b.add(QUANT_INPUTS, "--desc_act")
    b.opt(QUANT_INPUTS, "--dataset", cal.dataset)
    b.opt(QUANT_INPUTS, "--samples", cal.samples)
    b.opt(QUANT_INPUTS, "--seq_len", cal.seq_len)
    b.opt(QUANT_INPUTS, "--seed", cal.seed)
    b.decide("quantization.gptq", f"GPTQModel {GPTQ_BITS}-bit, group {q.group_size}, desc_act {q.act_order}",
             "TensorRT-LLM converts external GPTQ weights; GPTQModel is AutoGPTQ's maintained successor and "
             "writes the same safetensors layout")
    _calibration_note(b, cal, "the GPTQ step", passed=("dataset", "samples", "seq_len", "seed"))
    return b


def quantize_argv(r: Resolved, cal: Calibration) -> Argv:
    """ModelOpt's quantize.py (reference §1.2)."""
    b = Argv()
    _io(b, ("python3", QUANTIZE_SCRIPT), Var(MODEL_DIR))
    b.opt(QUANT_INPUTS, "--dtype", r.spec.model.dtype.value)
    b.opt(QUANT_INPUTS, "--qformat", QFORMAT[r.format])
    if r.kv_cache in QUANTIZED_KV:
        b.opt(QUANT_INPUTS, "--kv_cache_dtype", r.kv_cache.value)
    if is_awq(r.format):
        b.opt(QUANT_INPUTS, "--awq_block_size", r.spec.quantization.group_size)
    _quantize_calibration(b, r, cal)
    _parallelism(b, r)
    return b


def _quantize_calibration(b: Argv, r: Resolved, cal: Calibration) -> None:
    samples = min(cal.samples, AWQ_CALIB_CAP) if is_awq(r.format) else cal.samples
    passed = ["samples"]
    if has(r.release, "quantize_calib_dataset"):
        b.opt(QUANT_INPUTS, "--calib_dataset", cal.dataset)
        passed.append("dataset")
    b.opt(QUANT_INPUTS, "--calib_size", samples)
    if has(r.release, "quantize_calib_max_seq_length"):
        b.opt(QUANT_INPUTS, "--calib_max_seq_length", cal.seq_len)
        passed.append("seq_len")
    if has(r.release, "quantize_seed"):
        b.opt(QUANT_INPUTS, "--seed", cal.seed)
        passed.append("seed")
    if is_awq(r.format):
        b.decide("calibration.samples", f"--calib_size {samples}",
                 f"quantize.py caps AWQ calibration at {AWQ_CALIB_CAP} samples, so the plan passes what really runs")
    _calibration_note(b, cal, f"quantize.py of TensorRT-LLM {r.release.version}", tuple(passed))


def _calibration_note(b: Argv, cal: Calibration, tool: str, passed: tuple[str, ...]) -> None:
    values = {"dataset": cal.dataset, "samples": str(cal.samples), "seq_len": str(cal.seq_len), "seed": str(cal.seed)}
    fixed = [f"{name} ({values[name]})" for name in values if name not in passed]
    source = "quantization.calibration" if cal.written else "the default calibration (no calibration block)"
    reason = f"{tool} takes {', '.join(passed)} from {source}" if passed else f"{tool} has no calibration flags"
    if fixed:
        reason += f"; for {', '.join(fixed)} it uses its built-in choice"
    b.decide("calibration", f"{cal.dataset}, {cal.samples} samples of {cal.seq_len} tokens, seed {cal.seed}", reason)


def convert_argv(r: Resolved, cal: Calibration | None, model: Arg, gptq_weights: str | None,
                 weights_aspect: str = QUANT_INPUTS) -> Argv:
    """convert_checkpoint.py of the model's family, with llama's flags (reference §1.3).

    `model` is the Hugging Face folder (an AutoAWQ checkpoint is one); `gptq_weights` the GPTQ
    safetensors file, filed under `weights_aspect` (the GPTQ step's output, or a given checkpoint).
    """
    b = Argv()
    _io(b, ("python3", convert_script(r)), model)
    b.opt(QUANT_INPUTS, "--dtype", r.spec.model.dtype.value)
    _convert_format(b, r, gptq_weights, weights_aspect)
    if r.kv_cache is KvCacheDtype.INT8:
        b.add(QUANT_INPUTS, "--int8_kv_cache")
    if cal is not None:
        _convert_calibration(b, r, cal)
    _parallelism(b, r)
    return b


def _convert_format(b: Argv, r: Resolved, gptq_weights: str | None, weights_aspect: str) -> None:
    q = r.spec.quantization
    if r.format in WEIGHT_ONLY_PRECISION:
        b.add(QUANT_INPUTS, "--use_weight_only")
        b.opt(QUANT_INPUTS, "--weight_only_precision", WEIGHT_ONLY_PRECISION[r.format])
    elif r.format is QuantFormat.INT8_SQ:
        b.opt(QUANT_INPUTS, "--smoothquant", q.smoothquant_alpha)
        b.add(QUANT_INPUTS, "--per_channel", "--per_token")
    elif r.format is QuantFormat.INT4_AWQ:
        b.add(QUANT_INPUTS, "--use_weight_only")
        b.opt(QUANT_INPUTS, "--weight_only_precision", "int4_awq")
        b.opt(QUANT_INPUTS, "--group_size", q.group_size)
    elif r.format is QuantFormat.INT4_GPTQ and gptq_weights is not None:
        b.add(QUANT_INPUTS, "--use_weight_only")
        b.opt(QUANT_INPUTS, "--weight_only_precision", "int4_gptq")
        b.add(QUANT_INPUTS, "--per_group")
        b.opt(QUANT_INPUTS, "--group_size", q.group_size)
        flag = gptq_checkpoint_flag(r.release)
        b.opt(weights_aspect, flag, gptq_weights)
        b.decide("quantization.checkpoint_flag", flag, f"convert_checkpoint.py of TensorRT-LLM {r.release.version} "
                 "reads GPTQ weights from this flag (--ammo_quant_ckpt_path at 0.8/0.9, "
                 "--modelopt_quant_ckpt_path at 0.10, --quant_ckpt_path from 0.11), as one safetensors file")


def _convert_calibration(b: Argv, r: Resolved, cal: Calibration) -> None:
    if not has(r.release, "convert_calibration"):
        _calibration_note(b, cal, f"convert_checkpoint.py of TensorRT-LLM {r.release.version}", passed=())
        return
    dataset = cal.dataset if cal.local else CONVERT_DATASET_NAMES.get(cal.dataset, cal.dataset)
    b.opt(QUANT_INPUTS, "--calib_dataset", dataset)
    b.opt(QUANT_INPUTS, "--calib_size", cal.samples)
    b.opt(QUANT_INPUTS, "--calib_max_seq_length", cal.seq_len)
    _calibration_note(b, cal, "convert_checkpoint.py", passed=("dataset", "samples", "seq_len"))


def build_argv(r: Resolved, checkpoint_dir: str) -> Argv:
    """trtllm-build with every limit explicit and the plugins of the release line (reference §1.1)."""
    b = Argv()
    b.add(TOOL, "trtllm-build")
    b.opt(UPSTREAM, "--checkpoint_dir", checkpoint_dir)
    b.opt(TOOL, "--output_dir", Var(STEP_OUT))
    _limits(b, r)
    _plugin_dtypes(b, r)
    _kv_cache_layout(b, r)
    _attention_toggles(b, r)
    _line_specific(b, r)
    b.opt(BUILD_ARGS, "--workers", r.spec.build.workers)
    return b


def _limits(b: Argv, r: Resolved) -> None:
    limits = effective_limits(r)
    b.opt(BUILD_ARGS, "--max_batch_size", limits.max_batch_size)
    b.opt(BUILD_ARGS, "--max_input_len", limits.max_input_len)
    if has(r.release, "max_output_len"):
        b.opt(BUILD_ARGS, "--max_output_len", limits.max_output_len)
        b.decide("limits.length", f"--max_output_len {limits.max_output_len}",
                 f"TensorRT-LLM {r.release.version} takes the output length itself (--max_seq_len came in 0.12)")
    else:
        b.opt(BUILD_ARGS, "--max_seq_len", limits.max_seq_len)
        b.decide("limits.length", f"--max_seq_len {limits.max_seq_len}",
                 f"from 0.12 trtllm-build takes max_input_len + max_output_len = {limits.max_input_len} + "
                 f"{limits.max_output_len} as --max_seq_len (reference §1.1)")
    b.opt(BUILD_ARGS, "--max_beam_width", limits.max_beam_width)
    b.opt(BUILD_ARGS, "--max_num_tokens", limits.max_num_tokens)
    b.decide("limits.max_num_tokens", str(limits.max_num_tokens), limits.max_num_tokens_reason)


def _plugin_dtype(r: Resolved, value: PluginDtype | GemmPluginDtype) -> str:
    if value.value != "auto" or has(r.release, "plugin_dtype_auto"):
        return str(value.value)
    return str(r.spec.model.dtype.value)


def _plugin_dtypes(b: Argv, r: Resolved) -> None:
    plugins = r.spec.plugins
    attention, gemm = _plugin_dtype(r, plugins.gpt_attention), _plugin_dtype(r, plugins.gemm)
    b.opt(BUILD_ARGS, "--gpt_attention_plugin", attention)
    b.opt(BUILD_ARGS, "--gemm_plugin", gemm)
    if not has(r.release, "plugin_dtype_auto") and "auto" in (plugins.gpt_attention.value, plugins.gemm.value):
        b.decide("plugins.dtype", r.spec.model.dtype.value,
                 f"TensorRT-LLM {r.release.version} has no plugin dtype 'auto', so it becomes the model dtype")


def _kv_cache_layout(b: Argv, r: Resolved) -> None:
    paged = r.spec.plugins.paged_kv_cache is Toggle.ENABLE
    if has(r.release, "kv_cache_type"):
        b.opt(BUILD_ARGS, "--kv_cache_type", "paged" if paged else "continuous")
    else:
        b.opt(BUILD_ARGS, "--paged_kv_cache", r.spec.plugins.paged_kv_cache.value)


def _attention_toggles(b: Argv, r: Resolved) -> None:
    plugins = r.spec.plugins
    b.opt(BUILD_ARGS, "--remove_input_padding", plugins.remove_input_padding.value)
    b.opt(BUILD_ARGS, "--context_fmha", plugins.context_fmha.value)
    _paged_context_fmha(b, r)
    _fp8_context_fmha(b, r)
    if plugins.tokens_per_block is not None:
        b.opt(BUILD_ARGS, "--tokens_per_block", plugins.tokens_per_block)


def _paged_context_fmha(b: Argv, r: Resolved) -> None:
    setting = r.spec.plugins.use_paged_context_fmha
    if setting is not AutoToggle.AUTO:
        b.opt(BUILD_ARGS, "--use_paged_context_fmha", setting.value)
        return
    if not has(r.release, "paged_context_fmha_default_on"):
        return
    if r.kv_cache is KvCacheDtype.INT8:
        why = "the builder refuses paged context FMHA with an int8 KV cache (reference §1.1, §6 #11)"
    elif r.kv_cache is KvCacheDtype.FP8 and (r.format is not QuantFormat.FP8 or r.gpu.sm < _fp8_fmha_sm()):
        why = ("with an fp8 KV cache the builder accepts paged context FMHA only for an FP8 checkpoint, and then "
               "turns on FP8 context FMHA, which needs Hopper (reference §1.1, §3.5)")
    else:
        return
    b.opt(BUILD_ARGS, "--use_paged_context_fmha", "disable")
    b.decide("plugins.use_paged_context_fmha", "disable", f"1.x enables it by default, but {why}")


def _fp8_fmha_sm() -> int:
    return int(catalog.support().fp8_context_fmha_min_sm)


def _fp8_context_fmha(b: Argv, r: Resolved) -> None:
    setting = r.spec.plugins.use_fp8_context_fmha
    if not has(r.release, "fp8_context_fmha"):
        return  # an explicit enable here is refused by P101; disable is what the line does anyway
    if setting is not AutoToggle.AUTO:
        b.opt(BUILD_ARGS, "--use_fp8_context_fmha", setting.value)
    elif has(r.release, "fp8_context_fmha_default_on") and r.gpu.sm < _fp8_fmha_sm():
        b.opt(BUILD_ARGS, "--use_fp8_context_fmha", "disable")
        b.decide("plugins.use_fp8_context_fmha", "disable",
                 f"1.x enables FP8 context FMHA by default, but it needs SM{_fp8_fmha_sm()} and {r.gpu.id} is "
                 f"SM{r.gpu.sm} ('Fp8 FMHA cannot be enabled on pre-Hopper Arch', #1914)")


def _line_specific(b: Argv, r: Resolved) -> None:
    """Flags that changed form or moved to the runtime between release lines."""
    plugins = r.spec.plugins
    _fused_mlp(b, r)
    if plugins.multi_block_mode is not AutoToggle.AUTO and has(r.release, "build_multi_block_mode"):
        b.opt(BUILD_ARGS, "--multi_block_mode", plugins.multi_block_mode.value)
    _custom_all_reduce(b, r)


def _fused_mlp(b: Argv, r: Resolved) -> None:
    setting = r.spec.plugins.use_fused_mlp
    if setting is AutoToggle.AUTO:
        return
    if has(r.release, "fused_mlp_toggle"):
        b.opt(BUILD_ARGS, "--use_fused_mlp", setting.value)
    elif setting is AutoToggle.ENABLE:
        b.add(BUILD_ARGS, "--use_fused_mlp")  # a store_true switch on 0.8-0.10, off unless given


def _custom_all_reduce(b: Argv, r: Resolved) -> None:
    setting = r.spec.plugins.use_custom_all_reduce
    if not has(r.release, "build_custom_all_reduce"):
        if setting is not AutoToggle.AUTO:
            b.decide("plugins.use_custom_all_reduce", "not passed", f"{GATES['build_custom_all_reduce'].what} "
                     f"exists only before 0.12; TensorRT-LLM {r.release.version} picks the all-reduce at runtime")
        return
    if setting is not AutoToggle.AUTO:
        b.opt(BUILD_ARGS, "--use_custom_all_reduce", setting.value)
    elif not (r.gpu.nvlink and r.gpu.p2p):
        b.opt(BUILD_ARGS, "--use_custom_all_reduce", "disable")
        b.decide("plugins.use_custom_all_reduce", "disable",
                 f"the 0.8 line enables custom all-reduce by default, which needs peer access over NVLink; {r.gpu.id} "
                 f"has {'no NVLink' if not r.gpu.nvlink else 'no P2P'} ('peer access is not supported', #1374, #1498)")
