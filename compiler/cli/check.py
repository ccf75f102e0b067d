"""`trtdeploy check` and `trtdeploy explain`."""

from __future__ import annotations

import sys

import click

from compiler.cli.options import policy_options, split_codes


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text", show_default=True)
@click.option("--color/--no-color", "colour", default=None, help="Colour the text output (default: when a terminal).")
@policy_options
def check(paths: tuple[str, ...], fmt: str, colour: bool | None, ignore: tuple[str, ...], error: tuple[str, ...]) -> None:
    """Check spec files, or every *.yaml under the folders given.

    Prints every finding of every spec as file:line:col: CODE severity: message,
    with a help: line. Exits 0 without errors, 1 with errors (a path that is
    missing, or a folder that holds no spec or cannot be read, is one), 2 on a
    usage error.
    """
    from compiler.pipeline import check_spec, find_specs
    from compiler.report import render_github, render_json, render_text

    ignored, raised = split_codes(ignore), split_codes(error)
    search = find_specs(paths)
    reports = [check_spec(path, ignored, raised) for path in search.files] + list(search.problems)
    if fmt == "json":
        click.echo(render_json(reports), nl=False)
    elif fmt == "github":
        click.echo(render_github(reports), nl=False)
    else:
        click.echo(render_text(reports, colour if colour is not None else sys.stdout.isatty()), nl=False)
    sys.exit(1 if any(r.errors for r in reports) else 0)


@click.command()
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="List every rule code with its summary.")
def explain(code: str | None, show_all: bool) -> None:
    """Explain a rule CODE (e.g. D102): what it checks, why, a bad and a good example, the fix."""
    from compiler.rules import load_rules
    from compiler.rules.docs import explain_rule

    rules = load_rules()
    if show_all or code is None:
        for rule in sorted(rules.values(), key=lambda r: r.code):
            click.echo(f"{rule.code}  {rule.name:<40} {rule.severity.value:<8} {rule.summary}")
        return
    found = rules.get(code.strip().upper())
    if found is None:
        import difflib

        close = difflib.get_close_matches(code.upper(), list(rules), n=3)
        click.echo(f"trtdeploy: unknown rule code '{code}'", err=True)
        click.echo(f"  help: {'did you mean ' + ', '.join(close) + '? ' if close else ''}`trtdeploy explain --all` lists them", err=True)
        sys.exit(2)
    click.echo(explain_rule(found))
