"""The PyTorch backend's plan half: the hf_ptq.py step, the LLM-API YAML, and the trtllm-serve command.

Flags come from the tool surfaces of the exact releases (compiler/catalog/tools/hf_ptq.py.yaml
for the ModelOpt release, trtllm-serve.yaml for TensorRT-LLM); only pinned spellings are
emitted. The limits go both on the command line and into the YAML with equal values, so
every release gets them whatever its precedence: through 1.2 the YAML wins and, up to
1.2.0rc4, the command line's build_config overwrites top-level YAML limits (the build_config
trap of compiler/catalog/pytorch/llm_api.yaml).
"""

from __future__ import annotations

from typing import Any

import yaml

from compiler.backends import HEALTH_PATH, MULTINODE_WRAPPER
from compiler.backends.pytorch import HF_PTQ, modelopt_version
from compiler.catalog import llm_api, pytorch_backend, tools
from compiler.decide.model import Calibration, Decided, RouteKind, ServerSmoke
from compiler.backends import llmapi_steps
from compiler.load import deep_merge
from compiler.plan.argv import LAUNCH, PARALLELISM, QUANT_INPUTS, TOOL, UPSTREAM, Argv
from compiler.plan.model import (
    BUILD_DIR,
    MODEL_DIR,
    MODELOPT_DIR,
    STEP_OUT,
    Arg,
    Impact,
    InputKind,
    Step,
    StepInput,
    Var,
)
from compiler.plan.steps import SMOKE_SCRIPT, RankProgram, StepList
from compiler.spec import KvCacheDtype

HF_PTQ_SCRIPT = Var(MODELOPT_DIR, "/examples/llm_ptq/hf_ptq.py")
BACKEND_NAME = "pytorch"
LLM_API_FILE = "launch/llm_api_options.yaml"


def plan(d: Decided, steps: StepList) -> RankProgram:
    served, reads = _served(d, steps)
    if d.verify:
        llmapi_steps.plan_verify(d, steps, _verified(d, served, reads))
    return rank_program(d, served, reads)


def _verified(d: Decided, served: Arg, reads: tuple[Step, ...]) -> llmapi_steps.Served:
    """What the verify steps run: the served checkpoint with the launch's LLM-API YAML (and limits)."""
    if reads:
        inputs = [StepInput(InputKind.STEP, str(served), reads[0].id)]
    elif isinstance(served, Var):
        inputs = [StepInput(InputKind.MODEL, served)]
    else:
        inputs = [StepInput(InputKind.CHECKPOINT, served)]
    tokenizer: Arg = d.r.tokenizer_dir if d.r.spec.model.tokenizer is not None and d.r.tokenizer_dir else served
    options = ("--extra_llm_api_options", Var(BUILD_DIR, "/" + LLM_API_FILE), llm_api_options(d))
    return llmapi_steps.Served(BACKEND_NAME, served, tokenizer, tuple(inputs), reads, engine=False, options=options)


def _served(d: Decided, steps: StepList) -> tuple[Arg, tuple[Step, ...]]:
    """What trtllm-serve loads: the exported checkpoint, a given one, or the model itself."""
    kind = d.route.kind
    if kind is RouteKind.HF_EXPORT:
        assert d.calibration is not None  # hf_ptq.py always calibrates
        inputs = [StepInput(InputKind.MODEL, Var(MODEL_DIR))]
        if d.calibration.local:
            inputs.append(StepInput(InputKind.CALIBRATION, d.calibration.dataset))
        step = steps.add("quantize", HF_PTQ, hf_ptq_argv(d, d.calibration), impact=Impact.REQUANTIZE, inputs=inputs,
                         reads=[], reason=f"ModelOpt's hf_ptq.py writes the {d.format.value.value} Hugging Face "
                                          f"checkpoint (KV cache {d.kv_cache.value.value})")
        return step.output, (step,)
    if kind is RouteKind.HF_CHECKPOINT:
        assert d.r.checkpoint_dir is not None
        return d.r.checkpoint_dir, ()
    return Var(MODEL_DIR), ()


def _pinned(surface: tools.Surface, flag: str) -> bool:
    fact = surface.fact(flag)
    return fact is not None and fact.pinned


def hf_ptq_argv(d: Decided, cal: Calibration) -> Argv:
    """ModelOpt's hf_ptq.py with the HF export format, for the ModelOpt release of the build host."""
    r, b = d.r, Argv()
    modelopt = modelopt_version(r)
    surface = tools.surface(HF_PTQ, modelopt)
    weights = pytorch_backend.format_route(d.format.value.value, r.release.exact, modelopt)
    cache = pytorch_backend.kv_route(d.kv_cache.value.value, r.release.exact, modelopt)
    assert weights.qformat is not None and cache.qformat is not None  # H110 refuses formats with no qformat
    b.add(TOOL, "python3", HF_PTQ_SCRIPT)
    b.opt(TOOL, "--pyt_ckpt_path", Var(MODEL_DIR))
    b.opt(TOOL, "--export_path", Var(STEP_OUT))
    b.opt(QUANT_INPUTS, "--export_fmt", "hf")
    b.opt(QUANT_INPUTS, "--qformat", weights.qformat)
    # hf_ptq quantizes the KV cache unless told otherwise (fp8 by default), so the choice is always written.
    b.opt(QUANT_INPUTS, "--kv_cache_qformat", cache.qformat)
    if "awq" in weights.qformat:
        b.opt(QUANT_INPUTS, "--awq_block_size", r.spec.quantization.group_size)
    b.opt(QUANT_INPUTS, "--dataset", cal.dataset)
    b.opt(QUANT_INPUTS, "--calib_size", cal.samples)
    passed = "dataset, samples"
    if surface.has("--calib_seq"):
        b.opt(QUANT_INPUTS, "--calib_seq", cal.seq_len)
        passed += ", seq_len"
    b.note("calibration", f"{cal.dataset}, {cal.samples} samples", f"hf_ptq.py of ModelOpt {modelopt} takes {passed} "
           f"from {'quantization.calibration' if cal.written else 'the default calibration'}; the rest is its own")
    # No tp/pp here: the HF export is one checkpoint the server shards when it loads, so a tp/pp change
    # relaunches without re-quantizing (compiler/catalog/pytorch/quantization.yaml hf_export_layout).
    layout = pytorch_backend.hf_export_layout(modelopt)
    assert not layout.per_rank, f"ModelOpt {modelopt}'s HF export is per rank: hf_ptq.py would need tp and pp"
    b.note("quantization.export", f"hf_ptq.py --qformat {weights.qformat} --kv_cache_qformat {cache.qformat}",
           f"ModelOpt {modelopt} is what TensorRT-LLM {r.release.version} pins (or build.modelopt); its HF export "
           f"is one checkpoint for every tp/pp, which the server shards when it loads ({layout.source})")
    return b


def llm_api_options(d: Decided) -> dict[str, Any]:
    """Every LLM-API setting trtdeploy decides, plus runtime.llm_api_options (checked against the release)."""
    r, limits = d.r, d.limits
    options: dict[str, Any] = {
        "max_batch_size": limits.max_batch_size,
        "max_num_tokens": limits.max_num_tokens.value,
        "max_seq_len": limits.max_seq_len,
        "max_beam_width": limits.max_beam_width,
    }
    trap = llm_api.build_config_trap(r.release.exact)
    if trap.trapped:  # the CLI's build_config replaces top-level limits: a YAML build_config carries them all
        options["build_config"] = {**options, "max_input_len": limits.max_input_len}
    else:
        options["max_input_len"] = limits.max_input_len
    options["kv_cache_config"] = _kv_cache_config(d)
    if d.on("runtime.enable_chunked_prefill"):
        options["enable_chunked_prefill"] = True
    graphs = d.value("runtime.cuda_graphs")
    if graphs is not False:
        options["cuda_graph_config"] = graphs
    return deep_merge(options, r.spec.runtime.llm_api_options)


def _kv_cache_config(d: Decided) -> dict[str, Any]:
    config: dict[str, Any] = {
        "free_gpu_memory_fraction": d.value("runtime.kv_cache_free_gpu_memory_fraction"),
        "enable_block_reuse": d.value("runtime.enable_block_reuse"),
    }
    if d.kv_cache.value is KvCacheDtype.FP8:
        config["dtype"] = "fp8"
    tokens = d.value("plugins.tokens_per_block")
    if tokens is not None:
        config["tokens_per_block"] = tokens
    return config


def llm_api_text(options: dict[str, Any]) -> str:
    header = "# LLM-API options of trtllm-serve, written by `trtdeploy compile`; edits are overwritten\n"
    return header + yaml.safe_dump(options, sort_keys=True, default_flow_style=False)


def rank_program(d: Decided, served: Arg, reads: tuple[Step, ...]) -> RankProgram:
    """trtllm-serve with the release's pinned flags and the LLM-API YAML; the LLM API starts its own workers."""
    r, limits = d.r, d.limits
    surface = tools.surface("trtllm-serve", r.release.exact, "serve")
    serve = r.spec.launch.serve
    b = Argv()
    b.add(TOOL, "trtllm-serve")
    b.add(UPSTREAM, served)
    if _pinned(surface, "--backend"):
        b.opt(LAUNCH, "--backend", "pytorch")
    b.opt(LAUNCH, "--host", serve.host)
    b.opt(LAUNCH, "--port", serve.port)
    if r.spec.model.tokenizer is not None and r.tokenizer_dir is not None:
        b.opt(LAUNCH, "--tokenizer", r.tokenizer_dir)
    b.opt(PARALLELISM, "--tp_size", d.topology.tp)
    b.opt(PARALLELISM, "--pp_size", d.topology.pp)
    if r.is_written("target.gpus_per_node"):
        b.opt(PARALLELISM, "--gpus_per_node", d.topology.gpus_per_node)
    for flag, value in (("--max_batch_size", limits.max_batch_size), ("--max_num_tokens", limits.max_num_tokens.value),
                        ("--max_seq_len", limits.max_seq_len), ("--max_beam_width", limits.max_beam_width),
                        ("--kv_cache_free_gpu_memory_fraction",
                         d.value("runtime.kv_cache_free_gpu_memory_fraction"))):
        b.opt(LAUNCH, flag, value)  # type: ignore[arg-type]
    options_flag = "--config" if _pinned(surface, "--config") else "--extra_llm_api_options"
    b.opt(LAUNCH, options_flag, Var(BUILD_DIR, "/" + LLM_API_FILE))
    b.note("launch.llm_api_options", f"{options_flag} {LLM_API_FILE}",
           f"trtllm-serve of TensorRT-LLM {r.release.version} reads LLM-API settings from this flag; the limits are "
           f"also flags with the same values, so the {llm_api.precedence(r.release.exact).winner} side's win "
           "changes nothing")
    options = llm_api_options(d)
    smoke = d.settings.get("launch.run")
    return RankProgram(b, r.spec.launch.entrypoint.value, str(served), reads, spawns_workers=True,
                       multinode_wrapper=MULTINODE_WRAPPER, files={LLM_API_FILE: llm_api_text(options)},
                       port=serve.port, health_path=HEALTH_PATH, llm_api_options=options,
                       smoke=smoke_argv(smoke.value, served) if smoke is not None else None)


def smoke_argv(smoke: object, served: Arg) -> Argv:
    """The smoke client: what it asks, and of which model; it computes the model's name as the server does."""
    assert isinstance(smoke, ServerSmoke)
    b = Argv()
    b.add(TOOL, "python3", Var(BUILD_DIR, "/" + SMOKE_SCRIPT))
    b.opt(LAUNCH, "--host", smoke.host)
    b.opt(LAUNCH, "--port", smoke.port)
    b.opt(LAUNCH, "--health", smoke.health_path)
    b.opt(LAUNCH, "--completions", smoke.completions_path)
    b.opt(UPSTREAM, "--model", served)
    b.opt(LAUNCH, "--prompt", smoke.prompt)
    b.opt(LAUNCH, "--max_tokens", smoke.max_tokens)
    b.add(LAUNCH, "--")
    return b
