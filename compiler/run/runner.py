"""Runs the selected steps of a plan, in order, each as `bash steps/NN-<id>.sh` in the build folder.

`decide` is the whole preflight and the dry run: it validates --only/--from/--force,
digests inputs (a missing input is an error here, before anything runs) and says,
for each selected step, whether it runs and why. `Runner.run` then executes those
decisions: each step writes into a temporary STEP_OUT, its output is logged to
logs/NN-<id>.log, and only a step that exits 0 with a non-empty STEP_OUT is moved
into the store and recorded. The first failure stops the build; finished steps stay.
"""

from __future__ import annotations

import datetime as dt
import os
import selectors
import shlex
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from compiler.findings import Finding, Severity
from compiler.run.digest import DigestCache
from compiler.run.errors import BuildError, problem
from compiler.run.lock import STATE_DIR
from compiler.run.manifest import manifest, script_sha256
from compiler.run.plandoc import BuildPlan, PathVars, RunStep
from compiler.run.processes import LEFT_RUNNING, STOP_GRACE_S, StepGroup
from compiler.run.progress import REFRESH_S, Reporter, seconds_text
from compiler.run.state import StepState, assess_step, input_digests, run_key
from compiler.run.store import RECORD, Record, Store, has_content

TAIL = 20
READ_CHUNK = 1 << 16
SCRIPT_MISSING = "B109"
SCRIPT_EDITED = "B302"
UNWRITABLE = "B111"
UNKNOWN_STEP = "B202"
SELECTION_CONFLICT = "B203"
READS_UNBUILT = "B204"


@dataclass(frozen=True)
class Selection:
    """Which steps a build considers (--only, --from) and which it re-runs even when done (--force)."""

    only: tuple[str, ...] = ()
    start: str | None = None
    force: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    """Whether a selected step runs, and why (the state's reason, "forced", or "up to date")."""

    step: RunStep
    run: bool
    why: str
    state: StepState


@dataclass(frozen=True)
class Failure:
    step: RunStep
    why: str
    log: Path
    tail: list[str]
    partial: Path | None = None


@dataclass
class BuildResult:
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failure: Failure | None = None
    seconds: float = 0.0


def check_selection(plan: BuildPlan, selection: Selection) -> None:
    """Raises BuildError (exit 2) for a step id the plan does not have, naming the valid ones."""
    named = [*selection.only, *([selection.start] if selection.start else []), *selection.force]
    unknown = [s for s in named if s not in plan.ids]
    if unknown:
        raise BuildError(UNKNOWN_STEP, f"unknown step {', '.join(repr(u) for u in unknown)}",
                         f"the steps of this plan are: {', '.join(plan.ids)}", exit_code=2)
    if selection.only and selection.start:
        raise BuildError(SELECTION_CONFLICT, "--only and --from cannot be used together", "pick one", exit_code=2)


def selected_ids(plan: BuildPlan, selection: Selection) -> list[str]:
    if selection.only:
        return [s for s in plan.ids if s in selection.only]
    if selection.start:
        return plan.ids[plan.ids.index(selection.start):]
    return plan.ids


def forced_ids(plan: BuildPlan, selection: Selection, selected: list[str]) -> set[str]:
    """--force steps and the selected steps that read them (directly or not)."""
    outside = [f for f in selection.force if f not in selected]
    if outside:
        raise BuildError(SELECTION_CONFLICT, f"--force {outside[0]}: that step is not selected by --only/--from",
                         f"selected: {', '.join(selected)}", exit_code=2)
    forced = set(selection.force)
    for step_id in selection.force:
        forced.update(d for d in plan.dependents(step_id) if d in selected)
    return forced


def decide(plan: BuildPlan, selection: Selection, store: Store, variables: PathVars, cache: DigestCache,
           full: bool = False) -> list[Decision]:
    """Preflight and dry run: for each selected step, whether it runs and why (`full`: --verify).

    Raises:
        BuildError: unknown step ids (exit 2), a missing input, or a step outside the
            selection that a selected step reads and that is not done.
    """
    check_selection(plan, selection)
    selected = selected_ids(plan, selection)
    forced = forced_ids(plan, selection, selected)
    needed = set(selected).union(*(plan.dependencies(s) for s in selected))
    states: dict[str, StepState] = {}
    decisions: list[Decision] = []
    will_run: set[str] = set()
    for step in plan.steps:
        if step.id not in needed:
            continue
        states[step.id] = assess_step(step, store, input_digests(step, variables, plan.root, cache), states, full)
        if step.id not in selected:
            _require_done(states[step.id], selection)
            continue
        run, why = _decide_one(step, states[step.id], forced, will_run)
        if run:
            will_run.add(step.id)
        decisions.append(Decision(step, run, why, states[step.id]))
    return decisions


def _decide_one(step: RunStep, state: StepState, forced: set[str], will_run: set[str]) -> tuple[bool, str]:
    if step.id in forced:
        return True, "forced with --force" if state.done else f"forced with --force; {state.state.value}: {state.reason}"
    rerun = [d for d in step.depends_on if d in will_run]
    if rerun and state.done:
        return True, f"input step {rerun[0]} will re-run"
    if state.done:
        return False, "up to date"
    return True, f"{state.state.value}: {state.reason}"


def _require_done(state: StepState, selection: Selection) -> None:
    if state.done:
        return
    flag = "--only" if selection.only else "--from"
    raise BuildError(READS_UNBUILT, f"{flag}: the selected steps read {state.step.id}, which is {state.state.value} ({state.reason})",
                     f"build it first: run without {flag}, or include {state.step.id}")


class Runner:
    """Executes decisions. The caller holds the build folder's lock."""

    def __init__(self, plan: BuildPlan, store: Store, cache: DigestCache, reporter: Reporter,
                 environ: Mapping[str, str] | None = None) -> None:
        self.plan = plan
        self.store = store
        self.cache = cache
        self.reporter = reporter
        self.environ = dict(os.environ if environ is None else environ)
        self.notes: list[Finding] = []  # warnings of the run (a step that left processes running)
        self.ran_scripts: dict[str, str] = {}  # step id -> sha256 of the script as it was when checked

    def run(self, decisions: list[Decision]) -> BuildResult:
        """Run or skip each decision in order; stop at the first failure."""
        began = time.monotonic()
        result = BuildResult()
        total = len(self.plan.steps)
        self._check_scripts([d.step for d in decisions if d.run])
        self.cache.save()  # keep the hashing already done, whatever happens next
        for decision in decisions:
            if not decision.run:
                self.reporter.skipped(decision.step, total, decision.why)
                result.skipped.append(decision.step.id)
                continue
            try:
                failure = self._run_step(decision, total)
            except OSError as exc:  # the store or logs could not be written (disk full, permissions)
                self.reporter.close()
                raise BuildError(UNWRITABLE, f"step {decision.step.id}: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
                                 f"check free space and permissions under {self.plan.root}") from None
            if failure is not None:
                result.failure = failure
                break
            result.ran.append(decision.step.id)
        self.reporter.close()
        result.seconds = time.monotonic() - began
        return result

    def _check_scripts(self, steps: list[RunStep]) -> None:
        """Every script to run exists and, when plan.json has its digest, is the one compile wrote."""
        for step in steps:
            digest = script_sha256(self.plan.root / step.script)
            if digest is None:
                raise BuildError(SCRIPT_MISSING, f"{self.plan.root / step.script} is missing",
                                 "recompile the build folder with `trtdeploy compile SPEC -o DIR`")
            wanted = step.document.script_sha256
            if wanted is not None and digest != wanted:
                raise BuildError(SCRIPT_EDITED, f"{step.script} was edited after compile: its sha256 is not the one "
                                 "plan.json records, so it is not the reviewed plan; nothing was run",
                                 "recompile the build folder (`trtdeploy compile SPEC -o DIR`) to get the plan's script "
                                 "back; change the spec, not the script")
            self.ran_scripts[step.id] = digest

    def _run_step(self, decision: Decision, total: int) -> Failure | None:
        step = decision.step
        tmp = self.store.new_tmp(step)
        log_path = self.plan.root / step.log
        log_path.parent.mkdir(parents=True, exist_ok=True)
        started, clock = _now(), time.monotonic()
        self.reporter.started(step, total, decision.why)
        with open(log_path, "wb", buffering=0) as log:
            log.write(_header(step, total, tmp, started).encode())
            code = self._spawn(step, tmp, log)
            seconds = time.monotonic() - clock
            why = _failure_reason(code, tmp)
            tail = read_tail(log_path) if why else []
            log.write(f"\n# trtdeploy: exit {code} after {seconds_text(seconds)}{'; ' + why if why else ''}\n".encode())
        if why:
            self.reporter.failed(step, total, seconds, why)
            return Failure(step, why, log_path, tail, tmp if has_content(tmp) else None)
        self._complete(step, tmp, started, seconds, decision.state)
        self.reporter.finished(step, total, seconds)
        return None

    def _spawn(self, step: RunStep, tmp: Path, log: IO[bytes]) -> int:
        """Run the step's script in its own session (and cgroup); when it ends, or is interrupted, stop all of it."""
        group = StepGroup(self.plan.root / STATE_DIR, step.id)
        proc = group.spawn(["bash", step.script], self.plan.root, {**self.environ, "STEP_OUT": str(tmp)}, subprocess.PIPE)
        try:
            self._pump(proc, log)
            code = proc.wait()
        except BaseException:
            group.stop(STOP_GRACE_S)
            group.close()
            log.write(b"\n# trtdeploy: interrupted; the step and every process it started were stopped\n")
            raise
        left = group.stop(0)  # before the output is promoted: nothing may write into it afterwards
        group.close()
        if proc.stdout is not None:
            proc.stdout.close()
        if left:
            pids = ", ".join(map(str, left))
            log.write(f"\n# trtdeploy: stopped {len(left)} process(es) the step left running (pid {pids})\n".encode())
            self.notes.append(problem(LEFT_RUNNING, f"step {step.id} left {len(left)} process(es) running after it "
                                      f"ended (pid {pids}); they were stopped before its output was kept",
                                      "a step's tool should wait for the workers it starts", severity=Severity.WARNING))
        return code

    def _pump(self, proc: subprocess.Popen[bytes], log: IO[bytes]) -> None:
        """Copy the step's output to its log and the reporter until it ends (or it exits and goes quiet)."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                if sel.select(timeout=REFRESH_S):
                    data = os.read(fd, READ_CHUNK)
                    if not data:
                        return
                    log.write(data)
                    self.reporter.output(data)
                elif proc.poll() is not None:
                    return  # exited; a background child of it may hold the pipe open forever
                self.reporter.tick()

    def _complete(self, step: RunStep, tmp: Path, started: str, seconds: float, state: StepState) -> None:
        """Promote the output, then write the record naming exactly the inputs and outputs it was built from."""
        deps = {d: self.store.record(self.plan.step(d)) for d in step.depends_on}
        dep_records = {d: r for d, r in deps.items() if r is not None}
        inputs = {text: {"kind": _kind(step, text), "path": d.path, "digest": d.digest, "files": d.files}
                  for text, d in state.digests.items()}
        record = Record(
            step=step.id, fingerprint=step.fingerprint, run_key=run_key(step, state.digests, dep_records),
            output_id=uuid.uuid4().hex, aspects=dict(step.aspects), inputs=inputs,
            depends_on={d: {"run_key": r.run_key, "output_id": r.output_id} for d, r in dep_records.items()},
            started=started, finished=_now(), seconds=round(seconds, 3), host=socket.gethostname(),
            script=step.script, script_sha256=self.ran_scripts[step.id], outputs=manifest(tmp, frozenset({RECORD})),
        )
        self.store.promote(tmp, step)
        self.store.write_record(step, record)
        self.cache.save()


def _kind(step: RunStep, text: str) -> str:
    return next((i.kind for i in step.inputs if i.path == text), "model")


def _failure_reason(code: int, tmp: Path) -> str:
    if code < 0:
        return f"killed by signal {signal.Signals(-code).name}" if -code in signal.valid_signals() else f"exit {code}"
    if code != 0:
        return f"exit {code}"
    if not has_content(tmp):
        return "exit 0, but the step wrote nothing to its output folder (STEP_OUT)"
    return ""


def _header(step: RunStep, total: int, tmp: Path, started: str) -> str:
    return (
        f"# trtdeploy step {step.index}/{total}: {step.id} ({step.tool})\n"
        f"# script: bash {shlex.quote(step.script)}\n"
        f"# argv: {shlex.join(step.argv)}\n"
        f"# STEP_OUT={shlex.quote(str(tmp))} (moved to {step.output} when the step succeeds)\n"
        f"# started: {started}\n\n"
    )


def read_tail(path: Path, lines: int = TAIL) -> list[str]:
    """The last lines of a (possibly huge) log file."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - (lines * 512)))
        text = handle.read().decode("utf-8", errors="replace")
    return [line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.rstrip("\n").split("\n")][-lines:]


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")
