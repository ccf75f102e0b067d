"""Test kit for the run stage: small plans built from compiler.plan.model objects, written as build folders.

`write_build_folder` writes plan.json and steps/NN-<id>.sh the way the renderer's
build folder looks (scripts cd to the build folder, define MODEL_DIR, EXAMPLES_DIR
and STEP_OUT, then exec the tool), so the runner is tested without the planner.
The tools are the stand-ins of tests/standins, found through a fake examples
folder and a bin folder put first on PATH.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from compiler.findings import Finding
from compiler.memory import MemoryEstimate
from compiler.plan.model import (
    EXAMPLES_DIR,
    MODEL_DIR,
    STEP_OUT,
    Arg,
    InputKind,
    Launch,
    Plan,
    Step,
    StepInput,
    Impact,
    Var,
    fingerprint,
)

STANDINS = Path(__file__).resolve().parents[1] / "standins"
VERSIONS = {"0.8": "0.8.0", "0.12": "0.16.0", "1.x": "1.2.0"}
CONVERT_PATH = {"0.8": "/llama/convert_checkpoint.py", "0.12": "/llama/convert_checkpoint.py",
                "1.x": "/models/core/llama/convert_checkpoint.py"}


@dataclass(frozen=True)
class Knobs:
    """What a fixture plan depends on; tests change one knob and rewrite the folder."""

    flow: str = "quantize"          # quantize (quantize.py -> build), convert (SmoothQuant convert -> build), gptq_ckpt
    line: str = "1.x"
    tp: int = 2
    max_batch_size: int = 8
    calib_samples: int = 32
    gpu: str = "H100-SXM"


@dataclass(frozen=True)
class Host:
    """Paths of one test's fake host: model, calibration data, GPTQ checkpoint, examples folder, bin folder."""

    model: Path
    calib: Path
    checkpoint: Path
    examples: Path
    bin: Path
    calls: Path


def make_host(base: Path) -> Host:
    model = base / "models" / "tiny-llama"
    model.mkdir(parents=True)
    config = {"architectures": ["LlamaForCausalLM"], "torch_dtype": "float16", "hidden_size": 256,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "intermediate_size": 512, "vocab_size": 1000, "max_position_embeddings": 2048}
    (model / "config.json").write_text(json.dumps(config))
    (model / "model.safetensors").write_bytes(b"weights-v1" * 100)
    (model / ".cache").mkdir()
    (model / ".cache" / "ignored").write_text("dot-folders are not digested")
    # A folder: the form of calibration data every release from 0.11 reads (releases.yaml quantize_calibration_forms).
    calib = base / "data" / "calib"
    calib.mkdir(parents=True)
    (calib / "train.jsonl").write_text('{"text": "hello"}\n' * 4)
    checkpoint = base / "gptq" / "llama-4bit-gs128.safetensors"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"gptq" * 64)
    examples = base / "examples"
    for rel, name in [("quantization/quantize.py", "quantize.py"), ("llama/convert_checkpoint.py", "convert_checkpoint.py"),
                      ("models/core/llama/convert_checkpoint.py", "convert_checkpoint.py")]:
        (examples / rel).parent.mkdir(parents=True, exist_ok=True)
        (examples / rel).symlink_to(STANDINS / name)
    bin_dir = base / "bin"
    bin_dir.mkdir()
    for tool in ("trtllm-build", "trtllm-eval", "trtllm-bench"):
        (bin_dir / tool).symlink_to(STANDINS / tool)
    # A wrapper, not a symlink: exec'ing the interpreter by its own path keeps its virtualenv (and so
    # ModelOpt or torch, for tests that replace a stand-in with the real tool).
    (bin_dir / "python3").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    (bin_dir / "python3").chmod(0o755)
    return Host(model, calib, checkpoint, examples, bin_dir, base / "standin-calls.jsonl")


def host_env(host: Host, line: str = "1.x") -> dict[str, str]:
    """The environment a build runs in: stand-ins first on PATH (playing the line's release), the examples folder, the call log."""
    return {
        "PATH": f"{host.bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "TRTDEPLOY_EXAMPLES_DIR": str(host.examples),
        "TRTDEPLOY_STANDIN_VERSION": VERSIONS[line],
        "TRTDEPLOY_STANDIN_LOG": str(host.calls),
    }


def calls(host: Host) -> list[str]:
    """Tools invoked so far, in order."""
    if not host.calls.exists():
        return []
    return [json.loads(line)["tool"] for line in host.calls.read_text().splitlines() if line.strip()]


# ---------------------------------------------------------------- plans


def _step(step_id: str, tool: str, argv: tuple[Arg, ...], inputs: tuple[StepInput, ...], line: str,
          depends: tuple[str, ...] = (), aspects: Mapping[str, object] | None = None) -> Step:
    argv_text = [str(a) for a in argv]
    fp = fingerprint(step_id, tool, argv_text, [i.to_json() for i in inputs], VERSIONS[line])
    named = {k: fingerprint(v) for k, v in (aspects or {"args": argv_text}).items()}
    impact = Impact.REBUILD if tool == "trtllm-build" else Impact.REQUANTIZE
    return Step(step_id, tool, impact, argv, inputs, f"store/{step_id}-{fp[:16]}", depends, fp, named,
                f"{step_id} for the test")


def _build_step(knobs: Knobs, source: Step) -> Step:
    lengths = ("--max_output_len", "512") if knobs.line == "0.8" else ("--max_seq_len", "1024")
    argv: tuple[Arg, ...] = (
        "trtllm-build", "--checkpoint_dir", source.output, "--output_dir", Var(STEP_OUT),
        "--max_batch_size", str(knobs.max_batch_size), "--max_input_len", "512", *lengths,
        "--gemm_plugin", "float16", "--context_fmha", "enable", "--workers", "1",
    )
    inputs = (StepInput(InputKind.STEP, source.output, source.id),)
    aspects = {"build_args": [str(a) for a in argv[5:]], "checkpoint": source.output}
    return _step("build", "trtllm-build", argv, inputs, knobs.line, (source.id,), aspects)


def _quantize_step(knobs: Knobs, host: Host) -> Step:
    calib: tuple[Arg, ...] = () if knobs.line == "0.8" else ("--calib_dataset", str(host.calib))
    argv: tuple[Arg, ...] = (
        "python3", Var(EXAMPLES_DIR, "/quantization/quantize.py"), "--model_dir", Var(MODEL_DIR),
        "--dtype", "float16", "--qformat", "int4_awq", "--awq_block_size", "128", *calib,
        "--calib_size", str(knobs.calib_samples), "--tp_size", str(knobs.tp), "--pp_size", "1",
        "--output_dir", Var(STEP_OUT),
    )
    inputs = [StepInput(InputKind.MODEL, Var(MODEL_DIR))]
    if calib:
        inputs.append(StepInput(InputKind.CALIBRATION, str(host.calib)))
    aspects = {"quant_inputs": [str(a) for a in argv[4:-2]]}
    return _step("quantize", "quantize.py", argv, tuple(inputs), knobs.line, (), aspects)


def _convert_step(knobs: Knobs, host: Host) -> Step:
    extra: tuple[StepInput, ...]
    if knobs.flow == "gptq_ckpt":
        quant: tuple[Arg, ...] = ("--use_weight_only", "--weight_only_precision", "int4_gptq", "--per_group",
                                  "--group_size", "128", _ckpt_flag(knobs.line), str(host.checkpoint))
        extra = (StepInput(InputKind.CHECKPOINT, str(host.checkpoint)),)
    elif knobs.line == "0.8":  # 0.8's convert_checkpoint calibrates on a dataset of its own choosing
        quant = ("--smoothquant", "0.5", "--per_channel", "--per_token")
        extra = ()
    else:
        quant = ("--smoothquant", "0.5", "--per_channel", "--per_token",
                 "--calib_dataset", str(host.calib), "--calib_size", str(knobs.calib_samples))
        extra = (StepInput(InputKind.CALIBRATION, str(host.calib)),)
    argv: tuple[Arg, ...] = (
        "python3", Var(EXAMPLES_DIR, CONVERT_PATH[knobs.line]), "--model_dir", Var(MODEL_DIR), "--dtype", "float16",
        "--tp_size", str(knobs.tp), "--pp_size", "1", *quant, "--output_dir", Var(STEP_OUT),
    )
    inputs = (StepInput(InputKind.MODEL, Var(MODEL_DIR)), *extra)
    return _step("convert", "convert_checkpoint.py", argv, inputs, knobs.line, (), {"quant_inputs": [str(a) for a in argv[4:-2]]})


def _ckpt_flag(line: str) -> str:
    return "--ammo_quant_ckpt_path" if line == "0.8" else "--quant_ckpt_path"


def make_plan(knobs: Knobs, host: Host) -> Plan:
    first = _quantize_step(knobs, host) if knobs.flow == "quantize" else _convert_step(knobs, host)
    build = _build_step(knobs, first)
    launch = Launch("mpirun", "run", knobs.tp, 1, knobs.tp, (), ("mpirun", "-n", str(knobs.tp)), (),
                    build.output, fingerprint("launch", knobs.tp))
    memory = MemoryEstimate(80 << 30, 1 << 20, 1 << 20, 1 << 20, 4 << 20)
    # The planner's shapes (compiler.plan.planner.resolved_summary and _variables).
    resolved = {"model": {"dir": str(host.model)}, "gpu": {"id": knobs.gpu}, "build_gpu": {"id": knobs.gpu, "gpus": 8},
                "world_size": knobs.tp, "examples_dir": "/app/tensorrt_llm/examples"}
    variables = {MODEL_DIR: str(host.model), EXAMPLES_DIR: "/app/tensorrt_llm/examples"}
    findings: tuple[Finding, ...] = ()
    return Plan("tiny", "spec.yaml", "tensorrt", VERSIONS[knobs.line], resolved, (first, build), launch, memory, (),
                findings, variables)


def write_spec(host: Host, path: Path, fmt: str = "fp8", version: str = "1.2.0", gpu: str = "H100-SXM", tp: int = 2,
               batch: int = 4, samples: int = 32, dataset: Path | None = None) -> Path:
    """A spec of this host's tiny model for the engine path, for the real planner and renderer (`trtdeploy build SPEC`)."""
    quant = {"fp8": ["format: fp8", "kv_cache: fp8"], "int8_sq": ["format: int8_sq"], "none": ["format: none"],
             "gptq_ckpt": ["format: int4_gptq", f"checkpoint: {host.checkpoint}"]}[fmt]
    if fmt in {"fp8", "int8_sq"}:
        quant += ["calibration:", f"  dataset: {dataset or host.calib}", f"  samples: {samples}"]
    lines = [
        f"name: tiny-{fmt.replace('_', '-')}",
        "model:", f"  path: {host.model}",
        "quantization:", *(f"  {line}" for line in quant),
        "parallelism:", f"  tp: {tp}",
        "limits:", f"  max_batch_size: {batch}", "  max_input_len: 256", "  max_output_len: 256",
        "target:", f"  gpu: {gpu}", "  gpus_per_node: 2", f'  tensorrt_llm: "{version}"',
        "  backend: tensorrt",  # these stand-ins play the engine path's tools
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------- the build folder


def _shell_arg(arg: Arg) -> str:
    if isinstance(arg, Var):
        return f'"${{{arg.name}}}"' + (shlex.quote(arg.suffix) if arg.suffix else "")
    return shlex.quote(arg)


def step_script(step: Step, plan: Plan) -> str:
    model = str(plan.variables[MODEL_DIR])
    return "\n".join([
        "#!/usr/bin/env bash",
        f"# {step.id}: {step.reason}",
        "set -euo pipefail",
        'cd "$(dirname "$0")/.."',
        f'MODEL_DIR="${{TRTDEPLOY_MODEL_DIR:-{model}}}"',
        'EXAMPLES_DIR="${TRTDEPLOY_EXAMPLES_DIR:-/app/tensorrt_llm/examples}"',
        f'STEP_OUT="${{STEP_OUT:-{step.output}}}"',
        'mkdir -p "$STEP_OUT"',
        "exec " + " ".join(_shell_arg(a) for a in step.argv),
        "",
    ])


def write_build_folder(plan: Plan, root: Path) -> Path:
    """plan.json and steps/NN-<id>.sh, replacing those of an earlier compile (store/, logs/ are kept)."""
    steps = root / "steps"
    steps.mkdir(parents=True, exist_ok=True)
    for old in steps.glob("*.sh"):
        old.unlink()
    (root / "plan.json").write_text(json.dumps(plan.to_json(), indent=2, default=str))
    for index, step in enumerate(plan.steps, start=1):
        (steps / f"{index:02d}-{step.id}.sh").write_text(step_script(step, plan))
    return root


def tree(folder: Path) -> dict[str, bytes]:
    """Every non-dot file under a folder by relative path, with its bytes (to compare builds)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)}


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under a folder with (size, mtime_ns): to check that nothing was written."""
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in sorted(folder.rglob("*"))}
