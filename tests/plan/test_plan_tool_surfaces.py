"""The planner writes only what the exact release accepts: each argv checked against the package's tool surfaces.

The surfaces are compiler/catalog/tools/*.yaml, read per exact release (support.step_problems,
support.launch_problems). test_plan_matrix covers every format x KV combination for five
releases with its own assertions; here every shipped spec is planned for every release
known from 0.8.0 to the newest, every combination for the releases the matrix does not
cover, and the plugin settings whose flags changed form between releases.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.pipeline import check_spec
from compiler.plan.planner import make_plan
from compiler.spec import QuantFormat
from compiler.versions import parse_version
from plan.support import SPECS, plan_problems, write_spec

RELEASES = ("0.8.0", "0.9.0", "0.10.0", "0.11.0", "0.12.0", "0.13.0", "0.14.0", "0.15.0", "0.16.0", "0.17.0",
            "0.18.0", "0.19.0", "0.20.0", "0.21.0", "1.0.0", "1.1.0", "1.2.0", "1.3.0rc1", "1.3.0")
SHIPPED = sorted(path.stem for path in SPECS.glob("*.yaml"))
KV = ("float16", "int8", "fp8")

def _for_release(path: Path, release: str, folder: Path) -> Path:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["target"] = {**data.get("target", {}), "tensorrt_llm": release}
    out = folder / path.name
    out.write_text(yaml.safe_dump(data), encoding="utf-8")
    return out


def _refused_before_1_0(spec: dict[str, Any]) -> set[tuple[str, str]]:
    """What a shipped spec that plans on 1.x cannot plan before 1.0: trtllm-serve (P101) or the PyTorch backend
    it names (H110) came with 1.0, and the pods' default image is the NGC tag of a 1.x release (L109)."""
    launch = spec.get("launch", {})
    refused = ({("H110", "target.backend")} if spec["target"].get("backend") == "pytorch"
               else {("P101", "launch.entrypoint")})
    if launch.get("launcher") == "kubernetes" and "image" not in launch.get("kubernetes", {}):
        refused.add(("L109", "target.tensorrt_llm"))
    return refused


@pytest.mark.parametrize(("name", "release"), list(itertools.product(SHIPPED, RELEASES)))
def test_every_shipped_spec_plans_with_the_flags_of_each_release(name: str, release: str, tmp_path: Path) -> None:
    spec = yaml.safe_load((SPECS / f"{name}.yaml").read_text(encoding="utf-8"))
    report = check_spec(_for_release(SPECS / f"{name}.yaml", release, tmp_path))
    assert report.decided is not None, [f"{f.code} {f.message}" for f in report.findings]
    gaps = {(gap.code, gap.key) for gap in report.decided.gaps}
    # verify: asks for tools per release (mmlu.py 0.8-0.10, gptSessionBenchmark 0.8-0.9, trtllm-eval from 1.0,
    # trtllm-bench from 1.0 and on engines from 0.12 with a dataset, prepare-dataset from 1.2.0rc3): where a
    # release lacks one it is P108 on its key.
    verify = {(code, key) for code, key in gaps if key.startswith("verify")}
    assert {code for code, _ in verify} <= {"P108"}, verify
    gaps -= verify
    if verify and not gaps:
        return
    if gaps and parse_version(release) >= parse_version("1.3.0"):
        if spec["target"].get("backend") == "tensorrt":  # the engine path is gone: H111
            assert gaps == {("H111", "target.backend")}, gaps
            return
        # 1.3.0 has the PyTorch backend only: what it cannot load (int8 SmoothQuant, GPTQ, an int8 KV cache) is H110.
        assert {code for code, _ in gaps} == {"H110"}, gaps
        return
    if gaps:  # the other refusals among the shipped specs: what 1.0 brought
        assert parse_version(release) < parse_version("1.0.0") and gaps == _refused_before_1_0(spec), gaps
        return
    assert plan_problems(make_plan(report.decided, report.findings)) == []


# The releases test_plan_matrix does not plan (it covers 0.8.0, 0.9.0, 0.10.0, 0.16.0 and 1.2.0).
@pytest.mark.parametrize("release", ("0.11.0", "0.12.0", "0.13.0", "0.14.0", "0.15.0", "0.17.0", "0.20.0", "1.0.0",
                                     "1.3.0rc1"))
def test_every_combination_the_planner_accepts_uses_only_flags_of_its_release(release: str, tmp_path: Path) -> None:
    problems, planned = [], 0
    for fmt, kv in itertools.product([f.value for f in QuantFormat], KV):
        spec = write_spec(tmp_path, {"quantization": {"format": fmt, "kv_cache": kv, "calibration": {}},
                                     "target": {"gpu": "H100-SXM", "tensorrt_llm": release, "backend": "tensorrt"}})
        report = check_spec(spec)
        assert report.decided is not None, [f"{f.code} {f.message}" for f in report.findings]
        if report.decided.gaps:
            continue
        problems += [f"{fmt}/{kv}: {p}" for p in plan_problems(make_plan(report.decided, report.findings))]
        planned += 1
    assert planned >= 20 and problems == []


def _planned_problems(tmp: Path, release: str, **sections: Any) -> list[str]:
    spec = write_spec(tmp, {"target": {"gpu": "H100-SXM", "tensorrt_llm": release, "backend": "tensorrt"}}, sections)
    report = check_spec(spec)
    assert report.decided is not None and not report.decided.gaps, [f.message for f in report.findings]
    return plan_problems(make_plan(report.decided, report.findings))


@pytest.mark.parametrize("release", ("0.10.0", "0.12.0", "0.13.0", "0.14.0", "1.2.0"))
def test_multi_block_mode_is_passed_in_the_form_of_the_release(release: str, tmp_path: Path) -> None:
    assert _planned_problems(tmp_path, release, plugins={"multi_block_mode": "enable"}) == []


@pytest.mark.parametrize("release", ("0.10.0", "0.12.0", "0.13.0", "1.2.0"))
def test_fused_mlp_is_passed_in_the_form_of_the_release(release: str, tmp_path: Path) -> None:
    assert _planned_problems(tmp_path, release, plugins={"use_fused_mlp": "enable"}) == []


@pytest.mark.parametrize("release", ("0.16.0", "1.2.0"))
def test_an_awq_checkpoint_converts_with_a_precision_the_release_has(release: str, tmp_path: Path) -> None:
    problems = _planned_problems(tmp_path, release, quantization={"format": "int4_awq", "checkpoint": "/ckpt/awq"})
    assert problems == []


@pytest.mark.parametrize("release", ("0.12.0", "0.14.0", "0.15.0"))
def test_an_awq_checkpoint_before_0_16_is_refused_not_planned(release: str, tmp_path: Path) -> None:
    # convert_checkpoint.py reads AutoAWQ checkpoints from 0.16.0 (releases.yaml awq_checkpoint_convert).
    spec = write_spec(tmp_path, {"target": {"gpu": "H100-SXM", "tensorrt_llm": release, "backend": "tensorrt"},
                                 "quantization": {"format": "int4_awq", "checkpoint": "/ckpt/awq"}})
    report = check_spec(spec)
    assert report.decided is not None
    assert [(gap.code, gap.key) for gap in report.decided.gaps] == [("P101", "quantization.checkpoint")]
