"""render: Plan -> the build folder's files (and the plan's text and Markdown views). Pure: no file is written here.

Templates under templates/ print what this module hands them: flat lists of lines,
every value already quoted with shlex.quote here, never in a template. A Var
renders as "${NAME}" followed by its single-quoted suffix, so no value is ever
spliced into shell text unquoted. The plan's text and Markdown views escape what
may hold spec values here too (compiler.escape): plan.md is shown in reviews, so a
value can add no heading, row, code fence or HTML to it. Output is deterministic:
the same plan renders to the same bytes.
"""

from __future__ import annotations

import functools
import hashlib
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.escape import fenced, markdown_code, markdown_text, visible
from compiler.memory import gib
from compiler.launchers.ranks import GPU_BINDING_ENV, RANK_ENTRYPOINT_ENV, RANK_ENV_NAMES, RANK_SCRIPT
from compiler.plan.document import document_text, plan_document
from compiler.plan.steps import SMOKE_SCRIPT
from compiler.plan.model import (
    BENCHMARKS_DIR,
    BUILD_DIR,
    EXAMPLES_DIR,
    HOSTFILE,
    MODEL_DIR,
    MODELOPT_DIR,
    STEP_OUT,
    VARIABLE_ENV,
    Arg,
    Launch,
    Plan,
    Step,
    Var,
)
from compiler.backends.tensorrt.steps import SCRIPTS

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Definition order in a script preamble; BUILD_DIR first, since the others may be relative to it.
VARIABLE_ORDER = (BUILD_DIR, MODEL_DIR, EXAMPLES_DIR, BENCHMARKS_DIR, MODELOPT_DIR, HOSTFILE, STEP_OUT)
REQUIRED_WHAT = {MODEL_DIR: "the model folder", HOSTFILE: "a hostfile with one line per node",
                 MODELOPT_DIR: "a Model-Optimizer checkout (its examples/llm_ptq/hf_ptq.py)"}
GENERATED = "written by `trtdeploy compile`; edits are overwritten"


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2  # here, not at the top: `plan --format json` renders no template and skips its ~30 ms import

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _render(template: str, **context: object) -> str:
    return _environment().get_template(template).render(**context)


def single_quote(text: str) -> str:
    """Always single-quoted, even when shlex would leave it bare: "${EXAMPLES_DIR}"'/run.py'."""
    return "'" + text.replace("'", "'\"'\"'") + "'"


def shell_word(arg: Arg) -> str:
    """One argv element as one shell word."""
    if isinstance(arg, Var):
        return '"${' + arg.name + '}"' + (single_quote(arg.suffix) if arg.suffix else "")
    return shlex.quote(arg)


def _groups(argv: Sequence[Arg]) -> list[list[str]]:
    """Words grouped for reading: each option with its value (options here take at most one), else positionals;
    a bare `--` (the end of a client's options) stands alone."""
    groups: list[list[str]] = []
    expecting = closed = False
    for arg in argv:
        is_option = isinstance(arg, str) and arg.startswith("-")
        if not groups or is_option:
            groups.append([])
            expecting = isinstance(arg, str) and is_option and "=" not in arg and arg != "--"
            closed = is_option and not expecting
        elif expecting:
            expecting, closed = False, True
        elif closed:
            groups.append([])
            closed = False
        groups[-1].append(shell_word(arg))
    return groups


def command_lines(argv: Sequence[Arg], prefix: str = "") -> list[str]:
    """A command over several lines, joined with backslashes."""
    lines = [" ".join(group) for group in _groups(argv)]
    out = [prefix + lines[0]] + ["  " + line for line in lines[1:]]
    return [line + " \\" for line in out[:-1]] + out[-1:]


def _definition(name: str, default: str | None) -> str:
    if name == BUILD_DIR:
        return "BUILD_DIR=$PWD"
    env = VARIABLE_ENV[name]
    if default is None:
        return f"{name}=${{{env}:?set {env} to {REQUIRED_WHAT[name]}}}"
    return f"{name}=${{{env}:-{shlex.quote(default)}}}"


def definitions(argvs: Iterable[Sequence[Arg]], variables: Mapping[str, str | None],
                extra: Mapping[str, str | None] | None = None, skip: frozenset[str] = frozenset()) -> list[str]:
    """The preamble lines defining every variable the commands use, in a fixed order."""
    values = {**variables, **(extra or {})}
    used = {arg.name for argv in argvs for arg in argv if isinstance(arg, Var)} | set(extra or {})
    return [_definition(name, values.get(name)) for name in VARIABLE_ORDER if name in used and name not in skip]


def _header(*lines: str) -> list[str]:
    for line in lines:
        if "\n" in line or "\r" in line:  # only plan-made text goes into comments; this guards that
            raise ValueError(f"a comment line holds a newline: {line!r}")
    return list(lines)


def render_step(plan: Plan, step: Step) -> str:
    return _render(
        "steps/step.sh.j2",
        header=_header(f"trtdeploy step {step.script} of {plan.name}: {step.tool}",
                       f"fingerprint {step.fingerprint}", GENERATED),
        definitions=definitions([step.argv], plan.variables, {STEP_OUT: step.output}),
        exports=[f"export {name}={shlex.quote(value)}" for name, value in step.env],
        command=step_command(step),
    )


def step_command(step: Step) -> list[str]:
    """The step's command: exec'd, or piped through tee into its capture file (pipefail keeps the tool's status)."""
    if step.capture is None:
        return command_lines(step.argv, "exec ")
    lines = command_lines(step.argv)
    return [*lines[:-1], f'{lines[-1]} 2>&1 | tee "${{{STEP_OUT}}}"/{single_quote(step.capture)}']


# Each rank keeps the GPUs the scheduler set unless asked to bind (TensorRT-LLM selects rank % gpus_per_node itself).
BIND_GPU_LINES = (
    "# GPUs stay as the scheduler set them: TensorRT-LLM selects device (rank % gpus_per_node) itself.",
    f"# {GPU_BINDING_ENV}=1 binds each rank to its local GPU, for a runtime that uses device 0 only.",
    f'if [[ "${{{GPU_BINDING_ENV}:-0}}" == 1 ]]; then',
    "  # The rank's index on its node: Open MPI, then Slurm, then MPICH / PMI.",
    '  export CUDA_VISIBLE_DEVICES="${OMPI_COMM_WORLD_LOCAL_RANK:-${SLURM_LOCALID:-${MPI_LOCALRANKID:-${PMI_RANK:-0}}}}"',
    "fi",
)
ONE_PROCESS_GPU_LINES = ("# One process sees every GPU the scheduler gave it: the LLM API places its workers on them.",)


def render_rank(plan: Plan) -> str:
    launch = plan.launch
    return _render_rank_script(plan, f"trtdeploy: one rank of {plan.name} ({launch.world_size} ranks): starts "
                               f"{launch.entrypoint}", bind=True)


def render_process(plan: Plan) -> str:
    """rank.sh for a program that starts its own workers: one process, which must see every GPU it uses."""
    launch = plan.launch
    return _render_rank_script(plan, f"trtdeploy: the one process of {plan.name}: starts {launch.entrypoint}, which "
                               f"starts {launch.world_size} worker(s) on this node", bind=False)


def _render_rank_script(plan: Plan, title: str, *, bind: bool) -> str:
    launch = plan.launch
    return _render(
        "launch/rank.sh.j2",
        header=_header(title, f"fingerprint {launch.fingerprint}", GENERATED),
        definitions=definitions([launch.rank_argv], plan.variables),
        argv=[" ".join(group) for group in _groups(launch.rank_argv)],
        gpu_lines=BIND_GPU_LINES if bind else ONE_PROCESS_GPU_LINES,
        entrypoint_env=RANK_ENTRYPOINT_ENV,
    )


def render_start(plan: Plan) -> str:
    """The script that starts the ranks: mpirun over them, the one process that spawns its own workers, or the
    smoke client in front of that process."""
    launch = plan.launch
    rank_env = [name for name in launch.env_passthrough if name in RANK_ENV_NAMES]
    how = (f"{launch.world_size} MPI ranks, {launch.ranks_per_node} per node, one per GPU" if launch.argv[:1] == ("mpirun",)
           else f"one process that starts its own workers on {launch.world_size} GPU(s)")
    if SMOKE_SCRIPT in launch.files:
        how = f"a smoke check: {SMOKE_SCRIPT} starts {how}, asks it once and stops it"
    return _render(
        "launch/start.sh.j2",
        header=_header(f"trtdeploy launch of {plan.name}: {how}", f"fingerprint {launch.fingerprint}", GENERATED),
        definitions=definitions([launch.argv], plan.variables),
        exports=[f"export {name}=${{{name}:-}}" for name in rank_env],
        command=command_lines(launch.argv, "exec "),
    )


def _plain(value: str) -> str:
    """A value for a hostfile or an #SBATCH line; P104 refuses these before planning, this guards that."""
    if value.startswith("-") or any(c.isspace() or c in "'\"`$\\;#" for c in value):
        raise ValueError(f"not a plain value for a hostfile or #SBATCH line: {value!r}")
    return value


def render_sbatch(plan: Plan) -> str:
    launch = plan.launch
    return _render(
        "launch/slurm.sbatch.j2",
        sbatch=[f"{key}={_plain(value)}" for key, value in launch.sbatch],  # the keys are the planner's options
        header=_header(f"trtdeploy launch of {plan.name}: {launch.world_size} ranks on {launch.nodes} node(s)",
                       f"fingerprint {launch.fingerprint}", GENERATED),
        command=command_lines(launch.argv, "exec "),
    )


def render_smoke(plan: Plan) -> str:
    """The smoke client of a server: the same text for every plan, its arguments come from the launch command."""
    return _render("launch/smoke.py.j2")


def render_hostfile(plan: Plan) -> str:
    launch = plan.launch
    return _render("launch/hostfile.j2", header=_header(f"trtdeploy hostfile of {plan.name}: one line per node"),
                   hosts=[_plain(host) for host in launch.hosts], slots=launch.ranks_per_node)


# How each kind of launch file is rendered (Launch.files maps a path to its kind).
LAUNCH_RENDERERS: dict[str, Callable[[Plan], str]] = {
    "rank": render_rank,
    "process": render_process,
    "start": render_start,
    "sbatch": render_sbatch,
    "hostfile": render_hostfile,
    "smoke": render_smoke,
}


def plan_json(plan: Plan, scripts: Mapping[str, str] | None = None) -> str:
    """plan.json: the plan as the typed document the runner reads (compiler/plan/document.py).

    With the rendered `scripts` (path -> text), each step also records its script's sha256,
    so that the runner refuses a script edited after compile.
    """
    data = plan.to_json()
    if scripts:
        for step in data["steps"]:  # type: ignore[attr-defined]
            text = scripts[step["script"]]
            step["script_sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return document_text(plan_document(data))


def render_build(plan: Plan) -> dict[str, str]:
    """Every file of the build folder, by path relative to it, in a stable order."""
    scripts: dict[str, str] = {}
    for step in plan.steps:
        assert step.script is not None
        scripts[step.script] = render_step(plan, step)
    files = {"plan.json": plan_json(plan, scripts), "plan.md": render_markdown(plan), **scripts}
    for step in plan.steps:
        for script, template in SCRIPTS.items():
            if script in step.argv:
                files[script] = _render(f"steps/{template}")
    launch = plan.launch
    for path, kind in sorted(launch.files.items()):
        files[path] = launch.contents[path] if kind == "text" else LAUNCH_RENDERERS[kind](plan)
    return files


def is_executable(path: str) -> bool:
    return path.endswith((".sh", ".sbatch")) or path in SCRIPTS


@dataclass(frozen=True)
class _Style:
    """How the plan views print what may hold spec values (paths, names, datasets, finding messages)."""

    text: Callable[[str], str]
    code: Callable[[str], str]
    block: Callable[[Sequence[str]], list[str]]


_TEXT_STYLE = _Style(visible, visible, lambda lines: [visible(line) for line in lines])
_MARKDOWN_STYLE = _Style(markdown_text, markdown_code, lambda lines: [*fenced(lines, "bash"), ""])


def _view(plan: Plan, style: _Style) -> dict[str, object]:
    """What the text and Markdown views print, already escaped (sections that may be empty included)."""
    resolved = plan.resolved
    gpu = resolved["gpu"]
    assert isinstance(gpu, dict)
    memory = plan.memory
    text = style.text
    return {
        "name": text(plan.name),
        "spec": style.code(plan.spec_path),
        "release": text(f"TensorRT-LLM {plan.release_version}, {plan.backend} backend"),
        "gpu": text(f"{gpu['id']} (SM{gpu['sm']})"),
        "layout": text(_layout(plan)),
        "quantization": text(f"{resolved['format']}, KV cache {resolved['kv_cache']}"),
        "memory": [("weights", gib(memory.weights_bytes)), ("KV cache", gib(memory.kv_cache_bytes)),
                   ("activations", gib(memory.activation_bytes)), ("total", gib(memory.total_bytes))],
        "memory_of": f"of {gib(memory.gpu_memory_bytes)} ({gib(memory.usable_bytes)} usable): "
                     f"{'fits' if memory.fits else 'does NOT fit'}",
        "steps": [_step_view(step, style) for step in plan.steps],
        "launch": _launch_view(plan, style),
        "decisions": [{"topic": text(d.topic), "choice": text(d.choice), "reason": text(d.reason)}
                      for d in plan.decisions],
        "findings": _findings_section(plan, style),
        "gates": _gates_section(plan, style),
    }


def _gates_section(plan: Plan, style: _Style) -> list[str]:
    """The verify gates `trtdeploy build` judges after its steps (empty without verify:)."""
    lines = [f"- {style.text(g.name)}: {g.metric} of {style.text(g.step)} {'>=' if g.bound == 'min' else '<='} "
             f"{g.threshold:g} {g.unit} ({style.text(g.reason)})" for g in plan.gates]
    if not plan.measures:
        return []
    if not lines:
        lines = ["- no gates: the verify steps' figures are recorded in results.json"]
    return ["", "## Verify gates", "", *lines] if style is _MARKDOWN_STYLE else ["", "verify gates:", *("  " + line
                                                                                                   for line in lines)]


def _findings_section(plan: Plan, style: _Style) -> list[str]:
    lines = [f"- {f.code} {f.severity.value}: {style.text(f.message)}" + (f" (help: {style.text(f.hint)})" if f.hint else "")
             for f in plan.findings]
    if not lines:
        return []
    return ["", "## Findings", "", *lines] if style is _MARKDOWN_STYLE else ["", "findings:", *("  " + line for line in lines)]


def _layout(plan: Plan) -> str:
    launch = plan.launch
    return (f"{launch.world_size} GPU{'s' if launch.world_size != 1 else ''} on {launch.nodes} "
            f"node{'s' if launch.nodes != 1 else ''} ({launch.ranks_per_node} per node)")


def _step_view(step: Step, style: _Style) -> dict[str, object]:
    return {"script": style.code(step.script or "-"), "id": style.text(step.id), "tool": style.text(step.tool),
            "output": style.code(step.output), "reason": style.text(step.reason),
            "fingerprint": style.code(step.fingerprint[:16]),
            "reads": style.text(", ".join(step.depends_on) or "-"),
            "command": style.block(command_lines(step.argv))}


def _rank_runner(launch: Launch, style: _Style) -> str | None:
    """What runs the rank command, by the launch/rank.sh the launch writes; None when the launch command is
    the rank command itself (Kubernetes' pod on one node): nothing more to show."""
    kind, script = launch.files.get(RANK_SCRIPT), style.code(RANK_SCRIPT)
    if kind == "rank":
        return f"Each rank runs {script}, which binds its GPU and then runs"
    if kind == "process":
        return f"{script} runs the one process, which starts its own workers"
    return None if tuple(launch.rank_argv) == tuple(launch.argv) else "Each MPI rank runs"


def _launch_view(plan: Plan, style: _Style) -> dict[str, object]:
    launch = plan.launch
    command = [f"#SBATCH {key}={value}" for key, value in launch.sbatch] + (
        command_lines(launch.argv) if launch.argv else [])
    runner = _rank_runner(launch, style)
    return {"launcher": style.text(launch.launcher), "script": style.code(launch.script or "-"),
            "entrypoint": style.text(launch.entrypoint), "fingerprint": style.code(launch.fingerprint[:16]),
            "command": style.block(command) if command else [], "rank_runner": [runner] if runner else [],
            "rank_command": style.block(command_lines(launch.rank_argv)) if runner else []}


def render_text(plan: Plan) -> str:
    """`trtdeploy plan --format text`: steps with their full commands, memory per GPU, decisions."""
    return _render("plan/plan.txt.j2", **_view(plan, _TEXT_STYLE))


def render_markdown(plan: Plan) -> str:
    """plan.md and `trtdeploy plan --format markdown`."""
    return _render("plan/plan.md.j2", **_view(plan, _MARKDOWN_STYLE))
