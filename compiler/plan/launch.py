"""The launch: one MPI rank per GPU, world size tp x pp, started by mpirun or srun.

Every rank runs launch/rank.sh, which binds the rank's local GPU and then execs
the runtime: examples/run.py for a smoke generation (reference §1.4, §5), or
trtllm-serve under trtllm-llmapi-launch on 1.x (§5). Topology findings are the L
rules' (compiler/rules/launch.py); the planner only refuses what it cannot write.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from compiler.plan.argv import LAUNCH, TOOL, UPSTREAM, Argv
from compiler.plan.features import has
from compiler.plan.layout import RUN_SCRIPT
from compiler.plan.model import BUILD_DIR, EXAMPLES_DIR, HOSTFILE, MODEL_DIR, VARIABLE_ENV, Arg, Var
from compiler.plan.quant import Gap
from compiler.resolve import Resolved
from compiler.spec import AutoToggle, Entrypoint, Launcher

RANK_SCRIPT = "launch/rank.sh"
HOSTFILE_PATH = "launch/hostfile"
LAUNCH_SCRIPTS = {Launcher.MPIRUN: "launch/mpirun.sh", Launcher.SLURM: "launch/slurm.sbatch"}
# rank.sh reads these; mpirun.sh forwards them to every rank with -x.
RANK_ENTRYPOINT_ENV = "TRTDEPLOY_RANK_ENTRYPOINT"
GPU_BINDING_ENV = "TRTDEPLOY_BIND_GPU"
RANK_ENV_NAMES = frozenset({VARIABLE_ENV[MODEL_DIR], VARIABLE_ENV[EXAMPLES_DIR], RANK_ENTRYPOINT_ENV, GPU_BINDING_ENV})
# Values written into a hostfile or an #SBATCH line, where quoting does not exist. No leading '-':
# mpirun hands a hostfile's names to ssh, which would read `-lroot` or `-J...` as an option.
PLAIN = re.compile(r"^[A-Za-z0-9_.:@+,=/][A-Za-z0-9_.:@+,=/-]*$")


@dataclass(frozen=True)
class Topology:
    world_size: int
    nodes: int
    ranks_per_node: int


def topology(r: Resolved) -> Topology:
    nodes = r.spec.target.nodes
    return Topology(r.world_size, nodes, r.world_size // nodes)


def topology_gaps(r: Resolved) -> list[Gap]:
    """Layouts the launch cannot be written for; the L rules report them to the user (L101, L104, L105)."""
    target, gaps = r.spec.target, []
    if r.world_size % target.nodes or r.world_size // target.nodes > target.gpus_per_node:
        gaps.append(Gap("target.nodes", f"{r.world_size} ranks do not split over {target.nodes} node(s) of "
                        f"{target.gpus_per_node} GPUs", "see the L rules' findings"))
    hosts = r.spec.launch.hosts
    if hosts is not None and len(hosts) != target.nodes and r.spec.launch.launcher is Launcher.MPIRUN:
        gaps.append(Gap("launch.hosts", f"{len(hosts)} hosts for {target.nodes} node(s)", "list one host per node"))
    return gaps


def unplain_values(r: Resolved) -> list[Gap]:
    """Launch values written where shell quoting does not apply: a hostfile and #SBATCH lines (P104)."""
    launch, gaps = r.spec.launch, []
    if launch.launcher is Launcher.MPIRUN:
        for i, host in enumerate(launch.hosts or ()):
            if host.startswith("-"):
                gaps.append(Gap(f"launch.hosts.{i}", f"host {host!r} starts with '-'; ssh would read it as an "
                                "option", "use the host's name or address"))
            elif not PLAIN.match(host):
                gaps.append(Gap(f"launch.hosts.{i}", f"host {host!r} is not a plain host name; it is written into "
                                "launch/hostfile", "use the host's name or address"))
    if launch.launcher is Launcher.SLURM:
        for key in ("partition", "account"):
            value = getattr(launch.slurm, key)
            if value is not None and not PLAIN.match(value):
                gaps.append(Gap(f"launch.slurm.{key}", f"slurm {key} {value!r} is not a plain name (letters, digits "
                                "and . _ : @ + , = / -, not first '-'); it is written into an #SBATCH line",
                                f"use the {key}'s name as sinfo/sacctmgr show it"))
    return gaps


def tokenizer_arg(r: Resolved) -> Arg:
    """The tokenizer folder: the model folder (overridable at run time) unless model.tokenizer names another."""
    if r.spec.model.tokenizer is None or r.tokenizer_dir is None:
        return Var(MODEL_DIR)
    return r.tokenizer_dir


def rank_argv(r: Resolved, engine_dir: str) -> Argv:
    """What each rank execs after binding its GPU."""
    b = Argv()
    if r.spec.launch.entrypoint is Entrypoint.SERVE:
        serve = r.spec.launch.serve
        b.add(TOOL, "trtllm-llmapi-launch", "trtllm-serve")
        b.add(UPSTREAM, engine_dir)
        b.opt(LAUNCH, "--backend", "tensorrt")
        b.opt(LAUNCH, "--host", serve.host)
        b.opt(LAUNCH, "--port", serve.port)
        b.opt(LAUNCH, "--tokenizer", tokenizer_arg(r))
        # The engine fixes tp and pp; passing them keeps the server's mapping from falling back to its default of 1.
        b.opt(LAUNCH, "--tp_size", r.spec.parallelism.tp)
        b.opt(LAUNCH, "--pp_size", r.spec.parallelism.pp)
        b.decide("launch.entrypoint", "trtllm-llmapi-launch trtllm-serve", "on 1.x trtllm-serve serves a TensorRT "
                 "engine; trtllm-llmapi-launch makes rank 0 the server and the other ranks its workers (reference §5)")
        return b
    run = r.spec.launch.run
    b.add(TOOL, "python3", RUN_SCRIPT)
    b.opt(UPSTREAM, "--engine_dir", engine_dir)
    b.opt(LAUNCH, "--tokenizer_dir", tokenizer_arg(r))
    b.opt(LAUNCH, "--max_output_len", run.max_output_len)
    b.opt(LAUNCH, "--max_input_length", r.spec.limits.max_input_len)
    b.opt(LAUNCH, "--input_text", run.input_text)
    _runtime_multi_block(b, r)
    return b


def _runtime_multi_block(b: Argv, r: Resolved) -> None:
    setting = r.spec.plugins.multi_block_mode
    if setting is AutoToggle.AUTO or not has(r.release, "runtime_multi_block_mode"):
        return
    value = "True" if setting is AutoToggle.ENABLE else "False"
    b.opt(LAUNCH, "--multi_block_mode", value)
    b.decide("plugins.multi_block_mode", f"run.py --multi_block_mode {value}",
             "multi_block_mode is a runtime flag from 0.13, not a build flag (reference §4)")


def rank_env(rank: Argv) -> tuple[str, ...]:
    """The variables rank.sh reads from its environment: its defaults' overrides, the probe and the binding."""
    used = {arg.name for arg in rank.argv if isinstance(arg, Var)}
    overrides = [VARIABLE_ENV[name] for name in (MODEL_DIR, EXAMPLES_DIR) if name in used]
    return (*overrides, RANK_ENTRYPOINT_ENV, GPU_BINDING_ENV)


def passthrough(r: Resolved, rank: Argv) -> tuple[str, ...]:
    """Variables every rank gets by name: launch.env (values never written), then rank.sh's own."""
    names = [*r.spec.launch.env, *rank_env(rank)]
    return tuple(dict.fromkeys(names))


def uses_hostfile(r: Resolved) -> bool:
    return r.spec.launch.launcher is Launcher.MPIRUN and (r.spec.target.nodes > 1 or bool(r.spec.launch.hosts))


def mpirun_argv(r: Resolved, env: tuple[str, ...]) -> tuple[Arg, ...]:
    argv: list[Arg] = ["mpirun", "-n", str(r.world_size), "--allow-run-as-root"]
    if uses_hostfile(r):
        argv += ["--hostfile", Var(HOSTFILE)]
    for name in env:
        argv += ["-x", name]
    return (*argv, "bash", Var(BUILD_DIR, "/" + RANK_SCRIPT))


def srun_argv(r: Resolved) -> tuple[Arg, ...]:
    argv: list[Arg] = ["srun", "--mpi=pmix"]
    image = r.spec.launch.slurm.container_image
    if image is not None:
        argv.append(f"--container-image={image}")
    return (*argv, "bash", Var(BUILD_DIR, "/" + RANK_SCRIPT))


def sbatch_options(r: Resolved) -> tuple[tuple[str, str], ...]:
    """#SBATCH options: one task per GPU on each node (reference §5, the MGMN sbatch example)."""
    slurm, topo = r.spec.launch.slurm, topology(r)
    options = [
        ("--job-name", r.name),
        ("--nodes", str(topo.nodes)),
        ("--ntasks-per-node", str(topo.ranks_per_node)),
        ("--gres", f"gpu:{topo.ranks_per_node}"),
    ]
    options += [(f"--{key}", value) for key in ("partition", "account")
                if (value := getattr(slurm, key)) is not None]
    options.append(("--time", slurm.time))
    return tuple(options)


def launch_decisions(r: Resolved) -> list[tuple[str, str, str]]:
    """(topic, choice, reason) of the launch as a whole."""
    topo, launcher = topology(r), r.spec.launch.launcher
    out = [("launch.ranks", f"world size {topo.world_size}: {topo.ranks_per_node} per node on {topo.nodes} node(s)",
            "one MPI rank per GPU: the runtime asserts that the MPI size equals tp x pp (reference §4, §6 #1)"),
           ("launch.gpu_binding", "CUDA_VISIBLE_DEVICES = the rank's local rank",
            "launch/rank.sh reads OMPI_COMM_WORLD_LOCAL_RANK, else SLURM_LOCALID, else MPI_LOCALRANKID or PMI_RANK; "
            f"{GPU_BINDING_ENV}=0 keeps the devices as the scheduler set them")]
    if launcher is Launcher.KUBERNETES:
        out.append(("launch.kubernetes", "no manifest", "a LeaderWorkerSet or MPIJob manifest is out of scope; "
                    "run launch/rank.sh as each pod's command, one pod per rank"))
    if launcher is Launcher.SLURM and r.spec.launch.hosts:
        out.append(("launch.hosts", "not used", "Slurm places the ranks; launch.hosts is for mpirun"))
    if topo.nodes > 1 and launcher is not Launcher.KUBERNETES:
        out.append(("launch.shared_folder", "the build folder on every node",
                    "every node runs launch/rank.sh and reads the engine from this build folder at the same path"))
    return out
