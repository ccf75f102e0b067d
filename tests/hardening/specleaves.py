"""The spec's leaves, enumerated from the pydantic models in compiler.spec (never by hand).

A new field in compiler/spec.py is picked up here automatically, so the fuzz and
injection tests cover it without an edit. Each leaf carries what the fuzzers need:
its key path, its base type (int, float, bool, str or an Enum), whether it is a list
of such values or a mapping of names to them, and its declared bounds, length limit and
pattern (of the values; a mapping's keys are left to the mutations). A list of sections
(verify.accuracy) is walked through its first item: the path holds the index 0.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import annotated_types
from pydantic import BaseModel, StringConstraints
from pydantic.fields import FieldInfo

from compiler.spec import SpecFile

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Leaf:
    """One scalar (or list-of-scalars) field of the spec."""

    path: KeyPath
    base: type
    is_list: bool = False
    is_map: bool = False
    optional: bool = False
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    max_length: int | None = None
    pattern: str | None = None

    @property
    def dotted(self) -> str:
        return ".".join(map(str, self.path))

    @property
    def is_text(self) -> bool:
        """A free string (not an enum): where a user can type anything."""
        return self.base is str

    def holding(self, value: Any) -> Any:
        """`value` in the leaf's own shape: a one-item list, a one-entry mapping, or itself."""
        if self.is_list:
            return [value]
        if self.is_map:
            return {"name": value}
        return value


def _constraints(leaf: dict[str, Any], items: typing.Iterable[object]) -> None:
    """Collect bounds from annotated_types / StringConstraints / nested FieldInfo metadata."""
    for item in items:
        if isinstance(item, FieldInfo):
            _constraints(leaf, item.metadata)
        elif isinstance(item, StringConstraints):
            leaf["max_length"] = item.max_length
            leaf["pattern"] = item.pattern if isinstance(item.pattern, str) else None
        elif isinstance(item, annotated_types.Ge):
            leaf["ge"] = item.ge
        elif isinstance(item, annotated_types.Le):
            leaf["le"] = item.le
        elif isinstance(item, annotated_types.Gt):
            leaf["gt"] = item.gt
        elif isinstance(item, annotated_types.MaxLen):
            leaf["max_length"] = item.max_length


def _unwrap(annotation: object, leaf: dict[str, Any]) -> object:
    """Strip Optional, list[...], dict[..., ...] and Annotated, recording what was stripped."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        leaf["optional"] = True
        return _unwrap(args[0], leaf) if len(args) == 1 else annotation
    if origin is list:
        leaf["is_list"] = True
        return _unwrap(typing.get_args(annotation)[0], leaf)
    if origin is dict:
        leaf["is_map"] = True
        return _unwrap(typing.get_args(annotation)[1], leaf)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        _constraints(leaf, meta)
        return _unwrap(base, leaf)
    return annotation


def leaves(model: type[BaseModel] = SpecFile, prefix: KeyPath = ()) -> Iterator[Leaf]:
    """Every scalar leaf of `model`, depth first, in declaration order."""
    for name, info in model.model_fields.items():
        found: dict[str, Any] = {}
        _constraints(found, info.metadata)
        base = _unwrap(info.annotation, found)
        if isinstance(base, type) and issubclass(base, BaseModel):
            yield from leaves(base, (*prefix, name, *((0,) if found.get("is_list") else ())))
        elif isinstance(base, type) and issubclass(base, (int, float, str, enum.Enum)):
            yield Leaf((*prefix, name), base, **found)
        elif base is Any and found.get("is_map"):
            # A free-form mapping (runtime.llm_api_options): its values are fuzzed as text, the widest input.
            yield Leaf((*prefix, name), str, **found)
        elif _scalar_union(base):
            # A number or a path (verify.accuracy[].baseline): fuzzed as text, the widest of its forms.
            yield Leaf((*prefix, name), str, **{k: v for k, v in found.items() if k in ("optional", "is_list")})
        else:
            raise TypeError(f"{'.'.join(map(str, (*prefix, name)))}: a field type the fuzzers do not know: {base!r}")


def _scalar_union(annotation: object) -> bool:
    """A union of scalar types, each perhaps constrained (Annotated)."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return False
    bases = [_unwrap(a, {}) for a in typing.get_args(annotation) if a is not type(None)]
    return all(isinstance(b, type) and issubclass(b, (int, float, str)) for b in bases)


def sections(model: type[BaseModel] = SpecFile, prefix: KeyPath = ()) -> Iterator[KeyPath]:
    """Every key path that holds a mapping of sub-keys."""
    for name, info in model.model_fields.items():
        found: dict[str, Any] = {}
        base = _unwrap(info.annotation, found)
        if isinstance(base, type) and issubclass(base, BaseModel):
            yield (*prefix, name)
            yield from sections(base, (*prefix, name, *((0,) if found.get("is_list") else ())))


def text_leaves() -> list[Leaf]:
    """Leaves a user fills with free text (strings and lists of strings, enums excluded)."""
    return [leaf for leaf in leaves() if leaf.is_text]
