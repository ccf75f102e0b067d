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


def test_the_migration_example_of_backends_md_is_what_diff_prints(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    from click.testing import CliRunner

    from compiler.cli import cli

    text = snapshot("backends.md")
    specs = dict(EXAMPLE_SPEC.findall(text))
    [(old, new, printed)] = EXAMPLE_DIFF.findall(text)
    assert {old, new} <= set(specs)
    for name, body in specs.items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["diff", old, new])
    assert result.exit_code == 0 and result.output == printed, "docs/backends.md: rerun the example's diff"
