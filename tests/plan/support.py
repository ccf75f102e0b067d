"""Helpers shared by tests/plan and tests/render: spec writing, planning, and checking argv against the tool surfaces."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from compiler.plan import toolcheck
from compiler.load import deep_merge
from compiler.pipeline import SpecReport, check_spec
from compiler.plan.model import Arg, Plan, Step, Var
from compiler.plan.planner import make_plan
from compiler.render import _render
from compiler.versions import parse_version

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
DATA = ROOT / "tests" / "data" / "plan"
RELEASES = ("0.8.0", "0.9.0", "0.10.0", "0.16.0", "1.2.0")
BASE: dict[str, Any] = {
    "name": "llama-test",
    "model": {"name": "llama-2-7b"},
    "target": {"gpu": "H100-SXM", "tensorrt_llm": "0.16.0", "backend": "tensorrt"},
}


def spec_data(*overrides: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = dict(BASE)
    for override in overrides:
        data = deep_merge(data, override)
    return data


def write_spec(folder: Path, *overrides: Mapping[str, Any], name: str = "spec.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec_data(*overrides), sort_keys=True), encoding="utf-8")
    return path


def checked(path: Path) -> SpecReport:
    return check_spec(path)


def plan_file(path: Path) -> Plan:
    """The plan of a spec that must check without errors."""
    report = check_spec(path)
    assert report.resolved is not None and not report.errors, [f"{f.code} {f.message}" for f in report.findings]
    return make_plan(report.decided, report.findings)


def plan_spec(folder: Path, *overrides: Mapping[str, Any], name: str = "spec.yaml") -> Plan:
    return plan_file(write_spec(folder, *overrides, name=name))


def text(argv: Sequence[Arg]) -> list[str]:
    return [str(a) for a in argv]


def tool_args(argv: Sequence[Arg]) -> list[str]:
    """A tool's arguments: what follows the program words (python3 and its script, or the binary)."""
    words = text(argv)
    first = next((i for i, word in enumerate(words) if word.startswith("-")), len(words))
    return words[first:]


def flag_value(argv: Sequence[Arg], flag: str) -> str | None:
    """The value of `flag` (either `flag value` or `flag=value`), None when absent."""
    words = text(argv)
    for i, word in enumerate(words):
        if word == flag:
            return words[i + 1] if i + 1 < len(words) and not words[i + 1].startswith("--") else ""
        if word.startswith(flag + "="):
            return word.partition("=")[2]
    return None


@functools.cache
def gptq_script() -> ModuleType:
    """The rendered GPTQ script as a module (its heavy imports happen only in main(), which is not called)."""
    module = ModuleType("rendered_gptq_quantize")
    module.__file__ = "steps/gptq_quantize.py"
    exec(compile(_render("steps/gptq_quantize.py.j2"), module.__file__, "exec"), module.__dict__)
    return module


def step_problems(step: Step, version: str, modelopt: str | None = None) -> list[str]:
    """Problems of a step's argv against its tool's surface in this exact release."""
    return toolcheck.step_problems(step, parse_version(version), parse_version(modelopt) if modelopt else None)


def plan_problems(plan: Plan) -> list[str]:
    """Every argv of the plan against its tool's surface in the plan's exact release (and ModelOpt release)."""
    release = parse_version(plan.release_version)
    modelopt = plan.resolved.get("modelopt")
    modelopt_version = parse_version(modelopt) if isinstance(modelopt, str) else None
    problems = [p for step in plan.steps for p in toolcheck.step_problems(step, release, modelopt_version)]
    return problems + toolcheck.launch_problems(plan, release)


def expand(argv: Sequence[Arg], values: Mapping[str, str]) -> list[str]:
    """argv as a shell running the script sees it: each Var replaced by its value."""
    return [values[a.name] + a.suffix if isinstance(a, Var) else a for a in argv]
