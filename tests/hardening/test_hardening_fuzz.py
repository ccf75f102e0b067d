"""Fuzzing the loader, resolver, rules and planner: what people type never crashes, hangs or blows up memory.

The property, for every input: `check` and `plan` (through the CLI in this process,
and the stage functions directly) end with findings or a clean result and exit 0/1;
a spec that checks without errors always plans and renders. Inputs come from tests/hardening/fuzzkit.py: mutations of every
spec under specs/, specs valid in shape with every combination of values, YAML text
with anchors, aliases, merges, tags and bombs, and junk over YAML's characters.
Bombs are checked for bounded memory with tracemalloc, huge documents by the peak resident
memory of a process that checks one (tracing a million parser events would take half a minute);
their time is bench/bench_hostile.py's.
docs/hardening.md records how many inputs a run tries and how long it takes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import fuzz_settings, invoke
from documents import BOMB_MEMORY, HUGE_DOCUMENTS, HUGE_MEMORY, HUGE_TP, MERGE_KEY_BOMB
from fuzzkit import (
    LEAVES,
    SPEC_FILES,
    alias_bomb,
    dump,
    junk_texts,
    nested_texts,
    spec_documents,
    valid_specs,
    yaml_texts,
)
from hypothesis import given
from hypothesis import strategies as st

from compiler import load
from compiler.findings import Severity
from compiler.pipeline import check_spec
from compiler.plan.planner import make_plan
from compiler.render import render_build

ROOT = Path(__file__).resolve().parents[2]
CHECK_FORMATS = st.sampled_from(["text", "json", "github"])
PLAN_FORMATS = st.sampled_from(["text", "json", "markdown"])


def write(folder: Path, text: str) -> Path:
    path = folder / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def stages_hold(path: Path) -> bool:
    """The stage functions: never raise; no errors means a plan that renders. Returns whether it planned."""
    report = check_spec(path)
    assert all(f.location is not None and f.location.line >= 1 for f in report.findings), report.findings
    if report.errors or report.resolved is None:
        return False
    plan = make_plan(report.decided, report.findings)  # a PlanError here: check said clean, plan disagrees
    files = render_build(plan)
    assert files and all(isinstance(text, str) for text in files.values())
    return True


def cli_holds(path: Path, check_format: str, plan_format: str) -> None:
    """`check` and `plan` through click: exit 0/1 (matching the findings), no traceback, JSON that parses."""
    checked = invoke("check", "--format", check_format, str(path))
    report = check_spec(path)
    assert checked.exit_code == (1 if report.errors else 0), checked.output
    if check_format == "json":
        json.loads(checked.stdout)
    planned = invoke("plan", "--format", plan_format, str(path))
    assert planned.exit_code == (1 if report.errors or report.resolved is None else 0), planned.output
    if planned.exit_code and not report.errors:  # an abstract spec: exit 1, and it says why
        assert "nothing to plan" in planned.stderr, planned.output
    if plan_format == "json":
        json.loads(planned.stdout)


def holds(folder: Path, text: str, check_format: str = "text", plan_format: str = "json") -> None:
    path = write(folder, text)
    stages_hold(path)
    cli_holds(path, check_format, plan_format)


# ---------------------------------------------------------------- the fuzzers


def _schema_leaves(schema: dict[str, Any], node: dict[str, Any],
                   prefix: tuple[str | int, ...] = ()) -> set[tuple[str | int, ...]]:
    """Leaf key paths of the published JSON Schema: a property whose schema refers to an object is a section, and
    an array of such objects a list of sections, walked through its first item (index 0)."""
    out: set[tuple[str | int, ...]] = set()
    for key, prop in node.get("properties", {}).items():
        items = prop.get("items", {}) if prop.get("type") == "array" else {}
        refs = [prop.get("$ref"), items.get("$ref")] + [alt.get("$ref") for alt in prop.get("anyOf", [])]
        target = next((schema["$defs"][r.split("/")[-1]] for r in refs if r), None)
        if target is not None and target.get("type") == "object":
            out |= _schema_leaves(schema, target, (*prefix, key, *((0,) if items else ())))
        else:
            out.add((*prefix, key))
    return out


def test_the_schema_walk_sees_every_field() -> None:
    """The fuzzers take their keys from the pydantic models; the JSON Schema, read another way, must agree."""
    from compiler.spec import json_schema

    schema = json_schema()
    assert _schema_leaves(schema, schema) == {leaf.path for leaf in LEAVES}
    assert len(SPEC_FILES) >= 10


@fuzz_settings(300)
@given(text=spec_documents().map(dump), check_format=CHECK_FORMATS, plan_format=PLAN_FORMATS)
def test_mutated_shipped_specs(tmp_path_factory: pytest.TempPathFactory, text: str, check_format: str,
                               plan_format: str) -> None:
    holds(tmp_path_factory.mktemp("mutated"), text, check_format, plan_format)


@fuzz_settings(300)
@given(data=valid_specs(), check_format=CHECK_FORMATS, plan_format=PLAN_FORMATS)
def test_specs_valid_in_shape(tmp_path_factory: pytest.TempPathFactory, data: dict[str, Any], check_format: str,
                              plan_format: str) -> None:
    """In-range values in every combination reach every rule and the planner."""
    holds(tmp_path_factory.mktemp("valid"), dump(data), check_format, plan_format)


@fuzz_settings(300)
@given(data=valid_specs())
def test_silenced_rules_never_crash_the_planner(tmp_path_factory: pytest.TempPathFactory,
                                                data: dict[str, Any]) -> None:
    """With every D/H/L/M/C/P rule silenced, `plan` must refuse (PlanError, exit 1) or plan: never crash."""
    path = write(tmp_path_factory.mktemp("silenced"), dump(data))
    result = invoke("plan", "--format", "json", "--ignore", "D,H,L,M,C,P", str(path))
    if result.exit_code == 0:
        json.loads(result.output)


@fuzz_settings(200)
@given(text=yaml_texts())
def test_yaml_hazards(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    holds(tmp_path_factory.mktemp("hazards"), text)


@fuzz_settings(1000)
@given(text=junk_texts())
def test_junk_text(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("junk") / "spec.yaml"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))  # lone surrogates become invalid UTF-8
    stages_hold(path)
    invoke("check", str(path))


# ---------------------------------------------------------------- the two YAML parsers


def _depth(node: yaml.Node, seen: set[int]) -> int:
    """How deep composing goes: each node once (an alias of a composed node adds nothing)."""
    if id(node) in seen:
        return 0
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        kids = [part for pair in node.value for part in pair]
    elif isinstance(node, yaml.SequenceNode):
        kids = list(node.value)
    else:
        kids = []
    return 1 + max((_depth(kid, seen) for kid in kids), default=0)


@fuzz_settings(500)
@given(text=st.one_of(nested_texts(), yaml_texts(), junk_texts()))
def test_nesting_bound_is_an_upper_bound(text: str) -> None:
    """libyaml is used only below load.nesting_bound; the bound must never be below the real depth."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return
    if node is not None:
        assert _depth(node, set()) <= load.nesting_bound(text)


def _parsed(text: str, c_parser: bool, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setattr(load, "_C_LOADER", getattr(yaml, "CSafeLoader", None) if c_parser else None)
    try:
        data, positions, findings = load.parse_document(text, "x.yaml")
    except load.LoadError as exc:
        # Which S106 (the parser's recursion limit, or the reader's depth limit) depends on how deep each
        # parser gets before it stops: both refuse the document.
        return ("S106",) if exc.finding.code == "S106" else (exc.finding.code, exc.finding.location)
    return repr(data), sorted((repr(k), v) for k, v in positions.items()), findings


@pytest.mark.skipif(not getattr(yaml, "__with_libyaml__", False), reason="PyYAML without libyaml")
@fuzz_settings(400)
@given(text=st.one_of(yaml_texts(), spec_documents().map(dump), nested_texts(), junk_texts()))
def test_libyaml_and_pure_python_read_the_same(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same data, positions and findings from either parser (libyaml also accepts tabs inside plain
    scalars, which PyYAML refuses: there only the pure-Python syntax error is not compared)."""
    python = _parsed(text, False, monkeypatch)
    if isinstance(python, tuple) and len(python) == 2 and python[0] == "S101":
        return
    assert _parsed(text, True, monkeypatch) == python


def test_every_shipped_and_fixture_spec_reads_the_same_with_either_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    files = [*SPEC_FILES, *sorted((ROOT / "tests" / "data").rglob("*.yaml"))]
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert _parsed(text, True, monkeypatch) == _parsed(text, False, monkeypatch), path


# ---------------------------------------------------------------- bombs and huge documents


def bounded(path: Path) -> tuple[list[str], int]:
    """check_spec's finding codes and peak traced memory (how long it takes is bench/bench_hostile.py's)."""
    tracemalloc.start()
    try:
        report = check_spec(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return [f.code for f in report.findings], peak


@pytest.mark.parametrize(("width", "depth"), [(10, 9), (2, 40), (100, 4), (1000, 2), (3, 25)])
def test_alias_bombs_are_refused_in_bounded_memory(tmp_path: Path, width: int, depth: int) -> None:
    codes, peak = bounded(write(tmp_path, alias_bomb(width, depth)))
    assert codes == ["S106"]
    assert peak < BOMB_MEMORY, peak
    assert "alias bomb" in check_spec(tmp_path / "spec.yaml").findings[0].message


def test_merge_key_bomb_is_refused(tmp_path: Path) -> None:
    codes, peak = bounded(write(tmp_path, MERGE_KEY_BOMB))
    assert codes == ["S106"] and peak < BOMB_MEMORY, (codes, peak)


# Checks one spec and prints its finding codes, then how much the peak resident memory grew (ru_maxrss: KiB).
CHECK_ONE = """
import resource, sys
from compiler.pipeline import check_spec
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
report = check_spec(sys.argv[1])
print(" ".join(f.code for f in report.findings))
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""


@pytest.mark.parametrize("name", list(HUGE_DOCUMENTS))
def test_huge_documents_end_in_bounded_memory(tmp_path: Path, name: str) -> None:
    text, code = HUGE_DOCUMENTS[name]
    done = subprocess.run([sys.executable, "-c", CHECK_ONE, str(write(tmp_path, text))], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    codes, growth = done.stdout.splitlines()
    assert codes.split()[:1] == [code]
    assert int(growth) < HUGE_MEMORY, growth


# ---------------------------------------------------------------- regressions of what fuzzing found


@pytest.mark.parametrize(("text", "code", "words"), [
    ('model: {name: llama-2-7b, path: "a\\0b"}\ntarget: {gpu: H100}\n', "S108", "NUL"),
    ('name: "\\ud800"\n', "S108", "surrogate"),
    ('"k\\0": 1\n', "S108", "NUL"),
])
def test_values_no_path_or_report_can_carry_are_findings(tmp_path: Path, text: str, code: str, words: str) -> None:
    [finding] = check_spec(write(tmp_path, text)).findings
    assert finding.code == code and words in finding.message


def test_unknown_home_and_overlong_names_resolve_without_raising(tmp_path: Path) -> None:
    text = ("model: {name: llama-2-7b, path: ~nosuchuser/m, tokenizer: '~nosuchuser'}\n"
            f"quantization: {{format: fp8, calibration: {{dataset: {'d' * 300}}}}}\n"
            "target: {gpu: H100-SXM}\n")
    report = check_spec(write(tmp_path, text))
    assert report.resolved is not None
    assert report.resolved.model_dir == str(tmp_path / "~nosuchuser" / "m")
    assert report.resolved.calibration_dataset == "d" * 300


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/stdin", "fifo.yaml"])
def test_extends_never_reads_a_device_or_a_pipe(tmp_path: Path, target: str) -> None:
    """Devices lie outside the spec's repository (S115); a pipe inside it is not a regular file (S103)."""
    import os

    os.mkfifo(tmp_path / "fifo.yaml")
    [finding] = check_spec(write(tmp_path, f"extends: {target}\n")).findings  # a read would block here
    if target.startswith("/dev/"):
        assert finding.code == "S115" and "outside the repository" in finding.message
    else:
        assert finding.code == "S103" and "not a regular file" in finding.message


def test_a_huge_tp_tries_only_divisors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tp x pp up to 2**40 and 4096 nodes once made the M101 hint and the D102 hint loop for minutes.

    The hints try only divisors of the head count (and never more tps than heads), so the number
    of layouts tried stays small whatever tp is; bench/bench_hostile.py times it.
    """
    from compiler.rules import divisibility, memory

    tried: list[int] = []
    real = divisibility.splits_evenly

    def counting(model: Any, tp: int, group_size: int | None = None) -> bool:
        tried.append(tp)
        return real(model, tp, group_size)

    monkeypatch.setattr(divisibility, "splits_evenly", counting)
    monkeypatch.setattr(memory, "splits_evenly", counting)
    report = check_spec(write(tmp_path, HUGE_TP))
    assert any(f.code == "D102" and f.severity is Severity.ERROR for f in report.findings)
    assert 0 < len(tried) <= 2 * 128, len(tried)  # llama-3.1-405b has 128 heads


def test_plan_of_an_abstract_spec_says_why_it_exits_1(tmp_path: Path) -> None:
    """Regression: `plan`, `compile` and `build` of an abstract base exited 1 saying only "0 errors"."""
    path = write(tmp_path, "abstract: true\nmodel: {name: llama-2-7b}\ntarget: {gpu: H100-SXM}\n")
    for args in (["plan"], ["compile", "-o", str(tmp_path / "out")], ["build", "-o", str(tmp_path / "out")]):
        result = invoke(*args, str(path))
        assert result.exit_code == 1 and "nothing to plan: the spec is abstract" in result.stderr, result.output
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- a real process


REAL_PROCESS_INPUTS = {
    "alias bomb": alias_bomb(10, 9),
    "tag": "parallelism: !!python/object/apply:os.system ['touch /tmp/trtdeploy-pwned']\n",
    "binary": "\x00\x01",
    "deep": "[" * 200_000,
    "mutated": dump({"model": {"name": 7, "path": ["x"]}, "target": {"gpu": {"a": None}}, "limits": "huge"}),
    "clean": (ROOT / "specs" / "llama-7b-fp8-h100.yaml").read_text(encoding="utf-8"),
}


@pytest.mark.parametrize("name", list(REAL_PROCESS_INPUTS))
def test_a_real_process_exits_0_or_1_without_traceback(tmp_path: Path, name: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(REAL_PROCESS_INPUTS[name].encode("utf-8"))
    for command in (["check"], ["plan", "--format", "json"]):
        done = subprocess.run([sys.executable, "-m", "compiler.cli", *command, str(path)], capture_output=True,
                              text=True, timeout=60, cwd=tmp_path, check=False)
        assert done.returncode == (0 if name == "clean" else 1), done.stderr
        assert "Traceback" not in done.stderr + done.stdout and "internal error" not in done.stderr
    assert not Path("/tmp/trtdeploy-pwned").exists()
