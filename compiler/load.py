"""load: YAML text -> SpecFile, keeping the line and column of every key.

Owns reading spec files safely: size and alias-expansion limits, duplicate keys,
plain values only (no tags, no YAML 1.1 octal, base-60 or date surprises),
`extends:` (with cycle detection and deep merge) confined to the repository that
holds the spec, and turning every YAML or shape problem into a Finding (codes S1xx)
instead of an exception. A file that is not a spec is refused without quoting it.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import yaml
from pydantic import BaseModel, ValidationError

from compiler.findings import Finding, Location, Severity
from compiler.spec import VERBATIM_SCALAR_KEYS, SpecFile

MAX_FILE_BYTES = 1 << 20
MAX_NODES = 20_000
MAX_DEPTH = 64
MAX_EXTENDS_DEPTH = 16
# Deeper than this, libyaml's composer is not used (see `compose`): it crashed only near 100,000 levels,
# and the reader refuses anything deeper than MAX_DEPTH anyway.
C_PARSER_MAX_NESTING = 2000
# YAML's line breaks (str.splitlines also splits at characters YAML keeps inside a line).
_LINE_BREAKS = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
_C_LOADER: type | None = getattr(yaml, "CSafeLoader", None)
# How many characters of a key a message quotes: a key may come from a file that is not meant to be shown.
MAX_QUOTED_KEY = 40

_YAML = "tag:yaml.org,2002:"
# The only tags a spec's values may have: JSON's types. Anything else (!!binary, !!timestamp, !!set,
# !!python/...) either makes a value no report or plan can hold, or is a way to smuggle one in.
PLAIN_SCALAR_TAGS = frozenset(_YAML + name for name in ("str", "int", "float", "bool", "null"))
COLLECTION_TAGS = {yaml.MappingNode: _YAML + "map", yaml.SequenceNode: _YAML + "seq"}
TIMESTAMP_TAG = _YAML + "timestamp"
KEY_TAGS = PLAIN_SCALAR_TAGS | {TIMESTAMP_TAG}  # a key is read as its text, so `2024-01-01:` is merely unknown
# YAML 1.1 reads `010` as octal 8 and `1:30` as base-60 90: a spec refuses both rather than guess.
_LEADING_ZERO = re.compile(r"[-+]?0[0-9_]+")

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadedSpec:
    """A spec file after loading: the model (None when its shape is wrong) and where each key was written."""

    path: str
    spec: SpecFile | None
    positions: Mapping[KeyPath, Location]
    chain: tuple[str, ...]
    findings: tuple[Finding, ...]
    raw: Mapping[str, Any] = field(default_factory=dict)

    def location(self, key: KeyPath) -> Location:
        """The closest known location of a key: the key itself, else its nearest parent, else the file."""
        for end in range(len(key), 0, -1):
            loc = self.positions.get(key[:end])
            if loc is not None:
                return loc
        return Location(self.path, 1, 1)


class LoadError(Exception):
    """A problem that stops loading one file; carries the finding that reports it."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


def dotted(key: KeyPath) -> str:
    return ".".join(str(part) for part in key)


def quoted_key(name: str) -> str:
    """A key as a message quotes it: at most MAX_QUOTED_KEY characters."""
    return name if len(name) <= MAX_QUOTED_KEY else name[: MAX_QUOTED_KEY - 1] + "…"


def _error(code: str, message: str, hint: str, loc: Location, key: KeyPath = ()) -> LoadError:
    return LoadError(Finding(code, Severity.ERROR, message, hint, dotted(key), loc))


class _NodeReader:
    """Turns a composed YAML node tree into plain data, recording positions and refusing bombs."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.positions: dict[KeyPath, Location] = {}
        self.visited = 0
        self.findings: list[Finding] = []
        self._constructor = yaml.SafeLoader("")

    def loc(self, node: yaml.Node) -> Location:
        return Location(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def read(self, node: yaml.Node, key: KeyPath, depth: int) -> Any:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise _error(
                "S106",
                f"the document expands to more than {MAX_NODES} YAML nodes (an alias bomb or a huge file)",
                "write the spec out plainly; anchors and aliases may not multiply it",
                self.loc(node),
                key,
            )
        if depth > MAX_DEPTH:
            raise _error("S106", f"nesting deeper than {MAX_DEPTH} levels", "flatten the document", self.loc(node), key)
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag != COLLECTION_TAGS[type(node)]:
            raise self._tag_error(node, key)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, key, depth)
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                self.positions.setdefault((*key, index), self.loc(item))
                items.append(self.read(item, (*key, index), depth + 1))
            return items
        return self._scalar(node, key)

    def _mapping(self, node: yaml.MappingNode, key: KeyPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in sources:
                    value = self.read(source, key, depth + 1)
                    if not isinstance(value, dict):
                        raise _error("S101", "a '<<' merge needs a mapping", "merge a mapping alias", self.loc(source), key)
                    merged = {**value, **merged}
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise _error("S101", "a mapping key must be a plain word", "use a plain key", self.loc(key_node), key)
            if key_node.tag not in KEY_TAGS:
                raise self._tag_error(key_node, key)
            name = self._text(str(key_node.value), key_node, key)
            if name in result:
                self.findings.append(
                    Finding(
                        "S105",
                        Severity.ERROR,
                        f"duplicate key '{quoted_key(name)}'",
                        "remove one of the two; YAML would silently keep the last",
                        dotted((*key, name)),
                        self.loc(key_node),
                    )
                )
            self.positions[(*key, name)] = self.loc(key_node)
            result[name] = self.read(value_node, (*key, name), depth + 1)
        return {**merged, **result}

    def _scalar(self, node: yaml.Node, key: KeyPath) -> Any:
        if node.tag == TIMESTAMP_TAG:
            raise _error("S108", f"{dotted(key)}: {node.value} reads as a date or time in YAML",
                         f"quote it if text is meant: '{node.value}'", self.loc(node), key)
        if node.tag not in PLAIN_SCALAR_TAGS:
            raise self._tag_error(node, key)
        if key in VERBATIM_SCALAR_KEYS and node.tag != _YAML + "null":
            return self._text(str(node.value), node, key)
        try:
            value = self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            raise _error("S101", f"cannot read this value: {exc}", "write a plain value", self.loc(node), key) from None
        if node.tag in (_YAML + "int", _YAML + "float"):
            self._refuse_yaml11_number(str(node.value), value, node, key)
        return self._text(value, node, key) if isinstance(value, str) else value

    def _refuse_yaml11_number(self, text: str, value: int | float, node: yaml.Node, key: KeyPath) -> None:
        """`010` (octal 8) and `1:30` (base-60 90) mean something else to every other reader of the spec."""
        if ":" in text:
            raise _error("S108", f"{dotted(key)}: {text} is a base-60 number in YAML 1.1 ({value})",
                         f"write {value}, or quote it if text is meant: '{text}'", self.loc(node), key)
        if _LEADING_ZERO.fullmatch(text):
            decimal = text.replace("_", "").lstrip("+-").lstrip("0") or "0"
            sign = "-" if text.startswith("-") and decimal != "0" else ""
            raise _error("S108", f"{dotted(key)}: {text} has a leading zero, so YAML 1.1 reads it as octal ({value})",
                         f"write {sign}{decimal}, or quote it if text is meant: '{text}'", self.loc(node), key)

    def _tag_error(self, node: yaml.Node, key: KeyPath) -> LoadError:
        return _error("S101", f"unsupported YAML tag '{node.tag}'",
                      "specs hold plain values only (text, numbers, true/false, null, mappings, lists); remove the tag",
                      self.loc(node), key)

    def _text(self, value: str, node: yaml.Node, key: KeyPath) -> str:
        """Refuse what no path, argv or report can carry: a NUL (\\0) or a lone surrogate (\\ud800) escape."""
        if "\x00" in value:
            raise _error("S108", f"{dotted(key) or 'a key'}: a NUL character (\\0) is not allowed in a spec",
                         "remove the \\0 escape", self.loc(node), key)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _error("S108", f"{dotted(key) or 'a key'}: a lone surrogate escape is not valid text",
                         "write the character itself, or a \\U escape of a whole code point", self.loc(node),
                         key) from None
        return value


def _read_capped(handle: BinaryIO, limit: int) -> bytes:
    """At most `limit` bytes, in 64 KiB reads: one read(limit) would allocate `limit` bytes for every small spec."""
    data = bytearray()
    while len(data) < limit:
        chunk = handle.read(min(1 << 16, limit - len(data)))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def _read_text(path: Path, shown: str, regular_only: bool = False) -> str:
    """The file's text, read at most MAX_FILE_BYTES + 1 bytes (so /dev/zero cannot fill memory).

    A FIFO is read only when named on the command line (`check <(...)`); a base named by
    `extends:` must be a regular file, so that a spec cannot make a check wait on /dev/stdin.
    """
    top = Location(shown, 1, 1)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise _error("S100", f"{shown} is a directory", "give a spec file, or check a folder", top)
        if not stat.S_ISREG(info.st_mode) and (regular_only or not stat.S_ISFIFO(info.st_mode)):
            raise _error("S100", f"{shown} is not a regular file", "give a spec file", top)
        if info.st_size > MAX_FILE_BYTES:
            raise _error("S106", f"file is {info.st_size} bytes; specs are limited to {MAX_FILE_BYTES}", "split it", top)
        with open(path, "rb") as handle:
            data = _read_capped(handle, MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise _error("S106", f"file is over {MAX_FILE_BYTES} bytes; specs are limited to that", "split it", top)
    except FileNotFoundError:
        raise _error("S100", f"no such file: {shown}", "check the path", top) from None
    except OSError as exc:
        raise _error("S100", f"cannot read {shown}: {exc.strerror or exc}", "check the path and permissions", top) from None
    if b"\x00" in data:
        raise _error("S101", "this is a binary file, not YAML", "give a YAML spec", top)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _error("S101", f"not UTF-8 text (byte {exc.start})", "save the file as UTF-8", top) from None


def nesting_bound(text: str) -> int:
    """An upper bound on how deep `text` can nest.

    A flow collection opens at a bracket. A block collection opens on a line indented deeper
    than its parent's (or, for a mapping's indentless sequence, one level more at the same
    indentation), or after an indicator ('-', '?', ':') on the same line. So the depth is at most
    the brackets plus, over the lines, 2 x (indentation + 1) + the line's indicators.
    """
    block = 0
    for line in _LINE_BREAKS.split(text):
        indent = len(line) - len(line.lstrip(" \t"))
        block = max(block, 2 * (indent + 1) + line.count("-") + line.count("?") + line.count(":"))
    return text.count("[") + text.count("{") + block


class _TooDeep(Exception):
    """The document nests deeper than anything a spec needs (reported as S106)."""


def compose(text: str) -> yaml.Node | None:
    """The document's node tree (positions included), by libyaml when installed, else by pure-Python PyYAML.

    libyaml parses about ten times faster, but its composer recurses in C without a depth
    limit (a document nested ~100,000 deep crashes the process). So when `nesting_bound`
    cannot rule that out, libyaml's event stream (iterative, no recursion) measures the real
    depth first. On a syntax error the pure-Python parser runs again, so that messages and
    positions do not depend on which parser is installed.

    Raises:
        _TooDeep: the document nests deeper than C_PARSER_MAX_NESTING.
        yaml.YAMLError, RecursionError: from the pure-Python parser.
    """
    if _C_LOADER is not None:
        if nesting_bound(text) > C_PARSER_MAX_NESTING and _deeper_than(text, C_PARSER_MAX_NESTING):
            raise _TooDeep
        try:
            return yaml.compose(text, Loader=_C_LOADER)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _deeper_than(text: str, limit: int) -> bool:
    """Whether collections nest deeper than `limit`, from libyaml's events; stops as soon as they do."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_C_LOADER):
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > limit:
                    return True
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        return False  # a syntax error before the limit: the parsers report it
    return False


def parse_document(text: str, shown: str) -> tuple[dict[str, Any], dict[KeyPath, Location], list[Finding]]:
    """Parse one YAML document into plain data, a key-path -> location map and non-fatal findings."""
    try:
        node = compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(shown, mark.line + 1, mark.column + 1) if mark else Location(shown, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise _error("S101", f"YAML syntax error: {problem}", "fix the YAML syntax at this place", loc) from None
    except yaml.YAMLError as exc:
        raise _error("S101", f"YAML error: {exc}", "fix the YAML syntax", Location(shown, 1, 1)) from None
    except (RecursionError, _TooDeep):
        raise _error("S106", "nesting is too deep to read", "flatten the document", Location(shown, 1, 1)) from None
    if node is None:
        raise _error("S102", "the spec is empty", "start from one of specs/*.yaml", Location(shown, 1, 1))
    reader = _NodeReader(shown)
    try:
        data = reader.read(node, (), 0)
    except RecursionError:
        raise _error("S106", "nesting is too deep to read", "flatten the document", Location(shown, 1, 1)) from None
    if not isinstance(data, dict):
        raise _error("S102", "the spec must be a mapping of keys", "start from one of specs/*.yaml", reader.loc(node))
    return data, reader.positions, reader.findings


def has_dotted_key(options: Mapping[str, object], dotted: str) -> bool:
    """Whether nested mappings hold `dotted` (e.g. "kv_cache_config.dtype"), whatever its value."""
    node: object = options
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Override wins; mappings merge key by key, lists and scalars are replaced whole."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _shown(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


RawSpec = tuple[dict[str, Any], dict[KeyPath, Location], tuple[str, ...], list[Finding]]


def repository_root(spec: str | os.PathLike[str]) -> Path:
    """Where a spec and every base it extends must lie (a real path).

    The git work tree holding the spec (the nearest folder above it with a `.git`), else the
    spec's own folder: in CI every spec and file name comes from the pull request, and a
    base outside the repository would make `check` read, and quote, any file of the runner.
    """
    folder = Path(os.path.abspath(spec)).parent
    for candidate in (folder, *folder.parents):
        if os.path.lexists(candidate / ".git"):
            return Path(os.path.realpath(candidate))
    return Path(os.path.realpath(folder))


def _inside(real: Path, root: Path) -> bool:
    return os.path.commonpath([real, root]) == str(root)


def _refuse_non_spec(data: dict[str, Any], shown: str) -> None:
    """A mapping none of whose keys a spec has is some other file: say so without quoting any of it."""
    if data and not any(name in SpecFile.model_fields for name in data):
        raise _error("S102", f"{shown} is not a trtdeploy spec: none of its top-level keys is a spec key",
                     "give a spec file (keys such as name, model, quantization, target)", Location(shown, 1, 1))


def _load_raw(path: Path, chain: tuple[Path, ...], root: Path) -> RawSpec:
    shown = _shown(path)
    text = _read_text(path, shown, regular_only=len(chain) > 1)
    data, positions, findings = parse_document(text, shown)
    _refuse_non_spec(data, shown)
    parent = data.pop("extends", None)
    if parent is None:
        return data, positions, (shown,), findings
    loc = positions.get(("extends",), Location(shown, 1, 1))
    if not isinstance(parent, str) or not parent:
        raise _error("S103", "extends must be a path to another spec", "write extends: base.yaml", loc, ("extends",))
    base_path = Path(os.path.realpath(path.parent / parent))
    if not _inside(base_path, root):
        raise _error("S115", f"extends: {parent} is outside the repository that holds this spec ({root})",
                     "extend a spec inside the same git work tree (outside git: under this spec's folder)", loc,
                     ("extends",))
    if base_path in chain or base_path == Path(os.path.realpath(path)):
        cycle = " -> ".join(_shown(p) for p in (*chain, base_path))
        raise _error("S104", f"extends makes a cycle: {cycle}", "make the base spec not extend this one", loc, ("extends",))
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise _error("S104", f"extends is nested more than {MAX_EXTENDS_DEPTH} deep", "flatten the chain", loc)
    try:
        base_data, base_positions, base_chain, base_findings = _load_raw(base_path, (*chain, base_path), root)
    except LoadError as exc:
        if exc.finding.code == "S100":
            raise _error(
                "S103", f"extends: {exc.finding.message}", "the path is taken from this spec's folder", loc, ("extends",)
            ) from None
        raise
    base_data.pop("abstract", None)
    merged_positions = {**base_positions, **positions}
    return deep_merge(base_data, data), merged_positions, (shown, *base_chain), [*base_findings, *findings]


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(choices)}"


def _model_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None or isinstance(part, int):
            continue
        info = current.model_fields.get(str(part))
        if info is None:
            return None
        annotation = info.annotation
        candidates = getattr(annotation, "__args__", (annotation,))
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return current


def _validation_findings(exc: ValidationError, loaded_positions: Mapping[KeyPath, Location], file: str) -> list[Finding]:
    helper = LoadedSpec(file, None, loaded_positions, (file,), ())
    findings = []
    for err in exc.errors(include_url=False):
        key: KeyPath = tuple(err["loc"])
        loc = helper.location(key)
        if err["type"] == "extra_forbidden":
            parent = _model_at(SpecFile, key[:-1])
            allowed = sorted(parent.model_fields) if parent else []
            findings.append(Finding("S107", Severity.ERROR, f"unknown key '{quoted_key(str(key[-1]))}'",
                                    _suggest(str(key[-1]), allowed), dotted(key), loc))
            continue
        findings.append(_value_finding(err, key, loc))
    return findings


def _value_finding(err: Mapping[str, Any], key: KeyPath, loc: Location) -> Finding:
    ctx = err.get("ctx") or {}
    expected = ctx.get("expected")
    given = err.get("input")
    shown = repr(given) if not isinstance(given, (dict, list)) else type(given).__name__
    if len(shown) > 80:
        shown = shown[:77] + "..."
    if expected:
        choices = [c.strip().strip("'") for c in str(expected).replace(" or ", ", ").split(",")]
        close = difflib.get_close_matches(str(given), choices, n=1, cutoff=0.5) if isinstance(given, str) else []
        hint = f"did you mean '{close[0]}'? " if close else ""
        return Finding(
            "S108",
            Severity.ERROR,
            f"{dotted(key)}: {shown} is not allowed",
            f"{hint}allowed values: {expected}",
            dotted(key),
            loc,
        )
    return Finding(
        "S108",
        Severity.ERROR,
        f"{dotted(key)}: {err['msg'].lower()} (got {shown})",
        _type_hint(err),
        dotted(key),
        loc,
    )


def _type_hint(err: Mapping[str, Any]) -> str:
    kind = str(err["type"])
    if kind.startswith("int") or kind.startswith("greater") or kind.startswith("less"):
        return "write a whole number in the allowed range, without quotes"
    if kind.startswith("string_pattern"):
        return f"the value must match {err.get('ctx', {}).get('pattern', 'the documented form')}"
    if kind == "model_type" or kind == "dict_type":
        return "this key holds a mapping of sub-keys"
    if kind == "list_type":
        return "this key holds a list, e.g. [a, b]"
    return "see `trtdeploy schema` or docs/spec.md for this key"


def load_spec(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> LoadedSpec:
    """Load one spec file, following `extends`. Never raises for bad input: problems become findings.

    The spec (after symlinks) and its bases must lie under `root`, by default `repository_root(path)`.
    """
    file = Path(path)
    shown = _shown(file)
    confined_to = Path(os.path.realpath(root if root is not None else repository_root(file)))
    real = Path(os.path.realpath(file))
    try:
        if not _inside(real, confined_to):
            raise _error("S115", f"{shown} is a link to a file outside the repository that holds it ({confined_to})",
                         "check the spec where it lies, or copy it into the repository", Location(shown, 1, 1))
        data, positions, chain, early = _load_raw(file, (real,), confined_to)
    except LoadError as exc:
        return LoadedSpec(shown, None, {}, (shown,), (exc.finding,))
    try:
        spec = SpecFile.model_validate(data)
    except ValidationError as exc:
        findings = (*early, *_validation_findings(exc, positions, shown))
        return LoadedSpec(shown, None, positions, chain, findings, data)
    return LoadedSpec(shown, spec if not early else None, positions, chain, tuple(early), data)
