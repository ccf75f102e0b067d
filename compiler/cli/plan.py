"""`trtdeploy plan` (print the plan, write nothing) and `trtdeploy compile` (write the build folder).

Both check the spec first (compiler.pipeline.check_spec): a spec with errors prints
its findings and exits 1, and no plan is made. `compile` renders every file in
memory and hands them to compiler.run.folder, which replaces the generated files of
the build folder under its lock, recoverably, and never moves store/, logs/ or the
runner's state.
"""

from __future__ import annotations

import json
import sys
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
        from compiler.plan.model import plan_shape

        resolved, decided = report.resolved, report.decided
        payload = plan_shape(name=resolved.name if resolved is not None else None, spec=report.path,
                             backend=decided.backend.value.value if decided is not None else None,
                             release=resolved.release.version if resolved is not None else None,
                             findings=report.findings)
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
    from compiler.render import is_executable, render_build
    from compiler.run.errors import BuildError, finding_text
    from compiler.run.folder import write_build_folder

    report, planned = _check_and_plan(spec, ignore, error)
    if planned is None:
        _print_findings(report, "text")
        sys.exit(1)
    dest = Path(out) if out is not None else Path("build") / planned.name
    try:
        notes = write_build_folder(dest, render_build(planned), is_executable)
    except BuildError as exc:
        click.echo("".join(finding_text(f) for f in exc.findings), nl=False, err=True)
        sys.exit(exc.exit_code)
    for note in notes:
        click.echo(finding_text(note), nl=False, err=True)
    for finding in planned.findings:
        click.echo(finding_text(finding), nl=False, err=True)
    ranks = planned.launch.world_size
    click.echo(f"wrote {dest}: {len(planned.steps)} steps, launch {planned.launch.launcher} "
               f"({ranks} rank{'s' if ranks != 1 else ''}); run `trtdeploy build {dest}`")
