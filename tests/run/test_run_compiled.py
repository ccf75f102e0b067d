"""trtdeploy build SPEC: folders written by the real planner and renderer, run with the stand-ins."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from runkit import Host, calls, write_spec

MISSING = [m for m in ("compiler.render", "compiler.cli.plan", "compiler.plan.planner") if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"the planner/renderer is not there yet: {', '.join(MISSING)} missing")

Build = Callable[..., Result]
FIRST = {"fp8": "quantize", "int8_sq": "convert", "gptq_ckpt": "convert", "none": "convert"}


def test_a_calibration_file_reaches_the_quantize_step_in_a_form_the_release_reads(
        host: Host, tmp_path: Path, trtdeploy: Build, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRTDEPLOY_STANDIN_VERSION", "1.2.0")
    spec = write_spec(host, tmp_path / "spec.yaml", "fp8", "1.2.0", dataset=host.calib / "train.jsonl")
    result = trtdeploy("build", str(spec), "-o", str(tmp_path / "out"), "--skip-doctor", "--plain")
    assert result.exit_code == 0, result.output
    # 1.2.0's quantize.py reads dataset folders: a step copies the file into one, which quantize.py is given.
    assert ran(result) == ["calibration", "quantize", "build"]
    staged = next((tmp_path / "out" / "store").glob("calibration-*"))
    assert [p.name for p in staged.iterdir() if not p.name.startswith(".trtdeploy")] == ["train.jsonl"]


def ran(result: Result) -> list[str]:
    return [line.split()[1] for line in result.stdout.splitlines() if line.startswith("[") and "… running" in line]


@pytest.mark.parametrize(("fmt", "version"), [
    ("fp8", "1.2.0"), ("fp8", "0.16.0"), ("int8_sq", "1.2.0"), ("int8_sq", "0.16.0"),
    ("gptq_ckpt", "1.2.0"), ("gptq_ckpt", "0.8.0"), ("none", "0.8.0"),
])
def test_a_compiled_spec_builds_once_and_then_skips(fmt: str, version: str, host: Host, tmp_path: Path,
                                                    trtdeploy: Build, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRTDEPLOY_STANDIN_VERSION", version)
    spec = write_spec(host, tmp_path / "spec.yaml", fmt, version)
    out = tmp_path / "out"
    first = trtdeploy("build", str(spec), "-o", str(out), "--skip-doctor", "--plain")
    assert first.exit_code == 0, first.output
    assert f"compiled {spec} into {out}" in first.stdout
    assert ran(first) == [FIRST[fmt], "build"]
    second = trtdeploy("build", str(spec), "-o", str(out), "--skip-doctor", "--plain")
    assert second.exit_code == 0 and ran(second) == []
    assert len(calls(host)) == 2


def test_spec_changes_rerun_what_they_affect(host: Host, tmp_path: Path, trtdeploy: Build) -> None:
    spec, out = tmp_path / "spec.yaml", tmp_path / "out"

    def build(**knobs: object) -> list[str]:
        write_spec(host, spec, **knobs)  # type: ignore[arg-type]
        result = trtdeploy("build", str(spec), "-o", str(out), "--skip-doctor", "--plain")
        assert result.exit_code == 0, result.output
        return ran(result)

    assert build() == ["quantize", "build"]
    assert build(batch=8) == ["build"]
    assert build(batch=8, samples=64) == ["quantize", "build"]
    (host.model / "model.safetensors").write_bytes(b"new weights")
    os.utime(host.model / "model.safetensors", ns=(1, 2 * 10**18))
    assert build(batch=8, samples=64) == ["quantize", "build"]
    status = trtdeploy("status", str(out))
    assert status.stdout.splitlines()[0].endswith(": 2 steps: 2 done")


def test_dry_run_of_a_spec_writes_nothing(host: Host, tmp_path: Path, trtdeploy: Build) -> None:
    spec, out = write_spec(host, tmp_path / "spec.yaml"), tmp_path / "out"
    result = trtdeploy("build", str(spec), "-o", str(out), "--dry-run")
    assert result.exit_code == 0, result.output
    assert not out.exists()
    assert "[1/2] quantize … would run: missing: not built yet" in result.stdout
    assert "2 steps would run, 0 would be skipped" in result.stdout


def test_a_spec_with_errors_builds_nothing(host: Host, tmp_path: Path, trtdeploy: Build) -> None:
    spec = write_spec(host, tmp_path / "spec.yaml", tp=3)
    result = trtdeploy("build", str(spec), "-o", str(tmp_path / "out"), "--skip-doctor")
    assert result.exit_code == 1
    assert "B113 error: " in result.stderr and "has errors; nothing was built" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_spec_is_never_compiled_into_a_folder_of_other_files(host: Host, tmp_path: Path, trtdeploy: Build) -> None:
    spec, home = write_spec(host, tmp_path / "spec.yaml"), tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("precious\n")
    for command in (("build", str(spec), "-o", str(home), "--skip-doctor"), ("compile", str(spec), "-o", str(home))):
        result = trtdeploy(*command)
        assert result.exit_code == 1
        assert f"B110 error: cannot write {home}: it is a folder with files but no plan.json" in result.stderr
        assert [p.name for p in home.iterdir()] == ["thesis.tex"]


@pytest.mark.parametrize(("gpu", "fmt", "status"), [("H100-SXM", "fp8", "ok"), ("A10", "none", "FAIL")])
def test_doctor_of_a_spec_compares_the_gpu(gpu: str, fmt: str, status: str, host: Host, tmp_path: Path,
                                           trtdeploy: Build, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "nvidia-smi").write_text("#!/bin/sh\necho 'NVIDIA H100 80GB HBM3, 81559 MiB, 9.0'\n")
    (fake / "nvidia-smi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    spec = write_spec(host, tmp_path / "spec.yaml", fmt, gpu=gpu, tp=1)
    result = trtdeploy("doctor", str(spec))
    assert result.exit_code == 1  # no TensorRT-LLM here
    assert ("ok    gpu: " if status == "ok" else "B408 error: gpu: ") in result.stdout
    assert not (tmp_path / "build").exists()
