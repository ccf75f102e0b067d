"""Generated docs stay true to the code."""

from __future__ import annotations

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
