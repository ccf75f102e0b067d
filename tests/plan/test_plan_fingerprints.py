"""Fingerprints change exactly when a step's output would: what re-runs after each kind of spec change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compiler.plan.model import Plan
from plan.support import flag_value, plan_spec, text

FP8: dict[str, Any] = {"quantization": {"format": "fp8", "calibration": {"samples": 256}}}
GPTQ: dict[str, Any] = {"quantization": {"format": "int4_gptq", "calibration": {"samples": 128}},
                        "target": {"gpu": "A100-SXM-80GB"}}
SQ: dict[str, Any] = {"quantization": {"format": "int8_sq", "calibration": {"samples": 256}},
                      "plugins": {"use_paged_context_fmha": "disable"}, "target": {"gpu": "A100-SXM-80GB"}}
ROUTES = {"fp8": (FP8, ["quantize", "build"]), "gptq": (GPTQ, ["gptq", "convert", "build"]),
          "int8_sq": (SQ, ["convert", "build"])}


def prints(plan: Plan) -> dict[str, str]:
    return {**{s.id: s.fingerprint for s in plan.steps}, "launch": plan.launch.fingerprint}


def changed(before: Plan, after: Plan) -> set[str]:
    old, new = prints(before), prints(after)
    return {key for key in old if old[key] != new[key]}


def two(tmp_path: Path, base: dict[str, Any], change: dict[str, Any]) -> tuple[Plan, Plan]:
    return plan_spec(tmp_path, base, name="a.yaml"), plan_spec(tmp_path, base, change, name="b.yaml")


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_max_batch_size_rebuilds_the_engine_and_relaunches(tmp_path: Path, route: str) -> None:
    base, _ = ROUTES[route]
    before, after = two(tmp_path, base, {"limits": {"max_batch_size": 32}})
    assert changed(before, after) == {"build", "launch"}
    aspects = {k for k, v in before.step("build").aspects.items() if after.step("build").aspects[k] != v}
    assert aspects == {"build_args"}


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_launcher_relaunches_only(tmp_path: Path, route: str) -> None:
    base, _ = ROUTES[route]
    before, after = two(tmp_path, base, {"launch": {"launcher": "slurm"}})
    assert changed(before, after) == {"launch"}
    assert before.launch.aspects["upstream"] == after.launch.aspects["upstream"]
    assert before.launch.aspects["launch"] != after.launch.aspects["launch"]


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_calibration_requantizes_and_everything_after(tmp_path: Path, route: str) -> None:
    base, ids = ROUTES[route]
    before, after = two(tmp_path, base, {"quantization": {"calibration": {"samples": 64}}})
    assert changed(before, after) == {*ids, "launch"}
    first = ids[0]
    assert before.step(first).aspects["quant_inputs"] != after.step(first).aspects["quant_inputs"]
    assert before.step("build").aspects["build_args"] == after.step("build").aspects["build_args"]
    assert before.step("build").aspects["upstream"] != after.step("build").aspects["upstream"]


def test_parallelism_reshards_the_checkpoint(tmp_path: Path) -> None:
    before, after = two(tmp_path, FP8, {"parallelism": {"tp": 2}})
    assert changed(before, after) == {"quantize", "build", "launch"}
    quantize = before.step("quantize").aspects, after.step("quantize").aspects
    assert {k for k in quantize[0] if quantize[0][k] != quantize[1][k]} == {"parallelism"}


def test_moving_the_model_folder_invalidates_nothing(tmp_path: Path) -> None:
    before, after = (plan_spec(tmp_path, GPTQ, {"model": {"path": f"/models/{where}"}}, name=f"{where}.yaml")
                     for where in ("here", "there"))
    assert prints(before) == prints(after)
    assert before.variables["MODEL_DIR"] == "/models/here" and after.variables["MODEL_DIR"] == "/models/there"


def test_moving_a_given_checkpoint_invalidates_nothing(tmp_path: Path) -> None:
    base = {"quantization": {"format": "int4_gptq"}, "target": {"gpu": "A100-SXM-80GB"}}
    before, after = (plan_spec(tmp_path, base, {"quantization": {"checkpoint": f"/ckpt/{where}"}},
                               name=f"{where}.yaml") for where in ("a", "b"))
    assert [s.id for s in before.steps] == ["convert", "build"]
    assert prints(before) == prints(after)
    assert flag_value(after.step("convert").argv, "--quant_ckpt_path") == "/ckpt/b/model.safetensors"


def test_release_and_build_gpu_are_part_of_the_fingerprint(tmp_path: Path) -> None:
    before, after = two(tmp_path, FP8, {"target": {"tensorrt_llm": "0.17.0"}})
    assert changed(before, after) == {"quantize", "build", "launch"}
    before, after = two(tmp_path, FP8, {"target": {"gpu": "H200"}})  # same SM 90: the engine is the same
    assert changed(before, after) == set()


def test_outputs_are_content_addressed_and_read_by_literal_path(tmp_path: Path) -> None:
    plan = plan_spec(tmp_path, GPTQ)
    gptq, convert, build = plan.steps
    for step in plan.steps:
        assert step.output == f"store/{step.id}-{step.fingerprint[:16]}"
        assert "${STEP_OUT}" in text(step.argv)
    assert f"{gptq.output}/model.safetensors" in text(convert.argv)
    assert flag_value(build.argv, "--checkpoint_dir") == convert.output
    assert plan.launch.engine_dir == build.output and build.output in text(plan.launch.rank_argv)
    assert [s.depends_on for s in plan.steps] == [(), ("gptq",), ("convert",)]


def test_planning_twice_gives_the_same_fingerprints(tmp_path: Path) -> None:
    assert prints(plan_spec(tmp_path, GPTQ, name="x.yaml")) == prints(plan_spec(tmp_path, GPTQ, name="y.yaml"))
