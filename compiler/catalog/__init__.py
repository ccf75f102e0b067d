"""Built-in catalogs: GPUs, models and the support matrix, as data files with their sources.

The YAML files beside this module are the facts; this module only loads them
(once per process), checks their shape and offers lookups. Every row names the
public source it was read from (see each file's `sources:`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.catalog.files import read_catalog_yaml
from compiler.modelconfig import (
    ModelFacts,
    UnsupportedModelConfig,
    facts_from_catalog_entry,
)

CATALOG_DIR = Path(__file__).parent
GIB = 1 << 30


@dataclass(frozen=True)
class GpuFacts:
    """What the planner and rules need to know about one GPU model."""

    id: str
    name: str
    architecture: str
    compute_capability: str
    memory_gib: float
    memory_bandwidth_gbps: float
    nvlink: bool
    p2p: bool
    form_factor: str
    aliases: tuple[str, ...]
    sources: tuple[tuple[str, str], ...]

    @property
    def sm(self) -> int:
        """Compute capability as an integer, 8.9 -> 89."""
        major, _, minor = self.compute_capability.partition(".")
        return int(major) * 10 + int(minor or 0)

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gib * GIB)


@dataclass(frozen=True)
class CatalogModel:
    """A catalog row: the model's facts plus how it is named and where they were read."""

    id: str
    hf_repo: str
    aliases: tuple[str, ...]
    facts: ModelFacts
    sources: tuple[str, ...]
    verified: bool


class CatalogError(RuntimeError):
    """A catalog data file is malformed: a packaging bug, reported with the file and entry."""


def _yaml(name: str) -> dict[str, Any]:
    data = read_catalog_yaml(CATALOG_DIR / name)
    if not isinstance(data, dict):
        raise CatalogError(f"{name}: not a mapping")
    return data


def _key(text: str) -> str:
    return text.strip().lower().replace("_", "-").replace(" ", "-")


def _gpu(row: dict[str, Any], sources: dict[str, Any]) -> GpuFacts:
    used = row.get("sources") or {}
    missing = [k for k in ("memory_gib", "memory_bandwidth_gbps", "compute_capability") if k not in used]
    unknown = [v for v in used.values() if v not in sources]
    if missing or unknown:
        raise CatalogError(f"gpus.yaml: {row.get('id')}: sources missing {missing} or unknown {unknown}")
    return GpuFacts(
        id=str(row["id"]),
        name=str(row["name"]),
        architecture=str(row["architecture"]),
        compute_capability=str(row["compute_capability"]),
        memory_gib=float(row["memory_gib"]),
        memory_bandwidth_gbps=float(row["memory_bandwidth_gbps"]),
        nvlink=bool(row["nvlink"]),
        p2p=bool(row["p2p"]),
        form_factor=str(row["form_factor"]),
        aliases=tuple(str(a) for a in row.get("aliases") or ()),
        sources=tuple((field, str(sources[key]["url"])) for field, key in sorted(used.items())),
    )


@functools.cache
def gpus() -> dict[str, GpuFacts]:
    """Every catalog GPU by id, in file order."""
    data = _yaml("gpus.yaml")
    sources = data.get("sources") or {}
    return {g.id: g for g in (_gpu(row, sources) for row in data["gpus"])}


@functools.cache
def _gpu_index() -> dict[str, GpuFacts]:
    index: dict[str, GpuFacts] = {}
    for gpu in gpus().values():
        for name in (gpu.id, *gpu.aliases):
            index[_key(name)] = gpu
    return index


def find_gpu(name: str) -> GpuFacts | None:
    """Look a GPU up by id or alias, ignoring case, '_' versus '-' and spaces."""
    return _gpu_index().get(_key(name))


def gpu_names() -> list[str]:
    return list(gpus())


def _model(row: dict[str, Any], sources: dict[str, Any]) -> CatalogModel:
    unknown = [s for s in row.get("sources") or () if s not in sources]
    if unknown or not row.get("sources"):
        raise CatalogError(f"models.yaml: {row.get('id')}: sources missing or unknown {unknown}")
    try:
        facts = facts_from_catalog_entry(row)
    except UnsupportedModelConfig as exc:
        raise CatalogError(f"models.yaml: {row.get('id')}: {exc}") from None
    return CatalogModel(
        id=str(row["id"]),
        hf_repo=str(row.get("hf_repo", "")),
        aliases=tuple(str(a) for a in row.get("aliases") or ()),
        facts=facts,
        sources=tuple(str(sources[s]["url"]) for s in row["sources"]),
        verified=bool(row.get("verified", True)),
    )


@functools.cache
def models() -> dict[str, CatalogModel]:
    """Every catalog model by id, in file order."""
    data = _yaml("models.yaml")
    sources = data.get("sources") or {}
    return {m.id: m for m in (_model(row, sources) for row in data["models"])}


@functools.cache
def _model_index() -> dict[str, CatalogModel]:
    index: dict[str, CatalogModel] = {}
    for model in models().values():
        for name in (model.id, model.hf_repo, *model.aliases):
            if name:
                index[_key(name)] = model
    return index


def find_model(name: str) -> CatalogModel | None:
    """Look a model up by id, Hugging Face repo id or alias, ignoring case."""
    return _model_index().get(_key(name))


def model_names() -> list[str]:
    return list(models())


@dataclass(frozen=True)
class Requirement:
    """The smallest compute capability a model dtype or KV-cache dtype needs, and where that was read."""

    name: str
    min_sm: int
    source_url: str


@dataclass(frozen=True)
class SupportMatrix:
    """support.yaml: what each model dtype and KV-cache dtype needs."""

    kv_cache: dict[str, Requirement]
    dtypes: dict[str, Requirement]


def _requirements(section: dict[str, Any], sources: dict[str, Any]) -> dict[str, Requirement]:
    return {name: Requirement(name, int(row["min_sm"]), str(sources[row["source"]]["url"]))
            for name, row in section.items()}


@functools.cache
def support() -> SupportMatrix:
    data = _yaml("support.yaml")
    sources = data["sources"]
    return SupportMatrix(kv_cache=_requirements(data["kv_cache"], sources),
                         dtypes=_requirements(data["dtypes"], sources))
