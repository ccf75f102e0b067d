"""Slurm: an sbatch script whose `srun --mpi=pmix` starts one task per GPU on every node.

Follows the multi-node (MGMN) example of TensorRT-LLM's llama README and
docs/source/architecture/core-concepts.md @ aaacc9bd: `#SBATCH -N <nodes>
--ntasks-per-node=<GPUs>` and `srun --container-image=... --mpi=pmix`. A smoke check of a
server (`entrypoint: run` on the PyTorch backend) runs its client in front of srun: the
batch script runs on the allocation's first node, where srun's block distribution puts
rank 0, the server.
"""

from __future__ import annotations

from collections.abc import Sequence

from compiler.decide.model import Decided, Note
from compiler.findings import Finding
from compiler.launchers.ranks import common_notes, RANK_SCRIPT, make_launch, rank_argv, rank_script_argv, topology_gaps, unplain
from compiler.plan.model import Arg, Launch, Step
from compiler.plan.steps import SMOKE_SCRIPT, RankProgram
from compiler.spec import Launcher

LAUNCHER = Launcher.SLURM
SCRIPT = "launch/slurm.sbatch"


def gaps(d: Decided) -> list[Finding]:
    """Partition and account names that cannot go into an #SBATCH line (P104)."""
    slurm = d.r.spec.launch.slurm
    out = [f for key in ("partition", "account") if (value := getattr(slurm, key)) is not None and (f := unplain(
        f"launch.slurm.{key}", value, f"slurm {key}", f"use the {key}'s name as sinfo/sacctmgr show it")) is not None]
    return [*topology_gaps(d), *out]


def sbatch_options(d: Decided) -> tuple[tuple[str, str], ...]:
    """#SBATCH options: one task per GPU on each node."""
    slurm, t = d.r.spec.launch.slurm, d.topology
    options = [
        ("--job-name", d.r.name),
        ("--nodes", str(t.nodes)),
        ("--ntasks-per-node", str(t.ranks_per_node)),
        ("--gres", f"gpu:{t.ranks_per_node}"),
    ]
    options += [(f"--{key}", value) for key in ("partition", "account") if (value := getattr(slurm, key)) is not None]
    options.append(("--time", slurm.time))
    return tuple(options)


def notes(d: Decided) -> list[Note]:
    notes = common_notes(d)
    if d.r.spec.launch.hosts:
        notes.append(Note("launch.hosts", "not used", "Slurm places the ranks; launch.hosts is for mpirun"))
    return notes


def launch(d: Decided, program: RankProgram, steps: Sequence[Step]) -> Launch:
    """`steps` are not used: the build runs before, with `trtdeploy build`."""
    argv: list[Arg] = ["srun", "--mpi=pmix"]
    image = d.r.spec.launch.slurm.container_image
    if image is not None:
        argv.append(f"--container-image={image}")
    files = {RANK_SCRIPT: "rank", SCRIPT: "sbatch"}
    if program.smoke is not None:
        argv[:0] = program.smoke.argv
        files[SMOKE_SCRIPT] = "smoke"
    return make_launch(d, program, argv=(*argv, *rank_script_argv()), files=files,
                       rank=rank_argv(d, program), sbatch=sbatch_options(d), script=SCRIPT)
