"""`trtdeploy build`, `trtdeploy status` and `trtdeploy doctor`: the commands of the run stage.

Thin: parse arguments, call compiler.run, print. Every problem a user can fix is a
BuildError printed as `trtdeploy: message` + `help:`; exit codes are 0 fine,
1 failed step / preflight / locked, 2 usage error.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    from compiler.plan.model import Plan
    from compiler.run.doctor import HostNeeds
    from compiler.run.plandoc import BuildPlan
    from compiler.run.runner import BuildResult, Decision, Selection
    from compiler.run.state import StepState

HASH_NOTICE_BYTES = 256 << 20


def _fail(message: str, hint: str = "", code: int = 1) -> NoReturn:
    from compiler.escape import visible

    click.echo(f"trtdeploy: {visible(message)}", err=True)
    if hint:
        click.echo(f"  help: {visible(hint)}", err=True)
    sys.exit(code)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn a BuildError into `trtdeploy: message` + `help:` and its exit code."""
    from compiler.run.errors import BuildError

    try:
        yield
    except BuildError as exc:
        _fail(exc.message, exc.hint, exc.exit_code)


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
def build(target: str, output: str | None, plain: bool, dry_run: bool, only: tuple[str, ...], start: str | None,
          force: tuple[str, ...], skip_doctor: bool, clean: bool) -> None:
    """Run the plan of SPEC (compiled first into -o DIR) or of an existing BUILD_DIR.

    Steps run in order, each logged to DIR/logs/NN-<id>.log; a step whose inputs
    have not changed since it was built is skipped; a killed build resumes where it
    stopped. Exits 0 when every step is built, 1 when one fails, 2 on a usage error.
    """
    from compiler.run.runner import Selection

    selection = Selection(only=only, start=start, force=force)
    with _user_errors():
        if dry_run:
            _dry_run(target, output, selection)
        elif clean:
            _clean(target, output)
        else:
            _build(target, output, selection, plain, skip_doctor)


def _is_spec(target: str) -> bool:
    """A spec file (or one that cannot be read: checking it says why) rather than a build folder."""
    from compiler.pipeline import PathKind, path_kind

    kind = path_kind(target)
    if kind is PathKind.MISSING:
        _fail(f"no such spec or build folder: {target}", "pass a spec file (.yaml) or a folder written by `trtdeploy compile`", 2)
    return kind is not PathKind.FOLDER


def _plan_spec(target: str) -> Plan:
    """check_spec and plan, printing findings; exits 1 when the spec has errors or nothing to plan."""
    from compiler.pipeline import check_spec
    from compiler.report import render_text

    report = check_spec(target, plan=True)
    if report.findings:
        click.echo(render_text([report], sys.stderr.isatty()), nl=False, err=True)
    if report.errors:
        _fail(f"{target} has errors; nothing was built", f"fix them (`trtdeploy check {target}`) and run again")
    if report.plan is None:
        from compiler.cli.plan import NOTHING_TO_PLAN, NOTHING_TO_PLAN_HINT

        _fail(f"{target}: {NOTHING_TO_PLAN}; nothing was built", NOTHING_TO_PLAN_HINT)
    return report.plan


def _default_dir(plan: Plan, output: str | None) -> Path:
    return Path(output) if output else Path("build") / plan.name


def _plan_in_memory(plan: Plan, root: Path) -> BuildPlan:
    """The plan of a spec as the runner reads plan.json, without writing anything (for --dry-run and doctor)."""
    from compiler.run.plandoc import plan_from_json

    data = json.loads(json.dumps(plan.to_json(), default=str))
    return plan_from_json(data, root.resolve())


def _compile(plan: Plan, root: Path) -> None:
    """Write the build folder with the renderer, exactly as `trtdeploy compile` does.

    The renderer takes the build folder's lock itself while it swaps the new files in
    (and refuses while a build holds it), so this runs before the build takes the lock.
    """
    from compiler.cli.plan import BuildFolderError, write_build_folder
    from compiler.render import render_build
    from compiler.run.errors import BuildError

    try:
        write_build_folder(root, render_build(plan))
    except BuildFolderError as exc:
        raise BuildError(f"cannot write {root}: {exc}", "wait for the running build, or pass another folder with -o") from None
    click.echo(f"compiled {plan.spec_path} into {root}")


def _build(target: str, output: str | None, selection: Selection, plain: bool, skip_doctor: bool) -> None:
    from compiler.run.digest import DigestCache
    from compiler.run.lock import STATE_DIR, BuildLock
    from compiler.run.plandoc import load_plan, path_vars
    from compiler.run.progress import make_reporter
    from compiler.run.runner import Runner, decide
    from compiler.run.store import Store

    if _is_spec(target):
        planned = _plan_spec(target)
        root = _default_dir(planned, output)
        _compile(planned, root)
    else:
        root = Path(target)
    with BuildLock(root.resolve()), _terminate_as_interrupt():
        plan = load_plan(root)
        store = Store(plan.root)
        for name in store.clean_tmp():
            click.echo(f"removed store/.tmp/{name} (left by an interrupted run)")
        cache = DigestCache(plan.root / STATE_DIR / "digests.json", _hash_notice)
        decisions = decide(plan, selection, store, path_vars(plan), cache)
        if not skip_doctor:
            _preflight_doctor(plan, decisions)
        result = Runner(plan, store, cache, make_reporter(plain)).run(decisions)
    _report_result(plan, result)


def _hash_notice(path: str, size: int) -> None:
    """Say so before hashing a big input: the first build of a 100 GB model spends minutes here, once."""
    if size >= HASH_NOTICE_BYTES:
        click.echo(f"hashing {path} ({size / (1 << 30):.1f} GiB; once: later builds reuse the hash "
                   "while its size and mtime are unchanged)", err=True)


def _preflight_doctor(plan: BuildPlan, decisions: list[Decision]) -> None:
    """Run doctor for the steps that will run; print problems, and stop on a failure."""
    from compiler.run.doctor import failed, needs_from_plan, render_text, run_checks
    from compiler.run.errors import BuildError

    if not any(d.run for d in decisions):
        return
    checks = run_checks(needs_from_plan(plan))
    shown = [c for c in checks if c.status.value != "ok"]
    if shown:
        click.echo(render_text(shown), nl=False, err=True)
    if failed(checks):
        raise BuildError("this host cannot run the build (doctor checks above failed)",
                         "fix them, see `trtdeploy doctor " + str(plan.root) + "`; or pass --skip-doctor to run anyway")


def _report_result(plan: BuildPlan, result: BuildResult) -> None:
    from compiler.run.progress import seconds_text

    failure = result.failure
    if failure is None:
        engine = plan.launch.get("engine_dir")
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
    _fail(f"step {failure.step.id} failed ({failure.why}); full log: {failure.log}{kept}",
          f"fix the cause and run `trtdeploy build {plan.root}` again{resume}")


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


def _dry_run(target: str, output: str | None, selection: Selection) -> None:
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
    decisions = decide(plan, selection, Store(plan.root), path_vars(plan), cache)
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
    from compiler.run.lock import BuildLock
    from compiler.run.plandoc import load_plan
    from compiler.run.store import Store, remove, tree_bytes

    root = _default_dir(_plan_spec(target), output) if _is_spec(target) else Path(target)
    with BuildLock(root.resolve()):
        plan = load_plan(root)
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
def status(build_dir: str, fmt: str) -> None:
    """Show each step of BUILD_DIR: done, stale (and why) or missing. Reads only; exits 0."""
    from compiler.pipeline import PathKind, path_kind
    from compiler.run.digest import DigestCache
    from compiler.run.lock import STATE_DIR
    from compiler.run.plandoc import load_plan, path_vars
    from compiler.run.state import assess
    from compiler.run.store import Store

    with _user_errors():
        if path_kind(build_dir) is not PathKind.FOLDER:
            _fail(f"no such build folder: {build_dir}", "pass a folder written by `trtdeploy compile` or `trtdeploy build`", 2)
        plan = load_plan(build_dir)
        cache = DigestCache(plan.root / STATE_DIR / "digests.json")
        states = assess(plan, Store(plan.root), path_vars(plan), cache, strict=False)
    if fmt == "json":
        click.echo(json.dumps({"build_dir": str(plan.root), "steps": [_state_json(s) for s in states]}, indent=2))
        return
    counts = {k: sum(s.state.value == k for s in states) for k in ("done", "stale", "missing")}
    click.echo(f"{plan.root}: {len(states)} steps: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n))
    width = max((len(s.step.id) for s in states), default=0)
    out_width = max((len(s.step.output) for s in states), default=0)
    for s in states:
        click.echo(f"{s.state.value:<8} {s.step.index:02d} {s.step.id:<{width}}  {s.step.output:<{out_width}}  {s.reason}")


def _state_json(state: StepState) -> dict[str, object]:
    return {"id": state.step.id, "index": state.step.index, "state": state.state.value, "reason": state.reason,
            "output": state.step.output, "log": state.step.log}


# ---------------------------------------------------------------- doctor


@click.command()
@click.argument("target", metavar="[SPEC|BUILD_DIR]", required=False)
@click.option("-o", "--output", "output", metavar="DIR", help="Build folder whose disk is checked for a SPEC (default: build/<name>).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def doctor(target: str | None, output: str | None, fmt: str) -> None:
    """Check this host for a build: the tools the plan's steps use and their release line,
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
