"""Command-line surfaces of TensorRT-LLM's (and ModelOpt's) tools per release range, and the argv check.

Each tool is one YAML file under compiler/catalog/tools/ (format: compiler/catalog/README.md):
its flags, each as rows valid from `since` until `until` (exclusive), with the value
kind, choices, default and the source the row was read from. `surface(tool, version)`
is what one exact release accepts; `Surface.check(argv)` lists every problem of an
argv against it and `Surface.parse(argv)` also returns the values given. The planner
checks each argv it writes with it (a problem is a planner bug), and the tests'
stand-ins refuse what it refuses, as the real tool would.

Click groups are `subcommands:` (each with its own flags, positionals, range and
nested subcommands); a group whose unknown first argument runs one subcommand (the
DefaultGroup of trtllm-serve) names it in `default_subcommand:`; a launcher that runs
the rest of its command line (trtllm-llmapi-launch) says `wraps: true`.

A row's version is the version of the product the tool ships with: TensorRT-LLM for
its own tools; for ModelOpt's hf_ptq.py the file says `versioned_by: modelopt`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.catalog.files import read_catalog_yaml
from compiler.catalog.ranges import row_range, row_source, source_texts
from compiler.versions import Version, VersionRange

TOOLS_DIR = Path(__file__).parent / "tools"
# Value kinds a flag row may declare.
SWITCH = "switch"  # store_true / click flag: takes no value
KINDS = frozenset({SWITCH, "int", "float", "str", "choice", "bool"})
BOOL_TEXT = frozenset({"true", "false", "1", "0", "yes", "no"})


class ToolFactsError(RuntimeError):
    """A tool file is malformed, or names no such subcommand: a packaging or caller bug."""


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
    # False: the range was mapped by era, not read at an exact tag; the check accepts the
    # flag (no false refusal), but a planner should not rely on it.
    pinned: bool = True
    required: bool = False
    negation: str = ""  # the off spelling of a switch pair (click --x/--no-x, argparse BooleanOptionalAction)
    alias_of: str = ""  # a later spelling of another flag, with a range of its own

    @property
    def takes_value(self) -> bool:
        return self.kind != SWITCH


@dataclass(frozen=True)
class ToolFacts:
    """One tool file (or one of its subcommands): program, sources, every flag row and subcommand."""

    tool: str
    program: str
    versioned_by: str
    sources: Mapping[str, str]
    rows: Mapping[str, tuple[FlagFact, ...]]
    subcommands: Mapping[str, ToolFacts]
    positionals: tuple[str, ...]
    releases: tuple[Availability, ...] = ()  # a subcommand's releases; empty: every release of the tool
    default_subcommand: str | None = None
    wraps: bool = False

    def availability(self, version: Version) -> Availability | None:
        """The row saying this subcommand exists in `version` (a catch-all row when it has no ranges)."""
        if not self.releases:
            return Availability(VersionRange(Version(0, 0)), "")
        return next((row for row in self.releases if version in row.range), None)


@dataclass(frozen=True)
class Availability:
    """A release range in which a subcommand exists, with its source."""

    range: VersionRange
    source: str
    pinned: bool = True
    note: str = ""


@dataclass(frozen=True)
class ParsedArgs:
    """What an argv gives one level of a tool (the tool itself, or one subcommand), and its problems.

    `values` maps each flag given to the values that followed it, keyed by the flag's
    canonical name (a switch maps to (), its negation spelling to itself); `sub` is the
    subcommand's part; `wrapped` is the command line a wrapping launcher runs.
    """

    path: tuple[str, ...]
    values: Mapping[str, tuple[str, ...]]
    positionals: tuple[str, ...]
    problems: tuple[str, ...]
    sub: ParsedArgs | None = None
    wrapped: tuple[str, ...] = ()

    def all_problems(self) -> list[str]:
        """This level's problems, then the subcommand's."""
        return [*self.problems, *(self.sub.all_problems() if self.sub else ())]

    def leaf(self) -> ParsedArgs:
        """The innermost subcommand's part (this one when there is none)."""
        return self.sub.leaf() if self.sub else self


@dataclass(frozen=True)
class Surface:
    """The flags one exact release of a tool (or of one subcommand) accepts, aliases resolved to their row."""

    tool: str
    version: Version
    flags: Mapping[str, FlagFact]
    positionals: tuple[str, ...] = ()
    subcommands: tuple[str, ...] = ()  # the subcommands this release has
    default_subcommand: str | None = None
    wraps: bool = False
    path: tuple[str, ...] = ()
    pinned: bool = True  # False: this subcommand's presence in the release is mapped by era (see its note)
    all_subcommands: tuple[str, ...] = field(default=(), repr=False)  # in any release, for messages
    root: str = field(default="", repr=False)  # the tool file's name, for the subcommands' surfaces

    def has(self, flag: str) -> bool:
        return flag in self.flags

    def fact(self, flag: str) -> FlagFact | None:
        return self.flags.get(flag)

    def check(self, argv: Sequence[str]) -> list[str]:
        """Every problem of `argv` (the tool's arguments, program excluded) for this release."""
        return self.parse(argv).all_problems()

    def parse(self, argv: Sequence[str]) -> ParsedArgs:
        """The values `argv` gives, level by level, with every problem found."""
        return _parse(self, list(argv))


def _where(surface: Surface) -> str:
    return f"{surface.tool} {surface.version}"


def _parse(surface: Surface, argv: list[str]) -> ParsedArgs:
    if surface.default_subcommand and surface.default_subcommand in surface.subcommands and (
            not argv or argv[0] not in surface.all_subcommands):
        sub = _sub_surface(surface, surface.default_subcommand)
        return ParsedArgs(surface.path, {}, (), (), sub=_parse(sub, argv))
    values: dict[str, tuple[str, ...]] = {}
    positionals: list[str] = []
    problems: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            if surface.wraps:
                return _done(surface, values, positionals, problems, wrapped=tuple(argv[i - 1:]))
            if surface.all_subcommands and not positionals:
                return _enter_subcommand(surface, arg, argv[i:], values, problems)
            positionals.append(arg)
            if len(positionals) > len(surface.positionals):
                problems.append(f"{_where(surface)}: unexpected argument {arg!r}")
            continue
        i = _take_flag(surface, arg, argv, i, values, problems)
    if surface.wraps:
        problems.append(f"{_where(surface)}: needs the command it runs")
    elif surface.subcommands:
        problems.append(f"{_where(surface)}: needs a subcommand: one of {', '.join(surface.subcommands)}")
    return _done(surface, values, positionals, problems)


def _take_flag(surface: Surface, arg: str, argv: list[str], i: int, values: dict[str, tuple[str, ...]],
               problems: list[str]) -> int:
    """Read one flag (and its values) starting at argv[i - 1]; returns the index after it."""
    where = _where(surface)
    name, eq, inline = arg.partition("=")
    fact = surface.flags.get(name)
    if fact is None:
        problems.append(f"{where}: unknown flag {name}")
        return i
    negated = bool(fact.negation) and name == fact.negation
    key = name if negated else fact.name
    if (fact.name in values or fact.negation in values) and not fact.repeatable:
        problems.append(f"{where}: {name} given twice")
    if not fact.takes_value:
        if eq:
            problems.append(f"{where}: {name} is a switch and takes no value")
        values[key] = ()
        return i
    given = [inline] if eq else []
    while not eq and i < len(argv) and not _is_flag(argv[i], surface):
        given.append(argv[i])
        i += 1
        if not fact.multiple:
            break
    if not given:
        problems.append(f"{where}: {name} needs a value")
    for value in given:
        problems.extend(_value_problems(where, fact, value))
    values[key] = (*values.get(key, ()), *given)
    return i


def _enter_subcommand(surface: Surface, name: str, rest: list[str], values: dict[str, tuple[str, ...]],
                      problems: list[str]) -> ParsedArgs:
    if name not in surface.subcommands:
        known = name in surface.all_subcommands
        problems.append(f"{_where(surface)}: " + (f"subcommand {name} is not in this release" if known else
                                                  f"unknown subcommand {name!r}"))
        return _done(surface, values, (), problems)
    sub = _parse(_sub_surface(surface, name), rest)
    parsed = _done(surface, values, (), problems)
    return dataclasses.replace(parsed, sub=sub)


def _done(surface: Surface, values: dict[str, tuple[str, ...]], positionals: Sequence[str], problems: list[str],
          wrapped: tuple[str, ...] = ()) -> ParsedArgs:
    problems.extend(f"{_where(surface)}: missing argument {name}" for name in surface.positionals[len(positionals):])
    given = {surface.flags[k].name if k in surface.flags else k for k in values}
    for fact in {f.name: f for f in surface.flags.values()}.values():
        if fact.required and fact.name not in given:
            problems.append(f"{_where(surface)}: {fact.name} is required")
    return ParsedArgs(surface.path, dict(values), tuple(positionals), tuple(problems), wrapped=wrapped)


def _sub_surface(surface: Surface, name: str) -> Surface:
    return _surface(surface.root or surface.tool, surface.version, (*surface.path, name))


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
        data = read_catalog_yaml(path)
    except OSError as exc:
        raise ToolFactsError(f"no facts for tool {tool!r}: {exc}") from None
    if not isinstance(data, dict):
        raise ToolFactsError(f"{path.name}: not a mapping")
    sources = source_texts(path.name, data.get("sources") or {})
    return _tool(path.name, data, str(data.get("tool", tool)), sources)


def _tool(file: str, data: Mapping[str, Any], tool: str, sources: Mapping[str, str]) -> ToolFacts:
    rows = {flag: tuple(_rows(file, flag, spec, sources)) for flag, spec in (data.get("flags") or {}).items()}
    for flag, flag_rows in rows.items():
        for row in flag_rows:
            if row.alias_of and row.alias_of not in rows:
                raise ToolFactsError(f"{file}: {flag}: alias_of {row.alias_of} is not a flag of {tool}")
    subcommands = {str(name): _tool(file, sub, f"{tool} {name}", sources)
                   for name, sub in (data.get("subcommands") or {}).items()}
    default = data.get("default_subcommand")
    if default is not None and default not in subcommands:
        raise ToolFactsError(f"{file}: default_subcommand {default!r} is not one of its subcommands")
    return ToolFacts(tool=tool, program=str(data.get("program", tool)),
                     versioned_by=str(data.get("versioned_by", "tensorrt_llm")), sources=sources, rows=rows,
                     subcommands=subcommands, positionals=tuple(str(p) for p in data.get("positionals") or ()),
                     releases=tuple(_releases(file, tool, data, sources)),
                     default_subcommand=None if default is None else str(default), wraps=bool(data.get("wraps")))


def _releases(file: str, tool: str, data: Mapping[str, Any], sources: Mapping[str, str]) -> Iterator[Availability]:
    """A subcommand's `releases:` rows ({since, until, pinned, source, note}); none: every release."""
    where = f"{file}: {tool}"
    for row in data.get("releases") or ():
        yield Availability(row_range(where, row, ToolFactsError), row_source(where, row, sources, ToolFactsError),
                           pinned=bool(row.get("pinned", True)), note=str(row.get("note", "")))


def _rows(file: str, flag: str, spec: object, sources: Mapping[str, str]) -> Iterator[FlagFact]:
    where = f"{file}: {flag}"
    if not isinstance(spec, list) or not spec:
        raise ToolFactsError(f"{where}: expected a list of rows")
    for row in spec:
        alias_of = str(row.get("alias_of") or "")
        kind = row.get("kind", SWITCH if alias_of else None)  # an alias row takes its flag's kind
        if kind not in KINDS or (kind == "choice") != bool(row.get("choices")):
            raise ToolFactsError(f"{file}: {flag}: kind {kind!r} (choices go with kind choice only)")
        if row.get("negation") and kind != SWITCH:
            raise ToolFactsError(f"{file}: {flag}: only a switch has a negation")
        yield FlagFact(
            name=flag, kind=kind, source=row_source(where, row, sources, ToolFactsError),
            range=row_range(where, row, ToolFactsError),
            choices=tuple(str(c) for c in row.get("choices") or ()), default=row.get("default"),
            multiple=bool(row.get("multiple")), repeatable=bool(row.get("repeatable")),
            aliases=tuple(str(a) for a in row.get("aliases") or ()), deprecated=bool(row.get("deprecated")),
            note=str(row.get("note", "")), pinned=bool(row.get("pinned", True)), required=bool(row.get("required")),
            negation=str(row.get("negation") or ""), alias_of=alias_of,
        )


def _level(tool: str, path: tuple[str, ...]) -> ToolFacts:
    facts = tool_facts(tool)
    for name in path:
        if name not in facts.subcommands:
            raise ToolFactsError(f"{facts.tool} has no subcommand {name!r}")
        facts = facts.subcommands[name]
    return facts


def surface(tool: str, version: Version, subcommand: str | None = None) -> Surface:
    """The flags `version` of `tool` accepts, or of its `subcommand` (a name, or a path such as "a b").

    Raises:
        ToolFactsError: the tool has no such subcommand in any release.
    """
    return _surface(tool, version, tuple(subcommand.split()) if subcommand else ())


def _path_pinned(tool: str, version: Version, path: tuple[str, ...]) -> bool:
    """Whether every subcommand on `path` is pinned for `version` (False also where one is absent)."""
    facts = tool_facts(tool)
    for name in path:
        facts = facts.subcommands[name]
        row = facts.availability(version)
        if row is None or not row.pinned:
            return False
    return True


@functools.cache
def _surface(tool: str, version: Version, path: tuple[str, ...]) -> Surface:
    facts = _level(tool, path)
    flags: dict[str, FlagFact] = {}
    for name, rows in facts.rows.items():
        for row in rows:
            if version in row.range and not row.alias_of:
                for spelling in (name, *row.aliases, *([row.negation] if row.negation else [])):
                    flags[spelling] = row
    for name, rows in facts.rows.items():
        for row in rows:
            target = flags.get(row.alias_of)
            if version in row.range and target is not None:
                flags[name] = dataclasses.replace(target, pinned=target.pinned and row.pinned,
                                                  note=row.note or target.note)
    present = tuple(name for name, sub in facts.subcommands.items() if sub.availability(version) is not None)
    return Surface(facts.tool, version, flags, facts.positionals, subcommands=present,
                   default_subcommand=facts.default_subcommand, wraps=facts.wraps, path=path,
                   pinned=_path_pinned(tool, version, path),
                   all_subcommands=tuple(facts.subcommands), root=tool)
