"""What the stand-ins for TensorRT-LLM's tools share: argv checking, test knobs, and plausible outputs.

A stand-in replaces a GPU-only tool at the process boundary only. It checks its
argv against the package's tool surface (compiler/catalog/tools/<tool>.yaml, through
flagcheck.py) for the exact release in TRTDEPLOY_STANDIN_VERSION (default: the newest
known) and exits 2 naming the flag on anything unknown, absent from that release, or of
the wrong kind or choice; it refuses what the real tool refuses beyond its argv from the
package's release facts (refusals.py); then it writes the tree the real tool writes
(config.json + rank{N}.safetensors, or config.json + rank{N}.engine), with small dummy
bytes derived from its inputs, so equal inputs give byte-equal outputs.

Knobs for tests:
  TRTDEPLOY_STANDIN_FAIL=<tool>            exit 1 with a message (tool: quantize.py, convert_checkpoint.py, trtllm-build)
  TRTDEPLOY_STANDIN_SLEEP=<s> | <tool>:<s> sleep after writing part of the output (all tools, or one), printing
                                           "stand-in <tool>: sleeping" first so a test can wait for it
  TRTDEPLOY_STANDIN_LOG=<file>             append one JSON line {"tool", "argv", "version", "pid"} per invocation
  TRTDEPLOY_STANDIN_SM=<sm>                trtllm-build only: the compute capability the build runs on (e.g. 100),
                                           for the builder's GPU-dependent refusals (refusals.py)
  TRTDEPLOY_STANDIN_MODELOPT=1             quantize.py only: after the argv check, quantize and export for real
                                           with ModelOpt (_modelopt.py) instead of writing dummy files
  TRTDEPLOY_STANDIN_DEVICE=cuda|cpu        that real mode's device when argv has no --device (default: cuda
                                           when torch sees a GPU, else cpu)

The stand-ins run under the test virtualenv's python3 (first on PATH in the tests), so they
import the installed `compiler` package for the facts.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flagcheck import check_argv

from compiler.catalog.tools import Surface, surface
from compiler.versions import Version

Args = dict[str, list[str]]

QFORMAT_ALGO = {"fp8": "FP8", "int8_sq": "W8A8_SQ_PER_CHANNEL", "int4_awq": "W4A16_AWQ", "w4a8_awq": "W4A8_AWQ",
                "int8_wo": "W8A16", "int4_wo": "W4A16", "nvfp4": "NVFP4", "fp8_pc_pt": "FP8_PER_CHANNEL_PER_TOKEN",
                "full_prec": None}
WEIGHT_ONLY_ALGO = {"int8": "W8A16", "int4": "W4A16", "int4_gptq": "W4A16_GPTQ", "int8_gptq": "W8A16_GPTQ",
                    "int4_awq": "W4A16_AWQ"}


class StandinError(Exception):
    """A problem with what the stand-in was given: printed on stderr, exit 2."""


@dataclass(frozen=True)
class Call:
    """One invocation: the parsed flags, the release played and that release's surface of the tool."""

    args: Args
    version: Version
    surface: Surface


def run(tool: str, write: Callable[[Call], None], facts_tool: str | None = None) -> int:
    """The body of every stand-in: log the call, honour the knobs, check argv, write the outputs.

    `facts_tool` names the tool file to check against when it is not `tool` (a family's converter).
    """
    argv = sys.argv[1:]
    _log_call(tool, argv, os.environ.get("TRTDEPLOY_STANDIN_VERSION"))
    if os.environ.get("TRTDEPLOY_STANDIN_FAIL") == tool:
        print(f"stand-in {tool}: failing as asked by TRTDEPLOY_STANDIN_FAIL={tool}", file=sys.stderr)
        return 1
    facts_tool = facts_tool or tool
    args, problems, version = check_argv(facts_tool, argv)
    try:
        if problems or version is None:
            raise StandinError("; ".join(problems))
        print(f"stand-in {tool} (TensorRT-LLM {version}): {len(argv)} arguments checked", flush=True)
        write(Call(args, version, surface(facts_tool, version)))
    except StandinError as exc:
        print(f"stand-in {tool}: error: {exc}", file=sys.stderr)
        return 2
    print(f"stand-in {tool}: done", flush=True)
    return 0


def refuse(problems: list[str]) -> None:
    """Stop as the real tool stops on what it refuses beyond its argv."""
    if problems:
        raise StandinError("; ".join(problems))


def _log_call(tool: str, argv: list[str], version: str | None) -> None:
    path = os.environ.get("TRTDEPLOY_STANDIN_LOG")
    if not path:
        return
    record = json.dumps({"tool": tool, "argv": argv, "version": version, "pid": os.getpid()}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, record.encode())  # one write with O_APPEND: lines of concurrent calls never interleave
    finally:
        os.close(fd)


def maybe_sleep(tool: str) -> None:
    """Sleep mid-way when TRTDEPLOY_STANDIN_SLEEP asks for it (for all tools, or `<tool>:<seconds>`)."""
    value = os.environ.get("TRTDEPLOY_STANDIN_SLEEP", "")
    name, _, seconds = value.rpartition(":")
    if not seconds or (name and name != tool):
        return
    print(f"stand-in {tool}: sleeping {seconds} s", flush=True)
    time.sleep(float(seconds))


def one(args: Args, flag: str, default: str | None = None) -> str | None:
    values = args.get(flag)
    return values[0] if values else default


def integer(args: Args, flag: str, default: int) -> int:
    text = one(args, flag)
    try:
        return default if text is None else int(text)
    except ValueError:
        raise StandinError(f"flag {flag}: {text!r} is not an integer") from None


def output_dir(args: Args, default: str) -> Path:
    path = Path(one(args, "--output_dir", default) or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


def folder_digest(path: Path) -> str:
    """sha256 over the files under `path` (names and bytes), so outputs change when inputs do."""
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    for file in files:
        h.update(file.name.encode() + b"\0" + file.read_bytes())
    return h.hexdigest()


def read_model(model_dir: str | None) -> tuple[dict[str, object], str]:
    """(config.json of a Hugging Face model folder, digest of the folder)."""
    if model_dir is None:
        raise StandinError("--model_dir is required here")
    config = Path(model_dir) / "config.json"
    if not config.is_file():
        raise StandinError(f"--model_dir {model_dir}: no config.json there")
    return json.loads(config.read_text()), folder_digest(Path(model_dir))


def write_ranks(out: Path, config: dict[str, object], suffix: str, seed: str, tool: str) -> None:
    """config.json, then one rank file per rank (sleeping after the first, when asked), all deterministic."""
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
    pretrained = config.get("pretrained_config")
    mapping = config.get("mapping") or (pretrained.get("mapping") if isinstance(pretrained, dict) else None)
    if not isinstance(mapping, dict):
        raise StandinError("internal: the output config has no mapping")
    world = int(mapping["world_size"])
    for rank in range(world):
        payload = hashlib.sha256(f"{seed}/{rank}".encode()).digest() * 4
        (out / f"rank{rank}.{suffix}").write_bytes(payload)
        print(f"stand-in {tool}: wrote rank{rank}.{suffix}", flush=True)
        if rank == 0:
            maybe_sleep(tool)


def mapping(tp: int, pp: int) -> dict[str, int]:
    return {"world_size": tp * pp, "tp_size": tp, "pp_size": pp}


def seed_of(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
