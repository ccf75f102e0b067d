"""Hostile paths and texts reach the tools intact, and nothing in them is ever run by a shell.

model.path, model.tokenizer, quantization.checkpoint, calibration.dataset,
target.examples_dir and launch.run.input_text hold spaces, quotes, $(...),
backticks, `; rm -rf ~`, newlines and leading dashes. Each compiled folder must
pass bash -n and shellcheck; then every script runs with stand-in programs that
print their argv, and the argv must arrive exactly as planned while no marker
file appears and $HOME stays whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compiler.plan.model import BUILD_DIR, EXAMPLES_DIR, MODEL_DIR, STEP_OUT, Plan
from plan.support import expand, flag_value, plan_spec, text
from render.support import bash_syntax, clean_env, compile_plan, fake_bin, run_script, scripts, shellcheck


def evil(marker: Path) -> str:
    return f"a b 'q' \"dq\" $(touch {marker}-1) `touch {marker}-2` ; rm -rf ~ \n second line $HOME"


def cases(tmp: Path) -> dict[str, dict[str, Any]]:
    bad = evil(tmp / "pwned")
    return {
        "quantize": {
            "model": {"path": str(tmp / f"model {bad}"), "tokenizer": str(tmp / f"tok {bad}")},
            "quantization": {"format": "fp8", "calibration": {"dataset": f"--cnn_dailymail {bad}"}},  # a name the release reads
            "target": {"examples_dir": str(tmp / f"ex {bad}")},
            "launch": {"run": {"input_text": f"-{bad}"}},
        },
        "checkpoint": {
            "model": {"path": str(tmp / f"model {bad}")},
            "quantization": {"format": "int4_gptq", "checkpoint": str(tmp / f"ckpt {bad}")},
            "target": {"gpu": "A100-SXM-80GB", "tensorrt_llm": "0.10.0", "examples_dir": f"-ex {bad}"},
        },
        "gptq-local-calibration": {
            "quantization": {"format": "int4_gptq", "calibration": {"dataset": f"./calib {bad}"}},
            "target": {"gpu": "A100-SXM-80GB", "tensorrt_llm": "1.2.0"},
            "launch": {"entrypoint": "serve", "serve": {"host": f"-{bad}"}},
        },
    }


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[Plan, Path]]]:
    tmp = tmp_path_factory.mktemp("hostile")
    out = {}
    for name, case in cases(tmp).items():
        plan = plan_spec(tmp / "specs", case, name=f"{name}.yaml")
        out[name] = (plan, compile_plan(plan, tmp / f"build {name} $(x)"))
    return tmp, out


def test_hostile_values_reach_the_argv(compiled: tuple[Path, dict[str, tuple[Plan, Path]]]) -> None:
    tmp, plans = compiled
    bad = evil(tmp / "pwned")
    quantize = plans["quantize"][0]
    assert flag_value(quantize.steps[0].argv, "--calib_dataset") == f"--cnn_dailymail {bad}"
    assert text(quantize.launch.rank_argv)[-1] == f"--input_text=-{bad}"
    assert quantize.variables[EXAMPLES_DIR] == str(tmp / f"ex {bad}")
    checkpoint = plans["checkpoint"][0]
    assert flag_value(checkpoint.step("convert").argv, "--modelopt_quant_ckpt_path") == \
        str(tmp / f"ckpt {bad}" / "model.safetensors")
    assert checkpoint.variables[EXAMPLES_DIR] == f"./-ex {bad}"


def test_hostile_scripts_pass_bash_n_and_shellcheck(compiled: tuple[Path, dict[str, tuple[Plan, Path]]]) -> None:
    every = [script for _, folder in compiled[1].values() for script in scripts(folder)]
    for script in every:
        assert bash_syntax(script).returncode == 0, script
    result = shellcheck(every)
    assert result.returncode == 0, result.stdout


def _untouched(tmp: Path, home: Path) -> None:
    assert not list(tmp.glob("pwned*")), list(tmp.glob("pwned*"))
    assert (home / "keep").read_text(encoding="utf-8") == "still here\n"


@pytest.mark.parametrize("case", ["quantize", "checkpoint", "gptq-local-calibration"])
def test_hostile_steps_run_with_argv_intact(compiled: tuple[Path, dict[str, tuple[Plan, Path]]], case: str,
                                            tmp_path: Path) -> None:
    tmp, plans = compiled
    plan, folder = plans[case]
    step_out = tmp_path / "out $(touch nope)"
    env = clean_env(tmp_path, fake_bin(tmp_path / "bin"), STEP_OUT=str(step_out))
    if plan.variables.get(MODEL_DIR) is None:
        env["TRTDEPLOY_MODEL_DIR"] = "/models/from env"
    values = {k: v for k, v in plan.variables.items() if v is not None}
    values.setdefault(MODEL_DIR, "/models/from env")
    for step in plan.steps:
        assert step.script is not None
        printed = run_script(folder / step.script, env)
        assert printed == expand(step.argv, {**values, STEP_OUT: str(step_out)})[1:]
        _untouched(tmp, Path(env["HOME"]))
    assert step_out.is_dir()


@pytest.mark.parametrize("case", ["quantize", "gptq-local-calibration"])
def test_hostile_launch_runs_with_argv_intact(compiled: tuple[Path, dict[str, tuple[Plan, Path]]], case: str,
                                              tmp_path: Path) -> None:
    tmp, plans = compiled
    plan, folder = plans[case]
    bin_dir = fake_bin(tmp_path / "bin")
    env = clean_env(tmp_path, bin_dir, TRTDEPLOY_RANK_ENTRYPOINT=str(bin_dir / "probe"))
    if plan.variables.get(MODEL_DIR) is None:
        env["TRTDEPLOY_MODEL_DIR"] = "/models/from env"
    values = {k: v for k, v in plan.variables.items() if v is not None}
    values.setdefault(MODEL_DIR, "/models/from env")
    assert plan.launch.script is not None
    printed = run_script(folder / plan.launch.script, env)
    if plan.launch.argv[0] == "mpirun":  # the fake mpirun prints its own argv, then runs one rank
        assert printed.pop(0) == expand(plan.launch.argv, {**values, BUILD_DIR: str(folder)})[1:]
    assert printed == [None, *expand(plan.launch.rank_argv, values)[1:]]  # GPUs left as they were
    _untouched(tmp, Path(env["HOME"]))
