"""results.json: what a build's verify steps measured, and each gate's verdict, as a typed document.

`trtdeploy build` writes DIR/results.json after its steps (compiler/run/verify.py); `status`
shows it; `diff` puts it beside both sides' gates; a spec's `verify.accuracy[].baseline` may
name another build's results.json, whose score for the same task becomes the baseline
(`baseline_scores`). This module imports only pydantic: the runner reads it without the spec
models, and resolve reads baselines without the run stage.

    {"schema_version": 1, "name": ..., "tensorrt_llm": "1.2.0", "backend": "pytorch", "passed": false,
     "gates": [{"name": "mmlu.min_score", "step": "verify-mmlu", "metric": "score", "value": 44.9,
                "threshold": 45.0, "bound": "min", "unit": "points", "margin": -0.1, "passed": false, "reason": ...}],
     "measured": [{"step": "verify-mmlu", "fingerprint": ..., "tool": "trtllm-eval", "tool_version": "1.2.0",
                   "task": "mmlu", "figures": {"score": 44.9, "samples": 14042}, "output": "store/.../output.log"}],
     "missing": [{"step": "verify-throughput", "why": "not built"}]}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

RESULTS_FILE = "results.json"
RESULTS_SCHEMA_VERSION = 1
MAX_RESULTS_BYTES = 4 << 20


class ResultsModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GateResult(ResultsModel):
    """One gate's verdict: `margin` is how far the value is on the passing side (negative: by how much it failed)."""

    name: str
    step: str
    metric: str
    value: float | None = Field(description="the measured value; null when the step has no result")
    threshold: float
    bound: Literal["min", "max"]
    unit: str
    margin: float | None
    passed: bool
    reason: str = ""


class Measured(ResultsModel):
    """What one verify step measured, read from its kept output."""

    step: str
    fingerprint: str
    tool: str
    tool_version: str | None = Field(description="the release the tool printed, when it prints one")
    task: str
    figures: dict[str, float]
    output: str


class Missing(ResultsModel):
    step: str
    why: str


class Results(ResultsModel):
    """DIR/results.json."""

    model_config = ConfigDict(title="trtdeploy results.json")

    schema_version: Literal[1]
    name: str
    spec: str = ""
    tensorrt_llm: str
    backend: str
    passed: bool = Field(description="every gate passed (and none lacks a measurement)")
    gates: tuple[GateResult, ...] = ()
    measured: tuple[Measured, ...] = ()
    missing: tuple[Missing, ...] = ()

    def failed(self) -> tuple[GateResult, ...]:
        return tuple(g for g in self.gates if not g.passed)


def margin(value: float, threshold: float, bound: str) -> float:
    """How far `value` is on the passing side of `threshold` (negative: the shortfall)."""
    return value - threshold if bound == "min" else threshold - value


def results_text(results: Results) -> str:
    return json.dumps(results.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


class ResultsError(ValueError):
    """A results.json that cannot be read: missing, too large, not JSON, or not this format."""


def read_results(path: Path) -> Results:
    """Read and check a results.json.

    Raises:
        ResultsError: with a message that says why it cannot be used.
    """
    try:
        if path.stat().st_size > MAX_RESULTS_BYTES:
            raise ResultsError(f"{path} is larger than {MAX_RESULTS_BYTES >> 20} MiB")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return Results.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "the document"
        raise ResultsError(f"{path} is not a trtdeploy results.json ({where}: {first['msg']})") from None


def baseline_scores(results: Results) -> Mapping[str, float]:
    """Each accuracy task's score in a results.json, by task (what `baseline: <file>` counts from)."""
    return {m.task: m.figures["score"] for m in results.measured if "score" in m.figures}
