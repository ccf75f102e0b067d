"""Quantization formats of the spec as data (formats.yaml): what each format is, and its engine-path route per release.

`format_facts(name)` gives the backend-independent facts of one format (weight bits, group-wise
scales, activation precision, whether it calibrates, the KV-cache dtypes it goes with) and
`FormatFacts.tensorrt(version)` the engine path's row for one release: routes, quantize.py
qformat, convert_checkpoint.py weight-only precision, quant_algo, smallest SM and the SM ranges
the builder refuses. An engine-path row is absent where the release cannot plan the format
(nvfp4 before 0.17.0). The `pytorch:` rows belong to the PyTorch-backend facts.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from compiler.catalog.ranges import (
    CatalogFactsError,
    RangedFact,
    load_yaml,
    pick,
    ranged_rows,
    source_texts,
)
from compiler.versions import Version

FILE = "formats.yaml"
ROUTES = frozenset({"convert", "quantize", "gptq+convert", "checkpoint+convert"})


@dataclass(frozen=True)
class EngineFormat:
    """The engine path of a format in one release range (a formats.yaml `tensorrt:` row)."""

    routes: tuple[str, ...]
    qformat: str | None
    weight_only_precision: str | None
    quant_algo: str | None
    min_sm: int
    refused_sm: tuple[tuple[int, int], ...]  # [from, until) compute capabilities the builder refuses
    fact: RangedFact

    def refuses(self, sm: int) -> bool:
        """True when the release's builder refuses this format on compute capability `sm`."""
        return any(low <= sm < high for low, high in self.refused_sm)

    def runs_on(self, sm: int) -> bool:
        return sm >= self.min_sm and not self.refuses(sm)


@dataclass(frozen=True)
class FormatFacts:
    """One format of the spec: what it is, and its engine-path rows by release."""

    name: str
    weight_bits: int
    group_wise: bool
    activations: str
    calibrates: bool
    kv_cache: tuple[str, ...]
    source: str
    tensorrt_rows: tuple[RangedFact, ...]
    pytorch: Any  # left to the PyTorch-backend facts

    def tensorrt(self, version: Version) -> EngineFormat | None:
        """The engine path of this format in `version`, or None when that release cannot plan it."""
        row = pick(self.tensorrt_rows, version)
        return None if row is None else _engine(self.name, row)


def _engine(name: str, row: RangedFact) -> EngineFormat:
    value = row.value
    routes = tuple(value["routes"])
    if not routes or not set(routes) <= ROUTES:
        raise CatalogFactsError(f"{FILE}: {name}: routes {routes} are not among {sorted(ROUTES)}")
    return EngineFormat(routes, value.get("qformat"), value.get("weight_only_precision"), value.get("quant_algo"),
                        int(value["min_sm"]), tuple((int(low), int(high)) for low, high in value.get("refused_sm") or ()),
                        row)


@functools.cache
def formats() -> Mapping[str, FormatFacts]:
    """Every format of formats.yaml by name (loaded once)."""
    data = load_yaml(FILE)
    sources = source_texts(FILE, data.get("sources") or {})
    return {str(name): _format(str(name), row, sources) for name, row in (data.get("formats") or {}).items()}


def _format(name: str, row: Mapping[str, Any], sources: Mapping[str, str]) -> FormatFacts:
    if row.get("source") not in sources:
        raise CatalogFactsError(f"{FILE}: {name}: source {row.get('source')!r} is not listed under sources")
    facts = FormatFacts(name, int(row["weight_bits"]), bool(row["group_wise"]), str(row["activations"]),
                        bool(row["calibrates"]), tuple(str(kv) for kv in row["kv_cache"]), sources[row["source"]],
                        ranged_rows(FILE, f"{name}.tensorrt", row["tensorrt"], sources), row.get("pytorch"))
    for fact in facts.tensorrt_rows:
        _engine(name, fact)  # a malformed row fails at load, not at first use
    return facts


def format_facts(name: str) -> FormatFacts:
    """The facts of one format.

    Raises:
        KeyError: no such format.
    """
    return formats()[name]
