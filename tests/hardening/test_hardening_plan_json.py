"""A hostile or damaged plan.json: the runner refuses it with B1xx findings at a place, or reads a safe plan.

The property, for every document: compiler.run.plandoc.read_plan either raises a BuildError
whose findings all have a B1xx code, a hint and a line:col inside the text, or returns a plan
whose every step id is a safe name used once, whose every output is its own single folder
directly under store/, whose dependencies are earlier steps and whose scripts are
steps/NN-<id>.sh. These invariants are checked here independently of the reader's own checks.
Documents: mutations of a compiled plan.json (a value replaced by a random JSON value, a key
dropped or added, a step duplicated, moved, or given another step's output), and fixed
hostile ones through real `trtdeploy build|status|doctor` processes.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import fuzz_settings
from hypothesis import event, given, settings
from hypothesis import strategies as st

from compiler.findings import Finding
from compiler.render import render_build
from compiler.run.errors import BuildError
from compiler.run.plandoc import BuildPlan, read_plan

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "llama-7b-int4-gptq-h100.yaml"
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
MUTATIONS = 300


def compiled() -> dict[str, Any]:
    from compiler.pipeline import check_spec
    from compiler.plan.planner import make_plan

    report = check_spec(SPEC)
    assert report.resolved is not None
    return json.loads(render_build(make_plan(report.decided, report.findings))["plan.json"])


BASE = compiled()
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=30)
    | st.sampled_from(["store/build-0", "../x", "/etc", "store/.tmp", "steps/01-x.sh", "quantize", "${HOME}"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def paths(node: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every path to a value in a JSON document."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


def parent_of(doc: Any, path: tuple[str | int, ...]) -> Any:
    node = doc
    for part in path[:-1]:
        node = node[part]
    return node


@st.composite
def mutated(draw: st.DrawFn) -> str:
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        steps = doc.get("steps") if isinstance(doc, dict) else None
        kind = draw(st.sampled_from(["replace", "drop", "add", "duplicate", "steal", "move"]))
        if kind in ("duplicate", "steal", "move") and isinstance(steps, list) and len(steps) >= 2 \
                and all(isinstance(s, dict) for s in steps):
            i, j = draw(st.integers(0, len(steps) - 1)), draw(st.integers(0, len(steps) - 1))
            if kind == "duplicate":
                steps.insert(j, copy.deepcopy(steps[i]))
            elif kind == "steal":
                steps[i]["outputs"] = copy.deepcopy(steps[j].get("outputs"))
            else:
                steps.insert(j, steps.pop(i))
            continue
        targets = [p for p in paths(doc) if p]
        if not targets:
            break
        path = draw(st.sampled_from(targets))
        parent = parent_of(doc, path)
        if kind == "drop":
            del parent[path[-1]]
        elif kind == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(JSON_VALUES)
        else:
            parent[path[-1]] = draw(JSON_VALUES)
    return json.dumps(doc, indent=draw(st.sampled_from([None, 1, 2])))


def accepted_plan_is_safe(plan: BuildPlan) -> None:
    ids = [s.id for s in plan.steps]
    assert len(ids) == len(set(ids)) and all(SAFE_ID.match(i) for i in ids)
    outputs = [s.output for s in plan.steps]
    assert len(outputs) == len(set(outputs))
    for index, step in enumerate(plan.steps):
        assert len(step.document.outputs) == 1
        folder = step.output.removeprefix("store/")
        assert step.output.startswith("store/") and "/" not in folder and not folder.startswith(".")
        assert folder.startswith(f"{step.id}-")
        assert set(step.depends_on) <= set(ids[:index])
        assert re.fullmatch(rf"steps/\d+-{re.escape(step.id)}\.sh", step.script)
        assert all(isinstance(a, str) for a in step.argv)


def refusal_is_a_finding(findings: tuple[Finding, ...], text: str) -> None:
    lines = text.count("\n") + 1
    for finding in findings:
        assert re.fullmatch(r"B1\d\d", finding.code) and finding.hint, finding
        assert finding.location is not None and 1 <= finding.location.line <= lines, finding


@settings(fuzz_settings(MUTATIONS), deadline=None)
@given(mutated())
def test_mutated_plans_are_refused_with_findings_or_safe(text: str) -> None:
    try:
        plan = read_plan(text, Path("/build"), "plan.json")
    except BuildError as exc:
        refusal_is_a_finding(exc.findings, text)
        event(f"refused: {exc.findings[0].code}")  # --hypothesis-show-statistics gives the figures of docs/hardening.md
    else:
        accepted_plan_is_safe(plan)
        event("accepted")


HOSTILE = {
    "inputs-5": lambda d: d["steps"][0].update(inputs=5),
    "steal-output": lambda d: d["steps"][2].update(outputs=d["steps"][0]["outputs"]),
    "escape-store": lambda d: d["steps"][0].update(outputs=["store/../../etc"]),
    "duplicate-id": lambda d: d["steps"].append(copy.deepcopy(d["steps"][0])),
    "script-outside": lambda d: d["steps"][0].update(script="steps/../../bin/sh"),
}
TEXTS = {
    "deep": "[" * 100_000 + "]" * 100_000,
    "duplicate-key": json.dumps(BASE, indent=2).replace('"schema_version": 1', '"schema_version": 1, "steps": []'),
    "not-utf8": "\udcff",
    "empty": "",
}


@pytest.mark.parametrize("name", [*HOSTILE, *TEXTS])
def test_hostile_plans_through_real_processes(name: str, tmp_path: Path) -> None:
    if name in HOSTILE:
        doc = copy.deepcopy(BASE)
        HOSTILE[name](doc)
        data = json.dumps(doc, indent=2).encode()
    else:
        data = TEXTS[name].encode("utf-8", errors="surrogateescape")
    (tmp_path / "plan.json").write_bytes(data)
    for command in ("build", "status", "doctor"):
        proc = subprocess.run([sys.executable, "-m", "compiler.cli", command, str(tmp_path)], capture_output=True,
                              text=True, timeout=300, check=False)
        assert proc.returncode == 1, (command, proc.stderr)
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
        assert re.search(rf"{re.escape(str(tmp_path))}/plan.json:\d+:\d+: B1\d\d error: ", proc.stderr), proc.stderr
        assert "  help: " in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]  # nothing was run or created
