"""Rule fixtures: each spec under tests/data/broken marks the findings it must produce.

A marker is a YAML comment on the line where a finding must be reported:
`# E: CODE` for an error, `# W: CODE` for a warning, `# N: CODE` for a note; several
may share a line (`# E: H102 E: H109`). Markers in the specs a fixture extends count
too, so a finding reported inside a base file is expected there. The set of
(file, line, code, severity) found must equal the set marked: nothing missing,
nothing extra.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

from compiler.findings import Severity
from compiler.pipeline import check_spec
from compiler.rules import load_rules

DATA = Path(__file__).resolve().parent.parent / "data"
BROKEN = sorted((DATA / "broken").glob("*.yaml"))
GOOD = sorted((DATA / "good").glob("*.yaml"))

MARKER = re.compile(r"\b([EWN]):\s*([A-Z]\d{3})\b")
SEVERITY = {"E": Severity.ERROR, "W": Severity.WARNING, "N": Severity.NOTE}
EXTENDS = re.compile(r"""^extends:\s*["']?([^"'#\s]+)""", re.MULTILINE)

# Codes a fixture file cannot trigger, each covered by a direct test in test_rule_helpers.py.
DIRECT_TESTS = {"S100"}
# Run-stage codes (B) come from build folders, runs and hosts, not specs: each must be asserted by a test there.
RUN_TESTS = sorted((DATA.parent / "run").glob("test_*.py")) + sorted((DATA.parent / "hardening").glob("test_*.py"))

Expected = frozenset[tuple[Path, int, str, Severity]]


def markers(path: Path) -> set[tuple[Path, int, str, Severity]]:
    """The findings a file's comments ask for."""
    found = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        comment = line.partition("#")[2]
        for letter, code in MARKER.findall(comment):
            found.add((path.resolve(), number, code, SEVERITY[letter]))
    return found


def chain(path: Path) -> list[Path]:
    """The fixture and every spec it extends, read independently of the loader under test."""
    files: list[Path] = []
    current: Path | None = path.resolve()
    while current is not None and current not in files and current.is_file():
        files.append(current)
        match = EXTENDS.search(current.read_text(encoding="utf-8"))
        current = (current.parent / match.group(1)).resolve() if match else None
    return files


def expected(path: Path) -> Expected:
    return frozenset(m for file in chain(path) for m in markers(file))


@functools.cache
def found(path: Path) -> Expected:
    report = check_spec(path)
    return frozenset(
        (Path(f.location.file).resolve(), f.location.line, f.code, f.severity)
        for f in report.findings
        if f.location is not None
    )


def _show(items: Expected) -> list[str]:
    return sorted(f"{p.name}:{line}: {code} {sev.value}" for p, line, code, sev in items)


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_fixture_findings_match_markers(path: Path) -> None:
    want, got = expected(path), found(path)
    assert want, f"{path.name} has no markers"
    assert got == want, f"missing: {_show(want - got)}; unexpected: {_show(got - want)}"


@pytest.mark.parametrize("path", GOOD, ids=[p.stem for p in GOOD])
def test_good_spec_checks_clean(path: Path) -> None:
    report = check_spec(path)
    assert not report.findings, [f"{f.code} {f.message}" for f in report.findings]


def test_every_rule_has_a_fixture() -> None:
    triggered = {code for path in BROKEN for _, _, code, _ in found(path)} | DIRECT_TESTS
    live = {code for code, rule in load_rules().items() if not rule.removed and rule.stage != "run"}
    assert not live - triggered, f"rules without a fixture: {sorted(live - triggered)}"


def test_every_run_stage_code_is_asserted_by_a_run_or_hardening_test() -> None:
    text = "\n".join(path.read_text(encoding="utf-8") for path in RUN_TESTS)
    run_codes = {code for code, rule in load_rules().items() if not rule.removed and rule.stage == "run"}
    assert run_codes, "no run-stage codes registered"
    missing = sorted(code for code in run_codes if re.search(rf"[\"']{code}[\" :']", text) is None)
    assert not missing, f"run-stage codes no test under tests/run or tests/hardening asserts: {missing}"


def test_every_code_the_run_stage_reports_is_registered() -> None:
    sources = [*(DATA.parents[1] / "compiler" / "run").glob("*.py"), DATA.parents[1] / "compiler" / "cli" / "build.py",
               DATA.parents[1] / "compiler" / "plan" / "document.py"]
    used = {code for path in sources for code in re.findall(r"[\"'](B\d{3})[\"']", path.read_text(encoding="utf-8"))}
    rules = load_rules()
    assert used, "no B codes found in compiler/run"
    assert not [c for c in used if c not in rules or rules[c].stage != "run"], sorted(used - set(rules))


def test_fixture_names_start_with_a_code_they_trigger() -> None:
    for path in BROKEN:
        code = path.stem.split("-")[0]
        assert code in {c for _, _, c, _ in expected(path)}, path.name
