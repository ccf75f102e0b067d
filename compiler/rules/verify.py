"""verify: rules: can the release's tools run the checks the spec asks for, and do the gates make sense?

The verify plan is decided once (compiler/decide/verify.py); what no plan can run is a gap
these rules report (P108, P109, C118's errors, S117). What a plan can run but should not,
they check here from the decided plan: a workload beyond the limits (C117), gates that have
no effect (C118's warnings).
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.decide.model import Decided
from compiler.findings import Finding, Severity, draft
from compiler.rules import gaps_of, rule

_PYTORCH = "target: {gpu: H100-SXM, tensorrt_llm: '1.2.0', backend: pytorch}\n"
_ENGINE_08 = "target: {gpu: H100-SXM, tensorrt_llm: '0.8.0'}\n"


@rule(
    "P108", "verify-tool-missing", Severity.ERROR,
    "verify: asks for a task, a benchmark or a dataset the release's tools do not have.",
    why="Each release measures with its own tools: trtllm-eval (its tasks are its subcommands) and trtllm-bench "
    "throughput from 1.0, on the PyTorch backend or an engine; on the 0.8-0.10 engine path the examples' mmlu.py "
    "(MMLU), summarize.py (cnn_dailymail) and the C++ gptSessionBenchmark, and from 0.12 trtllm-bench throughput on "
    "the engine with a dataset (tensorrt_llm/commands/eval.py, bench.py, bench/run/run.py, examples/mmlu.py, "
    "examples/summarize.py, benchmarks/cpp/gptSessionBenchmark.cpp per release). A task the tool lacks, a dataset it needs and is not "
    "given, or a benchmark trtdeploy has not read the flags of would fail after the build, not before it. The "
    "verify steps run on the build host, so the deployment must fit one node.",
    bad="verify:\n  accuracy: [{task: humaneval, min_score: 70}]\n" + _PYTORCH,
    good="verify:\n  accuracy: [{task: gsm8k, min_score: 70}]\n" + _PYTORCH,
    hint="use a task the release's tool offers (docs/verify.md), give the dataset the message names, or use "
    "another release",
)
def verify_tool_missing(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "P108")


@rule(
    "P109", "verify-gate-unmeasurable", Severity.ERROR,
    "A verify gate asks for a figure the release's benchmark does not report.",
    why="gptSessionBenchmark (the 0.8-0.9 engine path) runs static batches and prints each batch's latency and "
    "tokens per second ([BENCHMARK] lines of benchmarks/cpp/gptSessionBenchmark.cpp), with no time to first "
    "token; trtllm-bench reports TTFT when it streams, and trtdeploy passes --streaming for that gate. A gate "
    "on a figure nobody measures could never pass.",
    bad="verify:\n  throughput: {concurrency: 4, input_len: 128, output_len: 256, max_ttft_ms: 500}\n" + _ENGINE_08,
    good="verify:\n  throughput: {concurrency: 4, input_len: 128, output_len: 256, min_output_tokens_per_s: 300}\n"
    + _ENGINE_08,
    hint="gate what the benchmark reports (min_output_tokens_per_s), or use a release whose trtllm-bench measures it",
)
def verify_gate_unmeasurable(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "P109")


@rule(
    "C117", "verify-workload-beyond-limits", Severity.ERROR,
    "The verify workload asks for more than the deployment's limits allow.",
    why="The benchmark and the evaluation run with the deployment's limits: a prompt longer than max_input_len, "
    "a generation longer than max_output_len, or a task that generates more tokens than max_output_len is cut "
    "or refused, and then the figure measured is not the one gated. gptSessionBenchmark runs static batches: a "
    "batch above max_batch_size does not fit the engine, and with packed inputs it refuses batch x input_len "
    "above max_num_tokens (TLLM_CHECK in benchmarkGptSession).",
    bad="limits: {max_batch_size: 32, max_input_len: 2048, max_output_len: 1024}\nverify:\n  throughput: "
    "{concurrency: 32, min_output_tokens_per_s: 500}\n" + _ENGINE_08,
    good="limits: {max_batch_size: 32, max_input_len: 2048, max_output_len: 1024}\nverify:\n  throughput: "
    "{concurrency: 32, input_len: 128, output_len: 256, min_output_tokens_per_s: 500}\n" + _ENGINE_08,
    hint="shorten the workload, or raise the limit the message names",
)
def verify_workload_beyond_limits(d: Decided) -> Iterator[Finding]:
    limits = d.limits
    for check in d.verify.accuracy:
        if check.task.max_output_len > limits.max_output_len:
            yield draft(f"verify.accuracy.{check.index}.task", f"{check.task.tool} generates up to "
                        f"{check.task.max_output_len} tokens for {check.task.task}; limits.max_output_len is "
                        f"{limits.max_output_len}", f"raise limits.max_output_len to {check.task.max_output_len}")
    throughput = d.verify.throughput
    if throughput is None:
        return
    work, key = throughput.workload, "verify.throughput"
    if work.input_len > limits.max_input_len:
        yield draft(f"{key}.input_len", f"input_len {work.input_len} exceeds limits.max_input_len {limits.max_input_len}")
    if work.output_len > limits.max_output_len:
        yield draft(f"{key}.output_len", f"output_len {work.output_len} exceeds limits.max_output_len "
                    f"{limits.max_output_len}")
    if not throughput.static_batch:
        return
    if work.concurrency > limits.max_batch_size:
        yield draft(f"{key}.concurrency", f"{throughput.tool} runs batches of concurrency = {work.concurrency}; the "
                    f"engine takes at most limits.max_batch_size = {limits.max_batch_size}")
    tokens = work.concurrency * work.input_len
    if d.on("plugins.remove_input_padding") and tokens > limits.max_num_tokens.value:
        yield draft(d.r.first_written(f"{key}.input_len", f"{key}.concurrency"),
                    f"{throughput.tool} puts concurrency x input_len = {work.concurrency} x {work.input_len} = "
                    f"{tokens} tokens in one step; the engine's max_num_tokens is {limits.max_num_tokens.value}",
                    "lower verify.throughput.input_len or concurrency, or raise limits.max_num_tokens")


@rule(
    "C118", "verify-gates-inconsistent", Severity.ERROR,
    "verify: gates that cannot work together, or that have no effect.",
    why="max_drop counts points below a baseline, so it needs one; a baseline without max_drop, or a drop that "
    "takes the threshold to zero, gates nothing; a task listed twice would be evaluated twice with different "
    "gates; a concurrency above num_requests is never reached.",
    bad="verify:\n  accuracy: [{task: mmlu, max_drop: 1.0}]\n" + _PYTORCH,
    good="verify:\n  accuracy: [{task: mmlu, max_drop: 1.0, baseline: 46.2}]\n" + _PYTORCH,
    hint="give max_drop a baseline, and each task one entry",
)
def verify_gates_inconsistent(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "C118")
    for index, item in enumerate(d.r.spec.verify.accuracy):
        if item.baseline is not None and item.max_drop is None:
            yield draft(f"verify.accuracy.{index}.baseline", f"verify.accuracy[{index}].baseline has no effect "
                        "without max_drop", "add max_drop (the points the score may lose), or remove baseline",
                        severity=Severity.WARNING)
    for gate in d.verify.gates:
        if gate.name.endswith(".max_drop") and gate.threshold <= 0:
            yield draft(gate.key, f"{gate.reason} = {gate.threshold:g}: the gate can never fail", "lower max_drop",
                        severity=Severity.WARNING)
    throughput = d.verify.throughput
    if throughput is not None and not throughput.static_batch and \
            throughput.workload.concurrency > throughput.workload.num_requests:
        work = throughput.workload
        yield draft("verify.throughput.concurrency", f"concurrency {work.concurrency} exceeds num_requests "
                    f"{work.num_requests}: the benchmark never has that many requests in flight",
                    "raise num_requests, or lower concurrency", severity=Severity.WARNING)


@rule(
    "S117", "verify-baseline-unreadable", Severity.ERROR,
    "A baseline results.json does not exist, cannot be read, or has no score for the task.",
    why="`baseline: <file>` takes the task's score from another build's results.json (written by `trtdeploy "
    "build`), so the threshold is known when the spec is checked and reviewed; a missing file would leave the "
    "gate without a threshold.",
    bad="verify:\n  accuracy: [{task: mmlu, max_drop: 1.0, baseline: ../build/llama-7b-fp16/results.json}]\n"
    "# that build has not run yet\n" + _PYTORCH,
    good="verify:\n  accuracy: [{task: mmlu, max_drop: 1.0, baseline: 46.2}]\n" + _PYTORCH,
    hint="build the baseline deployment first, or write its score as a number",
)
def verify_baseline_unreadable(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "S117")
