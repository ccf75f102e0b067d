"""H rules: can the target GPU, the build GPU and the release run this dtype, format and KV cache?

Every fact is looked up in compiler/catalog/support.yaml (each row with its upstream
source: the support matrices, #1428, #1914; engines are per compute capability, #3031);
the rules themselves list no format and no compute capability.
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler import catalog
from compiler.catalog import GpuFacts
from compiler.findings import Finding, Severity
from compiler.decide.model import Decided
from compiler.resolve import Resolved
from compiler.backends.tensorrt import engine_format, fp8_context_fmha_sms
from compiler.catalog import pytorch_backend
from compiler.catalog.architectures import ArchStatus, architecture_for_sm
from compiler.catalog.architectures import support as arch_support
from compiler.catalog.formats import format_facts, formats
from compiler.catalog.releases import known_releases
from compiler.rules import ENGINE, draft, gaps_of, rule
from compiler.rules.divisibility import splits_evenly
from compiler.memory import GROUPWISE
from compiler.spec import AutoToggle, QuantFormat
from compiler.versions import Version

# Group sizes TensorRT-LLM's GPTQ/AWQ kernels take: "For now, GPTQ/AWQ only supports groupsize = 64 or 128"
# (maintainer, #988); the quantization README says the same of awq_block_size (reference §4).
KERNEL_GROUP_SIZES = (64, 128)
# How many catalog GPUs a hint names before it says "and N more".
MAX_GPUS_NAMED = 6


def label(gpu: GpuFacts) -> str:
    return f"{gpu.id} (SM{gpu.sm})"


def supported_formats(sm: int, version: Version) -> list[str]:
    """Formats the engine path of a release runs on a GPU of compute capability `sm`, in formats.yaml order."""
    return [name for name, facts in formats().items()
            if (engine := facts.tensorrt(version)) is not None and engine.runs_on(sm)]


def gpus_from(min_sm: int) -> str:
    """Catalog GPUs with at least this compute capability, for hints."""
    ids = [gpu.id for gpu in catalog.gpus().values() if gpu.sm >= min_sm]
    if not ids:
        return "no GPU of the catalog"
    shown = ", ".join(ids[:MAX_GPUS_NAMED])
    return f"{shown} and {len(ids) - MAX_GPUS_NAMED} more" if len(ids) > MAX_GPUS_NAMED else shown


def _sm100_message(r: Resolved, quant_algo: str | None, kv_algo: str | None = None) -> str:
    """The builder's own words where it refuses a quant_algo (or KV algo) on this GPU (builder_sm100_refusals)."""
    for refusal in r.release.fact("builder_sm100_refusals").value:  # type: ignore[union-attr]
        in_range = refusal["sm_from"] <= r.gpu.sm < refusal["sm_until"]
        if in_range and (quant_algo in refusal["quant_algos"] or kv_algo in refusal["kv_cache_quant_algos"]):
            return str(refusal["message"])
    return ""


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
    r, fmt = d.r, d.format.value.value
    engine = engine_format(r, d.format.value)
    if engine is None or engine.runs_on(gpu.sm):  # a format the release lacks is H104's
        return
    usable = [f for f in supported_formats(gpu.sm, r.release.exact) if f != QuantFormat.NONE.value]
    fix = f"{gpu.id} supports {', '.join(usable) or 'no quantization format'} in TensorRT-LLM {r.release.version}"
    if gpu.sm < engine.min_sm:
        yield draft(key, f"quantization format {fmt} needs SM{engine.min_sm} or newer in TensorRT-LLM "
                    f"{r.release.version}; {role} {label(gpu)} does not have it", f"{fix}; {fmt} runs on "
                    f"{gpus_from(engine.min_sm)}")
        return
    said = _sm100_message(r, engine.quant_algo) if gpu.sm == r.gpu.sm else ""
    yield draft(key, f"the builder of TensorRT-LLM {r.release.version} refuses {fmt} on {role} {label(gpu)}"
                + (f" ('{said}')" if said else ""), f"{fix}; or use the PyTorch backend (target.backend: pytorch)")


@rule(
    "H102", "format-unsupported-by-gpu", Severity.ERROR,
    "The quantization format needs a newer GPU than the target (or the build host).",
    why="FP8 GEMMs need SM89: on A100 the build fails with 'Networks with FP8 precision require hardware with "
    "FP8 support' (#1428). INT4 AWQ/GPTQ and SmoothQuant need SM80 (SM75 for AWQ/GPTQ from 0.11), w4a8_awq "
    "SM89 and nvfp4 SM100 (the support matrices per release). From 0.17 the builder refuses INT8/INT4 "
    "weight-only (W4A16 AWQ/GPTQ included), SmoothQuant and per-channel/per-token scaling on SM100-SM119 "
    "(tensorrt_llm/builder.py). The build host compiles the engine with these kernels, so it needs them too.",
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
    "only (docs/source/blogs/quantization-in-TRT-LLM.md @ 5955b8af), and an FP8 KV cache forces a strongly-typed "
    "FP8 build. From 0.17 the builder refuses an int8 KV cache on SM100-SM119 (tensorrt_llm/builder.py).",
    bad="quantization: {format: int8_sq, kv_cache: fp8}\ntarget: {gpu: A100-SXM-80GB}\n",
    good="quantization: {format: int8_sq, kv_cache: int8}\ntarget: {gpu: A100-SXM-80GB}\n",
    hint="use a KV-cache dtype the GPU supports",
    backends=ENGINE,
)
def kv_cache_dtype_unsupported_by_gpu(d: Decided) -> Iterator[Finding]:
    r = d.r
    kinds = catalog.support().kv_cache
    kv = d.kv_cache.value.value
    req = kinds.get(kv)
    # An `auto` KV cache follows the model dtype, which H101 already checks.
    if req is None or not r.is_written("quantization.kv_cache"):
        return
    if r.gpu.sm < req.min_sm:
        usable = [name for name, x in kinds.items() if x.min_sm <= r.gpu.sm]
        yield draft("quantization.kv_cache", f"KV-cache dtype {kv} needs SM{req.min_sm} or newer; "
                    f"target.gpu {label(r.gpu)} does not have it", f"use quantization.kv_cache: {', '.join(usable)}")
        return
    said = _sm100_message(r, None, kv.upper())
    if said:
        yield draft("quantization.kv_cache", f"the builder of TensorRT-LLM {r.release.version} refuses an {kv} KV "
                    f"cache on {label(r.gpu)} ('{said}')", "use quantization.kv_cache: fp8, or the PyTorch backend")


@rule(
    "H104", "format-not-in-release", Severity.ERROR,
    "The quantization format does not exist in the chosen TensorRT-LLM release.",
    why="quantize.py gained nvfp4 with the NVFP4 GEMM of 0.17.0 (release notes 0.17.0; compiler/catalog/"
    "formats.yaml); older releases reject the qformat.",
    bad="quantization: {format: nvfp4}\ntarget: {gpu: B200, tensorrt_llm: '0.16.0'}\n",
    good="quantization: {format: nvfp4}\ntarget: {gpu: B200, tensorrt_llm: '0.17.0'}\n",
    hint="use a release that has the format, or another format",
    backends=ENGINE,
)
def format_not_in_release(d: Decided) -> Iterator[Finding]:
    r, fmt = d.r, d.format.value
    if engine_format(r, fmt) is not None:
        return
    having = [str(release.version) for release in known_releases()
              if format_facts(fmt.value).tensorrt(release.version) is not None]
    others = [f for f in supported_formats(r.gpu.sm, r.release.exact) if f != QuantFormat.NONE.value]
    yield draft("quantization.format", f"quantization format {fmt.value} is not available in TensorRT-LLM "
                f"{r.release.version}" + (f"; it is from {having[0]} on" if having else ""),
                f"set target.tensorrt_llm to {having[0]} or newer, or use one of {', '.join(others)}" if having
                else f"use one of {', '.join(others)}")


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
    "The release does not support the GPU's architecture: not yet, no longer, or only as community support.",
    why="Support matrices and release notes say which architectures a release is built and tested for: Volta "
    "was removed in 0.15.0 ('[BREAKING CHANGE] NVIDIA Volta GPU support is removed'), Turing is community "
    "support only from 0.15, and Blackwell arrives with 0.17.0 (B200). A release that predates an "
    "architecture has no kernels for it, an error; community support builds but is untested, a warning "
    "(compiler/catalog/architectures.yaml).",
    bad="target: {gpu: B200, tensorrt_llm: '0.16.0'}\n",
    good="target: {gpu: B200, tensorrt_llm: '0.17.0'}\n",
    hint="use a release whose support matrix lists the architecture",
)
def architecture_not_in_release(d: Decided) -> Iterator[Finding]:
    r = d.r
    arch = architecture_for_sm(r.gpu.sm)
    found = arch_support(arch, r.release.exact)
    if found.status.supported:
        return
    key = r.first_written("target.tensorrt_llm", "target.gpu")
    listed = [str(release.version) for release in known_releases()
              if arch_support(arch, release.version).status.supported]
    fix = f"use a release from {listed[0]} to {listed[-1]}" if listed else "use another GPU"
    if found.status is ArchStatus.COMMUNITY_ONLY:
        yield draft(key, f"TensorRT-LLM {r.release.version} does not list the {arch} architecture of {label(r.gpu)}: "
                    "community support only", f"{fix}, or accept untested support", Severity.WARNING)
        return
    when = "predates" if found.status is ArchStatus.NOT_YET else "removed support for"
    yield draft(key, f"TensorRT-LLM {r.release.version} {when} the {arch} architecture of {label(r.gpu)}"
                + (f" ({found.fact.note})" if found.fact.note else ""), fix)


@rule(
    "H107", "fp8-context-fmha-unsupported-by-gpu", Severity.ERROR,
    "FP8 context FMHA is enabled on a GPU the release does not run it on.",
    why="FP8 context FMHA ran on SM90 only from 0.9 to 0.11 and on SM89/SM90 from 0.12 (release notes 0.12.0: "
    "'Supported FP8 FMHA for NVIDIA Ada Lovelace Architecture') to 0.16: elsewhere the attention plugin stops the "
    "build ('FP8 FMHA cannot be enabled on Pre-Hopper Arch.', #1914). From 0.17 the builder turns it off below "
    "SM89 with a warning instead (releases.yaml builder_fp8_context_fmha).",
    bad="quantization: {format: fp8}\nplugins: {use_fp8_context_fmha: enable}\n"
    "target: {gpu: L40S, tensorrt_llm: '0.11.0'}\n",
    good="quantization: {format: fp8}\nplugins: {use_fp8_context_fmha: enable}\n"
    "target: {gpu: L40S, tensorrt_llm: '0.12.0'}\n",
    hint="set plugins.use_fp8_context_fmha: auto (the plan follows the release), or use a GPU that runs it",
    backends=ENGINE,
)
def fp8_context_fmha_unsupported_by_gpu(d: Decided) -> Iterator[Finding]:
    r = d.r
    sms = fp8_context_fmha_sms(r)
    if sms is None or r.spec.plugins.use_fp8_context_fmha is not AutoToggle.ENABLE or r.gpu.sm in sms:
        return
    rule_ = r.release.fact("builder_fp8_context_fmha").value  # type: ignore[union-attr]
    where = f"SM{min(sms)}+" if "min_sm" in rule_ else " and ".join(f"SM{sm}" for sm in sms)
    if rule_.get("elsewhere") == "error":
        yield draft("plugins.use_fp8_context_fmha", f"TensorRT-LLM {r.release.version} runs FP8 context FMHA on "
                    f"{where} only; on {label(r.gpu)} the build stops ('{rule_['message']}')", "")
        return
    yield draft("plugins.use_fp8_context_fmha", f"TensorRT-LLM {r.release.version} runs FP8 context FMHA on {where} "
                f"only; the builder turns it off on {label(r.gpu)} and warns", "", Severity.WARNING)


@rule(
    "H108", "gptq-act-order-unsupported", Severity.ERROR,
    "GPTQ with activation reordering (desc_act) is asked for.",
    why="convert_checkpoint.py reads external GPTQ weights (--quant_ckpt_path, trtdeploy's route) as qweight, qzeros "
    "and scales only, never g_idx (tensorrt_llm/models/llama/weight.py @ 5955b8af, models/llama/convert.py to "
    "0.17; releases.yaml gptq_weights_read): an act-order checkpoint, whose g_idx permutes the groups, converts "
    "without a complaint and then applies each scale to the wrong rows. (The 'GPTQ with desc_act=True is not "
    "implemented!' error of convert_checkpoint.py, from 0.16, checks only a --model_dir holding a Hugging Face "
    "GPTQ checkpoint, a route trtdeploy does not take.)",
    bad="quantization: {format: int4_gptq, act_order: true}\n",
    good="quantization: {format: int4_gptq, act_order: false}\n",
    hint="set quantization.act_order: false (and quantize with desc_act=False)",
    backends=ENGINE,
)
def gptq_act_order_unsupported(d: Decided) -> Iterator[Finding]:
    r = d.r
    if d.format.value is not QuantFormat.INT4_GPTQ or not r.spec.quantization.act_order:
        return
    read = r.release.fact("gptq_weights_read")
    if read is None or read.value["g_idx"]:
        return
    yield draft("quantization.act_order", f"convert_checkpoint.py of TensorRT-LLM {r.release.version} reads GPTQ "
                f"weights without g_idx ({', '.join(read.value['tensors'])} only), so act-order (desc_act) groups "
                "would be taken in channel order and the engine would compute wrong outputs", "")


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
