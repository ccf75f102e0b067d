"""Tampering is noticed: a built output's files and a step's script, changed after the fact, by file.

Each completion record keeps its output's manifest (size, mtime, sha256 per file) and the
sha256 of the script that ran; plan.json written by compile keeps each script's sha256.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from runkit import Host, calls, snapshot, write_spec

Build = Callable[..., Result]


def build(trtdeploy: Build, folder: Path, *extra: str) -> Result:
    return trtdeploy("build", str(folder), "--skip-doctor", "--plain", *extra)


def ran(result: Result) -> list[str]:
    return [line.split()[1] for line in result.stdout.splitlines() if line.startswith("[") and "… running" in line]


def states(trtdeploy: Build, folder: Path, *extra: str) -> dict[str, tuple[str, str]]:
    result = trtdeploy("status", str(folder), "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return {s["id"]: (s["state"], s["reason"]) for s in json.loads(result.stdout)["steps"]}


@pytest.fixture
def built(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> Path:
    folder = compile_folder()
    assert build(trtdeploy, folder).exit_code == 0
    return folder


def engine(folder: Path) -> Path:
    return next((folder / "store").glob("build-*"))


def replace_with_link(path: Path) -> None:
    path.unlink()
    path.symlink_to("/etc/hostname")


@pytest.mark.parametrize(("change", "what"), [
    (lambda out: (out / "rank0.engine").unlink(), "rank0.engine deleted"),
    (lambda out: (out / "rank1.engine").write_bytes(b"patched"), "rank1.engine edited"),
    (lambda out: (out / "extra.bin").write_bytes(b"x"), "extra.bin added"),
    (lambda out: replace_with_link(out / "config.json"), "config.json edited"),
])
def test_a_changed_output_file_makes_its_step_stale_and_is_named(change: Callable[[Path], object], what: str,
                                                                  built: Path, host: Host, trtdeploy: Build) -> None:
    change(engine(built))
    status = trtdeploy("status", str(built))
    assert status.exit_code == 0
    assert f"B301 warning: step build: {engine(built).relative_to(built)}: {what}" in status.stderr
    assert states(trtdeploy, built)["build"] == ("stale", f"output files changed since it was built ({what})")
    assert states(trtdeploy, built)["quantize"][0] == "done"
    before = len(calls(host))
    again = build(trtdeploy, built)
    assert again.exit_code == 0 and ran(again) == ["build"] and len(calls(host)) == before + 1
    assert "B301 warning: " in again.stderr
    assert states(trtdeploy, built)["build"][0] == "done"


def test_a_changed_checkpoint_reruns_the_steps_that_read_it(built: Path, trtdeploy: Build) -> None:
    checkpoint = next((built / "store").glob("quantize-*"))
    next(p for p in sorted(checkpoint.iterdir()) if p.name.startswith("rank")).write_bytes(b"not the weights")
    assert states(trtdeploy, built)["build"] == ("stale", "input step quantize is stale (will re-run)")
    assert ran(build(trtdeploy, built)) == ["quantize", "build"]


def test_touching_an_output_without_changing_it_is_not_a_change(built: Path, trtdeploy: Build) -> None:
    config = engine(built) / "config.json"
    stat = config.stat()
    os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert states(trtdeploy, built)["build"][0] == "done"
    assert ran(build(trtdeploy, built)) == []


def test_verify_catches_an_edit_that_kept_size_and_mtime(built: Path, trtdeploy: Build) -> None:
    rank0 = engine(built) / "rank0.engine"
    stat = rank0.stat()
    data = bytearray(rank0.read_bytes())
    data[0] ^= 0xFF
    rank0.write_bytes(bytes(data))
    os.utime(rank0, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert states(trtdeploy, built)["build"][0] == "done"  # sizes and mtimes only: the cheap check cannot see it
    verified = trtdeploy("status", str(built), "--verify")
    assert "B301 warning: " in verified.stderr and "rank0.engine edited" in verified.stderr
    assert states(trtdeploy, built, "--verify")["build"] == ("stale", "output files changed since it was built "
                                                                      "(rank0.engine edited)")
    assert ran(build(trtdeploy, built)) == []
    assert ran(build(trtdeploy, built, "--verify")) == ["build"]
    assert states(trtdeploy, built, "--verify")["build"][0] == "done"


def test_an_edited_script_of_a_runkit_folder_makes_its_step_stale(built: Path, trtdeploy: Build) -> None:
    """plan.json without script digests (hand-made): the record's digest still shows the edit, and it re-runs."""
    script = built / "steps" / "02-build.sh"
    script.write_text(script.read_text() + "# an edit\n")
    assert states(trtdeploy, built)["build"] == ("stale", "steps/02-build.sh changed since the step was built")
    status = trtdeploy("status", str(built))
    assert "B302 warning: step build: steps/02-build.sh changed since the step was built" in status.stderr
    assert ran(build(trtdeploy, built)) == ["build"]


def test_a_script_edited_after_compile_is_stale_and_never_runs(host: Host, tmp_path: Path, trtdeploy: Build) -> None:
    spec, folder = write_spec(host, tmp_path / "spec.yaml"), tmp_path / "out"
    assert trtdeploy("build", str(spec), "-o", str(folder), "--skip-doctor", "--plain").exit_code == 0
    script = folder / "steps" / "02-build.sh"
    original = script.read_text()
    marker = tmp_path / "edited-script-ran"
    script.write_text(original.replace("exec trtllm-build", f"touch {marker}; exec trtllm-build"))
    assert script.read_text() != original
    assert states(trtdeploy, folder)["build"] == ("stale", "steps/02-build.sh changed since the step was built")
    before, calls_before = snapshot(folder / "store"), len(calls(host))
    for extra in ((), ("--force", "build")):
        refused = build(trtdeploy, folder, *extra)
        assert refused.exit_code == 1
        assert "B302 error: steps/02-build.sh was edited after compile" in refused.stderr
        assert snapshot(folder / "store") == before and len(calls(host)) == calls_before
        assert not marker.exists()
    script.unlink()
    missing = build(trtdeploy, folder)
    assert missing.exit_code == 1 and "B109 error: " in missing.stderr
    assert trtdeploy("compile", str(spec), "-o", str(folder)).exit_code == 0  # the plan's script back
    assert script.read_text() == original
    assert ran(build(trtdeploy, folder)) == []


def test_a_script_edited_before_the_first_build_is_reported_by_status(host: Host, tmp_path: Path,
                                                                      trtdeploy: Build) -> None:
    spec, folder = write_spec(host, tmp_path / "spec.yaml"), tmp_path / "out"
    assert trtdeploy("compile", str(spec), "-o", str(folder)).exit_code == 0
    (folder / "steps" / "01-quantize.sh").write_text("#!/bin/sh\nexit 0\n")
    status = trtdeploy("status", str(folder), "--format", "json")
    findings = json.loads(status.stdout)["findings"]
    assert [(f["code"], f["severity"]) for f in findings] == [("B302", "warning")]
    assert findings[0]["message"].startswith("steps/01-quantize.sh was edited after compile")


def test_an_old_record_is_not_taken_as_done(built: Path, trtdeploy: Build) -> None:
    record_file = engine(built) / ".trtdeploy-complete.json"
    record = json.loads(record_file.read_text())
    record_file.write_text(json.dumps({**record, "version": 1}))
    assert states(trtdeploy, built)["build"] == ("missing", "its completion record is damaged or from another "
                                                            "trtdeploy version")


def test_records_hold_the_manifest_and_the_script_digest(built: Path) -> None:
    record = json.loads((engine(built) / ".trtdeploy-complete.json").read_text())
    assert record["script"] == "steps/02-build.sh" and len(record["script_sha256"]) == 64
    assert sorted(record["outputs"]) == ["config.json", "rank0.engine", "rank1.engine"]  # tp 2: an engine per rank
    assert set(record["outputs"]["rank0.engine"]) == {"size", "mtime_ns", "sha256"}
