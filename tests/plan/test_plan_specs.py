"""Every spec under specs/ (and tests/data/plan/*.yaml) compiles, as written and on every release line that supports it.

A spec is re-targeted to each release by a small spec that `extends` it and sets
target.tensorrt_llm; where that release reports errors (a format or flag it
lacks), it is skipped for that release. The spec as written must check clean.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from compiler.pipeline import check_spec
from compiler.plan.planner import make_plan
from compiler.render import render_build
from plan.support import DATA, RELEASES, SPECS, plan_problems


def _specs() -> list[Path]:
    found = sorted(SPECS.glob("*.yaml")) + sorted(DATA.glob("*.yaml"))
    return [p for p in found if not (yaml.safe_load(p.read_text(encoding="utf-8")) or {}).get("abstract")]


SPEC_FILES = _specs()


def _compiles(path: Path) -> bool:
    """True when it planned and rendered with reference flags; False when the spec has errors there."""
    report = check_spec(path)
    if report.errors or report.resolved is None:
        return False
    plan = make_plan(report.decided, report.findings)
    assert plan_problems(plan) == []
    files = render_build(plan)
    assert plan.launch.script is not None and plan.launch.files
    assert {"plan.json", "plan.md", plan.launch.script, *plan.launch.files} <= set(files)
    return True


@pytest.mark.parametrize("spec", SPEC_FILES, ids=[p.stem for p in SPEC_FILES])
def test_spec_compiles_on_every_release_that_supports_it(spec: Path, tmp_path: Path) -> None:
    report = check_spec(spec)
    assert not report.errors, [f"{f.code} {f.message}" for f in report.findings]
    assert _compiles(spec)
    supported = []
    base = tmp_path / spec.name  # a copy beside the small spec: outside git, `extends` stays in the spec's folder
    shutil.copyfile(spec, base)
    for release in RELEASES:
        retargeted = tmp_path / f"{release}.yaml"
        retargeted.write_text(yaml.safe_dump({"extends": base.name, "target": {"tensorrt_llm": release}}),
                              encoding="utf-8")
        if _compiles(retargeted):
            supported.append(release)
    assert supported, f"{spec.name} compiles on none of {RELEASES}"


def test_there_is_something_to_compile() -> None:
    assert SPEC_FILES, "no spec under specs/ or tests/data/plan/"
