"""plan.json as a typed contract: the pydantic models shared by its writer (compile) and its reader (the runner).

`trtdeploy compile` turns a Plan into this document (`plan_document`, `document_text`);
`trtdeploy build DIR` reads it back (`read_document`) without the spec, the catalogs or the
planner, so this module imports only pydantic and compiler.findings. The JSON Schema
published as docs/plan.schema.json is generated from these models.

Reading checks the document as a whole, and reports every problem at once as a Finding at
the line and column of plan.json where it was written:

- B102: not JSON, nested too deep, or a key written twice;
- B103: a schema_version this trtdeploy does not read;
- B104: a key missing, unknown or of the wrong type (e.g. `"inputs": 5`);
- B105: a step id that is not a safe name, or that two steps share;
- B106: an output that is not the step's own single `store/<id>-<hex>` folder, or that
  another step also writes;
- B107: depends_on naming a step that is not earlier, or a step input not read from it; a
  verify measure or gate naming a step the plan does not measure;
- B108: a script that is not `steps/NN-<id>.sh`.

Every field the planner writes is required; a change of shape is a new schema_version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from compiler.findings import Finding, Location, Severity
from compiler.plan.model import PLAN_SCHEMA_VERSION

PLAN_FILE = "plan.json"
# Shapes of the names the runner turns into paths: none can hold "/", "..", or start with a dot.
STEP_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
STORE_PATH = r"^store/[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$"
SCRIPT_PATH = r"^steps/[0-9]{2,4}-[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\.sh$"
RELATIVE_PATH = r"^(?!/)(?!.*(^|/)\.\.(/|$))[^\0\n]{1,400}$"
HEX = r"^[0-9a-f]{1,128}$"
SHA256 = r"^[0-9a-f]{64}$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
RULE_CODE = r"^[A-Z][0-9]{3}$"
FILE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"

BAD_JSON = "B102"
BAD_VERSION = "B103"
BAD_SHAPE = "B104"
BAD_STEP_ID = "B105"
BAD_OUTPUT = "B106"
BAD_DEPENDENCY = "B107"
BAD_SCRIPT = "B108"
RECOMPILE = ("plan.json is written by `trtdeploy compile`: recompile the build folder "
             "(`trtdeploy compile SPEC -o DIR`) instead of editing it")
MAX_REPORTED = 20  # problems listed per document; a garbled file would otherwise print thousands

StepId = Annotated[str, Field(pattern=STEP_ID, description="letters, digits, _ . - (a letter or digit first), at most 63")]
StorePath = Annotated[str, Field(pattern=STORE_PATH, description="store/<id>-<hex>: a folder directly under store/")]
Hex = Annotated[str, Field(pattern=HEX)]
Sha256 = Annotated[str, Field(pattern=SHA256)]
EnvName = Annotated[str, Field(pattern=ENV_NAME)]
RelativePath = Annotated[str, Field(pattern=RELATIVE_PATH, description="a path relative to the build folder, no '..'")]
Count = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]


class DocumentModel(BaseModel):
    """Frozen, strict, and closed: a key this trtdeploy does not know is an error, never ignored.

    Patterns use Python's re, for the look-ahead of RELATIVE_PATH (JSON Schema's regexes have it too).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, regex_engine="python-re")


class Release(DocumentModel):
    version: str = Field(description="The exact TensorRT-LLM release the plan targets, e.g. 1.2.0.")


class StepInputDocument(DocumentModel):
    """Something a step reads: model, calibration and checkpoint files are digested into its run key."""

    kind: Literal["model", "calibration", "checkpoint", "dataset", "step"]
    path: str = Field(min_length=1, description="May hold ${MODEL_DIR}, ${EXAMPLES_DIR} or ${BUILD_DIR}.")
    step: StepId | None = Field(default=None, description="For kind step: the step whose output this is.")


class StepDocument(DocumentModel):
    """One step: `bash <script>` writes its output into STEP_OUT, which becomes `outputs[0]`."""

    id: StepId
    tool: str = Field(min_length=1, description="The tool's id, e.g. quantize.py, hf_ptq.py, trtllm-build.")
    argv: tuple[str, ...]
    inputs: tuple[StepInputDocument, ...] = ()
    outputs: Annotated[tuple[StorePath, ...], Field(min_length=1, max_length=1)]
    depends_on: tuple[StepId, ...] = ()
    fingerprint: Hex
    aspects: dict[str, str] = Field(default_factory=dict)
    reason: str = ""
    env: dict[EnvName, str] = Field(default_factory=dict)
    script: Annotated[str, Field(pattern=SCRIPT_PATH)] | None = Field(
        default=None, description="steps/NN-<id>.sh; when absent, NN is the step's position.")
    script_sha256: Sha256 | None = Field(
        default=None, description="sha256 of the script compile wrote; the runner refuses to run an edited one.")
    impact: Literal["requantize", "rebuild", "reverify", "relaunch", "none"] = Field(
        description="What re-running this step costs in review.")
    capture: Annotated[str, Field(pattern=FILE_NAME)] | None = Field(
        default=None, description="A file of the step's output that receives what its tool prints (verify steps).")


class LaunchDocument(DocumentModel):
    """How the deployment is started once its steps are built."""

    launcher: str = Field(min_length=1)
    entrypoint: str
    world_size: Positive
    nodes: Positive
    ranks_per_node: Positive
    hosts: tuple[str, ...] = ()
    argv: tuple[str, ...] = ()
    rank_argv: tuple[str, ...] = ()
    engine_dir: str | None = None
    fingerprint: Hex
    env_passthrough: tuple[EnvName, ...] = ()
    script: RelativePath | None = None
    hostfile: RelativePath | None = None
    sbatch: tuple[tuple[str, str], ...] = ()
    aspects: dict[str, str] = Field(default_factory=dict)
    files: tuple[RelativePath, ...] = Field(description="Launch files written into the build folder.")
    llm_api_options: dict[str, Any] | None = Field(default=None, description="LLM-API options (the PyTorch backend).")


class MemoryPerGpu(DocumentModel):
    weights_bytes: Count
    kv_cache_bytes: Count
    activation_bytes: Count
    total_bytes: Count


class MemoryDocument(DocumentModel):
    gpu_memory_bytes: Count
    usable_bytes: Count
    per_gpu: MemoryPerGpu
    total_weights_bytes: Count
    fits: bool
    kv_sequences: Count | None = Field(
        description="Max-length sequences the KV cache holds where it takes a share of free memory (the PyTorch "
        "backend); null where it is sized for max_batch_size up front (an engine).")


class FindingDocument(DocumentModel):
    code: Annotated[str, Field(pattern=RULE_CODE)]
    severity: Literal["error", "warning", "note"]
    message: str
    hint: str = ""
    key: str = ""
    file: str | None = None
    line: Positive | None = None
    column: Positive | None = None


class DecisionDocument(DocumentModel):
    topic: str
    choice: str
    reason: str


class VariableDocument(DocumentModel):
    """A variable the scripts define: from environment variable `env`, else `default` (None: it must be set)."""

    env: EnvName | None = None
    default: str | None = None


class MeasureDocument(DocumentModel):
    """A verify step's result: `reader` parses the file `file` of its output (compiler/run/measure.py)."""

    step: StepId
    tool: str = Field(min_length=1)
    reader: Literal["trtllm-eval", "mmlu.py", "summarize.py", "trtllm-bench", "gptSessionBenchmark"]
    task: str = Field(min_length=1, description="The accuracy task, or throughput.")
    file: Annotated[str, Field(pattern=FILE_NAME)]


class GateDocument(DocumentModel):
    """A gate: the figure `metric` of what `step` measured must be at least (min) or at most (max) `threshold`."""

    name: str = Field(min_length=1)
    step: StepId
    metric: Literal["score", "output_tokens_per_s", "ttft_ms"]
    bound: Literal["min", "max"]
    threshold: float
    unit: str
    reason: str = ""


class VerifyDocument(DocumentModel):
    """The build's verify steps and gates; `trtdeploy build` writes their verdicts into results.json."""

    measures: tuple[MeasureDocument, ...]
    gates: tuple[GateDocument, ...] = ()


class PlanDocument(DocumentModel):
    """plan.json: the build folder's lock, and the runner's only input."""

    model_config = ConfigDict(title="trtdeploy plan.json")

    schema_version: Literal[1]
    name: str = Field(min_length=1)
    spec: str = ""
    backend: Literal["tensorrt", "pytorch"] = Field(
        description="tensorrt: engines built with trtllm-build; pytorch: a checkpoint served by trtllm-serve.")
    tensorrt_llm: Release
    resolved: dict[str, Any] = Field(default_factory=dict, description="The resolved facts, for people and doctor.")
    findings: tuple[FindingDocument, ...] = ()
    memory: MemoryDocument | None = None
    decisions: tuple[DecisionDocument, ...] = ()
    variables: dict[EnvName, VariableDocument] = Field(default_factory=dict)
    steps: tuple[StepDocument, ...]
    launch: LaunchDocument | None = None
    verify: VerifyDocument | None = Field(default=None, description="Verify steps and gates (the spec's verify:).")


# ---------------------------------------------------------------- the writer


def plan_document(data: Mapping[str, object]) -> PlanDocument:
    """The document of a plan's JSON form, checked as the runner will check it.

    Raises:
        ValueError: the plan breaks the contract; a planner bug, since a plan is made, not typed.
    """
    text = json.dumps(data, ensure_ascii=False)
    try:
        return read_document(text, PLAN_FILE)
    except DocumentError as exc:
        raise ValueError("the plan breaks plan.json's contract: "
                         + "; ".join(f"{f.code} {f.message}" for f in exc.findings)) from None


def document_text(document: PlanDocument) -> str:
    """plan.json's text: every field, keys sorted, so the same plan always gives the same bytes."""
    return json.dumps(document.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of plan.json (docs/plan.schema.json)."""
    schema = PlanDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


# ---------------------------------------------------------------- the reader


class DocumentError(Exception):
    """plan.json is not a document this trtdeploy can run; `findings` says every reason, where."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__("; ".join(f.message for f in findings))
        self.findings = tuple(findings)


JsonPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    code: str
    path: JsonPath
    message: str


def read_document(text: str, file: str) -> PlanDocument:
    """Parse and check plan.json's text; `file` is the name findings give as their place.

    Raises:
        DocumentError: with one finding per problem (at most MAX_REPORTED, then a count).
    """
    data = _parse(text, file)
    version = data.get("schema_version") if isinstance(data, dict) else None
    if isinstance(data, dict) and version != PLAN_SCHEMA_VERSION:
        raise DocumentError([_finding(text, file, Problem(
            BAD_VERSION, ("schema_version",),
            f"plan.json has schema_version {version!r}; this trtdeploy reads {PLAN_SCHEMA_VERSION}"),
            "recompile the build folder with this trtdeploy (`trtdeploy compile SPEC -o DIR`), "
            "or run it with the trtdeploy that compiled it")])
    try:
        document = PlanDocument.model_validate_json(text)
    except ValidationError as exc:
        problems = [_problem(error) for error in exc.errors(include_url=False)]
    else:
        problems = list(check_document(document))
        if not problems:
            return document
    findings = [_finding(text, file, p, RECOMPILE) for p in problems[:MAX_REPORTED]]
    if len(problems) > MAX_REPORTED:
        findings.append(Finding(BAD_SHAPE, Severity.ERROR, f"plan.json: {len(problems) - MAX_REPORTED} more problems",
                                RECOMPILE, location=Location(file, 1, 1)))
    raise DocumentError(findings)


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKey(key)
        found[key] = value
    return found


def _parse(text: str, file: str) -> object:
    """json.loads, with every way it can fail as a B102 finding (never a RecursionError)."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        where, why = Location(file, exc.lineno, exc.colno), f"plan.json is not valid JSON: {exc.msg}"
    except RecursionError:
        where, why = Location(file, 1, 1), "plan.json is nested too deeply to read"
    except _DuplicateKey as exc:
        position = _duplicate_position(text) or (1, 1)
        where, why = Location(file, *position), f"plan.json has the key {str(exc)!r} twice in one object"
    raise DocumentError([Finding(BAD_JSON, Severity.ERROR, why, RECOMPILE, location=where)])


_FIELD_CODES = {"id": BAD_STEP_ID, "outputs": BAD_OUTPUT, "depends_on": BAD_DEPENDENCY, "script": BAD_SCRIPT}


def _problem(error: Mapping[str, Any]) -> Problem:
    """One pydantic error as a problem, with the code of the field it is about."""
    path: JsonPath = tuple(p for p in error["loc"] if isinstance(p, (str, int)))
    kind = error["type"]
    where = dotted(path) or "plan.json"
    if kind == "json_invalid":
        return Problem(BAD_JSON, (), f"plan.json cannot be read: {error['msg']}")
    if kind == "missing":
        message = f"{where} is missing"
    elif kind == "extra_forbidden":
        message = f"{where} is not a key of plan.json (this trtdeploy does not know it)"
    else:
        message = f"{where}: {error['msg'][0].lower()}{error['msg'][1:]}, not {_short(error.get('input'))}"
    named = [p for p in path if isinstance(p, str)]
    code = BAD_SHAPE
    if len(path) >= 3 and path[0] == "steps" and named[1:2]:
        code = _FIELD_CODES.get(named[1], BAD_SHAPE)
    return Problem(code, path, message)


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def dotted(path: JsonPath) -> str:
    """("steps", 0, "outputs") -> "steps[0].outputs"."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _finding(text: str, file: str, problem: Problem, hint: str) -> Finding:
    line, column = locate(text, problem.path)
    return Finding(problem.code, Severity.ERROR, problem.message, hint, dotted(problem.path), Location(file, line, column))


# ---------------------------------------------------------------- checks of the document as a whole


def check_document(document: PlanDocument) -> Iterator[Problem]:
    """What a field-by-field check cannot see: ids, outputs and scripts against each other."""
    first_index: dict[str, int] = {}
    writer: dict[str, str] = {}
    for index, step in enumerate(document.steps):
        at: JsonPath = ("steps", index)
        if step.id in first_index:
            yield Problem(BAD_STEP_ID, (*at, "id"),
                          f"steps[{index}].id {step.id!r} is also the id of steps[{first_index[step.id]}]")
        first_index.setdefault(step.id, index)
        yield from _check_output(step, at, writer)
        yield from _check_dependencies(step, at, document.steps[:index])
        if step.script is not None and not step.script.endswith(f"-{step.id}.sh"):
            yield Problem(BAD_SCRIPT, (*at, "script"), f"step {step.id}: script {step.script!r} is not steps/NN-{step.id}.sh")
    if document.verify is not None:
        yield from _check_verify(document.verify, set(first_index))


def _check_verify(verify: VerifyDocument, steps: set[str]) -> Iterator[Problem]:
    """Every measure reads a step of the plan, and every gate a measured step."""
    measured = set()
    for index, measure in enumerate(verify.measures):
        if measure.step not in steps:
            yield Problem(BAD_DEPENDENCY, ("verify", "measures", index, "step"),
                          f"verify.measures[{index}] reads step {measure.step!r}, which the plan does not have")
        measured.add(measure.step)
    for index, gate in enumerate(verify.gates):
        if gate.step not in measured:
            yield Problem(BAD_DEPENDENCY, ("verify", "gates", index, "step"),
                          f"verify.gates[{index}] ({gate.name}) gates step {gate.step!r}, which nothing measures")


def _check_output(step: StepDocument, at: JsonPath, writer: dict[str, str]) -> Iterator[Problem]:
    output = step.outputs[0]
    if not re.fullmatch(f"store/{re.escape(step.id)}-[0-9a-f]{{1,64}}", output):
        yield Problem(BAD_OUTPUT, (*at, "outputs", 0),
                      f"step {step.id}: output {output!r} is not its own folder store/{step.id}-<fingerprint>")
    elif output in writer:
        yield Problem(BAD_OUTPUT, (*at, "outputs", 0),
                      f"step {step.id}: output {output!r} is also the output of step {writer[output]}")
    writer.setdefault(output, step.id)


def _check_dependencies(step: StepDocument, at: JsonPath, earlier: tuple[StepDocument, ...]) -> Iterator[Problem]:
    outputs = {s.id: s.outputs[0] for s in earlier}
    for number, name in enumerate(step.depends_on):
        if name not in outputs:
            yield Problem(BAD_DEPENDENCY, (*at, "depends_on", number),
                          f"step {step.id} depends on {name!r}, which is not an earlier step")
    for number, item in enumerate(step.inputs):
        where = (*at, "inputs", number)
        source = outputs.get(item.step or "") if item.step in step.depends_on else None
        if item.kind == "step" and (source is None or not (item.path == source or item.path.startswith(source + "/"))):
            yield Problem(BAD_DEPENDENCY, where, f"step {step.id}: input {item.path!r} is not in the output of a step "
                          "it depends on")
        elif item.kind != "step" and item.step is not None:
            yield Problem(BAD_DEPENDENCY, where, f"step {step.id}: a {item.kind} input names step {item.step!r}")


# ---------------------------------------------------------------- where a path is written


_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def locate(text: str, path: JsonPath) -> tuple[int, int]:
    """1-based (line, column) of the value at `path` in a JSON text, or of the deepest part of it found.

    Used only to place findings, after the text has been parsed once: anything unexpected
    just stops the walk where it is.
    """
    index = _skip(text, 0)
    for part in path:
        found = _child(text, index, part)
        if found is None:
            break
        index = found
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _skip(text: str, index: int) -> int:
    match = _WS.match(text, index)
    return match.end() if match else index


def _child(text: str, index: int, part: str | int) -> int | None:
    """Index of the value under key or position `part` of the object or array starting at `index`."""
    opener = text[index:index + 1]
    if opener not in ("{", "[") or (opener == "{") != isinstance(part, str):
        return None
    closer, position = ("}" if opener == "{" else "]"), 0
    index = _skip(text, index + 1)
    try:
        while text[index] != closer:
            if opener == "{":
                key, index = _DECODER.raw_decode(text, index)
                index = _skip(text, _skip(text, index) + 1)  # past the ':'
                if key == part:
                    return index
            elif position == part:
                return index
            _, index = _DECODER.raw_decode(text, index)
            index = _skip(text, index)
            if text[index] == ",":
                index = _skip(text, index + 1)
            position += 1
    except (ValueError, IndexError, RecursionError):
        return None
    return None


def _duplicate_position(text: str) -> tuple[int, int] | None:
    """Where the first key written twice in one object is written the second time."""
    try:
        index = _find_duplicate(text, _skip(text, 0))[1]
    except (ValueError, IndexError, RecursionError):
        return None
    if index is None:
        return None
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def _find_duplicate(text: str, index: int) -> tuple[int, int | None]:
    """(end of the value at `index`, index of a repeated key inside it or None)."""
    opener = text[index]
    if opener not in "{[":
        return _DECODER.raw_decode(text, index)[1], None
    closer, seen = ("}" if opener == "{" else "]"), set()
    index = _skip(text, index + 1)
    while text[index] != closer:
        if opener == "{":
            start = index
            key, index = _DECODER.raw_decode(text, index)
            if key in seen:
                return index, start
            seen.add(key)
            index = _skip(text, _skip(text, index) + 1)
        index, found = _find_duplicate(text, index)
        if found is not None:
            return index, found
        index = _skip(text, index)
        if text[index] == ",":
            index = _skip(text, index + 1)
    return index + 1, None
