"""The engine path's verify steps (plan half): what each release measures an engine with.

From 1.0, trtllm-eval and trtllm-bench run the engine with --backend tensorrt
(compiler/backends/llmapi_steps.py); from 0.12, trtllm-bench throughput runs it with the flags read
for those releases (--engine_dir, --dataset, --num_requests). Before, the examples' mmlu.py evaluates MMLU and the C++
gptSessionBenchmark benchmarks static batches (0.8.0-0.10.0 and 0.8.0-0.9.0, the releases whose
flags were read: compiler/catalog/tools/mmlu.py.yaml, gptSessionBenchmark.yaml). Both run one
process per rank, so a multi-GPU engine runs them under `mpirun -n <world size>`, as the
examples' READMEs do.
"""

from __future__ import annotations

import math

from compiler.backends import llmapi_steps
from compiler.backends.llmapi_steps import CAPTURE, Served, measured
from compiler.backends.tensorrt import BENCH, LLMAPI_ENGINE_BACKEND, MMLU, SESSION_BENCHMARK, TRTLLM_SERVE_FIRST
from compiler.catalog import tools
from compiler.decide.model import AccuracyCheck, Decided, ThroughputCheck
from compiler.plan.argv import LAUNCH, TOOL, UPSTREAM, Argv
from compiler.plan.model import BENCHMARKS_DIR, EXAMPLES_DIR, MODEL_DIR, Arg, Impact, InputKind, Step, StepInput, Var
from compiler.plan.steps import StepList

MMLU_SCRIPT = Var(EXAMPLES_DIR, "/mmlu.py")
SESSION_BENCHMARK_PROGRAM = Var(BENCHMARKS_DIR, "/gptSessionBenchmark")
# What runs one process per rank on this host (the examples' READMEs: mpirun -n N --allow-run-as-root python ...).
MPI_PREFIX = ("mpirun", "-n")
MPI_ROOT = "--allow-run-as-root"
WORKLOAD = "workload"
VERIFY = "verify"


def plan_verify(d: Decided, steps: StepList, engine: Step, tokenizer: Arg) -> None:
    """The verify steps of an engine: the LLM API's tools from 1.0, mmlu.py and gptSessionBenchmark before."""
    if not d.verify:
        return
    inputs = (StepInput(InputKind.STEP, engine.output, engine.id),
              *([StepInput(InputKind.MODEL, Var(MODEL_DIR))] if isinstance(tokenizer, Var) else ()))
    if d.r.release.exact >= TRTLLM_SERVE_FIRST:
        served = Served(LLMAPI_ENGINE_BACKEND, engine.output, tokenizer, inputs, (engine,), engine=True)
        llmapi_steps.plan_verify(d, steps, served)
        return
    for check in d.verify.accuracy:
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
