"""The LLM-API keys of TensorRT-LLM's PyTorch backend per release, and the check of a `--config` YAML.

compiler/catalog/pytorch/llm_api.yaml holds, per release range, every key of TorchLlmArgs
and of its nested configs (kv_cache_config, cuda_graph_config, scheduler_config, ...) with
its kind, choices, bounds, default and source. TensorRT-LLM validates the file trtllm-serve
reads (`--config`, `--extra_llm_api_options`) with pydantic models that have
`extra="forbid"` at every level, so one unknown key stops the server.
`check_llm_api_options(version, mapping)` checks a mapping the same way: it builds pydantic
models (lax mode, like TensorRT-LLM's) from the rows of that release and validates with
them, so unknown keys, wrong types, choices and bounds are refused with pydantic's own
messages, plus the releases that do have a refused key.

The same file holds two facts about how trtllm-serve combines its flags with the YAML:
`precedence(version)` (which side wins) and `build_config_trap(version)` (the releases in
which top-level YAML limits are overwritten by the CLI's build_config).
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from compiler.catalog.files import read_catalog_yaml
from compiler.catalog.ranges import row_range, row_source, source_texts
from compiler.versions import Version, VersionRange, parse_version

LLM_API_FILE = Path(__file__).parent / "pytorch" / "llm_api.yaml"
ROOT_MODEL = "TorchLlmArgs"
FIRST_RELEASE = parse_version("1.0.0rc0")  # the PyTorch backend's tables start at 1.0
KINDS = frozenset({"int", "float", "bool", "str", "choice", "list", "dict", "model", "any"})
ITEM_TYPES: Mapping[str, type] = {"int": int, "float": float, "str": str}
SCALAR_TYPES: Mapping[str, Any] = {"int": int, "float": float, "bool": bool, "str": str, "dict": dict[str, Any],
                                   "any": Any}


class LlmApiFactsError(RuntimeError):
    """llm_api.yaml is malformed: a packaging bug, reported with the model and the key."""


class UntabulatedRelease(ValueError):
    """A release before 1.0: the PyTorch backend's LLM-API is not tabulated there."""


@dataclass(frozen=True)
class FieldRow:
    """What one release range says of one key of one model."""

    name: str
    kind: str
    range: VersionRange
    source: str
    nullable: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    items: str = ""  # the element kind of a list
    model: str = ""  # the nested model of kind model
    min: float | None = None
    max: float | None = None
    status: str = ""  # beta | prototype | deprecated; empty: stable
    pinned: bool = True
    note: str = ""


@dataclass(frozen=True)
class ApiModel:
    """One config model as one release has it: its keys and, for kind model, the nested model."""

    name: str
    fields: Mapping[str, FieldRow]
    nested: Mapping[str, ApiModel]
    open: bool = False  # True: the table lists only some keys, others are not checked

    def has(self, key: str) -> bool:
        return key in self.fields


@dataclass(frozen=True)
class Precedence:
    """How trtllm-serve merges its flags and the YAML in one release range."""

    range: VersionRange
    winner: str  # "yaml": the YAML beats every CLI value; "explicit_cli": flags typed on the command line win
    kv_cache_config: str  # "replaced": a YAML block replaces the CLI-built one; "merged": deep-merged
    source: str
    pinned: bool
    note: str


@dataclass(frozen=True)
class BuildConfigTrap:
    """Whether top-level YAML limits are overwritten by the CLI's build_config, and where they go instead."""

    range: VersionRange
    trapped: bool
    knobs: Mapping[str, str | None]  # TorchLlmArgs key -> the trtllm-serve flag that sets it (None: build_config: only)
    source: str
    pinned: bool
    note: str


@dataclass(frozen=True)
class CheckRow:
    """A cross-field check of one model's validator, in one release range (its name is a key of CHECKS)."""

    name: str
    range: VersionRange
    source: str
    pinned: bool
    note: str


@dataclass(frozen=True)
class _Facts:
    models: Mapping[str, Mapping[str, tuple[FieldRow, ...]]]
    open_models: frozenset[str]
    checks: Mapping[str, tuple[CheckRow, ...]]
    not_keys: Mapping[str, str]
    precedence: tuple[Precedence, ...]
    build_config_trap: tuple[BuildConfigTrap, ...]


@functools.cache
def _facts() -> _Facts:
    data = read_catalog_yaml(LLM_API_FILE)
    sources = source_texts("llm_api.yaml", data.get("sources") or {})
    models = {str(name): {str(key): tuple(_rows(f"{name}.{key}", rows, sources))
                          for key, rows in (spec.get("fields") or {}).items()}
              for name, spec in (data.get("models") or {}).items()}
    for name, fields in models.items():
        for key, rows in fields.items():
            missing = [row.model for row in rows if row.kind == "model" and row.model not in models]
            if missing:
                raise LlmApiFactsError(f"llm_api.yaml: {name}.{key}: model {missing[0]!r} is not defined")
    checks = {str(name): tuple(_check_rows(str(name), spec.get("checks") or (), sources))
              for name, spec in (data.get("models") or {}).items()}
    facts = data.get("facts") or {}
    return _Facts(
        models=models,
        open_models=frozenset(str(n) for n, spec in (data.get("models") or {}).items() if spec.get("open")),
        checks=checks,
        not_keys={str(key): str(row["note"]) for key, row in (data.get("not_keys") or {}).items()
                  if _source_of(str(key), row, sources)},
        precedence=tuple(Precedence(_range("precedence", row), str(row["winner"]), str(row["kv_cache_config"]),
                                    _source_of("precedence", row, sources), bool(row.get("pinned", True)),
                                    str(row.get("note", ""))) for row in facts.get("precedence") or ()),
        build_config_trap=tuple(BuildConfigTrap(_range("build_config_trap", row), bool(row["trapped"]),
                                                dict(row.get("knobs") or {}),
                                                _source_of("build_config_trap", row, sources),
                                                bool(row.get("pinned", True)), str(row.get("note", "")))
                                for row in facts.get("build_config_trap") or ()),
    )


def _source_of(where: str, row: Mapping[str, Any], sources: Mapping[str, str]) -> str:
    return row_source(f"llm_api.yaml: {where}", row, sources, LlmApiFactsError)


def _range(where: str, row: Mapping[str, Any]) -> VersionRange:
    return row_range(f"llm_api.yaml: {where}", row, LlmApiFactsError)


def _rows(where: str, rows: object, sources: Mapping[str, str]) -> Iterator[FieldRow]:
    if not isinstance(rows, list) or not rows:
        raise LlmApiFactsError(f"llm_api.yaml: {where}: expected a list of rows")
    for row in rows:
        kind = row.get("kind")
        paired = ((kind == "choice") == bool(row.get("choices")) and (kind == "model") == bool(row.get("model"))
                  and (kind == "list") == (row.get("items") in ITEM_TYPES))
        if kind not in KINDS or not paired:
            raise LlmApiFactsError(f"llm_api.yaml: {where}: kind {kind!r} (choices, model, items go with their kind)")
        yield FieldRow(
            name=where.rpartition(".")[2], kind=kind, range=_range(where, row), source=_source_of(where, row, sources),
            nullable=bool(row.get("nullable")), default=row.get("default"),
            choices=tuple(str(c) for c in row.get("choices") or ()), items=str(row.get("items") or ""),
            model=str(row.get("model") or ""), min=row.get("min"), max=row.get("max"),
            status=str(row.get("status") or ""),
            pinned=bool(row.get("pinned", True)), note=str(row.get("note", "")),
        )


def _check_rows(model: str, rows: object, sources: Mapping[str, str]) -> Iterator[CheckRow]:
    for row in rows:  # type: ignore[attr-defined]
        if row.get("check") not in CHECKS:
            raise LlmApiFactsError(f"llm_api.yaml: {model}: check {row.get('check')!r} is not one of {sorted(CHECKS)}")
        yield CheckRow(str(row["check"]), _range(model, row), _source_of(model, row, sources),
                       bool(row.get("pinned", True)), str(row.get("note", "")))


def _require_tabulated(version: Version) -> None:
    if version < FIRST_RELEASE:
        raise UntabulatedRelease(f"TensorRT-LLM {version}: the PyTorch backend's LLM-API is tabulated from 1.0 on")


@functools.cache
def llm_api_keys(version: Version, model: str = ROOT_MODEL) -> ApiModel:
    """The keys `model` (TorchLlmArgs by default) has in `version`, nested models included.

    Raises:
        UntabulatedRelease: `version` is before 1.0.
    """
    _require_tabulated(version)
    facts = _facts()
    fields = {key: row for key, rows in facts.models[model].items() for row in rows if version in row.range}
    nested = {key: llm_api_keys(version, row.model) for key, row in fields.items() if row.kind == "model"}
    return ApiModel(model, fields, nested, model in facts.open_models)


def check_llm_api_options(version: Version, mapping: Mapping[str, Any]) -> list[str]:
    """Every problem TensorRT-LLM `version` would find in `mapping` as its LLM-API YAML, one line each.

    Raises:
        UntabulatedRelease: `version` is before 1.0.
    """
    _require_tabulated(version)
    if not isinstance(mapping, Mapping):
        return [f"TensorRT-LLM {version} LLM-API options: expected a mapping, got {type(mapping).__name__}"]
    try:
        _pydantic_model(version, ROOT_MODEL).model_validate(dict(mapping))
    except ValidationError as exc:
        return [_message(version, error) for error in exc.errors()]
    return list(_cross_field_problems(version, ROOT_MODEL, mapping, ""))


def unpinned_keys(version: Version, mapping: Mapping[str, Any]) -> list[str]:
    """The dotted keys of `mapping` whose row for `version` is mapped by era (pinned: false).

    A planner should not emit them: the check accepts them, but the release may lack them.
    """
    _require_tabulated(version)
    return list(_unpinned(llm_api_keys(version), mapping, ""))


def _unpinned(model: ApiModel, mapping: Mapping[str, Any], prefix: str) -> Iterator[str]:
    for key, value in mapping.items():
        row = model.fields.get(key)
        if row is None:
            continue
        if not row.pinned:
            yield prefix + key
        if key in model.nested and isinstance(value, Mapping):
            yield from _unpinned(model.nested[key], value, f"{prefix}{key}.")


def precedence(version: Version) -> Precedence:
    """Which side wins when trtllm-serve gets a setting both as a flag and in the YAML.

    Raises:
        UntabulatedRelease: `version` is before 1.0.
    """
    _require_tabulated(version)
    return next(row for row in _facts().precedence if version in row.range)


def build_config_trap(version: Version) -> BuildConfigTrap:
    """Whether `version` overwrites top-level YAML limits with the CLI's build_config (and which flag sets each).

    Raises:
        UntabulatedRelease: `version` is before 1.0.
    """
    _require_tabulated(version)
    return next(row for row in _facts().build_config_trap if version in row.range)


def key_history(model: str, key: str) -> tuple[FieldRow, ...]:
    """Every row of `model`.`key` across releases (empty when no release tabulated has it)."""
    return _facts().models.get(model, {}).get(key, ())


# pydantic models of one release ---------------------------------------------------------------

@functools.cache
def _pydantic_model(version: Version, model: str) -> type[BaseModel]:
    api = llm_api_keys(version, model)
    fields: dict[str, Any] = {key: (_annotation(version, row), Field(default=None, ge=row.min, le=row.max))
                              for key, row in api.fields.items()}
    config = ConfigDict(extra="allow" if api.open else "forbid")
    return create_model(model, __config__=config, **fields)


def _annotation(version: Version, row: FieldRow) -> Any:
    if row.kind == "choice":
        annotation: Any = Literal[row.choices]  # Literal of a tuple spreads its values
    elif row.kind == "list":
        annotation = list.__class_getitem__(ITEM_TYPES[row.items])  # a runtime-built list[<item type>]
    elif row.kind == "model":
        annotation = _pydantic_model(version, row.model)
    else:
        annotation = SCALAR_TYPES[row.kind]
    # Every key may be absent; only nullable ones may be given as null.
    return Optional[annotation] if row.nullable else annotation  # noqa: UP045 (a runtime-built annotation)


# Cross-field checks --------------------------------------------------------------------------

def _generated_cuda_graph_batch_sizes(max_batch_size: int, enable_padding: bool) -> list[int]:
    """The batch sizes CudaGraphConfig derives from max_batch_size (llm_args.py, _generate_cuda_graph_batch_sizes)."""
    if enable_padding:
        sizes = [1, 2, 4] + [i * 8 for i in range(1, 17)]
        while sizes[-1] + 64 <= max_batch_size:
            sizes.append(sizes[-1] + 64)
    else:
        sizes = [*range(1, 32), 32, 64, 128]
        power = 256
        while power < max_batch_size:
            sizes.append(power)
            power *= 2
    sizes = sorted(size for size in sizes if size <= max_batch_size)
    if not sizes or sizes[-1] != max_batch_size:
        sizes.append(max_batch_size)
    return sizes


def _batch_sizes_are_the_generated_list(values: Mapping[str, Any]) -> str | None:
    sizes, top = values.get("batch_sizes"), values.get("max_batch_size") or 0
    if not sizes or not top:
        return None
    expected = _generated_cuda_graph_batch_sizes(top, bool(values.get("enable_padding")))
    if sorted(sizes) != expected:
        return f"batch_sizes {sorted(sizes)} are not the list generated from max_batch_size {top} ({expected})"
    return None


def _max_batch_size_is_max_of_batch_sizes(values: Mapping[str, Any]) -> str | None:
    sizes, top = values.get("batch_sizes"), values.get("max_batch_size") or 0
    if sizes and top and top != max(sizes):
        return f"max_batch_size {top} must equal max(batch_sizes) {max(sizes)} when both are given"
    return None


CHECKS = {
    "batch_sizes_are_the_generated_list": _batch_sizes_are_the_generated_list,
    "max_batch_size_is_max_of_batch_sizes": _max_batch_size_is_max_of_batch_sizes,
}


def _cross_field_problems(version: Version, model: str, values: Mapping[str, Any], prefix: str) -> Iterator[str]:
    for check in _facts().checks.get(model, ()):
        problem = CHECKS[check.name](values) if version in check.range else None
        if problem:
            yield f"TensorRT-LLM {version} LLM-API key {prefix.rstrip('.') or model}: {problem}"
    api = llm_api_keys(version, model)
    for key, value in values.items():
        row = api.fields.get(key)
        if row is not None and row.kind == "model" and isinstance(value, Mapping):
            yield from _cross_field_problems(version, row.model, value, f"{prefix}{key}.")


def _message(version: Version, error: Mapping[str, Any]) -> str:
    path = ".".join(str(part) for part in error["loc"])
    text = f"TensorRT-LLM {version} LLM-API key {path}: {error['msg']}"
    if error["type"] == "extra_forbidden":
        text += _where_else(version, [str(p) for p in error["loc"] if not isinstance(p, int)])
    return text


def _where_else(version: Version, path: list[str]) -> str:
    """For an unknown key: the releases that have it, or the keys it may have meant."""
    model = ROOT_MODEL
    for key in path[:-1]:
        row = llm_api_keys(version, model).fields.get(key)
        if row is None or row.kind != "model":
            return ""
        model = row.model
    key = path[-1]
    rows = key_history(model, key)
    if rows:
        return f" ({model}.{key} is in " + "; ".join(str(row.range) for row in rows) + ")"
    if model == ROOT_MODEL and key in _facts().not_keys:
        return f" ({_facts().not_keys[key]})"
    close = difflib.get_close_matches(key, list(llm_api_keys(version, model).fields), n=1, cutoff=0.8)
    return f" (did you mean {close[0]}?)" if close else ""
