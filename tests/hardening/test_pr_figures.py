"""docs/hardening.md's table of pull-request attacks counts what the tests try.

Each row names the tests of its attack class; its "inputs tried" must equal the number of test cases
pytest collects for them, and every test of tests/hardening/test_pr_*.py must be in exactly one row, so
a new case or a new test shows up as a stale figure.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOC = HERE.parents[1] / "docs" / "hardening.md"
SECTION = "## Pull requests from forks (issue 10)"
TEST_NAME = re.compile(r"`(test_pr_\w+\.py::test_\w+)`")


def _table_rows() -> list[tuple[list[str], int]]:
    """(tests named, inputs tried) of each row of the section's table."""
    section = DOC.read_text(encoding="utf-8").split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        names = TEST_NAME.findall(line)
        if line.startswith("| ") and names:
            cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
            rows.append((names, int(cells[2].replace(",", ""))))
    return rows


def _collected() -> Counter[str]:
    """Test cases per `file::function`, as pytest collects them."""
    files = sorted(p.name for p in HERE.glob("test_pr_*.py") if p.name != Path(__file__).name)
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
                          cwd=HERE, capture_output=True, text=True, check=True)
    cases = Counter()
    for line in done.stdout.splitlines():
        if "::" in line:
            cases[line.split("[", 1)[0].split("/")[-1]] += 1
    return cases


def test_the_table_counts_the_cases_pytest_collects() -> None:
    rows, collected = _table_rows(), _collected()
    assert rows, f"no table under {SECTION!r} in {DOC}"
    named = [name for names, _ in rows for name in names]
    assert sorted(named) == sorted(collected), "each test_pr_* test must be named in exactly one row"
    for names, tried in rows:
        assert tried == sum(collected[name] for name in names), names
