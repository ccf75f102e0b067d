"""The LLM API's verify steps (plan half), for both backends from 1.0: trtllm-eval per task, trtllm-bench throughput.

Each step's argv is the release's (compiler/catalog/tools/trtllm-eval.yaml, trtllm-bench.yaml),
with the deployment's parallelism and, on the PyTorch backend, the launch's limits and its
LLM-API YAML, so what is measured is what is served. What the tools print is kept in the
step's output (`output.log`), which compiler/run/measure.py reads; the gates go into each
step's fingerprint, so a changed gate or workload re-runs verification and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from compiler.backends.llmapi import BENCH, EVAL, PREPARE_DATASET
from compiler.decide.model import AccuracyCheck, Decided, Gate, ThroughputCheck
from compiler.plan.argv import LAUNCH, PARALLELISM, TOOL, UPSTREAM, Argv
from compiler.plan.model import STEP_OUT, Arg, Impact, InputKind, Step, StepInput, Var
from compiler.plan.steps import StepList

CAPTURE = "output.log"
DATASET_FILE = "dataset.jsonl"
REPORT_FILE = "report.json"
VERIFY = "verify"
WORKLOAD = "workload"


@dataclass(frozen=True)
class Served:
    """What the verify steps run: the model argument and what it is read from.

    `engine` is True for a TensorRT engine (the tool runs it with --backend tensorrt and the
    tokenizer separately); `options` is the LLM-API YAML of the launch (flag, path, content)
    on the PyTorch backend.
    """

    backend: str
    model: Arg
    tokenizer: Arg
    inputs: tuple[StepInput, ...]
    reads: tuple[Step, ...]
    engine: bool
    options: tuple[str, Arg, Mapping[str, object]] | None = None


def gate_settings(gates: Sequence[Gate]) -> list[list[object]]:
    return [[g.name, g.metric, g.bound.value, g.threshold] for g in gates]


def measured(steps: StepList, step: Step, reader: str, task: str, gates: Sequence[Gate]) -> None:
    """Record what a verify step measures and the gates on it (plan.json's verify section)."""
    from compiler.plan.model import Measure, PlanGate

    assert step.capture is not None
    steps.measures.append(Measure(step.id, step.tool, reader, task, step.capture))
    steps.gates.extend(PlanGate(g.name, step.id, g.metric, g.bound.value, g.threshold, g.unit, g.reason)
                       for g in gates)


def plan_verify(d: Decided, steps: StepList, served: Served) -> None:
    """A trtllm-eval step per accuracy task, then the benchmark's dataset and trtllm-bench throughput."""
    for check in d.verify.accuracy:
        step = steps.add(f"verify-{check.task.task}", EVAL, eval_argv(d, check, served), impact=Impact.REVERIFY,
                         inputs=[*served.inputs, *_dataset_input(check.dataset)], reads=served.reads,
                         reason=f"trtllm-eval measures {check.task.task} on what is served", python=False,
                         settings=_settings(served, check.gates), capture=CAPTURE)
        measured(steps, step, EVAL, check.task.task, check.gates)
    if d.verify.throughput is not None:
        plan_throughput(d, steps, d.verify.throughput, served)


def plan_throughput(d: Decided, steps: StepList, throughput: ThroughputCheck, served: Served) -> None:
    """trtllm-bench throughput on what is served, on the spec's dataset or one made from the workload."""
    dataset, dataset_inputs, dataset_reads = _bench_dataset(d, steps, throughput, served)
    step = steps.add("verify-throughput", BENCH, bench_argv(d, throughput, served, dataset), impact=Impact.REVERIFY,
                     inputs=[*served.inputs, *dataset_inputs], reads=[*served.reads, *dataset_reads],
                     reason=f"trtllm-bench throughput runs {throughput.workload.num_requests} requests, "
                            f"{throughput.workload.concurrency} at a time, on what is served", python=False,
                     settings=_settings(served, throughput.gates), capture=CAPTURE)
    measured(steps, step, BENCH, "throughput", throughput.gates)


def _settings(served: Served, gates: Sequence[Gate]) -> dict[str, object]:
    settings: dict[str, object] = {"gates": gate_settings(gates)}
    if served.options is not None:
        settings["llm_api_options"] = dict(served.options[2])
    return settings


def _dataset_input(dataset: str | None) -> list[StepInput]:
    return [StepInput(InputKind.DATASET, dataset)] if dataset is not None else []


def _group(b: Argv, d: Decided, served: Served, *, tp_flag: str, pp_flag: str) -> None:
    """The options every LLM-API tool shares: parallelism, and on the PyTorch backend the launch's limits and YAML."""
    b.opt(PARALLELISM, tp_flag, d.topology.tp)
    b.opt(PARALLELISM, pp_flag, d.topology.pp)
    if served.options is None:
        return
    flag, path, _ = served.options
    b.opt(LAUNCH, flag, path)


def eval_argv(d: Decided, check: AccuracyCheck, served: Served) -> Argv:
    """trtllm-eval --model M [the group's options] TASK [the task's options]."""
    limits, b = d.limits, Argv()
    b.add(TOOL, EVAL)
    b.opt(UPSTREAM, "--model", served.model)
    if served.engine or d.r.spec.model.tokenizer is not None:
        b.opt(LAUNCH, "--tokenizer", served.tokenizer)
    b.opt(LAUNCH, "--backend", served.backend)
    if not served.engine:
        for flag, value in (("--max_batch_size", limits.max_batch_size),
                            ("--max_num_tokens", limits.max_num_tokens.value),
                            ("--max_seq_len", limits.max_seq_len), ("--max_beam_width", limits.max_beam_width),
                            ("--kv_cache_free_gpu_memory_fraction",
                             d.value("runtime.kv_cache_free_gpu_memory_fraction"))):
            b.opt(LAUNCH, flag, value)  # type: ignore[arg-type]
    _group(b, d, served, tp_flag="--tp_size", pp_flag="--pp_size")
    task = check.task
    b.add(VERIFY, task.task)
    if check.dataset is not None:
        b.opt(VERIFY, "--dataset_path", check.dataset)
    if check.num_samples is not None:
        b.opt(VERIFY, "--num_samples", check.num_samples)
    if task.max_input_len is not None:
        prompt = min(task.max_input_len, limits.max_input_len)
        b.opt(VERIFY, "--max_input_length", prompt)
        if prompt < task.max_input_len:
            b.note(f"verify.accuracy.{check.index}", f"{task.task} --max_input_length {prompt}",
                   f"trtllm-eval cuts {task.task} prompts at {task.max_input_len} tokens by default; the deployment "
                   f"takes {limits.max_input_len} (limits.max_input_len), so longer prompts are cut there")
    return b


def _bench_dataset(d: Decided, steps: StepList, check: ThroughputCheck,
                   served: Served) -> tuple[Arg, list[StepInput], list[Step]]:
    """The benchmark's dataset: the spec's, or one trtllm-bench prepare-dataset makes from the workload."""
    work = check.workload
    if work.dataset is not None:
        return work.dataset, [StepInput(InputKind.DATASET, work.dataset)], []
    b = Argv()
    b.add(TOOL, BENCH)
    b.opt(LAUNCH, "--model", served.tokenizer)
    b.add(TOOL, PREPARE_DATASET)
    b.opt(TOOL, "--output", Var(STEP_OUT, "/" + DATASET_FILE))
    b.add(WORKLOAD, "token-norm-dist")
    for flag, value in (("--num-requests", work.num_requests), ("--input-mean", work.input_len),
                        ("--input-stdev", 0), ("--output-mean", work.output_len), ("--output-stdev", 0)):
        b.opt(WORKLOAD, flag, value)
    surface_pinned = _prepare_dataset_pinned(d)
    b.note("verify.throughput.dataset", f"trtllm-bench prepare-dataset token-norm-dist, {work.num_requests} requests "
           f"of {work.input_len} -> {work.output_len} tokens",
           "every request has the workload's lengths exactly (standard deviation 0)"
           + (" (lengths from limits.max_input_len and max_output_len)" if work.lengths_from_limits else "")
           + ("" if surface_pinned else f"; TensorRT-LLM {d.r.release.version} is taken to have prepare-dataset "
              "(PR #9250, after 1.2.0rc2: which release first has it is not established); if it does not, set "
              "verify.throughput.dataset"))
    step = steps.add("verify-dataset", BENCH, b, impact=Impact.REVERIFY, inputs=served.inputs, reads=served.reads,
                     reason="trtllm-bench prepare-dataset writes the benchmark's synthetic requests, tokenized by the "
                            "served model's tokenizer", python=False)
    return f"{step.output}/{DATASET_FILE}", [StepInput(InputKind.STEP, f"{step.output}/{DATASET_FILE}", step.id)], [step]


def _prepare_dataset_pinned(d: Decided) -> bool:
    from compiler.catalog import tools

    return tools.surface(BENCH, d.r.release.exact, PREPARE_DATASET).pinned


def bench_argv(d: Decided, check: ThroughputCheck, served: Served, dataset: Arg) -> Argv:
    """trtllm-bench --model M --model_path M throughput, with the workload, the deployment's settings and the report."""
    from compiler.catalog import tools

    work, limits, b = check.workload, d.limits, Argv()
    group, run = tools.surface(BENCH, d.r.release.exact), tools.surface(BENCH, d.r.release.exact, "throughput")
    b.add(TOOL, BENCH)
    # --model names the tokenizer and config (a Hugging Face folder will do), --model_path the checkpoint; an
    # engine's are the model folder's, and the engine itself is --engine_dir. Before 1.0 the group has --model only.
    hf_folder, aspect = (served.tokenizer, LAUNCH) if served.engine else (served.model, UPSTREAM)
    b.opt(aspect, "--model", hf_folder)
    if group.has("--model_path"):
        b.opt(aspect, "--model_path", hf_folder)
    b.add(TOOL, "throughput")
    if run.has("--backend"):
        b.opt(LAUNCH, "--backend", served.backend)
    if served.engine:
        b.opt(UPSTREAM, "--engine_dir", served.model)
    b.opt(UPSTREAM, "--dataset", dataset)
    b.opt(WORKLOAD, "--num_requests", work.num_requests)
    if run.has("--concurrency"):
        b.opt(WORKLOAD, "--concurrency", work.concurrency)
    else:
        b.note("verify.throughput.concurrency", f"trtllm-bench throughput of TensorRT-LLM {d.r.release.version}",
               f"no --concurrency was read for this release: it submits every request at once and the engine's "
               f"max_batch_size ({limits.max_batch_size}) bounds how many run together, not concurrency "
               f"{work.concurrency}" + ("" if run.pinned else "; its flags are those 0.12.0 and 1.0 both have "
                                        "(the releases between were not read file by file)"))
    if check.streaming:
        b.add(WORKLOAD, "--streaming")
        b.note("verify.throughput.max_ttft_ms", "trtllm-bench --streaming",
               "trtllm-bench reports the time to first token only when it streams")
    if not served.engine:
        for flag, value in (("--max_batch_size", limits.max_batch_size),
                            ("--max_num_tokens", limits.max_num_tokens.value), ("--max_seq_len", limits.max_seq_len),
                            ("--kv_cache_free_gpu_mem_fraction", d.value("runtime.kv_cache_free_gpu_memory_fraction"))):
            b.opt(LAUNCH, flag, value)  # type: ignore[arg-type]
        _group(b, d, served, tp_flag="--tp", pp_flag="--pp")
    if run.has("--report_json"):
        b.opt(TOOL, "--report_json", Var(STEP_OUT, "/" + REPORT_FILE))
    return b
