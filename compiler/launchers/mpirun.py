"""mpirun: one MPI rank per GPU, started from one host; a hostfile lists the nodes when there are several.

`mpirun -n <tp x pp>` is what TensorRT-LLM's examples use (the runtime asserts that the
MPI size equals tp x pp); across nodes, the hostfile form of the multi-node trtllm-serve
guide (`mpirun -np 16 --hostfile <file> ...`). A program that spawns its own workers
(the LLM API on one node) is started once, without mpirun. A smoke check of a server
(`entrypoint: run` on the PyTorch backend) runs its client in front of either.
"""

from __future__ import annotations

from collections.abc import Sequence

from compiler.decide.model import Decided, Note
from compiler.findings import Finding, draft
from compiler.launchers.ranks import (
    common_notes,
    HOSTFILE_PATH,
    RANK_SCRIPT,
    make_launch,
    passthrough,
    rank_argv,
    rank_script_argv,
    topology_gaps,
    unplain,
)
from compiler.plan.model import HOSTFILE, Arg, Launch, Step, Var
from compiler.plan.steps import SMOKE_SCRIPT, RankProgram
from compiler.spec import Launcher

LAUNCHER = Launcher.MPIRUN
SCRIPT = "launch/mpirun.sh"
# A program that spawns its own workers on one node is started once, by this script; a smoke check by the other.
SINGLE = "launch/serve.sh"
SMOKE = "launch/smoke.sh"


def gaps(d: Decided) -> list[Finding]:
    """Host names that cannot go into a hostfile (P104), a host list that does not match the nodes (L105)."""
    hosts = d.r.spec.launch.hosts or []
    out = [f for i, host in enumerate(hosts) if (f := unplain(
        f"launch.hosts.{i}", host, "host", "use the host's name or address")) is not None]
    if hosts and len(hosts) != d.topology.nodes:
        out.append(draft("launch.hosts", f"{len(hosts)} hosts for {d.topology.nodes} node(s)",
                         "list one host per node", code="L105"))
    return [*topology_gaps(d), *out]


def uses_hostfile(d: Decided) -> bool:
    return d.topology.nodes > 1 or bool(d.r.spec.launch.hosts)


def notes(d: Decided) -> list[Note]:
    notes = common_notes(d)
    return notes


def launch(d: Decided, program: RankProgram, steps: Sequence[Step]) -> Launch:
    """`steps` are not used: the build runs before, with `trtdeploy build`."""
    rank = rank_argv(d, program)
    hosts = tuple(d.r.spec.launch.hosts or ())
    if program.spawns_workers and d.topology.nodes == 1:  # the LLM API starts its own workers: one process
        argv: list[Arg] = [*rank_script_argv()]
        files, script, hostfile, hosts = {RANK_SCRIPT: "process"}, SINGLE, None, ()
    else:
        argv = ["mpirun", "-n", str(d.topology.world_size), "--allow-run-as-root"]
        if uses_hostfile(d):
            argv += ["--hostfile", Var(HOSTFILE)]
        for name in passthrough(d, rank):
            argv += ["-x", name]
        argv += rank_script_argv()
        files, script, hostfile = {RANK_SCRIPT: "rank"}, SCRIPT, HOSTFILE_PATH if hosts else None
        if hosts:
            files[HOSTFILE_PATH] = "hostfile"
    if program.smoke is not None:  # the client starts the launch, asks the server once and stops it
        argv[:0] = program.smoke.argv
        files[SMOKE_SCRIPT], script = "smoke", SMOKE
    files[script] = "start"
    return make_launch(d, program, argv=tuple(argv), files=files, rank=rank, hosts=hosts, script=script,
                       hostfile=hostfile)
