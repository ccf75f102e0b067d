"""Generated docs stay true to the code."""

from __future__ import annotations

from pathlib import Path

from compiler.specdocs import schema_json, spec_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_spec_md_is_current() -> None:
    assert (DOCS / "spec.md").read_text() == spec_markdown(), "run: python -m compiler.specdocs"


def test_schema_snapshot_is_current() -> None:
    # The committed schema is the snapshot: any change to the spec language shows up in review.
    assert (DOCS / "spec.schema.json").read_text() == schema_json(), "run: python -m compiler.specdocs"
