"""The engine path's verify steps (plan half): what each release measures an engine with.

From 1.0, trtllm-eval and trtllm-bench run the engine with --backend tensorrt
(compiler/backends/llmapi_steps.py); from 0.12, trtllm-bench throughput runs it with the flags read
for those releases (--engine_dir, --dataset, --num_requests). Before, the examples' mmlu.py evaluates
MMLU, summarize.py CNN/DailyMail (ROUGE), and the C++ gptSessionBenchmark benchmarks static batches
(0.8.0-0.10.x, 0.8.0-0.10.x by era and 0.8.0-0.9.0, the releases whose flags were read:
compiler/catalog/tools/mmlu.py.yaml, summarize.py.yaml, gptSessionBenchmark.yaml). They run one
process per rank, so a multi-GPU engine runs them under `mpirun -n <world size>`, as the
examples' READMEs do.
"""

from __future__ import annotations

import math

from compiler.backends import llmapi_steps
from compiler.backends.llmapi_steps import CAPTURE, Served, measured
from compiler.backends.tensorrt import (
    BENCH,
    LLMAPI_ENGINE_BACKEND,
    MMLU,
    SESSION_BENCHMARK,
    SUMMARIZE,
    SUMMARIZE_TASK,
    TRTLLM_SERVE_FIRST,
)
from compiler.catalog import tools
from compiler.decide.model import AccuracyCheck, Decided, ThroughputCheck
from compiler.plan.argv import LAUNCH, TOOL, UPSTREAM, Argv
from compiler.plan.model import BENCHMARKS_DIR, EXAMPLES_DIR, MODEL_DIR, Arg, Impact, InputKind, Step, StepInput, Var
from compiler.plan.steps import StepList

MMLU_SCRIPT = Var(EXAMPLES_DIR, "/mmlu.py")
SUMMARIZE_SCRIPT = Var(EXAMPLES_DIR, "/summarize.py")
SESSION_BENCHMARK_PROGRAM = Var(BENCHMARKS_DIR, "/gptSessionBenchmark")
# What runs one process per rank on this host (the examples' READMEs: mpirun -n N --allow-run-as-root python ...).
MPI_PREFIX = ("mpirun", "-n")
MPI_ROOT = "--allow-run-as-root"
WORKLOAD = "workload"
VERIFY = "verify"


def plan_verify(d: Decided, steps: StepList, engine: Step, tokenizer: Arg) -> None:
    """The verify steps of an engine: the LLM API's tools from 1.0; before, mmlu.py and summarize.py, and
    trtllm-bench (0.12 on) or gptSessionBenchmark (0.8-0.9)."""
    if not d.verify:
        return
    inputs = (StepInput(InputKind.STEP, engine.output, engine.id),
              *([StepInput(InputKind.MODEL, Var(MODEL_DIR))] if isinstance(tokenizer, Var) else ()))
    if d.r.release.exact >= TRTLLM_SERVE_FIRST:
        served = Served(LLMAPI_ENGINE_BACKEND, engine.output, tokenizer, inputs, (engine,), engine=True)
        llmapi_steps.plan_verify(d, steps, served)
        return
    for check in d.verify.accuracy:
        if check.task.task == SUMMARIZE_TASK:
            _summarize(d, steps, check, engine, tokenizer, inputs)
        else:
            _mmlu(d, steps, check, engine, tokenizer, inputs)
    throughput = d.verify.throughput
    if throughput is not None and throughput.tool == BENCH:  # 0.12 to 1.0: trtllm-bench on the engine
        served = Served(LLMAPI_ENGINE_BACKEND, engine.output, tokenizer, inputs, (engine,), engine=True)
        llmapi_steps.plan_throughput(d, steps, throughput, served)
    elif throughput is not None:
        _session_benchmark(d, steps, throughput, engine)


def _per_rank(b: Argv, d: Decided) -> None:
    world = d.topology.world_size
    if world > 1:
        b.add(TOOL, *MPI_PREFIX, str(world), MPI_ROOT)


def _mmlu(d: Decided, steps: StepList, check: AccuracyCheck, engine: Step, tokenizer: Arg,
          inputs: tuple[StepInput, ...]) -> None:
    assert check.dataset is not None  # mmlu.py's task needs its data folder (P108 otherwise)
    b = Argv()
    _per_rank(b, d)
    b.add(TOOL, "python3", MMLU_SCRIPT)
    b.opt(LAUNCH, "--hf_model_dir", tokenizer)
    b.opt(UPSTREAM, "--engine_dir", engine.output)
    b.opt(VERIFY, "--data_dir", check.dataset)
    b.add(VERIFY, "--test_trt_llm")
    b.note(f"verify.accuracy.{check.index}", "examples/mmlu.py --test_trt_llm",
           f"TensorRT-LLM {d.r.release.version} evaluates an engine on MMLU with the examples' mmlu.py (5-shot, "
           "prompts cut to the engine's max_input_len); it prints the accuracy as a fraction, kept here in points")
    step = steps.add(f"verify-{check.task.task}", MMLU, b, impact=Impact.REVERIFY,
                     inputs=[*inputs, StepInput(InputKind.DATASET, check.dataset)], reads=[engine],
                     reason="examples/mmlu.py measures MMLU on the engine",
                     settings={"gates": llmapi_steps.gate_settings(check.gates)}, capture=CAPTURE)
    measured(steps, step, MMLU, check.task.task, check.gates)


def _summarize(d: Decided, steps: StepList, check: AccuracyCheck, engine: Step, tokenizer: Arg,
               inputs: tuple[StepInput, ...]) -> None:
    task, limits, version = check.task, d.limits, d.r.release.version
    b = Argv()
    _per_rank(b, d)
    b.add(TOOL, "python3", SUMMARIZE_SCRIPT)
    b.add(VERIFY, "--test_trt_llm")
    b.opt(LAUNCH, "--hf_model_dir", tokenizer)
    b.opt(UPSTREAM, "--engine_dir", engine.output)
    b.opt(VERIFY, "--eval_task", "summarize")
    key = f"verify.accuracy.{check.index}"
    assert task.max_input_len is not None  # summarize.py's --max_input_length default (summarize.py.yaml)
    prompt = min(task.max_input_len, limits.max_input_len)
    if prompt < task.max_input_len:
        b.opt(VERIFY, "--max_input_length", prompt)
        b.note(key, f"summarize.py --max_input_length {prompt}", f"summarize.py cuts articles at {task.max_input_len} "
               f"tokens by default; the engine takes {limits.max_input_len} (limits.max_input_len), so they are cut there")
    if check.num_samples is not None:
        b.opt(VERIFY, "--max_ite", check.num_samples)
    if check.dataset is not None:
        b.opt(VERIFY, "--dataset_path", check.dataset)
    samples = check.num_samples if check.num_samples is not None else "the default 20"
    where = f"the datasets cache {check.dataset}" if check.dataset is not None else \
        "the Hugging Face Hub (or the default datasets cache, when it holds a copy)"
    b.note(key, "examples/summarize.py --test_trt_llm --eval_task summarize",
           f"TensorRT-LLM {version} evaluates an engine on CNN/DailyMail with the examples' summarize.py: "
           f"{samples} articles of ccdv/cnn_dailymail 3.0.0 (test split), from {where}, summarized greedily "
           f"in {task.max_output_len} tokens; the gate reads ROUGE-1 of beam 0, in points (rouge1 x 100). "
           "It loads the ROUGE metric with evaluate.load('rouge'), from the Hub unless cached")
    step = steps.add(f"verify-{task.task}", SUMMARIZE, b, impact=Impact.REVERIFY,
                     inputs=[*inputs, *([StepInput(InputKind.DATASET, check.dataset)] if check.dataset else [])],
                     reads=[engine], reason="examples/summarize.py measures ROUGE on CNN/DailyMail on the engine",
                     settings={"gates": llmapi_steps.gate_settings(check.gates)}, capture=CAPTURE)
    measured(steps, step, SUMMARIZE, task.task, check.gates)


def static_runs(check: ThroughputCheck) -> int:
    """Batches a static-batch benchmark runs so that it serves num_requests requests, concurrency at a time."""
    return max(1, math.ceil(check.workload.num_requests / check.workload.concurrency))


def _session_benchmark(d: Decided, steps: StepList, check: ThroughputCheck, engine: Step) -> None:
    work, b = check.workload, Argv()
    _per_rank(b, d)
    b.add(TOOL, SESSION_BENCHMARK_PROGRAM)
    surface = tools.surface(SESSION_BENCHMARK, d.r.release.exact)
    if surface.has("--model"):  # 0.8.0 names the engine's model, as the seeds' command did
        b.opt(LAUNCH, "--model", d.r.model.family)
    b.opt(UPSTREAM, "--engine_dir", engine.output)
    b.opt(WORKLOAD, "--batch_size", work.concurrency)
    b.opt(WORKLOAD, "--input_output_len", f"{work.input_len},{work.output_len}")
    runs = static_runs(check)
    b.opt(WORKLOAD, "--num_runs", runs)
    b.opt(WORKLOAD, "--duration", 0)
    b.note("verify.throughput", f"gptSessionBenchmark --batch_size {work.concurrency} --num_runs {runs} --duration 0",
           f"TensorRT-LLM {d.r.release.version} benchmarks an engine in static batches: {runs} batch(es) of "
           f"{work.concurrency} cover num_requests {work.num_requests}; --duration 0 stops after them (the default "
           "runs for at least 60 s)")
    step = steps.add("verify-throughput", SESSION_BENCHMARK, b, impact=Impact.REVERIFY,
                     inputs=[StepInput(InputKind.STEP, engine.output, engine.id)], reads=[engine],
                     reason=f"gptSessionBenchmark runs batches of {work.concurrency} x {work.input_len} -> "
                            f"{work.output_len} tokens on the engine", python=False,
                     settings={"gates": llmapi_steps.gate_settings(check.gates)}, capture=CAPTURE)
    measured(steps, step, SESSION_BENCHMARK, "throughput", check.gates)
