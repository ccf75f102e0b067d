"""What every launcher shares: launch/rank.sh, the variables each rank gets, and the Launch record.

Every rank runs launch/rank.sh, which execs the backend's program (a test or a probe
may replace the program through TRTDEPLOY_RANK_ENTRYPOINT). It leaves the GPUs as the
scheduler set them: TensorRT-LLM's runtime selects device `rank % gpus_per_node` itself
(ModelRunner: torch.cuda.set_device(rank % gpus_per_node); C++ WorldConfig::getDevice),
so a rank that sees only one device would ask for one it cannot see.
TRTDEPLOY_BIND_GPU=1 binds each rank to its local GPU, for runtimes that use device 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from compiler.backends import ranks_wrapped
from compiler.decide.model import Backend, Decided, Note
from compiler.findings import Finding, draft
from compiler.plan.argv import LAUNCH, PARALLELISM, TOOL, UPSTREAM
from compiler.plan.model import BUILD_DIR, EXAMPLES_DIR, MODEL_DIR, VARIABLE_ENV, Arg, Launch, Var, args_text, fingerprint
from compiler.plan.steps import RankProgram
from compiler.spec import Entrypoint

RANK_SCRIPT = "launch/rank.sh"
HOSTFILE_PATH = "launch/hostfile"
# rank.sh reads these; mpirun.sh forwards them to every rank with -x.
RANK_ENTRYPOINT_ENV = "TRTDEPLOY_RANK_ENTRYPOINT"
GPU_BINDING_ENV = "TRTDEPLOY_BIND_GPU"
RANK_ENV_NAMES = frozenset({VARIABLE_ENV[MODEL_DIR], VARIABLE_ENV[EXAMPLES_DIR], RANK_ENTRYPOINT_ENV, GPU_BINDING_ENV})
# Values written into a hostfile or an #SBATCH line, where quoting does not exist.
PLAIN = re.compile(r"^[A-Za-z0-9_.:@+,=/][A-Za-z0-9_.:@+,=/-]*$")


def rank_script_argv() -> tuple[Arg, ...]:
    return ("bash", Var(BUILD_DIR, "/" + RANK_SCRIPT))


def rank_argv(d: Decided, program: RankProgram) -> tuple[Arg, ...]:
    """The program each rank execs: with its multi-node wrapper when the launcher starts the LLM API's ranks."""
    wrapper = program.multinode_wrapper if ranks_wrapped(d) else ()
    return (*wrapper, *program.argv.argv)


def rank_env(argv: Sequence[Arg]) -> tuple[str, ...]:
    """The variables rank.sh reads from its environment: its defaults' overrides, the probe and the binding."""
    used = {arg.name for arg in argv if isinstance(arg, Var)}
    overrides = [VARIABLE_ENV[name] for name in (MODEL_DIR, EXAMPLES_DIR) if name in used]
    return (*overrides, RANK_ENTRYPOINT_ENV, GPU_BINDING_ENV)


def passthrough(d: Decided, argv: Sequence[Arg]) -> tuple[str, ...]:
    """Variables every rank gets by name: launch.env (values never written), then rank.sh's own."""
    return tuple(dict.fromkeys([*d.r.spec.launch.env, *rank_env(argv)]))


def common_notes(d: Decided) -> list[Note]:
    """The launch decisions every launcher shares: one rank per GPU, GPUs left to the runtime, a shared folder."""
    t = d.topology
    # trtllm-serve runs through the LLM API on either backend; run.py is the engine path's per-rank program.
    llm_api = d.backend.value is Backend.PYTORCH or d.r.spec.launch.entrypoint is Entrypoint.SERVE
    if llm_api and not ranks_wrapped(d):
        ranks = Note("launch.ranks", f"one trtllm-serve process with {t.world_size} worker(s)",
                     "on one node the LLM API starts its own MPI workers, one per GPU; no launcher is needed")
    elif llm_api:
        ranks = Note("launch.ranks", f"world size {t.world_size}: {t.ranks_per_node} per node on {t.nodes} node(s)",
                     "one MPI rank per GPU under trtllm-llmapi-launch, which makes rank 0 the HTTP server and the "
                     "others its workers (tensorrt_llm/llmapi/trtllm-llmapi-launch @ 020c89e6)")
    else:
        ranks = Note("launch.ranks", f"world size {t.world_size}: {t.ranks_per_node} per node on {t.nodes} node(s)",
                     "one MPI rank per GPU: the runtime asserts that the MPI size equals tp x pp "
                     "(model_runner.py: 'Engine world size (tp * pp) != Runtime world size'; worldConfig.cpp)")
    notes = [
        ranks,
        Note("launch.gpu_binding", "CUDA_VISIBLE_DEVICES as the scheduler set it",
             "TensorRT-LLM selects device rank % gpus_per_node itself (ModelRunner: torch.cuda.set_device; C++ "
             f"WorldConfig::getDevice), so one visible device per rank would break ranks above 0; {GPU_BINDING_ENV}=1 "
             "binds each rank to its local GPU for a runtime that uses device 0 only"),
    ]
    if t.nodes > 1:
        notes.append(Note("launch.shared_folder", "the build folder on every node",
                          "every node runs launch/rank.sh and reads what it serves from this build folder at the "
                          "same path"))
    return notes


def topology_gaps(d: Decided) -> list[Finding]:
    """Layouts no launch can be written for; the L rules report them (L101, L104), the planner refuses."""
    t = d.topology
    if t.world_size % t.nodes or t.world_size // t.nodes > t.gpus_per_node:
        return [draft("target.nodes", f"{t.world_size} ranks do not split over {t.nodes} node(s) of "
                      f"{t.gpus_per_node} GPUs", "see the L rules' findings", code="L101")]
    return []


def unplain(key: str, value: str, what: str, hint: str) -> Finding | None:
    """A P104 draft when `value` cannot be written where no quoting applies (or would read as an option)."""
    if PLAIN.match(value):
        return None
    return draft(key, f"{what} {value!r} is not a plain name" + (" (it starts with '-', so a tool would read it "
                 "as an option)" if value.startswith("-") else ""), hint, code="P104")


def make_launch(d: Decided, program: RankProgram, *, argv: tuple[Arg, ...], files: Mapping[str, str],
                rank: tuple[Arg, ...], hosts: tuple[str, ...] = (), sbatch: tuple[tuple[str, str], ...] = (),
                script: str | None = None, hostfile: str | None = None,
                contents: Mapping[str, str] | None = None) -> Launch:
    """The Launch record, with the fingerprints diff reads: what each rank runs, and how they are started.

    The program's own files (an LLM-API YAML) join the launcher's, as whole texts.
    """
    launcher = d.r.spec.launch.launcher.value
    files = {**files, **{path: "text" for path in program.files}}
    contents = {**(contents or {}), **program.files}
    grouped = program.argv.by_aspect()
    upstream = [s.fingerprint for s in program.reads]
    launch_aspect = fingerprint(launcher, args_text(argv), sbatch, hosts, args_text(grouped.get(TOOL, [])),
                                args_text(grouped.get(LAUNCH, [])), args_text(grouped.get(PARALLELISM, [])),
                                sorted(contents.items()))
    print_ = fingerprint(launcher, args_text(argv), args_text(rank), sbatch, hosts, upstream, sorted(contents.items()))
    t = d.topology
    return Launch(
        launcher=launcher, entrypoint=program.entrypoint, world_size=t.world_size, nodes=t.nodes,
        ranks_per_node=t.ranks_per_node, hosts=hosts, argv=argv, rank_argv=rank, engine_dir=program.serves,
        fingerprint=print_, env_passthrough=passthrough(d, rank), script=script, sbatch=sbatch, hostfile=hostfile,
        aspects={LAUNCH: launch_aspect, UPSTREAM: fingerprint(upstream)}, files=dict(files),
        contents=dict(contents), llm_api_options=program.llm_api_options,
    )
