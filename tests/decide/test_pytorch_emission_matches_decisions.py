"""The matrix property on the PyTorch backend: the launch and the LLM-API file carry what was decided.

Over format x KV-cache dtype x release (1.0.0, 1.1.0, 1.2.0, 1.3.0) x GPU x tp (with written
runtime.*, plugin, limit and smoke-run values cycled through the combinations), with
target.backend: pytorch:

1. every trtllm-serve flag and every LLM-API key the plan emits equals its decided value, the
   hf_ptq.py step (the only step there is) carries the decided format, KV dtype and calibration,
   and no engine tool is ever planned;
2. when `check` is clean, every value the spec writes is the decided value and reaches the plan
   (a flag, an LLM-API key with that value, an LLM-API key left out where the release's default
   is that value, or a decision note saying why no tool takes it): nothing is changed or dropped
   silently;
3. every spec `check` passes also plans, and what the PyTorch backend cannot serve is an H110
   error with a hint.

The oracle below (which spec key becomes which flag or LLM-API key) is written here, apart from
the backend that emits them, so a disagreement shows up as a failure.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import yaml

from compiler.backends.pytorch import modelopt_version
from compiler.catalog.llm_api import llm_api_keys
from compiler.catalog.pytorch_backend import format_route, kv_route
from compiler.decide.model import Decided, RouteKind, ServerSmoke
from compiler.pipeline import check_spec
from compiler.plan.model import Plan

FORMATS = ("none", "int8_wo", "int4_wo", "int4_awq", "int4_gptq", "int8_sq", "fp8", "w4a8_awq", "nvfp4", "auto")
KV = ("auto", "int8", "fp8")
RELEASES = ("1.0.0", "1.1.0", "1.2.0", "1.3.0")
GPUS = ("A100-SXM-80GB", "H100-SXM", "L40S", "B200")
TPS = (1, 2)
LLM_API_FILE = "launch/llm_api_options.yaml"
ENGINE_TOOLS = {"quantize.py", "convert_checkpoint.py", "gptqmodel", "trtllm-build", "run.py"}
TOGGLE = {"enable": True, "disable": False}

# Spec key -> the LLM-API key (dotted) that carries it.
LLM_API_KEYS = {
    "runtime.kv_cache_free_gpu_memory_fraction": "kv_cache_config.free_gpu_memory_fraction",
    "runtime.enable_block_reuse": "kv_cache_config.enable_block_reuse",
    "runtime.enable_chunked_prefill": "enable_chunked_prefill",
    "plugins.tokens_per_block": "kv_cache_config.tokens_per_block",
}
CUDA_GRAPH_KEYS = {"batch_sizes": "batch_sizes", "max_batch_size": "max_batch_size", "padding": "enable_padding"}
GRAPHS = ({"batch_sizes": [1, 2, 4]}, {"max_batch_size": 4, "padding": True}, {"enabled": False})


def specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for index, (fmt, kv, release, gpu, tp) in enumerate(itertools.product(FORMATS, KV, RELEASES, GPUS, TPS)):
        runtime: dict[str, Any] = {}
        if index % 2:
            runtime["enable_chunked_prefill"] = ("enable", "disable")[index // 2 % 2]
        if index % 3 == 0:
            runtime["kv_cache_free_gpu_memory_fraction"] = 0.8
        if index % 5 == 1:
            runtime["enable_block_reuse"] = False
        if index % 7 == 2:
            runtime["cuda_graphs"] = GRAPHS[index // 7 % 3]
        if index % 11 == 3:
            runtime["llm_api_options"] = {"enable_iter_perf_stats": True}
        limits: dict[str, Any] = {"max_batch_size": 4 + index % 5, "max_input_len": 1024, "max_output_len": 512}
        if index % 9 == 4:
            limits.update(max_num_tokens=512)  # below max_input_len: chunked prefill is needed
        spec: dict[str, Any] = {
            "name": "matrix",
            "model": {"name": "llama-2-7b", "path": "/models/llama-2-7b"},
            "quantization": {"format": fmt, "kv_cache": kv, "calibration": {"dataset": "cnn_dailymail",
                                                                            "samples": 64 + index % 4}},
            "parallelism": {"tp": tp},
            "limits": limits,
            "runtime": runtime,
            "target": {"gpu": gpu, "tensorrt_llm": release, "gpus_per_node": 8, "backend": "pytorch"},
            "launch": {"entrypoint": "serve"},
        }
        if index % 4 == 1:
            spec["plugins"] = {"tokens_per_block": 64}
        if index % 6 == 5:
            spec["launch"] = {"entrypoint": "run", "run": {"input_text": "-say $HOME's name", "max_output_len": 8}}
        yield f"{fmt}-{kv}-{release}-{gpu}-tp{tp}-{index}", spec


def flag(argv: list[str], name: str) -> str | None:
    for i, word in enumerate(argv):
        if word == name:
            return argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--") else ""
        if word.startswith(name + "="):
            return word.partition("=")[2]
    return None


_ABSENT = object()


def lookup(options: Mapping[str, Any], dotted: str) -> Any:
    node: Any = options
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def release_default(d: Decided, dotted: str) -> Any:
    """The release's own default of an LLM-API key (what leaving it out means)."""
    *models, key = dotted.split(".")
    api = llm_api_keys(d.r.release.exact)
    for name in models:
        api = api.nested[name]
    return api.fields[key].default


def serve_argv(plan: Plan) -> list[str]:
    rank = [str(a) for a in plan.launch.rank_argv]
    return rank[rank.index("trtllm-serve"):]


def smoke_argv(plan: Plan) -> list[str] | None:
    argv = [str(a) for a in plan.launch.argv]
    return argv[:argv.index("--")] if "--" in argv else None


def emitted_settings_match(d: Decided, plan: Plan) -> list[str]:
    """Property 1: the flags, the LLM-API file and the steps carry the decided values."""
    problems = []
    limits, serve, options = d.limits, serve_argv(plan), plan.launch.llm_api_options or {}
    flags = {"--max_batch_size": limits.max_batch_size, "--max_num_tokens": limits.max_num_tokens.value,
             "--max_seq_len": limits.max_seq_len, "--max_beam_width": limits.max_beam_width,
             "--kv_cache_free_gpu_memory_fraction": d.value("runtime.kv_cache_free_gpu_memory_fraction"),
             "--tp_size": d.topology.tp, "--pp_size": d.topology.pp}
    problems += [f"{name} {flag(serve, name)} but decided {value}" for name, value in flags.items()
                 if flag(serve, name) != str(value)]
    if flag(serve, "--backend") not in (None, "pytorch"):
        problems.append(f"--backend {flag(serve, '--backend')}")
    if not (flag(serve, "--config") or flag(serve, "--extra_llm_api_options") or "").endswith(LLM_API_FILE):
        problems.append("trtllm-serve does not read the LLM-API file")
    if yaml.safe_load(plan.launch.contents[LLM_API_FILE]) != options:
        problems.append("the LLM-API file is not the plan's options")
    limit_keys = options.get("build_config", options)
    for key, value in {"max_batch_size": limits.max_batch_size, "max_num_tokens": limits.max_num_tokens.value,
                       "max_seq_len": limits.max_seq_len, "max_beam_width": limits.max_beam_width,
                       "max_input_len": limits.max_input_len}.items():
        if limit_keys.get(key) != value:
            problems.append(f"LLM-API {key} {limit_keys.get(key)} but decided {value}")
    decided = {"kv_cache_config.free_gpu_memory_fraction": d.value("runtime.kv_cache_free_gpu_memory_fraction"),
               "kv_cache_config.enable_block_reuse": d.value("runtime.enable_block_reuse"),
               "kv_cache_config.dtype": "fp8" if d.kv_cache.value.value == "fp8" else _ABSENT,
               "kv_cache_config.tokens_per_block": _ABSENT if d.value("plugins.tokens_per_block") is None
               else d.value("plugins.tokens_per_block"),
               "enable_chunked_prefill": True if d.on("runtime.enable_chunked_prefill") else _ABSENT}
    graphs = d.value("runtime.cuda_graphs")
    if "cuda_graph_config" not in d.r.spec.runtime.llm_api_options:
        decided["cuda_graph_config"] = _ABSENT if graphs is False else graphs
    problems += [f"LLM-API {key} {lookup(options, key)!r} but decided {value!r}" for key, value in decided.items()
                 if lookup(options, key) != value]
    problems += [f"runtime.llm_api_options.{key} not in the file" for key, value in
                 d.r.spec.runtime.llm_api_options.items() if options.get(key) != value]
    problems += _steps_match(d, plan) + _smoke_matches(d, plan)
    return problems


def _steps_match(d: Decided, plan: Plan) -> list[str]:
    tools = [step.tool for step in plan.steps]
    if set(tools) & ENGINE_TOOLS or plan.launch.rank_argv[0] == "python3":
        return [f"engine tools planned: {tools}"]
    if d.route.kind is not RouteKind.HF_EXPORT:
        return [] if not tools else [f"steps {tools} for a model served as it is"]
    if tools != ["hf_ptq.py"]:
        return [f"steps {tools} for an HF export"]
    argv = [str(a) for a in plan.steps[0].argv]
    modelopt = modelopt_version(d.r)
    assert d.calibration is not None
    expected = {"--qformat": format_route(d.format.value.value, d.r.release.exact, modelopt).qformat,
                "--kv_cache_qformat": kv_route(d.kv_cache.value.value, d.r.release.exact, modelopt).qformat,
                "--export_fmt": "hf", "--calib_size": str(d.calibration.samples), "--dataset": d.calibration.dataset}
    if "awq" in str(expected["--qformat"]):
        expected["--awq_block_size"] = str(d.r.spec.quantization.group_size)
    return [f"hf_ptq.py {name} {flag(argv, name)} but decided {value}" for name, value in expected.items()
            if flag(argv, name) != value]


def _smoke_matches(d: Decided, plan: Plan) -> list[str]:
    smoke, client = d.settings.get("launch.run"), smoke_argv(plan)
    if smoke is None:
        return [] if client is None else ["a smoke client for entrypoint serve"]
    assert isinstance(smoke.value, ServerSmoke)
    if client is None:
        return ["entrypoint run without its smoke client"]
    expected = {"--host": smoke.value.host, "--port": str(smoke.value.port), "--prompt": smoke.value.prompt,
                "--max_tokens": str(smoke.value.max_tokens), "--model": plan.launch.engine_dir,
                "--health": "/health", "--completions": "/v1/completions"}
    return [f"smoke {name} {flag(client, name)} but decided {value}" for name, value in expected.items()
            if flag(client, name) != value]


def written_values_reach_the_plan(d: Decided, plan: Plan) -> list[str]:
    """Property 2, for a clean spec: what the spec writes is decided as written and carried by the plan."""
    spec, options, serve = d.r.spec, plan.launch.llm_api_options or {}, serve_argv(plan)
    noted = {n.topic for n in plan.decisions}
    problems = []
    for key, llm_key in LLM_API_KEYS.items():
        if not d.r.is_written(key):
            continue
        section, name = key.split(".")
        written = getattr(getattr(spec, section), name)
        wanted = TOGGLE.get(getattr(written, "value", written), written)
        carried = lookup(options, llm_key)
        if carried is _ABSENT and key in noted and d.value(key) is None:
            continue  # the release has no such key: a note says so
        if (release_default(d, llm_key) if carried is _ABSENT else carried) != wanted:
            problems.append(f"{key}: written {written}, the server gets {carried!r}")
    graphs = spec.runtime.cuda_graphs
    if d.r.is_written("runtime.cuda_graphs.enabled") and not graphs.enabled:
        if options.get("cuda_graph_config", _ABSENT) is not None:
            problems.append("runtime.cuda_graphs.enabled: false, yet cuda_graph_config is not null")
    for name, llm_name in CUDA_GRAPH_KEYS.items():
        if d.r.is_written(f"runtime.cuda_graphs.{name}") and \
                lookup(options, f"cuda_graph_config.{llm_name}") != getattr(graphs, name):
            problems.append(f"runtime.cuda_graphs.{name}: written {getattr(graphs, name)}, not carried")
    limits = spec.limits
    for key, value in (("--max_batch_size", limits.max_batch_size), ("--max_num_tokens", limits.max_num_tokens),
                       ("--max_seq_len", limits.max_input_len + limits.max_output_len),
                       ("--tp_size", spec.parallelism.tp)):
        if value is not None and flag(serve, key) != str(value):
            problems.append(f"{key}: written {value}, emitted {flag(serve, key)}")
    calibration = spec.quantization.calibration
    if plan.steps and calibration is not None:
        if flag([str(a) for a in plan.steps[0].argv], "--calib_size") != str(calibration.samples):
            problems.append(f"quantization.calibration.samples {calibration.samples} is not hf_ptq.py's --calib_size")
    client = smoke_argv(plan)
    if d.r.is_written("launch.run.input_text") and (client is None or flag(client, "--prompt") != spec.launch.run.input_text):
        problems.append("launch.run.input_text is not the smoke request's prompt")
    return problems


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Decided, Plan | None, Any]]:
    folder = tmp_path_factory.mktemp("pytorch-matrix")
    out = []
    for name, spec in specs():
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec), encoding="utf-8")
        report = check_spec(path, plan=True)  # a PlanBug would raise here: a spec check passed that does not plan
        assert report.decided is not None, [f.message for f in report.findings]
        out.append((name, report.decided, report.plan, report))
    return out


def test_every_spec_check_passes_plans_and_the_matrix_plans_widely(
        planned: list[tuple[str, Decided, Plan | None, Any]]) -> None:
    unplanned = [name for name, _, plan, report in planned if plan is None and not report.errors]
    assert not unplanned, unplanned[:5]
    plans = [(d, plan, report) for _, d, plan, report in planned if plan is not None]
    assert {d.r.release.version for d, _, _ in plans} == set(RELEASES)
    assert {d.format.value.value for d, _, _ in plans} >= {"none", "fp8", "int4_awq", "w4a8_awq", "nvfp4"}
    assert {d.r.gpu.id for d, _, _ in plans} == set(GPUS)
    assert len(plans) > 250 and sum(not r.errors and not r.warnings for *_, r in plans) > 100
    assert sum("launch.run" in d.settings for d, _, _ in plans) > 20


def test_every_emitted_flag_and_llm_api_key_equals_its_decided_value(
        planned: list[tuple[str, Decided, Plan | None, Any]]) -> None:
    problems = {name: found for name, d, plan, _ in planned
                if plan is not None and (found := emitted_settings_match(d, plan))}
    assert not problems, dict(list(problems.items())[:5])


def test_a_clean_spec_keeps_and_carries_what_it_writes(planned: list[tuple[str, Decided, Plan | None, Any]]) -> None:
    problems = {name: found for name, d, plan, report in planned
                if plan is not None and not report.errors and not report.warnings
                and (found := written_values_reach_the_plan(d, plan))}
    assert not problems, dict(list(problems.items())[:5])


def test_what_the_pytorch_backend_cannot_serve_is_an_error_with_a_hint(
        planned: list[tuple[str, Decided, Plan | None, Any]]) -> None:
    refused = [(name, f) for name, d, plan, report in planned for f in report.findings if f.code == "H110"]
    formats = {name.split("-")[0] for name, _ in refused}
    assert {"int8_sq", "int4_gptq", "int4_wo"} <= formats  # never loadable; the others on some GPUs or releases
    assert all(f.severity.value == "error" and "pin target.tensorrt_llm to 1.2 or older with target.backend: "
               "tensorrt" in f.hint for _, f in refused)
    assert all(plan is None for name, _, plan, report in planned if any(f.code == "H110" for f in report.findings))


def test_the_oracle_catches_a_plan_that_changes_a_decided_value(
        planned: list[tuple[str, Decided, Plan | None, Any]]) -> None:
    """The properties can fail: an LLM-API file that lost a written setting, a flag with another value."""
    import dataclasses

    name, d, plan, _ = next(p for p in planned if p[2] is not None and not p[3].errors and not p[3].warnings
                            and p[1].r.is_written("runtime.kv_cache_free_gpu_memory_fraction"))
    assert plan is not None
    options = {**plan.launch.llm_api_options, "kv_cache_config": {}}  # type: ignore[dict-item]
    lost = dataclasses.replace(plan, launch=dataclasses.replace(
        plan.launch, llm_api_options=options, contents={**plan.launch.contents, LLM_API_FILE: yaml.safe_dump(options)}))
    assert written_values_reach_the_plan(d, lost) and emitted_settings_match(d, lost), name
    rank = ["64" if word == str(d.limits.max_batch_size) else word for word in map(str, plan.launch.rank_argv)]
    other = dataclasses.replace(plan, launch=dataclasses.replace(plan.launch, rank_argv=tuple(rank)))
    assert any("--max_batch_size" in problem for problem in emitted_settings_match(d, other)), name
