"""H rules: can the target GPU, the build GPU and the release line run this dtype, format and KV cache?

Every fact is looked up in compiler/catalog/support.yaml (each row with its upstream
source: the support matrices, #1428, #1914; engines are per compute capability, #3031);
the rules themselves list no format and no compute capability.
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler import catalog
from compiler.catalog import GpuFacts, Requirement
from compiler.findings import Finding, Severity
from compiler.decide.model import Decided
from compiler.catalog import pytorch_backend
from compiler.rules import ENGINE, draft, gaps_of, rule
from compiler.rules.divisibility import splits_evenly
from compiler.memory import GROUPWISE
from compiler.spec import AutoToggle, QuantFormat
from compiler.versions import ReleaseLine

# Group sizes TensorRT-LLM's GPTQ/AWQ kernels take: "For now, GPTQ/AWQ only supports groupsize = 64 or 128"
# (maintainer, #988); the quantization README says the same of awq_block_size (reference §4).
KERNEL_GROUP_SIZES = (64, 128)
# How many catalog GPUs a hint names before it says "and N more".
MAX_GPUS_NAMED = 6


def label(gpu: GpuFacts) -> str:
    return f"{gpu.id} (SM{gpu.sm})"


def supported_formats(sm: int, line: ReleaseLine) -> list[str]:
    """Formats a GPU of compute capability `sm` can run on a release line, in support.yaml order."""
    return [name for name, req in catalog.support().formats.items() if req.min_sm <= sm and line.value in req.lines]


def gpus_from(min_sm: int) -> str:
    """Catalog GPUs with at least this compute capability, for hints."""
    ids = [gpu.id for gpu in catalog.gpus().values() if gpu.sm >= min_sm]
    if not ids:
        return "no GPU of the catalog"
    shown = ", ".join(ids[:MAX_GPUS_NAMED])
    return f"{shown} and {len(ids) - MAX_GPUS_NAMED} more" if len(ids) > MAX_GPUS_NAMED else shown


def _format_requirement(fmt: QuantFormat) -> Requirement | None:
    return catalog.support().formats.get(fmt.value)


@rule(
    "H101", "dtype-unsupported-by-gpu", Severity.ERROR,
    "The model dtype needs a newer GPU than the target.",
    why="bfloat16 arithmetic needs compute capability 8.0 (Ampere); the 0.8 support matrix marks BF16 'N' "
    "for Volta and Turing, and TensorRT refuses to build bf16 layers there.",
    bad="model: {name: llama-3-8b, dtype: bfloat16}\ntarget: {gpu: T4}\n",
    good="model: {name: llama-3-8b, dtype: float16}\ntarget: {gpu: T4}\n",
    hint="use model.dtype: float16",
)
def dtype_unsupported_by_gpu(d: Decided) -> Iterator[Finding]:
    r = d.r
    dtypes = catalog.support().dtypes
    dtype = r.spec.model.dtype.value
    req = dtypes.get(dtype)
    if req is None or r.gpu.sm >= req.min_sm:
        return
    usable = [name for name, x in dtypes.items() if x.min_sm <= r.gpu.sm]
    fix = f"use model.dtype: {usable[0]}" if usable else f"use a GPU with SM{req.min_sm} or newer"
    yield draft("model.dtype", f"{dtype} needs SM{req.min_sm} or newer; target.gpu {label(r.gpu)} does not have it",
                f"{fix}, or a GPU such as {gpus_from(req.min_sm)}")


def _format_issue(d: Decided, gpu: GpuFacts, key: str, role: str) -> Iterator[Finding]:
    r = d.r
    req = _format_requirement(d.format.value)
    if req is None or gpu.sm >= req.min_sm:
        return
    usable = [f for f in supported_formats(gpu.sm, r.release.line) if f != QuantFormat.NONE.value]
    why = f" ({req.note})" if req.note else ""
    yield draft(key, f"quantization format {d.format.value.value} needs SM{req.min_sm} or newer; {role} {label(gpu)} "
                f"does not have it{why}",
                f"{gpu.id} supports {', '.join(usable) or 'no quantization format'}; {d.format.value.value} runs on "
                f"{gpus_from(req.min_sm)}")


@rule(
    "H102", "format-unsupported-by-gpu", Severity.ERROR,
    "The quantization format needs a newer GPU than the target (or the build host).",
    why="FP8 GEMMs need SM89: on A100 the build fails with 'Networks with FP8 precision require hardware with "
    "FP8 support' (#1428). INT4 AWQ/GPTQ and SmoothQuant need SM80, w4a8_awq SM89 and nvfp4 SM100 (support "
    "matrices of 0.8, 0.16 and 1.x). The build host compiles the engine with these kernels, so it needs them too.",
    bad="quantization: {format: fp8}\ntarget: {gpu: A100-SXM-80GB}\n",
    good="quantization: {format: int8_sq}\ntarget: {gpu: A100-SXM-80GB}\n",
    hint="pick a format the GPU supports, or a GPU that supports the format",
    backends=ENGINE,
)
def format_unsupported_by_gpu(d: Decided) -> Iterator[Finding]:
    r = d.r
    yield from _format_issue(d, r.gpu, "quantization.format", "target.gpu")
    if r.build_gpu.sm != r.gpu.sm:
        yield from _format_issue(d, r.build_gpu, "build.gpu", "build.gpu")


@rule(
    "H103", "kv-cache-dtype-unsupported-by-gpu", Severity.ERROR,
    "The KV-cache dtype needs a newer GPU than the target.",
    why="An FP8 KV cache needs FP8 hardware on the TensorRT backend: the docs recommend it on Hopper and Ada "
    "only (reference §3.5), and an FP8 KV cache forces a strongly-typed FP8 build.",
    bad="quantization: {format: int8_sq, kv_cache: fp8}\ntarget: {gpu: A100-SXM-80GB}\n",
    good="quantization: {format: int8_sq, kv_cache: int8}\ntarget: {gpu: A100-SXM-80GB}\n",
    hint="use a KV-cache dtype the GPU supports",
    backends=ENGINE,
)
def kv_cache_dtype_unsupported_by_gpu(d: Decided) -> Iterator[Finding]:
    r = d.r
    kinds = catalog.support().kv_cache
    req = kinds.get(d.kv_cache.value.value)
    # An `auto` KV cache follows the model dtype, which H101 already checks.
    if req is None or r.gpu.sm >= req.min_sm or not r.is_written("quantization.kv_cache"):
        return
    usable = [name for name, x in kinds.items() if x.min_sm <= r.gpu.sm]
    yield draft("quantization.kv_cache", f"KV-cache dtype {d.kv_cache.value.value} needs SM{req.min_sm} or newer; "
                f"target.gpu {label(r.gpu)} does not have it", f"use quantization.kv_cache: {', '.join(usable)}")


@rule(
    "H104", "format-not-in-release", Severity.ERROR,
    "The quantization format does not exist in the chosen TensorRT-LLM release line.",
    why="quantize.py gained nvfp4 (and fp8_pc_pt) only in the 1.x line; older lines reject the qformat "
    "(reference §1.2, §7).",
    bad="quantization: {format: nvfp4}\ntarget: {gpu: B200, tensorrt_llm: '0.16.0'}\n",
    good="quantization: {format: nvfp4}\ntarget: {gpu: B200, tensorrt_llm: '1.2.0'}\n",
    hint="use a release line that has the format, or another format",
    backends=ENGINE,
)
def format_not_in_release(d: Decided) -> Iterator[Finding]:
    r = d.r
    req = _format_requirement(d.format.value)
    line = r.release.line
    if req is None or line.value in req.lines:
        return
    lines = " or ".join(ReleaseLine(x).label for x in req.lines)
    others = [f for f in supported_formats(r.gpu.sm, line) if f != QuantFormat.NONE.value]
    yield draft("quantization.format", f"quantization format {d.format.value.value} is not available in TensorRT-LLM "
                f"{r.release.version} (the {line.label} line)",
                f"set target.tensorrt_llm to a {lines} release, or use one of {', '.join(others)}")


@rule(
    "H105", "group-size-unsupported", Severity.ERROR,
    "A group-wise int4 format uses a group size the kernels do not take.",
    why="TensorRT-LLM's group-wise int4 kernels take groups of 64 or 128 only: 'For now, GPTQ/AWQ only supports "
    "groupsize = 64 or 128' (maintainer, #988); other sizes fail or give wrong scale shapes (#648).",
    bad="quantization: {format: int4_awq, group_size: 32}\n",
    good="quantization: {format: int4_awq, group_size: 128}\n",
    hint="use quantization.group_size: 128 (or 64)",
)
def group_size_unsupported(d: Decided) -> Iterator[Finding]:
    r = d.r
    group, tp = r.spec.quantization.group_size, r.spec.parallelism.tp
    if d.format.value not in GROUPWISE or group in KERNEL_GROUP_SIZES:
        return
    sizes = " or ".join(map(str, KERNEL_GROUP_SIZES))
    # Prefer the largest size that also splits evenly per rank, so the fix does not trip D106.
    fits = [g for g in sorted(KERNEL_GROUP_SIZES, reverse=True) if splits_evenly(r.model, tp, g)]
    fix = f"use quantization.group_size: {fits[0]}" if fits else f"use group_size {sizes} with a lower tp"
    yield draft("quantization.group_size", f"group_size {group} is not supported for {d.format.value.value}; the "
                f"kernels take {sizes}", fix)


@rule(
    "H106", "architecture-not-in-release", Severity.ERROR,
    "The release line's support matrix does not list the GPU's architecture.",
    why="From 0.12 the support matrix drops Volta and Turing: 'support is limited to community support' "
    "(reference §3.2), a warning. Blackwell appears only in the 1.x matrix; lines that predate it have no "
    "kernels for it, an error.",
    bad="target: {gpu: B200, tensorrt_llm: '0.16.0'}\n",
    good="target: {gpu: B200, tensorrt_llm: '1.2.0'}\n",
    hint="use a release line whose support matrix lists the architecture",
)
def architecture_not_in_release(d: Decided) -> Iterator[Finding]:
    r = d.r
    archs = catalog.support().architectures
    arch = archs.get(r.gpu.architecture)
    line = r.release.line
    if arch is None or line.value in arch.lines:
        return
    listed = [a for a in archs.values() if line.value in a.lines]
    lines = " or ".join(ReleaseLine(x).label for x in arch.lines)
    key = r.first_written("target.tensorrt_llm", "target.gpu")
    if all(arch.min_sm > a.min_sm for a in listed):
        yield draft(key, f"TensorRT-LLM {r.release.version} ({line.label}) predates the {r.gpu.architecture} "
                    f"architecture; {label(r.gpu)} is not supported", f"use a {lines} release")
        return
    yield draft(key, f"TensorRT-LLM {r.release.version} ({line.label}) no longer lists the {r.gpu.architecture} "
                f"architecture of {label(r.gpu)}; it is community support only",
                f"use a {lines} release, or accept untested support", Severity.WARNING)


@rule(
    "H107", "fp8-context-fmha-needs-hopper", Severity.ERROR,
    "FP8 context FMHA is enabled on a GPU older than Hopper.",
    why="FP8 context FMHA kernels exist for SM90 only; on Ada (L20) the build stops with 'Fp8 FMHA cannot be "
    "enabled on pre-Hopper Arch' (#1914).",
    bad="quantization: {format: fp8}\nplugins: {use_fp8_context_fmha: enable}\ntarget: {gpu: L40S}\n",
    good="quantization: {format: fp8}\nplugins: {use_fp8_context_fmha: disable}\ntarget: {gpu: L40S}\n",
    hint="set plugins.use_fp8_context_fmha: disable (or auto: the planner disables it below SM90)",
    backends=ENGINE,
)
def fp8_context_fmha_needs_hopper(d: Decided) -> Iterator[Finding]:
    r = d.r
    need = catalog.support().fp8_context_fmha_min_sm
    if r.spec.plugins.use_fp8_context_fmha is AutoToggle.ENABLE and r.gpu.sm < need:
        yield draft("plugins.use_fp8_context_fmha", f"use_fp8_context_fmha needs SM{need} or newer; target.gpu "
                    f"{label(r.gpu)} does not have it", "")


@rule(
    "H108", "gptq-act-order-unsupported", Severity.ERROR,
    "GPTQ with activation reordering (desc_act) is asked for.",
    why="TensorRT-LLM's GPTQ kernels take groups in channel order, and convert_checkpoint.py loads the GPTQ weights "
    "it is given (--quant_ckpt_path, trtdeploy's route) without reordering them, which may silently degrade the output. "
    "(Its 'GPTQ with desc_act=True is not implemented!' error, from 0.16, checks only a --model_dir holding a "
    "Hugging Face GPTQ checkpoint, a route trtdeploy does not take.)",
    bad="quantization: {format: int4_gptq, act_order: true}\n",
    good="quantization: {format: int4_gptq, act_order: false}\n",
    hint="set quantization.act_order: false (and quantize with desc_act=False)",
    backends=ENGINE,
)
def gptq_act_order_unsupported(d: Decided) -> Iterator[Finding]:
    r = d.r
    if d.format.value is not QuantFormat.INT4_GPTQ or not r.spec.quantization.act_order:
        return
    if r.release.line is ReleaseLine.V1:
        yield draft("quantization.act_order", f"TensorRT-LLM {r.release.version} rejects GPTQ checkpoints with "
                    "desc_act=True ('GPTQ with desc_act=True is not implemented')", "")
        return
    yield draft("quantization.act_order", f"TensorRT-LLM {r.release.version} ({r.release.line.label}) does not "
                "support GPTQ activation order (desc_act); an act-order checkpoint may convert but give degraded "
                "output", "", Severity.WARNING)


@rule(
    "H109", "build-gpu-differs-from-target", Severity.ERROR,
    "The build GPU has another compute capability than the target GPU.",
    why="TensorRT engines are compiled for one compute capability: an engine built on SM X fails to load on "
    "SM Y with 'engine plan file is generated on an incompatible device, expecting compute 8.0 got compute "
    "8.9, please rebuild' (reference §4, §6 #8).",
    bad="target: {gpu: L40S}\nbuild: {gpu: A100-SXM-80GB}\n",
    good="target: {gpu: L40S}\nbuild: {gpu: L40S}\n",
    hint="build on the target's GPU model: set build.gpu to target.gpu, or leave it out",
    backends=ENGINE,
)
def build_gpu_differs_from_target(d: Decided) -> Iterator[Finding]:
    r = d.r
    if r.build_gpu.sm != r.gpu.sm:
        yield draft("build.gpu", f"build.gpu {label(r.build_gpu)} differs from target.gpu {label(r.gpu)}; an "
                    f"engine built on SM{r.build_gpu.sm} fails to load on SM{r.gpu.sm}",
                    f"set build.gpu: {r.gpu.id}, or leave build.gpu out")


@rule(
    "H110", "backend-cannot-serve", Severity.ERROR,
    "The decided backend cannot load what the spec asks for, on this release and GPU.",
    why="The PyTorch backend loads a quantized checkpoint by its quant_algo, and its linear layers accept only "
    "some (tensorrt_llm/_torch/modules/linear.py get_quant_method: FP8 incl. per-channel and block scales, "
    "NVFP4, W4A16/W4A8 AWQ, weight-only W8A16/W4A16, MXFP4); INT8 SmoothQuant, GPTQ checkpoints and an INT8 "
    "KV cache raise 'unsupported quant mode'. Some run on some architectures only (W4A16 not on Blackwell, FP8 "
    "not on Ampere: docs/source/features/quantization.md). ModelOpt's HF export writes only the qformats of its "
    "release (examples/llm_ptq/hf_ptq.py). With `backend: auto` trtdeploy picks the engine path where it can "
    "serve the spec; this error remains when the backend is written, or no backend of the release can.",
    bad="quantization: {format: int8_sq, calibration: {}}\ntarget: {gpu: A100-SXM-80GB, tensorrt_llm: '1.3.0'}\n",
    good="quantization: {format: fp8, calibration: {}}\ntarget: {gpu: H100-SXM, tensorrt_llm: '1.3.0'}\n",
    hint="use a format the backend loads on this GPU, or pin tensorrt_llm to 1.2 with target.backend: tensorrt",
)
def backend_cannot_serve(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "H110")


@rule(
    "H111", "engine-path-removed", Severity.ERROR,
    "target.backend: tensorrt on a release without the TensorRT engine path.",
    why="TensorRT-LLM removed the engine path on main in July 2026 (PRs #15767, #15907, #15918; "
    "docs/source/legacy/tensorrt-backend-removal.md: trtllm-build, trtllm-refit/prune, the per-model "
    "convert_checkpoint.py scripts, TrtLlmArgs and `--backend tensorrt` are gone). 1.3.0rc1 (January 2026) still "
    "had it; from 1.3.0 it is gone. Release candidates in between are not known either way: a warning.",
    bad="target: {gpu: H100-SXM, tensorrt_llm: '1.3.0', backend: tensorrt}\n",
    good="target: {gpu: H100-SXM, tensorrt_llm: '1.3.0', backend: pytorch}\n",
    hint="use target.backend: pytorch (or auto), or pin target.tensorrt_llm to 1.2",
    backends=ENGINE,
)
def engine_path_removed(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "H111")
    engine = pytorch_backend.engine_path(d.r.release.exact)
    if engine.state == "unknown":
        yield draft(d.r.first_written("target.backend", "target.tensorrt_llm"), f"whether TensorRT-LLM "
                    f"{d.r.release.version} still has the engine path is not known ({engine.note})",
                    "check that trtllm-build exists in the release, or use target.backend: pytorch", Severity.WARNING)
