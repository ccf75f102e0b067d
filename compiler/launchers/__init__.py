"""Launchers: how the ranks of a deployment are started, each one module implementing `LauncherModule`.

A launcher turns what the backend says each rank runs (a `RankProgram`) into the
launch: the command that starts every rank, and the launch files it needs
(rank.sh, a hostfile, an sbatch script, manifests; a Job that runs the build's
steps). It also says which launch values it cannot write safely (P104) and which
layouts it cannot start (the L rules report those). Registering a launcher is one
line in LAUNCHERS.

| launcher | module | starts the ranks with |
|---|---|---|
| mpirun | compiler/launchers/mpirun.py | `mpirun -n <world>` (a hostfile across nodes) |
| slurm | compiler/launchers/slurm.py | `sbatch` + `srun --mpi=pmix` |
| kubernetes | compiler/launchers/kubernetes/ | a Deployment's pod running the server (one node), or a LeaderWorkerSet whose leader runs mpirun (several) |
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

from compiler.findings import Finding
from compiler.spec import Launcher

if TYPE_CHECKING:
    from collections.abc import Sequence

    from compiler.decide.model import Decided, Note
    from compiler.plan.model import Launch, Step
    from compiler.plan.steps import RankProgram


class LauncherModule(Protocol):
    """What a launcher module provides (module-level functions and a `LAUNCHER` constant)."""

    LAUNCHER: Launcher

    def gaps(self, d: Decided) -> list[Finding]:
        """Drafts (with their rule code) of launch values or layouts this launcher cannot write."""

    def notes(self, d: Decided) -> list[Note]:
        """The launch decisions to show in the plan, with their reasons."""

    def launch(self, d: Decided, program: RankProgram, steps: Sequence[Step]) -> Launch:
        """The launch of `program` on the decided topology; `steps` are the build's, for a launcher that
        runs them too (kubernetes' build Job)."""


LAUNCHERS: dict[Launcher, str] = {
    Launcher.MPIRUN: "compiler.launchers.mpirun",
    Launcher.SLURM: "compiler.launchers.slurm",
    Launcher.KUBERNETES: "compiler.launchers.kubernetes",
}


def launcher_module(launcher: Launcher) -> LauncherModule:
    module = importlib.import_module(LAUNCHERS[launcher])
    return module
