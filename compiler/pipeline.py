"""The stages chained for one spec: load -> resolve -> validate, with the user's silencing policy.

Commands call these; each returns typed results and never raises for bad input.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from compiler.findings import Finding, Location, Severity
from compiler.load import LoadedSpec, load_spec
from compiler.resolve import Resolved, resolve
from compiler.rules import apply_policy, validate

SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class SpecReport:
    """One spec's findings, and its resolved form when it resolved."""

    path: str
    findings: tuple[Finding, ...]
    resolved: Resolved | None
    loaded: LoadedSpec | None = None

    @property
    def errors(self) -> int:
        return sum(f.severity is Severity.ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity is Severity.WARNING for f in self.findings)


def check_spec(path: str | os.PathLike[str], ignore: Iterable[str] = (), error: Iterable[str] = ()) -> SpecReport:
    """Load, resolve and validate one spec; spec-level `ignore:`/`error:` add to the caller's."""
    loaded = load_spec(path)
    resolution = resolve(loaded)
    findings = list(resolution.findings)
    spec = loaded.spec
    resolved = resolution.resolved
    if resolved is not None and not (spec is not None and spec.abstract):
        findings += validate(resolved)
    if spec is not None:
        ignore = [*ignore, *spec.ignore]
        error = [*error, *spec.error]
    if spec is not None and spec.abstract:
        findings = [f for f in findings if f.code not in {"S109", "S112"}]
        resolved = None
    kept = apply_policy(sorted(findings, key=Finding.sort_key), ignore, error)
    return SpecReport(loaded.path, tuple(kept), resolved, loaded)


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
