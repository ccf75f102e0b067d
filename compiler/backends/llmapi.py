"""The LLM API's verify tools, shared by both backends from 1.0: trtllm-eval and trtllm-bench (decide half).

From 1.0 each release's trtllm-eval evaluates tasks (one click subcommand per task) and
trtllm-bench's `throughput` benchmarks, both on the PyTorch backend or (until the engine path
went) on a TensorRT engine with `--backend tensorrt`. What a release offers is read from
their tool surfaces (compiler/catalog/tools/trtllm-eval.yaml, trtllm-bench.yaml); the plan
half (the argv) is compiler/backends/llmapi_steps.py.
"""

from __future__ import annotations

from compiler.catalog import tools
from compiler.decide.model import TaskTool, VerifyTools
from compiler.resolve import Resolved

EVAL = "trtllm-eval"
BENCH = "trtllm-bench"
PREPARE_DATASET = "prepare-dataset"
# What trtllm-bench throughput's report prints: "Total Output Throughput (tokens/sec)" always, and
# "Average time-to-first-token [TTFT] (ms)" with --streaming (tensorrt_llm/bench/dataclasses/reporting.py).
BENCH_METRICS = frozenset({"output_tokens_per_s", "ttft_ms"})


def _eval_tasks(r: Resolved, backend: str) -> tuple[dict[str, TaskTool], str]:
    version = r.release.exact
    surface = tools.surface(EVAL, version)
    if not surface.flags:
        return {}, f"TensorRT-LLM {r.release.version} has no trtllm-eval (it came in 1.0)"
    flag = surface.fact("--backend")
    if flag is None or backend not in flag.choices:
        return {}, f"trtllm-eval of TensorRT-LLM {r.release.version} does not evaluate the {backend} backend"
    tasks = {}
    for name in surface.subcommands:
        task = tools.surface(EVAL, version, name)
        dataset, output, prompt = task.fact("--dataset_path"), task.fact("--max_output_length"), \
            task.fact("--max_input_length")
        assert output is not None and prompt is not None, f"trtllm-eval {name}: no length flags in its table"
        tasks[name] = TaskTool(name, EVAL, "required" if dataset is not None and dataset.required else "optional",
                               int(output.default), int(prompt.default), output.source)
    return tasks, ""


def verify_tools(r: Resolved, backend: str) -> VerifyTools:
    """trtllm-eval's tasks and trtllm-bench throughput, as this release has them for `backend`."""
    version = r.release.exact
    tasks, accuracy_why = _eval_tasks(r, backend)
    bench = tools.surface(BENCH, version)
    throughput = tools.surface(BENCH, version, "throughput") if "throughput" in bench.subcommands else None
    backend_flag = throughput.fact("--backend") if throughput is not None else None
    benchmark, benchmark_why = None, f"TensorRT-LLM {r.release.version} has no trtllm-bench throughput (from 1.0)"
    if backend_flag is not None and backend in backend_flag.choices:
        benchmark, benchmark_why = BENCH, ""
    elif throughput is not None:
        benchmark_why = f"trtllm-bench throughput of TensorRT-LLM {r.release.version} has no --backend {backend}"
    has_prepare = PREPARE_DATASET in bench.subcommands
    return VerifyTools(
        tasks=tasks, accuracy_why=accuracy_why, benchmark=benchmark, benchmark_why=benchmark_why,
        metrics=BENCH_METRICS, metrics_why="",
        dataset_tool=f"{BENCH} {PREPARE_DATASET}" if has_prepare else None,
        dataset_why="" if has_prepare else (
            f"trtllm-bench of TensorRT-LLM {r.release.version} has no prepare-dataset (it came with PR #9250, "
            "after 1.2.0rc2), and trtdeploy does not plan the standalone benchmarks/ script"),
        takes_dataset=True, static_batch=False,
    )
