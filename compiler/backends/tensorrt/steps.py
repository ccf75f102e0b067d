"""The engine path's plan half: each tool's exact argv for the release, the steps, and what each rank runs.

Every value comes from the decided deployment; this module only spells it out in the
release's flags. Every limit is emitted, so nothing is left to a release's default.
"""

from __future__ import annotations

import functools
import hashlib
import posixpath
from pathlib import Path

from compiler.backends.tensorrt import (
    AWQ_CALIB_CAP,
    CONVERT,
    GPTQ,
    GPTQ_WEIGHTS_FILE,
    QUANTIZE,
    QUANTIZED_KV,
    VERIFIED_FAMILY,
    checkpoint_weights,
)
from compiler.catalog.gates import gptq_checkpoint_flag, has
from compiler.decide.model import Calibration, Decided, Note, RouteKind
from compiler.plan.argv import BUILD_ARGS, LAUNCH, PARALLELISM, QUANT_INPUTS, TOOL, UPSTREAM, Argv
from compiler.plan.model import EXAMPLES_DIR, MODEL_DIR, STEP_OUT, Arg, Impact, InputKind, Step, StepInput, Var
from compiler.plan.steps import RankProgram, StepList
from compiler.spec import Entrypoint, KvCacheDtype, QuantFormat

GPTQ_SCRIPT = "steps/gptq_quantize.py"
GPTQ_TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "steps" / "gptq_quantize.py.j2"
GPTQ_BITS = 4
WEIGHT_ONLY_PRECISION = {QuantFormat.INT8_WO: "int8", QuantFormat.INT4_WO: "int4"}
# quantize.py's --qformat for each format; full_prec quantizes only the KV cache (quantize.py @ 5955b8af).
QFORMAT: dict[QuantFormat, str] = {
    QuantFormat.NONE: "full_prec",
    QuantFormat.INT8_WO: "int8_wo",
    QuantFormat.INT4_WO: "int4_wo",
    QuantFormat.INT8_SQ: "int8_sq",
    QuantFormat.INT4_AWQ: "int4_awq",
    QuantFormat.FP8: "fp8",
    QuantFormat.W4A8_AWQ: "w4a8_awq",
    QuantFormat.NVFP4: "nvfp4",
}
# convert_checkpoint.py names the default dataset by its Hugging Face id (its --calib_dataset default).
CONVERT_DATASET_NAMES = {"cnn_dailymail": "ccdv/cnn_dailymail"}
CONTAINER_EXAMPLES_DIR = "/app/tensorrt_llm/examples"
# Families whose example folder is models/core/<family>/ in 1.x; the rest are in models/contrib/.
CORE_FAMILIES = frozenset({"llama", "qwen"})
QUANTIZE_SCRIPT = Var(EXAMPLES_DIR, "/quantization/quantize.py")
RUN_SCRIPT = Var(EXAMPLES_DIR, "/run.py")
ENABLE = {True: "enable", False: "disable"}


@functools.cache
def gptq_script_digest() -> str:
    """The GPTQ script's template digest: a changed script re-runs the GPTQ step."""
    return hashlib.sha256(GPTQ_TEMPLATE.read_bytes()).hexdigest()


def family_folder(family: str, d: Decided) -> str:
    """The model family's example folder under examples/, e.g. 'llama' or 'models/core/llama'."""
    if not has(d.r.release, "models_core_layout"):
        return family
    group = "core" if family in CORE_FAMILIES else "contrib"
    return f"models/{group}/{family}"


def convert_script(d: Decided) -> Var:
    return Var(EXAMPLES_DIR, f"/{family_folder(d.r.model.family, d)}/convert_checkpoint.py")


def examples_dir(d: Decided) -> str:
    """The examples folder scripts default to; a relative path gets './' so it never reads as an option."""
    written = d.r.spec.target.examples_dir
    if written is None:
        return CONTAINER_EXAMPLES_DIR
    return written if posixpath.isabs(written) else posixpath.join(".", written)


# --- steps -----------------------------------------------------------------------------------


def plan(d: Decided, steps: StepList) -> RankProgram:
    checkpoint = _checkpoint_steps(d, steps)
    family = d.r.model.family
    if checkpoint.tool == CONVERT and family != VERIFIED_FAMILY:
        steps.notes.append(Note("convert.family", f"examples/{family_folder(family, d)}",
                                f"llama's convert_checkpoint.py flags are the ones read from source; the same flags "
                                f"are planned for {family}, verified for llama only (P102)"))
    engine = steps.add("build", "trtllm-build", build_argv(d, checkpoint.output), impact=Impact.REBUILD,
                       inputs=[StepInput(InputKind.STEP, checkpoint.output, checkpoint.id)], reads=[checkpoint],
                       reason="trtllm-build compiles one engine per rank for the target GPU", python=False,
                       extra={"build_sm": d.r.build_gpu.sm})
    return rank_program(d, engine)


def _model_input() -> StepInput:
    return StepInput(InputKind.MODEL, Var(MODEL_DIR))


def _calibration_inputs(cal: Calibration | None) -> list[StepInput]:
    return [StepInput(InputKind.CALIBRATION, cal.dataset)] if cal is not None and cal.local else []


def _checkpoint_steps(d: Decided, steps: StepList) -> Step:
    """The steps that write the TensorRT-LLM checkpoint, per route; returns the last."""
    kind, cal, fmt, kv = d.route.kind, d.calibration, d.format.value, d.kv_cache.value
    sources = [_model_input(), *_calibration_inputs(cal)]
    if kind is RouteKind.QUANTIZE:
        assert cal is not None  # quantize.py always calibrates
        return steps.add("quantize", QUANTIZE, quantize_argv(d, cal), impact=Impact.REQUANTIZE, inputs=sources,
                         reads=[], reason=f"ModelOpt's quantize.py writes the {fmt.value} checkpoint "
                                          f"(KV cache {kv.value})")
    if kind is RouteKind.GPTQ:
        assert cal is not None
        gptq = steps.add("gptq", GPTQ, gptq_argv(d, cal), impact=Impact.REQUANTIZE, inputs=sources, reads=[],
                         reason="GPTQModel quantizes the weights to int4 with calibration data",
                         extra={"script": gptq_script_digest()})
        weights = f"{gptq.output}/{GPTQ_WEIGHTS_FILE}"
        return steps.add("convert", CONVERT, convert_argv(d, Var(MODEL_DIR), weights, UPSTREAM),
                         impact=Impact.REQUANTIZE,
                         inputs=[_model_input(), StepInput(InputKind.STEP, weights, gptq.id)], reads=[gptq],
                         reason="convert_checkpoint.py packs the GPTQ weights into a TensorRT-LLM checkpoint")
    if kind is RouteKind.CHECKPOINT:
        return _from_checkpoint(d, steps)
    return steps.add("convert", CONVERT, convert_argv(d, Var(MODEL_DIR), None), impact=Impact.REQUANTIZE,
                     inputs=sources, reads=[], reason=f"convert_checkpoint.py writes the {fmt.value} checkpoint "
                                                      f"(KV cache {kv.value})")


def _from_checkpoint(d: Decided, steps: StepList) -> Step:
    checkpoint = d.r.checkpoint_dir
    assert checkpoint is not None
    if d.format.value is QuantFormat.INT4_AWQ:
        return steps.add("convert", CONVERT, convert_argv(d, checkpoint, None), impact=Impact.REQUANTIZE,
                         inputs=[StepInput(InputKind.CHECKPOINT, checkpoint)], reads=[],
                         reason="convert_checkpoint.py reads the AWQ checkpoint")
    weights = checkpoint_weights(checkpoint)
    return steps.add("convert", CONVERT, convert_argv(d, Var(MODEL_DIR), weights, QUANT_INPUTS),
                     impact=Impact.REQUANTIZE, inputs=[_model_input(), StepInput(InputKind.CHECKPOINT, weights)],
                     reads=[], reason="convert_checkpoint.py packs the given GPTQ weights into a TensorRT-LLM "
                                      "checkpoint")


# --- argv ------------------------------------------------------------------------------------


def _io(b: Argv, program: tuple[Arg, ...], model: Arg) -> None:
    b.add(TOOL, *program)
    b.opt(TOOL, "--model_dir", model)
    b.opt(TOOL, "--output_dir", Var(STEP_OUT))


def _parallelism(b: Argv, d: Decided) -> None:
    # tp and pp are baked into the checkpoint, one rank<N>.safetensors per rank.
    b.opt(PARALLELISM, "--tp_size", d.topology.tp)
    b.opt(PARALLELISM, "--pp_size", d.topology.pp)


def gptq_argv(d: Decided, cal: Calibration) -> Argv:
    """GPTQModel, through the script rendered into steps/."""
    b = Argv()
    _io(b, ("python3", GPTQ_SCRIPT), Var(MODEL_DIR))
    q = d.r.spec.quantization
    b.opt(QUANT_INPUTS, "--bits", GPTQ_BITS)
    b.opt(QUANT_INPUTS, "--group_size", q.group_size)
    if q.act_order:
        b.add(QUANT_INPUTS, "--desc_act")
    b.opt(QUANT_INPUTS, "--dataset", cal.dataset)
    b.opt(QUANT_INPUTS, "--samples", cal.samples)
    b.opt(QUANT_INPUTS, "--seq_len", cal.seq_len)
    b.opt(QUANT_INPUTS, "--seed", cal.seed)
    b.note("quantization.gptq", f"GPTQModel {GPTQ_BITS}-bit, group {q.group_size}, desc_act {q.act_order}",
           "TensorRT-LLM converts external GPTQ weights; GPTQModel is AutoGPTQ's maintained successor and "
           "writes the same safetensors layout")
    _calibration_note(b, cal, "the GPTQ step", passed=("dataset", "samples", "seq_len", "seed"))
    return b


def quantize_argv(d: Decided, cal: Calibration) -> Argv:
    """ModelOpt's quantize.py."""
    b = Argv()
    _io(b, ("python3", QUANTIZE_SCRIPT), Var(MODEL_DIR))
    fmt, kv = d.format.value, d.kv_cache.value
    b.opt(QUANT_INPUTS, "--dtype", d.r.spec.model.dtype.value)
    b.opt(QUANT_INPUTS, "--qformat", QFORMAT[fmt])
    if kv in QUANTIZED_KV:
        b.opt(QUANT_INPUTS, "--kv_cache_dtype", kv.value)
    if _is_awq(fmt):
        b.opt(QUANT_INPUTS, "--awq_block_size", d.r.spec.quantization.group_size)
    _quantize_calibration(b, d, cal)
    _parallelism(b, d)
    return b


def _is_awq(fmt: QuantFormat) -> bool:
    """quantize.py's own test for its AWQ calib_size cap is the substring."""
    return "awq" in fmt.value


def _quantize_calibration(b: Argv, d: Decided, cal: Calibration) -> None:
    release = d.r.release
    awq = _is_awq(d.format.value)
    samples = min(cal.samples, AWQ_CALIB_CAP) if awq else cal.samples
    passed = ["samples"]
    if has(release, "quantize_calib_dataset"):
        b.opt(QUANT_INPUTS, "--calib_dataset", cal.dataset)
        passed.append("dataset")
    b.opt(QUANT_INPUTS, "--calib_size", samples)
    if has(release, "quantize_calib_max_seq_length"):
        b.opt(QUANT_INPUTS, "--calib_max_seq_length", cal.seq_len)
        passed.append("seq_len")
    if has(release, "quantize_seed"):
        b.opt(QUANT_INPUTS, "--seed", cal.seed)
        passed.append("seed")
    if awq:
        b.note("calibration.samples", f"--calib_size {samples}",
               f"quantize.py caps AWQ calibration at {AWQ_CALIB_CAP} samples, so the plan passes what really runs")
    _calibration_note(b, cal, f"quantize.py of TensorRT-LLM {release.version}", tuple(passed))


def _calibration_note(b: Argv, cal: Calibration, tool: str, passed: tuple[str, ...]) -> None:
    values = {"dataset": cal.dataset, "samples": str(cal.samples), "seq_len": str(cal.seq_len), "seed": str(cal.seed)}
    fixed = [f"{name} ({values[name]})" for name in values if name not in passed]
    source = "quantization.calibration" if cal.written else "the default calibration (no calibration block)"
    reason = f"{tool} takes {', '.join(passed)} from {source}" if passed else f"{tool} has no calibration flags"
    if fixed:
        reason += f"; for {', '.join(fixed)} it uses its built-in choice"
    b.note("calibration", f"{cal.dataset}, {cal.samples} samples of {cal.seq_len} tokens, seed {cal.seed}", reason)


def convert_argv(d: Decided, model: Arg, gptq_weights: str | None, weights_aspect: str = QUANT_INPUTS) -> Argv:
    """convert_checkpoint.py of the model's family, with llama's flags.

    `model` is the Hugging Face folder (an AutoAWQ checkpoint is one); `gptq_weights` the GPTQ
    safetensors file, filed under `weights_aspect` (the GPTQ step's output, or a given checkpoint).
    """
    b = Argv()
    _io(b, ("python3", convert_script(d)), model)
    b.opt(QUANT_INPUTS, "--dtype", d.r.spec.model.dtype.value)
    _convert_format(b, d, gptq_weights, weights_aspect)
    if d.kv_cache.value is KvCacheDtype.INT8:
        b.add(QUANT_INPUTS, "--int8_kv_cache")
    if d.route.calibrator == CONVERT and d.calibration is not None:
        _convert_calibration(b, d, d.calibration)
    _parallelism(b, d)
    return b


def _convert_format(b: Argv, d: Decided, gptq_weights: str | None, weights_aspect: str) -> None:
    q, fmt, release = d.r.spec.quantization, d.format.value, d.r.release
    if fmt in WEIGHT_ONLY_PRECISION:
        b.add(QUANT_INPUTS, "--use_weight_only")
        b.opt(QUANT_INPUTS, "--weight_only_precision", WEIGHT_ONLY_PRECISION[fmt])
    elif fmt is QuantFormat.INT8_SQ:
        b.opt(QUANT_INPUTS, "--smoothquant", q.smoothquant_alpha)
        b.add(QUANT_INPUTS, "--per_channel", "--per_token")
    elif fmt is QuantFormat.INT4_AWQ:
        b.add(QUANT_INPUTS, "--use_weight_only")
        b.opt(QUANT_INPUTS, "--weight_only_precision", "int4_awq")
        b.opt(QUANT_INPUTS, "--group_size", q.group_size)
    elif fmt is QuantFormat.INT4_GPTQ and gptq_weights is not None:
        b.add(QUANT_INPUTS, "--use_weight_only")
        b.opt(QUANT_INPUTS, "--weight_only_precision", "int4_gptq")
        b.add(QUANT_INPUTS, "--per_group")
        b.opt(QUANT_INPUTS, "--group_size", q.group_size)
        flag = gptq_checkpoint_flag(release)
        b.opt(weights_aspect, flag, gptq_weights)
        b.note("quantization.checkpoint_flag", flag, f"convert_checkpoint.py of TensorRT-LLM {release.version} "
               "reads GPTQ weights from this flag (--ammo_quant_ckpt_path at 0.8/0.9, "
               "--modelopt_quant_ckpt_path at 0.10, --quant_ckpt_path from 0.11), as one safetensors file")


def _convert_calibration(b: Argv, d: Decided, cal: Calibration) -> None:
    release = d.r.release
    if not has(release, "convert_calibration"):
        _calibration_note(b, cal, f"convert_checkpoint.py of TensorRT-LLM {release.version}", passed=())
        return
    dataset = cal.dataset if cal.local else CONVERT_DATASET_NAMES.get(cal.dataset, cal.dataset)
    b.opt(QUANT_INPUTS, "--calib_dataset", dataset)
    b.opt(QUANT_INPUTS, "--calib_size", cal.samples)
    b.opt(QUANT_INPUTS, "--calib_max_seq_length", cal.seq_len)
    _calibration_note(b, cal, "convert_checkpoint.py", passed=("dataset", "samples", "seq_len"))


def build_argv(d: Decided, checkpoint_dir: str) -> Argv:
    """trtllm-build with every limit explicit and the decided plugins in the release's flags."""
    b = Argv()
    b.add(TOOL, "trtllm-build")
    b.opt(UPSTREAM, "--checkpoint_dir", checkpoint_dir)
    b.opt(TOOL, "--output_dir", Var(STEP_OUT))
    _limits(b, d)
    _plugins(b, d)
    b.opt(BUILD_ARGS, "--workers", d.r.spec.build.workers)
    return b


def _limits(b: Argv, d: Decided) -> None:
    limits, release = d.limits, d.r.release
    b.opt(BUILD_ARGS, "--max_batch_size", limits.max_batch_size)
    b.opt(BUILD_ARGS, "--max_input_len", limits.max_input_len)
    if has(release, "max_output_len"):
        b.opt(BUILD_ARGS, "--max_output_len", limits.max_output_len)
        b.note("limits.length", f"--max_output_len {limits.max_output_len}",
               f"TensorRT-LLM {release.version} takes the output length itself (--max_seq_len came in 0.12)")
    else:
        b.opt(BUILD_ARGS, "--max_seq_len", limits.max_seq_len)
        b.note("limits.length", f"--max_seq_len {limits.max_seq_len}",
               f"from 0.12 trtllm-build takes max_input_len + max_output_len = {limits.max_input_len} + "
               f"{limits.max_output_len} as --max_seq_len")
    b.opt(BUILD_ARGS, "--max_beam_width", limits.max_beam_width)
    b.opt(BUILD_ARGS, "--max_num_tokens", limits.max_num_tokens.value)


def _plugins(b: Argv, d: Decided) -> None:
    """Plugin flags: dtypes and the in-flight-batching toggles always, the rest when not the release default."""
    release = d.r.release
    b.opt(BUILD_ARGS, "--gpt_attention_plugin", str(d.value("plugins.gpt_attention")))
    b.opt(BUILD_ARGS, "--gemm_plugin", str(d.value("plugins.gemm")))
    paged = d.on("plugins.paged_kv_cache")
    if has(release, "kv_cache_type"):
        b.opt(BUILD_ARGS, "--kv_cache_type", "paged" if paged else "continuous")
    else:
        b.opt(BUILD_ARGS, "--paged_kv_cache", ENABLE[paged])
    b.opt(BUILD_ARGS, "--remove_input_padding", ENABLE[d.on("plugins.remove_input_padding")])
    b.opt(BUILD_ARGS, "--context_fmha", ENABLE[d.on("plugins.context_fmha")])
    for key, flag in (("plugins.use_paged_context_fmha", "--use_paged_context_fmha"),
                      ("plugins.use_fp8_context_fmha", "--use_fp8_context_fmha")):
        _toggle_flag(b, d, key, flag)
    tokens = d.limits.tokens_per_block
    if tokens.written:
        b.opt(BUILD_ARGS, "--tokens_per_block", tokens.value)
    _fused_mlp(b, d)
    if has(release, "build_multi_block_mode") and d.setting("plugins.multi_block_mode").written:
        b.opt(BUILD_ARGS, "--multi_block_mode", ENABLE[d.on("plugins.multi_block_mode")])
    _toggle_flag(b, d, "plugins.use_custom_all_reduce", "--use_custom_all_reduce")


def _toggle_flag(b: Argv, d: Decided, key: str, flag: str) -> None:
    """An enable|disable flag for a setting that is not the release's default (written or decided)."""
    setting = d.setting(key)
    if setting.value is None or setting.origin.value == "default":
        return
    b.opt(BUILD_ARGS, flag, ENABLE[setting.value is True])
    if not setting.written:
        b.note(key, ENABLE[setting.value is True], setting.reason)


def _fused_mlp(b: Argv, d: Decided) -> None:
    setting = d.setting("plugins.use_fused_mlp")
    if not setting.written:
        return
    if has(d.r.release, "fused_mlp_toggle"):
        b.opt(BUILD_ARGS, "--use_fused_mlp", ENABLE[setting.value is True])
    elif setting.value is True:
        b.add(BUILD_ARGS, "--use_fused_mlp")  # a store_true switch before 0.12, off unless given
    else:
        b.note("plugins.use_fused_mlp", "not passed", f"trtllm-build of TensorRT-LLM {d.r.release.version} takes "
               "--use_fused_mlp as a switch that is off unless given, so disable means leaving it out")


# --- what each rank runs ---------------------------------------------------------------------


def tokenizer_arg(d: Decided) -> Arg:
    """The tokenizer folder: the model folder (overridable at run time) unless model.tokenizer names another."""
    if d.r.spec.model.tokenizer is None or d.r.tokenizer_dir is None:
        return Var(MODEL_DIR)
    return d.r.tokenizer_dir


def rank_program(d: Decided, engine: Step) -> RankProgram:
    """run.py's smoke generation, or trtllm-serve on the engine (1.x), per rank."""
    b = Argv()
    r = d.r
    if r.spec.launch.entrypoint is Entrypoint.SERVE:
        serve = r.spec.launch.serve
        b.add(TOOL, "trtllm-llmapi-launch", "trtllm-serve")
        b.add(UPSTREAM, engine.output)
        b.opt(LAUNCH, "--backend", "tensorrt")
        b.opt(LAUNCH, "--host", serve.host)
        b.opt(LAUNCH, "--port", serve.port)
        b.opt(LAUNCH, "--tokenizer", tokenizer_arg(d))
        # The engine fixes tp and pp; passing them keeps the server's mapping from falling back to its default of 1.
        b.opt(LAUNCH, "--tp_size", d.topology.tp)
        b.opt(LAUNCH, "--pp_size", d.topology.pp)
        b.note("launch.entrypoint", "trtllm-llmapi-launch trtllm-serve", "on 1.x trtllm-serve serves a TensorRT "
               "engine; trtllm-llmapi-launch makes rank 0 the server and the other ranks its workers")
        return RankProgram(b, "serve", engine.output, (engine,), port=serve.port, health_path="/health")
    run = r.spec.launch.run
    b.add(TOOL, "python3", RUN_SCRIPT)
    b.opt(UPSTREAM, "--engine_dir", engine.output)
    b.opt(LAUNCH, "--tokenizer_dir", tokenizer_arg(d))
    b.opt(LAUNCH, "--max_output_len", run.max_output_len)
    b.opt(LAUNCH, "--max_input_length", d.limits.max_input_len)
    b.opt(LAUNCH, "--input_text", run.input_text)
    multi_block = d.setting("plugins.multi_block_mode")
    if multi_block.written and has(r.release, "runtime_multi_block_mode"):
        value = "True" if multi_block.value is True else "False"
        b.opt(LAUNCH, "--multi_block_mode", value)
        b.note("plugins.multi_block_mode", f"run.py --multi_block_mode {value}",
               "multi_block_mode is a runtime flag from 0.13, not a build flag")
    return RankProgram(b, "run", engine.output, (engine,))
