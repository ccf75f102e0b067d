"""trtdeploy doctor: tools of the plan's steps, their release line, examples scripts, GPUs and disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from compiler.findings import Severity
from compiler.run.doctor import (
    HostNeeds,
    SeenGpu,
    Status,
    _install_text,
    _smi_line,
    check_disk,
    check_gpus,
    flagged,
    gpu_matches,
    passed,
    render_text,
    run_checks,
)
from compiler.catalog import find_gpu
from runkit import Host, Knobs

Build = Callable[..., Result]
H100_LINE = "NVIDIA H100 80GB HBM3, 81559 MiB, 9.0"


def fake_tools(base: Path, gpus: list[str] | None = None, trtllm: str | None = None,
               modules: tuple[str, ...] = ()) -> Path:
    """A bin folder with a fake nvidia-smi (printing `gpus`) and a python3 that 'has' tensorrt_llm `trtllm`
    and, of the modules doctor asks about, only `modules`; anything else runs the real interpreter."""
    base.mkdir(parents=True, exist_ok=True)
    if gpus is not None:
        smi = base / "nvidia-smi"
        smi.write_text("#!/bin/sh\n" + "".join(f"echo '{line}'\n" for line in gpus))
        smi.chmod(0o755)
    if trtllm is not None:
        py = base / "python3"
        py.write_text(f"""#!{sys.executable}
import json, os, sys
code = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "-c" else ""
if "import tensorrt_llm" in code:
    print("[TensorRT-LLM] TensorRT-LLM version: {trtllm}")
    print("{trtllm}")
elif "find_spec" in code:
    print(json.dumps({{m: m in {list(modules)!r} for m in sys.argv[3:]}}))
else:
    os.execv({sys.executable!r}, [{sys.executable!r}, *sys.argv[1:]])
""")
        py.chmod(0o755)
    return base


def with_path(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


WORDS = {"error": "FAIL", "warning": "warn"}


def lines(result: Result) -> dict[str, str]:
    """check name -> ok, FAIL (an error finding) or warn (a warning finding), from the text output."""
    found = {}
    for line in result.stdout.splitlines():
        if line.startswith("ok    "):
            found[line[6:].split(":", 1)[0]] = "ok"
        elif line.startswith("B4"):  # B4xx error: <check>: <detail>
            _, severity, rest = line.split(" ", 2)
            found[rest.split(":", 1)[0]] = WORDS[severity.rstrip(":")]
    return found


def test_doctor_on_a_host_without_gpu_or_tensorrt_llm_fails_clearly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRTDEPLOY_")}
    proc = subprocess.run([sys.executable, "-m", "compiler.cli", "doctor"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "B401 error: tensorrt_llm: " in proc.stdout and "cannot import tensorrt_llm" in proc.stdout
    assert "B403 error: trtllm-build: trtllm-build is not on PATH" in proc.stdout
    assert "B407 error: gpu: no NVIDIA GPU seen" in proc.stdout
    assert "  help: " in proc.stdout and "checks: 3 failed" in proc.stdout


@pytest.mark.parametrize(("gpu", "status"), [("H100-SXM", "ok"), ("A10", "FAIL")])
def test_the_gpu_check_compares_the_seen_gpu_with_the_plan(gpu: str, status: str, host: Host, compile_folder: Callable[..., Path],
                                                           trtdeploy: Build, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with_path(monkeypatch, fake_tools(tmp_path / "fake", [H100_LINE, H100_LINE]))
    result = trtdeploy("doctor", str(compile_folder(Knobs(gpu=gpu))))
    assert result.exit_code == 1  # TensorRT-LLM is still missing
    assert lines(result)["gpu"] == status
    if status == "ok":
        assert "ok    gpu: NVIDIA H100 80GB HBM3 (80 GiB, compute 9.0) via nvidia-smi matches NVIDIA H100 SXM5 80GB" in result.stdout
        assert lines(result)["gpu count"] == "ok"
    else:
        assert "B408 error: gpu: this host has NVIDIA H100 80GB HBM3 (80 GiB, compute 9.0) (via nvidia-smi); " \
               "the plan targets NVIDIA A10" in result.stdout


def test_too_few_gpus_fail_the_count_check(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build,
                                           monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with_path(monkeypatch, fake_tools(tmp_path / "fake", [H100_LINE, H100_LINE]))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    result = trtdeploy("doctor", str(compile_folder(Knobs(tp=2))))
    assert "B409 error: gpu count: 1 usable, 2 needed" in result.stdout
    assert "CUDA_VISIBLE_DEVICES hides some GPUs" in result.stdout


def test_tools_of_the_plan_and_their_release(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build,
                                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with_path(monkeypatch, fake_tools(tmp_path / "fake", [H100_LINE, H100_LINE], trtllm="1.2.0"))
    ok = trtdeploy("doctor", str(compile_folder(Knobs(line="1.x"), name="new")))
    found = lines(ok)
    assert found["tensorrt_llm"] == "ok" and "1.2.0, as the plan targets" in ok.stdout
    assert found["trtllm-build"] == "ok"  # the stand-in is on PATH
    assert found["modelopt"] == "FAIL" and "help: pip install nvidia-modelopt[torch]" in ok.stdout
    assert "B404 error: modelopt: " in ok.stdout
    assert found["examples"] == "ok" and "quantization/quantize.py (step quantize)" in ok.stdout
    assert found["mpirun"] in {"ok", "warn"}
    old = trtdeploy("doctor", str(compile_folder(Knobs(line="0.12", flow="convert"), name="old")))
    assert lines(old)["tensorrt_llm"] == "FAIL"
    assert "B402 error: tensorrt_llm: 1.2.0 is installed, but the plan targets 0.16.0" in old.stdout
    assert "make -C docker release_build" in old.stdout and "modelopt" not in lines(old)
    with_path(monkeypatch, fake_tools(tmp_path / "fake2", trtllm="1.2.0", modules=("modelopt",)))
    assert lines(trtdeploy("doctor", str(tmp_path / "new")))["modelopt"] == "ok"


def test_examples_scripts_are_checked_where_the_steps_will_look(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRTDEPLOY_EXAMPLES_DIR")
    result = trtdeploy("doctor", str(compile_folder(Knobs(flow="convert"))))
    assert "B405 error: examples: /app/tensorrt_llm/examples/models/core/llama/convert_checkpoint.py does not exist " \
           "(step convert runs it)" in result.stdout
    assert "help: set TRTDEPLOY_EXAMPLES_DIR (or target.examples_dir)" in result.stdout


def test_doctor_json_and_the_disk_estimate(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    result = trtdeploy("doctor", str(compile_folder()), "--format", "json")
    data = json.loads(result.stdout)
    assert data["ok"] is False and result.exit_code == 1
    disk = next(c for c in data["checks"] if c["check"] == "disk")
    assert disk["status"] == "ok" and disk["code"] is None
    gpu = next(c for c in data["checks"] if c["check"] == "gpu")
    assert gpu["status"] == "FAIL" and gpu["code"] == "B407" and gpu["help"]
    assert "checkpoint of quantize 0.0 GiB; full-precision intermediate of quantize (the model's size)" in disk["detail"]
    assert "engine of build" in disk["detail"]


def test_build_runs_doctor_first_and_stops_on_a_failure(host: Host, compile_folder: Callable[..., Path], trtdeploy: Build) -> None:
    folder = compile_folder()
    result = trtdeploy("build", str(folder), "--plain")
    assert result.exit_code == 1
    assert "B407 error: gpu: no NVIDIA GPU seen" in result.stderr
    assert "B412 error: this host cannot run the build (doctor checks above failed)" in result.stderr
    assert "--skip-doctor" in result.stderr
    assert not (folder / "logs").exists()


def test_nvidia_smi_lines() -> None:
    assert _smi_line(H100_LINE) == SeenGpu("NVIDIA H100 80GB HBM3", 81559 << 20, "9.0")
    assert _smi_line("NVIDIA A10, 23028 MiB, 8.6") == SeenGpu("NVIDIA A10", 23028 << 20, "8.6")
    h200 = _smi_line("NVIDIA H200, 143771 MiB, 9.0")  # as printed on an H200 host (driver 5xx)
    h200_facts = find_gpu("H200")
    assert h200 is not None and h200_facts is not None and gpu_matches(h200, h200_facts)
    assert _smi_line("No devices were found") is None
    assert _smi_line("NVIDIA A10, [N/A], 8.6") is None


def test_gpu_matching_uses_compute_capability_and_memory_within_ten_percent() -> None:
    h100, a100 = find_gpu("H100-SXM"), find_gpu("A100-SXM-40GB")
    assert h100 is not None and a100 is not None
    assert gpu_matches(SeenGpu("x", 81559 << 20, "9.0"), h100)
    assert not gpu_matches(SeenGpu("x", 81559 << 20, "8.0"), h100)
    assert not gpu_matches(SeenGpu("x", 97871 << 20, "9.0"), h100)  # an H100 NVL is not an H100 SXM
    assert not gpu_matches(SeenGpu("x", 81920 << 20, "8.0"), a100)  # the 80 GB A100 is not the 40 GB one


def test_install_help_per_release() -> None:
    assert "nvcr.io/nvidia/tensorrt-llm/release:1.2.0" in _install_text("1.2.0")
    assert "pip install tensorrt_llm==1.2.0 --extra-index-url https://pypi.nvidia.com" in _install_text("1.2.0")
    old = _install_text("0.8.0")
    assert "git clone -b v0.8.0 https://github.com/NVIDIA/TensorRT-LLM" in old and "make -C docker release_build" in old


def test_disk_shortage_fails_with_the_parts(tmp_path: Path) -> None:
    needs = HostNeeds(tools=frozenset(), disk_path=tmp_path / "not-yet", disk_parts=(("engine of build", 1 << 60),))
    check = check_disk(needs)
    assert check.status is Status.FAIL and "engine of build 1073741824.0 GiB" in check.detail
    assert check.problem is not None and check.problem.code == "B410"
    assert f"free under {tmp_path}" in check.detail


def test_render_text_prints_findings_for_problems() -> None:
    text = render_text([passed("a", "fine"), flagged("B406", "b", "hmm", "do x", Severity.WARNING)])
    assert text == "ok    a: fine\nB406 warning: b: hmm\n  help: do x\n"


def test_a_missing_mpirun_only_warns(tmp_path: Path) -> None:
    checks = run_checks(HostNeeds(tools=frozenset(), launcher="mpirun"), {"PATH": str(tmp_path)})
    mpirun = next(c for c in checks if c.name == "mpirun")
    assert mpirun.status is Status.WARN and mpirun.problem is not None and mpirun.problem.code == "B406"
    assert "launch/mpirun.sh needs it (the build does not)" in mpirun.detail


def test_a_gpu_outside_the_catalog_is_not_compared(tmp_path: Path) -> None:
    fake = fake_tools(tmp_path / "fake", [H100_LINE])
    checks = check_gpus(HostNeeds(tools=frozenset(), gpu_name="H999"), {"PATH": str(fake)})
    assert checks[0].status is Status.WARN and checks[0].problem is not None and checks[0].problem.code == "B411"
    assert "the plan's GPU 'H999' is not in the catalog" in checks[0].detail
