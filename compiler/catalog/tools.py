"""Command-line surfaces of TensorRT-LLM's (and ModelOpt's) tools per release range, and the argv check.

Each tool is one YAML file under compiler/catalog/tools/ (format: compiler/catalog/README.md):
its flags, each as rows valid from `since` until `until` (exclusive), with the value
kind, choices, default and the source the row was read from. `surface(tool, version)`
is what one exact release accepts; `Surface.check(argv)` lists every problem of an
argv against it. The planner checks each argv it writes with it (a problem is a
planner bug), and the tests' stand-ins refuse what it refuses, as the real tool would.

A row's version is the version of the product the tool ships with: TensorRT-LLM for
its own tools; for ModelOpt's hf_ptq.py the file says `versioned_by: modelopt`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from compiler.versions import Version, VersionError, VersionRange, parse_version

TOOLS_DIR = Path(__file__).parent / "tools"
# Value kinds a flag row may declare.
SWITCH = "switch"  # store_true / click flag: takes no value
KINDS = frozenset({SWITCH, "int", "float", "str", "choice", "bool"})
BOOL_TEXT = frozenset({"true", "false", "1", "0", "yes", "no"})


class ToolFactsError(RuntimeError):
    """A tool file is malformed: a packaging bug, reported with the file and the flag."""


@dataclass(frozen=True)
class FlagFact:
    """What one release range says of a flag."""

    name: str
    kind: str
    range: VersionRange
    source: str
    choices: tuple[str, ...] = ()
    default: Any = None
    multiple: bool = False  # nargs="+": one flag followed by several values
    repeatable: bool = False  # click `multiple=True`: the flag may be given several times
    aliases: tuple[str, ...] = ()
    deprecated: bool = False
    note: str = ""

    @property
    def takes_value(self) -> bool:
        return self.kind != SWITCH


@dataclass(frozen=True)
class ToolFacts:
    """One tool file: its program, parser style, sources and every flag row (all releases)."""

    tool: str
    program: str
    versioned_by: str
    sources: Mapping[str, str]
    rows: Mapping[str, tuple[FlagFact, ...]]
    subcommands: Mapping[str, ToolFacts]
    positionals: tuple[str, ...]


@dataclass(frozen=True)
class Surface:
    """The flags one exact release of a tool accepts (aliases resolved to their row)."""

    tool: str
    version: Version
    flags: Mapping[str, FlagFact]
    positionals: tuple[str, ...] = ()

    def has(self, flag: str) -> bool:
        return flag in self.flags

    def fact(self, flag: str) -> FlagFact | None:
        return self.flags.get(flag)

    def check(self, argv: Sequence[str]) -> list[str]:
        """Every problem of `argv` (the tool's arguments, program excluded) for this release."""
        return list(_problems(self, argv))


def _problems(surface: Surface, argv: Sequence[str]) -> Iterator[str]:
    seen: set[str] = set()
    positionals = 0
    i = 0
    where = f"{surface.tool} {surface.version}"
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            positionals += 1
            if positionals > len(surface.positionals):
                yield f"{where}: unexpected argument {arg!r}"
            continue
        name, eq, inline = arg.partition("=")
        fact = surface.flags.get(name)
        if fact is None:
            yield f"{where}: unknown flag {name}"
            continue
        if fact.name in seen and not fact.repeatable:
            yield f"{where}: {name} given twice"
        seen.add(fact.name)
        if not fact.takes_value:
            if eq:
                yield f"{where}: {name} is a switch and takes no value"
            continue
        values = [inline] if eq else []
        while not eq and i < len(argv) and not _is_flag(argv[i], surface):
            values.append(argv[i])
            i += 1
            if not fact.multiple:
                break
        if not values:
            yield f"{where}: {name} needs a value"
        for value in values:
            yield from _value_problems(where, fact, value)


def _is_flag(arg: str, surface: Surface) -> bool:
    return arg.startswith("--") or arg.partition("=")[0] in surface.flags


def _value_problems(where: str, fact: FlagFact, value: str) -> Iterator[str]:
    if fact.kind == "choice" and value not in fact.choices:
        yield f"{where}: {fact.name} {value!r} is not one of {', '.join(fact.choices)}"
    elif fact.kind == "int" and not _parses(int, value):
        yield f"{where}: {fact.name} {value!r} is not an integer"
    elif fact.kind == "float" and not _parses(float, value):
        yield f"{where}: {fact.name} {value!r} is not a number"
    elif fact.kind == "bool" and value.lower() not in BOOL_TEXT:
        yield f"{where}: {fact.name} {value!r} is not a boolean"


def _parses(kind: type, value: str) -> bool:
    try:
        kind(value)
    except ValueError:
        return False
    return True


@functools.cache
def tool_facts(tool: str) -> ToolFacts:
    """The facts of one tool file (cached per process).

    Raises:
        ToolFactsError: no such tool file, or a malformed one.
    """
    path = TOOLS_DIR / f"{tool}.yaml"
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except OSError as exc:
        raise ToolFactsError(f"no facts for tool {tool!r}: {exc}") from None
    if not isinstance(data, dict):
        raise ToolFactsError(f"{path.name}: not a mapping")
    return _tool(path.name, data, str(data.get("tool", tool)))


def _tool(file: str, data: Mapping[str, Any], tool: str) -> ToolFacts:
    sources = {str(k): _source_text(file, k, v) for k, v in (data.get("sources") or {}).items()}
    rows = {flag: tuple(_rows(file, flag, spec, sources)) for flag, spec in (data.get("flags") or {}).items()}
    subcommands = {
        str(name): _tool(file, {**sub, "sources": data.get("sources")}, f"{tool} {name}")
        for name, sub in (data.get("subcommands") or {}).items()
    }
    return ToolFacts(tool=tool, program=str(data.get("program", tool)),
                     versioned_by=str(data.get("versioned_by", "tensorrt_llm")), sources=sources, rows=rows,
                     subcommands=subcommands, positionals=tuple(str(p) for p in data.get("positionals") or ()))


def _source_text(file: str, key: object, value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and "path" in value:
        where = f"{value.get('repo', 'NVIDIA/TensorRT-LLM')} {value['path']}"
        return f"{where} @ {value['commit']}" if value.get("commit") else where
    raise ToolFactsError(f"{file}: source {key!r} is neither text nor {{repo, path, commit}}")


def _version(file: str, flag: str, text: object) -> Version:
    if not isinstance(text, str):  # `since: 0.16` would be a float: versions are quoted in the files
        raise ToolFactsError(f"{file}: {flag}: version {text!r} must be a quoted string")
    try:
        return parse_version(text)
    except VersionError as exc:
        raise ToolFactsError(f"{file}: {flag}: {exc}") from None


def _rows(file: str, flag: str, spec: object, sources: Mapping[str, str]) -> Iterator[FlagFact]:
    if not isinstance(spec, list) or not spec:
        raise ToolFactsError(f"{file}: {flag}: expected a list of rows")
    for row in spec:
        kind = row.get("kind")
        if kind not in KINDS or (kind == "choice") != bool(row.get("choices")):
            raise ToolFactsError(f"{file}: {flag}: kind {kind!r} (choices go with kind choice only)")
        if row.get("source") not in sources:
            raise ToolFactsError(f"{file}: {flag}: source {row.get('source')!r} is not listed under sources")
        until = row.get("until")
        yield FlagFact(
            name=flag, kind=kind, source=sources[row["source"]],
            range=VersionRange(_version(file, flag, row.get("since")),
                               None if until is None else _version(file, flag, until)),
            choices=tuple(str(c) for c in row.get("choices") or ()), default=row.get("default"),
            multiple=bool(row.get("multiple")), repeatable=bool(row.get("repeatable")),
            aliases=tuple(str(a) for a in row.get("aliases") or ()), deprecated=bool(row.get("deprecated")),
            note=str(row.get("note", "")),
        )


@functools.cache
def surface(tool: str, version: Version, subcommand: str | None = None) -> Surface:
    """The flags `version` of `tool` (or of its `subcommand`) accepts."""
    facts = tool_facts(tool)
    if subcommand is not None:
        facts = facts.subcommands[subcommand]
    flags: dict[str, FlagFact] = {}
    for name, rows in facts.rows.items():
        for row in rows:
            if version in row.range:
                flags[name] = row
                for alias in row.aliases:
                    flags[alias] = row
    return Surface(facts.tool, version, flags, facts.positionals)
