"""The Plan: typed, frozen output of the planner and input of render, run and diff.

A Plan is a list of Steps in dependency order (a DAG: each step names the steps it
reads from) plus the Launch. Arguments are plain strings, or `Var`s that step
scripts define in their preamble (the model folder, the examples folder, the
step's output folder), so that no value is ever spliced into shell text.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from compiler.findings import Finding

if TYPE_CHECKING:  # an annotation only: importing compiler.memory would load the pydantic spec models
    from compiler.memory import MemoryEstimate  # into `trtdeploy build DIR`, which never reads a spec (~90 ms)

PLAN_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Var:
    """A reference to a variable the step script defines: rendered as "${NAME}"suffix, quoted."""

    name: str
    suffix: str = ""

    def __str__(self) -> str:
        return "${" + self.name + "}" + self.suffix


Arg = str | Var

# Variables a step script defines before it runs the tool.
MODEL_DIR = "MODEL_DIR"            # $TRTDEPLOY_MODEL_DIR, else spec model.path
EXAMPLES_DIR = "EXAMPLES_DIR"      # $TRTDEPLOY_EXAMPLES_DIR, else target.examples_dir, else the container's
STEP_OUT = "STEP_OUT"              # set by the runner to a temporary folder, renamed when the step succeeds
BUILD_DIR = "BUILD_DIR"            # the build folder (the scripts' working directory)
HOSTFILE = "HOSTFILE"              # $TRTDEPLOY_HOSTFILE, else launch/hostfile (multi-node mpirun)
MODELOPT_DIR = "MODELOPT_DIR"      # $TRTDEPLOY_MODELOPT_DIR, else build.modelopt_dir: a Model-Optimizer checkout
BENCHMARKS_DIR = "BENCHMARKS_DIR"  # $TRTDEPLOY_BENCHMARKS_DIR, else the release container's benchmarks folder

# The environment variable that overrides each script variable at run time (BUILD_DIR is always $PWD).
VARIABLE_ENV: Mapping[str, str] = {
    MODEL_DIR: "TRTDEPLOY_MODEL_DIR",
    EXAMPLES_DIR: "TRTDEPLOY_EXAMPLES_DIR",
    STEP_OUT: "STEP_OUT",
    HOSTFILE: "TRTDEPLOY_HOSTFILE",
    MODELOPT_DIR: "TRTDEPLOY_MODELOPT_DIR",
    BENCHMARKS_DIR: "TRTDEPLOY_BENCHMARKS_DIR",
}


class Impact(str, enum.Enum):
    """What a change makes run again, cheapest first; a step declares what re-running it costs."""

    NONE = "none"
    RELAUNCH = "relaunch"
    REVERIFY = "reverify"
    REBUILD = "rebuild"
    REQUANTIZE = "requantize"

    @property
    def rank(self) -> int:
        return list(Impact).index(self)


class InputKind(str, enum.Enum):
    MODEL = "model"
    CALIBRATION = "calibration"
    CHECKPOINT = "checkpoint"
    DATASET = "dataset"
    STEP = "step"


@dataclass(frozen=True)
class StepInput:
    """Something a step reads. Files of model/calibration/checkpoint inputs are digested by the runner."""

    kind: InputKind
    path: Arg
    step: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind.value, "path": str(self.path), "step": self.step}


@dataclass(frozen=True)
class Step:
    """One process of the build, with everything that determines its output hashed into `fingerprint`.

    `aspects` are per-aspect hashes (e.g. quant_inputs, build_args) that `diff` uses to
    say why a step re-runs. `capture` names the file of the step's output that receives what
    the tool prints (stdout and stderr), for a tool whose result is only printed.
    """

    id: str
    tool: str
    impact: Impact
    argv: tuple[Arg, ...]
    inputs: tuple[StepInput, ...]
    output: str
    depends_on: tuple[str, ...]
    fingerprint: str
    aspects: Mapping[str, str]
    reason: str
    env: tuple[tuple[str, str], ...] = ()
    script: str | None = None
    capture: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "tool": self.tool,
            "impact": self.impact.value,
            "argv": [str(a) for a in self.argv],
            "inputs": [i.to_json() for i in self.inputs],
            "outputs": [self.output],
            "depends_on": list(self.depends_on),
            "fingerprint": self.fingerprint,
            "aspects": dict(sorted(self.aspects.items())),
            "reason": self.reason,
            "env": dict(self.env),
            "script": self.script,
            "capture": self.capture,
        }


@dataclass(frozen=True)
class Measure:
    """What a verify step measures and how the runner reads it: `reader` parses the file `file` of its output."""

    step: str
    tool: str
    reader: str
    task: str
    file: str

    def to_json(self) -> dict[str, object]:
        return {"step": self.step, "tool": self.tool, "reader": self.reader, "task": self.task, "file": self.file}


@dataclass(frozen=True)
class PlanGate:
    """A gate as the runner evaluates it: `metric` of the figures `step` measured, against `threshold`."""

    name: str
    step: str
    metric: str
    bound: str
    threshold: float
    unit: str
    reason: str

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "step": self.step, "metric": self.metric, "bound": self.bound,
                "threshold": self.threshold, "unit": self.unit, "reason": self.reason}


@dataclass(frozen=True)
class Launch:
    """How what was built is started: one MPI rank per GPU, world size tp x pp."""

    launcher: str
    entrypoint: str
    world_size: int
    nodes: int
    ranks_per_node: int
    hosts: tuple[str, ...]
    argv: tuple[Arg, ...]
    rank_argv: tuple[Arg, ...]
    engine_dir: str
    fingerprint: str
    env_passthrough: tuple[str, ...] = ()
    script: str | None = None
    hostfile: str | None = None
    sbatch: tuple[tuple[str, str], ...] = ()
    aspects: Mapping[str, str] = field(default_factory=dict)
    # Launch files by path -> what renders them: a template's kind ("rank", "mpirun", "sbatch",
    # "hostfile"), or "text" for a file whose whole text is in `contents`.
    files: Mapping[str, str] = field(default_factory=dict)
    contents: Mapping[str, str] = field(default_factory=dict)
    llm_api_options: Mapping[str, object] | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "launcher": self.launcher,
            "files": sorted(self.files),
            "llm_api_options": None if self.llm_api_options is None else dict(self.llm_api_options),
            "entrypoint": self.entrypoint,
            "world_size": self.world_size,
            "nodes": self.nodes,
            "ranks_per_node": self.ranks_per_node,
            "hosts": list(self.hosts),
            "argv": [str(a) for a in self.argv],
            "rank_argv": [str(a) for a in self.rank_argv],
            "engine_dir": self.engine_dir,
            "fingerprint": self.fingerprint,
            "env_passthrough": list(self.env_passthrough),
            "script": self.script,
            "hostfile": self.hostfile,
            "sbatch": [list(option) for option in self.sbatch],
            "aspects": dict(sorted(self.aspects.items())),
        }


@dataclass(frozen=True)
class Decision:
    """A choice the planner made, and why, in one sentence."""

    topic: str
    choice: str
    reason: str


@dataclass(frozen=True)
class Plan:
    name: str
    spec_path: str
    backend: str
    release_version: str
    resolved: Mapping[str, object]
    steps: tuple[Step, ...]
    launch: Launch
    memory: MemoryEstimate
    decisions: tuple[Decision, ...]
    findings: tuple[Finding, ...] = field(default=())
    variables: Mapping[str, str | None] = field(default_factory=dict)
    measures: tuple[Measure, ...] = ()
    gates: tuple[PlanGate, ...] = ()

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def to_json(self) -> dict[str, object]:
        return plan_shape(
            name=self.name, spec=self.spec_path, backend=self.backend, release=self.release_version,
            resolved=self.resolved, findings=self.findings, memory=self.memory.to_json(),
            decisions=[{"topic": d.topic, "choice": d.choice, "reason": d.reason} for d in self.decisions],
            variables={name: {"env": VARIABLE_ENV.get(name), "default": default}
                       for name, default in sorted(self.variables.items())},
            steps=[s.to_json() for s in self.steps], launch=self.launch.to_json(),
            verify={"measures": [m.to_json() for m in self.measures], "gates": [g.to_json() for g in self.gates]}
            if self.measures else None,
        )


def plan_shape(*, name: str | None, spec: str, backend: str | None, release: str | None,
               findings: Sequence[Finding], resolved: Mapping[str, object] | None = None,
               memory: Mapping[str, object] | None = None, decisions: Sequence[object] = (),
               variables: Mapping[str, object] | None = None, steps: Sequence[object] = (),
               launch: Mapping[str, object] | None = None,
               verify: Mapping[str, object] | None = None) -> dict[str, object]:
    """A plan's JSON form; a spec that cannot be planned has the same keys, with its findings and no steps."""
    return {
        "schema_version": PLAN_SCHEMA_VERSION,
        "name": name,
        "spec": spec,
        "backend": backend,
        "tensorrt_llm": None if release is None else {"version": release},
        "resolved": dict(resolved or {}),
        "findings": [f.to_json() for f in findings],
        "memory": memory,
        "decisions": list(decisions),
        "variables": dict(variables or {}),
        "steps": list(steps),
        "launch": launch,
        "verify": verify,
    }


def fingerprint(*parts: object) -> str:
    """A stable sha256 over JSON-serialisable parts (Vars hash as their text)."""
    payload = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def args_text(argv: Sequence[Arg]) -> list[str]:
    return [str(a) for a in argv]
