"""Kubernetes, for now: launch/rank.sh as each pod's command, one pod per rank; no manifest is written yet."""

from __future__ import annotations

from compiler.decide.model import Decided, Note
from compiler.findings import Finding
from compiler.launchers.ranks import common_notes, RANK_SCRIPT, make_launch, rank_argv, topology_gaps
from compiler.plan.model import Launch
from compiler.plan.steps import RankProgram
from compiler.spec import Launcher

LAUNCHER = Launcher.KUBERNETES


def gaps(d: Decided) -> list[Finding]:
    return topology_gaps(d)


def notes(d: Decided) -> list[Note]:
    return [*common_notes(d), Note("launch.kubernetes", "no manifest yet", "run launch/rank.sh as each pod's "
                                   "command, one pod per rank")]


def launch(d: Decided, program: RankProgram) -> Launch:
    return make_launch(d, program, argv=(), files={RANK_SCRIPT: "rank"}, rank=rank_argv(d, program))
