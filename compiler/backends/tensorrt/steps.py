"""The engine path's plan half: each tool's exact argv for the release, the steps, and what each rank runs.

Every value comes from the decided deployment; this module only spells it out in the
release's flags. Every limit is emitted, so nothing is left to a release's default.
"""

from __future__ import annotations

import functools
import hashlib
import posixpath
from pathlib import Path

from compiler.backends import HEALTH_PATH, MULTINODE_WRAPPER
from compiler.backends.tensorrt import (
    AWQ_CALIB_CAP,
    CONVERT,
    GPTQ,
    GPTQ_WEIGHTS_FILE,
    QUANTIZE,
    QUANTIZED_KV,
    build_surface,
    checkpoint_weights,
    convert_quant_flags,
    convert_surface,
    engine_format,
    fact,
    quantize_surface,
    run_surface,
)
from compiler.catalog import tools
from compiler.catalog.tools import SWITCH
from compiler.decide.model import Calibration, Decided, RouteKind
from compiler.plan.argv import (
    BUILD_ARGS,
    LAUNCH,
    PARALLELISM,
    QUANT_INPUTS,
    TOOL,
    UPSTREAM,
    Argv,
)
from compiler.plan.model import (
    EXAMPLES_DIR,
    MODEL_DIR,
    STEP_OUT,
    Arg,
    Impact,
    InputKind,
    Step,
    StepInput,
    Var,
)
from compiler.plan.steps import RankProgram, StepList
from compiler.spec import Entrypoint, QuantFormat

GPTQ_SCRIPT = "steps/gptq_quantize.py"
STAGE_SCRIPT = "steps/stage_calibration.py"
STAGE = "stage_calibration.py"
TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "steps"
# trtdeploy's own step scripts: rendered into the build folder, their template's digest in the step's fingerprint.
SCRIPTS = {GPTQ_SCRIPT: "gptq_quantize.py.j2", STAGE_SCRIPT: "stage_calibration.py.j2"}
GPTQ_BITS = 4
# convert_checkpoint.py names the default dataset by its Hugging Face id (its --calib_dataset default).
CONVERT_DATASET_NAMES = {"cnn_dailymail": "ccdv/cnn_dailymail"}
CONTAINER_EXAMPLES_DIR = "/app/tensorrt_llm/examples"
# Where the release containers keep the C++ benchmarks (0.8: /app/tensorrt_llm/benchmarks/gptSessionBenchmark, as
# `ls benchmarks/` in the 0.8.0 release container shows; later containers add a cpp/ level).
CONTAINER_BENCHMARKS_DIR = "/app/tensorrt_llm/benchmarks"
QUANTIZE_SCRIPT = Var(EXAMPLES_DIR, "/quantization/quantize.py")
RUN_SCRIPT = Var(EXAMPLES_DIR, "/run.py")
ENABLE = {True: "enable", False: "disable"}


@functools.cache
def script_digest(script: str) -> str:
    """A step script's template digest: a changed script re-runs its step."""
    return hashlib.sha256((TEMPLATES / SCRIPTS[script]).read_bytes()).hexdigest()


def family_folder(family: str, d: Decided) -> str:
    """The model family's example folder under examples/ in this release ('llama', 'models/core/llama')."""
    layout: dict[str, str] = fact(d.r, "examples_layout")
    if family in layout:
        return layout[family]
    core = layout.get("llama", "llama")  # a family the layout does not name sits beside the contrib ones
    return family if core == "llama" else f"models/contrib/{family}"


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
    engine = steps.add("build", "trtllm-build", build_argv(d, checkpoint.output), impact=Impact.REBUILD,
                       inputs=[StepInput(InputKind.STEP, checkpoint.output, checkpoint.id)], reads=[checkpoint],
                       reason="trtllm-build compiles one engine per rank for the target GPU", python=False,
                       extra={"build_sm": d.r.build_gpu.sm})
    from compiler.backends.tensorrt.verify import plan_verify

    plan_verify(d, steps, engine, tokenizer_arg(d))
    return rank_program(d, engine)


def _model_input() -> StepInput:
    return StepInput(InputKind.MODEL, Var(MODEL_DIR))


def _calibration_source(d: Decided, steps: StepList) -> tuple[str, list[StepInput], list[Step]]:
    """What the calibrating tool is given as its dataset: the name or path, or the folder a staging step wrote."""
    cal = d.calibration
    if cal is None:
        return "", [], []
    if not cal.staged:
        return cal.dataset, ([StepInput(InputKind.CALIBRATION, cal.dataset)] if cal.local else []), []
    b = Argv()
    b.add(TOOL, "python3", STAGE_SCRIPT)
    b.opt(QUANT_INPUTS, "--input", cal.dataset)
    b.opt(TOOL, "--output", Var(STEP_OUT))
    b.note("calibration.staging", f"{cal.dataset} -> a dataset folder", f"{d.route.calibrator} of TensorRT-LLM "
           f"{d.r.release.version} reads calibration data from a dataset folder, not a file")
    stage = steps.add("calibration", STAGE, b, impact=Impact.REQUANTIZE,
                      inputs=[StepInput(InputKind.CALIBRATION, cal.dataset)], reads=[],
                      reason="the calibration file becomes a dataset folder (train split, text column)",
                      extra={"script": script_digest(STAGE_SCRIPT)})
    return stage.output, [StepInput(InputKind.STEP, stage.output, stage.id)], [stage]


def _checkpoint_steps(d: Decided, steps: StepList) -> Step:
    """The steps that write the TensorRT-LLM checkpoint, per route; returns the last."""
    kind, cal, fmt, kv = d.route.kind, d.calibration, d.format.value, d.kv_cache.value
    if kind is RouteKind.GPTQ:  # GPTQModel reads the file itself
        return _gptq_steps(d, steps)
    if kind is RouteKind.CHECKPOINT:
        return _from_checkpoint(d, steps)
    dataset, calibration_inputs, staged = _calibration_source(d, steps)
    sources = [_model_input(), *calibration_inputs]
    if kind is RouteKind.QUANTIZE:
        assert cal is not None  # quantize.py always calibrates
        return steps.add("quantize", QUANTIZE, quantize_argv(d, cal, dataset), impact=Impact.REQUANTIZE,
                         inputs=sources, reads=staged, reason=f"ModelOpt's quantize.py writes the {fmt.value} "
                                                              f"checkpoint (KV cache {kv.value})")
    return steps.add("convert", CONVERT, convert_argv(d, Var(MODEL_DIR), None, dataset=dataset),
                     impact=Impact.REQUANTIZE, inputs=sources, reads=staged,
                     reason=f"convert_checkpoint.py writes the {fmt.value} checkpoint (KV cache {kv.value})")


def _gptq_steps(d: Decided, steps: StepList) -> Step:
    cal = d.calibration
    assert cal is not None
    sources = [_model_input(), *([StepInput(InputKind.CALIBRATION, cal.dataset)] if cal.local else [])]
    gptq = steps.add("gptq", GPTQ, gptq_argv(d, cal), impact=Impact.REQUANTIZE, inputs=sources, reads=[],
                     reason="GPTQModel quantizes the weights to int4 with calibration data",
                     extra={"script": script_digest(GPTQ_SCRIPT)})
    weights = f"{gptq.output}/{GPTQ_WEIGHTS_FILE}"
    return steps.add("convert", CONVERT, convert_argv(d, Var(MODEL_DIR), weights, UPSTREAM),
                     impact=Impact.REQUANTIZE, inputs=[_model_input(), StepInput(InputKind.STEP, weights, gptq.id)],
                     reads=[gptq], reason="convert_checkpoint.py packs the GPTQ weights into a TensorRT-LLM checkpoint")


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


def quantize_argv(d: Decided, cal: Calibration, dataset: str) -> Argv:
    """ModelOpt's quantize.py."""
    b = Argv()
    _io(b, ("python3", QUANTIZE_SCRIPT), Var(MODEL_DIR))
    fmt, kv = d.format.value, d.kv_cache.value
    b.opt(QUANT_INPUTS, "--dtype", d.r.spec.model.dtype.value)
    row = engine_format(d.r, fmt)
    assert row is not None and row.qformat is not None  # H104 refuses what the release cannot plan
    b.opt(QUANT_INPUTS, "--qformat", row.qformat)
    if kv in QUANTIZED_KV:
        b.opt(QUANT_INPUTS, "--kv_cache_dtype", kv.value)
    if _is_awq(fmt):
        b.opt(QUANT_INPUTS, "--awq_block_size", d.r.spec.quantization.group_size)
    _quantize_calibration(b, d, cal, dataset)
    _parallelism(b, d)
    return b


def _is_awq(fmt: QuantFormat) -> bool:
    """quantize.py's own test for its AWQ calib_size cap is the substring."""
    return "awq" in fmt.value


def _quantize_calibration(b: Argv, d: Decided, cal: Calibration, dataset: str) -> None:
    release = d.r.release
    awq = _is_awq(d.format.value)
    samples = min(cal.samples, AWQ_CALIB_CAP) if awq else cal.samples
    passed = ["samples"]
    surface = quantize_surface(d.r)
    if surface.has("--calib_dataset"):
        b.opt(QUANT_INPUTS, "--calib_dataset", dataset)
        passed.append("dataset")
    b.opt(QUANT_INPUTS, "--calib_size", samples)
    if surface.has("--calib_max_seq_length"):
        b.opt(QUANT_INPUTS, "--calib_max_seq_length", cal.seq_len)
        passed.append("seq_len")
    if surface.has("--seed"):
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


def convert_argv(d: Decided, model: Arg, gptq_weights: str | None, weights_aspect: str = QUANT_INPUTS,
                 dataset: str = "") -> Argv:
    """convert_checkpoint.py of the model's family, with llama's flags.

    `model` is the Hugging Face folder (an AutoAWQ checkpoint is one); `gptq_weights` the GPTQ
    safetensors file, filed under `weights_aspect` (the GPTQ step's output, or a given checkpoint).
    """
    b = Argv()
    _io(b, ("python3", convert_script(d)), model)
    b.opt(QUANT_INPUTS, "--dtype", d.r.spec.model.dtype.value)
    _convert_format(b, d, gptq_weights, weights_aspect)
    if d.route.calibrator == CONVERT and d.calibration is not None:
        _convert_calibration(b, d, d.calibration, dataset)
    _parallelism(b, d)
    return b


def _convert_format(b: Argv, d: Decided, gptq_weights: str | None, weights_aspect: str) -> None:
    for flag, value in convert_quant_flags(d):
        if value is None:
            b.add(QUANT_INPUTS, flag)
        else:
            b.opt(QUANT_INPUTS, flag, value)
    if d.format.value is QuantFormat.INT4_GPTQ and gptq_weights is not None:
        flag = str(fact(d.r, "gptq_checkpoint_flag"))
        b.opt(weights_aspect, flag, gptq_weights)
        b.note("quantization.checkpoint_flag", flag, f"convert_checkpoint.py of TensorRT-LLM {d.r.release.version} "
               "reads GPTQ weights from this flag (--ammo_quant_ckpt_path at 0.8/0.9, "
               "--modelopt_quant_ckpt_path at 0.10, --quant_ckpt_path from 0.11), as one safetensors file")


def _convert_calibration(b: Argv, d: Decided, cal: Calibration, dataset: str) -> None:
    release = d.r.release
    surface, passed = convert_surface(d.r), []
    if surface.has("--calib_dataset"):
        b.opt(QUANT_INPUTS, "--calib_dataset", dataset if cal.local else CONVERT_DATASET_NAMES.get(dataset, dataset))
        passed.append("dataset")
    for flag, value, name in (("--calib_size", cal.samples, "samples"), ("--calib_max_seq_length", cal.seq_len,
                                                                          "seq_len")):
        if surface.has(flag):
            b.opt(QUANT_INPUTS, flag, value)
            passed.append(name)
    _calibration_note(b, cal, f"convert_checkpoint.py of TensorRT-LLM {release.version}", tuple(passed))


def build_argv(d: Decided, checkpoint_dir: str) -> Argv:
    """trtllm-build with every limit explicit and the decided plugins in the release's flags."""
    b = Argv()
    b.add(TOOL, "trtllm-build")
    b.opt(UPSTREAM, "--checkpoint_dir", checkpoint_dir)
    b.opt(TOOL, "--output_dir", Var(STEP_OUT))
    _limits(b, d)
    _plugins(b, d)
    if build_surface(d.r).has("--gpus_per_node"):
        # The engine's mapping keeps it and the runtime selects device rank % gpus_per_node (default 8).
        b.opt(PARALLELISM, "--gpus_per_node", d.topology.gpus_per_node)
        b.note("target.gpus_per_node", f"trtllm-build --gpus_per_node {d.topology.gpus_per_node}",
               "the engine records it and each rank uses device rank % gpus_per_node (trtllm-build defaults to 8)")
    b.opt(BUILD_ARGS, "--workers", d.r.spec.build.workers)
    return b


def _limits(b: Argv, d: Decided) -> None:
    limits, release = d.limits, d.r.release
    b.opt(BUILD_ARGS, "--max_batch_size", limits.max_batch_size)
    b.opt(BUILD_ARGS, "--max_input_len", limits.max_input_len)
    if not build_surface(d.r).has("--max_seq_len"):
        b.opt(BUILD_ARGS, "--max_output_len", limits.max_output_len)
        b.note("limits.length", f"--max_output_len {limits.max_output_len}",
               f"trtllm-build of TensorRT-LLM {release.version} takes the output length itself (no --max_seq_len)")
    else:
        b.opt(BUILD_ARGS, "--max_seq_len", limits.max_seq_len)
        b.note("limits.length", f"--max_seq_len {limits.max_seq_len}",
               f"trtllm-build of TensorRT-LLM {release.version} takes max_input_len + max_output_len = "
               f"{limits.max_input_len} + {limits.max_output_len} as --max_seq_len")
    b.opt(BUILD_ARGS, "--max_beam_width", limits.max_beam_width)
    b.opt(BUILD_ARGS, "--max_num_tokens", limits.max_num_tokens.value)


def _plugins(b: Argv, d: Decided) -> None:
    """Plugin flags: dtypes and the in-flight-batching toggles always, the rest when not the release default."""
    b.opt(BUILD_ARGS, "--gpt_attention_plugin", str(d.value("plugins.gpt_attention")))
    b.opt(BUILD_ARGS, "--gemm_plugin", str(d.value("plugins.gemm")))
    paged = d.on("plugins.paged_kv_cache")
    if fact(d.r, "build_kv_cache_flag")["flag"] == "--kv_cache_type":  # --paged_kv_cache is deprecated there
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
    if build_surface(d.r).has("--multi_block_mode") and d.setting("plugins.multi_block_mode").written:
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
    flag = build_surface(d.r).fact("--use_fused_mlp")
    if flag is not None and flag.kind != SWITCH:
        b.opt(BUILD_ARGS, "--use_fused_mlp", ENABLE[setting.value is True])
    elif setting.value is True:
        b.add(BUILD_ARGS, "--use_fused_mlp")  # a store_true switch before 0.13, off unless given
    else:
        b.note("plugins.use_fused_mlp", "not passed", f"trtllm-build of TensorRT-LLM {d.r.release.version} takes "
               "--use_fused_mlp as a switch that is off unless given, so disable means leaving it out")


# --- what each rank runs ---------------------------------------------------------------------


def tokenizer_arg(d: Decided) -> Arg:
    """The tokenizer folder: the model folder (overridable at run time) unless model.tokenizer names another."""
    if d.r.spec.model.tokenizer is None or d.r.tokenizer_dir is None:
        return Var(MODEL_DIR)
    return d.r.tokenizer_dir


def _runtime_multi_block(b: Argv, d: Decided) -> None:
    """run.py's --multi_block_mode, where multi-block attention is a runtime setting (a switch, or True/False)."""
    setting, flag = d.setting("plugins.multi_block_mode"), run_surface(d.r).fact("--multi_block_mode")
    if not setting.written or flag is None or build_surface(d.r).has("--multi_block_mode"):
        return
    if flag.kind == SWITCH:
        if setting.value is True:
            b.add(LAUNCH, "--multi_block_mode")
        b.note("plugins.multi_block_mode", "--multi_block_mode" if setting.value else "not passed",
               f"run.py of TensorRT-LLM {d.r.release.version} takes --multi_block_mode as a switch")
        return
    value = "True" if setting.value is True else "False"
    b.opt(LAUNCH, "--multi_block_mode", value)
    b.note("plugins.multi_block_mode", f"run.py --multi_block_mode {value}",
           f"multi-block attention is a run.py setting in TensorRT-LLM {d.r.release.version}, not a build flag")


def _serve_backend_name(d: Decided) -> str:
    """trtllm-serve's name for the engine path in this release: trt in 1.0, tensorrt from 1.1 (PR #7829;
    compiler/catalog/tools/trtllm-serve.yaml)."""
    flag = tools.surface("trtllm-serve", d.r.release.exact, "serve").fact("--backend")
    return "tensorrt" if flag is not None and "tensorrt" in flag.choices else "trt"


def rank_program(d: Decided, engine: Step) -> RankProgram:
    """run.py's smoke generation, or trtllm-serve on the engine (1.x), per rank."""
    b = Argv()
    r = d.r
    if r.spec.launch.entrypoint is Entrypoint.SERVE:
        serve = r.spec.launch.serve
        b.add(TOOL, "trtllm-serve")
        b.add(UPSTREAM, engine.output)
        b.opt(LAUNCH, "--backend", _serve_backend_name(d))
        b.opt(LAUNCH, "--host", serve.host)
        b.opt(LAUNCH, "--port", serve.port)
        b.opt(LAUNCH, "--tokenizer", tokenizer_arg(d))
        # The engine fixes tp and pp; passing them keeps the server's mapping from falling back to its default of 1.
        b.opt(PARALLELISM, "--tp_size", d.topology.tp)
        b.opt(PARALLELISM, "--pp_size", d.topology.pp)
        if r.is_written("target.gpus_per_node"):  # the runtime picks device rank % gpus_per_node
            b.opt(PARALLELISM, "--gpus_per_node", d.topology.gpus_per_node)
        b.note("launch.entrypoint", "trtllm-serve", "on 1.x trtllm-serve serves a TensorRT engine through the LLM API, "
               "which starts one worker per rank on this node itself (under trtllm-llmapi-launch across nodes)")
        return RankProgram(b, "serve", engine.output, (engine,), spawns_workers=True,
                           multinode_wrapper=MULTINODE_WRAPPER, port=serve.port, health_path=HEALTH_PATH)
    run = r.spec.launch.run
    b.add(TOOL, "python3", RUN_SCRIPT)
    b.opt(UPSTREAM, "--engine_dir", engine.output)
    b.opt(LAUNCH, "--tokenizer_dir", tokenizer_arg(d))
    b.opt(LAUNCH, "--max_output_len", run.max_output_len)
    b.opt(LAUNCH, "--max_input_length", d.limits.max_input_len)
    b.opt(LAUNCH, "--input_text", run.input_text)
    _runtime_multi_block(b, d)
    return RankProgram(b, "run", engine.output, (engine,))
