"""The PyTorch backend (TensorRT-LLM 1.0 and newer): a Hugging Face checkpoint served by trtllm-serve.

Decide half: what this release's PyTorch backend cannot load (the quant_algo and KV
algo tables of compiler/catalog/pytorch/quantization.yaml, per release and GPU
architecture; GPTQ/AutoAWQ checkpoints), the route (ModelOpt's hf_ptq.py writes a
quantized HF checkpoint; `format: none` serves the model as it is; a given ModelOpt
checkpoint is served), the LLM-API settings with the release's defaults, the engine
settings that do nothing here (and what does their job), the smoke check `entrypoint: run`
means here (one request to the server it starts), and the gaps. Plan half:
compiler/backends/pytorch/steps.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from compiler.backends import HEALTH_PATH, llmapi, ranks_wrapped, wrapper_split_gaps
from compiler.catalog import llm_api, pytorch_backend, tools
from compiler.decide.model import (
    Backend,
    Calibration,
    Decided,
    Limits,
    Origin,
    Route,
    RouteKind,
    ServerSmoke,
    Setting,
    VerifyTools,
)
from compiler.findings import Finding, draft
from compiler.load import has_dotted_key
from compiler.resolve import Resolved
from compiler.spec import AutoToggle, Entrypoint, KvCacheDtype, Launcher, QuantFormat
from compiler.versions import Version, parse_version

if TYPE_CHECKING:
    from compiler.plan.steps import RankProgram, StepList

BACKEND = Backend.PYTORCH
HF_PTQ = "hf_ptq.py"
# The first release whose default backend is PyTorch (release notes 1.0: "Promote PyTorch to be the default LLM
# backend"); compiler/catalog/pytorch/backend.yaml `pytorch_backend`.
FIRST = parse_version("1.0.0rc0")
# The OpenAI completions route of trtllm-serve (tensorrt_llm/serve/openai_server.py register_routes, every 1.x).
COMPLETIONS_PATH = "/v1/completions"
# Where a client on the server's host reaches a server bound to a wildcard address.
LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1"}
# TorchLlmArgs' KvCacheConfig.free_gpu_memory_fraction default (llm_args.py; C++ default 0.9 in R1.0).
FREE_GPU_MEMORY_FRACTION = 0.9
# The key path in compiler.catalog.llm_api's messages ("TensorRT-LLM 1.2.0 LLM-API key kv_cache_config.x: ...").
OPTION_PATH = re.compile(r"LLM-API key ([A-Za-z0-9_.]+):")
# LLM-API keys trtdeploy writes from spec keys (compiler/backends/pytorch/steps.py llm_api_options and the
# trtllm-serve flags of the same names), by dotted path; runtime.llm_api_options may add any other key, nested
# ones included. "limits.*": every limit.
MANAGED_OPTIONS: dict[str, tuple[str, ...]] = {
    "max_batch_size": ("limits.max_batch_size",), "max_num_tokens": ("limits.max_num_tokens",),
    "max_seq_len": ("limits.max_input_len", "limits.max_output_len"), "max_beam_width": ("limits.max_beam_width",),
    "max_input_len": ("limits.max_input_len",), "build_config": ("limits.*",),
    "kv_cache_config.free_gpu_memory_fraction": ("runtime.kv_cache_free_gpu_memory_fraction",),
    "kv_cache_config.enable_block_reuse": ("runtime.enable_block_reuse",),
    "kv_cache_config.dtype": ("quantization.kv_cache",),
    "kv_cache_config.tokens_per_block": ("plugins.tokens_per_block",),
    "enable_chunked_prefill": ("runtime.enable_chunked_prefill",), "cuda_graph_config": ("runtime.cuda_graphs",),
    "tensor_parallel_size": ("parallelism.tp",), "pipeline_parallel_size": ("parallelism.pp",),
    "backend": ("target.backend",),
}


@dataclass(frozen=True)
class EngineOnly:
    """An engine build setting with no PyTorch-backend setting of its own: why, and the spec key that does its
    job here, if one does."""

    why: str
    counterpart: str | None = None


# Engine build settings with no PyTorch-backend counterpart of their own.
ENGINE_ONLY: dict[str, EngineOnly] = {
    "plugins.gemm": EngineOnly("GEMM kernels are chosen per quant_algo by the PyTorch modules"),
    "plugins.gpt_attention": EngineOnly("the attention backend is TRTLLM (LLM-API attn_backend), not a plugin"),
    "plugins.remove_input_padding": EngineOnly("inputs are always packed"),
    "plugins.context_fmha": EngineOnly("context attention is always fused"),
    "plugins.paged_kv_cache": EngineOnly("the KV cache is always paged"),
    "plugins.use_paged_context_fmha": EngineOnly("chunked context is runtime.enable_chunked_prefill",
                                                 "runtime.enable_chunked_prefill"),
    "plugins.use_fp8_context_fmha": EngineOnly("FP8 attention follows the KV-cache dtype", "quantization.kv_cache"),
    "plugins.multi_block_mode": EngineOnly("multi-block attention is chosen at runtime"),
    "plugins.use_fused_mlp": EngineOnly("MLP fusion is the modules' own"),
    "plugins.use_custom_all_reduce": EngineOnly("the all-reduce is LLM-API allreduce_strategy (AUTO by default)",
                                                "runtime.llm_api_options.allreduce_strategy"),
    "build.workers": EngineOnly("nothing is built"),
}


def supported_here(r: Resolved) -> bool:
    return r.release.exact >= FIRST


def modelopt_version(r: Resolved) -> Version:
    """The ModelOpt release the build host runs: as written, else the one the TensorRT-LLM release pins."""
    if r.spec.build.modelopt is not None:
        return parse_version(r.spec.build.modelopt)
    return pytorch_backend.modelopt_shipped(r.release.exact).version


def checkpoint_kind(r: Resolved, fmt: QuantFormat) -> str | None:
    """What a given checkpoint is: read from its folder, else assumed from the format (GPTQ for int4_gptq)."""
    if r.checkpoint_dir is None:
        return None
    if r.checkpoint is not None:
        return r.checkpoint.kind
    return "gptq" if fmt is QuantFormat.INT4_GPTQ else "modelopt" if r.spec.target.backend.value == "pytorch" \
        else "awq" if fmt is QuantFormat.INT4_AWQ else "modelopt"


def unsupported(r: Resolved, fmt: QuantFormat, kv: KvCacheDtype) -> str | None:
    """Why this release's PyTorch backend cannot serve the spec on its GPU (None: it can)."""
    version = r.release.exact
    if not supported_here(r):
        return f"TensorRT-LLM {version} predates the PyTorch backend (1.0)"
    kind = checkpoint_kind(r, fmt)
    if kind not in (None, "modelopt"):
        support = pytorch_backend.checkpoint_support(kind, version)
        if support is None or not support.loads:
            return (f"the PyTorch backend of TensorRT-LLM {version} cannot load {kind} checkpoints"
                    + (f" ({support.note})" if support and support.note else ""))
    modelopt = modelopt_version(r)
    weights = pytorch_backend.format_route(fmt.value, version, modelopt)
    if weights.quant_algo is not None:
        why = _support_problem(r, weights, f"{fmt.value} ({weights.quant_algo})")
        if why is not None:
            return why
        if kind is None and weights.qformat is None:
            return f"ModelOpt {modelopt}'s HF export has no qformat for {fmt.value}" + \
                (f" ({weights.note})" if weights.note else "")
    cache = pytorch_backend.kv_route(kv.value, version, modelopt)
    if cache.quant_algo is not None:
        return _support_problem(r, cache, f"an {kv.value} KV cache")
    return None


def _support_problem(r: Resolved, route: pytorch_backend.Route, what: str) -> str | None:
    support = route.support
    if support is None or not support.loads:
        note = support.note if support is not None and support.note else route.note
        return f"the PyTorch backend of TensorRT-LLM {r.release.exact} cannot load {what}" + (f": {note}" if note else "")
    if not support.on_sm(r.gpu.sm):
        arch = pytorch_backend.architecture_of(r.gpu.sm) or f"SM{r.gpu.sm}"
        return f"the PyTorch backend runs {what} on {', '.join(support.architectures)}, not on {r.gpu.id} ({arch})"
    return None


def route(r: Resolved, fmt: QuantFormat, kv: KvCacheDtype) -> Route:
    """hf_ptq.py writes a quantized HF checkpoint; an unquantized model or a given checkpoint is served as it is."""
    runtime_kv = "kv_cache_config.dtype" if kv is KvCacheDtype.FP8 else None
    if r.checkpoint_dir is not None:
        stored = r.checkpoint.kv_cache_quant_algo if r.checkpoint is not None else None
        kv_by = "the checkpoint" if stored is not None and kv is KvCacheDtype.FP8 else runtime_kv
        return Route(RouteKind.HF_CHECKPOINT, None, None, kv_by, True, None,
                     "quantization.checkpoint is a ModelOpt HF checkpoint, served by trtllm-serve as it is")
    if fmt is QuantFormat.NONE:
        return Route(RouteKind.HF_MODEL, None, None, runtime_kv, False, None,
                     "format none: trtllm-serve serves the Hugging Face model as it is"
                     + ("; the fp8 KV cache is the runtime's (kv_cache_config.dtype), with unit scales" if runtime_kv
                        else ""))
    return Route(RouteKind.HF_EXPORT, HF_PTQ, HF_PTQ, HF_PTQ if kv is KvCacheDtype.FP8 else None, False, "gpu",
                 "ModelOpt's hf_ptq.py calibrates with the full-precision model on the build GPUs and exports a "
                 "quantized Hugging Face checkpoint (hf_quant_config.json), which the PyTorch backend loads")


def stage_calibration(r: Resolved, route_: Route, calibration: Calibration) -> Calibration:
    """hf_ptq.py takes its --dataset as it is: a name (ModelOpt 0.33 names only), or a path from 0.37."""
    return calibration


# --- settings ------------------------------------------------------------------------------


def settings(r: Resolved, fmt: QuantFormat, kv: KvCacheDtype, route_: Route,
             limits: Limits) -> Mapping[str, Setting[object]]:
    """The LLM-API settings (runtime.*), decided; written engine settings kept with value None and why."""
    runtime = r.spec.runtime
    decided: dict[str, Setting[object]] = {
        "runtime.kv_cache_free_gpu_memory_fraction": _written_or(
            r, "runtime.kv_cache_free_gpu_memory_fraction", runtime.kv_cache_free_gpu_memory_fraction,
            FREE_GPU_MEMORY_FRACTION, "TorchLlmArgs' KvCacheConfig default"),
        "runtime.enable_block_reuse": _written_or(r, "runtime.enable_block_reuse", runtime.enable_block_reuse, True,
                                                  "KvCacheConfig's default"),
        "runtime.enable_chunked_prefill": _chunked_prefill(r, limits),
        "plugins.tokens_per_block": _tokens_per_block(r, limits),
        "runtime.cuda_graphs": _cuda_graphs(r),
    }
    for key, engine_only in ENGINE_ONLY.items():
        if r.is_written(key):
            decided[key] = Setting(key, None, Origin.WRITTEN, f"no effect on the PyTorch backend: {engine_only.why}")
    if r.spec.launch.entrypoint is Entrypoint.RUN:
        decided["launch.run"] = _smoke(r)
    return decided


def _smoke(r: Resolved) -> Setting[object]:
    """`entrypoint: run` is a smoke check of the very server `serve` starts: run.py loads TensorRT engines only."""
    serve, run = r.spec.launch.serve, r.spec.launch.run
    smoke = ServerSmoke(_smoke_host(r), serve.port, HEALTH_PATH, COMPLETIONS_PATH, run.input_text, run.max_output_len)
    return Setting("launch.run", smoke, Origin.DECIDED,
                   "a smoke check of the server entrypoint serve starts (run.py loads TensorRT engines only): start "
                   f"trtllm-serve, wait until GET {HEALTH_PATH} answers 200 (the server listens only once the model is "
                   f"loaded), send launch.run's prompt as one POST {COMPLETIONS_PATH}, print the answer, stop the "
                   "server; the request names the model as trtllm-serve registers it, the served folder's name "
                   "(tensorrt_llm/serve/openai_server.py: Path(model).name for a local folder)")


def _cuda_graphs(r: Resolved) -> Setting[object]:
    """cuda_graph_config as the YAML gets it: None disables CUDA graphs, False leaves the release's default."""
    graphs, key = r.spec.runtime.cuda_graphs, "runtime.cuda_graphs"
    if not graphs.enabled:
        return Setting(key, None, Origin.WRITTEN, "cuda_graph_config: null turns CUDA graphs off")
    config = {name: value for name, value in (("batch_sizes", graphs.batch_sizes),
                                              ("max_batch_size", graphs.max_batch_size),
                                              ("enable_padding", graphs.padding)) if value is not None}
    if not config:
        return Setting(key, False, Origin.DEFAULT, f"the CudaGraphConfig default of TensorRT-LLM {r.release.version}")
    return Setting(key, config, Origin.WRITTEN, "cuda_graph_config from runtime.cuda_graphs")


def _written_or(r: Resolved, key: str, value: object, default: object, why: str) -> Setting[object]:
    if value is not None:
        return Setting(key, value, Origin.WRITTEN, "set by the spec")
    return Setting(key, default, Origin.DEFAULT, f"{why} in TensorRT-LLM {r.release.version}")


def _chunked_prefill(r: Resolved, limits: Limits) -> Setting[object]:
    key, setting = "runtime.enable_chunked_prefill", r.spec.runtime.enable_chunked_prefill
    if setting is not AutoToggle.AUTO:
        return Setting(key, setting is AutoToggle.ENABLE, Origin.WRITTEN, "set by the spec")
    if limits.max_input_len > limits.max_num_tokens.value:
        return Setting(key, True, Origin.DECIDED, f"max_input_len ({limits.max_input_len}) exceeds max_num_tokens "
                       f"({limits.max_num_tokens.value}): longer prompts are prefilled in chunks")
    return Setting(key, False, Origin.DEFAULT, "off by default (TorchLlmArgs); every prompt fits one step")


def _tokens_per_block(r: Resolved, limits: Limits) -> Setting[object]:
    key = "plugins.tokens_per_block"
    if not limits.tokens_per_block.written:
        return Setting(key, None, Origin.DEFAULT, "the KV-cache block size is the release's")
    if supported_here(r) and llm_api.llm_api_keys(r.release.exact, "KvCacheConfig").has("tokens_per_block"):
        return Setting(key, limits.tokens_per_block.value, Origin.WRITTEN, "kv_cache_config.tokens_per_block")
    return Setting(key, None, Origin.WRITTEN, f"the KvCacheConfig of TensorRT-LLM {r.release.version} has no "
                   "tokens_per_block; the block size is the release's")


def _smoke_host(r: Resolved) -> str:
    """Where the smoke client, started beside the launch command, reaches the server: the address it binds, or
    for a wildcard bind the server's node: launch.hosts[0] under a multi-node mpirun (mpirun puts rank 0, which
    trtllm-llmapi-launch makes the server, on the hostfile's first node), else this node (one node; a Slurm
    batch script runs on the allocation's first node, where rank 0 is)."""
    host, hosts = r.spec.launch.serve.host, r.spec.launch.hosts
    if host not in LOOPBACK:
        return host
    if r.spec.target.nodes > 1 and r.spec.launch.launcher is Launcher.MPIRUN and hosts:
        return hosts[0]
    return LOOPBACK[host]


# --- what the backend cannot express --------------------------------------------------------


def gaps(d: Decided) -> list[Finding]:
    """H110: what this release's PyTorch backend cannot load; P105: LLM-API keys the release does not define."""
    r = d.r
    why = unsupported(r, d.format.value, d.kv_cache.value)
    out = []
    if why is not None:
        out.append(draft(_unsupported_key(d), why, _unsupported_hint(d), code="H110"))
    out += _calibration_gaps(d)
    if supported_here(r):
        graphs = d.value("runtime.cuda_graphs")
        if isinstance(graphs, dict):
            out += [draft(r.first_written("runtime.cuda_graphs.batch_sizes", "runtime.cuda_graphs.max_batch_size"),
                          problem, "", code="C115")
                    for problem in llm_api.check_llm_api_options(r.release.exact, {"cuda_graph_config": graphs})]
        out += [draft(_option_key(problem), problem, "remove the key, or use a release that has it", code="P105")
                for problem in llm_api.check_llm_api_options(r.release.exact, r.spec.runtime.llm_api_options)]
        out += [draft(f"runtime.llm_api_options.{key}", f"runtime.llm_api_options.{key} is written by trtdeploy from "
                      f"{' + '.join(owners)}", f"write {' + '.join(owners)} instead", code="P105")
                for key, owners in MANAGED_OPTIONS.items() if has_dotted_key(r.spec.runtime.llm_api_options, key)]
    if ranks_wrapped(d):
        out += wrapper_split_gaps(r)
    return out


def _calibration_gaps(d: Decided) -> list[Finding]:
    """P107: a dataset hf_ptq.py's --dataset does not take (ModelOpt 0.33 offers a fixed list of names)."""
    cal = d.calibration
    if cal is None or d.route.calibrator != HF_PTQ or not supported_here(d.r):  # H110 says the release has no backend
        return []
    modelopt = modelopt_version(d.r)
    flag = tools.surface(HF_PTQ, modelopt).fact("--dataset")
    if flag is None or flag.kind != "choice" or cal.dataset in flag.choices:
        return []
    return [draft("quantization.calibration.dataset", f"hf_ptq.py of ModelOpt {modelopt} calibrates only on "
                  f"{', '.join(flag.choices)}, not {'a local file' if cal.local else repr(cal.dataset)}",
                  "use one of those names, or set build.modelopt to the ModelOpt installed if it is newer",
                  code="P107")]


def _unsupported_key(d: Decided) -> str:
    r = d.r
    if r.checkpoint_dir is not None and checkpoint_kind(r, d.format.value) not in (None, "modelopt"):
        return "quantization.checkpoint"
    if not supported_here(r):
        return r.first_written("target.backend", "target.tensorrt_llm")
    kv_first = d.kv_cache.value is KvCacheDtype.INT8
    return r.first_written(*(("quantization.kv_cache", "quantization.format") if kv_first else
                             ("quantization.format", "quantization.kv_cache")), "target.backend")


def _unsupported_hint(d: Decided) -> str:
    fmt = d.format.value
    fix = {QuantFormat.INT8_SQ: "use fp8 on Ada/Hopper",
           QuantFormat.INT4_GPTQ: "use int4_awq (ModelOpt's HF export)",
           QuantFormat.INT4_WO: "use int4_awq", QuantFormat.INT8_WO: "use fp8 on Ada/Hopper, or int4_awq"}.get(fmt)
    if d.kv_cache.value is KvCacheDtype.INT8:
        fix = "use kv_cache: fp8"
    engine = "pin target.tensorrt_llm to 1.2 or older with target.backend: tensorrt"
    return f"{fix}, or {engine}" if fix else engine


def _option_key(problem: str) -> str:
    """The spec key a check_llm_api_options message is about: runtime.llm_api_options.<its dotted path>."""
    match = OPTION_PATH.search(problem)
    return "runtime.llm_api_options" + (f".{match.group(1)}" if match else "")


def verify_tools(r: Resolved) -> VerifyTools:
    """trtllm-eval and trtllm-bench throughput with --backend pytorch."""
    return llmapi.verify_tools(r, BACKEND.value)


def plan(d: Decided, steps: StepList) -> RankProgram:
    """Add the HF-export step when the route has one; return the trtllm-serve each rank (or one process) runs."""
    from compiler.backends.pytorch import (
        steps as planning,  # the plan half, imported only when planning
    )

    return planning.plan(d, steps)
