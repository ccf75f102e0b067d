"""The parsed-catalog cache: the same data as parsing the YAML, keyed by the file's bytes, never required."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from compiler.catalog import CATALOG_DIR
from compiler.catalog.files import CACHE_ENV, read_catalog_yaml


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


def _parsed(path: Path) -> object:
    return yaml.load(path.read_bytes(), Loader=yaml.SafeLoader)


def test_every_catalog_file_reads_the_same_from_the_cache(cache: Path) -> None:
    files = sorted(CATALOG_DIR.rglob("*.yaml"))
    assert len(files) > 20
    for path in files:
        assert read_catalog_yaml(path) == _parsed(path), path  # parsed, and the entry written
    assert len(list(cache.glob("catalog-*.json"))) == len({p.read_bytes() for p in files})
    for path in files:
        assert read_catalog_yaml(path) == _parsed(path), path  # read back from the entries


def test_an_edited_file_is_another_entry(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "rows.yaml"
    path.write_text("rows: [{since: '0.8.0', value: 1}]\n")
    assert read_catalog_yaml(path) == {"rows": [{"since": "0.8.0", "value": 1}]}
    path.write_text("rows: [{since: '0.8.0', value: 2}]\n")
    assert read_catalog_yaml(path) == {"rows": [{"since": "0.8.0", "value": 2}]}
    assert len(list(cache.glob("catalog-*.json"))) == 2


def test_data_json_would_change_is_not_cached(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text("80: ampere\nreleased: 2024-03-01\n")  # an int key and a date: JSON would make them text
    first = read_catalog_yaml(path)
    assert first == _parsed(path) and 80 in first
    assert not cache.exists() or not list(cache.glob("catalog-*.json"))
    assert read_catalog_yaml(path) == first


def test_a_broken_entry_is_parsed_again(cache: Path, tmp_path: Path) -> None:
    path = tmp_path / "rows.yaml"
    path.write_text("a: 1\n")
    read_catalog_yaml(path)
    [entry] = cache.glob("catalog-*.json")
    entry.write_text('{"a": ')
    assert read_catalog_yaml(path) == {"a": 1}


def test_a_cache_folder_that_is_a_file_only_means_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv(CACHE_ENV, str(blocker))
    path = tmp_path / "rows.yaml"
    path.write_text("a: 1\n")
    assert read_catalog_yaml(path) == {"a": 1}
