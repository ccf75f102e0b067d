"""C rules: do the limits, plugins and calibration settings make an engine that builds and serves?

Facts from the release gates of compiler/plan/ and compiler/catalog/support.yaml (being
replaced by compiler/catalog/tools/*.yaml, releases.yaml and formats.yaml, which name the
upstream file and commit of each fact: plugin defaults per release, what calibrates, the
builder's checks); and seed 002 (in-flight batching needs three plugins; when multi-block mode helps).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from compiler.findings import Severity
from compiler.limits import effective_limits
from compiler.resolve import Resolved
from compiler.rules import Issue, rule
from compiler.rules.hardware import first_written, is_written
from compiler.spec import AutoToggle, Entrypoint, KvCacheDtype, PluginDtype, QuantFormat, Toggle
from compiler.versions import Release, ReleaseLine

# Formats whose quantizer needs calibration data (reference §1.2: int8_wo, int4_wo and
# full_prec run none; §2: GPTQ calibrates in its own step; ModelOpt calibrates nvfp4 too).
CALIBRATED_FORMATS = frozenset({
    QuantFormat.INT4_AWQ, QuantFormat.INT4_GPTQ, QuantFormat.INT8_SQ, QuantFormat.FP8, QuantFormat.W4A8_AWQ,
    QuantFormat.NVFP4,
})
# Formats whose convert step can start from an already-quantized checkpoint (reference §1.3:
# --quant_ckpt_path for GPTQ; AutoAWQ checkpoints through convert's int4_awq from 0.16).
CHECKPOINT_FORMATS = frozenset({QuantFormat.INT4_GPTQ, QuantFormat.INT4_AWQ})
# KV-cache dtypes that are quantized, so need calibrated scales.
QUANTIZED_KV = frozenset({KvCacheDtype.INT8, KvCacheDtype.FP8})
# use_paged_context_fmha defaults per line (reference §1.1 plugin flags, §7): on only from 1.x.
PAGED_CONTEXT_FMHA_DEFAULT = {ReleaseLine.V0_8: False, ReleaseLine.V0_12: False, ReleaseLine.V1: True}
# multi_block_mode is a runtime flag, on by default, from this release (reference §4).
MULTI_BLOCK_DEFAULT_ON_FROM = (0, 13)
# Seed 002's test is batch × heads < SM count / 2; the catalog has no SM counts, so half of a
# typical 128-SM part stands in. Prompts above 1024 tokens are "long enough" (seed 002).
MULTI_BLOCK_PARALLELISM = 64
MULTI_BLOCK_MIN_INPUT = 1024
# quantize.py caps calib_size at 32 for any *awq* qformat (reference §1.2).
AWQ_CALIB_CAP = 32
# 0.16 builder warns above this max_num_tokens (reference §4 max_num_tokens).
MAX_NUM_TOKENS_WARN = 16384


def paged_context_fmha_on(r: Resolved) -> bool:
    """Whether the engine gets paged context FMHA: as written, else the release line's default."""
    setting = r.spec.plugins.use_paged_context_fmha
    if setting is AutoToggle.AUTO:
        return PAGED_CONTEXT_FMHA_DEFAULT[r.release.line]
    return setting is AutoToggle.ENABLE


def _version(release: Release) -> tuple[int, int]:
    """(major, minor) of a release such as 0.12.0, 0.16 or 1.2.0rc2."""
    match = re.match(r"(\d+)\.(\d+)", release.version)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def multi_block_on(r: Resolved) -> bool:
    """Whether multi-block mode is on: as written, else on by default from 0.13 (a runtime flag there)."""
    setting = r.spec.plugins.multi_block_mode
    if setting is AutoToggle.AUTO:
        return _version(r.release) >= MULTI_BLOCK_DEFAULT_ON_FROM
    return setting is AutoToggle.ENABLE


def needs_calibration(r: Resolved) -> bool:
    """True when a quantizer will read calibration data for this spec."""
    from_checkpoint = r.checkpoint_dir is not None and r.format in CHECKPOINT_FORMATS
    return (r.format in CALIBRATED_FORMATS and not from_checkpoint) or r.kv_cache in QUANTIZED_KV


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
def sequence_longer_than_positions(r: Resolved) -> Iterator[Issue]:
    lim = r.spec.limits
    seq, positions = lim.max_input_len + lim.max_output_len, r.model.max_position_embeddings
    if seq <= positions:
        return
    key = first_written(r, "limits.max_output_len", "limits.max_input_len", "limits")
    text = f"max_input_len + max_output_len = {lim.max_input_len} + {lim.max_output_len} = {seq} exceeds " \
           f"max_position_embeddings ({positions})"
    fix = f"keep max_input_len + max_output_len at most {positions}"
    if r.model.rope_scaling is None:
        yield Issue(key, text, fix)
        return
    factor = dict(r.model.rope_scaling).get("factor", "?")
    yield Issue(key, f"{text}; the model's rope_scaling (factor {factor}) must carry it", fix, Severity.WARNING)


@rule(
    "C102", "prompt-longer-than-max-num-tokens", Severity.ERROR,
    "max_input_len is above max_num_tokens and paged context FMHA (chunked context) is off.",
    why="With packed input and context FMHA, one engine step holds at most max_num_tokens tokens; a longer "
    "prompt is refused unless it is split into chunks, which needs use_paged_context_fmha (#2702, #977).",
    bad="limits: {max_input_len: 16384, max_num_tokens: 8192}\nplugins: {use_paged_context_fmha: disable}\n",
    good="limits: {max_input_len: 16384, max_num_tokens: 8192}\nplugins: {use_paged_context_fmha: enable}\n",
    hint="raise limits.max_num_tokens to max_input_len, or set plugins.use_paged_context_fmha: enable",
)
def prompt_longer_than_max_num_tokens(r: Resolved) -> Iterator[Issue]:
    plugins, limits = r.spec.plugins, effective_limits(r)
    packed = plugins.remove_input_padding is Toggle.ENABLE and plugins.context_fmha is Toggle.ENABLE
    if not packed or limits.max_input_len <= limits.max_num_tokens or paged_context_fmha_on(r):
        return
    fix = f"raise limits.max_num_tokens to {limits.max_input_len}"
    if r.kv_cache is not KvCacheDtype.INT8:  # C105: int8 KV rules paged context FMHA out
        fix += ", or set plugins.use_paged_context_fmha: enable (chunked context)"
    yield Issue(first_written(r, "limits.max_num_tokens", "limits.max_input_len", "limits"),
                f"max_input_len ({limits.max_input_len}) exceeds max_num_tokens ({limits.max_num_tokens}) and "
                "paged context FMHA is off, so the longest prompts would be refused", fix)


def _ifb_blockers(r: Resolved) -> list[str]:
    """Plugin keys that are disabled although in-flight batching needs them."""
    plugins = r.spec.plugins
    blocked = []
    if plugins.gpt_attention is PluginDtype.DISABLE:
        blocked.append("plugins.gpt_attention")
    if plugins.remove_input_padding is Toggle.DISABLE:
        blocked.append("plugins.remove_input_padding")
    if plugins.paged_kv_cache is Toggle.DISABLE:
        blocked.append("plugins.paged_kv_cache")
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
)
def inflight_batching_disabled(r: Resolved) -> Iterator[Issue]:
    blocked = _ifb_blockers(r)
    serve = r.spec.launch.entrypoint is Entrypoint.SERVE
    # paged_kv_cache alone off for a smoke run is C111's note.
    if not blocked or (not serve and blocked == ["plugins.paged_kv_cache"]):
        return
    names = ", ".join(key.split(".")[1] for key in blocked)
    severity = None if serve else Severity.WARNING
    use = "a server" if serve else "this engine if it is served later"
    fixes = [f"{key}: {'auto' if key == 'plugins.gpt_attention' else 'enable'}" for key in blocked]
    yield Issue(blocked[0], f"{names} disabled: in-flight batching is off for {use}", f"set {', '.join(fixes)}",
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
)
def multi_block_mode_advised(r: Resolved) -> Iterator[Issue]:
    lim, tp = r.spec.limits, r.spec.parallelism.tp
    blocks = lim.max_batch_size * r.model.num_attention_heads / tp
    if blocks >= MULTI_BLOCK_PARALLELISM or lim.max_input_len <= MULTI_BLOCK_MIN_INPUT or multi_block_on(r):
        return
    fix = "set plugins.multi_block_mode: enable"
    if r.release.line is not ReleaseLine.V0_8:
        fix = "remove plugins.multi_block_mode: disable (on by default at runtime from 0.13)"
        if _version(r.release) < MULTI_BLOCK_DEFAULT_ON_FROM:
            fix = "set plugins.multi_block_mode: enable (a runtime flag, on by default from 0.13)"
    yield Issue(first_written(r, "plugins.multi_block_mode", "limits.max_batch_size", "limits"),
                f"max_batch_size × num_attention_heads / tp = {lim.max_batch_size} × {r.model.num_attention_heads}"
                f" / {tp} = {blocks:g} < {MULTI_BLOCK_PARALLELISM} with max_input_len {lim.max_input_len} > "
                f"{MULTI_BLOCK_MIN_INPUT}, and multi-block mode is off", fix)


@rule(
    "C105", "int8-kv-with-paged-context-fmha", Severity.ERROR,
    "An int8 KV cache together with paged context FMHA enabled.",
    why="The builder raises 'Paged Context FMHA doesn't work with int8 kv cache' (0.16 builder.py; reference "
    "§1.1, §6 #11). On 1.x use_paged_context_fmha defaults to enable; with `auto` the planner turns it off "
    "for an int8 KV cache and says so, so only an explicit `enable` is an error.",
    bad="quantization: {format: int8_sq, kv_cache: int8, calibration: {}}\n"
    "plugins: {use_paged_context_fmha: enable}\ntarget: {gpu: A100-SXM-80GB}\n",
    good="quantization: {format: int8_sq, kv_cache: int8, calibration: {}}\n"
    "plugins: {use_paged_context_fmha: auto}\ntarget: {gpu: A100-SXM-80GB}\n",
    hint="set plugins.use_paged_context_fmha: auto or disable, or use an fp8 KV cache on SM89+",
)
def int8_kv_with_paged_context_fmha(r: Resolved) -> Iterator[Issue]:
    if r.kv_cache is KvCacheDtype.INT8 and r.spec.plugins.use_paged_context_fmha is AutoToggle.ENABLE:
        yield Issue("plugins.use_paged_context_fmha", "use_paged_context_fmha is enabled with an int8 KV cache", "")


@rule(
    "C106", "calibration-missing", Severity.ERROR,
    "The format (or the KV-cache dtype) needs calibration data and the spec gives none.",
    why="AWQ, GPTQ, SmoothQuant, FP8, w4a8 and NVFP4 compute scales from sample activations, and so do int8 "
    "and fp8 KV caches (reference §1.2, §2). Writing the dataset down makes the quantized checkpoint "
    "reproducible and part of its fingerprint.",
    bad="quantization: {format: fp8}\n",
    good="quantization:\n  format: fp8\n  calibration: {dataset: cnn_dailymail, samples: 512, seq_len: 512}\n",
    hint="add a quantization.calibration block",
)
def calibration_missing(r: Resolved) -> Iterator[Issue]:
    if r.spec.quantization.calibration is not None or not needs_calibration(r):
        return
    samples = AWQ_CALIB_CAP if "awq" in r.format.value else 512
    what = r.format.value if r.format in CALIBRATED_FORMATS else f"an {r.kv_cache.value} KV cache"
    if r.spec.quantization.format is QuantFormat.AUTO and r.format in CALIBRATED_FORMATS:
        what += " (picked by format: auto)"
    key = "quantization.format" if r.format in CALIBRATED_FORMATS else "quantization.kv_cache"
    also = " (or, for int4_gptq/int4_awq, a pre-quantized quantization.checkpoint)" \
        if r.format in CHECKPOINT_FORMATS else ""
    yield Issue(first_written(r, key, "quantization"), f"{what} needs calibration data, and quantization.calibration "
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
def checkpoint_not_read(r: Resolved) -> Iterator[Issue]:
    if r.checkpoint_dir is None or r.format in CHECKPOINT_FORMATS:
        return
    readers = " or ".join(sorted(f.value for f in CHECKPOINT_FORMATS))
    yield Issue("quantization.checkpoint", f"format {r.format.value} does not read quantization.checkpoint; only "
                f"{readers} do", f"use format {readers}, or remove quantization.checkpoint")


@rule(
    "C108", "awq-calibration-samples-capped", Severity.NOTE,
    "AWQ calibration asks for more than 32 samples; quantize.py uses 32.",
    why="quantize.py caps calib_size at 32 for every *awq* qformat with a logged notice (reference §1.2); the "
    "planner passes 32 so that the plan says what really runs.",
    bad="quantization: {format: int4_awq, calibration: {samples: 512}}\n",
    good="quantization: {format: int4_awq, calibration: {samples: 32}}\n",
    hint="set quantization.calibration.samples: 32",
)
def awq_calibration_samples_capped(r: Resolved) -> Iterator[Issue]:
    calib = r.spec.quantization.calibration
    # The tool's own test is the substring, so this mirrors it exactly.
    awq = "awq" in r.format.value and r.checkpoint_dir is None
    if calib is None or not awq or calib.samples <= AWQ_CALIB_CAP:
        return
    if is_written(r, "quantization.calibration.samples"):
        yield Issue("quantization.calibration.samples", f"{calib.samples} calibration samples asked for; quantize.py "
                    f"uses at most {AWQ_CALIB_CAP} for {r.format.value}", "")


@rule(
    "C109", "max-num-tokens-large", Severity.WARNING,
    "max_num_tokens is above 16384.",
    why="Activation buffers grow with max_num_tokens, and the builder warns above 16384 (0.16 "
    "check_max_num_tokens; reference §4). Longer prompts are better served by chunked context.",
    bad="limits: {max_input_len: 32768, max_num_tokens: 32768}\n",
    good="limits: {max_input_len: 32768, max_num_tokens: 8192}\nplugins: {use_paged_context_fmha: enable}\n",
    hint="set limits.max_num_tokens: 16384 or lower, with use_paged_context_fmha: enable for longer prompts",
)
def max_num_tokens_large(r: Resolved) -> Iterator[Issue]:
    limits = effective_limits(r)
    if limits.max_num_tokens > MAX_NUM_TOKENS_WARN:
        source = "" if r.spec.limits.max_num_tokens is not None else " (by default, to hold the longest prompt)"
        yield Issue(first_written(r, "limits.max_num_tokens", "limits.max_input_len", "limits"),
                    f"max_num_tokens is {limits.max_num_tokens}{source}, above {MAX_NUM_TOKENS_WARN}", "")


@rule(
    "C111", "paged-kv-cache-disabled", Severity.NOTE,
    "The paged KV cache is disabled, so in-flight batching is off.",
    why="Packed input without a paged KV cache builds and runs, but requests are batched statically: "
    "in-flight batching needs the paged KV cache too (seed 002).",
    bad="plugins: {paged_kv_cache: disable}\n",
    good="plugins: {paged_kv_cache: enable}\n",
    hint="remove plugins.paged_kv_cache: disable unless static batching is intended",
)
def paged_kv_cache_disabled(r: Resolved) -> Iterator[Issue]:
    # For a server, or with other IFB plugins off too, C103 reports it instead.
    if _ifb_blockers(r) == ["plugins.paged_kv_cache"] and r.spec.launch.entrypoint is Entrypoint.RUN:
        yield Issue("plugins.paged_kv_cache", "paged_kv_cache is disabled with packed input enabled: in-flight "
                    "batching is off and the engine batches statically", "")
