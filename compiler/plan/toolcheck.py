"""Every argv the planner writes, checked against the tool surfaces of the exact release before anything is written.

Each step's tool and the launch's program are looked up in compiler/catalog/tools/ for
the version the tool ships with (TensorRT-LLM's, or ModelOpt's for hf_ptq.py); a family
whose convert_checkpoint.py differs from llama's has a file of its own. A problem here is
a planner bug (the rules said the spec is fine, the planner wrote what the release
refuses), so it raises PlanBug rather than being reported as a finding.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from compiler.catalog.tools import TOOLS_DIR, surface, tool_facts
from compiler.plan.model import Arg, Plan, Step
from compiler.versions import Version

# A step's tool id -> its tool file (the GPTQ step is trtdeploy's own script).
STEP_TOOLS = {"gptqmodel": "gptq_quantize.py"}
# Programs that run a Python script: the script is the tool, what follows are its arguments.
INTERPRETERS = frozenset({"python3", "python"})
# A launch program -> (its tool file, the subcommand its argv is for).
LAUNCH_TOOLS = {"trtllm-serve": ("trtllm-serve", "serve"), "run.py": ("run.py", None)}
WRAPPERS = frozenset({"trtllm-llmapi-launch"})
# What a step runs one process per rank under: `mpirun -n N --allow-run-as-root <program ...>` (the engine path's
# verify steps); the planner writes exactly these options.
MPIRUN_OPTIONS = 4


class PlanBug(AssertionError):
    """The planner wrote an argv its release's tool refuses: a bug in trtdeploy, not in the spec."""


def _words(argv: Sequence[Arg]) -> list[str]:
    return [str(a) for a in argv]


def _arguments(words: list[str]) -> tuple[str, list[str]]:
    """(the program's name, its arguments): `python3 .../x.py args` is x.py's, `trtllm-build args` its own,
    under `mpirun -n N --allow-run-as-root` or a wrapping launcher the command's."""
    if words[:2] == ["mpirun", "-n"]:
        if len(words) <= MPIRUN_OPTIONS or not words[2].isdigit() or words[3] != "--allow-run-as-root":
            raise PlanBug(f"the planner wrote an mpirun prefix it does not write: {words[:MPIRUN_OPTIONS]}")
        words = words[MPIRUN_OPTIONS:]
    while words and words[0] in WRAPPERS:
        words = words[1:]
    if words[0] in INTERPRETERS:
        return PurePosixPath(words[1]).name, words[2:]
    return PurePosixPath(words[0]).name, words[1:]


def tool_file(program: str, words: list[str]) -> str:
    """The tool file for a program; a model family's own converter where it has one."""
    name = STEP_TOOLS.get(program, program)
    if name == "convert_checkpoint.py":
        family = PurePosixPath(next(w for w in words if w.endswith("convert_checkpoint.py"))).parent.name
        if (TOOLS_DIR / f"{name}-{family}.yaml").is_file():
            return f"{name}-{family}"
    return name


def tool_version(tool: str, release: Version, modelopt: Version | None) -> Version:
    """The version a tool's ranges count: ModelOpt's for hf_ptq.py, else the TensorRT-LLM release's (trtdeploy's
    own GPTQ script holds from the oldest release on)."""
    if tool_facts(tool).versioned_by == "modelopt":
        assert modelopt is not None, f"{tool} counts ModelOpt versions, and no ModelOpt version was given"
        return modelopt
    return release


def step_problems(step: Step, release: Version, modelopt: Version | None = None) -> list[str]:
    words = _words(step.argv)
    program, args = _arguments(words)
    tool = tool_file(step.tool if step.tool in STEP_TOOLS else program, words)
    return surface(tool, tool_version(tool, release, modelopt)).check(args)


def launch_problems(plan: Plan, release: Version) -> list[str]:
    words = _words(plan.launch.rank_argv)
    if not words:
        return []
    program, args = _arguments(words)
    tool, subcommand = LAUNCH_TOOLS[program]
    return surface(tool, release, subcommand).check(args)


def check_plan(plan: Plan, release: Version, modelopt: Version | None = None) -> None:
    """Raise PlanBug naming every argv problem of the plan's steps and launch."""
    problems = [f"{step.id}: {problem}" for step in plan.steps for problem in step_problems(step, release, modelopt)]
    problems += [f"launch: {problem}" for problem in launch_problems(plan, release)]
    if problems:
        raise PlanBug("the planner wrote what the release refuses: " + "; ".join(problems))
