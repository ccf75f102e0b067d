"""Reads a build folder's plan.json into typed steps, and resolves `${VAR}` paths the way the scripts do.

`trtdeploy build DIR` runs plan.json as it is (it may come from another machine or
an older compile), so the runner works from this JSON document, never from a
fresh plan. Shape problems become a BuildError naming the key, not a traceback.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.plan.model import BUILD_DIR, EXAMPLES_DIR, MODEL_DIR, PLAN_SCHEMA_VERSION, STEP_OUT, VARIABLE_ENV
from compiler.run.errors import BuildError

PLAN_FILE = "plan.json"
# Where TensorRT-LLM's examples live in NVIDIA's release containers, when neither the
# environment nor the spec says otherwise (the scripts use the same default).
DEFAULT_EXAMPLES_DIR = "/app/tensorrt_llm/examples"
MODEL_DIR_ENV = "TRTDEPLOY_MODEL_DIR"
EXAMPLES_DIR_ENV = "TRTDEPLOY_EXAMPLES_DIR"

_STEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_STORE_PATH = re.compile(r"^store/[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SCRIPT = re.compile(r"^steps/[A-Za-z0-9][A-Za-z0-9_.-]*\.sh$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# The only ${NAME}s the planner writes into input paths; any other ${...} is part of a literal path
# (a calibration file or checkpoint folder whose name holds "${HOME}", say).
PLAN_VARIABLES = frozenset({BUILD_DIR, *VARIABLE_ENV})


@dataclass(frozen=True)
class RunInput:
    """Something a step reads: `kind` is model, calibration, checkpoint or step; `path` may hold ${VAR}s."""

    kind: str
    path: str
    step: str | None = None

    @property
    def digested(self) -> bool:
        """Model, calibration and checkpoint files are digested; step outputs are tracked by their records."""
        return self.kind in {"model", "calibration", "checkpoint"}


@dataclass(frozen=True)
class RunStep:
    """One step of plan.json, with the paths the runner derives from its position (1-based `index`)."""

    index: int
    id: str
    tool: str
    argv: tuple[str, ...]
    inputs: tuple[RunInput, ...]
    output: str
    depends_on: tuple[str, ...]
    fingerprint: str
    reason: str = ""
    aspects: Mapping[str, str] = field(default_factory=dict)
    script_path: str | None = None

    @property
    def script(self) -> str:
        """steps/NN-<id>.sh: as plan.json names it, else from the step's position."""
        return self.script_path or f"steps/{self.index:02d}-{self.id}.sh"

    @property
    def log(self) -> str:
        return f"logs/{self.index:02d}-{self.id}.log"


@dataclass(frozen=True)
class BuildPlan:
    """plan.json as the runner needs it."""

    root: Path
    name: str
    spec: str
    release_version: str
    steps: tuple[RunStep, ...]
    resolved: Mapping[str, Any] = field(default_factory=dict)
    memory: Mapping[str, Any] = field(default_factory=dict)
    launch: Mapping[str, Any] = field(default_factory=dict)
    variables: Mapping[str, Any] = field(default_factory=dict)

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


def load_plan(build_dir: str | os.PathLike[str]) -> BuildPlan:
    """Read DIR/plan.json.

    Raises:
        BuildError: the folder has no plan.json, or it is not a plan this runner understands.
    """
    root = Path(build_dir).resolve()
    path = root / PLAN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BuildError(f"{path} does not exist", "pass a build folder written by `trtdeploy compile SPEC -o DIR`, or a spec") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BuildError(f"cannot read {path}: {exc}", "recompile the build folder with `trtdeploy compile`") from None
    return plan_from_json(data, root)


def plan_from_json(data: object, root: Path) -> BuildPlan:
    """Check the shape of a plan.json document and type it.

    Raises:
        BuildError: naming the first key that is missing or malformed.
    """
    doc = _mapping(data, "plan.json")
    version = doc.get("schema_version")
    if version != PLAN_SCHEMA_VERSION:
        raise BuildError(f"plan.json has schema_version {version!r}; this trtdeploy reads {PLAN_SCHEMA_VERSION}",
                         "recompile the build folder with this trtdeploy (`trtdeploy compile SPEC -o DIR`)")
    trt = _mapping(doc.get("tensorrt_llm", {}), "tensorrt_llm")
    raw_steps = doc.get("steps")
    if not isinstance(raw_steps, list):
        raise BuildError("plan.json: 'steps' is not a list", "recompile the build folder")
    steps: list[RunStep] = []
    for index, raw in enumerate(raw_steps, start=1):
        steps.append(_step(raw, index, {s.id for s in steps}))
    return BuildPlan(
        root=root,
        name=str(doc.get("name", root.name)),
        spec=str(doc.get("spec", "")),
        release_version=str(trt.get("version", "")),
        steps=tuple(steps),
        resolved=_mapping(doc.get("resolved", {}), "resolved"),
        memory=_mapping(doc.get("memory", {}), "memory"),
        launch=_mapping(doc.get("launch", {}), "launch"),
        variables=_mapping(doc.get("variables", {}), "variables"),
    )


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise BuildError(f"plan.json: '{where}' is not an object", "recompile the build folder")
    return value


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BuildError(f"plan.json: '{where}' is not a list of strings", "recompile the build folder")
    return tuple(value)


def _step(raw: object, index: int, earlier: set[str]) -> RunStep:
    doc = _mapping(raw, f"steps[{index - 1}]")
    step_id = doc.get("id")
    where = f"steps[{index - 1}]"
    if not isinstance(step_id, str) or not _STEP_ID.match(step_id):
        raise BuildError(f"plan.json: {where}.id {step_id!r} is not a step id", "recompile the build folder")
    outputs = _strings(doc.get("outputs"), f"{step_id}.outputs")
    if len(outputs) != 1 or not _STORE_PATH.match(outputs[0]):
        raise BuildError(f"plan.json: step {step_id}: outputs {list(outputs)} is not one store/<name> folder",
                         "recompile the build folder")
    depends = _strings(doc.get("depends_on", []), f"{step_id}.depends_on")
    unknown = [d for d in depends if d not in earlier]
    if unknown:
        raise BuildError(f"plan.json: step {step_id} depends on {unknown}, which are not earlier steps",
                         "recompile the build folder")
    fingerprint = doc.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint:
        raise BuildError(f"plan.json: step {step_id} has no fingerprint", "recompile the build folder")
    return RunStep(
        index=index,
        id=step_id,
        tool=str(doc.get("tool", "")),
        argv=_strings(doc.get("argv", []), f"{step_id}.argv"),
        inputs=tuple(_input(i, step_id) for i in doc.get("inputs", []) or []),
        output=outputs[0],
        depends_on=depends,
        fingerprint=fingerprint,
        reason=str(doc.get("reason", "")),
        aspects={str(k): str(v) for k, v in _mapping(doc.get("aspects", {}), f"{step_id}.aspects").items()},
        script_path=_script(doc.get("script"), step_id),
    )


def _script(value: object, step_id: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _SCRIPT.match(value):
        raise BuildError(f"plan.json: step {step_id}: script {value!r} is not a steps/<name>.sh path",
                         "recompile the build folder")
    return value


def _input(raw: object, step_id: str) -> RunInput:
    doc = _mapping(raw, f"{step_id}.inputs[]")
    kind, path, step = doc.get("kind"), doc.get("path"), doc.get("step")
    if not isinstance(kind, str) or not isinstance(path, str) or not (step is None or isinstance(step, str)):
        raise BuildError(f"plan.json: step {step_id} has a malformed input {dict(doc)!r}", "recompile the build folder")
    return RunInput(kind, path, step)


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
                raise BuildError(f"{text} needs ${{{name}}}, which the plan leaves to the environment",
                                 f"set {self.unset[name]}")
            if name not in PLAN_VARIABLES:
                return match.group(0)  # not one of the planner's: literal text of a path the user wrote
            raise BuildError(f"input path {text!r} uses ${{{name}}}, which is not known before the step runs",
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
        spec = spec if isinstance(spec, Mapping) else {}
        env_name, default = spec.get("env"), spec.get("default")
        value = (env.get(env_name) if isinstance(env_name, str) else None) or default
        if isinstance(value, str) and value:
            values[name] = value
        elif isinstance(env_name, str):
            unset[name] = env_name
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
