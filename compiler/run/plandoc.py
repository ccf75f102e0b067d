"""Reads a build folder's plan.json into the runner's view of it, and resolves `${VAR}` paths like the scripts.

`trtdeploy build DIR` runs plan.json as it is (it may come from another machine or an
older compile), so the runner works from this document, never from a fresh plan. The
document's shape and its checks as a whole are compiler/plan/document.py's, shared with
the writer; this module adds what the runner derives from it (each step's position, its
script and log paths, the graph of steps) and turns every problem into a finding.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.findings import Location
from compiler.plan.document import (
    PLAN_FILE,
    DocumentError,
    LaunchDocument,
    MemoryDocument,
    PlanDocument,
    StepDocument,
    StepInputDocument,
    VariableDocument,
    read_document,
)
from compiler.plan.model import BUILD_DIR, EXAMPLES_DIR, MODEL_DIR, STEP_OUT, VARIABLE_ENV
from compiler.run.errors import BuildError

# Where TensorRT-LLM's examples live in NVIDIA's release containers, when neither the
# environment nor the spec says otherwise (the scripts use the same default).
DEFAULT_EXAMPLES_DIR = "/app/tensorrt_llm/examples"
MODEL_DIR_ENV = "TRTDEPLOY_MODEL_DIR"
EXAMPLES_DIR_ENV = "TRTDEPLOY_EXAMPLES_DIR"
PLAN_MISSING = "B101"
PLAN_UNREADABLE = "B102"
VARIABLE_UNAVAILABLE = "B207"

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# The only ${NAME}s the planner writes into input paths; any other ${...} is part of a literal path
# (a calibration file or checkpoint folder whose name holds "${HOME}", say).
PLAN_VARIABLES = frozenset({BUILD_DIR, *VARIABLE_ENV})
# Inputs whose files are digested into the run key; step outputs are tracked by their completion records.
DIGESTED_KINDS = frozenset({"model", "calibration", "checkpoint", "dataset"})


@dataclass(frozen=True)
class RunStep:
    """One step of plan.json, with what the runner derives from its 1-based position `index`."""

    index: int
    document: StepDocument

    @property
    def id(self) -> str:
        return self.document.id

    @property
    def tool(self) -> str:
        return self.document.tool

    @property
    def argv(self) -> tuple[str, ...]:
        return self.document.argv

    @property
    def inputs(self) -> tuple[StepInputDocument, ...]:
        return self.document.inputs

    @property
    def output(self) -> str:
        """store/<id>-<fp16>: the one folder the step's output is promoted to."""
        return self.document.outputs[0]

    @property
    def depends_on(self) -> tuple[str, ...]:
        return self.document.depends_on

    @property
    def fingerprint(self) -> str:
        return self.document.fingerprint

    @property
    def aspects(self) -> Mapping[str, str]:
        return self.document.aspects

    @property
    def script(self) -> str:
        """steps/NN-<id>.sh: as plan.json names it, else from the step's position."""
        return self.document.script or f"steps/{self.index:02d}-{self.id}.sh"

    @property
    def log(self) -> str:
        return f"logs/{self.index:02d}-{self.id}.log"


@dataclass(frozen=True)
class BuildPlan:
    """plan.json as the runner needs it: the document, where it lives, and its steps in order."""

    root: Path
    document: PlanDocument
    steps: tuple[RunStep, ...]

    @property
    def name(self) -> str:
        return self.document.name

    @property
    def release_version(self) -> str:
        return self.document.tensorrt_llm.version

    @property
    def resolved(self) -> Mapping[str, Any]:
        return self.document.resolved

    @property
    def memory(self) -> MemoryDocument | None:
        return self.document.memory

    @property
    def launch(self) -> LaunchDocument | None:
        return self.document.launch

    @property
    def variables(self) -> Mapping[str, VariableDocument]:
        return self.document.variables

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.steps]

    def step(self, step_id: str) -> RunStep:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def dependents(self, step_id: str) -> list[str]:
        """Steps that read `step_id`'s output, directly or through others, in plan order."""
        found = {step_id}
        for step in self.steps:
            if found.intersection(step.depends_on):
                found.add(step.id)
        return [s.id for s in self.steps if s.id in found and s.id != step_id]

    def dependencies(self, step_id: str) -> list[str]:
        """Steps whose outputs `step_id` reads, directly or through others, in plan order."""
        wanted = set(self.step(step_id).depends_on)
        for step in reversed(self.steps):
            if step.id in wanted:
                wanted.update(step.depends_on)
        return [s.id for s in self.steps if s.id in wanted]


def plan_json_path(build_dir: str | os.PathLike[str]) -> Path:
    return Path(build_dir) / PLAN_FILE


def load_plan(build_dir: str | os.PathLike[str], path: Path | None = None) -> BuildPlan:
    """Read and check DIR/plan.json (or the plan.json at `path`, as the plan of DIR).

    Raises:
        BuildError: the folder has no plan.json (B101), it cannot be read (B102), or it is not
            a plan this runner can run (B102-B108, every problem at its line and column).
    """
    path = path or plan_json_path(build_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BuildError(PLAN_MISSING, f"{path} does not exist",
                         "pass a build folder written by `trtdeploy compile SPEC -o DIR`, or a spec") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BuildError(PLAN_UNREADABLE, f"cannot read {path}: {_reason(exc)}",
                         "check the file's permissions, or recompile the build folder with `trtdeploy compile`",
                         location=Location(str(path), 1, 1)) from None
    return read_plan(text, Path(build_dir).resolve(), str(path))


def read_plan(text: str, root: Path, file: str = PLAN_FILE) -> BuildPlan:
    """A plan.json text as the runner's plan of the build folder `root`.

    Raises:
        BuildError: with a finding for every problem of the document.
    """
    try:
        document = read_document(text, file)
    except DocumentError as exc:
        raise BuildError.of(exc.findings) from None
    return plan_of(document, root)


def plan_of(document: PlanDocument, root: Path) -> BuildPlan:
    """The runner's plan of a checked document (read from plan.json, or made in memory for a dry run)."""
    return BuildPlan(root, document, tuple(RunStep(i, s) for i, s in enumerate(document.steps, start=1)))


def _reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or type(exc).__name__


@dataclass(frozen=True)
class PathVars:
    """Values of the variables step scripts define, taken from the environment like the scripts take them.

    `unset` names the variables that have no default and whose environment variable is not set.
    """

    values: Mapping[str, str]
    unset: Mapping[str, str] = field(default_factory=dict)

    def expand(self, text: str) -> str:
        """Replace each ${NAME} in `text`.

        Raises:
            BuildError: for a variable with no value here (no default and its environment variable unset,
                STEP_OUT, or an unknown name).
        """

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in self.values:
                return self.values[name]
            if name in self.unset:
                raise BuildError(VARIABLE_UNAVAILABLE, f"input path {text!r} needs ${{{name}}}, which the plan leaves to the environment",
                                 f"set {self.unset[name]}")
            if name not in PLAN_VARIABLES:
                return match.group(0)  # not one of the planner's: literal text of a path the user wrote
            raise BuildError(VARIABLE_UNAVAILABLE,
                             f"input path {text!r} uses ${{{name}}}, which is not known before the step runs",
                             "this is a planner bug: inputs may use MODEL_DIR, EXAMPLES_DIR and BUILD_DIR only")

        return _VAR.sub(one, text)

    def path(self, text: str, root: Path) -> Path:
        """An input's path: variables expanded, relative paths taken from the build folder (the scripts' cwd)."""
        path = Path(self.expand(text)).expanduser()
        return path if path.is_absolute() else root / path


def path_vars(plan: BuildPlan, environ: Mapping[str, str] | None = None) -> PathVars:
    """MODEL_DIR, EXAMPLES_DIR, BUILD_DIR (and any other declared variable) as the step scripts will see them.

    plan.json's "variables" says, per variable, which environment variable overrides it
    and its default; the scripts do `NAME="${ENV:-default}"`, so an empty value counts as unset.
    """
    env = os.environ if environ is None else environ
    values = {BUILD_DIR: str(plan.root)}
    unset: dict[str, str] = {}
    for name, spec in plan.variables.items():
        value = (env.get(spec.env) if spec.env else None) or spec.default
        if value:
            values[name] = value
        elif spec.env:
            unset[name] = spec.env
    _fallbacks(plan, env, values, unset)
    values.pop(STEP_OUT, None)  # set per step by the runner, never an input
    return PathVars(values, unset)


def _fallbacks(plan: BuildPlan, env: Mapping[str, str], values: dict[str, str], unset: dict[str, str]) -> None:
    """For a plan.json without "variables": the same environment variables, then "resolved", then the defaults."""
    if MODEL_DIR not in values and MODEL_DIR not in unset:
        model = env.get(MODEL_DIR_ENV) or resolved_text(plan.resolved, ("model", "dir"), ("model_dir",))
        if model:
            values[MODEL_DIR] = model
        else:
            unset[MODEL_DIR] = MODEL_DIR_ENV
    if EXAMPLES_DIR not in values and EXAMPLES_DIR not in unset:
        values[EXAMPLES_DIR] = env.get(EXAMPLES_DIR_ENV) or resolved_text(plan.resolved, ("examples_dir",)) or DEFAULT_EXAMPLES_DIR


def resolved_text(resolved: Mapping[str, Any], *keys: tuple[str, ...]) -> str | None:
    """The first string found under one of the key paths of plan.json's "resolved" object."""
    for key in keys:
        node: Any = resolved
        for part in key:
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, str) and node:
            return node
    return None
