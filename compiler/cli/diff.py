"""`trtdeploy diff`: review what a spec change costs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click


@click.command()
@click.argument("paths", nargs=-1, metavar="[OLD NEW | PATH...]")
@click.option("--base", "base", metavar="REV", help="Compare every spec under PATH... between REV and the working tree.")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
@click.option("--color/--no-color", "colour", default=None, help="Colour the text output (default: when a terminal).")
@click.option("--builds", "builds", metavar="DIR", default="build", show_default=True,
              help="Folder of build folders by spec name; their results.json are shown beside the verify gates.")
def diff(paths: tuple[str, ...], base: str | None, fmt: str, colour: bool | None, builds: str) -> None:
    """Compare two spec files (OLD NEW), or with --base REV every spec changed since REV.

    Reports the keys that changed, the impact (requantize, rebuild, reverify, relaunch or
    none), memory per GPU before and after, findings added or removed, and both sides'
    verify gates with what the spec's last build measured. Exits 0 when nothing got
    worse, 1 when the change introduces an error finding.
    """
    from compiler.diff import GitError, diff_files, diff_revision
    from compiler.diff_report import render_json, render_markdown, render_text
    from compiler.escape import visible
    from compiler.pipeline import PathKind, path_kind

    if base is None:
        if len(paths) != 2:
            raise click.UsageError("give OLD and NEW spec files, or --base REV [PATH...]")
        for path in paths:
            if path_kind(path) in (PathKind.MISSING, PathKind.FOLDER):
                raise click.UsageError(f"no such spec file: {visible(path)}")
            if not os.access(path, os.R_OK):  # else an unreadable OLD would look like a fixed spec
                raise click.UsageError(f"cannot read the spec file {visible(path)}: permission denied")
        diffs = [diff_files(paths[0], paths[1], Path(builds))]
    else:
        try:
            diffs = diff_revision(Path.cwd(), base, paths, Path(builds))
        except GitError as exc:
            click.echo(f"trtdeploy: git: {visible(str(exc))}", err=True)
            click.echo(f"  help: {exc.hint}", err=True)
            sys.exit(2)
    if fmt == "json":
        click.echo(render_json(diffs), nl=False)
    elif fmt == "markdown":
        click.echo(render_markdown(diffs), nl=False)
    else:
        click.echo(render_text(diffs, colour if colour is not None else sys.stdout.isatty()), nl=False)
    sys.exit(1 if any(d.introduces_error for d in diffs) else 0)
