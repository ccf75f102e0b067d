"""Hypothesis strategies for hostile specs: schema-aware values, mutations of real specs, YAML text.

Three families, from most to least structured:
  * `spec_documents`: a real spec (specs/*.yaml) whose leaves are set to boundary,
    out-of-range, retyped, unicode or huge values, or whose keys are dropped, renamed,
    nested deeper or wrapped (the schema comes from compiler.spec via specleaves.py);
  * `yaml_texts`: YAML text with anchors, aliases, merge keys, tags, several
    documents and alias bombs, around a real spec;
  * `junk_texts`: text over YAML's significant characters, for the parser itself.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st
from specleaves import Leaf, leaves, sections

ROOT = Path(__file__).resolve().parents[2]
SPEC_FILES = sorted((ROOT / "specs").glob("*.yaml"))
LEAVES = list(leaves())
SECTIONS = list(sections())

# Strings a person (or an attacker) types: shell and template syntax, control characters, unicode.
HOSTILE_TEXT = [
    "", " ", "-", "--help", "-rf", "$(id)", "`id`", "; rm -rf ~", "'", '"', "\\", "\n", "\r\n", "\t", "\x00",
    "%s%n%x", "{{ 7*7 }}", "{% raw %}", "{#", "${HOME}", "~", "..", "../../etc/passwd", "/", "a" * 5000,
    "模型量化", "é", "\u202e", "\ufeff", "🦙", "\u2028", "null", "true", "0x10", "1e309", "NaN",
    "/dev/zero", "/dev/stdin", "~nosuchuser/x", "~/x", "x" * 300 + "/y",
]
INTERESTING_INTS = [0, 1, -1, 2, 3, 7, 8, 63, 64, 65, 127, 128, 1000, 4095, 4096, 4097, 65535, 65536,
                    2**20, 2**20 + 1, 2**24, 2**24 + 1, 2**31 - 1, 2**31, 2**63, -(2**63), 10**30]
INTERESTING_FLOATS = [0.0, -0.0, 1e-300, 5e-324, 0.5, 1.0, 1.0000001, -1.0, 1e308, math.inf, -math.inf, math.nan]


def _enum_values(base: type[enum.Enum]) -> list[str]:
    return [str(member.value) for member in base]


def scalars() -> st.SearchStrategy[Any]:
    """Any scalar YAML can carry."""
    return st.one_of(
        st.none(), st.booleans(), st.sampled_from(INTERESTING_INTS), st.integers(),
        st.sampled_from(INTERESTING_FLOATS), st.floats(), st.sampled_from(HOSTILE_TEXT),
        st.text(max_size=40), st.binary(max_size=16),
    )


def any_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Scalars, lists and mappings nested a few levels (keys: text, ints, booleans, None)."""
    keys = st.one_of(st.text(max_size=12), st.integers(), st.booleans(), st.none())
    return st.recursive(scalars(), lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                           st.dictionaries(keys, inner, max_size=4)),
                        max_leaves=max_leaves)


def _in_range_ints(leaf: Leaf) -> st.SearchStrategy[int]:
    low = int(leaf.ge if leaf.ge is not None else (leaf.gt + 1 if leaf.gt is not None else -(2**63)))
    high = int(leaf.le) if leaf.le is not None else 2**63
    edges = [v for v in (low, low + 1, high - 1, high) if low <= v <= high]
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


def leaf_values(leaf: Leaf) -> st.SearchStrategy[Any]:
    """Values for one leaf: mostly of its own type (in range and just outside), sometimes anything."""
    own: st.SearchStrategy[Any]
    if leaf.base is bool:
        own = st.sampled_from([True, False, "yes", "no", "on", 1, 0, "True"])
    elif issubclass(leaf.base, enum.Enum):
        values = _enum_values(leaf.base)
        own = st.one_of(st.sampled_from(values), st.sampled_from([v.upper() for v in values] + [v + " " for v in values]))
    elif leaf.base is int:
        around = [v for v in (leaf.ge, leaf.le, leaf.gt) if v is not None]
        edges = sorted({int(v) + d for v in around for d in (-1, 0, 1)})
        own = st.one_of(_in_range_ints(leaf), st.sampled_from(edges or [0]), st.sampled_from(INTERESTING_INTS),
                        st.sampled_from(["8", "1_000", "0x10", "1e3", 8.0, 8.5]))
    elif leaf.base is float:
        own = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(INTERESTING_FLOATS),
                        st.sampled_from(["0.5", ".inf", 1, True]))
    else:
        limit = leaf.max_length or 300
        # Just under, at and over the length limit: a short unit repeated (hypothesis draws short texts only).
        long = st.tuples(st.text(min_size=1, max_size=3), st.integers(limit - 2, limit + 2)).map(
            lambda unit_size: (unit_size[0] * unit_size[1])[: unit_size[1]])
        own = st.one_of(st.sampled_from(HOSTILE_TEXT), st.text(max_size=80), long)
    if leaf.is_list:
        own = st.one_of(st.lists(own, max_size=5), own)
    if leaf.is_map:
        own = st.one_of(st.dictionaries(st.sampled_from(["a", "b.example/c", "Bad Key", ""]), own, max_size=3), own)
    return st.one_of(own, own, own, any_values(4))


def _load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def base_specs() -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(SPEC_FILES).map(_load)


def _get(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        if isinstance(part, int):
            if not isinstance(data, list) or len(data) <= part:
                return None
        elif not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _set(data: Any, path: tuple[str | int, ...], value: Any) -> None:
    """Set a value, making the mappings (and, for an index, the list with that item) on the way."""
    for part, following in zip(path[:-1], path[1:]):
        empty: Any = [] if isinstance(following, int) else {}
        if isinstance(part, int):
            while len(data) <= part:
                data.append(empty)
            if not isinstance(data[part], type(empty)):
                data[part] = empty
            data = data[part]
            continue
        child = data.get(part)
        if not isinstance(child, type(empty)):
            child = data[part] = empty
        data = child
    last = path[-1]
    if isinstance(last, int):
        while len(data) <= last:
            data.append(None)
    data[last] = value


def _drop(data: dict[str, Any], path: tuple[str | int, ...]) -> None:
    parent = _get(data, path[:-1]) if len(path) > 1 else data
    if isinstance(parent, dict):
        parent.pop(path[-1], None)


Mutation = Callable[[dict[str, Any]], None]


@st.composite
def mutations(draw: st.DrawFn) -> Mutation:
    """One edit of a spec mapping: set a leaf, drop or rename a key, retype or deepen a section."""
    kind = draw(st.sampled_from(["set", "set", "set", "drop", "rename", "retype", "deepen", "extra"]))
    leaf = draw(st.sampled_from(LEAVES))
    path: tuple[str | int, ...] = leaf.path
    if kind in ("drop", "rename", "retype", "deepen") and draw(st.booleans()):
        path = draw(st.sampled_from(SECTIONS))
    if kind == "set":
        value = draw(leaf_values(leaf))
        return lambda d: _set(d, leaf.path, value)
    if kind == "drop":
        return lambda d: _drop(d, path)
    if kind == "rename":
        name = str(path[-1])
        new = draw(st.one_of(st.text(max_size=20), st.sampled_from([name.upper(), name + "s", name.replace("_", "-"),
                                                                      " " + name])))
        def rename(d: dict[str, Any]) -> None:
            value = _get(d, path)
            _drop(d, path)
            _set(d, (*path[:-1], new), value)
        return rename
    if kind == "retype":
        value = draw(any_values())
        return lambda d: _set(d, path, value)
    if kind == "deepen":
        depth = draw(st.integers(1, 80))
        def deepen(d: dict[str, Any]) -> None:
            value = _get(d, path)
            for _ in range(depth):
                value = {"x": value} if depth % 2 else [value]
            _set(d, path, value)
        return deepen
    key, value = draw(st.text(max_size=10)), draw(any_values(4))
    return lambda d: _set(d, (*path[:-1], key), value)


@st.composite
def spec_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A shipped spec after one to six mutations."""
    data = draw(base_specs())
    for mutate in draw(st.lists(mutations(), min_size=1, max_size=6)):
        mutate(data)
    return data


def dump(data: Any) -> str:
    """YAML text of any value (binary, odd keys and all), as a user could have written it."""
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=float("inf"))


def alias_bomb(width: int, depth: int) -> str:
    """The billion-laughs shape: each level is a list of `width` aliases of the level before."""
    lines = ["model: {name: llama-2-7b}", "target: {gpu: H100-SXM}", "l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, depth + 1):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


@st.composite
def yaml_texts(draw: st.DrawFn) -> str:
    """A spec's text with YAML's own hazards spliced in: anchors, aliases, merges, tags, documents, bombs."""
    text = dump(draw(spec_documents())) if draw(st.booleans()) else draw(base_specs().map(dump))
    splice = draw(st.sampled_from([
        "x: &a {max_batch_size: 4}\nlimits:\n  <<: *a\n",
        "limits: &a\n  max_batch_size: 4\nbuild: *a\n",
        "limits:\n  <<: [*nope]\n",
        "limits:\n  <<: 5\n",
        "limits:\n  <<: [{max_batch_size: 2}, {max_input_len: 3}]\n",
        "parallelism: !!python/object/apply:os.system ['touch /tmp/pwned']\n",
        "parallelism: {tp: !!float 2}\n",
        "parallelism: {tp: !!int '2'}\n",
        "description: !!binary aGVsbG8=\n",
        "description: !!timestamp 2001-12-14\n",
        "ignore: !!set {D101: null}\n",
        "ignore: !!omap [{a: 1}]\n",
        "? [complex, key]\n: 1\n",
        "~: null\n",
        "1: 2\n",
        "true: false\n",
        "--- \nname: second\n",
        "...\n",
        "%YAML 1.1\n---\n",
        "name: &n abc\ndescription: *n\n",
        "a: &s [*s]\n",
        "name: \"\\ud800\"\n",
        "name: \"\\x00\"\n",
        "name: |\n  " + "x" * 100 + "\n",
        "target:\n  tensorrt_llm: 0.10\n",
        "target:\n  tensorrt_llm: !!str 1.2\n",
        "target:\n  tensorrt_llm: [1, 2]\n",
        "target:\n  tensorrt_llm: ~\n",
        "\t\tbad: indent\n",
        "limits: [" * 200 + "]" * 200 + "\n",
        "limits: " + "{a: " * 100 + "1" + "}" * 100 + "\n",
    ]))
    if draw(st.integers(0, 4)) == 0:  # a bomb one time in five (test_alias_bombs_* covers them directly)
        splice = alias_bomb(draw(st.integers(2, 12)), draw(st.integers(1, 9)))
    where = draw(st.sampled_from(["before", "after", "replace"]))
    return {"before": splice + text, "after": text + splice, "replace": splice}[where]


YAML_ALPHABET = " \n\t-:[]{},&*!|>'\"#%@`?~<=.0123456789abcxyz_\\"


def junk_texts() -> st.SearchStrategy[str]:
    """Text over YAML's significant characters (and some unicode), for the parser's own paths."""
    return st.one_of(st.text(alphabet=YAML_ALPHABET, max_size=200), st.text(max_size=100))


RELEASES = ["0.8.0", "0.9.0", "0.10.0", "0.12.0", "0.16.0", "0.21.0", "1.0.0", "1.2.0", "0.11.0", "2.0", "0.10"]
SMALL_INTS = [1, 2, 3, 4, 8, 16, 64, 128, 1024, 4096]


def _plausible(leaf: Leaf) -> st.SearchStrategy[Any]:
    """An in-range value of a leaf's own type, biased to what real specs use."""
    from compiler import catalog

    if leaf.path in (("model", "name"),):
        return st.sampled_from(catalog.model_names())
    if leaf.path[-1] == "gpu":
        return st.sampled_from(catalog.gpu_names())
    if leaf.path == ("target", "tensorrt_llm"):
        return st.sampled_from(RELEASES)
    if leaf.base is bool:
        return st.booleans()
    if issubclass(leaf.base, enum.Enum):
        return st.sampled_from(_enum_values(leaf.base))
    if leaf.base is int:
        low = int(leaf.ge if leaf.ge is not None else 1)
        high = int(leaf.le) if leaf.le is not None else 2**31
        small = [v for v in SMALL_INTS if low <= v <= high]
        return st.one_of(st.sampled_from(small or [low]), _in_range_ints(leaf))
    if leaf.base is float:
        return st.floats(min_value=leaf.ge if leaf.ge is not None else 1e-9, max_value=leaf.le or 1e6,
                         allow_nan=False, allow_infinity=False, exclude_min=leaf.gt is not None)
    return st.none()  # free text: left out here (the injection test owns it)


@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, Any]:
    """Specs that load: every non-text leaf absent or in range, so rules and the planner see every combination."""
    data: dict[str, Any] = {"model": {"name": draw(_plausible(LEAVES_BY_PATH[("model", "name")]))},
                            "target": {"gpu": draw(_plausible(LEAVES_BY_PATH[("target", "gpu")]))}}
    for leaf in LEAVES:
        if leaf.is_text and leaf.path not in PLAUSIBLE_TEXT or leaf.path == ("abstract",) or not draw(st.booleans()):
            continue
        value = draw(_plausible(leaf))
        if value is not None:
            _set(data, leaf.path, leaf.holding(value))
    return data


LEAVES_BY_PATH = {leaf.path: leaf for leaf in LEAVES}
PLAUSIBLE_TEXT = {("model", "name"), ("target", "gpu"), ("build", "gpu"), ("target", "tensorrt_llm")}


@st.composite
def nested_texts(draw: st.DrawFn) -> str:
    """Nested values dumped in block, flow and mixed styles with odd indentation: the shapes YAML can nest in."""
    value = draw(any_values(30))
    style = draw(st.sampled_from([None, True, False]))
    return yaml.safe_dump(value, default_flow_style=style, indent=draw(st.integers(2, 9)),
                          width=draw(st.integers(10, 200)), allow_unicode=True)
