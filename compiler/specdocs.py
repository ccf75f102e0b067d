"""docs/spec.md, docs/spec.schema.json and docs/plan.schema.json, generated from the pydantic models.

`python -m compiler.specdocs` rewrites all three; a test fails when one is stale or missing.
"""

from __future__ import annotations

import enum
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from compiler.plan.document import json_schema as plan_json_schema
from compiler.spec import SpecFile, json_schema

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " \\| ".join(names) + (" (optional)" if type(None) in args else "")
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"mapping of {_type_name(args[0])} to {_type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " \\| ".join(f"`{m.value}`" for m in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return getattr(annotation, "__name__", str(annotation))


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
        return "(see below)" if isinstance(value, BaseModel) else f"`{value!r}`"
    if info.is_required():
        return "required"
    value = info.default
    if isinstance(value, enum.Enum):
        value = value.value
    return "—" if value is None else f"`{value}`"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows: list[str] = []
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        rows.append(f"| `{key}` | {_type_name(info.annotation)} | {_default(info)} | {info.description or ''} |")
        item = "[]" if typing.get_origin(info.annotation) is list else ""  # a list's items: key[].field
        for candidate in typing.get_args(info.annotation) or (info.annotation,):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                nested.append((key + item, candidate))
    for key, sub in nested:
        rows += _rows(sub, f"{key}.")
    return rows


def spec_markdown() -> str:
    lines = [
        "# Spec reference",
        "",
        "Generated from `compiler/spec.py` by `python -m compiler.specdocs`; do not edit by hand.",
        "",
        "A spec is one YAML file per deployment. Unknown keys are errors (with a \"did you mean\"),",
        "wrong types or values are errors naming what is allowed, and every finding points at the",
        "line where the key was written. `extends: base.yaml` starts from another spec (path taken",
        "from this file's folder) and overrides its keys: mappings merge key by key, lists and",
        "values are replaced. A base with `abstract: true` is only shape-checked. A base, and the",
        "spec itself, must lie in the repository holding the spec (symlinks followed): the git work",
        "tree around it, or outside git the spec's folder and the folders under it (S115).",
        "",
        "Values are plain YAML: text, numbers, true/false, null, mappings and lists; other tags are",
        "refused (S101). Write numbers without leading zeros and quote text that YAML 1.1 would read",
        "otherwise: `010` (octal 8), `1:30` (base 60: 90) and `2024-01-01` (a date) are refused (S108).",
        "",
        "Editors: `trtdeploy schema > spec.schema.json` writes the JSON Schema (also kept as",
        "docs/spec.schema.json); start a spec with",
        "`# yaml-language-server: $schema=<path to spec.schema.json>` for completion and checks in",
        "editors that use the YAML language server.",
        "",
        "| key | type | default | meaning |",
        "|---|---|---|---|",
        *_rows(SpecFile, ""),
        "",
    ]
    return "\n".join(lines)


def schema_json() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


def plan_schema_json() -> str:
    """docs/plan.schema.json: the contract between compile (which writes plan.json) and the runner."""
    return json.dumps(plan_json_schema(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    DOCS.mkdir(exist_ok=True)
    (DOCS / "spec.md").write_text(spec_markdown(), encoding="utf-8")
    (DOCS / "spec.schema.json").write_text(schema_json(), encoding="utf-8")
    (DOCS / "plan.schema.json").write_text(plan_schema_json(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
