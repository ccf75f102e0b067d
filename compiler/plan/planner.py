"""make_plan: Resolved -> Plan. Pure: the same spec gives the same plan, byte for byte.

A step's fingerprint hashes its tool, release line and exact version, its argv
(the output folder stays the "${STEP_OUT}" placeholder, and model, checkpoint and
calibration-file paths become placeholders: the runner digests their contents, so
moving a folder does not invalidate a step), its constant environment, anything
else its output depends on (the GPTQ script, the build GPU's SM), and the
fingerprints of the steps it reads. A step's output folder is
store/<id>-<fingerprint[:16]>, and later steps name that path in their argv.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from compiler.findings import Finding
from compiler.limits import serving_estimate
from compiler.plan import launch as launching
from compiler.plan import tools
from compiler.plan.argv import LAUNCH, QUANT_INPUTS, TOOL, UPSTREAM, Argv
from compiler.plan.features import GATES, has
from compiler.plan.layout import VERIFIED_FAMILY, examples_dir, family_folder
from compiler.plan.model import (
    EXAMPLES_DIR,
    HOSTFILE,
    MODEL_DIR,
    Arg,
    Decision,
    InputKind,
    Launch,
    Plan,
    Step,
    StepInput,
    Tool,
    Var,
    args_text,
    fingerprint,
)
from compiler.plan.quant import (
    GPTQ_WEIGHTS_FILE,
    Calibration,
    Gap,
    Route,
    calibration,
    checkpoint_weights,
    combination_gaps,
    line_gaps,
    route,
)
from compiler.resolve import Resolved
from compiler.spec import Launcher, QuantFormat

# Python tools flush their logs line by line, so the runner's log shows progress as it happens.
PYTHON_ENV = (("PYTHONUNBUFFERED", "1"),)


class PlanError(Exception):
    """The spec asks for something no plan can express; the validator reports the same as findings."""

    def __init__(self, gaps: Sequence[Gap]) -> None:
        super().__init__("; ".join(f"{g.key}: {g.message}" for g in gaps))
        self.gaps = tuple(gaps)


def refusals(r: Resolved) -> list[Gap]:
    """Everything that stops planning (P101, P103, P104, H104 and the L rules report these to the user)."""
    gaps = line_gaps(r) + combination_gaps(r) + launching.topology_gaps(r) + launching.unplain_values(r)
    if r.format is QuantFormat.NVFP4 and not has(r.release, "nvfp4"):
        gaps.append(Gap("quantization.format", f"nvfp4 needs {GATES['nvfp4'].where()}", "see H104"))
    return gaps


@dataclass
class _Steps:
    """Steps planned so far, in order, with the decisions taken on the way."""

    r: Resolved
    steps: list[Step] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    def add(self, step_id: str, tool: Tool, built: Argv, *, inputs: Sequence[StepInput], reads: Sequence[Step],
            reason: str, extra: Mapping[str, object] | None = None) -> Step:
        self.decisions += built.decisions
        step = _make_step(self.r, len(self.steps) + 1, step_id, tool, built,
                          inputs=inputs, reads=reads, reason=reason, extra=extra or {})
        self.steps.append(step)
        return step


def _placeholders(args: Sequence[Arg], inputs: Sequence[StepInput]) -> list[str]:
    """argv text with external input paths replaced by their kind: the runner hashes their contents instead."""
    external = {str(i.path): f"<{i.kind.value}>" for i in inputs if i.kind is not InputKind.STEP}
    out = []
    for arg in args_text(args):
        flag, eq, value = arg.partition("=")
        out.append(flag + eq + external[value] if eq and value in external else external.get(arg, arg))
    return out


def _make_step(r: Resolved, index: int, step_id: str, tool: Tool, built: Argv, *, inputs: Sequence[StepInput],
               reads: Sequence[Step], reason: str, extra: Mapping[str, object]) -> Step:
    env = PYTHON_ENV if tool is not Tool.BUILD else ()
    identity = (tool.value, r.release.line.value, r.release.version)
    upstream = [s.fingerprint for s in reads]
    grouped = {aspect: _placeholders(args, inputs) for aspect, args in built.by_aspect().items()}
    aspects = {aspect: fingerprint(args) for aspect, args in grouped.items() if aspect not in (TOOL, UPSTREAM)}
    aspects[TOOL] = fingerprint(identity, grouped.get(TOOL, []), env, dict(extra))
    if upstream:
        aspects[UPSTREAM] = fingerprint(upstream)
    print_ = fingerprint(identity, _placeholders(built.argv, inputs), env, dict(extra), upstream)
    return Step(
        id=step_id, tool=tool, argv=built.argv, inputs=tuple(inputs), output=f"store/{step_id}-{print_[:16]}",
        depends_on=tuple(s.id for s in reads), fingerprint=print_, aspects=aspects, reason=reason, env=env,
        script=f"steps/{index:02d}-{step_id}.sh",
    )


def _model_input() -> StepInput:
    return StepInput(InputKind.MODEL, Var(MODEL_DIR))


def _calibration_inputs(cal: Calibration | None) -> list[StepInput]:
    return [StepInput(InputKind.CALIBRATION, cal.dataset)] if cal is not None and cal.local else []


def _checkpoint_steps(plan: _Steps) -> Step:
    """The steps that write the TensorRT-LLM checkpoint, per route; returns the last."""
    r, kind, cal = plan.r, route(plan.r), calibration(plan.r)
    sources = [_model_input(), *_calibration_inputs(cal)]
    if kind is Route.QUANTIZE:
        assert cal is not None  # quantize.py always calibrates
        return plan.add("quantize", Tool.QUANTIZE, tools.quantize_argv(r, cal), inputs=sources, reads=[],
                        reason=f"ModelOpt's quantize.py writes the {r.format.value} checkpoint "
                               f"(KV cache {r.kv_cache.value})")
    if kind is Route.GPTQ:
        assert cal is not None
        gptq = plan.add("gptq", Tool.GPTQ, tools.gptq_argv(r, cal), inputs=sources, reads=[],
                        reason="GPTQModel quantizes the weights to int4 with calibration data",
                        extra={"script": tools.gptq_script_digest()})
        weights = f"{gptq.output}/{GPTQ_WEIGHTS_FILE}"
        return plan.add("convert", Tool.CONVERT, tools.convert_argv(r, None, Var(MODEL_DIR), weights, UPSTREAM),
                        inputs=[_model_input(), StepInput(InputKind.STEP, weights, gptq.id)], reads=[gptq],
                        reason="convert_checkpoint.py packs the GPTQ weights into a TensorRT-LLM checkpoint")
    if kind is Route.CHECKPOINT:
        return _from_checkpoint(plan)
    return plan.add("convert", Tool.CONVERT, tools.convert_argv(r, cal, Var(MODEL_DIR), None), inputs=sources,
                    reads=[], reason=f"convert_checkpoint.py writes the {r.format.value} checkpoint "
                                     f"(KV cache {r.kv_cache.value})")


def _from_checkpoint(plan: _Steps) -> Step:
    r = plan.r
    assert r.checkpoint_dir is not None
    if r.format is QuantFormat.INT4_AWQ:
        plan.decisions.append(Decision("quantization.route", "convert the AutoAWQ checkpoint",
                                       "quantization.checkpoint is given, so quantize.py does not run"))
        return plan.add("convert", Tool.CONVERT, tools.convert_argv(r, None, r.checkpoint_dir, None),
                        inputs=[StepInput(InputKind.CHECKPOINT, r.checkpoint_dir)], reads=[],
                        reason="convert_checkpoint.py reads the AWQ checkpoint")
    weights = checkpoint_weights(r.checkpoint_dir)
    plan.decisions.append(Decision("quantization.route", "skip the GPTQ step",
                                   f"quantization.checkpoint is given; convert reads {weights}"))
    return plan.add("convert", Tool.CONVERT, tools.convert_argv(r, None, Var(MODEL_DIR), weights, QUANT_INPUTS),
                    inputs=[_model_input(), StepInput(InputKind.CHECKPOINT, weights)], reads=[],
                    reason="convert_checkpoint.py packs the given GPTQ weights into a TensorRT-LLM checkpoint")


def _format_decisions(r: Resolved) -> list[Decision]:
    out = []
    if r.format_reason:
        out.append(Decision("quantization.format", r.format.value, r.format_reason))
    kind = route(r)
    why = {
        Route.CONVERT: "weight-only, SmoothQuant and int8 KV caches are convert_checkpoint.py's own options",
        Route.QUANTIZE: "AWQ, FP8, w4a8, nvfp4 and every fp8 KV cache go through ModelOpt's quantize.py",
        Route.GPTQ: "TensorRT-LLM converts GPTQ weights made by an external tool",
        Route.CHECKPOINT: "a pre-quantized checkpoint is given",
    }[kind]
    out.append(Decision("quantization.path", kind.value, f"{why} (reference §1.2, §1.3, §2)"))
    if r.model.family != VERIFIED_FAMILY and kind is not Route.QUANTIZE:
        out.append(Decision("convert.family", f"examples/{family_folder(r.model.family, r.release)}",
                            "the reference documents llama's convert_checkpoint.py flags only; the same flags are "
                            f"planned for {r.model.family}, verified for llama only (P102)"))
    return out


def _launch(r: Resolved, engine: Step) -> tuple[Launch, list[Decision]]:
    rank = launching.rank_argv(r, engine.output)
    env = launching.passthrough(r, rank)
    launcher = r.spec.launch.launcher
    argv: tuple[Arg, ...] = ()
    sbatch: tuple[tuple[str, str], ...] = ()
    if launcher is Launcher.MPIRUN:
        argv = launching.mpirun_argv(r, env)
    elif launcher is Launcher.SLURM:
        argv, sbatch = launching.srun_argv(r), launching.sbatch_options(r)
    topo = launching.topology(r)
    hosts = tuple(r.spec.launch.hosts or ()) if launcher is Launcher.MPIRUN else ()
    grouped = rank.by_aspect()
    launch_aspect = fingerprint(launcher.value, args_text(argv), sbatch, hosts, args_text(grouped.get(TOOL, [])),
                                args_text(grouped.get(LAUNCH, [])))
    print_ = fingerprint(launcher.value, args_text(argv), args_text(rank.argv), sbatch, hosts, engine.fingerprint)
    launch = Launch(
        launcher=launcher.value, entrypoint=r.spec.launch.entrypoint.value, world_size=topo.world_size,
        nodes=topo.nodes, ranks_per_node=topo.ranks_per_node, hosts=hosts, argv=argv, rank_argv=rank.argv,
        engine_dir=engine.output, fingerprint=print_, env_passthrough=env,
        script=launching.LAUNCH_SCRIPTS.get(launcher), sbatch=sbatch,
        hostfile=launching.HOSTFILE_PATH if hosts else None,
        aspects={LAUNCH: launch_aspect, UPSTREAM: fingerprint([engine.fingerprint])},
    )
    decisions = [*rank.decisions, *(Decision(*d) for d in launching.launch_decisions(r))]
    return launch, decisions


def _variables(r: Resolved, steps: Sequence[Step], launch: Launch) -> dict[str, str | None]:
    """Defaults of the script variables in use; None means the variable must come from the environment."""
    used = {a.name for argv in [*(s.argv for s in steps), launch.argv, launch.rank_argv] for a in argv
            if isinstance(a, Var)}
    defaults: dict[str, str | None] = {MODEL_DIR: r.model_dir, EXAMPLES_DIR: examples_dir(r),
                                       HOSTFILE: launch.hostfile}
    return {name: value for name, value in defaults.items() if name in used}


def resolved_summary(r: Resolved) -> dict[str, object]:
    """The resolved spec as the lock file records it: the spec with defaults, and the facts added to it."""
    return {
        "spec": r.spec.model_dump(mode="json"),
        "model": {"origin": r.model_origin, "dir": r.model_dir, **dataclasses.asdict(r.model)},
        "gpu": {"id": r.gpu.id, "sm": r.gpu.sm, "memory_gib": r.gpu.memory_gib, "nvlink": r.gpu.nvlink,
                "p2p": r.gpu.p2p},
        "build_gpu": {"id": r.build_gpu.id, "sm": r.build_gpu.sm, "gpus": r.build_gpus},
        "format": r.format.value,
        "format_reason": r.format_reason,
        "kv_cache": r.kv_cache.value,
        "world_size": r.world_size,
        "tokenizer_dir": r.tokenizer_dir,
        "checkpoint_dir": r.checkpoint_dir,
        "calibration_dataset": r.calibration_dataset,
        "examples_dir": examples_dir(r),
    }


def make_plan(r: Resolved, findings: Sequence[Finding] = ()) -> Plan:
    """Plan a resolved spec that validated without errors.

    Raises:
        PlanError: when the spec asks for something no plan can express (the rules report
            the same as findings, so this is reached only when they were silenced).
    """
    gaps = refusals(r)
    if gaps:
        raise PlanError(gaps)
    plan = _Steps(r, decisions=_format_decisions(r))
    checkpoint = _checkpoint_steps(plan)
    engine = plan.add("build", Tool.BUILD, tools.build_argv(r, checkpoint.output),
                      inputs=[StepInput(InputKind.STEP, checkpoint.output, checkpoint.id)], reads=[checkpoint],
                      reason="trtllm-build compiles one engine per rank for the target GPU",
                      extra={"build_sm": r.build_gpu.sm})
    launch, launch_decisions = _launch(r, engine)
    return Plan(
        name=r.name, spec_path=r.path, release_version=r.release.version, release_line=r.release.line.value,
        resolved=resolved_summary(r), steps=tuple(plan.steps), launch=launch, memory=serving_estimate(r),
        decisions=(*plan.decisions, *launch_decisions), findings=tuple(findings),
        variables=_variables(r, plan.steps, launch),
    )
