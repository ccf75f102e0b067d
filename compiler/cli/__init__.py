"""The command line: a thin click group whose commands are imported only when run.

Each command parses arguments, calls one stage function, renders and returns an
exit code: 0 fine, 1 findings with errors (or a failed step), 2 usage error.
User errors print without a traceback unless TRTDEPLOY_DEBUG=1.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any

import click

# name -> (module, attribute, one-line help shown by --help without importing the module)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "check": ("compiler.cli.check", "check", "Check specs: every problem of every spec, with file:line:col and a fix."),
    "explain": ("compiler.cli.check", "explain", "Explain a rule code: what it checks, why, and an example."),
    "schema": ("compiler.cli.catalogs", "schema", "Print the spec's JSON Schema (for editors)."),
    "gpus": ("compiler.cli.catalogs", "gpus", "List the GPU catalog."),
    "models": ("compiler.cli.catalogs", "models", "List the model catalog."),
    "releases": ("compiler.cli.catalogs", "releases", "List the TensorRT-LLM releases whose facts are known."),
    "plan": ("compiler.cli.plan", "plan", "Show the plan of a spec: steps, exact commands, memory per GPU."),
    "compile": ("compiler.cli.plan", "compile_", "Write the build folder of a spec without running it."),
    "build": ("compiler.cli.build", "build", "Run the plan: quantize, convert and build, skipping finished steps."),
    "status": ("compiler.cli.build", "status", "Show each step of a build folder: done, stale or missing."),
    "doctor": ("compiler.cli.build", "doctor", "Check this host: tools, their release, GPUs and disk."),
    "diff": ("compiler.cli.diff", "diff", "Review spec changes: what must re-run, memory, new findings."),
}


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command runs; --help imports none."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (module, _, _) in COMMANDS.items() if _available(module)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        entry = COMMANDS.get(name)
        if entry is None or not _available(entry[0]):
            return None
        command = getattr(importlib.import_module(entry[0]), entry[1])
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="trtdeploy", prog_name="trtdeploy")
def cli() -> None:
    """trtdeploy: check, plan, build and review TensorRT-LLM deployment specs."""


def main(argv: list[str] | None = None) -> Any:
    try:
        return cli.main(args=argv, prog_name="trtdeploy", standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # the last line of defence: never show a traceback to a user
        if os.environ.get("TRTDEPLOY_DEBUG") == "1":
            raise
        click.echo(f"trtdeploy: internal error: {type(exc).__name__}: {exc}", err=True)
        click.echo("  help: this is a bug; rerun with TRTDEPLOY_DEBUG=1 and report the traceback", err=True)
        sys.exit(3)
