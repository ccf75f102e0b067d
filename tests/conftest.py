"""Shared test fixtures, kept generic: paths to the test data and a spec writer."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

DATA_DIR = Path(__file__).parent / "data"


@pytest.fixture
def data_dir() -> Path:
    """tests/data: fixture specs (broken/, good/) and the files they point at."""
    return DATA_DIR


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    """Write a (dedented) spec text under tmp_path and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write
