"""make_plan: Decided -> Plan. Pure: the same spec gives the same plan, byte for byte.

The planner decides nothing: the backend registered for the decided backend adds
its steps and says what each rank runs; the launcher registered for the spec's
launcher turns that into the launch. The plan's decisions are the decided notes
and settings, with the reason of each.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from compiler.backends import backend_module
from compiler.backends.pytorch import modelopt_version
from compiler.catalog import llm_api
from compiler.decide.model import Backend, Decided, Note, Origin
from compiler.findings import Finding
from compiler.launchers import launcher_module
from compiler.plan.model import (
    BENCHMARKS_DIR,
    EXAMPLES_DIR,
    HOSTFILE,
    MODEL_DIR,
    Decision,
    Launch,
    Plan,
    Step,
    Var,
)
from compiler.plan.steps import StepList
from compiler.plan.toolcheck import PlanBug, check_plan


class PlanError(Exception):
    """The spec asks for something no plan can express; the rules report the same as findings."""

    def __init__(self, gaps: Sequence[Finding]) -> None:
        super().__init__("; ".join(f"{g.key}: {g.message}" for g in gaps))
        self.gaps = tuple(gaps)


def _setting_notes(d: Decided) -> list[Note]:
    """Settings trtdeploy decided (not the spec, not the release default), and written ones no tool takes."""
    notes = []
    for setting in d.settings.values():
        if setting.origin is Origin.DECIDED and setting.reason:
            notes.append(Note(setting.key, str(setting.value), setting.reason))
        elif setting.written and setting.value is None:
            notes.append(Note(setting.key, "not passed", setting.reason))
    return notes


def _variables(d: Decided, steps: Sequence[Step], launch: Launch, examples: str) -> dict[str, str | None]:
    """Defaults of the script variables in use; None means the variable must come from the environment."""
    used = {a.name for argv in [*(s.argv for s in steps), launch.argv, launch.rank_argv] for a in argv
            if isinstance(a, Var)}
    from compiler.backends.tensorrt.steps import CONTAINER_BENCHMARKS_DIR

    defaults: dict[str, str | None] = {MODEL_DIR: d.r.model_dir, EXAMPLES_DIR: examples, HOSTFILE: launch.hostfile,
                                       BENCHMARKS_DIR: CONTAINER_BENCHMARKS_DIR}
    return {name: value for name, value in defaults.items() if name in used}


def resolved_summary(d: Decided, examples: str) -> dict[str, object]:
    """The decided spec as the lock file records it: the spec with defaults, and the facts added to it."""
    r = d.r
    return {
        "spec": r.spec.model_dump(mode="json"),
        "model": {"origin": r.model_origin, "dir": r.model_dir, **dataclasses.asdict(r.model)},
        "gpu": {"id": r.gpu.id, "sm": r.gpu.sm, "memory_gib": r.gpu.memory_gib, "nvlink": r.gpu.nvlink,
                "p2p": r.gpu.p2p},
        "build_gpu": {"id": r.build_gpu.id, "sm": r.build_gpu.sm, "gpus": r.build_gpus},
        "backend": d.backend.value.value,
        "modelopt": str(modelopt_version(r)) if d.backend.value is Backend.PYTORCH else None,
        "format": d.format.value.value,
        "format_reason": d.format.reason if d.format.origin is Origin.DECIDED else "",
        "kv_cache": d.kv_cache.value.value,
        "world_size": d.topology.world_size,
        "tokenizer_dir": r.tokenizer_dir,
        "checkpoint_dir": r.checkpoint_dir,
        "calibration_dataset": r.calibration_dataset,
        "examples_dir": examples,
    }


def make_plan(d: Decided, findings: Sequence[Finding] = ()) -> Plan:
    """Plan a decided spec that validated without errors.

    Raises:
        PlanError: when the spec asks for something no plan can express (the rules report
            the same as findings, so this is reached only when they were silenced).
    """
    if d.gaps:
        raise PlanError(d.gaps)
    from compiler.backends.tensorrt.steps import examples_dir  # the examples folder every engine script lives in

    steps = StepList(d)
    program = backend_module(d.backend.value).plan(d, steps)
    launch = launcher_module(d.r.spec.launch.launcher).launch(d, program, tuple(steps.steps))
    notes = [*d.notes, *_setting_notes(d), *steps.notes, *program.argv.notes]
    examples = examples_dir(d)
    plan = Plan(
        name=d.r.name, spec_path=d.r.path, backend=d.backend.value.value, release_version=d.r.release.version,
        resolved=resolved_summary(d, examples), steps=tuple(steps.steps),
        launch=launch, memory=d.memory,
        decisions=tuple(Decision(n.topic, n.choice, n.reason) for n in notes), findings=tuple(findings),
        variables=_variables(d, steps.steps, launch, examples), measures=tuple(steps.measures),
        gates=tuple(steps.gates),
    )
    _check_against_the_release(d, plan)
    return plan


def _check_against_the_release(d: Decided, plan: Plan) -> None:
    """Every argv and the LLM-API YAML against the exact release's tables: a problem is a planner bug."""
    modelopt = modelopt_version(d.r) if d.backend.value is Backend.PYTORCH else None
    check_plan(plan, d.r.release.exact, modelopt)
    if plan.launch.llm_api_options is not None:
        problems = llm_api.check_llm_api_options(d.r.release.exact, plan.launch.llm_api_options)
        if problems:
            raise PlanBug("the planner wrote LLM-API options the release refuses: " + "; ".join(problems))
