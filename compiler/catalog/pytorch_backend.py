"""Facts of TensorRT-LLM's PyTorch backend per release: what it loads, on which GPUs, and how ModelOpt produces it.

Two data files under compiler/catalog/pytorch/:

- quantization.yaml: per quant_algo / kv_cache_quant_algo of hf_quant_config.json, whether
  the PyTorch backend loads it and on which GPU architectures; per kind of existing quantized
  checkpoint, whether it loads; what hf_ptq.py writes for each --qformat and
  --kv_cache_qformat (per ModelOpt release); and per trtdeploy quantization format and KV
  dtype, the quant_algo it means and the hf_ptq.py qformat that writes it.
- backend.yaml: whether a release still has the TensorRT engine path (present, removed or
  unknown), and which ModelOpt release a TensorRT-LLM release ships.

Every row carries its source and release range; `pinned` is False where the range was
mapped by era. The lookups return None where the tables say nothing, so a caller can tell
"not supported" (a row with loads False) from "not known".
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.catalog.files import read_catalog_yaml
from compiler.catalog.llm_api import FIRST_RELEASE, UntabulatedRelease
from compiler.catalog.ranges import row_range, row_source, source_texts
from compiler.versions import Version, VersionRange, parse_version

DATA_DIR = Path(__file__).parent / "pytorch"
ENGINE_PATH_STATES = frozenset({"present", "removed", "unknown"})


class PytorchFactsError(RuntimeError):
    """quantization.yaml or backend.yaml is malformed: a packaging bug, reported with the file and entry."""


@dataclass(frozen=True)
class Row:
    """One ranged row of a table: its range, source, pinned state, note and the rest of its keys."""

    range: VersionRange
    source: str
    pinned: bool
    note: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class Support:
    """Whether the PyTorch backend of one release loads a quant_algo (or KV algo, or checkpoint kind), and where."""

    name: str
    loads: bool
    architectures: tuple[str, ...]
    sms: frozenset[int]
    source: str
    pinned: bool
    note: str

    def on_sm(self, sm: int) -> bool:
        """Whether a GPU of compute capability `sm` (89 for 8.9) runs it."""
        return self.loads and sm in self.sms


@dataclass(frozen=True)
class Export:
    """What hf_ptq.py writes into hf_quant_config.json's quantization for one qformat (or KV qformat)."""

    qformat: str
    quant_algo: str | None
    extras: Mapping[str, Any]  # group_size, has_zero_point, pre_quant_scale where the exporter writes them
    source: str
    note: str


@dataclass(frozen=True)
class ExportLayout:
    """Whether hf_ptq.py's HF export of one ModelOpt release is one checkpoint per rank, and where that was read."""

    per_rank: bool
    source: str
    note: str


@dataclass(frozen=True)
class Route:
    """A trtdeploy format or KV dtype on the PyTorch backend of one release, quantized by one ModelOpt release."""

    name: str
    quant_algo: str | None  # for a KV dtype: the kv_cache_quant_algo
    qformat: str | None  # the hf_ptq.py --qformat / --kv_cache_qformat; None: ModelOpt's HF export cannot write it
    support: Support | None  # None: nothing to load (no quantization), or not tabulated
    kv_cache_config_dtype: str | None  # KV dtypes only: the LLM-API kv_cache_config.dtype
    note: str

    @property
    def loads(self) -> bool:
        """Whether the release loads it (a route with nothing to load always does)."""
        return self.quant_algo is None or (self.support is not None and self.support.loads)


@dataclass(frozen=True)
class EnginePath:
    """Whether a release still has the TensorRT engine path."""

    state: str  # present | removed | unknown
    range: VersionRange
    source: str
    pinned: bool
    note: str


@dataclass(frozen=True)
class ShippedModelOpt:
    """The ModelOpt release a TensorRT-LLM release pins (nvidia-modelopt[torch]~=version)."""

    version: Version
    range: VersionRange
    source: str
    pinned: bool
    note: str


# Loading ---------------------------------------------------------------------------------------

def _load(name: str) -> tuple[dict[str, Any], dict[str, str]]:
    data = read_catalog_yaml(DATA_DIR / name)
    if not isinstance(data, dict):
        raise PytorchFactsError(f"{name}: not a mapping")
    return data, source_texts(name, data.get("sources") or {})


def _rows(where: str, rows: object, sources: Mapping[str, str]) -> tuple[Row, ...]:
    if not isinstance(rows, list) or not rows:
        raise PytorchFactsError(f"{where}: expected a list of rows")
    return tuple(_row(where, row, sources) for row in rows)


def _row(where: str, row: Mapping[str, Any], sources: Mapping[str, str]) -> Row:
    source = row_source(where, row, sources, PytorchFactsError)
    rest = {k: v for k, v in row.items() if k not in {"since", "until", "source", "pinned", "note"}}
    return Row(row_range(where, row, PytorchFactsError), source, bool(row.get("pinned", True)),
               str(row.get("note", "")), rest)


def _table(file: str, data: Mapping[str, Any], section: str, sources: Mapping[str, str]) -> dict[str, tuple[Row, ...]]:
    return {str(name): _rows(f"{file}: {section}.{name}", rows, sources)
            for name, rows in (data.get(section) or {}).items()}


@dataclass(frozen=True)
class _Quantization:
    architectures: Mapping[str, frozenset[int]]
    quant_algos: Mapping[str, tuple[Row, ...]]
    kv_cache_quant_algos: Mapping[str, tuple[Row, ...]]
    checkpoints: Mapping[str, tuple[Row, ...]]
    exports: Mapping[str, tuple[Row, ...]]
    kv_exports: Mapping[str, tuple[Row, ...]]
    formats: Mapping[str, Mapping[str, Any]]
    kv_cache: Mapping[str, Mapping[str, Any]]
    qformats: Mapping[str, tuple[Row, ...]]  # "formats.<name>" / "kv_cache.<name>" -> qformat rows
    export_layout: tuple[Row, ...]


@functools.cache
def _quantization() -> _Quantization:
    file = "quantization.yaml"
    data, sources = _load(file)
    architectures = {str(name): frozenset(int(sm) for sm in spec["sm"]) for name, spec in data["architectures"].items()}
    sections = ("quant_algos", "kv_cache_quant_algos", "checkpoints", "hf_ptq_exports", "hf_ptq_kv_exports")
    tables = {section: _table(file, data, section, sources) for section in sections}
    for section in ("quant_algos", "kv_cache_quant_algos"):
        for name, rows in tables[section].items():
            unknown = [a for row in rows for a in row.values.get("architectures", ()) if a not in architectures]
            if unknown:
                raise PytorchFactsError(f"{file}: {section}.{name}: unknown architecture {unknown[0]!r}")
    qformats = {f"{section}.{name}": _rows(f"{file}: {section}.{name}.qformat", spec["qformat"], sources)
                for section in ("formats", "kv_cache") for name, spec in data[section].items() if spec["qformat"]}
    return _Quantization(architectures, tables["quant_algos"], tables["kv_cache_quant_algos"], tables["checkpoints"],
                         tables["hf_ptq_exports"], tables["hf_ptq_kv_exports"], data["formats"], data["kv_cache"],
                         qformats, _rows(f"{file}: hf_export_layout", data["hf_export_layout"], sources))


@dataclass(frozen=True)
class _Backend:
    engine_path: tuple[Row, ...]
    modelopt: tuple[Row, ...]


@functools.cache
def _backend() -> _Backend:
    file = "backend.yaml"
    data, sources = _load(file)
    engine = _rows(f"{file}: engine_path", data["engine_path"], sources)
    bad = [row.values.get("state") for row in engine if row.values.get("state") not in ENGINE_PATH_STATES]
    if bad:
        raise PytorchFactsError(f"{file}: engine_path: state {bad[0]!r} is not one of {sorted(ENGINE_PATH_STATES)}")
    return _Backend(engine, _rows(f"{file}: modelopt", data["modelopt"], sources))


def _at(rows: tuple[Row, ...], version: Version) -> Row | None:
    return next((row for row in rows if version in row.range), None)


def _require_tabulated(version: Version) -> None:
    if version < FIRST_RELEASE:
        raise UntabulatedRelease(f"TensorRT-LLM {version}: the PyTorch backend is tabulated from 1.0 on")


# Lookups -----------------------------------------------------------------------------------------

def architecture_of(sm: int) -> str | None:
    """The hardware table's column for a compute capability (89 -> "ada"); None for older GPUs."""
    return next((name for name, sms in _quantization().architectures.items() if sm in sms), None)


def _support(table: Mapping[str, tuple[Row, ...]], name: str, version: Version) -> Support | None:
    _require_tabulated(version)
    row = _at(table.get(name, ()), version)
    if row is None:
        return None
    names = tuple(str(a) for a in row.values.get("architectures", ()))
    sms = frozenset(sm for a in names for sm in _quantization().architectures[a])
    return Support(name, bool(row.values["loads"]), names, sms, row.source, row.pinned, row.note)


def quant_algo_support(quant_algo: str, version: Version) -> Support | None:
    """Whether TensorRT-LLM `version`'s PyTorch backend loads `quant_algo` (of hf_quant_config.json), and where.

    Raises:
        UntabulatedRelease: `version` is before 1.0.
    """
    return _support(_quantization().quant_algos, quant_algo, version)


def kv_algo_support(kv_cache_quant_algo: str, version: Version) -> Support | None:
    """Whether TensorRT-LLM `version`'s PyTorch backend loads a KV cache of `kv_cache_quant_algo`, and where."""
    return _support(_quantization().kv_cache_quant_algos, kv_cache_quant_algo, version)


def checkpoint_support(quant_method: str, version: Version) -> Support | None:
    """Whether an existing checkpoint loads, by quantization_config.quant_method (modelopt: hf_quant_config.json)."""
    return _support(_quantization().checkpoints, quant_method, version)


def _export(table: Mapping[str, tuple[Row, ...]], qformat: str, modelopt: Version, key: str) -> Export | None:
    row = _at(table.get(qformat, ()), modelopt)
    if row is None:
        return None
    extras = {k: v for k, v in row.values.items() if k != key}
    algo = row.values.get(key)
    return Export(qformat, None if algo is None else str(algo), extras, row.source, row.note)


def hf_ptq_export(qformat: str, modelopt: Version) -> Export | None:
    """What hf_ptq.py of ModelOpt `modelopt` writes as quant_algo (and group_size, ...) for --qformat `qformat`."""
    return _export(_quantization().exports, qformat, modelopt, "quant_algo")


def hf_ptq_kv_export(kv_qformat: str, modelopt: Version) -> Export | None:
    """What hf_ptq.py of ModelOpt `modelopt` writes as kv_cache_quant_algo for --kv_cache_qformat `kv_qformat`."""
    return _export(_quantization().kv_exports, kv_qformat, modelopt, "kv_cache_quant_algo")


def hf_export_layout(modelopt: Version) -> ExportLayout:
    """Whether hf_ptq.py of ModelOpt `modelopt` exports one HF checkpoint per rank (it does not in any tabulated one)."""
    row = _at(_quantization().export_layout, modelopt)
    if row is None:
        raise PytorchFactsError(f"quantization.yaml: no hf_export_layout row covers ModelOpt {modelopt}")
    return ExportLayout(bool(row.values["per_rank"]), row.source, row.note)


def _qformat(key: str, modelopt: Version) -> str | None:
    row = _at(_quantization().qformats.get(key, ()), modelopt)
    return None if row is None else str(row.values["name"])


def format_route(spec_format: str, version: Version, modelopt: Version) -> Route:
    """A trtdeploy quantization.format on TensorRT-LLM `version`, quantized with ModelOpt `modelopt`.

    Raises:
        UntabulatedRelease: `version` is before 1.0.
        KeyError: `spec_format` is not a format the table knows ("auto" is resolved before this).
    """
    _require_tabulated(version)
    spec = _quantization().formats[spec_format]
    algo = spec["quant_algo"]
    return Route(spec_format, algo, _qformat(f"formats.{spec_format}", modelopt),
                 None if algo is None else quant_algo_support(str(algo), version), None, str(spec.get("note", "")))


def kv_route(spec_kv: str, version: Version, modelopt: Version) -> Route:
    """A trtdeploy quantization.kv_cache dtype on TensorRT-LLM `version`, quantized with ModelOpt `modelopt`.

    Raises:
        UntabulatedRelease: `version` is before 1.0.
        KeyError: `spec_kv` is not a KV dtype the table knows.
    """
    _require_tabulated(version)
    spec = _quantization().kv_cache[spec_kv]
    algo = spec["kv_cache_quant_algo"]
    dtype = spec.get("kv_cache_config_dtype")
    return Route(spec_kv, algo, _qformat(f"kv_cache.{spec_kv}", modelopt),
                 None if algo is None else kv_algo_support(str(algo), version), None if dtype is None else str(dtype),
                 str(spec.get("note", "")))


def spec_formats() -> tuple[str, ...]:
    """The trtdeploy quantization formats the table covers."""
    return tuple(_quantization().formats)


def spec_kv_dtypes() -> tuple[str, ...]:
    """The trtdeploy KV-cache dtypes the table covers."""
    return tuple(_quantization().kv_cache)


def engine_path(version: Version) -> EnginePath:
    """Whether TensorRT-LLM `version` has the TensorRT engine path: present, removed or unknown (with why)."""
    row = _at(_backend().engine_path, version)
    if row is None:
        raise UntabulatedRelease(f"TensorRT-LLM {version}: no engine-path row covers it")
    return EnginePath(str(row.values["state"]), row.range, row.source, row.pinned, row.note)


def modelopt_shipped(version: Version) -> ShippedModelOpt:
    """The ModelOpt release TensorRT-LLM `version` pins, which picks the hf_ptq.py surface.

    Raises:
        UntabulatedRelease: `version` is before 1.0.
    """
    _require_tabulated(version)
    row = _at(_backend().modelopt, version)
    if row is None:
        raise UntabulatedRelease(f"TensorRT-LLM {version}: no ModelOpt row covers it")
    return ShippedModelOpt(parse_version(str(row.values["version"])), row.range, row.source, row.pinned, row.note)


def all_rows() -> Iterator[tuple[str, tuple[Row, ...]]]:
    """Every ranged table of both files, by "file: section.name" (for integrity checks)."""
    quantization = _quantization()
    for section, table in (("quant_algos", quantization.quant_algos),
                           ("kv_cache_quant_algos", quantization.kv_cache_quant_algos),
                           ("checkpoints", quantization.checkpoints), ("hf_ptq_exports", quantization.exports),
                           ("hf_ptq_kv_exports", quantization.kv_exports), ("qformat", quantization.qformats)):
        for name, rows in table.items():
            yield f"quantization.yaml: {section}.{name}", rows
    yield "quantization.yaml: hf_export_layout", quantization.export_layout
    yield "backend.yaml: engine_path", _backend().engine_path
    yield "backend.yaml: modelopt", _backend().modelopt
