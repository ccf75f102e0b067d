"""The flag tables of ../shared/reference/trtllm.md §1, parsed, and an argv checker built on them.

`flag_tables()` is {tool: {column: {flag: FlagSpec}}} for trtllm-build (§1.1 core and
plugin flags), quantize.py (§1.2), convert_checkpoint.py (§1.3) and run.py (§1.4:
the common list plus the version-specific table). Columns are keyed "0.8.0",
"0.16.0.dev" and "1.x" (compiler.versions.ReleaseLine.reference_column); the
headers as written ("1.x (65f1d15)", "Newest plugin.py seen*", ...) are in
`HEADERS`. A few cells name flags of one exact release ("`--calib_dataset` (from
0.10)", "`--modelopt_quant_ckpt_path` at 0.10.0"); `flags_for(tool, column,
version)` applies them.

`check_argv` returns every problem of one tool's arguments: a flag unknown to the
column, a flag the column says is absent, a switch given a value, a value outside
the listed choices, a value of the wrong type, a flag given twice.

Imported by tests and by the runner's stand-in programs, so it imports nothing
beyond the standard library (no pytest). The file is found at
../shared/reference/trtllm.md beside the repository, else at $TRTDEPLOY_REFERENCE.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("0.8.0", "0.16.0.dev", "1.x")
TOOLS = ("trtllm-build", "quantize.py", "convert_checkpoint.py", "run.py")

ABSENT, SWITCH, TOGGLE, CHOICE, INT, FLOAT, STR, ANY = "absent", "store_true", "enable|disable", "choice", "int", \
    "float", "str", "any"
DTYPE_WORDS = frozenset({"auto", "float16", "float32", "bfloat16", "None"})
Version = tuple[int, int]


class ReferenceError(RuntimeError):
    """The reference file is missing or not shaped as this parser expects."""


@dataclass(frozen=True)
class FlagSpec:
    """What a column says of a flag: its kind, its choices, whether it takes several values, the cell itself."""

    kind: str
    choices: tuple[str, ...] = ()
    nargs_plus: bool = False
    cell: str = ""


@dataclass(frozen=True)
class Override:
    """A flag of one exact release (`at`) or of every release from `since`, replacing the row's flags."""

    row_flags: frozenset[str]
    flag: str
    spec: FlagSpec
    at: Version | None = None
    since: Version | None = None

    def applies(self, version: Version) -> bool:
        return version == self.at or (self.since is not None and version >= self.since)


@dataclass
class Reference:
    tables: dict[str, dict[str, dict[str, FlagSpec]]] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    overrides: dict[str, list[Override]] = field(default_factory=dict)


def reference_path() -> Path:
    beside = ROOT.parent / "shared" / "reference" / "trtllm.md"
    if beside.is_file():
        return beside
    env = os.environ.get("TRTDEPLOY_REFERENCE")
    if env and Path(env).is_file():
        return Path(env)
    raise ReferenceError(f"trtllm.md not found at {beside}; set TRTDEPLOY_REFERENCE to its path")


# --------------------------------------------------------------------------- markdown


def _section(text: str, start: str, end: str) -> str:
    begin = text.find(start)
    if begin < 0:
        raise ReferenceError(f"section {start!r} not found")
    stop = text.find(end, begin + len(start))
    return text[begin:stop if stop >= 0 else len(text)]


def split_cells(line: str) -> list[str]:
    """Cells of a table row; a '|' inside backticks or escaped as '\\|' belongs to the cell."""
    cells: list[str] = []
    current: list[str] = []
    in_code, i = False, 0
    body = line.strip().removeprefix("|").removesuffix("|")
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body) and body[i + 1] == "|":
            current.append("|")
            i += 2
            continue
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            cells.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        i += 1
    cells.append("".join(current).strip())
    return cells


def tables(section: str) -> Iterator[tuple[list[str], list[list[str]]]]:
    """(header, rows) of every table in a section."""
    lines = section.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"^\|[-\s|]+\|$", lines[i + 1]):
            header = split_cells(lines[i])
            i += 2
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(split_cells(lines[i]))
                i += 1
            yield header, rows
        else:
            i += 1


def column_key(header: str) -> str | None:
    text = header.strip()
    if text.startswith("0.8.0"):
        return "0.8.0"
    if text.startswith("0.16.0.dev"):
        return "0.16.0.dev"
    if text.startswith("1.x") or text.startswith("Newest"):
        return "1.x"
    return None


# --------------------------------------------------------------------------- cells

_FLAG = re.compile(r"`(-{1,2}[A-Za-z][\w-]*)`")
_NOTE = re.compile(r"`(--[\w-]+)`\s+(at|from)\s+(\d+)\.(\d+)")
_FROM = re.compile(r"\(from (\d+)\.(\d+)\)")
_WORD = re.compile(r"^[\w.\-]+$")


def _plain(text: str) -> str:
    return text.replace("**", "").strip()


def row_flags(cell: str) -> list[str]:
    """Flags named in a first cell, aliases included ("`--max_seq_len` (alias `--max_decoder_seq_len`)")."""
    return list(dict.fromkeys(_FLAG.findall(cell)))


def _choice_list(text: str) -> tuple[str, ...]:
    plain = _plain(text).replace("`", "")
    inner = re.search(r"\(([^()]* / [^()]*)\)", plain)
    candidate = inner.group(1) if inner else re.split(r",|;|\. | \(|\.$", plain.removeprefix("choice "))[0]
    words = [w.strip() for w in candidate.split(" / ")]
    return tuple(words) if len(words) >= 2 and all(_WORD.match(w) for w in words) else ()


def _number_kind(text: str) -> str | None:
    if re.fullmatch(r"-?\d+", text):
        return INT
    if re.fullmatch(r"-?\d+\.\d+", text):
        return FLOAT
    return None


def parse_cell(cell: str, previous: FlagSpec | None) -> FlagSpec:
    """One flag's spec from one cell, `previous` being the same flag's spec in the column to the left."""
    text = _plain(cell)
    low = text.lower()
    nargs = "nargs +" in text
    if not text or text.startswith("—") or "removed" in low.split(" ")[0] or low.startswith("not a cli flag"):
        return FlagSpec(ABSENT, cell=cell)
    if low.startswith(("same", "inherited")) or low.startswith("+"):
        return replace(previous, cell=cell) if previous and previous.kind != ABSENT else FlagSpec(ANY, cell=cell)
    if "store_true" in low:
        return FlagSpec(SWITCH, cell=cell)
    if "enable|disable" in low:
        return FlagSpec(TOGGLE, ("enable", "disable"), cell=cell)
    choices = _choice_list(text)
    if choices:
        return FlagSpec(CHOICE, choices, nargs, cell)
    first = re.split(r"[\s,;(]", text.replace("`", ""), maxsplit=1)[0]
    if first in ("int", "float", "str"):
        return FlagSpec({"int": INT, "float": FLOAT, "str": STR}[first], nargs_plus=nargs, cell=cell)
    if text.startswith("`") or first == "required" or "string" in low:
        return FlagSpec(STR, cell=cell)
    if _number_kind(first):
        return FlagSpec(_number_kind(first) or ANY, cell=cell)
    if first in ("enable", "disable"):
        return FlagSpec(TOGGLE, ("enable", "disable"), cell=cell)
    if previous is not None and previous.kind != ABSENT and (first in previous.choices or "flag" in low):
        return replace(previous, cell=cell)
    return FlagSpec(ANY, nargs_plus=nargs, cell=cell)


def _split_positional(cell: str, count: int) -> list[str]:
    """A multi-flag row's cell: one part per flag when it lists that many ("int, 1 / 1"), else the same part."""
    parts = [p.strip() for p in cell.split(" / ")]
    return parts if count > 1 and len(parts) == count else [cell] * count


def _extras(cell: str) -> list[str]:
    """Flags a cell adds beside the row's ("+ `--multiple_of`", "present, plus `--dora_plugin`")."""
    plain = _plain(cell)
    if not (plain.startswith("+") or " plus " in plain or plain.startswith("plus ") or "; plus" in plain):
        return []
    return _FLAG.findall(cell)


def _only(cell: str, flags: list[str]) -> list[str] | None:
    """'lora only': the row's flags containing that word, when the cell says so."""
    match = re.fullmatch(r"(\w+) only", _plain(cell))
    return [f for f in flags if match.group(1) in f] if match else None


# --------------------------------------------------------------------------- rows


@dataclass
class _Table:
    tool: str
    columns: list[str]
    ref: Reference
    dtype_choices: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def put(self, column: str, flag: str, spec: FlagSpec) -> None:
        self.ref.tables.setdefault(self.tool, {}).setdefault(column, {}).setdefault(flag, spec)

    def flag_row(self, flags: list[str], cells: list[str], plugin: bool) -> None:
        previous: dict[str, FlagSpec] = {}
        extra_seen: list[str] = []
        dtype_row = plugin and any(_plain(c).split(" ")[0].rstrip(",;") in DTYPE_WORDS for c in cells)
        extra_choices: list[str] = []
        for column, cell in zip(self.columns, cells, strict=True):
            only = _only(cell, flags)
            extra_choices += re.findall(r"adds? \*\*(\w+)\*\*", cell)
            for flag, part in zip(flags, _split_positional(cell, len(flags)), strict=True):
                spec = parse_cell(part, previous.get(flag))
                if only is not None:
                    spec = FlagSpec(ANY if flag in only else ABSENT, cell=cell)
                if dtype_row and spec.kind != ABSENT and not _choice_list(part):
                    # "auto" or "disable; adds **fp8** to the choices": the column's plugin dtypes, plus additions
                    spec = FlagSpec(CHOICE, (*self.column_dtypes(column), *extra_choices), cell=cell)
                if dtype_row and flag == "--gpt_attention_plugin":
                    self.dtype_choices[column] = spec.choices
                previous[flag] = spec
                self.put(column, flag, spec)
            extra_seen = list(dict.fromkeys([*extra_seen, *_extras(cell)]))
            for flag in extra_seen:
                self.put(column, flag, FlagSpec(ANY, cell=cell))
            self.notes(frozenset(flags), flags, cell)

    def column_dtypes(self, column: str) -> tuple[str, ...]:
        if column in self.dtype_choices:
            return self.dtype_choices[column]
        earlier = [c for c in self.columns[: self.columns.index(column)] if c in self.dtype_choices]
        return self.dtype_choices[earlier[-1]] if earlier else ()

    def flagless_row(self, cells: list[str]) -> None:
        """A row named in prose ("GPTQ checkpoint path", "Model/tokenizer"): each cell lists its column's flags."""
        present: dict[str, FlagSpec] = {}
        row = frozenset(f for cell in cells for f in _FLAG.findall(cell))
        for column, cell in zip(self.columns, cells, strict=True):
            plain = _plain(cell)
            noted = {m.group(1) for m in _NOTE.finditer(cell)}
            # A flag noted "at 0.10.0" or "from 0.11" belongs to that release, unless it is the cell's own (first).
            listed = {f: _annotated(cell, f) for i, f in enumerate(_FLAG.findall(cell)) if i == 0 or f not in noted}
            if plain.startswith("+") or " plus " in plain:
                present = {**present, **listed}
            elif not plain.startswith(("inherited", "same")):
                present = listed
            for flag, spec in present.items():
                self.put(column, flag, spec)
            self.notes(row, [], cell)

    def notes(self, row: frozenset[str], flags: list[str], cell: str) -> None:
        for match in _NOTE.finditer(cell):
            version = (int(match.group(3)), int(match.group(4)))
            at, since = (version, None) if match.group(2) == "at" else (None, version)
            self.ref.overrides.setdefault(self.tool, []).append(
                Override(row, match.group(1), FlagSpec(ANY, cell=cell), at, since))
        for match in _FROM.finditer(cell):
            version = (int(match.group(1)), int(match.group(2)))
            for flag in flags:
                self.ref.overrides.setdefault(self.tool, []).append(
                    Override(row, flag, parse_cell(cell, None), since=version))


def _annotated(text: str, flag: str) -> FlagSpec:
    """A flag named in prose, typed by the parenthesis right after it: "`--top_k` (1)", "`--engine_dir` (`x`)"."""
    match = re.search(re.escape(f"`{flag}`") + r"\s*\(([^()]*)\)", text)
    if match is None:
        return FlagSpec(ANY, cell=text)
    inside = match.group(1)
    if "nargs +" in inside:
        return FlagSpec(ANY, nargs_plus=True, cell=text)
    first = _plain(inside).replace("`", "").split(",")[0].split(";")[0].strip()
    kind = _number_kind(first) or {"int": INT, "float": FLOAT, "str": STR}.get(first)
    if kind is None and inside.strip().startswith("`"):
        kind = STR
    return FlagSpec(kind or ANY, cell=text)


def _read_table(ref: Reference, tool: str, header: list[str], rows: list[list[str]], plugin: bool) -> None:
    columns = [column_key(h) for h in header[1:]]
    if None in columns:
        raise ReferenceError(f"{tool}: unexpected column headers {header}")
    table = _Table(tool, [c for c in columns if c], ref)
    for key, raw in zip(table.columns, header[1:], strict=True):
        ref.headers.setdefault(tool, {}).setdefault(key, raw)
    for row in rows:
        flags = row_flags(row[0])
        if flags:
            table.flag_row(flags, row[1:], plugin)
        else:
            table.flagless_row(row[1:])


def _run_common(ref: Reference, section: str) -> None:
    """§1.4's bullet list: flags every release's run.py takes."""
    common = section.split("Flags common to all three versions:")[1].split("| Version-specific", maxsplit=1)[0]
    for line in common.splitlines():
        if not line.startswith("- "):
            continue
        for flag in _FLAG.findall(line):
            for column in COLUMNS:
                ref.tables.setdefault("run.py", {}).setdefault(column, {}).setdefault(flag, _annotated(line, flag))


@functools.cache
def load(path: str | None = None) -> Reference:
    """Parse the reference (cached): {tool: {column: {flag: FlagSpec}}}, headers and version overrides."""
    text = Path(path or reference_path()).read_text(encoding="utf-8")
    ref = Reference()
    build = _section(text, "### 1.1 ", "### 1.2 ")
    for name, plugin in (("#### Core flags", False), ("#### Plugin flags", True)):
        header, rows = next(tables(_section(build, name, "####" if not plugin else "**Semantics")))
        _read_table(ref, "trtllm-build", header, rows, plugin)
    for tool, start, end in (("quantize.py", "### 1.2 ", "### 1.3 "), ("convert_checkpoint.py", "### 1.3 ", "### 1.4 ")):
        header, rows = next(tables(_section(text, start, end)))
        _read_table(ref, tool, header, rows, False)
    run = _section(text, "### 1.4 ", "\n## ")
    _run_common(ref, run)
    header, rows = next(t for t in tables(run) if t[0][0].startswith("Version-specific"))
    _read_table(ref, "run.py", header, rows, False)
    return ref


def flag_tables() -> dict[str, dict[str, dict[str, FlagSpec]]]:
    """{tool: {column: {flag: FlagSpec}}}, parsed on first use (so a missing file fails where it is needed)."""
    return load().tables


# --------------------------------------------------------------------------- checking


def version_tuple(version: str) -> Version:
    match = re.match(r"^(\d+)\.(\d+)", version)
    if match is None:
        raise ValueError(f"not a version: {version}")
    return int(match.group(1)), int(match.group(2))


def column_for(version: str) -> str:
    """The reference column that documents a release: 0.8-0.10 -> 0.8.0, 0.12-0.x -> 0.16.0.dev, 1.x -> 1.x."""
    major, minor = version_tuple(version)
    if major >= 1:
        return "1.x"
    return "0.8.0" if minor <= 10 else "0.16.0.dev"


def flags_for(tool: str, column: str, version: str | None = None) -> dict[str, FlagSpec]:
    """The flags a tool takes in a column, adjusted to an exact release when one is given."""
    ref = load()
    flags = dict(ref.tables[tool][column])
    if version is None:
        return flags
    for override in ref.overrides.get(tool, []):
        if override.applies(version_tuple(version)):
            for flag in override.row_flags:
                flags.pop(flag, None)
            flags[override.flag] = override.spec
    return flags


def _is_option(word: str) -> bool:
    return word.startswith("-") and len(word) > 1 and re.fullmatch(r"-\d+(\.\d+)?", word) is None


def parse_argv(args: Sequence[str]) -> tuple[list[tuple[str, list[str], bool]], list[str]]:
    """[(flag, values, given_with_=)] and the positional words that precede any flag."""
    parsed: list[tuple[str, list[str], bool]] = []
    positionals: list[str] = []
    for word in args:
        if _is_option(word):
            flag, eq, value = word.partition("=")
            parsed.append((flag, [value] if eq else [], bool(eq)))
        elif parsed and not parsed[-1][2]:
            parsed[-1][1].append(word)
        else:
            positionals.append(word)
    return parsed, positionals


def _value_problem(flag: str, spec: FlagSpec, values: list[str]) -> str | None:
    if spec.kind == SWITCH:
        return f"{flag} is a store_true switch but got {values}" if values else None
    if spec.kind == ANY:
        return None
    if not values or (len(values) > 1 and not spec.nargs_plus):
        return f"{flag} takes {'one or more values' if spec.nargs_plus else 'one value'}, got {values}"
    for value in values:
        if spec.choices and value not in spec.choices:
            return f"{flag} {value!r} is not one of {list(spec.choices)}"
        if spec.kind == INT and not re.fullmatch(r"-?\d+", value):
            return f"{flag} {value!r} is not an int"
        if spec.kind == FLOAT and _number_kind(value) is None:
            return f"{flag} {value!r} is not a float"
    return None


def check_argv(tool: str, column: str, args: Sequence[str], version: str | None = None) -> list[str]:
    """Every problem of `args` (a tool's arguments, program name excluded) against the column's table."""
    known = flags_for(tool, column, version)
    header = load().headers.get(tool, {}).get(column, column)
    parsed, positionals = parse_argv(args)
    problems = [f"{tool}: unexpected positional argument {word!r}" for word in positionals]
    seen: set[str] = set()
    for flag, values, _ in parsed:
        spec = known.get(flag)
        if flag in seen:
            problems.append(f"{tool}: {flag} given twice")
        seen.add(flag)
        if spec is None:
            problems.append(f"{tool}: {flag} is unknown to the {header!r} column")
        elif spec.kind == ABSENT:
            problems.append(f"{tool}: {flag} does not exist in {header!r} (the cell says {spec.cell!r})")
        else:
            problem = _value_problem(flag, spec, values)
            if problem:
                problems.append(f"{tool} ({header}): {problem}")
    return problems
