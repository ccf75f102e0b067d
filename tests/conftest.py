"""Shared test fixtures, kept generic: paths to the test data and a spec writer; the catalog cache of the run."""

from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

DATA_DIR = Path(__file__).parent / "data"


def pytest_configure(config: pytest.Config) -> None:
    """The parsed-catalog cache (compiler/catalog/files.py) of this run, in a folder of its own (every process
    the tests start inherits it), so that the tests neither read nor fill the user's ~/.cache."""
    os.environ["TRTDEPLOY_CACHE_DIR"] = tempfile.mkdtemp(prefix="trtdeploy-test-cache-")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(os.environ.pop("TRTDEPLOY_CACHE_DIR", ""), ignore_errors=True)


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
