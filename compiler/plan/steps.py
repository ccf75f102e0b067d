"""Building the plan's steps: a list the backends append to, each step fingerprinted as it is added.

A step's fingerprint hashes its tool, the exact release, its argv (the output folder
stays the "${STEP_OUT}" placeholder, and model, checkpoint and calibration-file paths
become placeholders: the runner digests their contents, so moving a folder does not
invalidate a step), its constant environment, anything else its output depends on
(a script's digest, the build GPU's SM), and the fingerprints of the steps it reads.
Its output folder is store/<id>-<fingerprint[:16]>. `aspects` hash each group of
arguments separately, so `diff` can say why a step re-runs; `impact` says what
re-running it costs in review (requantize, rebuild, reverify).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from compiler.decide.model import Decided, Note
from compiler.plan.argv import TOOL, UPSTREAM, Argv
from compiler.plan.model import Arg, Impact, InputKind, Measure, PlanGate, Step, StepInput, args_text, fingerprint

# trtdeploy's smoke client of a server (templates/launch/smoke.py.j2), a launch file for `entrypoint: run`.
SMOKE_SCRIPT = "launch/smoke.py"
# Python tools flush their logs line by line, so the runner's log shows progress as it happens.
PYTHON_ENV = (("PYTHONUNBUFFERED", "1"),)


@dataclass(frozen=True)
class RankProgram:
    """What serves the result: the program each rank (or the single spawning process) runs.

    `spawns_workers` is True for a program that starts its own worker processes on one
    node (the LLM API does), so a one-node launch runs it once instead of once per rank;
    `multinode_wrapper` is the program put in front of it when ranks span nodes
    (trtllm-llmapi-launch). `files` are launch files the program reads (path -> text).
    `smoke` is the client a launch runs in front of the server for `entrypoint: run`: it
    starts the launch command that follows it, asks the server once, and stops it.
    """

    argv: Argv
    entrypoint: str
    serves: str
    reads: tuple[Step, ...]
    spawns_workers: bool = False
    multinode_wrapper: tuple[str, ...] = ()
    files: Mapping[str, str] = field(default_factory=dict)
    port: int | None = None
    health_path: str | None = None
    llm_api_options: Mapping[str, object] | None = None
    smoke: Argv | None = None


@dataclass
class StepList:
    """Steps planned so far, in order, with the notes taken on the way, and what the verify steps measure."""

    d: Decided
    steps: list[Step] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)
    gates: list[PlanGate] = field(default_factory=list)

    def add(self, step_id: str, tool: str, built: Argv, *, impact: Impact, inputs: Sequence[StepInput],
            reads: Sequence[Step], reason: str, python: bool = True,
            extra: Mapping[str, object] | None = None, settings: Mapping[str, object] | None = None,
            capture: str | None = None) -> Step:
        """Fingerprint and append a step. `extra` is what else its output depends on (hashed with the tool);
        `settings` are inputs that are not arguments, each hashed as an aspect of its own (a verify step's gates,
        its LLM-API options), so `diff` can name them; `capture` keeps what the tool prints in that output file."""
        self.notes += built.notes
        step = _make_step(self.d, len(self.steps) + 1, step_id, tool, built, impact=impact, inputs=inputs,
                          reads=reads, reason=reason, env=PYTHON_ENV if python else (), extra=extra or {},
                          settings=settings or {}, capture=capture)
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


def _make_step(d: Decided, index: int, step_id: str, tool: str, built: Argv, *, impact: Impact,
               inputs: Sequence[StepInput], reads: Sequence[Step], reason: str,
               env: tuple[tuple[str, str], ...], extra: Mapping[str, object], settings: Mapping[str, object],
               capture: str | None) -> Step:
    identity = (tool, d.r.release.version)
    upstream = [s.fingerprint for s in reads]
    grouped = {aspect: _placeholders(args, inputs) for aspect, args in built.by_aspect().items()}
    aspects = {aspect: fingerprint(args) for aspect, args in grouped.items() if aspect not in (TOOL, UPSTREAM)}
    aspects[TOOL] = fingerprint(identity, grouped.get(TOOL, []), env, dict(extra), *([capture] if capture else []))
    aspects.update({name: fingerprint(value) for name, value in settings.items()})
    if upstream:
        aspects[UPSTREAM] = fingerprint(upstream)
    print_ = fingerprint(identity, _placeholders(built.argv, inputs), env, dict(extra), upstream,
                         *([dict(settings), capture] if settings or capture else []))
    return Step(
        id=step_id, tool=tool, impact=impact, argv=built.argv, inputs=tuple(inputs),
        output=f"store/{step_id}-{print_[:16]}", depends_on=tuple(s.id for s in reads), fingerprint=print_,
        aspects=aspects, reason=reason, env=env, script=f"steps/{index:02d}-{step_id}.sh", capture=capture,
    )
