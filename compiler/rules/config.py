"""C rules: do the limits, plugins and calibration settings make an engine that builds and serves?

The values checked are the decided ones (compiler.decide): the route says who
calibrates and whether a checkpoint is read; the settings hold each plugin with the
release's default. Sources: TensorRT-LLM's builder.py and plugin.py per release, the
issues quoted per rule, and seed 002 (in-flight batching needs three plugins; when
multi-block mode helps).
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.findings import Finding, Severity
from compiler.backends.tensorrt import (
    AWQ_CALIB_CAP,
    CHECKPOINT_FORMATS,
    FP8_FMHA_MIN_SM,
    FP8_PAGED_CONTEXT_FORMATS,
    fact,
    fp8_context_fmha_sms,
    paged_context_fmha_effective,
)
from compiler.decide.model import Decided, Origin
from compiler.rules import ENGINE, draft, gaps_of, rule
from compiler.spec import AutoToggle, Entrypoint, KvCacheDtype, QuantFormat

# Seed 002's test is batch × heads < SM count / 2; the catalog has no SM counts, so half of a
# typical 128-SM part stands in. Prompts above 1024 tokens are "long enough" (seed 002).
MULTI_BLOCK_PARALLELISM = 64
MULTI_BLOCK_MIN_INPUT = 1024
# 0.16 builder warns above this max_num_tokens (builder.py @ aaacc9bd, check_max_num_tokens).
MAX_NUM_TOKENS_WARN = 16384
# The paged context FMHA setting C105 checks.
KEY = "plugins.use_paged_context_fmha"
# Weight-only formats: TensorRT-LLM quantizes their weights without calibration data.
WEIGHT_ONLY = frozenset({QuantFormat.NONE, QuantFormat.INT8_WO, QuantFormat.INT4_WO})


@rule(
    "C101", "sequence-longer-than-positions", Severity.ERROR,
    "max_input_len + max_output_len exceeds the model's max_position_embeddings.",
    why="Positions beyond what the model was trained on give garbage unless RoPE scaling stretches them; the "
    "0.16 builder warns when max_seq_len exceeds max_position_embeddings × the rotary factor (reference §4, "
    "§6 #7).",
    bad="model: {name: llama-2-7b}   # 4096 positions\nlimits: {max_input_len: 4096, max_output_len: 1024}\n",
    good="model: {name: llama-2-7b}\nlimits: {max_input_len: 3072, max_output_len: 1024}\n",
    hint="lower max_input_len or max_output_len",
)
def sequence_longer_than_positions(d: Decided) -> Iterator[Finding]:
    r = d.r
    lim = d.limits
    seq, positions = lim.max_seq_len, r.model.max_position_embeddings
    if seq <= positions:
        return
    key = r.first_written("limits.max_output_len", "limits.max_input_len", "limits")
    text = f"max_input_len + max_output_len = {lim.max_input_len} + {lim.max_output_len} = {seq} exceeds " \
           f"max_position_embeddings ({positions})"
    fix = f"keep max_input_len + max_output_len at most {positions}"
    if r.model.rope_scaling is None:
        yield draft(key, text, fix)
        return
    factor = dict(r.model.rope_scaling).get("factor", "?")
    yield draft(key, f"{text}; the model's rope_scaling (factor {factor}) must carry it", fix, Severity.WARNING)


@rule(
    "C102", "prompt-longer-than-max-num-tokens", Severity.ERROR,
    "max_input_len is above max_num_tokens and chunked context is off (paged context FMHA on the engine path, "
    "chunked prefill on the PyTorch backend).",
    why="With packed input and context FMHA, one engine step holds at most max_num_tokens tokens; a longer "
    "prompt is refused unless it is split into chunks, which needs use_paged_context_fmha (#2702, #977). The "
    "PyTorch backend splits prompts with enable_chunked_prefill, which trtdeploy turns on by default there.",
    bad="limits: {max_input_len: 16384, max_num_tokens: 8192}\nplugins: {use_paged_context_fmha: disable}\n"
    "target: {backend: tensorrt}\n",
    good="limits: {max_input_len: 16384, max_num_tokens: 8192}\nplugins: {use_paged_context_fmha: enable}\n"
    "target: {backend: tensorrt}\n",
    hint="raise limits.max_num_tokens to max_input_len, or set plugins.use_paged_context_fmha: enable",
)
def prompt_longer_than_max_num_tokens(d: Decided) -> Iterator[Finding]:
    r = d.r
    limits, tokens = d.limits, d.limits.max_num_tokens.value
    if "runtime.enable_chunked_prefill" in d.settings:  # the PyTorch backend
        if limits.max_input_len > tokens and not d.on("runtime.enable_chunked_prefill"):
            yield draft(r.first_written("runtime.enable_chunked_prefill", "limits.max_num_tokens"),
                        f"max_input_len ({limits.max_input_len}) exceeds max_num_tokens ({tokens}) and chunked "
                        "prefill is off, so the longest prompts would be refused",
                        f"raise limits.max_num_tokens to {limits.max_input_len}, or set "
                        "runtime.enable_chunked_prefill: enable")
        return
    packed = d.on("plugins.remove_input_padding") and d.on("plugins.context_fmha")
    if not packed or limits.max_input_len <= tokens or paged_context_fmha_effective(d):
        return
    fix = f"raise limits.max_num_tokens to {limits.max_input_len}"
    if d.kv_cache.value is not KvCacheDtype.INT8:  # C105: int8 KV rules paged context FMHA out
        fix += ", or set plugins.use_paged_context_fmha: enable (chunked context)"
    yield draft(r.first_written("limits.max_num_tokens", "limits.max_input_len", "limits"),
                f"max_input_len ({limits.max_input_len}) exceeds max_num_tokens ({tokens}) and paged context FMHA "
                f"is off ({d.setting('plugins.use_paged_context_fmha').reason or 'as written'}), so the longest "
                "prompts would be refused", fix)


def _ifb_blockers(d: Decided) -> list[str]:
    """Plugin keys that are disabled although in-flight batching needs them."""
    if "plugins.gpt_attention" not in d.settings:
        return []
    blocked = []
    if d.value("plugins.gpt_attention") == "disable":
        blocked.append("plugins.gpt_attention")
    for key in ("plugins.remove_input_padding", "plugins.paged_kv_cache"):
        if not d.on(key):
            blocked.append(key)
    return blocked


@rule(
    "C103", "inflight-batching-disabled", Severity.ERROR,
    "A plugin that in-flight batching needs is disabled.",
    why="In-flight batching needs the GPT attention plugin, packed input (remove_input_padding) and a paged KV "
    "cache together (seed 002; reference §4). A server without it batches statically: finished requests hold "
    "their slot until the whole batch ends.",
    bad="plugins: {remove_input_padding: disable}\nlaunch: {entrypoint: serve}\n",
    good="plugins: {remove_input_padding: enable}\nlaunch: {entrypoint: serve}\n",
    hint="leave gpt_attention, remove_input_padding and paged_kv_cache enabled",
    backends=ENGINE,
)
def inflight_batching_disabled(d: Decided) -> Iterator[Finding]:
    r = d.r
    blocked = _ifb_blockers(d)
    serve = r.spec.launch.entrypoint is Entrypoint.SERVE
    # paged_kv_cache alone off for a smoke run is C111's note.
    if not blocked or (not serve and blocked == ["plugins.paged_kv_cache"]):
        return
    names = ", ".join(key.split(".")[1] for key in blocked)
    severity = None if serve else Severity.WARNING
    use = "a server" if serve else "this engine if it is served later"
    fixes = [f"{key}: {'auto' if key == 'plugins.gpt_attention' else 'enable'}" for key in blocked]
    yield draft(blocked[0], f"{names} disabled: in-flight batching is off for {use}", f"set {', '.join(fixes)}",
                severity)


@rule(
    "C104", "multi-block-mode-advised", Severity.NOTE,
    "Few attention blocks per step and long prompts: multi-block mode would likely help.",
    why="When max_batch_size × num_heads (per rank) is below half the SM count and the context is long "
    "(> 1024 tokens), generation-phase attention leaves SMs idle; multi-block mode splits each sequence over "
    "several blocks (seed 002). It is a build flag, default off, on 0.8-0.10, and on by default at runtime "
    "from 0.13.",
    bad="model: {name: llama-2-7b}\nlimits: {max_batch_size: 1, max_input_len: 2048}\n"
    "target: {tensorrt_llm: '0.8.0'}\n",
    good="model: {name: llama-2-7b}\nlimits: {max_batch_size: 1, max_input_len: 2048}\n"
    "plugins: {multi_block_mode: enable}\ntarget: {tensorrt_llm: '0.8.0'}\n",
    hint="set plugins.multi_block_mode: enable",
    backends=ENGINE,
)
def multi_block_mode_advised(d: Decided) -> Iterator[Finding]:
    r = d.r
    if "plugins.multi_block_mode" not in d.settings:
        return
    lim, tp = d.limits, d.topology.tp
    blocks = lim.max_batch_size * r.model.num_attention_heads / tp
    if blocks >= MULTI_BLOCK_PARALLELISM or lim.max_input_len <= MULTI_BLOCK_MIN_INPUT or \
            d.on("plugins.multi_block_mode"):
        return
    setting = d.setting("plugins.multi_block_mode")
    fix = "set plugins.multi_block_mode: enable"
    if setting.written and setting.value is False:
        fix = f"remove plugins.multi_block_mode: disable ({setting.reason or 'the release decides'})"
    yield draft(r.first_written("plugins.multi_block_mode", "limits.max_batch_size", "limits"),
                f"max_batch_size × num_attention_heads / tp = {lim.max_batch_size} × {r.model.num_attention_heads}"
                f" / {tp} = {blocks:g} < {MULTI_BLOCK_PARALLELISM} with max_input_len {lim.max_input_len} > "
                f"{MULTI_BLOCK_MIN_INPUT}, and multi-block mode is off", fix)


@rule(
    "C105", "quantized-kv-with-paged-context-fmha", Severity.ERROR,
    "Paged context FMHA is enabled with an int8 or fp8 KV cache that the release's builder refuses or turns it off "
    "for.",
    why="Paged context FMHA with a quantized KV cache, per builder.py: 0.8.0 does not check the combination; from "
    "0.9.0 an int8 KV cache raises 'Paged Context FMHA doesn't work with int8 kv cache currently.' (0.9.0: "
    "'... with fp8/int8 kv cache', for fp8 too); from 0.10.0 an fp8 KV cache raises 'FP8 Paged Context FMHA only "
    "works with fp8 quantization workflow currently.' unless the checkpoint is FP8, for which the builder turns "
    "FP8 context FMHA on (the attention plugin then needs SM90 before 0.12, SM89/SM90 until 0.17). From 0.17 the "
    "builder turns paged context FMHA off with a warning instead (int8; fp8 unless an FP8, W4A8_AWQ or NVFP4 "
    "checkpoint on SM89+). Where it is on by default trtdeploy turns it off itself and says so, so only an explicit "
    "enable is reported (releases.yaml builder_int8_kv_with_paged_context_fmha, "
    "builder_fp8_kv_with_paged_context_fmha).",
    bad="quantization: {format: int8_sq, kv_cache: int8, calibration: {}}\n"
    "plugins: {use_paged_context_fmha: enable}\ntarget: {gpu: A100-SXM-80GB, tensorrt_llm: '0.16.0'}\n",
    good="quantization: {format: int8_sq, kv_cache: int8, calibration: {}}\n"
    "plugins: {use_paged_context_fmha: auto}\ntarget: {gpu: A100-SXM-80GB, tensorrt_llm: '0.16.0'}\n",
    hint="set plugins.use_paged_context_fmha: auto or disable (or, for an fp8 KV cache, use format fp8)",
    backends=ENGINE,
)
def quantized_kv_with_paged_context_fmha(d: Decided) -> Iterator[Finding]:
    # Where paged context FMHA is on by default, the decision already turned it off where the builder would; what
    # is left on was written, or is kept by the builder (an fp8 KV cache with an FP8-family checkpoint).
    if KEY not in d.settings or not d.on(KEY):
        return
    if d.kv_cache.value is KvCacheDtype.INT8:
        yield from _int8_kv_paged_context(d)
    elif d.kv_cache.value is KvCacheDtype.FP8:
        yield from _fp8_kv_paged_context(d)


UNCHECKED = ("the builder of TensorRT-LLM {version} does not check the combination, which 0.9.0 refuses as not "
             "working: the engine builds, but its context phase is untested with an {kv} KV cache")


def _int8_kv_paged_context(d: Decided) -> Iterator[Finding]:
    builder, version = fact(d.r, "builder_int8_kv_with_paged_context_fmha"), d.r.release.version
    said = "use_paged_context_fmha is enabled with an int8 KV cache; "
    if builder == "error":
        # 0.9.0 refuses both quantized KV caches in one message (builder.py @ 250d9c29).
        kinds = "fp8/int8" if fact(d.r, "builder_fp8_kv_with_paged_context_fmha") == "error" else "int8"
        yield draft(KEY, said + f"the builder of TensorRT-LLM {version} refuses it ('Paged Context FMHA doesn't "
                    f"work with {kinds} kv cache currently.')")
    elif builder == "disabled_with_warning":
        yield draft(KEY, said + f"the builder of TensorRT-LLM {version} turns it off and warns ('Paged Context "
                    "FMHA is disabled because it doesn't work with int8 kv cache currently.'): no chunked context or "
                    "KV-cache reuse", "", Severity.WARNING)
    else:
        yield draft(KEY, said + UNCHECKED.format(version=version, kv="int8"), "", Severity.WARNING)


def _fp8_kv_paged_context(d: Decided) -> Iterator[Finding]:
    r, fmt = d.r, d.format.value.value
    builder, version = fact(r, "builder_fp8_kv_with_paged_context_fmha"), r.release.version
    said = f"use_paged_context_fmha is enabled with an fp8 KV cache ({fmt} weights); "
    if builder == "unchecked":
        yield draft(KEY, said + UNCHECKED.format(version=version, kv="fp8"), "", Severity.WARNING)
    elif builder == "error":
        yield draft(KEY, said + f"the builder of TensorRT-LLM {version} refuses it ('Paged Context FMHA doesn't "
                    "work with fp8/int8 kv cache currently.')")
    elif builder == "error_unless_fp8_checkpoint" and fmt != QuantFormat.FP8.value:
        yield draft(KEY, said + f"the builder of TensorRT-LLM {version} refuses it for anything but an FP8 "
                    "checkpoint ('FP8 Paged Context FMHA only works with fp8 quantization workflow currently.')")
    elif builder == "disabled_with_warning_unless_fp8_checkpoint" and not fp8_paged_context_kept(d):
        yield draft(KEY, said + f"the builder of TensorRT-LLM {version} keeps it only for an FP8, W4A8_AWQ or NVFP4 "
                    f"checkpoint on SM{FP8_FMHA_MIN_SM}+, so it turns it off here and warns", "", Severity.WARNING)
    else:
        yield from _fp8_context_fmha_forced_on(d)


def fp8_paged_context_kept(d: Decided) -> bool:
    """Whether a 0.17+ builder keeps paged context FMHA with an fp8 KV cache (builder.py @ 008b2b8d)."""
    return d.format.value.value in FP8_PAGED_CONTEXT_FORMATS and d.r.gpu.sm >= FP8_FMHA_MIN_SM


def _fp8_context_fmha_forced_on(d: Decided) -> Iterator[Finding]:
    """Paged context FMHA on an fp8 KV cache makes the builder turn FP8 context FMHA on, whatever the spec says
    ('FP8 Context FMHA is enabled ... to support FP8 Paged Context FMHA', builder.py from 0.10.0)."""
    r = d.r
    sms = fp8_context_fmha_sms(r) or ()
    fmha = fact(r, "builder_fp8_context_fmha")
    if fmha.get("elsewhere") == "error" and r.gpu.sm not in sms:
        where = " and ".join(f"SM{sm}" for sm in sms)
        yield draft(KEY, f"with an fp8 KV cache the builder of TensorRT-LLM {r.release.version} turns FP8 context "
                    f"FMHA on for paged context FMHA, and runs it on {where} only: on {r.gpu.id} (SM{r.gpu.sm}) the "
                    f"build stops ('{fmha['message']}')", "set plugins.use_paged_context_fmha: auto or disable")
    elif r.spec.plugins.use_fp8_context_fmha is AutoToggle.DISABLE:
        yield draft("plugins.use_fp8_context_fmha", "use_fp8_context_fmha: disable has no effect here: with paged "
                    f"context FMHA on an fp8 KV cache the builder of TensorRT-LLM {r.release.version} turns FP8 "
                    "context FMHA on ('FP8 Context FMHA is enabled ... to support FP8 Paged Context FMHA')",
                    "remove plugins.use_fp8_context_fmha, or disable paged context FMHA", Severity.WARNING)


@rule(
    "C106", "calibration-missing", Severity.ERROR,
    "The format (or the KV-cache dtype) needs calibration data and the spec gives none.",
    why="AWQ, GPTQ, SmoothQuant, FP8, w4a8 and NVFP4 compute scales from sample activations, and so do int8 "
    "and fp8 KV caches (quantize.py, convert_checkpoint.py --int8_kv_cache). Writing the dataset down makes the "
    "quantized checkpoint reproducible and part of its fingerprint. Before 0.14 the build sets every FP8 KV "
    "scale to 1.0, so an fp8 KV cache alone needs no calibration data there (C116).",
    bad="quantization: {format: fp8}\n",
    good="quantization:\n  format: fp8\n  calibration: {dataset: cnn_dailymail, samples: 512, seq_len: 512}\n",
    hint="add a quantization.calibration block",
)
def calibration_missing(d: Decided) -> Iterator[Finding]:
    r, fmt = d.r, d.format.value
    if r.spec.quantization.calibration is not None or not d.route.calibrates:
        return
    samples = AWQ_CALIB_CAP if "awq" in fmt.value else 512
    # Weight-only formats (and none) calibrate only for KV-cache scales, where the same tool writes them.
    kv_alone = d.route.kv_quantizer == d.route.calibrator and fmt in WEIGHT_ONLY
    if kv_alone and fp8_kv_scales_discarded(d):
        return  # C116: the build sets the KV scales to 1.0, so no calibration data changes the engine
    weights_calibrate = not kv_alone
    what = fmt.value if weights_calibrate else f"an {d.kv_cache.value.value} KV cache"
    if weights_calibrate and d.format.origin is Origin.DECIDED:
        what += " (picked by format: auto)"
    key = "quantization.format" if weights_calibrate else "quantization.kv_cache"
    also = " (or, for int4_gptq/int4_awq, a pre-quantized quantization.checkpoint)" \
        if fmt in CHECKPOINT_FORMATS else ""
    yield draft(r.first_written(key, "quantization"), f"{what} needs calibration data, and quantization.calibration "
                "is not given",
                f"add under quantization: `calibration: {{dataset: cnn_dailymail, samples: {samples}, seq_len: 512}}`"
                f"{also}")


@rule(
    "C107", "checkpoint-not-read", Severity.ERROR,
    "quantization.checkpoint is given with a format that does not start from one.",
    why="Only the GPTQ path (convert_checkpoint --quant_ckpt_path, asserted valid only for int4_gptq/int8_gptq) "
    "and AutoAWQ checkpoints (convert's int4_awq) read a pre-quantized checkpoint (reference §1.3); other "
    "formats would silently quantize the original model instead.",
    bad="quantization: {format: fp8, checkpoint: ./llama-gptq}\n",
    good="quantization: {format: int4_gptq, checkpoint: ./llama-gptq}\n",
    hint="use format int4_gptq or int4_awq for a pre-quantized checkpoint, or remove quantization.checkpoint",
)
def checkpoint_not_read(d: Decided) -> Iterator[Finding]:
    r = d.r
    if r.checkpoint_dir is None or d.route.reads_checkpoint:
        return
    readers = " or ".join(sorted(f.value for f in CHECKPOINT_FORMATS))
    yield draft("quantization.checkpoint", f"format {d.format.value.value} does not read quantization.checkpoint; only "
                f"{readers} do", f"use format {readers}, or remove quantization.checkpoint")


@rule(
    "C108", "awq-calibration-samples-capped", Severity.NOTE,
    "AWQ calibration asks for more than 32 samples; quantize.py uses 32.",
    why="quantize.py caps calib_size at 32 for every *awq* qformat with a logged notice (reference §1.2); the "
    "planner passes 32 so that the plan says what really runs.",
    bad="quantization: {format: int4_awq, calibration: {samples: 512}}\n",
    good="quantization: {format: int4_awq, calibration: {samples: 32}}\n",
    hint="set quantization.calibration.samples: 32",
    backends=ENGINE,
)
def awq_calibration_samples_capped(d: Decided) -> Iterator[Finding]:
    r = d.r
    calib = r.spec.quantization.calibration
    # The tool's own test is the substring, so this mirrors it exactly.
    awq = "awq" in d.format.value.value and d.route.calibrator == "quantize.py"
    if calib is None or not awq or calib.samples <= AWQ_CALIB_CAP:
        return
    if r.is_written("quantization.calibration.samples"):
        yield draft("quantization.calibration.samples", f"{calib.samples} calibration samples asked for; quantize.py "
                    f"uses at most {AWQ_CALIB_CAP} for {d.format.value.value}", "")


@rule(
    "C109", "max-num-tokens-large", Severity.WARNING,
    "max_num_tokens is above 16384.",
    why="Activation buffers grow with max_num_tokens, and the builder warns above 16384 (0.16 "
    "check_max_num_tokens; reference §4). Longer prompts are better served by chunked context.",
    bad="limits: {max_input_len: 32768, max_num_tokens: 32768}\n",
    good="limits: {max_input_len: 32768, max_num_tokens: 8192}\nplugins: {use_paged_context_fmha: enable}\n",
    hint="set limits.max_num_tokens: 16384 or lower, with use_paged_context_fmha: enable for longer prompts",
    backends=ENGINE,
)
def max_num_tokens_large(d: Decided) -> Iterator[Finding]:
    r, tokens = d.r, d.limits.max_num_tokens
    if tokens.value > MAX_NUM_TOKENS_WARN:
        source = "" if tokens.written else " (by default, to hold the longest prompt)"
        yield draft(r.first_written("limits.max_num_tokens", "limits.max_input_len", "limits"),
                    f"max_num_tokens is {tokens.value}{source}, above {MAX_NUM_TOKENS_WARN}", "")


@rule(
    "C111", "paged-kv-cache-disabled", Severity.NOTE,
    "The paged KV cache is disabled, so in-flight batching is off.",
    why="Packed input without a paged KV cache builds and runs, but requests are batched statically: "
    "in-flight batching needs the paged KV cache too (seed 002).",
    bad="plugins: {paged_kv_cache: disable}\n",
    good="plugins: {paged_kv_cache: enable}\n",
    hint="remove plugins.paged_kv_cache: disable unless static batching is intended",
    backends=ENGINE,
)
def paged_kv_cache_disabled(d: Decided) -> Iterator[Finding]:
    r = d.r
    # For a server, or with other IFB plugins off too, C103 reports it instead.
    if _ifb_blockers(d) == ["plugins.paged_kv_cache"] and r.spec.launch.entrypoint is Entrypoint.RUN:
        yield draft("plugins.paged_kv_cache", "paged_kv_cache is disabled with packed input enabled: in-flight "
                    "batching is off and the engine batches statically", "")


@rule(
    "C112", "engine-setting-has-no-effect", Severity.WARNING,
    "The spec writes an engine-build setting, and the PyTorch backend has no such setting.",
    why="Plugins, build workers and the engine's attention toggles configure trtllm-build; the PyTorch backend "
    "builds nothing and chooses kernels itself. A setting that silently does nothing would mislead a reviewer, "
    "so each one is reported with what the PyTorch backend does instead (or its LLM-API counterpart).",
    bad="plugins: {use_paged_context_fmha: enable}\ntarget: {gpu: H100-SXM, tensorrt_llm: '1.2.0', backend: pytorch}\n",
    good="runtime: {enable_chunked_prefill: enable}\n"
    "target: {gpu: H100-SXM, tensorrt_llm: '1.2.0', backend: pytorch}\n",
    hint="remove the setting, or use its runtime.* counterpart",
    backends=("pytorch",),
)
def engine_setting_has_no_effect(d: Decided) -> Iterator[Finding]:
    for key, setting in d.settings.items():
        if setting.written and setting.value is None:
            yield draft(key, f"{key} is set, but it does nothing on the PyTorch backend ({setting.reason})", "")


@rule(
    "C113", "cuda-graph-batch-above-max-batch", Severity.ERROR,
    "A CUDA-graph batch size is above max_batch_size.",
    why="The PyTorch backend captures a graph per listed batch size; a batch above max_batch_size is never "
    "scheduled, so its graph only costs memory, and TorchLlmArgs checks cuda_graph_config.max_batch_size against "
    "the batch sizes (llm_args.py, CudaGraphConfig).",
    bad="limits: {max_batch_size: 8}\nruntime: {cuda_graphs: {batch_sizes: [1, 8, 64]}}\n",
    good="limits: {max_batch_size: 64}\nruntime: {cuda_graphs: {batch_sizes: [1, 8, 64]}}\n",
    hint="capture batch sizes up to limits.max_batch_size",
    backends=("pytorch",),
)
def cuda_graph_batch_above_max_batch(d: Decided) -> Iterator[Finding]:
    graphs, most = d.r.spec.runtime.cuda_graphs, d.limits.max_batch_size
    above = sorted({b for b in graphs.batch_sizes or () if b > most} | (
        {graphs.max_batch_size} if graphs.max_batch_size and graphs.max_batch_size > most else set()))
    if graphs.enabled and above:
        key = d.r.first_written("runtime.cuda_graphs.batch_sizes", "runtime.cuda_graphs.max_batch_size")
        yield draft(key, f"CUDA-graph batch sizes {above} are above max_batch_size ({most})",
                    f"keep batch sizes at most {most}, or raise limits.max_batch_size")


@rule(
    "C114", "kv-cache-dtype-differs-from-checkpoint", Severity.WARNING,
    "The KV-cache dtype differs from what the given checkpoint was calibrated for.",
    why="A ModelOpt checkpoint records kv_cache_quant_algo in hf_quant_config.json with its KV scales. "
    "kv_cache_config.dtype: fp8 forces an FP8 KV cache even without them (unit scales, lower accuracy), and "
    "a KV cache in the model dtype ignores scales the checkpoint carries (docs/source/features/quantization.md).",
    bad="quantization: {format: fp8, kv_cache: fp8, checkpoint: ./fp8-without-kv-scales}\n",
    good="quantization: {format: fp8, kv_cache: auto, checkpoint: ./fp8-without-kv-scales}\n",
    hint="match quantization.kv_cache to the checkpoint, or re-export it with the KV cache quantized",
    backends=("pytorch",),
)
def kv_cache_dtype_differs_from_checkpoint(d: Decided) -> Iterator[Finding]:
    facts = d.r.checkpoint
    if facts is None or facts.kind != "modelopt":
        return
    stored = (facts.kv_cache_quant_algo or "").lower() or None
    wanted = "fp8" if d.kv_cache.value is KvCacheDtype.FP8 else None
    if stored != wanted:
        yield draft(d.r.first_written("quantization.kv_cache", "quantization.checkpoint"),
                    f"the checkpoint's kv_cache_quant_algo is {facts.kv_cache_quant_algo or 'none'}, but the KV cache "
                    f"is {d.kv_cache.value.value}", "")


@rule(
    "C115", "cuda-graph-sizes-refused", Severity.ERROR,
    "runtime.cuda_graphs gives batch_sizes and max_batch_size that the release's CudaGraphConfig refuses together.",
    why="CudaGraphConfig validates the pair when both are given (tensorrt_llm/llmapi/llm_args.py): max_batch_size "
    "must be the largest of batch_sizes, and in some releases batch_sizes must be the very list generated from "
    "max_batch_size (compiler/catalog/pytorch/llm_api.yaml checks). trtllm-serve would stop at start-up.",
    bad="runtime: {cuda_graphs: {batch_sizes: [1, 2], max_batch_size: 8}}\n"
    "target: {gpu: H100-SXM, tensorrt_llm: '1.2.0', backend: pytorch}\n",
    good="runtime: {cuda_graphs: {batch_sizes: [1, 2, 8]}}\ntarget: {gpu: H100-SXM, tensorrt_llm: '1.2.0', "
    "backend: pytorch}\n",
    hint="give batch_sizes alone (max_batch_size follows), or max_batch_size alone (the sizes are generated)",
    backends=("pytorch",),
)
def cuda_graph_sizes_refused(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "C115")


def fp8_kv_scales_discarded(d: Decided) -> bool:
    """An fp8 KV cache on the engine path of a release whose build sets every KV scale to 1.0."""
    return (d.backend.value.value in ENGINE and d.kv_cache.value is KvCacheDtype.FP8
            and bool(fact(d.r, "fp8_kv_scales_discarded")))


@rule(
    "C116", "fp8-kv-cache-scales-discarded", Severity.NOTE,
    "An fp8 KV cache on a release whose engine build discards the calibrated KV-cache scales.",
    why="Up to 0.13 the build sets every kv_cache_scaling_factor of an FP8 KV cache to 1.0 ('FP8 "
    "kv_cache_scaling_factor is always 1.0': tensorrt_llm/commands/build.py @ 5955b8af, models/modeling_utils.py "
    "from 0.9.0; gone at 0.14.0.dev2024100100, releases.yaml fp8_kv_scales_discarded). quantize.py still "
    "calibrates and writes the scales, but the engine runs with unit scales: calibration data cannot change the "
    "engine, so C106 does not ask for it there.",
    bad="quantization: {format: none, kv_cache: fp8}\ntarget: {gpu: H100-SXM, tensorrt_llm: '0.8.0'}\n",
    good="quantization: {format: none, kv_cache: fp8, calibration: {}}\n"
    "target: {gpu: H100-SXM, tensorrt_llm: '0.14.0'}\n",
    hint="expect unit FP8 KV-cache scales; from 0.14.0 the engine keeps the calibrated ones",
    backends=ENGINE,
)
def fp8_kv_cache_scales_discarded(d: Decided) -> Iterator[Finding]:
    if fp8_kv_scales_discarded(d):
        yield draft(d.r.first_written("quantization.kv_cache", "quantization.format", "quantization"),
                    f"the engine build of TensorRT-LLM {d.r.release.version} sets every FP8 KV-cache scale to 1.0 "
                    "('FP8 kv_cache_scaling_factor is always 1.0'): the scales quantize.py calibrates are discarded",
                    "")
