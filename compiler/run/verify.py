"""After a build: read what each verify step measured, judge every gate, write DIR/results.json.

The plan's verify section (plan.json) names each verify step, the reader of its output and
the gates on it. A step that is not built with its current fingerprint has no result (the
gates on it fail as unmeasured); an output without the figures the tool prints on success
is a B212 finding. `trtdeploy build` exits 1 with B211 when a gate fails, after printing
`gate_table`; `trtdeploy status` prints the same table from results.json.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from compiler.findings import Finding
from compiler.plan.document import GateDocument
from compiler.results import RESULTS_FILE, GateResult, Measured, Missing, Results, margin, results_text
from compiler.run.errors import problem
from compiler.run.measure import MeasureError, read_output, read_text
from compiler.run.plandoc import BuildPlan
from compiler.run.store import Store

GATE_FAILED = "B211"
OUTPUT_UNREADABLE = "B212"


@dataclass(frozen=True)
class Verdict:
    """The results of a build's verify steps, and the findings of outputs that could not be read."""

    results: Results
    unreadable: tuple[Finding, ...]


def evaluate(plan: BuildPlan, store: Store) -> Verdict | None:
    """Read every verify step's kept output and judge the gates; None for a plan without verify steps."""
    verify = plan.document.verify
    if verify is None:
        return None
    measured: dict[str, Measured] = {}
    missing: list[Missing] = []
    unreadable: list[Finding] = []
    for measure in verify.measures:
        step = plan.step(measure.step)
        if store.record(step) is None:
            missing.append(Missing(step=step.id, why="not built"))
            continue
        path = plan.root / step.output / measure.file
        try:
            reading = read_output(measure.reader, measure.task, read_text(path))
        except (MeasureError, OSError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            missing.append(Missing(step=step.id, why=f"its output cannot be read: {why}"))
            unreadable.append(problem(OUTPUT_UNREADABLE, f"step {step.id}: {measure.tool}'s output {path} has no result: "
                                      f"{why}", f"read the step's log ({step.log}); run `trtdeploy build "
                                      f"{plan.root} --force {step.id}` once the cause is fixed"))
            continue
        measured[step.id] = Measured(step=step.id, fingerprint=step.fingerprint, tool=measure.tool,
                                     tool_version=reading.tool_version, task=measure.task, figures=reading.figures,
                                     output=f"{step.output}/{measure.file}")
    gates = tuple(_judge(gate, measured.get(gate.step)) for gate in verify.gates)
    results = Results(schema_version=1, name=plan.name, spec=plan.document.spec, tensorrt_llm=plan.release_version,
                      backend=plan.document.backend, passed=all(g.passed for g in gates) and not missing,
                      gates=gates, measured=tuple(measured.values()), missing=tuple(missing))
    return Verdict(results, tuple(unreadable))


def _judge(gate: GateDocument, measured: Measured | None) -> GateResult:
    value = measured.figures.get(gate.metric) if measured is not None else None
    room = None if value is None else round(margin(value, gate.threshold, gate.bound), 6)
    return GateResult(name=gate.name, step=gate.step, metric=gate.metric, value=value, threshold=gate.threshold,
                      bound=gate.bound, unit=gate.unit, margin=room, passed=room is not None and room >= 0,
                      reason=gate.reason)


def write_results(root: Path, results: Results) -> Path:
    """DIR/results.json, replaced in one rename."""
    path = root / RESULTS_FILE
    tmp = path.with_name(f".{RESULTS_FILE}.tmp")
    tmp.write_text(results_text(results), encoding="utf-8")
    os.replace(tmp, path)
    return path


def gate_failures(results: Results, where: Path) -> list[Finding]:
    """One B211 finding per failed gate, saying by how much (or that nothing measured it)."""
    found = []
    for gate in results.failed():
        sign = ">=" if gate.bound == "min" else "<="
        if gate.value is None:
            message = f"verify gate {gate.name} ({gate.metric} {sign} {gate.threshold:g} {gate.unit}) has no " \
                      f"measurement: step {gate.step} has no result"
        else:
            side = "below" if gate.bound == "min" else "above"
            message = f"verify gate {gate.name} failed: {gate.metric} {gate.value:g} {gate.unit} is " \
                      f"{abs(gate.margin or 0):g} {side} its threshold {gate.threshold:g} ({gate.reason})"
        found.append(problem(GATE_FAILED, message, f"the figures are in {where}; fix the deployment, or change the "
                             "gate in the spec if it is wrong"))
    return found


def gate_table(results: Results) -> list[str]:
    """The gates as a table: name, value, threshold, margin, verdict."""
    rows = [("gate", "value", "threshold", "margin", "")]
    for gate in results.gates:
        sign = ">=" if gate.bound == "min" else "<="
        value = "-" if gate.value is None else f"{gate.value:.2f} {gate.unit}"
        room = "-" if gate.margin is None else f"{gate.margin:+.2f}"
        rows.append((gate.name, value, f"{sign} {gate.threshold:g}", room, "passed" if gate.passed else "FAILED"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, [*widths, 0])).rstrip() for row in rows]


def summary(results: Results) -> str:
    failed = len(results.failed())
    total = len(results.gates)
    if not total:
        return f"verify: {len(results.measured)} measurement(s), no gates"
    return f"verify: {failed} of {total} gate{'s' if total != 1 else ''} failed" if failed else \
        f"verify: all {total} gate{'s' if total != 1 else ''} passed"


def missing_lines(results: Results) -> Iterable[str]:
    return (f"  {m.step}: {m.why}" for m in results.missing)
