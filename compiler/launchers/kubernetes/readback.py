"""What the Kubernetes launcher emitted, read back and held against the decided deployment.

The spec-level problems are the L rules' (compiler/rules/kubernetes.py), reported before any plan
is made. What is checked here can only go wrong through a bug in trtdeploy: the server's argv as
the backend wrote it, the manifests as the launcher built them. The launcher runs `assert_consistent`
on every launch it makes; a problem raises `InconsistentLaunch`, which the CLI reports as an
internal error, never as a finding about the spec.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from compiler.decide.model import Topology
from compiler.launchers.kubernetes.manifests import GPU_RESOURCE, KubeLaunch, Manifest

SERVE_PROGRAM = "trtllm-serve"
MPI_WRAPPER = "trtllm-llmapi-launch"
# trtllm-serve's --host defaults to localhost and --port to 8000 (tensorrt_llm/commands/serve.py
# @ 00209af1); the kubelet probes the pod's own address.
ALL_INTERFACES = frozenset({"0.0.0.0", "::"})
SERVE_DEFAULT_PORT = 8000
# trtllm-llmapi-launch runs its arguments from one variable, unquoted ("${@:1}" then
# $task_with_command: trtllm-llmapi-launch @ 020c89e6): a word holding one of these is split or
# expanded on the way.
SPLIT_CHARACTERS = frozenset(" \t\n\r\f\v*?[")


class InconsistentLaunch(Exception):
    """The emitted launch contradicts the decided deployment: a bug in trtdeploy, never bad input."""


def option(argv: Sequence[str], flag: str) -> str | None:
    """The value of `--flag V` or `--flag=V` in argv (the last one wins, as click reads them)."""
    found = None
    for index, word in enumerate(argv):
        if word == flag and index + 1 < len(argv):
            found = argv[index + 1]
        elif word.startswith(flag + "="):
            found = word[len(flag) + 1:]
    return found


def _as_int(text: str | None, default: int) -> int | None:
    if text is None:
        return default
    return int(text) if text.isdigit() else None


def splits(word: str) -> bool:
    """Whether trtllm-llmapi-launch would split or glob-expand this word."""
    return any(c in SPLIT_CHARACTERS for c in word)


def _program_names(argv: Sequence[str]) -> list[str]:
    return [word.rsplit("/", 1)[-1] for word in argv]


def wrapped_words(k: KubeLaunch) -> Sequence[str]:
    """The words that pass through trtllm-llmapi-launch: those after it in what each rank runs (across nodes)."""
    names = _program_names(k.rank_argv)
    return k.rank_argv[names.index(MPI_WRAPPER) + 1:] if MPI_WRAPPER in names else ()


def server_problems(k: KubeLaunch, t: Topology) -> list[str]:
    """The server is trtllm-serve, with the decided tp and pp, on every interface, on the port the probes use,
    and with no word that trtllm-llmapi-launch would split."""
    argv = k.server_argv
    if _program_names(argv[:1]) != [SERVE_PROGRAM]:
        return [f"the pods would not run {SERVE_PROGRAM} as the server: {' '.join(argv)}"]
    problems = []
    for flag, want in (("--tp_size", t.tp), ("--pp_size", t.pp)):
        got = option(argv, flag)
        if _as_int(got, 1) != want:  # a missing flag is trtllm-serve's default, 1
            problems.append(f"the server runs with {flag} {got or 1}, but the deployment is decided with {want}")
    port = _as_int(option(argv, "--port"), SERVE_DEFAULT_PORT)
    if port != k.port:
        problems.append(f"the server listens on {port}, but the probes and the Service use {k.port}")
    host = option(argv, "--host")
    if host not in ALL_INTERFACES:
        problems.append(f"the server binds {host or 'localhost'}, which the kubelet's probes cannot reach")
    split = [word for word in wrapped_words(k) if splits(word)]
    if split:
        problems.append(f"trtllm-llmapi-launch would split the server's word {split[0]!r}")
    return problems


def _as_written(command: Sequence[str]) -> list[str]:
    """A container's command as the kubelet hands it over: the manifests double every $ (kubelet_literal)."""
    return [word.replace("$$", "$") for word in command]


def _env_value(container: Mapping[str, Any], name: str) -> str | None:
    return next((var.get("value") for var in container.get("env", []) if var["name"] == name), None)


def command_problems(k: KubeLaunch, t: Topology, docs: Sequence[Manifest]) -> list[str]:
    """What the serving containers run: on one node the server itself, its one process (the LLM API starts a
    worker per GPU); across nodes the leader's mpirun over tp x pp ranks, slots = GPUs per pod in a group of
    `nodes` pods, each rank running the server behind trtllm-llmapi-launch."""
    problems = []
    server = list(k.server_argv)
    for doc in docs:
        where = f"{doc['kind']} {doc['metadata']['name']}"
        if doc["kind"] == "Deployment":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                if _as_written(container["command"]) != server:
                    problems.append(f"{where} container {container['name']} runs "
                                    f"{' '.join(_as_written(container['command']))}, not the server alone")
        elif doc["kind"] == "LeaderWorkerSet":
            leader = doc["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["containers"][0]
            command = _as_written(leader["command"])
            ranks = command[-len(server) - 1:]
            mpirun = command[command.index("mpirun"):-len(ranks)] if "mpirun" in command else []
            if option(mpirun, "-n") != str(t.world_size):
                problems.append(f"{where} leader: mpirun does not start {t.world_size} ranks")
            if ranks != [MPI_WRAPPER, *server]:
                problems.append(f"{where} leader: the ranks do not run the server behind {MPI_WRAPPER}")
            for name, want in (("TRTDEPLOY_SLOTS", t.ranks_per_node), ("TRTDEPLOY_GROUP_SIZE", t.nodes)):
                if _env_value(leader, name) != str(want):
                    problems.append(f"{where} leader: {name} is {_env_value(leader, name)}, not {want}")
    return problems


def _pod_gpus(pod_template: Mapping[str, Any], where: str, gpus_per_node: int, problems: list[str]) -> int:
    """The whole GPUs a pod asks for; a limit that is not a whole number, or more than a node has, is a problem."""
    total = 0
    for container in pod_template["spec"]["containers"]:
        value = container.get("resources", {}).get("limits", {}).get(GPU_RESOURCE)
        text = None if value is None else str(value)
        if text is None or not text.isdigit() or int(text) < 1:
            problems.append(f"{where} container {container['name']}: {GPU_RESOURCE} limit {text!r} is not a whole "
                            "number of GPUs")
        else:
            total += int(text)
    if total > gpus_per_node:
        problems.append(f"{where}: a pod asks for {total} GPUs; a node has {gpus_per_node}")
    return total


def _pod_templates(doc: Manifest) -> list[tuple[str, Mapping[str, Any]]]:
    """The pod templates of a serving workload, by role; none for other kinds."""
    if doc["kind"] == "Deployment":
        return [("pod", doc["spec"]["template"])]
    if doc["kind"] == "LeaderWorkerSet":
        group = doc["spec"]["leaderWorkerTemplate"]
        return [("leader", group.get("leaderTemplate", group["workerTemplate"])), ("worker", group["workerTemplate"])]
    return []


def _copy_gpus(doc: Manifest, where: str, gpus_per_node: int, problems: list[str]) -> int | None:
    """The GPUs of one serving copy: a Deployment's pod, or a LeaderWorkerSet group (leader + workers)."""
    gpus = {role: _pod_gpus(template, f"{where} {role}", gpus_per_node, problems)
            for role, template in _pod_templates(doc)}
    if doc["kind"] == "Deployment":
        return gpus["pod"]
    if doc["kind"] == "LeaderWorkerSet":
        return gpus["leader"] + (doc["spec"]["leaderWorkerTemplate"]["size"] - 1) * gpus["worker"]
    return None


def _probe_problems(container: Mapping[str, Any], server_port: int | None, where: str) -> list[str]:
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    problems = []
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        if probe not in container:
            continue
        target = container[probe].get("httpGet", {}).get("port")
        number = ports.get(target) if isinstance(target, str) else target
        if number != server_port or number not in ports.values():
            problems.append(f"{where} container {container['name']}: {probe} targets port {target}; the server "
                            f"listens on {server_port}")
    return problems


def manifest_problems(k: KubeLaunch, t: Topology, docs: Sequence[Manifest]) -> list[str]:
    """What the serving manifests hold, read back: whole GPUs per pod, no more than a node has, one copy's GPUs
    = tp x pp, and every probe on a declared port that is the one the server's argv listens on."""
    problems: list[str] = []
    server_port = _as_int(option(k.server_argv, "--port"), SERVE_DEFAULT_PORT)
    for doc in docs:
        where = f"{doc['kind']} {doc['metadata']['name']}"
        gpus = _copy_gpus(doc, where, t.gpus_per_node, problems)
        if gpus is not None and gpus != t.world_size:
            problems.append(f"{where}: one serving copy asks for {gpus} GPUs; tp x pp = {t.world_size}")
        for _, template in _pod_templates(doc):
            for container in template["spec"]["containers"]:
                problems += _probe_problems(container, server_port, where)
    return problems


def assert_consistent(k: KubeLaunch, t: Topology, docs: Sequence[Manifest]) -> None:
    """Raise InconsistentLaunch when the server's argv or the manifests contradict the decided topology."""
    problems = [*server_problems(k, t), *command_problems(k, t, docs), *manifest_problems(k, t, docs)]
    if problems:
        raise InconsistentLaunch(f"the Kubernetes launch of {k.name} contradicts its decided deployment (a bug in "
                                 "trtdeploy): " + "; ".join(problems))
