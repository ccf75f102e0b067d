"""The stages chained for one spec: load -> resolve -> decide -> validate [-> plan], with the silencing policy;
and finding the specs under the paths a command is given.

`check_spec` is the one entry point of the CLI (check, plan, compile, build SPEC),
diff and the tests: it returns every finding, and the plan when asked for and the
spec has no error. It never raises for bad input.
"""

from __future__ import annotations

import enum
import os
import stat
from collections.abc import Iterable
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


def check_spec(path: str | os.PathLike[str], ignore: Iterable[str] = (), error: Iterable[str] = (),
               root: str | os.PathLike[str] | None = None, *, plan: bool = False) -> SpecReport:
    """Load, resolve, decide and validate one spec (and plan it, when asked and it has no error).

    Spec-level `ignore:`/`error:` add to the caller's. `root` is the folder the spec and its
    bases must lie in (compiler.load.repository_root by default). The plan is made only for a
    spec without errors; gaps a silenced rule would have reported stop it, as error findings.
    """
    from compiler.decide.core import decide

    loaded = load_spec(path, root)
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


class PathKind(enum.Enum):
    """What a path names; UNREADABLE when even its kind cannot be known (no search permission above it)."""

    FILE = "file"
    FOLDER = "folder"
    MISSING = "missing"
    UNREADABLE = "unreadable"


def path_kind(path: str | os.PathLike[str]) -> PathKind:
    """What a command-line path is, without raising: Path.is_file() raises when a folder above it has no search
    permission."""
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return PathKind.MISSING
    except (OSError, ValueError):
        return PathKind.UNREADABLE
    return PathKind.FOLDER if stat.S_ISDIR(info.st_mode) else PathKind.FILE


@dataclass(frozen=True)
class SpecSearch:
    """The spec files named or found under the folders named, and reports for what yielded none.

    `unreadable` lists the folders that could not be searched, with why; each is also a problem.
    """

    files: tuple[str, ...]
    problems: tuple[SpecReport, ...]
    unreadable: tuple[tuple[str, str], ...]


def find_specs(paths: Iterable[str]) -> SpecSearch:
    """Spec files named, or found (recursively, sorted, hidden folders skipped) under the folders named.

    A missing path, a folder holding no spec and a folder that cannot be read are problems (S100):
    a check that checked nothing must not pass. A file that cannot be read is returned, for the
    loader to report why.
    """
    files: list[str] = []
    problems: list[SpecReport] = []
    unreadable: list[tuple[str, str]] = []
    for raw in paths:
        kind = path_kind(raw)
        if kind is PathKind.MISSING:
            problems.append(missing_path_report(raw))
        elif kind is PathKind.FOLDER:
            found, refused = _walk(raw)
            files += found
            unreadable += refused
            problems += [_path_problem(folder, f"cannot read the folder {folder}: {why}", "check its permissions")
                         for folder, why in refused]
            if not found and not refused:
                problems.append(_path_problem(raw, f"no specs found under {raw}",
                                              "specs are *.yaml or *.yml files; hidden folders are skipped"))
        else:
            files.append(raw)
    return SpecSearch(tuple(files), tuple(problems), tuple(unreadable))


def _walk(top: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The spec files under `top` (symlinked folders not followed), and the folders that could not be read."""
    found: list[str] = []
    unreadable: list[tuple[str, str]] = []

    def refused(exc: OSError) -> None:
        unreadable.append((str(exc.filename), exc.strerror or str(exc)))

    for folder, subfolders, names in os.walk(top, onerror=refused):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in names:
            path = os.path.join(folder, name)
            if not name.startswith(".") and name.endswith(SPEC_SUFFIXES) and path_kind(path) is not PathKind.FOLDER:
                found.append(path)
    return sorted(found, key=lambda path: Path(path).parts), sorted(unreadable)


def _path_problem(path: str, message: str, hint: str) -> SpecReport:
    finding = Finding("S100", Severity.ERROR, message, hint, "", Location(path, 1, 1))
    return SpecReport(path, (finding,), None)


def missing_path_report(path: str) -> SpecReport:
    return _path_problem(path, f"no such file or folder: {path}", "check the path")
