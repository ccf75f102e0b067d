"""What the verify tools' stand-ins share: the figures they report (test knobs) and the checks of what they run on.

The stand-ins (trtllm-eval, trtllm-bench, mmlu.py, summarize.py, gptSessionBenchmark) check argv against the
package's tool tables for TRTDEPLOY_STANDIN_VERSION, refuse an engine or model folder that is
not there, and print their figures in the real tool's format (the print statements quoted in
compiler/run/measure.py), so the runner's readers and gates are exercised end to end.

Knobs:
  TRTDEPLOY_STANDIN_SCORE=<points> | <task>:<points>,...   accuracy a task scores (default 50.0)
  TRTDEPLOY_STANDIN_TOKENS_PER_S=<float>                   output tokens per second a benchmark measures (default 1000)
  TRTDEPLOY_STANDIN_TTFT_MS=<float>                        trtllm-bench's average time to first token (default 100)
  TRTDEPLOY_STANDIN_OOM=1                                  gptSessionBenchmark: the batch runs out of memory (N/A)
  TRTDEPLOY_STANDIN_SILENT=<tool>                          the tool exits 0 and prints no figures
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import _pytorch_standin as p

DEFAULT_SCORE = 50.0
DEFAULT_TOKENS_PER_S = 1000.0
DEFAULT_TTFT_MS = 100.0


def score(task: str) -> float:
    """The score a task gets: TRTDEPLOY_STANDIN_SCORE as one number, or per task."""
    text = os.environ.get("TRTDEPLOY_STANDIN_SCORE", "").strip()
    if not text:
        return DEFAULT_SCORE
    if ":" not in text:
        return float(text)
    scores = dict(item.split(":", 1) for item in text.split(","))
    return float(scores.get(task, DEFAULT_SCORE))


def knob(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    return float(text) if text else default


def silent(tool: str) -> bool:
    return os.environ.get("TRTDEPLOY_STANDIN_SILENT") == tool


def banner(version: object) -> None:
    """What importing tensorrt_llm prints first (examples/run.py's output at 0.8.0 starts with it)."""
    print(f"[TensorRT-LLM] TensorRT-LLM version: {version}", flush=True)


def engine_config(engine: str | None, flag: str = "--engine_dir") -> dict[str, object]:
    """An engine folder's config.json, as trtllm-build writes it; refused when it is not an engine."""
    if engine is None:
        raise p.Refused(f"{flag} is required here")
    folder = Path(engine)
    if not (folder / "config.json").is_file() or not list(folder.glob("rank*.engine")):
        raise p.Refused(f"{flag} {engine}: not an engine folder (config.json and rank*.engine)")
    config = json.loads((folder / "config.json").read_text())
    return config if isinstance(config, dict) else {}


def mpi_world() -> int:
    return int(os.environ.get("OMPI_COMM_WORLD_SIZE") or os.environ.get("PMI_SIZE") or 1)


def rank() -> int:
    return int(os.environ.get("OMPI_COMM_WORLD_RANK", "0"))


def check_world(config: dict[str, object]) -> None:
    """ModelRunner's assertion: the engine's world size is this run's MPI world size."""
    pretrained = config.get("pretrained_config")
    mapping = pretrained.get("mapping") if isinstance(pretrained, dict) else None
    world = int(mapping.get("world_size", 1)) if isinstance(mapping, dict) else 1
    if world != mpi_world():
        raise p.Refused(f"Engine world size ({world}) != Runtime world size ({mpi_world()})")


def model_folder(path: str | None, flag: str) -> Path:
    """A local Hugging Face folder (the stand-ins never download)."""
    if path is None or not (Path(path) / "config.json").is_file():
        raise p.Refused(f"{flag} {path}: no config.json there (the stand-in reads local folders only)")
    return Path(path)
