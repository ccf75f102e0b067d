"""`trtdeploy plan` (print the plan, write nothing) and `trtdeploy compile` (write the build folder).

Both check the spec first (compiler.pipeline.check_spec): a spec with errors prints
its findings and exits 1, and no plan is made. `compile` renders every file in
memory, writes them into a temporary sibling folder and renames it into place, so
a failure never leaves a half-written build folder; an old build folder's plan
files are replaced, and everything else in it (store/, logs/, the runner's state)
is moved over.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from compiler.cli.options import policy_options, split_codes
from compiler.escape import visible

if TYPE_CHECKING:
    from compiler.pipeline import SpecReport
    from compiler.plan.model import Plan

FORMATS = ("text", "json", "markdown")
# A spec without errors that did not resolve: abstract, or its stopping errors silenced.
NOTHING_TO_PLAN = "nothing to plan: the spec is abstract (a base for `extends:`), or the errors that stop it were silenced"
NOTHING_TO_PLAN_HINT = "plan a spec that extends it, or run `trtdeploy check` without --ignore to see what stops it"


class BuildFolderError(Exception):
    """The build folder cannot be written; nothing was changed."""


def _check_and_plan(spec: str, ignore: tuple[str, ...], error: tuple[str, ...]) -> tuple[SpecReport, Plan | None]:
    """The spec's findings, and its plan when there is no error."""
    from compiler.pipeline import PathKind, check_spec, missing_path_report, path_kind

    if path_kind(spec) is PathKind.MISSING:
        return missing_path_report(spec), None
    report = check_spec(spec, split_codes(ignore), split_codes(error), plan=True)
    if report.plan is None and not report.errors:  # exit 1 must never come without a reason
        click.echo(f"trtdeploy: {visible(spec)}: {NOTHING_TO_PLAN}", err=True)
        click.echo(f"  help: {NOTHING_TO_PLAN_HINT}", err=True)
    return report, report.plan


def _print_findings(report: SpecReport, fmt: str) -> None:
    from compiler.report import render_text

    if fmt == "json":
        name = report.resolved.name if report.resolved is not None else None
        payload = {"name": name, "spec": report.path, "findings": [f.to_json() for f in report.findings]}
        click.echo(json.dumps(payload, indent=2, sort_keys=True))
    else:
        click.echo(render_text([report], sys.stdout.isatty()), nl=False)


@click.command()
@click.argument("spec", metavar="SPEC")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@policy_options
def plan(spec: str, fmt: str, ignore: tuple[str, ...], error: tuple[str, ...]) -> None:
    """Print the plan of SPEC: steps with exact commands, memory per GPU, decisions. Writes nothing.

    Exits 0 with a plan, 1 when the spec has errors (its findings are printed instead).
    """
    from compiler.render import plan_json, render_markdown, render_text

    report, planned = _check_and_plan(spec, ignore, error)
    if planned is None:
        _print_findings(report, fmt)
        sys.exit(1)
    render = {"json": plan_json, "markdown": render_markdown, "text": render_text}[fmt]
    click.echo(render(planned), nl=False)


@click.command("compile")
@click.argument("spec", metavar="SPEC")
@click.option("-o", "--output", "out", metavar="DIR", default=None, help="Build folder (default: build/<name>).")
@policy_options
def compile_(spec: str, out: str | None, ignore: tuple[str, ...], error: tuple[str, ...]) -> None:
    """Write the build folder of SPEC without running it: plan.json, plan.md, steps/, launch/.

    Exits 0 when written, 1 when the spec has errors or the folder cannot be written.
    """
    from compiler.render import render_build

    report, planned = _check_and_plan(spec, ignore, error)
    if planned is None:
        _print_findings(report, "text")
        sys.exit(1)
    dest = Path(out) if out is not None else Path("build") / planned.name
    try:
        write_build_folder(dest, render_build(planned))
    except BuildFolderError as exc:
        click.echo(f"trtdeploy: cannot write {visible(str(dest))}: {visible(str(exc))}", err=True)
        sys.exit(1)
    for finding in planned.findings:
        click.echo(f"{finding.code} {finding.severity.value}: {visible(finding.message)}", err=True)
    ranks = planned.launch.world_size
    click.echo(f"wrote {dest}: {len(planned.steps)} steps, launch {planned.launch.launcher} "
               f"({ranks} rank{'s' if ranks != 1 else ''}); run `trtdeploy build {dest}`")


def write_build_folder(dest: Path, files: Mapping[str, str]) -> None:
    """Write `files` (relative path -> text) as the folder `dest`, all at once.

    Raises:
        BuildFolderError: `dest` is not a build folder, is being built, or cannot be written;
            `dest` is then as it was.
    """
    dest = Path(os.path.abspath(dest))
    try:
        _check_replaceable(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(prefix=f".{dest.name}.new-", dir=dest.parent))
    except OSError as exc:
        raise BuildFolderError(exc.strerror or str(exc)) from None
    try:
        _write_files(staged, files)
        _swap_in(staged, dest, {path.split("/")[0] for path in files})
    except BaseException as exc:
        shutil.rmtree(staged, ignore_errors=True)
        if isinstance(exc, OSError):
            raise BuildFolderError(exc.strerror or str(exc)) from None
        raise


def _check_replaceable(dest: Path) -> None:
    if not dest.exists():
        return
    if not dest.is_dir():
        raise BuildFolderError("it exists and is not a folder")
    if any(dest.iterdir()) and not (dest / "plan.json").is_file():
        raise BuildFolderError("it is a folder with files but no plan.json, so not a build folder to replace")


def _write_files(root: Path, files: Mapping[str, str]) -> None:
    from compiler.render import is_executable

    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o755 if is_executable(relative) else 0o644)
    root.chmod(0o755)


def _swap_in(staged: Path, dest: Path, generated: set[str]) -> None:
    """Rename `staged` to `dest`, first moving over what the old folder holds besides generated files."""
    if not dest.exists():
        os.rename(staged, dest)
        return
    from compiler.run.errors import BuildError
    from compiler.run.lock import LOCK_FILE, STATE_DIR, BuildLock

    if not (dest / STATE_DIR / LOCK_FILE).exists():  # never built, so no build can be running there
        _replace(staged, dest, generated)
        return
    try:
        with BuildLock(dest):  # a build running in the old folder keeps it
            _replace(staged, dest, generated)
    except BuildError as exc:
        raise BuildFolderError(str(exc)) from None


def _replace(staged: Path, dest: Path, generated: set[str]) -> None:
    old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
    os.replace(dest, old)  # replaces the empty placeholder folder
    kept = [entry.name for entry in old.iterdir() if entry.name not in generated]
    try:
        for name in kept:
            os.rename(old / name, staged / name)
        os.rename(staged, dest)
    except OSError:
        for name in kept:
            if (staged / name).exists():
                os.rename(staged / name, old / name)
        os.rename(old, dest)
        raise
    shutil.rmtree(old, ignore_errors=True)
