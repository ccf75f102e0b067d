"""trtdeploy build on fixture build folders: skipping, forcing, staleness, failures."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from runkit import VERSIONS, Host, Knobs, calls, snapshot

FLOWS = ["quantize", "convert", "gptq_ckpt"]
Build = Callable[..., Result]


def build(trtdeploy: Build, folder: Path, *extra: str) -> Result:
    return trtdeploy("build", str(folder), "--skip-doctor", "--plain", *extra)


def ran(result: Result) -> list[str]:
    """Ids of the steps a build ran (from its plain progress lines)."""
    return [line.split()[1] for line in result.stdout.splitlines() if line.startswith("[") and "… running" in line]


@pytest.mark.parametrize("flow", FLOWS)
def test_building_twice_runs_every_step_once(flow: str, host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder(Knobs(flow=flow))
    first = build(trtdeploy, folder)
    assert first.exit_code == 0, first.output
    assert ran(first) == [("quantize" if flow == "quantize" else "convert"), "build"]
    second = build(trtdeploy, folder)
    assert second.exit_code == 0, second.output
    assert ran(second) == []
    assert second.stdout.count("skipped (up to date)") == 2
    assert len(calls(host)) == 2
    engine = next((folder / "store").glob("build-*"))
    assert sorted(p.name for p in engine.iterdir()) == [".trtdeploy-complete.json", "config.json", "rank0.engine", "rank1.engine"]


def test_progress_lines_and_log_header(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    result = build(trtdeploy, folder)
    assert "[1/2] quantize … running (missing: not built yet); log: logs/01-quantize.log" in result.stdout
    assert any(line.startswith("[2/2] build … ") and line.endswith(" s") for line in result.stdout.splitlines())
    log = (folder / "logs" / "01-quantize.log").read_text()
    assert log.startswith("# trtdeploy step 1/2: quantize (quantize.py)\n# script: bash steps/01-quantize.sh\n")
    assert "# argv: python3 '${EXAMPLES_DIR}/quantization/quantize.py' --model_dir '${MODEL_DIR}'" in log
    assert "# started: " in log and "stand-in quantize.py: done" in log


def test_force_build_reruns_only_build(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    build(trtdeploy, folder)
    result = build(trtdeploy, folder, "--force", "build")
    assert result.exit_code == 0
    assert ran(result) == ["build"]
    assert "running (forced with --force)" in result.stdout


def test_force_first_step_reruns_the_steps_that_read_it(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    build(trtdeploy, folder)
    result = build(trtdeploy, folder, "--force", "quantize")
    assert ran(result) == ["quantize", "build"]


@pytest.mark.parametrize("flow", FLOWS)
def test_changing_max_batch_size_reruns_only_the_engine_build(flow: str, host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder(Knobs(flow=flow))
    build(trtdeploy, folder)
    compile_folder(Knobs(flow=flow, max_batch_size=64))
    result = build(trtdeploy, folder)
    assert ran(result) == ["build"]
    assert json.loads(next((folder / "store").glob("build-*/config.json")).read_text()) is not None
    engines = sorted((folder / "store").glob("build-*"))
    assert len(engines) == 2  # the old engine is kept under its own fingerprint until --clean


@pytest.mark.parametrize("flow", ["quantize", "convert"])
def test_changing_calibration_samples_reruns_quantize_and_build(flow: str, host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder(Knobs(flow=flow))
    build(trtdeploy, folder)
    compile_folder(Knobs(flow=flow, calib_samples=64))
    result = build(trtdeploy, folder)
    assert ran(result) == [flow, "build"]


@pytest.mark.parametrize("flow", FLOWS)
def test_changing_a_model_file_reruns_everything_that_reads_it(flow: str, host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder(Knobs(flow=flow))
    build(trtdeploy, folder)
    weights = host.model / "model.safetensors"
    weights.write_bytes(b"weights-v2" * 100)
    os.utime(weights, ns=(time.time_ns(), time.time_ns() + 10**9))
    result = build(trtdeploy, folder)
    assert ran(result) == [("quantize" if flow == "quantize" else "convert"), "build"]
    assert f"model files changed ({weights})" in result.stdout


def test_touching_a_model_file_without_changing_it_reruns_nothing(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    build(trtdeploy, folder)
    weights = host.model / "model.safetensors"
    os.utime(weights, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert ran(build(trtdeploy, folder)) == []


def test_changing_the_gptq_checkpoint_reruns_convert_and_build(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder(Knobs(flow="gptq_ckpt"))
    build(trtdeploy, folder)
    host.checkpoint.write_bytes(b"other" * 64)
    result = build(trtdeploy, folder)
    assert ran(result) == ["convert", "build"]
    assert f"checkpoint files changed ({host.checkpoint})" in result.stdout


def test_model_dir_from_the_environment_overrides_the_plan(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build,
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = compile_folder()
    build(trtdeploy, folder)
    other = tmp_path / "other-model"
    other.mkdir()
    (other / "config.json").write_text((host.model / "config.json").read_text())
    (other / "model.safetensors").write_bytes(b"other weights")
    monkeypatch.setenv("TRTDEPLOY_MODEL_DIR", str(other))
    result = build(trtdeploy, folder)
    assert ran(result) == ["quantize", "build"]
    assert json.loads(host.calls.read_text().splitlines()[-2])["argv"][1] == str(other)


def test_a_failing_step_prints_its_log_tail_and_is_not_recorded(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    folder = compile_folder()
    monkeypatch.setenv("TRTDEPLOY_STANDIN_FAIL", "trtllm-build")
    result = build(trtdeploy, folder)
    assert result.exit_code == 1
    assert "--- build: last " in result.stderr and "lines of logs/02-build.log ---" in result.stderr
    assert "stand-in trtllm-build: failing as asked" in result.stderr
    assert f"full log: {folder.resolve() / 'logs' / '02-build.log'}" in result.stderr
    assert "B208 error: step build failed (exit 1)" in result.stderr
    assert not list((folder / "store").glob("build-*"))
    assert list((folder / "store").glob("quantize-*/.trtdeploy-complete.json"))
    monkeypatch.delenv("TRTDEPLOY_STANDIN_FAIL")
    again = build(trtdeploy, folder)
    assert again.exit_code == 0 and ran(again) == ["build"]


def test_an_unknown_flag_fails_the_step_naming_the_flag(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = compile_folder(Knobs(line="1.x"))
    monkeypatch.setenv("TRTDEPLOY_STANDIN_VERSION", "0.8.0")  # the tools of another release: no --calib_dataset
    result = build(trtdeploy, folder)
    assert result.exit_code == 1
    assert "quantize.py 0.8.0: unknown flag --calib_dataset" in result.stderr


@pytest.mark.parametrize("line", ["0.8", "0.12", "1.x"])
def test_each_release_line_builds_with_its_own_flags(line: str, host: Host, compile_folder: Callable[..., Path], trtdeploy: Build,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRTDEPLOY_STANDIN_VERSION", VERSIONS[line])
    for flow in FLOWS:
        result = build(trtdeploy, compile_folder(Knobs(flow=flow, line=line), name=f"b-{flow}"))
        assert result.exit_code == 0, result.output


def test_a_step_that_writes_nothing_is_a_failure(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    script = folder / "steps" / "01-quantize.sh"
    script.write_text("#!/usr/bin/env bash\necho 'did nothing'\n")
    result = build(trtdeploy, folder)
    assert result.exit_code == 1
    assert "wrote nothing to its output folder (STEP_OUT)" in result.stderr
    assert not list((folder / "store").glob("quantize-*"))


def test_a_missing_input_is_a_preflight_failure(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build,
                                                monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = compile_folder()
    monkeypatch.setenv("TRTDEPLOY_MODEL_DIR", str(tmp_path / "nowhere"))
    result = build(trtdeploy, folder)
    assert result.exit_code == 1
    assert f"B205 error: step quantize: model input {tmp_path / 'nowhere'} does not exist (from ${{MODEL_DIR}})" in result.stderr
    assert "help: set TRTDEPLOY_MODEL_DIR" in result.stderr
    assert calls(host) == [] and not (folder / "logs").exists()


def test_an_input_variable_without_a_value_is_a_preflight_failure(host: Host, compile_folder: Callable[..., Path],
                                                                  trtdeploy: Build) -> None:
    folder = compile_folder()
    plan = json.loads((folder / "plan.json").read_text())
    plan["variables"]["MODEL_DIR"] = {"env": "TRTDEPLOY_MODEL_DIR", "default": None}  # compiled without model.path
    (folder / "plan.json").write_text(json.dumps(plan))
    result = build(trtdeploy, folder)
    assert result.exit_code == 1
    assert "B207 error: input path '${MODEL_DIR}' needs ${MODEL_DIR}, which the plan leaves to the environment" in result.stderr
    assert "help: set TRTDEPLOY_MODEL_DIR" in result.stderr and calls(host) == []


def test_leftovers_of_a_killed_run_are_removed(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    junk = folder / "store" / ".tmp" / "quantize-0123.999.abcd"
    junk.mkdir(parents=True)
    (junk / "rank0.safetensors").write_bytes(b"half")
    result = build(trtdeploy, folder)
    assert "removed store/.tmp/quantize-0123.999.abcd (left by an interrupted run)" in result.stdout
    assert not junk.exists()


def test_an_output_folder_without_record_is_rebuilt(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    build(trtdeploy, folder)
    record = next((folder / "store").glob("build-*/.trtdeploy-complete.json"))
    record.unlink()  # as if killed between the rename and the record
    result = build(trtdeploy, folder)
    assert ran(result) == ["build"]
    assert "a run stopped before it finished" in result.stdout


# ---------------------------------------------------------------- selection


def test_unknown_step_ids_are_usage_errors_naming_the_valid_ones(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    for flag in ("--only", "--from", "--force"):
        result = build(trtdeploy, folder, flag, "convrt")
        assert result.exit_code == 2
        assert "B202 error: unknown step 'convrt'" in result.stderr
        assert "help: the steps of this plan are: quantize, build" in result.stderr


def test_only_needs_the_steps_it_reads_to_be_built(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    refused = build(trtdeploy, folder, "--only", "build")
    assert refused.exit_code == 1
    assert "B204 error: --only: the selected steps read quantize, which is missing (not built yet)" in refused.stderr
    first = build(trtdeploy, folder, "--only", "quantize")
    assert first.exit_code == 0 and ran(first) == ["quantize"]
    second = build(trtdeploy, folder, "--only", "build")
    assert second.exit_code == 0 and ran(second) == ["build"]


def test_from_considers_the_step_and_those_after_it(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    build(trtdeploy, folder)
    result = build(trtdeploy, folder, "--from", "build", "--force", "build")
    assert ran(result) == ["build"]
    assert "quantize" not in result.stdout
    outside = build(trtdeploy, folder, "--from", "build", "--force", "quantize")
    assert outside.exit_code == 2 and "B203 error: --force quantize: that step is not selected" in outside.stderr


def test_a_step_forced_alone_makes_its_readers_stale(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    build(trtdeploy, folder)
    build(trtdeploy, folder, "--only", "quantize", "--force", "quantize")
    result = build(trtdeploy, folder)
    assert ran(result) == ["build"]
    assert "stale: input step quantize re-ran" in result.stdout


# ---------------------------------------------------------------- dry run and clean


def test_dry_run_writes_nothing_and_says_why(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    before = snapshot(folder)
    result = trtdeploy("build", str(folder), "--dry-run")
    assert result.exit_code == 0
    assert snapshot(folder) == before and calls(host) == []
    assert "[1/2] quantize … would run: missing: not built yet" in result.stdout
    assert "bash steps/01-quantize.sh   # python3 '${EXAMPLES_DIR}/quantization/quantize.py'" in result.stdout
    build(trtdeploy, folder)
    compile_folder(Knobs(max_batch_size=16))
    before = snapshot(folder)
    result = trtdeploy("build", str(folder), "--dry-run")
    assert snapshot(folder) == before
    assert "[1/2] quantize … would skip: up to date" in result.stdout
    assert "[2/2] build … would run: stale: plan fingerprint changed (build_args)" in result.stdout
    assert "1 step would run, 1 would be skipped" in result.stdout


def test_clean_removes_store_folders_the_plan_no_longer_uses(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    build(trtdeploy, folder)
    old = next((folder / "store").glob("build-*"))
    compile_folder(Knobs(max_batch_size=16))
    build(trtdeploy, folder)
    result = trtdeploy("build", str(folder), "--clean")
    assert result.exit_code == 0
    assert f"removed store/{old.name}" in result.stdout
    assert not old.exists() and len(list((folder / "store").glob("build-*"))) == 1
    assert ran(build(trtdeploy, folder)) == []


def test_a_folder_that_is_neither_spec_nor_build_is_a_usage_error(trtdeploy: Build, tmp_path: Path) -> None:
    result = trtdeploy("build", str(tmp_path / "nope"))
    assert result.exit_code == 2 and "B100 error: no such spec or build folder" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = trtdeploy("build", str(empty), "--skip-doctor")
    assert result.exit_code == 1 and "B101 error: " in result.stderr and "plan.json does not exist" in result.stderr
    assert list(empty.iterdir()) == []  # nothing was created in a folder that is not a build folder
