"""M rules: does the engine fit the target GPUs, and does quantizing fit the build host?

Serving numbers are the decided estimate (`Decided.memory`, from compiler.decide.estimate, shared with the
planner). Build-time needs follow the decided route: which tool loads the
full-precision model, on the build GPUs or in host RAM. Checked against seed 000
(CodeFuse-34B: 68 GB in fp16 needs three A10s; int4 GPTQ fits one) and seed 002.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from compiler import catalog
from compiler.catalog import GpuFacts
from compiler.findings import Finding, Severity
from compiler.memory import GIB, GROUPWISE, WEIGHT_BITS, MemoryEstimate, full_precision_bytes, gib, kv_cache_per_gpu
from compiler.decide.estimate import DTYPE_BYTES, serving_estimate
from compiler.decide.model import Decided
from compiler.rules import ENGINE, draft, rule
from compiler.backends.tensorrt import CHECKPOINT_FORMATS
from compiler.rules.divisibility import splits_evenly
from compiler.rules.hardware import label, supported_formats
from compiler.rules.launch import total_gpus
from compiler.spec import QuantFormat

# Below this share of usable memory left free, the fit is too tight to trust the estimate.
MIN_HEADROOM = 0.10
# Calibration holds the full-precision model plus activations and ModelOpt's quantizer state.
CALIBRATION_MARGIN = 1.2
# Converting holds the model plus the rank's converted tensors being written.
HOST_MARGIN = 1.1
# A build host with more GPUs than this is not a host.
MAX_BUILD_GPUS = 64


# Who loads the full-precision model at build time, and where, by the route's tool.
LOADERS = {
    "quantize.py": "quantize.py (ModelOpt) calibrates with the full-precision model on the build GPUs",
    "convert_checkpoint.py": "convert_checkpoint.py",
    "gptqmodel": "GPTQModel holds the full-precision model in host RAM, one layer at a time on a GPU",
}


def build_load(d: Decided) -> str:
    """What loads the full-precision model at build time, in words, from the decided route."""
    route = d.route
    if route.full_model_on == "gpu":
        tool = route.calibrator or route.quantizer or "the quantizer"
        if tool == "quantize.py":
            return LOADERS[tool]
        return f"{tool} calibrates with the full-precision model on the build GPUs"
    if route.quantizer == "gptqmodel":
        return LOADERS["gptqmodel"]
    return "convert_checkpoint.py loads the Hugging Face model in host RAM"


def _breakdown(est: MemoryEstimate) -> str:
    return (f"weights {gib(est.weights_bytes)} + KV cache {gib(est.kv_cache_bytes)} + activations "
            f"{gib(est.activation_bytes)} = {gib(est.total_bytes)} per GPU")


def _smallest_fitting_tp(d: Decided) -> tuple[int, MemoryEstimate] | None:
    """The smallest larger tp that splits the model evenly, fits the target's GPUs and fits memory."""
    r = d.r
    par = r.spec.parallelism
    group = r.spec.quantization.group_size if d.format.value in GROUPWISE else None
    # No tp above the head count splits the heads: stop there rather than at up to 64 x 4096 GPUs.
    for tp in range(par.tp + 1, min(total_gpus(d) // par.pp, r.model.num_attention_heads) + 1):
        if splits_evenly(r.model, tp, group):
            est = serving_estimate(d, tp=tp)
            if est.fits:
                return tp, est
    return None


def _lightest_fitting_format(d: Decided) -> tuple[QuantFormat, MemoryEstimate] | None:
    """The format with the most weight bits (least accuracy lost) that fits at the current tp."""
    r = d.r
    tp, group = r.spec.parallelism.tp, r.spec.quantization.group_size
    names = set(supported_formats(r.gpu.sm, r.release.exact))
    candidates = [f for f in WEIGHT_BITS if f.value in names and WEIGHT_BITS[f] < WEIGHT_BITS[d.format.value]]
    for fmt in sorted(candidates, key=lambda f: -WEIGHT_BITS[f]):
        if fmt in GROUPWISE and not splits_evenly(r.model, tp, group):
            continue
        est = serving_estimate(d, fmt=fmt)
        if est.fits:
            return fmt, est
    return None


def _fit_hint(d: Decided) -> str:
    r = d.r
    fixes = []
    by_tp = _smallest_fitting_tp(d)
    if by_tp:
        fixes.append(f"use tp: {by_tp[0]} ({gib(by_tp[1].total_bytes)} per GPU)")
    by_format = _lightest_fitting_format(d)
    if by_format:
        fixes.append(f"use quantization.format: {by_format[0].value} at tp {r.spec.parallelism.tp} "
                     f"({gib(by_format[1].total_bytes)} per GPU)")
    if not fixes:
        return "use GPUs with more memory, more GPUs, or lower max_batch_size / max_input_len / max_output_len"
    return "; or ".join(fixes)


@rule(
    "M101", "serving-memory-exceeded", Severity.ERROR,
    "Weights, KV cache and activations do not fit the target GPU's memory.",
    why="The engine's weights, a KV cache for max_batch_size × max_beam_width full sequences and the runtime's "
    "activation buffers must fit each GPU, less what the driver keeps. Seed 000: CodeFuse-CodeLlama-34B is "
    "68 GB in fp16 and needs three A10s; int4 GPTQ fits one.",
    bad="model: {name: codefuse-codellama-34b}\ntarget: {gpu: A10}\n",
    good="model: {name: codefuse-codellama-34b}\nquantization: {format: int4_gptq, checkpoint: ./codefuse-34b-4bit}\n"
    "limits: {max_batch_size: 1, max_input_len: 2048, max_output_len: 1024}\ntarget: {gpu: A10}\n",
    hint="raise tp, quantize further, or use GPUs with more memory",
)
def serving_memory_exceeded(d: Decided) -> Iterator[Finding]:
    r = d.r
    est = d.memory
    if est.fits:
        return
    yield draft("target.gpu", f"does not fit {label(r.gpu)}: {_breakdown(est)}, but {gib(est.usable_bytes)} is "
                f"usable of {r.gpu.memory_gib:g} GiB", _fit_hint(d))


@rule(
    "M102", "serving-memory-tight", Severity.WARNING,
    "The engine fits the target GPU with less than 10% of its usable memory to spare.",
    why="The estimate leaves out allocator fragmentation and some runtime buffers; below 10% headroom a "
    "deployment that checks clean can still run out of memory at full batch.",
    bad="model: {name: codefuse-codellama-34b}\nquantization: {format: int4_gptq, checkpoint: ./codefuse-34b-4bit}\n"
    "limits: {max_batch_size: 4, max_input_len: 2048, max_output_len: 1024}\ntarget: {gpu: A10}   # 21.6 of 22.6 GiB\n",
    good="model: {name: codefuse-codellama-34b}\nquantization: {format: int4_gptq, checkpoint: ./codefuse-34b-4bit}\n"
    "limits: {max_batch_size: 2, max_input_len: 2048, max_output_len: 1024}\ntarget: {gpu: A10}\n",
    hint="lower max_batch_size or the lengths, or raise tp",
    backends=ENGINE,
)
def serving_memory_tight(d: Decided) -> Iterator[Finding]:
    r = d.r
    est = d.memory
    spare = est.usable_bytes - est.total_bytes
    if not est.fits or spare >= MIN_HEADROOM * est.usable_bytes:
        return
    yield draft("target.gpu", f"{_breakdown(est)} leaves {gib(spare)} of {gib(est.usable_bytes)} usable on "
                f"{label(r.gpu)} ({spare / est.usable_bytes:.0%} headroom)", "")


def _same_sm_gpus(d: Decided) -> list[GpuFacts]:
    """Catalog GPUs of the target's compute capability (so H109 stays quiet), smallest memory first."""
    r = d.r
    same = [g for g in catalog.gpus().values() if g.sm == r.gpu.sm]
    return sorted(same, key=lambda g: g.memory_bytes)


def _build_gpu_hint(d: Decided, need: int) -> str:
    r = d.r
    count = math.ceil(need / r.build_gpu.memory_bytes)
    fixes = [f"set build.gpus: {count} ({r.build_gpu.id})"] if count <= MAX_BUILD_GPUS else []
    bigger = [g for g in _same_sm_gpus(d) if g.memory_bytes * r.build_gpus >= need]
    if bigger:
        fixes.append(f"build.gpu: {bigger[0].id}")
    if d.format.value in CHECKPOINT_FORMATS:
        fixes.append("start from a pre-quantized quantization.checkpoint")
    return ", or ".join(fixes) if fixes else "use a build host with more GPU memory"


@rule(
    "M103", "build-gpu-memory-exceeded", Severity.ERROR,
    "Calibration loads the full-precision model on the build GPUs, and it does not fit.",
    why="quantize.py (ModelOpt) and convert_checkpoint's SmoothQuant / int8-KV calibration run the unquantized "
    "model on the build host's GPUs (device_map auto spreads it over all of them); they need the full-precision "
    "weights plus about 20% for activations and quantizer state.",
    bad="model: {name: llama-2-70b}\nquantization: {format: fp8, calibration: {}}\nparallelism: {tp: 4}\n"
    "target: {gpu: L40S}\nbuild: {gpus: 2}\n",
    good="model: {name: llama-2-70b}\nquantization: {format: fp8, calibration: {}}\nparallelism: {tp: 4}\n"
    "target: {gpu: L40S}\nbuild: {gpus: 4}\n",
    hint="use a bigger build host (build.gpu / build.gpus), or a pre-quantized quantization.checkpoint",
)
def build_gpu_memory_exceeded(d: Decided) -> Iterator[Finding]:
    r = d.r
    if d.route.full_model_on != "gpu":
        return
    need = int(full_precision_bytes(r.model, DTYPE_BYTES[r.spec.model.dtype]) * CALIBRATION_MARGIN)
    have = r.build_gpu.memory_bytes * r.build_gpus
    if have >= need:
        return
    yield draft(r.first_written("build.gpus", "build.gpu", "build", "target.gpu"),
                f"{build_load(d)}: that needs {gib(need)} of GPU memory, but the build host has {r.build_gpus} × "
                f"{label(r.build_gpu)} = {gib(have)}", _build_gpu_hint(d, need))


@rule(
    "M104", "build-host-memory-exceeded", Severity.ERROR,
    "Converting (or GPTQ) loads the full-precision model in host RAM, and build.host_memory_gib is too small.",
    why="convert_checkpoint.py reads the Hugging Face model into host memory before it writes the per-rank "
    "checkpoint, and GPTQModel keeps the whole model in host RAM while it quantizes one layer at a time on a "
    "GPU; a host with less RAM is killed by the OOM killer midway. Checked only when build.host_memory_gib "
    "is given.",
    bad="model: {name: llama-2-70b}\nquantization: {format: int8_wo}\nbuild: {host_memory_gib: 64}\n",
    good="model: {name: llama-2-70b}\nquantization: {format: int8_wo}\nbuild: {host_memory_gib: 256}\n",
    hint="use a build host with more RAM and set build.host_memory_gib to it",
)
def build_host_memory_exceeded(d: Decided) -> Iterator[Finding]:
    r = d.r
    host = r.spec.build.host_memory_gib
    if host is None or d.route.full_model_on != "host":
        return
    need = int(full_precision_bytes(r.model, DTYPE_BYTES[r.spec.model.dtype]) * HOST_MARGIN)
    if host * GIB >= need:
        return
    yield draft("build.host_memory_gib", f"{build_load(d)}: that needs about {gib(need)}, but build.host_memory_gib "
                f"is {host:g}", f"use a build host with at least {math.ceil(need / GIB)} GiB of RAM")


@rule(
    "M105", "kv-cache-below-one-sequence", Severity.ERROR,
    "After weights and activations, the GPU has no room for the KV cache of one full-length sequence.",
    why="The runtime gives the KV cache what is left after weights and buffers; if that is less than one "
    "sequence of max_input_len + max_output_len tokens, a request of the advertised length can never be "
    "scheduled, whatever the batch size.",
    bad="model: {name: llama-3.1-8b}\nlimits: {max_batch_size: 1, max_input_len: 65536, max_num_tokens: 4096}\n"
    "target: {gpu: L4}   # 6.5 GiB left, one sequence needs 8.1\n",
    good="model: {name: llama-3.1-8b}\nlimits: {max_batch_size: 1, max_input_len: 32768, max_num_tokens: 4096}\n"
    "target: {gpu: L4}\n",
    hint="lower max_input_len / max_output_len, use a quantized KV cache, or raise tp",
)
def kv_cache_below_one_sequence(d: Decided) -> Iterator[Finding]:
    r = d.r
    est, limits, t = d.memory, d.limits, d.topology
    left = est.usable_bytes - est.weights_bytes - est.activation_bytes
    # The PyTorch backend's KV cache gets only its share of what is left.
    free = left if est.kv_sequences is None else min(left, est.kv_cache_bytes)
    one = kv_cache_per_gpu(r.model, d.kv_cache.value, t.tp, t.pp, limits.max_beam_width, limits.max_seq_len)
    # When weights and buffers alone do not fit, M101 is the whole story.
    if left < 0 or free >= one:
        return
    yield draft(r.first_written("limits.max_input_len", "limits.max_output_len", "limits"),
                f"{gib(free)} per GPU is left for the KV cache on {label(r.gpu)}, but one sequence of "
                f"{limits.max_seq_len} tokens needs {gib(one)}", "")


@rule(
    "M106", "kv-cache-below-max-batch", Severity.WARNING,
    "The KV cache the PyTorch backend sets aside holds fewer max-length requests than max_batch_size.",
    why="The PyTorch backend loads the model, captures CUDA graphs, then gives the KV cache "
    "kv_cache_config.free_gpu_memory_fraction of the memory left (0.9 by default). When that holds fewer "
    "sequences of max_input_len + max_output_len tokens than max_batch_size, the scheduler admits fewer "
    "concurrent long requests than the batch size promises (GUARANTEED_NO_EVICT).",
    bad="model: {name: llama-3.1-8b}\nlimits: {max_batch_size: 256, max_input_len: 8192, max_output_len: 2048}\n"
    "target: {gpu: L40S, tensorrt_llm: '1.2.0', backend: pytorch}\n",
    good="model: {name: llama-3.1-8b}\nlimits: {max_batch_size: 16, max_input_len: 8192, max_output_len: 2048}\n"
    "target: {gpu: L40S, tensorrt_llm: '1.2.0', backend: pytorch}\n",
    hint="lower max_batch_size or the lengths, quantize the KV cache, raise tp, or raise "
    "runtime.kv_cache_free_gpu_memory_fraction",
    backends=("pytorch",),
)
def kv_cache_below_max_batch(d: Decided) -> Iterator[Finding]:
    est = d.memory
    held, wanted = est.kv_sequences, d.limits.max_batch_size * d.limits.max_beam_width
    if held is None or held >= wanted or held < 1:  # below one sequence is M105's error
        return
    yield draft(d.r.first_written("limits.max_batch_size", "runtime.kv_cache_free_gpu_memory_fraction", "limits"),
                f"the KV cache ({gib(est.kv_cache_bytes)} per GPU, "
                f"{d.value('runtime.kv_cache_free_gpu_memory_fraction')} of what is left) holds {held} sequences of "
                f"{d.limits.max_seq_len} tokens, fewer than max_batch_size x max_beam_width = {wanted}", "")
