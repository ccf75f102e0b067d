"""The verify plan, decided once: each accuracy task with the tool that runs it, the workload, every threshold.

The backend says what its release measures with (`verify_tools`); this module matches the
spec's `verify:` against it. What no plan can express is a gap, reported by the rules in
compiler/rules/verify.py: a task or benchmark the release's tools lack, or a dataset they
need (P108), a gate they cannot measure (P109), gates that do not make sense together
(C118), a baseline that cannot be read (S117). What a plan can run but should not (a workload
beyond the limits, C117; a gate that has no effect, C118's warnings) is the rules' own check,
from what is decided here.
"""

from __future__ import annotations

from compiler.decide.model import (
    AccuracyCheck,
    Bound,
    Gate,
    Limits,
    TaskTool,
    ThroughputCheck,
    Topology,
    VerifyPlan,
    VerifyTools,
    Workload,
)
from compiler.findings import Finding, draft
from compiler.resolve import Resolved
from compiler.spec import AccuracyGate, ThroughputGate

POINTS = "points"
TASK_HINT = "use a task the release's tool offers, or another target.tensorrt_llm (docs/verify.md lists them)"


def decide_verify(r: Resolved, tools: VerifyTools, limits: Limits, topology: Topology) -> tuple[VerifyPlan, list[Finding]]:
    """The checks `verify:` asks for, and the gaps of those no plan can run."""
    spec = r.spec.verify
    if not spec.accuracy and spec.throughput is None:
        return VerifyPlan(), []
    gaps: list[Finding] = []
    if topology.nodes > 1:
        gaps.append(draft("verify", f"verify steps run on the build host, and tp x pp = {topology.world_size} spans "
                          f"{topology.nodes} nodes", "verify a deployment that fits one node, or remove verify:",
                          code="P108"))
    checks = []
    seen: dict[str, int] = {}
    for index, item in enumerate(spec.accuracy):
        key = f"verify.accuracy.{index}"
        if item.task in seen:
            gaps.append(draft(f"{key}.task", f"task {item.task} is listed twice (also verify.accuracy[{seen[item.task]}])",
                              "merge its gates into one entry", code="C118"))
            continue
        seen[item.task] = index
        check = _accuracy(r, tools, index, item, gaps)
        if check is not None:
            checks.append(check)
    throughput = _throughput(r, tools, limits, spec.throughput, gaps) if spec.throughput is not None else None
    return VerifyPlan(tuple(checks), throughput), gaps


def _accuracy(r: Resolved, tools: VerifyTools, index: int, item: AccuracyGate,
              gaps: list[Finding]) -> AccuracyCheck | None:
    key = f"verify.accuracy.{index}"
    task = tools.tasks.get(item.task)
    if task is None:
        offered = f"its tasks are {', '.join(sorted(tools.tasks))}" if tools.tasks else tools.accuracy_why
        gaps.append(draft(f"{key}.task", f"TensorRT-LLM {r.release.version} cannot evaluate {item.task} on this "
                          f"backend: {offered}", TASK_HINT, code="P108"))
        return None
    dataset = r.verify_paths.get(f"{key}.dataset")
    if task.dataset == "required" and dataset is None:
        gaps.append(draft(f"{key}.task", f"{task.tool} of TensorRT-LLM {r.release.version} needs a local copy of the "
                          f"{item.task} dataset", f"set verify.accuracy[{index}].dataset (MMLU: the extracted "
                          "https://people.eecs.berkeley.edu/~hendrycks/data.tar)", code="P108"))
    if item.num_samples is not None and not task.sampled:
        gaps.append(draft(f"{key}.num_samples", f"{task.tool} of TensorRT-LLM {r.release.version} evaluates every "
                          f"{item.task} question: it takes no sample count", "remove num_samples", code="P108"))
    gates = _accuracy_gates(r, task, index, item, gaps)
    return AccuracyCheck(index, task, dataset, item.num_samples, tuple(gates))


def _accuracy_gates(r: Resolved, task: TaskTool, index: int, item: AccuracyGate, gaps: list[Finding]) -> list[Gate]:
    key = f"verify.accuracy.{index}"
    gates = []
    if item.min_score is not None:
        gates.append(Gate(f"{task.task}.min_score", f"{key}.min_score", "score", Bound.MIN, item.min_score, POINTS,
                          f"min_score {item.min_score:g}"))
    if item.max_drop is None:
        return gates
    if item.baseline is None:
        gaps.append(draft(f"{key}.max_drop", f"verify.accuracy[{index}].max_drop counts from a baseline, and there is "
                          "none", "add baseline: a score, or the results.json of the build it is compared with",
                          code="C118"))
        return gates
    baseline = _baseline_score(r, task, index, item, gaps)
    if baseline is None:
        return gates
    score, source = baseline
    threshold = round(score - item.max_drop, 6)
    gates.append(Gate(f"{task.task}.max_drop", f"{key}.max_drop", "score", Bound.MIN, threshold, POINTS,
                      f"baseline {score:g}{f' ({source})' if source else ''} - max_drop {item.max_drop:g}"))
    return gates


def _baseline_score(r: Resolved, task: TaskTool, index: int, item: AccuracyGate,
                    gaps: list[Finding]) -> tuple[float, str] | None:
    """The baseline score and where it comes from: the number written (""), or the task's score in a results.json."""
    if not isinstance(item.baseline, str):
        assert item.baseline is not None
        return float(item.baseline), ""
    key = f"verify.accuracy.{index}.baseline"
    baseline = r.baselines[index]
    if baseline.scores is None:
        gaps.append(draft(key, f"baseline {baseline.problem}", "build the baseline deployment first (`trtdeploy build "
                          "SPEC`), or write its score as a number", code="S117"))
        return None
    if task.task not in baseline.scores:
        measured = ", ".join(sorted(baseline.scores)) or "no accuracy task"
        gaps.append(draft(key, f"baseline {baseline.path} has no {task.task} score (it measured {measured})",
                          f"add {task.task} to the baseline deployment's verify.accuracy and build it, or write the "
                          "score as a number", code="S117"))
        return None
    return baseline.scores[task.task], baseline.path


def _throughput(r: Resolved, tools: VerifyTools, limits: Limits, item: ThroughputGate,
                gaps: list[Finding]) -> ThroughputCheck | None:
    key, version = "verify.throughput", r.release.version
    if tools.benchmark is None:
        gaps.append(draft(key, f"TensorRT-LLM {version} has no benchmark trtdeploy can plan on this backend: "
                          f"{tools.benchmark_why}", "remove verify.throughput, or use another target.tensorrt_llm",
                          code="P108"))
        return None
    dataset = r.verify_paths.get(f"{key}.dataset")
    if dataset is not None and not tools.takes_dataset:
        gaps.append(draft(f"{key}.dataset", f"{tools.benchmark} of TensorRT-LLM {version} makes its own random prompts "
                          "and reads no dataset", "remove verify.throughput.dataset", code="P108"))
    if dataset is None and tools.takes_dataset and tools.dataset_tool is None:
        gaps.append(draft(key, f"the benchmark needs a dataset and {tools.dataset_why}",
                          "set verify.throughput.dataset to a trtllm-bench dataset (JSON lines)", code="P108"))
    gates = []
    if item.min_output_tokens_per_s is not None:
        gates.append(Gate("throughput.min_output_tokens_per_s", f"{key}.min_output_tokens_per_s", "output_tokens_per_s",
                          Bound.MIN, item.min_output_tokens_per_s, "tokens/s",
                          f"min_output_tokens_per_s {item.min_output_tokens_per_s:g}"))
    if item.max_ttft_ms is not None:
        if "ttft_ms" not in tools.metrics:
            gaps.append(draft(f"{key}.max_ttft_ms", f"{tools.benchmark} of TensorRT-LLM {version} cannot measure the "
                              f"time to first token: {tools.metrics_why}", "remove max_ttft_ms, or gate "
                              "min_output_tokens_per_s", code="P109"))
        else:
            gates.append(Gate("throughput.max_ttft_ms", f"{key}.max_ttft_ms", "ttft_ms", Bound.MAX, item.max_ttft_ms,
                              "ms", f"max_ttft_ms {item.max_ttft_ms:g}"))
    workload = Workload(item.input_len or limits.max_input_len, item.output_len or limits.max_output_len,
                        item.concurrency, item.num_requests, dataset,
                        lengths_from_limits=item.input_len is None or item.output_len is None)
    return ThroughputCheck(tools.benchmark, None if dataset else tools.dataset_tool, workload, tuple(gates),
                           streaming=any(g.metric == "ttft_ms" for g in gates), static_batch=tools.static_batch)
