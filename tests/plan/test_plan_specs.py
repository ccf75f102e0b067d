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
from compiler.plan.model import Impact
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


ENGINE_TOOLS = {"quantize.py", "convert_checkpoint.py", "gptqmodel", "trtllm-build"}


def test_shipped_specs_on_the_pytorch_backend_export_with_modelopt_and_serve_an_llm_api_file() -> None:
    from compiler.catalog.llm_api import check_llm_api_options

    served: dict[str, list[str]] = {}
    for path in sorted(SPECS.glob("*.yaml")):
        report = check_spec(path)
        if report.decided is None or report.decided.backend.value.value != "pytorch":
            continue
        d = report.decided
        plan = make_plan(d, report.findings)
        served.setdefault(d.r.release.version, []).append(path.stem)
        assert not {step.tool for step in plan.steps} & ENGINE_TOOLS, path.name
        if d.format.value.value != "none":  # the export, then the verify steps a spec with verify: adds
            assert [step.tool for step in plan.steps if step.impact is not Impact.REVERIFY] == ["hf_ptq.py"], path.name
        options = plan.launch.llm_api_options
        assert options is not None and check_llm_api_options(d.r.release.exact, options) == []
        assert yaml.safe_load(render_build(plan)["launch/llm_api_options.yaml"]) == options
        words = [str(a) for a in plan.launch.rank_argv]
        assert "trtllm-serve" in words[:2] and any(w.endswith("/launch/llm_api_options.yaml") for w in words)
    # Issue 12: at least one PyTorch-backend spec per release on either side of the engine path's removal.
    assert served.get("1.2.0") and served.get("1.3.0"), served
    assert "llama-7b-fp8-fp8kv-h100" in served["1.2.0"] and "llama-3.1-8b-fp8-h100-1.3" in served["1.3.0"]
