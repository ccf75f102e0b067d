"""The stages chained for one spec: load -> resolve -> decide -> validate [-> plan], with the silencing policy.

`check_spec` is the one entry point of the CLI (check, plan, compile, build SPEC),
diff and the tests: it returns every finding, and the plan when asked for and the
spec has no error. It never raises for bad input.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.findings import Finding, Location, Severity
from compiler.load import LoadedSpec, load_spec
from compiler.resolve import Resolved, resolve
from compiler.rules import apply_policy, validate

if TYPE_CHECKING:
    from compiler.decide.model import Decided
    from compiler.plan.model import Plan

SPEC_SUFFIXES = (".yaml", ".yml")
# Findings a spec meant only to be extended (`abstract: true`) may have: it need not name a model or GPU.
ABSTRACT_SILENT = frozenset({"S109", "S112"})


@dataclass(frozen=True)
class SpecReport:
    """One spec's findings, and its resolved and decided forms (and plan) when it got that far."""

    path: str
    findings: tuple[Finding, ...]
    resolved: Resolved | None
    loaded: LoadedSpec | None = None
    decided: Decided | None = None
    plan: Plan | None = None

    @property
    def errors(self) -> int:
        return sum(f.severity is Severity.ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity is Severity.WARNING for f in self.findings)


def check_spec(path: str | os.PathLike[str], ignore: Iterable[str] = (), error: Iterable[str] = (), *,
               plan: bool = False) -> SpecReport:
    """Load, resolve, decide and validate one spec (and plan it, when asked and it has no error).

    Spec-level `ignore:`/`error:` add to the caller's. The plan is made only for a spec
    without errors; gaps a silenced rule would have reported stop it (PlanError).
    """
    from compiler.decide.core import decide

    loaded = load_spec(path)
    resolution = resolve(loaded)
    findings = list(resolution.findings)
    spec, resolved = loaded.spec, resolution.resolved
    abstract = spec is not None and spec.abstract
    decided = decide(resolved) if resolved is not None and not abstract else None
    if decided is not None:
        findings += validate(decided)
    if spec is not None:
        ignore, error = [*ignore, *spec.ignore], [*error, *spec.error]
    if abstract:
        findings = [f for f in findings if f.code not in ABSTRACT_SILENT]
        resolved = None
    kept = tuple(apply_policy(sorted(findings, key=Finding.sort_key), ignore, error))
    report = SpecReport(loaded.path, kept, resolved, loaded, decided)
    if not plan or decided is None or report.errors:
        return report
    if decided.gaps:  # what the silenced rules would have reported still stops the plan
        stops = tuple(_unplannable(decided, gap) for gap in decided.gaps)
        return SpecReport(loaded.path, tuple(sorted(kept + stops, key=Finding.sort_key)), resolved, loaded, decided)
    from compiler.plan.planner import make_plan

    return SpecReport(loaded.path, kept, resolved, loaded, decided, make_plan(decided, kept))


def _unplannable(d: Decided, gap: Finding) -> Finding:
    """A gap that stops planning, as an error at its key even though its rule was silenced."""
    return replace(gap, severity=Severity.ERROR, message=f"cannot plan: {gap.message}",
                   hint=gap.hint or "see `trtdeploy explain " + gap.code + "`", location=d.r.location(gap.key),
                   draft=False)


def expand_paths(paths: Iterable[str]) -> Iterator[str]:
    """Spec files named or found (recursively, sorted) under the folders named."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                if found.suffix in SPEC_SUFFIXES and found.is_file() and not _hidden(found, path):
                    yield str(found)
        else:
            yield raw


def _hidden(found: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in found.relative_to(root).parts)


def missing_path_report(path: str) -> SpecReport:
    finding = Finding("S100", Severity.ERROR, f"no such file or folder: {path}", "check the path", "", Location(path, 1, 1))
    return SpecReport(path, (finding,), None)
