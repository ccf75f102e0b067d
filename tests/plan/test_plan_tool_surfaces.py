"""The planner writes only what the exact release accepts: each argv checked against the package's tool surfaces.

The surfaces are compiler/catalog/tools/*.yaml, read per exact release (support.step_problems,
support.launch_problems). test_plan_matrix covers every format x KV combination for five
releases with its own assertions; here every shipped spec is planned for every release
known from 0.8.0 to the newest, every combination for the releases the matrix does not
cover, and the plugin settings whose flags changed form between releases. A planner argv a
release rejects is an xfail naming the flag and the release (strict: fixing it fails the mark).
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
            "0.18.0", "0.19.0", "0.20.0", "0.21.0", "1.0.0", "1.1.0", "1.2.0", "1.3.0rc1")
SHIPPED = sorted(path.stem for path in SPECS.glob("*.yaml"))
KV = ("float16", "int8", "fp8")

REFUSES_0_11 = "planner: TensorRT-LLM 0.11.0 is refused (S114) though tools/*.yaml has its flags, read at the 0.11.0 tag"
CONVERT_CALIBRATION = ("planner: convert_checkpoint.py --calib_size/--calib_max_seq_length at {release} "
                       "(they exist from 0.14.0; only --calib_dataset before)")
CONVERT_CALIBRATING = {"llama-7b-int8-sq-h100", "llama-7b-int4-wo-int8kv-h100"}


def _spec_marks(name: str, release: str) -> list[pytest.MarkDecorator]:
    if release == "0.11.0":
        return [pytest.mark.xfail(strict=True, reason=REFUSES_0_11)]
    if release in ("0.12.0", "0.13.0") and name in CONVERT_CALIBRATING:
        return [pytest.mark.xfail(strict=True, reason=CONVERT_CALIBRATION.format(release=release))]
    return []


def _for_release(path: Path, release: str, folder: Path) -> Path:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["target"] = {**data.get("target", {}), "tensorrt_llm": release}
    out = folder / path.name
    out.write_text(yaml.safe_dump(data), encoding="utf-8")
    return out


@pytest.mark.parametrize(("name", "release"), [
    pytest.param(name, release, marks=_spec_marks(name, release))
    for name, release in itertools.product(SHIPPED, RELEASES)
])
def test_every_shipped_spec_plans_with_the_flags_of_each_release(name: str, release: str, tmp_path: Path) -> None:
    report = check_spec(_for_release(SPECS / f"{name}.yaml", release, tmp_path))
    assert report.decided is not None, [f"{f.code} {f.message}" for f in report.findings]
    gaps = {gap.key for gap in report.decided.gaps}
    if gaps:  # the one refusal among the shipped specs: the trtllm-serve launch, which 1.0 brought
        assert gaps == {"launch.entrypoint"} and parse_version(release) < parse_version("1.0.0"), gaps
        return
    assert plan_problems(make_plan(report.decided, report.findings)) == []


def _combination_marks(release: str) -> list[pytest.MarkDecorator]:
    if release == "0.11.0":
        return [pytest.mark.xfail(strict=True, reason=REFUSES_0_11)]
    if release in ("0.12.0", "0.13.0"):
        return [pytest.mark.xfail(strict=True, reason=CONVERT_CALIBRATION.format(release=release) + " for int8_sq "
                                  "and an int8 KV cache")]
    return []


# The releases test_plan_matrix does not plan (it covers 0.8.0, 0.9.0, 0.10.0, 0.16.0 and 1.2.0).
@pytest.mark.parametrize("release", [
    pytest.param(release, marks=_combination_marks(release))
    for release in ("0.11.0", "0.12.0", "0.13.0", "0.14.0", "0.15.0", "0.17.0", "0.20.0", "1.0.0", "1.3.0rc1")
])
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


@pytest.mark.parametrize("release", [
    pytest.param(release, marks=[pytest.mark.xfail(
        strict=True, reason=f"planner: run.py --multi_block_mode is given a value at {release}, where it is a "
        "store_true switch (a value from 0.14.0)")] if release in ("0.12.0", "0.13.0") else [])
    for release in ("0.10.0", "0.12.0", "0.13.0", "0.14.0", "1.2.0")
])
def test_multi_block_mode_is_passed_in_the_form_of_the_release(release: str, tmp_path: Path) -> None:
    assert _planned_problems(tmp_path, release, plugins={"multi_block_mode": "enable"}) == []


@pytest.mark.parametrize("release", [
    pytest.param(release, marks=[pytest.mark.xfail(
        strict=True, reason="planner: trtllm-build --use_fused_mlp enable at 0.12.0, where it is a store_true "
        "switch (enable|disable from 0.13.0)")] if release == "0.12.0" else [])
    for release in ("0.10.0", "0.12.0", "0.13.0", "1.2.0")
])
def test_fused_mlp_is_passed_in_the_form_of_the_release(release: str, tmp_path: Path) -> None:
    assert _planned_problems(tmp_path, release, plugins={"use_fused_mlp": "enable"}) == []


@pytest.mark.parametrize("release", [
    pytest.param(release, marks=[pytest.mark.xfail(
        strict=True, reason=f"planner: convert_checkpoint.py --weight_only_precision int4_awq at {release} (a choice "
        "from 0.14.0; AutoAWQ checkpoints are read from 0.16.0, releases.yaml awq_checkpoint_convert)")]
        if release in ("0.12.0", "0.13.0") else [])
    for release in ("0.12.0", "0.13.0", "0.14.0", "0.16.0", "1.2.0")
])
def test_an_awq_checkpoint_converts_with_a_precision_the_release_has(release: str, tmp_path: Path) -> None:
    problems = _planned_problems(tmp_path, release, quantization={"format": "int4_awq", "checkpoint": "/ckpt/awq"})
    assert problems == []

