"""Generated docs stay true to the code."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from compiler.specdocs import plan_schema_json, schema_json, spec_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs"
REGENERATE = "run: python -m compiler.specdocs"


def snapshot(name: str) -> str:
    """A committed snapshot's text. A missing one fails the test: a test never writes (re-blesses) it."""
    path = DOCS / name
    if not path.is_file():
        pytest.fail(f"docs/{name} is missing; {REGENERATE}")
    return path.read_text(encoding="utf-8")


def test_spec_md_is_current() -> None:
    assert snapshot("spec.md") == spec_markdown(), REGENERATE


def test_schema_snapshot_is_current() -> None:
    # The committed schema is the snapshot: any change to the spec language shows up in review.
    assert snapshot("spec.schema.json") == schema_json(), REGENERATE


def test_plan_schema_snapshot_is_current() -> None:
    # plan.json's contract between compile and the runner: any change to it shows up in review.
    assert snapshot("plan.schema.json") == plan_schema_json(), REGENERATE


def test_a_missing_snapshot_fails_and_is_not_rewritten(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys.modules[__name__], "DOCS", tmp_path)
    with pytest.raises(pytest.fail.Exception, match="docs/plan.schema.json is missing"):
        snapshot("plan.schema.json")
    assert list(tmp_path.iterdir()) == []


EXAMPLE_SPEC = re.compile(r"<!-- example: (\S+\.yaml) -->\n```yaml\n(.*?)```", re.S)
EXAMPLE_DIFF = re.compile(r"<!-- example: diff (\S+) (\S+) -->\n```text\n(.*?)```", re.S)


@pytest.mark.parametrize("doc", ["backends.md", "verify.md"])
def test_the_worked_diff_example_of_a_doc_is_what_diff_prints(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                              doc: str) -> None:
    from click.testing import CliRunner

    from compiler.cli import cli

    text = snapshot(doc)
    specs = dict(EXAMPLE_SPEC.findall(text))
    [(old, new, printed)] = EXAMPLE_DIFF.findall(text)
    assert {old, new} <= set(specs)
    for name, body in specs.items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["diff", old, new])
    assert result.exit_code == 0 and result.output == printed, f"docs/{doc}: rerun the example's diff"


VERIFY_TABLE = re.compile(r"<!-- verify-tools-table -->\n(.*?)\n\n", re.S)


def verify_tools_rows() -> list[str]:
    """The table of docs/verify.md as decide has it: per backend, the releases with the same verify tools."""
    from types import SimpleNamespace

    from compiler.backends import pytorch, tensorrt
    from compiler.catalog.releases import known_releases, release_facts

    rows: list[str] = []
    for module, backend in ((tensorrt, "engine"), (pytorch, "pytorch")):
        groups: list[tuple[tuple[str, ...], list[str]]] = []
        for release in known_releases():
            found = module.verify_tools(SimpleNamespace(release=release_facts(release.version)))
            by_tool: dict[str, list[str]] = {}
            for task in sorted(found.tasks.values(), key=lambda t: (t.tool, t.task)):
                by_tool.setdefault(task.tool, []).append(task.task)
            tasks = "; ".join(f"{tool}: {', '.join(names)}" for tool, names in sorted(by_tool.items())) or "—"
            bench = found.benchmark
            row = (backend, tasks, bench or "—", (found.dataset_tool or "—") if bench else "—",
                   ", ".join(sorted(found.metrics)) if bench else "—")
            if groups and groups[-1][0] == row:
                groups[-1][1].append(str(release.version))
            else:
                groups.append((row, [str(release.version)]))
        for row, versions in groups:
            span = versions[0] if len(versions) == 1 else f"{versions[0]} – {versions[-1]}"
            rows.append(f"| {span} | " + " | ".join(row) + " |")
    return rows


def test_the_verify_tools_table_of_verify_md_is_what_decide_plans() -> None:
    [table] = VERIFY_TABLE.findall(snapshot("verify.md"))
    assert table.splitlines()[2:] == verify_tools_rows(), "docs/verify.md: the verify tools table is stale"
