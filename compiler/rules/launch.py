"""L rules: does the parallel layout fit the target's GPUs, nodes and interconnect?

Facts from TensorRT-LLM's runtime (the world size must be tp x pp: #753, #1796; custom
all-reduce needs peer access: #1374, #1498), its multi-node launch docs, and seed 002 ("张量并行适用于设备之间有高速互联的场景":
tensor parallelism for fast interconnects, pipeline parallelism for weak links;
"实践中tp_size和pp_size通常取2的幂": tp and pp are usually powers of two).
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.findings import Finding, Severity
from compiler.decide.model import Decided, Origin
from compiler.rules import draft, rule
from compiler.memory import GROUPWISE
from compiler.rules.divisibility import valid_tps
from compiler.rules.hardware import label
from compiler.spec import Launcher


def total_gpus(d: Decided) -> int:
    """GPUs the target provides: gpus_per_node on each of the nodes."""
    return d.topology.gpus_per_node * d.topology.nodes


def _layout_key(d: Decided) -> str:
    """The parallelism key to point at: pp when only pp is above 1, else tp."""
    t = d.topology
    return "parallelism.pp" if t.pp > 1 and t.tp == 1 else "parallelism.tp"


def _nodes_needed(d: Decided) -> int:
    return -(-d.topology.world_size // d.topology.gpus_per_node)


@rule(
    "L101", "world-size-exceeds-gpus", Severity.ERROR,
    "tp × pp needs more GPUs than the target provides.",
    why="Every rank is one process on one GPU: mpirun -n must equal tp × pp (reference §4 'World size at "
    "runtime', §6 #1), and device ids must be below gpus_per_node.",
    bad="parallelism: {tp: 16}\ntarget: {gpu: H100-SXM, gpus_per_node: 8, nodes: 1}\n",
    good="parallelism: {tp: 8, pp: 2}\ntarget: {gpu: H100-SXM, gpus_per_node: 8, nodes: 2}\n",
    hint="add nodes (target.nodes) or lower tp / pp",
)
def world_size_exceeds_gpus(d: Decided) -> Iterator[Finding]:
    r = d.r
    par, target = r.spec.parallelism, r.spec.target
    if d.topology.world_size <= total_gpus(d):
        return
    yield draft(_layout_key(d), f"tp × pp = {par.tp} × {par.pp} = {d.topology.world_size} GPUs, but the target has "
                f"{total_gpus(d)} ({target.gpus_per_node} per node × {target.nodes} node"
                f"{'s' if target.nodes != 1 else ''})",
                f"set target.nodes: {_nodes_needed(d)}, or lower tp / pp to fit {total_gpus(d)} GPUs")


@rule(
    "L102", "tp-crosses-nodes", Severity.WARNING,
    "A tensor-parallel group is larger than one node, so its all-reduces cross the network.",
    why="Tensor parallelism all-reduces in every layer, so it wants fast links such as NVLink; pipeline "
    "parallelism talks once per stage and suits weaker links "
    "(seed 002: 张量并行适用于设备之间有高速互联的场景).",
    bad="parallelism: {tp: 16}\ntarget: {gpu: H100-SXM, gpus_per_node: 8, nodes: 2}\n",
    good="parallelism: {tp: 8, pp: 2}\ntarget: {gpu: H100-SXM, gpus_per_node: 8, nodes: 2}\n",
    hint="use tp within a node and pp across nodes",
)
def tp_crosses_nodes(d: Decided) -> Iterator[Finding]:
    r = d.r
    par, per_node = r.spec.parallelism, r.spec.target.gpus_per_node
    # When the layout does not fit at all, L101 says so; this rule is about a layout that does.
    if par.tp <= per_node or d.topology.world_size > total_gpus(d):
        return
    pp = par.pp * par.tp // per_node if par.tp % per_node == 0 else None
    fix = f"use tp: {per_node}, pp: {pp}" if pp else f"use a tp of at most {per_node} and raise pp"
    yield draft("parallelism.tp", f"tp ({par.tp}) is larger than gpus_per_node ({per_node}), so each "
                "tensor-parallel group spans nodes", f"{fix} (tp inside a node, pp across nodes)")


@rule(
    "L103", "tp-not-power-of-two", Severity.WARNING,
    "tp is not a power of two.",
    why="Model widths are usually powers of two, so other tp values often leave uneven splits, and NCCL's "
    "all-reduce and the custom kernels are tuned for 2, 4 and 8 ranks "
    "(seed 002: 实践中tp_size和pp_size通常取2的幂).",
    bad="parallelism: {tp: 6}\n",
    good="parallelism: {tp: 8}\n",
    hint="use a power-of-two tp",
)
def tp_not_power_of_two(d: Decided) -> Iterator[Finding]:
    r = d.r
    tp = r.spec.parallelism.tp
    if not tp & (tp - 1):
        return
    group = r.spec.quantization.group_size if d.format.value in GROUPWISE else None
    limit = max(tp * 2, r.spec.target.gpus_per_node)
    # Only suggest powers of two that also split the model evenly, so the fix does not trip a D rule.
    even = [t for t in valid_tps(r.model, group, limit) if not t & (t - 1)]
    near = [t for t in even if t < tp][-1:] + [t for t in even if t > tp][:1]
    fix = f"use tp: {' or '.join(map(str, near))}" if near else "use a power-of-two tp that splits the model evenly"
    yield draft("parallelism.tp", f"tp ({tp}) is not a power of two", fix)


@rule(
    "L104", "ranks-uneven-over-nodes", Severity.ERROR,
    "The world size does not divide evenly over the nodes.",
    why="Launchers start the same number of ranks on every node (srun --ntasks-per-node, an mpirun hostfile "
    "with equal slots); an uneven split leaves a node without work or over-subscribes another.",
    bad="parallelism: {tp: 8}\ntarget: {gpu: H100-SXM, nodes: 3}\n",
    good="parallelism: {tp: 8, pp: 3}\ntarget: {gpu: H100-SXM, nodes: 3}\n",
    hint="make tp × pp a multiple of target.nodes",
)
def ranks_uneven_over_nodes(d: Decided) -> Iterator[Finding]:
    r = d.r
    nodes = r.spec.target.nodes
    if nodes > 1 and d.topology.world_size % nodes:
        yield draft("target.nodes", f"world size tp × pp = {d.topology.world_size} does not divide over {nodes} nodes",
                    f"use target.nodes: {_nodes_needed(d)}, or make tp × pp a multiple of {nodes}")


@rule(
    "L105", "hosts-do-not-match-nodes", Severity.ERROR,
    "launch.hosts does not list one host per node, or a multi-node mpirun has no hosts.",
    why="A multi-node mpirun needs a hostfile with one line per node (reference §5); without it every rank "
    "starts on the local host and fails to find its GPU.",
    bad="target: {gpu: H100-SXM, nodes: 2}\nlaunch: {launcher: mpirun}\n",
    good="target: {gpu: H100-SXM, nodes: 2}\nlaunch: {launcher: mpirun, hosts: [node-a, node-b]}\n",
    hint="list one host per node in launch.hosts, or use launch.launcher: slurm",
)
def hosts_do_not_match_nodes(d: Decided) -> Iterator[Finding]:
    r = d.r
    hosts, nodes = r.spec.launch.hosts, r.spec.target.nodes
    if hosts is not None and len(hosts) != nodes:
        yield draft("launch.hosts", f"launch.hosts lists {len(hosts)} host{'s' if len(hosts) != 1 else ''} but "
                    f"target.nodes is {nodes}", f"list exactly {nodes} host{'s' if nodes != 1 else ''}, one per node")
    elif hosts is None and nodes > 1 and r.spec.launch.launcher is Launcher.MPIRUN:
        yield draft("target.nodes", f"{nodes} nodes with launcher mpirun, but launch.hosts is not given",
                    f"list the {nodes} hosts in launch.hosts, or use launch.launcher: slurm")


@rule(
    "L106", "tp-without-peer-access", Severity.WARNING,
    "Tensor parallelism on GPUs with neither NVLink nor peer-to-peer access.",
    why="Without P2P (GeForce drivers disable it), every all-reduce is staged through host memory. The 0.8 "
    "line's custom all-reduce needs peer access and fails with 'peer access is not supported' (#1374, "
    "#1498), so the planner disables it there (reference §4, §6 #9).",
    bad="parallelism: {tp: 2}\ntarget: {gpu: RTX-4090}\n",
    good="parallelism: {pp: 2}\ntarget: {gpu: RTX-4090}\n",
    hint="prefer pp over tp on these GPUs, or GPUs with NVLink",
)
def tp_without_peer_access(d: Decided) -> Iterator[Finding]:
    r = d.r
    tp = d.topology.tp
    if tp == 1 or r.gpu.nvlink or r.gpu.p2p:
        return
    custom = d.settings.get("plugins.use_custom_all_reduce")
    if custom is not None and custom.written and custom.value is True:
        yield draft("plugins.use_custom_all_reduce", f"custom all-reduce needs GPU peer-to-peer access, which "
                    f"{label(r.gpu)} lacks ('peer access is not supported')",
                    "set plugins.use_custom_all_reduce: disable (or auto)", Severity.ERROR)
        return
    decided_off = custom is not None and custom.origin is Origin.DECIDED and custom.value is False
    planner = "; the planner passes --use_custom_all_reduce disable" if decided_off else ""
    yield draft("parallelism.tp", f"tp ({tp}) on {label(r.gpu)}, which has neither NVLink nor peer-to-peer "
                f"access: every all-reduce goes through host memory{planner}",
                f"use pp: {tp} instead of tp (one transfer per stage), or GPUs with NVLink or P2P")


@rule(
    "L107", "gpus-left-idle", Severity.NOTE,
    "The deployment uses fewer GPUs than the node has.",
    why="Idle GPUs on a single node usually mean room for another replica, or for a larger tp that would cut "
    "latency.",
    bad="parallelism: {tp: 2}\ntarget: {gpu: H100-SXM, gpus_per_node: 8}\n",
    good="parallelism: {tp: 8}\ntarget: {gpu: H100-SXM, gpus_per_node: 8}\n",
    hint="run more replicas on the idle GPUs, or raise tp",
)
def gpus_left_idle(d: Decided) -> Iterator[Finding]:
    r = d.r
    per_node = r.spec.target.gpus_per_node
    # gpus_per_node defaults to 8; only a node size the user wrote says GPUs really stand idle.
    if r.spec.target.nodes != 1 or d.topology.world_size >= per_node or not r.is_written("target.gpus_per_node"):
        return
    idle = per_node - d.topology.world_size
    replicas = per_node // d.topology.world_size
    yield draft("target.gpus_per_node", f"tp × pp = {d.topology.world_size} uses {d.topology.world_size} of the node's {per_node} "
                f"GPUs; {idle} stay idle", f"run up to {replicas} replicas on this node, or raise tp")
