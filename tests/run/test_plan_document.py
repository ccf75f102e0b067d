"""plan.json as a typed contract: what compile writes, the runner reads; every malformed document is a finding.

The writer (compiler.render.plan_json) and the reader (compiler.run.plandoc.load_plan) share
compiler/plan/document.py. Each bad document must give findings with B codes, at the line and
column of plan.json where the problem is written, and never a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from compiler.plan.document import PlanDocument, document_text, locate, plan_document, read_document
from compiler.render import render_build
from compiler.run.errors import BuildError
from runkit import Host, Knobs, make_plan

SPECS = sorted((Path(__file__).resolve().parents[2] / "specs").glob("*.yaml"))


def doc(**changes: Any) -> dict[str, Any]:
    """A small valid document: quantize -> build."""
    steps = [
        {"id": "quantize", "tool": "quantize.py", "argv": ["python3", "q.py"], "outputs": ["store/quantize-0a1b"],
         "fingerprint": "0a1b", "inputs": [{"kind": "model", "path": "${MODEL_DIR}", "step": None}],
         "script": "steps/01-quantize.sh", "impact": "requantize"},
        {"id": "build", "tool": "trtllm-build", "argv": ["trtllm-build"], "outputs": ["store/build-2c3d"],
         "fingerprint": "2c3d", "depends_on": ["quantize"], "impact": "rebuild",
         "inputs": [{"kind": "step", "path": "store/quantize-0a1b", "step": "quantize"}], "script": "steps/02-build.sh"},
    ]
    return {"schema_version": 1, "name": "tiny", "backend": "tensorrt", "tensorrt_llm": {"version": "1.2.0"},
            "steps": steps, **changes}


def text_of(data: Any) -> str:
    return json.dumps(data, indent=2)


def findings(text: str) -> list[tuple[str, str, int, int]]:
    """(code, message, line, column) of each problem of a plan.json text."""
    with pytest.raises(BuildError) as err:
        load_plan_text(text)
    out = []
    for f in err.value.findings:
        assert f.location is not None and f.hint, f
        out.append((f.code, f.message, f.location.line, f.location.column))
    return out


def load_plan_text(text: str) -> None:
    from compiler.run.plandoc import read_plan

    read_plan(text, Path("/nowhere"), "build/plan.json")


def position_of(text: str, needle: str, nth: int = 1) -> tuple[int, int]:
    """1-based line and column of the nth occurrence of `needle`."""
    index = -1
    for _ in range(nth):
        index = text.index(needle, index + 1)
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


# ---------------------------------------------------------------- writer and reader agree


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_every_shipped_spec_compiles_to_a_document_the_runner_reads_back(spec: Path) -> None:
    from compiler.pipeline import check_spec

    report = check_spec(spec, plan=True)
    assert report.plan is not None
    files = render_build(report.plan)
    document = read_document(files["plan.json"], "plan.json")
    assert document_text(document) == files["plan.json"]  # byte-identical round trip
    for step in document.steps:
        assert step.script is not None and step.script_sha256 is not None
        import hashlib

        assert hashlib.sha256(files[step.script].encode()).hexdigest() == step.script_sha256
    assert document.backend == report.plan.backend and document.launch is not None


def test_the_pytorch_backend_fields_read_back(tmp_path: Path) -> None:
    """backend, impact, launch files and llm_api_options as the PyTorch backend writes them."""
    data = doc(backend="pytorch", tensorrt_llm={"version": "1.2.0"},
               launch={"launcher": "mpirun", "entrypoint": "serve", "world_size": 1, "nodes": 1, "ranks_per_node": 1,
                       "fingerprint": "ab", "files": ["launch/llm_api_options.yaml"],
                       "llm_api_options": {"kv_cache_config": {"free_gpu_memory_fraction": 0.9}}})
    data["steps"][0].update(tool="hf_ptq.py", impact="requantize")
    data["steps"][1].update(impact="rebuild")
    document = read_document(text_of(data), "plan.json")
    assert document.backend == "pytorch"
    assert [s.impact for s in document.steps] == ["requantize", "rebuild"]
    assert document.launch is not None and document.launch.files == ("launch/llm_api_options.yaml",)
    assert plan_document(json.loads(document_text(document))) == document


def test_the_runkit_plans_are_documents_too(host: Host) -> None:
    for flow in ("quantize", "convert", "gptq_ckpt"):
        document = plan_document(make_plan(Knobs(flow=flow), host).to_json())
        assert isinstance(document, PlanDocument) and len(document.steps) == 2


# ---------------------------------------------------------------- each problem, where it is written


def test_inputs_that_are_a_number_are_a_finding_at_their_place() -> None:
    data = doc()
    data["steps"][0]["inputs"] = 5
    text = text_of(data)
    [(code, message, line, column)] = findings(text)
    assert code == "B104" and message == "steps[0].inputs: input should be a valid array, not 5"
    assert (line, column) == position_of(text, "5,")


def test_every_problem_is_reported_at_once() -> None:
    data = doc()
    data["steps"][0]["argv"] = "python3 q.py"
    data["steps"][1]["fingerprint"] = "not hex"
    data["steps"][1]["colour"] = "blue"
    del data["steps"][1]["argv"]
    codes = {(c, m) for c, m, _, _ in findings(text_of(data))}
    assert {c for c, _ in codes} == {"B104"}
    messages = "\n".join(m for _, m in codes)
    assert "steps[0].argv: input should be a valid array" in messages
    assert "steps[1].fingerprint: string should match pattern" in messages
    assert "steps[1].colour is not a key of plan.json" in messages
    assert "steps[1].argv is missing" in messages


# The needle is the value as json.dumps writes it, and which occurrence of it the finding must point at.
@pytest.mark.parametrize(("change", "code", "message", "needle"), [
    (lambda d: d["steps"][1].update(id="quantize", outputs=["store/quantize-2c3d"],
                                    script="steps/02-quantize.sh", depends_on=[], inputs=[]),
     "B105", "steps[1].id 'quantize' is also the id of steps[0]", ('"quantize"', 2)),
    (lambda d: d["steps"][0].update(id="../etc"), "B105", "steps[0].id: string should match pattern", '"../etc"'),
    (lambda d: d["steps"][1].update(outputs=["store/quantize-0a1b"]), "B106",
     "step build: output 'store/quantize-0a1b' is not its own folder store/build-<fingerprint>",
     ('"store/quantize-0a1b"', 2)),
    (lambda d: d["steps"][1].update(outputs=["/etc"]), "B106", "steps[1].outputs[0]: string should match", '"/etc"'),
    (lambda d: d["steps"][1].update(outputs=["store/.tmp"]), "B106", "steps[1].outputs[0]: string should match",
     '"store/.tmp"'),
    (lambda d: d["steps"][1].update(outputs=["store/build-2c3d", "store/build-9"]), "B106",
     "steps[1].outputs: tuple should have at most 1 item", '[\n        "store/build-2c3d",'),
    (lambda d: d["steps"][0].update(depends_on=["build"]), "B107",
     "step quantize depends on 'build', which is not an earlier step", '"build"'),
    (lambda d: d["steps"][1]["inputs"][0].update(path="/etc/passwd"), "B107",
     "step build: input '/etc/passwd' is not in the output of a step it depends on", '{\n          "kind": "step"'),
    (lambda d: d["steps"][1].update(script="/bin/sh"), "B108", "steps[1].script: string should match", '"/bin/sh"'),
    (lambda d: d["steps"][1].update(script="steps/02-quantize.sh"), "B108",
     "step build: script 'steps/02-quantize.sh' is not steps/NN-build.sh", '"steps/02-quantize.sh"'),
])
def test_ids_outputs_dependencies_and_scripts(change: Callable[[dict[str, Any]], None], code: str, message: str,
                                              needle: str | tuple[str, int]) -> None:
    data = doc()
    change(data)
    text = text_of(data)
    found = findings(text)
    assert any(c == code and m.startswith(message) for c, m, _, _ in found), found
    line, column = next((ln, col) for c, m, ln, col in found if c == code and m.startswith(message))
    value, nth = needle if isinstance(needle, tuple) else (needle, 1)
    assert (line, column) == position_of(text, value, nth)


def test_two_steps_writing_one_folder() -> None:
    data = doc()
    data["steps"].append({"id": "build", "tool": "x", "argv": [], "outputs": ["store/build-2c3d"], "fingerprint": "9",
                          "impact": "rebuild"})
    codes = [(c, m) for c, m, _, _ in findings(text_of(data))]
    assert ("B105", "steps[2].id 'build' is also the id of steps[1]") in codes
    assert ("B106", "step build: output 'store/build-2c3d' is also the output of step build") in codes


def test_schema_version_is_checked_first() -> None:
    text = text_of(doc(schema_version=2, something_new={"of": "version 2"}))
    [(code, message, line, column)] = findings(text)
    assert code == "B103" and message == "plan.json has schema_version 2; this trtdeploy reads 1"
    assert (line, column) == position_of(text, "2,")


@pytest.mark.parametrize(("text", "message"), [
    ("{", "plan.json is not valid JSON: Expecting property name enclosed in double quotes"),
    ('{"steps": [], "steps": []}', "plan.json has the key 'steps' twice in one object"),
    ("[" * 100_000 + "]" * 100_000, "plan.json is nested too deeply to read"),
    ('{"schema_version": 1, "resolved": ' + "[" * 500 + "]" * 500 + "}", "plan.json cannot be read: Invalid JSON"),
    ("\"just a string\"", "plan.json: input should be an object"),
])
def test_documents_that_cannot_be_read(text: str, message: str) -> None:
    found = findings(text)
    assert found[0][0] in {"B102", "B104"} and found[0][1].startswith(message), found


def test_a_duplicate_key_is_placed_where_it_is_written_again() -> None:
    data = doc()
    text = text_of(data).replace('"fingerprint": "2c3d"', '"fingerprint": "2c3d", "outputs": ["store/x-1"]')
    [(code, message, line, column)] = findings(text)
    assert code == "B102" and message == "plan.json has the key 'outputs' twice in one object"
    assert (line, column) == position_of(text, '"outputs": ["store/x-1"]')


def test_locate_walks_objects_and_arrays() -> None:
    text = '{"a": [1, {"b": "x"}],\n "c": {"d": [true,\n   null]}}'
    assert locate(text, ("a", 1, "b")) == (1, 17)
    assert locate(text, ("c", "d", 1)) == (3, 4)
    assert locate(text, ("c", "nope")) == (2, 7)  # the deepest part found
    assert locate(text, ()) == (1, 1)


# ---------------------------------------------------------------- through the CLI


def test_build_and_status_print_findings_with_file_line_and_column(tmp_path: Path, trtdeploy: Callable[..., Result]) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    data = doc()
    data["steps"][1]["outputs"] = ["store/quantize-0a1b"]
    text = text_of(data)
    (folder / "plan.json").write_text(text)
    line, column = position_of(text, '"store/quantize-0a1b"', 2)
    for command in (("build", str(folder), "--skip-doctor"), ("status", str(folder)), ("doctor", str(folder))):
        result = trtdeploy(*command)
        assert result.exit_code == 1, result.output
        assert f"{folder}/plan.json:{line}:{column}: B106 error: step build: output 'store/quantize-0a1b' is not its " \
               "own folder store/build-<fingerprint>" in result.stderr
        assert "  help: plan.json is written by `trtdeploy compile`" in result.stderr
    assert not (folder / "store").exists()  # nothing was run, nothing overwritten
