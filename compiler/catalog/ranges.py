"""Facts that hold for a range of TensorRT-LLM releases: parsing the rows of the catalog files, and picking one.

A ranged row is `{since, until?, value, source, note?}` (format: compiler/catalog/README.md):
it applies from `since` (inclusive) until `until` (exclusive, absent: still true in the newest
release known), and `source` is a key of its file's `sources:`. The rows of one fact must be in
release order and must not overlap, so at most one applies to a version. releases.yaml,
formats.yaml and architectures.yaml keep their rows in this form; tools/*.yaml has its own
(compiler/catalog/tools.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.catalog.files import read_catalog_yaml
from compiler.versions import Version, VersionError, VersionRange, parse_version

CATALOG_DIR = Path(__file__).parent


class CatalogFactsError(RuntimeError):
    """A catalog file is malformed: a packaging bug, reported with the file and the fact."""


@dataclass(frozen=True)
class RangedFact:
    """What one release range says of a fact, and where it was read."""

    name: str
    value: Any
    range: VersionRange
    source: str
    note: str = ""


def load_yaml(name: str) -> dict[str, Any]:
    """A catalog file as a mapping (safe loader; anchors allowed, as in formats.yaml)."""
    try:
        data = read_catalog_yaml(CATALOG_DIR / name)
    except OSError as exc:
        raise CatalogFactsError(f"{name}: {exc}") from None
    if not isinstance(data, dict):
        raise CatalogFactsError(f"{name}: not a mapping")
    return data


def source_texts(file: str, sources: object) -> dict[str, str]:
    """`sources:` as key -> text; a {repo, path, commit} mapping reads 'repo path @ commit'."""
    if not isinstance(sources, Mapping):
        raise CatalogFactsError(f"{file}: sources is not a mapping")
    return {str(key): _source_text(file, key, value) for key, value in sources.items()}


def _source_text(file: str, key: object, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and "path" in value:
        where = f"{value.get('repo', 'NVIDIA/TensorRT-LLM')} {value['path']}"
        return f"{where} @ {value['commit']}" if value.get("commit") else where
    raise CatalogFactsError(f"{file}: source {key!r} is neither text nor {{repo, path, commit}}")


def version_of(file: str, where: str, text: object) -> Version:
    """A quoted version of a row of `file`."""
    return row_version(f"{file}: {where}", text)


# The readers below serve every catalog module; each passes its own error class, so that a malformed
# file is reported as that module's packaging error. `where` names the file and the fact.

def row_version(where: str, text: object, error: type[Exception] = CatalogFactsError) -> Version:
    """A quoted version (`since: 0.16` would load as a float, so it is refused)."""
    if not isinstance(text, str):
        raise error(f"{where}: version {text!r} must be a quoted string")
    try:
        return parse_version(text)
    except VersionError as exc:
        raise error(f"{where}: {exc}") from None


def row_range(where: str, row: Mapping[str, Any], error: type[Exception] = CatalogFactsError) -> VersionRange:
    """A row's releases: from `since` up to `until` (exclusive; absent, still true in the newest known)."""
    until = row.get("until")
    return VersionRange(row_version(where, row.get("since"), error),
                        None if until is None else row_version(where, until, error))


def row_source(where: str, row: Mapping[str, Any], sources: Mapping[str, str],
               error: type[Exception] = CatalogFactsError) -> str:
    """The text of a row's `source:`, one key of the file's sources or a list of them."""
    keys = row.get("source")
    keys = keys if isinstance(keys, list) else [keys]
    unknown = [k for k in keys if k not in sources]
    if unknown or not keys:
        raise error(f"{where}: source {unknown or keys!r} is not listed under sources")
    return "; ".join(sources[k] for k in keys)


def ranged_rows(file: str, name: str, rows: object, sources: Mapping[str, str]) -> tuple[RangedFact, ...]:
    """The rows of one fact, checked: known sources, release order, no overlap."""
    if not isinstance(rows, Sequence) or isinstance(rows, str) or not rows:
        raise CatalogFactsError(f"{file}: {name}: expected a list of rows")
    facts = tuple(_row(file, name, row, sources) for row in rows)
    for earlier, later in zip(facts, facts[1:], strict=False):
        if earlier.range.until is None or earlier.range.until > later.range.since:
            raise CatalogFactsError(f"{file}: {name}: the row from {later.range.since} overlaps the one before it")
    return facts


def _row(file: str, name: str, row: object, sources: Mapping[str, str]) -> RangedFact:
    if not isinstance(row, Mapping) or "value" not in row:
        raise CatalogFactsError(f"{file}: {name}: a row needs since and value")
    if row.get("source") not in sources:
        raise CatalogFactsError(f"{file}: {name}: source {row.get('source')!r} is not listed under sources")
    span = row_range(f"{file}: {name}", row)
    if span.until is not None and span.until <= span.since:
        raise CatalogFactsError(f"{file}: {name}: until {span.until} is not after since {span.since}")
    return RangedFact(name, row["value"], span, sources[str(row["source"])], str(row.get("note", "")))


def pick(rows: Sequence[RangedFact], version: Version) -> RangedFact | None:
    """The row that applies to `version`, if any."""
    return next((row for row in rows if version in row.range), None)
