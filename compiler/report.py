"""Renderers for findings: text (with `help:` lines), JSON and GitHub Actions annotations.

Renderers format and decide nothing. Messages, hints and file names quote what a spec or
its file name holds, so text and annotations show them through compiler.escape: a newline
or an escape sequence in a spec never reaches the terminal or starts a workflow command.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from compiler.escape import annotation_data, annotation_property, visible
from compiler.findings import Finding, Severity
from compiler.pipeline import SpecReport

_COLOURS = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m", Severity.NOTE: "\033[36m"}
_RESET = "\033[0m"


def _place(report_path: str, finding: Finding) -> str:
    loc = finding.location
    return f"{visible(loc.file)}:{loc.line}:{loc.column}" if loc else f"{visible(report_path)}:1:1"


def render_text(reports: Sequence[SpecReport], colour: bool = False) -> str:
    lines: list[str] = []
    for report in reports:
        for f in report.findings:
            label = f.severity.value
            if colour:
                label = f"{_COLOURS[f.severity]}{label}{_RESET}"
            via = ""
            if f.location and f.location.file != report.path:
                via = f" (in {visible(report.path)})"
            lines.append(f"{_place(report.path, f)}: {f.code} {label}: {visible(f.message)}{via}")
            if f.hint:
                lines.append(f"  help: {visible(f.hint)}")
    errors = sum(r.errors for r in reports)
    warnings = sum(r.warnings for r in reports)
    lines.append(f"{len(reports)} spec{'s' if len(reports) != 1 else ''} checked: {errors} error{'s' if errors != 1 else ''}, "
                 f"{warnings} warning{'s' if warnings != 1 else ''}")
    return "\n".join(lines) + "\n"


def render_json(reports: Sequence[SpecReport]) -> str:
    payload = {
        "files": [{"path": r.path, "findings": [f.to_json() for f in r.findings]} for r in reports],
        "summary": {"errors": sum(r.errors for r in reports), "warnings": sum(r.warnings for r in reports)},
    }
    return json.dumps(payload, indent=2, sort_keys=False) + "\n"


def render_github(reports: Sequence[SpecReport]) -> str:
    """GitHub Actions workflow commands: ::error file=...,line=...,col=...,title=CODE::message."""
    level = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}
    lines = []
    for report in reports:
        for f in report.findings:
            loc = f.location
            props = [f"file={annotation_property(loc.file if loc else report.path)}"]
            if loc:
                props += [f"line={loc.line}", f"col={loc.column}"]
            props.append(f"title={annotation_property(f.code)}")
            message = visible(f.message) + (f"\n{visible(f.hint)}" if f.hint else "")
            lines.append(f"::{level[f.severity]} {','.join(props)}::{annotation_data(message)}")
    return "\n".join(lines) + ("\n" if lines else "")
