"""trtdeploy status: done / stale / missing, with the reason a step is stale."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

from runkit import Host, Knobs, snapshot

Build = Callable[..., Result]


def states(trtdeploy: Build, folder: Path) -> dict[str, tuple[str, str]]:
    result = trtdeploy("status", str(folder), "--format", "json")
    assert result.exit_code == 0, result.output
    return {s["id"]: (s["state"], s["reason"]) for s in json.loads(result.stdout)["steps"]}


def build(trtdeploy: Build, folder: Path, *extra: str) -> None:
    assert trtdeploy("build", str(folder), "--skip-doctor", "--plain", *extra).exit_code == 0


def test_a_fresh_folder_is_missing_and_a_built_one_done(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    assert states(trtdeploy, folder) == {"quantize": ("missing", "not built yet"), "build": ("missing", "not built yet")}
    build(trtdeploy, folder)
    found = states(trtdeploy, folder)
    assert [s for s, _ in found.values()] == ["done", "done"]
    assert found["build"][1].startswith("built ")


def test_plan_fingerprint_change_names_the_aspect(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    build(trtdeploy, folder)
    compile_folder(Knobs(max_batch_size=32))
    assert states(trtdeploy, folder) == {"quantize": states(trtdeploy, folder)["quantize"],
                                         "build": ("stale", "plan fingerprint changed (build_args)")}
    assert states(trtdeploy, folder)["quantize"][0] == "done"


def test_upstream_changes_make_readers_stale(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    build(trtdeploy, folder)
    compile_folder(Knobs(calib_samples=128))
    found = states(trtdeploy, folder)
    assert found["quantize"] == ("stale", "plan fingerprint changed (quant_inputs)")
    assert found["build"] == ("stale", "plan fingerprint changed (checkpoint)")


def test_model_change_names_the_file(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    build(trtdeploy, folder)
    weights = host.model / "model.safetensors"
    weights.write_bytes(b"new weights")
    os.utime(weights, ns=(time.time_ns(), time.time_ns() + 10**9))
    found = states(trtdeploy, folder)
    assert found["quantize"] == ("stale", f"model files changed ({weights})")
    assert found["build"] == ("stale", "input step quantize is stale (will re-run)")


def test_a_rerun_input_step_is_named(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder(Knobs(flow="convert"))
    build(trtdeploy, folder)
    build(trtdeploy, folder, "--only", "convert", "--force", "convert")
    assert states(trtdeploy, folder) == {"convert": states(trtdeploy, folder)["convert"],
                                         "build": ("stale", "input step convert re-ran")}


def test_a_missing_input_is_reported_not_raised(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    build(trtdeploy, folder)
    shutil.rmtree(host.calib)
    found = states(trtdeploy, folder)
    assert found["quantize"][0] == "stale" and "does not exist" in found["quantize"][1]


def test_status_text_and_it_writes_nothing(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    build(trtdeploy, folder)
    compile_folder(Knobs(max_batch_size=32))
    before = snapshot(folder)
    result = trtdeploy("status", str(folder))
    assert snapshot(folder) == before
    lines = result.stdout.splitlines()
    assert lines[0].endswith(": 2 steps: 1 done, 1 stale")
    assert lines[1].startswith("done     01 quantize  store/quantize-")
    assert lines[2].startswith("stale    02 build     store/build-") and lines[2].endswith("plan fingerprint changed (build_args)")


def test_status_of_a_missing_folder_is_a_usage_error(trtdeploy: Build, tmp_path: Path) -> None:
    result = trtdeploy("status", str(tmp_path / "nope"))
    assert result.exit_code == 2 and "B100 error: no such build folder" in result.stderr
