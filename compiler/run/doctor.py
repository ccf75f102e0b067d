"""Preflight checks of this host for a plan: tools and their release, the examples folder, GPUs, disk.

Only the tools the plan's steps use are checked. Anything that might crash or
hang (importing tensorrt_llm, which needs CUDA) runs in a subprocess with a
timeout, never in this process. Each check is one line `ok|FAIL|warn  <check>:
<detail>` with a `help:` saying what to install or change. Checks never raise.
"""

from __future__ import annotations

import enum
import importlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.catalog import GpuFacts, find_gpu
from compiler.findings import Finding, Severity
from compiler.run.errors import finding_text
from compiler.run.plandoc import BuildPlan, PathVars, RunStep, path_vars, resolved_text
from compiler.run.store import Store
from compiler.versions import Version, VersionError, parse_version

GIB = 1 << 30
IMPORT_TIMEOUT_S = 180.0  # importing tensorrt_llm loads CUDA, TensorRT and torch: tens of seconds is normal
PROBE_TIMEOUT_S = 60.0
NVIDIA_SMI_TIMEOUT_S = 30.0
MEMORY_TOLERANCE = 0.10
PIP_INDEX = "--extra-index-url https://pypi.nvidia.com"
_EXAMPLES_ARG = re.compile(r"^\$\{EXAMPLES_DIR\}(/.+)$")
TRTLLM_NOT_IMPORTABLE = "B401"
RELEASE_MISMATCH = "B402"
TRTLLM_BUILD_MISSING = "B403"
MODULE_MISSING = "B404"
EXAMPLES_MISSING = "B405"
MPIRUN_MISSING = "B406"
GPU_NOT_SEEN = "B407"
GPU_MISMATCH = "B408"
GPU_COUNT_SHORT = "B409"
DISK_SHORT = "B410"
GPU_NOT_IN_CATALOG = "B411"


class Status(str, enum.Enum):
    OK = "ok"
    FAIL = "FAIL"
    WARN = "warn"


@dataclass(frozen=True)
class Check:
    """One check of the host: its name, what was found, and `problem` when it failed or warns."""

    name: str
    detail: str
    problem: Finding | None = None

    @property
    def status(self) -> Status:
        if self.problem is None:
            return Status.OK
        return Status.FAIL if self.problem.severity is Severity.ERROR else Status.WARN

    def to_json(self) -> dict[str, str | None]:
        problem = self.problem
        return {"status": self.status.value, "check": self.name, "detail": self.detail,
                "help": problem.hint if problem else "", "code": problem.code if problem else None}


def passed(name: str, detail: str) -> Check:
    return Check(name, detail)


def flagged(code: str, name: str, detail: str, hint: str, severity: Severity = Severity.ERROR) -> Check:
    """A check that failed (or, with severity warning, warns): its finding says `<name>: <detail>` and the fix."""
    return Check(name, detail, Finding(code, severity, f"{name}: {detail}", hint))


@dataclass(frozen=True)
class HostNeeds:
    """What a plan needs from the build host. Without a plan (`trtdeploy doctor` alone) only the basics."""

    tools: frozenset[str]
    release_version: str | None = None
    scripts: tuple[tuple[str, Path], ...] = ()
    gpu: GpuFacts | None = None
    gpu_name: str | None = None
    gpus_needed: int = 1
    launcher: str | None = None
    disk_path: Path | None = None
    disk_parts: tuple[tuple[str, int], ...] = field(default=())


@dataclass(frozen=True)
class SeenGpu:
    name: str
    memory_bytes: int
    compute_capability: str


# ---------------------------------------------------------------- what a plan needs


def needs_from_plan(plan: BuildPlan, environ: Mapping[str, str] | None = None) -> HostNeeds:
    """Tools, scripts, GPU and disk the plan's steps need (disk: only for steps not built yet)."""
    variables = path_vars(plan, environ)
    store = Store(plan.root)
    pending = [s for s in plan.steps if store.record(s) is None]
    gpu_name = resolved_text(plan.resolved, ("build_gpu", "id"), ("gpu", "id"))
    world = (plan.launch.world_size if plan.launch else None) or _resolved_int(plan.resolved, ("world_size",)) or 1
    build_gpus = _resolved_int(plan.resolved, ("build_gpu", "gpus"))
    return HostNeeds(
        tools=frozenset(s.tool for s in plan.steps),
        release_version=plan.release_version or None,
        scripts=tuple(_scripts(plan, variables)),
        gpu=find_gpu(gpu_name) if gpu_name else None,
        gpu_name=gpu_name,
        gpus_needed=min(world, build_gpus) if build_gpus else world,
        launcher=plan.launch.launcher if plan.launch else None,
        disk_path=plan.root,
        disk_parts=tuple(_disk_parts(plan, pending, variables)),
    )


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _resolved_int(resolved: Mapping[str, Any], *keys: tuple[str, ...]) -> int | None:
    for key in keys:
        node: Any = resolved
        for part in key:
            node = node.get(part) if isinstance(node, Mapping) else None
        if _int(node):
            return int(node)
    return None


def _scripts(plan: BuildPlan, variables: PathVars) -> Iterable[tuple[str, Path]]:
    """(step id, path) of each examples script a step runs, e.g. ${EXAMPLES_DIR}/quantization/quantize.py."""
    seen: set[str] = set()
    for step in plan.steps:
        for arg in step.argv:
            match = _EXAMPLES_ARG.match(arg)
            if match and arg.endswith(".py") and arg not in seen:
                seen.add(arg)
                yield step.id, variables.path(arg, plan.root)


def _disk_parts(plan: BuildPlan, pending: list[RunStep], variables: PathVars) -> Iterable[tuple[str, int]]:
    weights = plan.memory.total_weights_bytes if plan.memory else 0
    for step in pending:
        if step.document.impact == "reverify":  # a verify step keeps what its tool prints, no weights
            continue
        if step.tool == "trtllm-build":
            yield f"engine of {step.id}", weights
        else:
            yield f"checkpoint of {step.id}", weights
        if step.tool in {"quantize.py", "gptqmodel"}:
            model = variables.values.get("MODEL_DIR")
            size = _folder_bytes(variables.path(model, plan.root)) if model else 0
            if size:
                yield f"full-precision intermediate of {step.id} (the model's size)", size


def _folder_bytes(path: Path) -> int:
    try:
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    except OSError:
        return 0


def basic_needs() -> HostNeeds:
    """`trtdeploy doctor` without a spec: TensorRT-LLM of any line, trtllm-build, and at least one GPU."""
    return HostNeeds(tools=frozenset({"trtllm-build"}))


# ---------------------------------------------------------------- the checks


def run_checks(needs: HostNeeds, environ: Mapping[str, str] | None = None) -> list[Check]:
    """Every check the needs call for, in a fixed order."""
    env = dict(os.environ if environ is None else environ)
    checks: list[Check] = []
    uses_trtllm = bool(needs.tools & {"quantize.py", "convert_checkpoint.py", "trtllm-build"})
    if uses_trtllm:
        checks.append(check_tensorrt_llm(needs, env))
    if "trtllm-build" in needs.tools:
        checks.append(check_on_path("trtllm-build", env, _trtllm_help(needs), TRTLLM_BUILD_MISSING))
    modules = _python_modules(needs)
    if modules:
        checks += check_modules(modules, env, needs)
    checks += [check_script(step, path, needs) for step, path in needs.scripts]
    if needs.launcher == "mpirun":
        found = check_on_path("mpirun", env, "apt-get install openmpi-bin (the release containers have it)", MPIRUN_MISSING)
        if found.problem is not None:
            found = flagged(MPIRUN_MISSING, "mpirun", found.detail + "; launch/mpirun.sh needs it (the build does not)",
                            found.problem.hint, Severity.WARNING)
        checks.append(found)
    checks += check_gpus(needs, env)
    if needs.disk_path is not None:
        checks.append(check_disk(needs))
    return checks


# NGC publishes release containers from 1.0 on; older releases build theirs from the tag.
FIRST_RELEASE_CONTAINER = Version(1, 0)
# 0.8 and 0.9 shipped ModelOpt under its old name, AMMO.
FIRST_MODELOPT_NAME = Version(0, 10)


def _exact(version: str | None) -> Version | None:
    try:
        return parse_version(version) if version else None
    except VersionError:
        return None


def _install_text(version: str | None) -> str:
    """How to get TensorRT-LLM of a release: NGC container for 1.x, built from the tag for 0.x, or pip."""
    if not version:
        return f"use an NVIDIA TensorRT-LLM release container, or pip install tensorrt_llm {PIP_INDEX}"
    pip = f"pip install tensorrt_llm=={version} {PIP_INDEX}"
    exact = _exact(version)
    if exact is not None and exact >= FIRST_RELEASE_CONTAINER:
        return f"run in the container nvcr.io/nvidia/tensorrt-llm/release:{version}, or {pip}"
    return (f"build its container from the tag (git clone -b v{version} https://github.com/NVIDIA/TensorRT-LLM; "
            f"git submodule update --init; git lfs pull; make -C docker release_build), or {pip}")


def _trtllm_help(needs: HostNeeds) -> str:
    return f"it comes with the tensorrt_llm package: {_install_text(needs.release_version)}"


def _python(env: Mapping[str, str]) -> str | None:
    """The python3 the step scripts will run (the first on PATH), not this process's interpreter."""
    return shutil.which("python3", path=env.get("PATH", ""))


def check_tensorrt_llm(needs: HostNeeds, env: Mapping[str, str]) -> Check:
    python = _python(env)
    install = _install_text(needs.release_version)
    if python is None:
        return flagged(TRTLLM_NOT_IMPORTABLE, "tensorrt_llm", "python3 is not on PATH", install)
    code = "import tensorrt_llm; print(tensorrt_llm.__version__)"
    try:
        proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=IMPORT_TIMEOUT_S, env=dict(env))
    except subprocess.TimeoutExpired:
        return flagged(TRTLLM_NOT_IMPORTABLE, "tensorrt_llm", f"`import tensorrt_llm` did not finish in {IMPORT_TIMEOUT_S:.0f} s",
                       "check the CUDA driver and that the GPU is not hung (nvidia-smi)")
    except OSError as exc:
        return flagged(TRTLLM_NOT_IMPORTABLE, "tensorrt_llm", f"cannot run {python}: {exc}", install)
    if proc.returncode != 0:
        last = _last_line(proc.stderr) or f"exit {proc.returncode}"
        return flagged(TRTLLM_NOT_IMPORTABLE, "tensorrt_llm", f"{python} cannot import tensorrt_llm: {last}", install)
    return _version_check(_last_line(proc.stdout), needs, python)


def _version_check(version: str, needs: HostNeeds, python: str) -> Check:
    """The installed release must be the one planned: flags and defaults are facts of the exact release."""
    if not needs.release_version:
        return passed("tensorrt_llm", f"{version} ({python})")
    installed, planned = _exact(version), _exact(needs.release_version)
    if installed is not None and installed == planned:
        return passed("tensorrt_llm", f"{version}, as the plan targets ({python})")
    return flagged(RELEASE_MISMATCH, "tensorrt_llm", f"{version} is installed, but the plan targets {needs.release_version}",
                   f"{_install_text(needs.release_version)}; or set target.tensorrt_llm: {version} "
                   "in the spec and recompile")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def check_on_path(command: str, env: Mapping[str, str], help_text: str, code: str) -> Check:
    found = shutil.which(command, path=env.get("PATH", ""))
    if found:
        return passed(command, found)
    return flagged(code, command, f"{command} is not on PATH", help_text)


def _python_modules(needs: HostNeeds) -> dict[str, tuple[tuple[str, ...], str]]:
    """check name -> (modules any of which will do, install help)."""
    modules: dict[str, tuple[tuple[str, ...], str]] = {}
    if "quantize.py" in needs.tools:
        planned = _exact(needs.release_version)
        if planned is not None and planned < FIRST_MODELOPT_NAME:
            modules["modelopt"] = (("modelopt", "ammo"), "pip install -r $EXAMPLES_DIR/quantization/requirements.txt "
                                   "(nvidia-ammo for 0.8/0.9, nvidia-modelopt[torch] for 0.10)")
        else:
            modules["modelopt"] = (("modelopt",), "pip install nvidia-modelopt[torch]")
    if "gptqmodel" in needs.tools:
        modules["gptqmodel"] = (("gptqmodel",), "pip install gptqmodel")
    return modules


def check_modules(modules: Mapping[str, tuple[tuple[str, ...], str]], env: Mapping[str, str], needs: HostNeeds) -> list[Check]:
    """Whether python3 finds each module, in one subprocess (importlib.util.find_spec: no import, cheap)."""
    python = _python(env)
    wanted = sorted({m for names, _ in modules.values() for m in names})
    code = ("import importlib.util, json, sys; "
            "print(json.dumps({m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]}))")
    try:
        if python is None:
            raise OSError("python3 is not on PATH")
        proc = subprocess.run([python, "-c", code, *wanted], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, env=dict(env))
        found: dict[str, bool] = json.loads(_last_line(proc.stdout) or "{}")
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        return [flagged(MODULE_MISSING, name, f"cannot ask python3 for {name}: {exc}", help_text)
                for name, (_, help_text) in modules.items()]
    checks = []
    for name, (names, help_text) in modules.items():
        present = [m for m in names if found.get(m)]
        if present:
            checks.append(passed(name, f"{present[0]} importable by {python}"))
        else:
            checks.append(flagged(MODULE_MISSING, name, f"{python} cannot import {' or '.join(names)}", help_text))
    return checks


def check_script(step: str, path: Path, needs: HostNeeds) -> Check:
    if path.is_file():
        return passed("examples", f"{path} (step {step})")
    version = needs.release_version or "<version>"
    return flagged(EXAMPLES_MISSING, "examples", f"{path} does not exist (step {step} runs it)",
                   f"set TRTDEPLOY_EXAMPLES_DIR (or target.examples_dir) to the examples/ folder of TensorRT-LLM {version}: "
                 f"git clone -b v{version} https://github.com/NVIDIA/TensorRT-LLM")


# ---------------------------------------------------------------- GPUs


def seen_gpus(env: Mapping[str, str]) -> tuple[list[SeenGpu], str]:
    """The GPUs of this host and where they were read, or ([], why none were seen)."""
    gpus, nvml_error = _nvml_gpus()
    if gpus:
        return gpus, "NVML"
    smi = shutil.which("nvidia-smi", path=env.get("PATH", ""))
    if smi is None:
        return [], f"NVML: {nvml_error}; nvidia-smi is not on PATH"
    query = [smi, "--query-gpu=name,memory.total,compute_cap", "--format=csv,noheader"]
    try:
        proc = subprocess.run(query, capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [], f"NVML: {nvml_error}; nvidia-smi failed: {exc}"
    if proc.returncode != 0:
        return [], f"NVML: {nvml_error}; nvidia-smi: {_last_line(proc.stdout + proc.stderr) or f'exit {proc.returncode}'}"
    return [g for g in (_smi_line(line) for line in proc.stdout.splitlines()) if g], "nvidia-smi"


def _nvml_gpus() -> tuple[list[SeenGpu], str]:
    try:
        pynvml: Any = importlib.import_module("pynvml")  # nvidia-ml-py; optional, untyped
    except ImportError:
        return [], "nvidia-ml-py is not installed"
    try:
        pynvml.nvmlInit()
        try:
            return [_nvml_gpu(pynvml, i) for i in range(pynvml.nvmlDeviceGetCount())], ""
        finally:
            pynvml.nvmlShutdown()
    except Exception as exc:  # NVML raises its own error types for a missing driver; any of them means "not seen"
        return [], str(exc) or type(exc).__name__


def _nvml_gpu(pynvml: Any, index: int) -> SeenGpu:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    name = pynvml.nvmlDeviceGetName(handle)
    major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
    total = pynvml.nvmlDeviceGetMemoryInfo(handle).total
    return SeenGpu(name.decode() if isinstance(name, bytes) else str(name), int(total), f"{major}.{minor}")


_UNITS = {"mib": 1 << 20, "gib": 1 << 30, "kib": 1 << 10, "mb": 10**6, "gb": 10**9, "b": 1}


def _smi_line(line: str) -> SeenGpu | None:
    """'NVIDIA H100 80GB HBM3, 81559 MiB, 9.0' -> SeenGpu; None for anything else."""
    parts = [p.strip() for p in line.split(",")]
    if len(parts) != 3:
        return None
    match = re.match(r"^([\d.]+)\s*([A-Za-z]*)$", parts[1])
    if not match or not re.match(r"^\d+\.\d+$", parts[2]):
        return None
    unit = _UNITS.get(match.group(2).lower() or "mib", 1 << 20)
    return SeenGpu(parts[0], int(float(match.group(1)) * unit), parts[2])


def gpu_matches(seen: SeenGpu, gpu: GpuFacts) -> bool:
    """Same compute capability, and memory within 10% of the catalog's."""
    same_cc = float(seen.compute_capability) == float(gpu.compute_capability)
    return same_cc and abs(seen.memory_bytes - gpu.memory_bytes) <= MEMORY_TOLERANCE * gpu.memory_bytes


def _describe(seen: SeenGpu) -> str:
    return f"{seen.name} ({seen.memory_bytes / GIB:.0f} GiB, compute {seen.compute_capability})"


def check_gpus(needs: HostNeeds, env: Mapping[str, str]) -> list[Check]:
    gpus, source = seen_gpus(env)
    want = f"{needs.gpus_needed} x {needs.gpu.name}" if needs.gpu else f"{needs.gpus_needed} NVIDIA GPU(s)"
    if not gpus:
        return [flagged(GPU_NOT_SEEN, "gpu", f"no NVIDIA GPU seen ({source})",
                        f"run the build on a host with {want} and the NVIDIA driver (nvidia-smi must list them)")]
    visible = _visible(gpus, env)
    kinds = sorted({_describe(g) for g in visible})
    checks = []
    if needs.gpu is None:
        detail = f"{len(visible)} seen via {source}: {', '.join(kinds)}"
        if needs.gpu_name:
            checks.append(flagged(GPU_NOT_IN_CATALOG, "gpu", detail + f"; the plan's GPU '{needs.gpu_name}' is not in "
                                  "the catalog, so it was not compared", "check by hand that these are the plan's GPUs",
                                  Severity.WARNING))
        else:
            checks.append(passed("gpu", detail))
        matching = visible
    else:
        matching = [g for g in visible if gpu_matches(g, needs.gpu)]
        target = f"{needs.gpu.name} ({needs.gpu.memory_gib:.0f} GiB, compute {needs.gpu.compute_capability})"
        if matching:
            checks.append(passed("gpu", f"{_describe(matching[0])} via {source} matches {target}"))
        else:
            checks.append(flagged(GPU_MISMATCH, "gpu", f"this host has {', '.join(kinds)} (via {source}); the plan targets {target}",
                                  f"build on a host with {needs.gpu.name} GPUs (an engine runs only on the GPU model it was "
                                  "built for), or change target.gpu / build.gpu in the spec and recompile"))
            return checks
    checks.append(_count_check(len(matching), needs, env))
    return checks


def _visible(gpus: list[SeenGpu], env: Mapping[str, str]) -> list[SeenGpu]:
    """The GPUs CUDA_VISIBLE_DEVICES leaves (by count: its entries may be indexes or UUIDs)."""
    value = env.get("CUDA_VISIBLE_DEVICES")
    if value is None or value.strip() == "":
        return gpus if value is None else []
    return gpus[: len([v for v in value.split(",") if v.strip()])]


def _count_check(count: int, needs: HostNeeds, env: Mapping[str, str]) -> Check:
    if count >= needs.gpus_needed:
        return passed("gpu count", f"{count} usable, {needs.gpus_needed} needed (tp x pp, capped by build.gpus)")
    hint = "build on a host with more GPUs, or set build.gpus in the spec to the GPUs this host has and recompile"
    if env.get("CUDA_VISIBLE_DEVICES"):
        hint = "CUDA_VISIBLE_DEVICES hides some GPUs; unset it, or " + hint
    return flagged(GPU_COUNT_SHORT, "gpu count", f"{count} usable, {needs.gpus_needed} needed (tp x pp, capped by build.gpus)", hint)


# ---------------------------------------------------------------- disk


def check_disk(needs: HostNeeds) -> Check:
    assert needs.disk_path is not None
    need = sum(size for _, size in needs.disk_parts)
    where = _existing(needs.disk_path)
    free = shutil.disk_usage(where).free
    parts = "; ".join(f"{name} {size / GIB:.1f} GiB" for name, size in needs.disk_parts) or "every step is built"
    detail = f"{free / GIB:.1f} GiB free under {where}, about {need / GIB:.1f} GiB needed ({parts})"
    if free >= need:
        return passed("disk", detail)
    return flagged(DISK_SHORT, "disk", detail,
                   "free space there, or compile to a folder on a larger disk (`trtdeploy build SPEC -o DIR`); "
                 "`trtdeploy build DIR --clean` removes store folders the plan no longer uses")


def _existing(path: Path) -> Path:
    path = path.resolve()
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def failed(checks: Iterable[Check]) -> bool:
    return any(c.status is Status.FAIL for c in checks)


def render_text(checks: list[Check]) -> str:
    """`ok    <check>: <detail>` for a check that passed; its finding (code, severity, message, help) otherwise."""
    return "".join(finding_text(c.problem) if c.problem else f"ok    {c.name}: {c.detail}\n" for c in checks)


def render_json(checks: list[Check]) -> str:
    return json.dumps({"ok": not failed(checks), "checks": [c.to_json() for c in checks]}, indent=2) + "\n"
