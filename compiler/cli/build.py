"""`trtdeploy build`, `trtdeploy status` and `trtdeploy doctor`: the commands of the run stage.

Thin: parse arguments, call compiler.run, print. Every problem a user can fix is a
Finding with a B code (carried by BuildError), printed as `CODE severity: message` +
`  help: hint`; exit codes are 0 fine, 1 failed step / preflight / locked, 2 usage error.
`build DIR` never reads a spec: it imports neither the spec models nor the planner.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from compiler.findings import Finding
    from compiler.plan.model import Plan
    from compiler.run.doctor import HostNeeds
    from compiler.run.plandoc import BuildPlan
    from compiler.results import Results
    from compiler.run.runner import BuildResult, Decision, Selection
    from compiler.run.state import StepState
    from compiler.run.verify import Verdict

HASH_NOTICE_BYTES = 256 << 20
TARGET_MISSING = "B100"
SPEC_NOT_BUILDABLE = "B113"
STEP_FAILED = "B208"
HOST_NOT_READY = "B412"


def _echo_findings(findings: Iterable[Finding]) -> None:
    from compiler.run.errors import finding_text

    click.echo("".join(finding_text(f) for f in findings), nl=False, err=True)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Print a BuildError's findings and exit with its code; an OSError (a full disk, a folder
    another user owns) is a B111 finding too, never a traceback."""
    from compiler.run.errors import BuildError, problem

    try:
        yield
    except BuildError as exc:
        _echo_findings(exc.findings)
        sys.exit(exc.exit_code)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        _echo_findings([problem("B111", f"cannot write the build folder: {where}{exc.strerror or exc}",
                                "check free space and permissions on that path")])
        sys.exit(1)


# ---------------------------------------------------------------- build


@click.command()
@click.argument("target", metavar="SPEC|BUILD_DIR")
@click.option("-o", "--output", "output", metavar="DIR", help="Build folder for a SPEC (default: build/<name>).")
@click.option("--plain", is_flag=True, help="One line per step, no live view (automatic when stdout is not a terminal).")
@click.option("--dry-run", is_flag=True, help="Print what would run and what would be skipped, and why; run and write nothing.")
@click.option("--only", multiple=True, metavar="STEP", help="Consider only this step (repeatable); the steps it reads must be built.")
@click.option("--from", "start", metavar="STEP", help="Consider this step and the steps after it; earlier ones must be built.")
@click.option("--force", multiple=True, metavar="STEP", help="Re-run this step even if it is done, and the steps that read it (repeatable).")
@click.option("--skip-doctor", is_flag=True, help="Do not check the host's tools, GPUs and disk before running.")
@click.option("--clean", is_flag=True, help="Remove store folders this plan no longer uses and leftovers of killed runs, then stop.")
@click.option("--verify", is_flag=True, help="Check every built output file's sha256, not only its size and mtime.")
def build(target: str, output: str | None, plain: bool, dry_run: bool, only: tuple[str, ...], start: str | None,
          force: tuple[str, ...], skip_doctor: bool, clean: bool, verify: bool) -> None:
    """Run the plan of SPEC (compiled first into -o DIR) or of an existing BUILD_DIR.

    Steps run in order, each logged to DIR/logs/NN-<id>.log; a step whose inputs
    have not changed since it was built is skipped (and one whose output or script
    was changed since is built again); a killed build resumes where it stopped.
    Exits 0 when every step is built, 1 when one fails, 2 on a usage error.
    """
    from compiler.run.runner import Selection

    selection = Selection(only=only, start=start, force=force)
    with _user_errors():
        if dry_run:
            _dry_run(target, output, selection, verify)
        elif clean:
            _clean(target, output)
        else:
            _build(target, output, selection, plain, skip_doctor, verify)


def _is_spec(target: str) -> bool:
    """A spec file (or one that cannot be read: checking it says why) rather than a build folder.

    Raises:
        BuildError: B100 (exit 2) when `target` does not exist.
    """
    from compiler.pipeline import PathKind, path_kind
    from compiler.run.errors import BuildError

    kind = path_kind(target)
    if kind is PathKind.MISSING:
        raise BuildError(TARGET_MISSING, f"no such spec or build folder: {target}",
                         "pass a spec file (.yaml) or a folder written by `trtdeploy compile`", exit_code=2)
    return kind is not PathKind.FOLDER


def _plan_spec(target: str) -> Plan:
    """check_spec and plan, printing findings.

    Raises:
        BuildError: B113 when the spec has errors or nothing to plan.
    """
    from compiler.pipeline import check_spec
    from compiler.report import render_text
    from compiler.run.errors import BuildError

    report = check_spec(target, plan=True)
    if report.findings:
        click.echo(render_text([report], sys.stderr.isatty()), nl=False, err=True)
    if report.errors:
        raise BuildError(SPEC_NOT_BUILDABLE, f"{target} has errors; nothing was built",
                         f"fix them (`trtdeploy check {target}`) and run again")
    if report.plan is None:
        from compiler.cli.plan import NOTHING_TO_PLAN, NOTHING_TO_PLAN_HINT

        raise BuildError(SPEC_NOT_BUILDABLE, f"{target}: {NOTHING_TO_PLAN}; nothing was built", NOTHING_TO_PLAN_HINT)
    return report.plan


def _default_dir(plan: Plan, output: str | None) -> Path:
    return Path(output) if output else Path("build") / plan.name


def _plan_in_memory(plan: Plan, root: Path) -> BuildPlan:
    """The plan of a spec as the runner reads plan.json, without writing anything (for --dry-run and doctor)."""
    from compiler.plan.document import plan_document
    from compiler.run.plandoc import plan_of

    return plan_of(plan_document(plan.to_json()), root.resolve())


def _build_target(target: str, output: str | None) -> tuple[Path, dict[str, str] | None]:
    """The build folder, and for a SPEC the files compile writes into it (rendered here, written under the lock).

    Raises:
        BuildError: no such target (B100), a spec that cannot be built (B113), a folder that is not
            a build folder (B110), or a plan.json that is missing or not one to run (B101-B108).
    """
    from compiler.run.folder import check_replaceable, compile_pending
    from compiler.run.plandoc import load_plan

    if _is_spec(target):
        from compiler.render import render_build

        planned = _plan_spec(target)
        root = _default_dir(planned, output)
        check_replaceable(root)
        return root, render_build(planned)
    root = Path(target)
    if not compile_pending(root):
        load_plan(root)  # a folder without a good plan.json is refused before anything is written into it
    return root, None


def _build(target: str, output: str | None, selection: Selection, plain: bool, skip_doctor: bool, verify: bool) -> None:
    from compiler.run.digest import DigestCache
    from compiler.run.folder import BuildFolder
    from compiler.run.lock import STATE_DIR
    from compiler.run.plandoc import load_plan, path_vars
    from compiler.run.processes import stop_leftovers
    from compiler.run.progress import make_reporter
    from compiler.run.runner import Runner, decide
    from compiler.run.store import Store
    from compiler.run.verify import evaluate, write_results

    root, files = _build_target(target, output)
    # The folder is written and built under one hold of its lock: no other compile or build can slip in between.
    with BuildFolder(root) as folder, _terminate_as_interrupt():
        _echo_findings(folder.notes)
        if files is not None:
            from compiler.render import is_executable

            folder.write(files, is_executable)
            click.echo(f"compiled {target} into {root}")
        plan = load_plan(root)
        store = Store(plan.root)
        _echo_findings(stop_leftovers(plan.root / STATE_DIR))  # before anything in store/.tmp is touched
        for name in store.clean_tmp():
            click.echo(f"removed store/.tmp/{name} (left by an interrupted run)")
        cache = DigestCache(plan.root / STATE_DIR / "digests.json", _hash_notice)
        decisions = decide(plan, selection, store, path_vars(plan), cache, verify)
        _echo_findings(d.state.notice for d in decisions if d.state.notice is not None)
        if not skip_doctor:
            _preflight_doctor(plan, decisions)
        runner = Runner(plan, store, cache, make_reporter(plain))
        result = runner.run(decisions)
        verdict = evaluate(plan, store)
        if verdict is not None:
            write_results(plan.root, verdict.results)
    _echo_findings(runner.notes)
    _report_result(plan, result)
    if verdict is not None:
        _report_verify(plan, verdict)


def _hash_notice(path: str, size: int) -> None:
    """Say so before hashing a big input: the first build of a 100 GB model spends minutes here, once."""
    if size >= HASH_NOTICE_BYTES:
        click.echo(f"hashing {path} ({size / (1 << 30):.1f} GiB; once: later builds reuse the hash "
                   "while its size and mtime are unchanged)", err=True)


def _preflight_doctor(plan: BuildPlan, decisions: list[Decision]) -> None:
    """Run doctor for the steps that will run; print problems, and stop on a failure."""
    from compiler.run.doctor import failed, needs_from_plan, run_checks
    from compiler.run.errors import BuildError

    if not any(d.run for d in decisions):
        return
    checks = run_checks(needs_from_plan(plan))
    _echo_findings(c.problem for c in checks if c.problem is not None)
    if failed(checks):
        raise BuildError(HOST_NOT_READY, "this host cannot run the build (doctor checks above failed)",
                         "fix them, see `trtdeploy doctor " + str(plan.root) + "`; or pass --skip-doctor to run anyway")


def _report_result(plan: BuildPlan, result: BuildResult) -> None:
    from compiler.run.errors import BuildError
    from compiler.run.progress import seconds_text

    failure = result.failure
    if failure is None:
        engine = plan.launch.engine_dir if plan.launch else None
        click.echo(f"built {plan.name} in {seconds_text(result.seconds)}: {len(result.ran)} ran, "
                   f"{len(result.skipped)} skipped" + (f"; engine: {engine}" if engine else ""))
        return
    rel = failure.log.relative_to(plan.root) if failure.log.is_relative_to(plan.root) else failure.log
    click.echo(f"--- {failure.step.id}: last {len(failure.tail)} lines of {rel} ---", err=True)
    for line in failure.tail:
        click.echo(f"  {line}", err=True)
    click.echo("---", err=True)
    kept = f"; its partial output is in {failure.partial} until the next run" if failure.partial else ""
    done = len(result.ran) + len(result.skipped)
    resume = f": the {done} finished step{'s' if done != 1 else ''} before it will be skipped" if done else ""
    raise BuildError(STEP_FAILED, f"step {failure.step.id} failed ({failure.why}); full log: {failure.log}{kept}",
                     f"fix the cause and run `trtdeploy build {plan.root}` again{resume}")


def _report_verify(plan: BuildPlan, verdict: Verdict) -> None:
    """The gates' table; B212 for outputs without a result and B211 for each failed gate, then exit 1."""
    from compiler.results import RESULTS_FILE
    from compiler.run.errors import BuildError
    from compiler.run.verify import gate_failures

    _echo_results(verdict.results)
    where = plan.root / RESULTS_FILE
    problems = [*verdict.unreadable, *gate_failures(verdict.results, where)]
    if problems:
        raise BuildError.of(problems)


def _echo_results(results: Results) -> None:
    from compiler.escape import visible
    from compiler.run.verify import gate_table, missing_lines, summary

    click.echo(summary(results))
    for line in gate_table(results) if results.gates else ():
        click.echo("  " + visible(line))
    for line in missing_lines(results):
        click.echo(visible(line))


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler cancelling the job) stops the running step and releases the lock, like Ctrl-C."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _dry_run(target: str, output: str | None, selection: Selection, verify: bool) -> None:
    """What a build would do, reading the spec (planned in memory) or plan.json, and the store; writes nothing."""
    from compiler.escape import visible
    from compiler.run.digest import DigestCache
    from compiler.run.lock import STATE_DIR
    from compiler.run.plandoc import load_plan, path_vars
    from compiler.run.runner import decide
    from compiler.run.store import Store

    if _is_spec(target):
        planned = _plan_spec(target)
        plan = _plan_in_memory(planned, _default_dir(planned, output))
    else:
        plan = load_plan(target)
    # The cache is read, never saved: a dry run writes nothing (it may hash changed files again later).
    cache = DigestCache(plan.root / STATE_DIR / "digests.json")
    decisions = decide(plan, selection, Store(plan.root), path_vars(plan), cache, verify)
    _echo_findings(d.state.notice for d in decisions if d.state.notice is not None)
    click.echo(f"dry run of {plan.root} (nothing is run or written)")
    total = len(plan.steps)
    for d in decisions:
        verb = "would run" if d.run else "would skip"
        click.echo(f"[{d.step.index}/{total}] {d.step.id} … {verb}: {visible(d.why)}")
        if d.run:
            click.echo(f"    bash {d.step.script}   # {' '.join(_quote(a) for a in d.step.argv)}")
    runs = sum(d.run for d in decisions)
    click.echo(f"{runs} step{'s' if runs != 1 else ''} would run, {len(decisions) - runs} would be skipped")


def _quote(arg: str) -> str:
    """One argument as a shell word, shown on one line: spec values may hold newlines and escape sequences."""
    import shlex

    from compiler.escape import visible

    return visible(shlex.quote(arg))


def _clean(target: str, output: str | None) -> None:
    """Remove store folders the plan does not use and store/.tmp leftovers, under the lock."""
    from compiler.run.folder import BuildFolder
    from compiler.run.lock import STATE_DIR
    from compiler.run.plandoc import load_plan
    from compiler.run.processes import stop_leftovers
    from compiler.run.store import Store, remove, tree_bytes

    root = _default_dir(_plan_spec(target), output) if _is_spec(target) else Path(target)
    with BuildFolder(root) as folder:
        _echo_findings(folder.notes)
        plan = load_plan(root)
        _echo_findings(stop_leftovers(plan.root / STATE_DIR))
        store = Store(plan.root)
        freed = 0
        for path in store.unused(plan):
            freed += tree_bytes(path)
            remove(path)
            click.echo(f"removed {path.relative_to(plan.root)}")
        leftovers = store.clean_tmp()
        for name in leftovers:
            click.echo(f"removed store/.tmp/{name}")
    click.echo(f"freed {freed / (1 << 30):.2f} GiB" if freed else "nothing to remove" if not leftovers else "done")


# ---------------------------------------------------------------- status


@click.command()
@click.argument("build_dir", metavar="BUILD_DIR")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--verify", is_flag=True, help="Check every built output file's sha256, not only its size and mtime.")
def status(build_dir: str, fmt: str, verify: bool) -> None:
    """Show each step of BUILD_DIR: done, stale (and why) or missing, and files changed since a step was built.

    Reads only; exits 0 (1 when plan.json cannot be read).
    """
    from compiler.pipeline import PathKind, path_kind
    from compiler.run.digest import DigestCache
    from compiler.run.errors import BuildError
    from compiler.run.lock import STATE_DIR
    from compiler.run.plandoc import load_plan, path_vars
    from compiler.run.folder import pending_plan_json
    from compiler.run.state import assess
    from compiler.run.store import Store

    with _user_errors():
        if path_kind(build_dir) is not PathKind.FOLDER:
            raise BuildError(TARGET_MISSING, f"no such build folder: {build_dir}",
                             "pass a folder written by `trtdeploy compile` or `trtdeploy build`", exit_code=2)
        notes = _status_notes(Path(build_dir))
        _echo_findings(notes)
        plan = load_plan(build_dir, pending_plan_json(Path(build_dir)))  # as the next build will see it
        cache = DigestCache(plan.root / STATE_DIR / "digests.json")
        states = assess(plan, Store(plan.root), path_vars(plan), cache, strict=False, full=verify)
        changed = _changed_files(plan, states)
        _echo_findings(changed)
        notes += changed
        results, results_problem = _read_results(plan)
        if results_problem is not None:
            _echo_findings([results_problem])
            notes.append(results_problem)
    if fmt == "json":
        click.echo(json.dumps({"build_dir": str(plan.root), "steps": [_state_json(s) for s in states],
                               "findings": [f.to_json() for f in notes],
                               "results": results.model_dump(mode="json") if results else None}, indent=2))
        return
    counts = {k: sum(s.state.value == k for s in states) for k in ("done", "stale", "missing")}
    click.echo(f"{plan.root}: {len(states)} steps: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n))
    width = max((len(s.step.id) for s in states), default=0)
    out_width = max((len(s.step.output) for s in states), default=0)
    for s in states:
        click.echo(f"{s.state.value:<8} {s.step.index:02d} {s.step.id:<{width}}  {s.step.output:<{out_width}}  {s.reason}")
    if results is not None:
        _echo_results(results)


def _read_results(plan: BuildPlan) -> tuple[Results | None, Finding | None]:
    """DIR/results.json when the last build wrote one; a warning (B212) when it is there and cannot be read."""
    from compiler.findings import Severity
    from compiler.results import RESULTS_FILE, ResultsError, read_results
    from compiler.run.errors import problem

    path = plan.root / RESULTS_FILE
    if not path.exists():
        return None, None
    try:
        return read_results(path), None
    except ResultsError as exc:
        return None, problem("B212", str(exc), "run `trtdeploy build` again to rewrite it", severity=Severity.WARNING)


def _changed_files(plan: BuildPlan, states: list[StepState]) -> list[Finding]:
    """B301 / B302 warnings: outputs and scripts changed since their step was built, scripts edited after compile."""
    from compiler.run.state import edited_scripts

    found = [s.notice for s in states if s.notice is not None]
    reported = {s.step.id for s in states if s.notice is not None and s.notice.code == "B302"}
    return found + edited_scripts(plan, skip=reported)


def _status_notes(root: Path) -> list[Finding]:
    """What status warns about besides the steps: processes an interrupted run left, an interrupted compile."""
    from compiler.findings import Severity
    from compiler.run.errors import problem
    from compiler.run.folder import INTERRUPTED, compile_pending
    from compiler.run.lock import STATE_DIR
    from compiler.run.processes import running_leftovers

    notes = running_leftovers(root / STATE_DIR)
    if not compile_pending(root):
        return notes
    return notes + [problem(INTERRUPTED, f"{root}: a compile was interrupted while it replaced the files; the steps below are "
                    "those of its plan.json, and steps/ may be of either compile until it is completed",
                    "run `trtdeploy build DIR` or `trtdeploy compile` again: it completes the interrupted compile",
                    severity=Severity.WARNING)]


def _state_json(state: StepState) -> dict[str, object]:
    return {"id": state.step.id, "index": state.step.index, "state": state.state.value, "reason": state.reason,
            "output": state.step.output, "log": state.step.log}


# ---------------------------------------------------------------- doctor


@click.command()
@click.argument("target", metavar="[SPEC|BUILD_DIR]", required=False)
@click.option("-o", "--output", "output", metavar="DIR", help="Build folder whose disk is checked for a SPEC (default: build/<name>).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def doctor(target: str | None, output: str | None, fmt: str) -> None:
    """Check this host for a build: the tools the plan's steps use and their release,
    the examples scripts, the GPUs (model, memory, count) and the disk.

    Without an argument, checks TensorRT-LLM, trtllm-build and the GPUs only.
    Exits 0 when nothing failed, 1 otherwise.
    """
    from compiler.run.doctor import basic_needs, failed, render_json, render_text, run_checks

    with _user_errors():
        needs = basic_needs() if target is None else _needs_of(target, output)
        checks = run_checks(needs)
    click.echo(render_json(checks) if fmt == "json" else render_text(checks), nl=False)
    if fmt == "text":
        bad = sum(c.status.value == "FAIL" for c in checks)
        click.echo(f"{len(checks)} checks: {bad} failed" if bad else f"{len(checks)} checks passed")
    sys.exit(1 if failed(checks) else 0)


def _needs_of(target: str, output: str | None) -> HostNeeds:
    from compiler.run.doctor import needs_from_plan
    from compiler.run.plandoc import load_plan

    if _is_spec(target):
        planned = _plan_spec(target)
        return needs_from_plan(_plan_in_memory(planned, _default_dir(planned, output)))
    return needs_from_plan(load_plan(target))
