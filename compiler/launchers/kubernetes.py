"""launcher kubernetes: the manifests that serve a deployment on a Kubernetes cluster.

One node (tp x pp GPUs in one pod): a Deployment and a Service. Several nodes: a LeaderWorkerSet
(leaderworkerset.x-k8s.io/v1) whose groups have one pod per node, a Service in front of the
group leaders, the ConfigMap of the group's scripts, and the ServiceAccount, Role and RoleBinding
the leader needs to reach its workers. With build steps, a Job runs them in the cluster; it is a
file of its own (launch/kubernetes-build.yaml) since it must finish before the server starts.

The input is `KubeLaunch`: frozen, topology already decided, the server's argv already written
(`from_spec` fills it from a spec and the planner's decisions). The outputs are plain dicts
(`manifests`, `build_manifests`), printed by `render_files` with yaml.safe_dump; `aspects` hashes
them for diff; `check` and `check_manifests` return the Problems the L rules report. Nothing here
touches the world. Every value reaches a container as one word of its argv or as an environment
value, never inside shell text, and escaped for the kubelet's own $(VAR) expansion.

How several pods make one MPI world, and where each fact was read:
- TensorRT-LLM needs one MPI world of tp x pp ranks; under mpirun, trtllm-llmapi-launch makes rank 0
  the HTTP server and the other ranks its workers (NVIDIA/TensorRT-LLM
  tensorrt_llm/llmapi/trtllm-llmapi-launch @ 020c89e6). Multi-node serving runs it under srun, or
  under mpirun with a hostfile (reference trtllm.md §5, trtllm-pytorch.md §1.4). On one node the
  LLM API starts its own workers and needs no launcher (trtllm-pytorch.md §1.4).
- LeaderWorkerSet's TensorRT-LLM example (kubernetes-sigs/lws docs/examples/tensorrt-llm @ 0e2e095a:
  lws.yaml, build/server.py, rbac.yaml) runs mpirun in the leader pod with `-mca plm_rsh_agent
  kubessh`, kubectl exec in place of ssh, over `--host <pod>:<gpus>,...`; its leader waits for the
  workers with kubectl, under a ServiceAccount that may get pods and create pods/exec; its workers
  only wait. We follow it, with the pod names taken from LWS_LEADER_ADDRESS and LWS_GROUP_SIZE.
  (Its Dockerfile copies a `kubessh` that the repository does not hold at 060ab4da; ours is
  templates/kubernetes/kubectl-exec.sh.)
- LWS injects LWS_LEADER_ADDRESS (<lws>-<group>.<subdomain>.<namespace>), LWS_GROUP_SIZE and
  LWS_WORKER_INDEX (site/content/en/docs/reference/labels-annotations-and-environment-variables.md,
  pkg/utils/pod/pod_utils.go @ 060ab4da); the workers of a group are <leader>-1 ... <leader>-(size-1),
  a StatefulSet named after the leader pod with ordinals from 1 (pkg/controllers/pod_controller.go
  @ 060ab4da).
- LWS's vLLM example (docs/examples/vllm/GPU/lws.yaml @ 0e2e095a): restartPolicy
  RecreateGroupOnPodRestart, an in-memory emptyDir on /dev/shm, GPUs as limits, a Service on the leader.
- HTTP: /health for liveness, /health_generate (a one-token generation) for readiness
  (tensorrt_llm/serve/openai_server.py @ e7f7345e, reference trtllm-pytorch.md §1.5).
- The kubelet expands $(VAR) in command, args and env values and reads $$ as $
  (kubernetes/kubernetes third_party/forked/golang/expansion/expand.go @ fde22c3f).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from compiler.findings import Severity
from compiler.plan.model import MODEL_DIR, VARIABLE_ENV
from compiler.spec import KubeResourcesSection, KubeVolumeSection, SpecFile
from compiler.versions import UnknownRelease, parse_release

Manifest = dict[str, Any]

SCRIPTS_DIR = Path(__file__).resolve().parent.parent / "templates" / "kubernetes"
CONTAINERS_CATALOG = Path(__file__).resolve().parent.parent / "catalog" / "containers.yaml"

# Where the pods see things. The planner writes the server's paths with these (the model is
# MODEL_MOUNT; the build folder, the working directory, is BUILD_MOUNT).
MODEL_MOUNT = "/model"
BUILD_MOUNT = "/build"
SCRIPTS_MOUNT = "/etc/trtdeploy"
SHM_MOUNT = "/dev/shm"
HOSTFILE = "/tmp/trtdeploy/hostfile"
MODEL_DIR_ENV = VARIABLE_ENV[MODEL_DIR]  # launch/rank.sh and the step scripts read the model folder from it

GPU_RESOURCE = "nvidia.com/gpu"  # the NVIDIA device plugin's extended resource
LWS_API_VERSION = "leaderworkerset.x-k8s.io/v1"
LWS_NAME_LABEL = "leaderworkerset.sigs.k8s.io/name"
LWS_WORKER_INDEX_LABEL = "leaderworkerset.sigs.k8s.io/worker-index"
NAME_LABEL = "app.kubernetes.io/name"
COMPONENT_LABEL = "app.kubernetes.io/component"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
RESERVED_LABELS = frozenset({NAME_LABEL, COMPONENT_LABEL, MANAGED_BY_LABEL})

SERVER_CONTAINER = "server"
LEADER_CONTAINER = "leader"
WORKER_CONTAINER = "worker"
BUILD_CONTAINER = "build"
# The objects beside the workload are named <name><suffix>. The Service takes one too, since LWS
# names its own headless Service after the LeaderWorkerSet.
SUFFIXES = {"service": "-http", "scripts": "-launch", "account": "-mpi", "job": "-build"}
# An executable ConfigMap file: r-x for everyone (0o555).
SCRIPT_MODE = 0o555
PROBE_PERIOD_S = 10
LIVENESS_PATH = "/health"
READINESS_PATH = "/health_generate"
SERVE_PROGRAM = "trtllm-serve"
MPI_WRAPPER = "trtllm-llmapi-launch"
# trtllm-serve's --host defaults to localhost and --port to 8000 (tensorrt_llm/commands/serve.py
# @ 00209af1, reference trtllm-pytorch.md §1.2); the kubelet probes the pod's own address.
ALL_INTERFACES = frozenset({"0.0.0.0", "::"})
SERVE_DEFAULT_PORT = 8000
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# A StatefulSet's pods carry controller-revision-hash=<statefulset>-<10 characters>, a label value
# of at most 63 characters; LWS names each group's worker StatefulSet <lws>-<group>.
STATEFULSET_NAME_MAX = 52
NAME_MAX = 63
# An NGC tag names a whole release: 1.2.0, 1.0.0rc4, never the line 1.2.
FULL_VERSION = re.compile(r"^\d+\.\d+\.\d+([a-z0-9.]*)$")


class Backend(str, enum.Enum):
    """What serves: the PyTorch backend (a Hugging Face checkpoint) or TensorRT engines."""

    PYTORCH = "pytorch"
    TENSORRT = "tensorrt"


@dataclass(frozen=True)
class Volume:
    """Where a folder comes from: a PersistentVolumeClaim or a node's path, optionally a folder inside it."""

    claim: str | None = None
    host_path: str | None = None
    sub_path: str | None = None


@dataclass(frozen=True)
class SecretEnv:
    """An environment variable read from a Secret's key; the value is never written anywhere."""

    env: str
    secret: str
    key: str


@dataclass(frozen=True)
class Toleration:
    """A taint the pods tolerate: operator Exists without a value, Equal with one."""

    key: str
    value: str | None = None
    effect: str | None = None


@dataclass(frozen=True)
class BuildStep:
    """One step of the build Job: its script in the build folder and the store folder it fills."""

    script: str
    output: str


@dataclass(frozen=True)
class KubeLaunch:
    """Everything the manifests depend on, decided before they are built.

    `server_argv` is what serves HTTP, with the paths the pods see (MODEL_MOUNT, relative to
    BUILD_MOUNT): trtllm-serve with its flags. On the TensorRT backend each MPI rank runs
    `engine_rank_argv` (bash launch/rank.sh, which execs the server); on the PyTorch backend the
    ranks run trtllm-llmapi-launch + `server_argv` on several nodes, and one node runs
    `server_argv` alone. `gpus_per_pod` x `nodes` is the world size; `gpus_per_node` and
    `env_passthrough` (launch.env) are here for the checks.
    """

    name: str
    namespace: str
    image: str | None
    backend: Backend
    tp: int
    pp: int
    nodes: int
    gpus_per_pod: int
    gpus_per_node: int
    port: int
    server_argv: tuple[str, ...]
    model: Volume | None
    build_dir: Volume | None
    engine_rank_argv: tuple[str, ...] = ()
    replicas: int = 1
    labels: tuple[tuple[str, str], ...] = ()
    service_type: str = "ClusterIP"
    service_port: int | None = None
    requests: tuple[tuple[str, str], ...] = ()
    limits: tuple[tuple[str, str], ...] = ()
    shm_size: str | None = None
    secrets: tuple[SecretEnv, ...] = ()
    env_passthrough: tuple[str, ...] = ()
    pull_secrets: tuple[str, ...] = ()
    node_selector: tuple[tuple[str, str], ...] = ()
    tolerations: tuple[Toleration, ...] = ()
    startup_timeout_s: int = 1800
    build_steps: tuple[BuildStep, ...] = ()
    build_gpus: int = 1
    image_is_default: bool = False

    @property
    def world_size(self) -> int:
        return self.tp * self.pp

    @property
    def multi_node(self) -> bool:
        return self.nodes > 1


@dataclass(frozen=True)
class Problem:
    """A consistency problem, for an L rule to report at `key` (a dotted spec key)."""

    key: str
    severity: Severity
    message: str
    hint: str


# ---------------------------------------------------------------- the image


@dataclass(frozen=True)
class ReleaseImage:
    """The NGC image of a release, or why there is none to default to."""

    image: str | None
    why: str


@functools.cache
def _containers() -> Mapping[str, Any]:
    with open(CONTAINERS_CATALOG, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict) or not isinstance(data.get("lines"), dict):
        raise ValueError(f"{CONTAINERS_CATALOG}: no `lines` mapping")
    return data


def release_image(version: str) -> ReleaseImage:
    """The default image for TensorRT-LLM `version` (compiler/catalog/containers.yaml)."""
    try:
        line = parse_release(version).line
    except UnknownRelease as exc:
        return ReleaseImage(None, str(exc))
    row = _containers()["lines"][line.value]
    if row.get("image") is None:
        return ReleaseImage(None, f"no NGC image is pinned for the {line.label} line: {row['why']}")
    if not FULL_VERSION.match(version):
        return ReleaseImage(None, f"NGC tags name whole releases; '{version}' is a release line, not a release")
    return ReleaseImage(str(row["image"]).format(version=version), f"the {line.label} line's NGC release image")


# ---------------------------------------------------------------- from a spec


def tolerations_from(texts: Iterable[str]) -> tuple[Toleration, ...]:
    """`KEY[=VALUE][:EFFECT]` (kubectl taint's form, as the spec writes them) as Tolerations."""
    out = []
    for text in texts:
        head, _, effect = text.partition(":")
        key, has_value, value = head.partition("=")
        out.append(Toleration(key, value if has_value else None, effect or None))
    return tuple(out)


def _volume(section: KubeVolumeSection | None) -> Volume | None:
    if section is None:
        return None
    return Volume(section.claim, section.host_path, section.sub_path)


def _amounts(section: KubeResourcesSection) -> tuple[tuple[str, str], ...]:
    return tuple((name, value) for name, value in (("cpu", section.cpu), ("memory", section.memory))
                 if value is not None)


def _secret(env: str, ref: str) -> SecretEnv:
    """NAME: SECRET/KEY as the spec writes it (the spec's pattern guarantees the slash)."""
    secret, key = ref.split("/", 1)
    return SecretEnv(env, secret, key)


def from_spec(spec: SpecFile, *, name: str, release_version: str, backend: Backend, server_argv: Sequence[str],
              engine_rank_argv: Sequence[str] = (), build_steps: Sequence[BuildStep] = (),
              build_gpus: int | None = None) -> KubeLaunch:
    """The KubeLaunch of a spec, with what the planner decided: the server's argv, the rank's, the build steps.

    `build_steps` are used only when launch.kubernetes.build_job is set. GPUs per pod are the world
    size over the nodes, rounded up when it does not divide (check() reports that layout).
    """
    section, target, parallel = spec.launch.kubernetes, spec.target, spec.parallelism
    world = parallel.tp * parallel.pp
    image = section.image or release_image(release_version).image
    return KubeLaunch(
        name=name,
        namespace=section.namespace,
        image=image,
        backend=backend,
        tp=parallel.tp,
        pp=parallel.pp,
        nodes=target.nodes,
        gpus_per_pod=-(-world // target.nodes),
        gpus_per_node=target.gpus_per_node,
        port=spec.launch.serve.port,
        server_argv=tuple(server_argv),
        engine_rank_argv=tuple(engine_rank_argv),
        model=_volume(section.model),
        build_dir=_volume(section.build_dir),
        replicas=section.replicas,
        labels=tuple(sorted(section.labels.items())),
        service_type=section.service.type.value,
        service_port=section.service.port,
        requests=_amounts(section.requests),
        limits=_amounts(section.limits),
        shm_size=section.shm_size,
        secrets=tuple(_secret(env, ref) for env, ref in sorted(section.secrets.items())),
        env_passthrough=tuple(spec.launch.env),
        pull_secrets=tuple(section.pull_secrets),
        node_selector=tuple(sorted(section.node_selector.items())),
        tolerations=tolerations_from(section.tolerations),
        startup_timeout_s=section.startup_timeout,
        build_steps=tuple(build_steps) if section.build_job else (),
        build_gpus=build_gpus or target.gpus_per_node,
        image_is_default=section.image is None and image is not None,
    )


# ---------------------------------------------------------------- values the kubelet reads


def kubelet_literal(text: str) -> str:
    """`text` escaped so that the kubelet hands it over as written: it expands $(VAR) in command, args
    and env values and reads $$ as $, so every $ is doubled (expand.go @ fde22c3f)."""
    return text.replace("$", "$$")


def _words(argv: Iterable[str]) -> list[str]:
    return [kubelet_literal(word) for word in argv]


# ---------------------------------------------------------------- the commands


def _mpi_env_names(k: KubeLaunch) -> list[str]:
    """What mpirun forwards to every rank with -x: the model folder and the Secrets' variables (set in the pod)."""
    return [MODEL_DIR_ENV, *(secret.env for secret in k.secrets)]


def rank_argv(k: KubeLaunch) -> tuple[str, ...]:
    """What each MPI rank runs: the engine rank script, or trtllm-llmapi-launch around the server."""
    if k.backend is Backend.TENSORRT:
        if not k.engine_rank_argv:
            raise ValueError("the TensorRT backend needs engine_rank_argv (bash launch/rank.sh)")
        return k.engine_rank_argv
    return (MPI_WRAPPER, *k.server_argv)


def mpirun_argv(k: KubeLaunch) -> tuple[str, ...]:
    """mpirun over the pod (one node) or over the group's pods, reached with kubectl exec (several)."""
    argv = ["mpirun", "-n", str(k.world_size), "--allow-run-as-root"]
    if k.multi_node:
        argv += ["--hostfile", HOSTFILE, "-mca", "plm_rsh_agent", f"{SCRIPTS_MOUNT}/kubectl-exec.sh"]
    for name in _mpi_env_names(k):
        argv += ["-x", name]
    return (*argv, *rank_argv(k))


def server_command(k: KubeLaunch) -> tuple[str, ...]:
    """The single-node server container's argv: the server itself on PyTorch (the LLM API starts its own
    workers on one node), mpirun over the engine ranks on TensorRT."""
    if k.backend is Backend.PYTORCH:
        return k.server_argv
    return mpirun_argv(k)


# ---------------------------------------------------------------- pieces of a pod


def _labels(k: KubeLaunch, component: str) -> dict[str, str]:
    return {**dict(k.labels), NAME_LABEL: k.name, COMPONENT_LABEL: component, MANAGED_BY_LABEL: "trtdeploy"}


def _metadata(k: KubeLaunch, name: str, component: str) -> dict[str, Any]:
    return {"name": name, "namespace": k.namespace, "labels": _labels(k, component)}


def _volume_source(volume: Volume, read_only: bool) -> dict[str, Any]:
    if volume.claim is not None:
        return {"persistentVolumeClaim": {"claimName": volume.claim, "readOnly": read_only}}
    return {"hostPath": {"path": volume.host_path, "type": "Directory"}}


def _mount(name: str, path: str, volume: Volume, read_only: bool) -> dict[str, Any]:
    mount: dict[str, Any] = {"name": name, "mountPath": path, "readOnly": read_only}
    if volume.sub_path is not None:
        mount["subPath"] = volume.sub_path
    return mount


def _require(volume: Volume | None, what: str) -> Volume:
    if volume is None:
        raise ValueError(f"no volume for {what}; check() reports this before manifests are built")
    return volume


@dataclass(frozen=True)
class PodFiles:
    """The volumes of a pod and where its container mounts them."""

    volumes: list[dict[str, Any]]
    mounts: list[dict[str, Any]]


def _pod_files(k: KubeLaunch, scripts: str | None, build_writable: bool) -> PodFiles:
    model, build = _require(k.model, "the model"), _require(k.build_dir, "the build folder")
    shm: dict[str, Any] = {"medium": "Memory"}
    if k.shm_size is not None:
        shm["sizeLimit"] = k.shm_size
    volumes = [
        {"name": "model", **_volume_source(model, read_only=True)},
        {"name": "build", **_volume_source(build, read_only=not build_writable)},
        {"name": "shm", "emptyDir": shm},  # NCCL's shared-memory transport needs more than the 64 MiB default
    ]
    mounts = [
        _mount("model", MODEL_MOUNT, model, read_only=True),
        _mount("build", BUILD_MOUNT, build, read_only=not build_writable),
        {"name": "shm", "mountPath": SHM_MOUNT},
    ]
    if scripts is not None:
        volumes.append({"name": "scripts", "configMap": {"name": scripts, "defaultMode": SCRIPT_MODE}})
        mounts.append({"name": "scripts", "mountPath": SCRIPTS_MOUNT, "readOnly": True})
    return PodFiles(volumes, mounts)


def _env(k: KubeLaunch, extra: Iterable[tuple[str, str]] = ()) -> list[dict[str, Any]]:
    plain = [(MODEL_DIR_ENV, MODEL_MOUNT), *extra]
    env: list[dict[str, Any]] = [{"name": name, "value": kubelet_literal(value)} for name, value in plain]
    env += [{"name": s.env, "valueFrom": {"secretKeyRef": {"name": s.secret, "key": s.key}}} for s in k.secrets]
    return env


def _resources(k: KubeLaunch, gpus: int) -> dict[str, Any]:
    # Extended resources are whole numbers and their request is their limit: only the limit is written.
    limits: dict[str, str] = {**dict(k.limits), GPU_RESOURCE: str(gpus)}
    resources: dict[str, Any] = {"limits": limits}
    if k.requests:
        resources["requests"] = dict(k.requests)
    return resources


def _http_get(path: str, port: int) -> dict[str, Any]:
    return {"path": path, "port": port}


def _probes(k: KubeLaunch) -> dict[str, Any]:
    """Startup gives the workers and the model load startup_timeout_s; liveness and readiness start after it."""
    return {
        "startupProbe": {"httpGet": _http_get(LIVENESS_PATH, k.port), "periodSeconds": PROBE_PERIOD_S,
                         "failureThreshold": math.ceil(k.startup_timeout_s / PROBE_PERIOD_S)},
        "livenessProbe": {"httpGet": _http_get(LIVENESS_PATH, k.port), "periodSeconds": PROBE_PERIOD_S,
                          "timeoutSeconds": 5, "failureThreshold": 3},
        # /health_generate runs one token through the model: slower than /health, so a longer timeout.
        "readinessProbe": {"httpGet": _http_get(READINESS_PATH, k.port), "periodSeconds": PROBE_PERIOD_S,
                           "timeoutSeconds": 10, "failureThreshold": 3},
    }


def _container(k: KubeLaunch, name: str, argv: Sequence[str], files: PodFiles, gpus: int,
               extra_env: Iterable[tuple[str, str]] = (), serves: bool = False) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": k.image,
        "imagePullPolicy": "IfNotPresent",
        "command": _words(argv),
        "workingDir": BUILD_MOUNT,
        "env": _env(k, extra_env),
        "resources": _resources(k, gpus),
        "volumeMounts": files.mounts,
    }
    if serves:
        container["ports"] = [{"name": "http", "containerPort": k.port, "protocol": "TCP"}]
        container.update(_probes(k))
    return container


def _toleration(t: Toleration) -> dict[str, str]:
    out = {"key": t.key, "operator": "Exists" if t.value is None else "Equal"}
    if t.value is not None:
        out["value"] = t.value
    if t.effect is not None:
        out["effect"] = t.effect
    return out


def _pod_spec(k: KubeLaunch, containers: list[dict[str, Any]], files: PodFiles, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {**extra, "containers": containers, "volumes": files.volumes}
    if k.node_selector:
        spec["nodeSelector"] = dict(k.node_selector)
    if k.tolerations:
        spec["tolerations"] = [_toleration(t) for t in k.tolerations]
    if k.pull_secrets:
        spec["imagePullSecrets"] = [{"name": name} for name in k.pull_secrets]
    return spec


def _script(name: str) -> str:
    return (SCRIPTS_DIR / name).read_text(encoding="utf-8")


def _config_map(k: KubeLaunch, name: str, component: str, files: Sequence[str]) -> Manifest:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _metadata(k, name, component),
            "data": {file: _script(file) for file in files}}


def _service(k: KubeLaunch, selector: dict[str, str]) -> Manifest:
    port = k.service_port or k.port
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(k, k.name + SUFFIXES["service"], "server"),
        "spec": {"type": k.service_type, "selector": selector,
                 "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}]},
    }


# ---------------------------------------------------------------- one node


def single_node(k: KubeLaunch) -> list[Manifest]:
    """A Deployment of `replicas` pods, each with all tp x pp GPUs, and the Service in front."""
    files = _pod_files(k, scripts=None, build_writable=False)
    container = _container(k, SERVER_CONTAINER, server_command(k), files, k.gpus_per_pod, serves=True)
    selector = {NAME_LABEL: k.name, COMPONENT_LABEL: "server"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(k, k.name, "server"),
        "spec": {
            "replicas": k.replicas,
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": _labels(k, "server")},
                         "spec": _pod_spec(k, [container], files)},
        },
    }
    return [deployment, _service(k, selector)]


# ---------------------------------------------------------------- several nodes


def _rbac(k: KubeLaunch) -> list[Manifest]:
    """What the leader's kubectl needs: get the worker pods, exec into them (create; get too, since
    kubectl's WebSocket exec opens with a GET)."""
    account = k.name + SUFFIXES["account"]
    metadata = _metadata(k, account, "launcher")
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": metadata,
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
                   {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": metadata,
         "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": k.namespace}],
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account}},
    ]


def leader_worker_set(k: KubeLaunch) -> Manifest:
    """A LeaderWorkerSet: `replicas` groups of `nodes` pods, `gpus_per_pod` GPUs each; the leader runs mpirun."""
    scripts = k.name + SUFFIXES["scripts"]
    files = _pod_files(k, scripts=scripts, build_writable=False)
    leader_env = [
        ("TRTDEPLOY_GROUP_SIZE", str(k.nodes)),
        ("TRTDEPLOY_SLOTS", str(k.gpus_per_pod)),
        ("TRTDEPLOY_HOSTFILE", HOSTFILE),
        ("TRTDEPLOY_WORKER_CONTAINER", WORKER_CONTAINER),
        ("TRTDEPLOY_WORKER_WAIT", str(k.startup_timeout_s)),
    ]
    leader = _container(k, LEADER_CONTAINER, ("bash", f"{SCRIPTS_MOUNT}/leader.sh", *mpirun_argv(k)), files,
                        k.gpus_per_pod, extra_env=leader_env, serves=True)
    worker = _container(k, WORKER_CONTAINER, ("bash", f"{SCRIPTS_MOUNT}/worker.sh"), files, k.gpus_per_pod)
    return {
        "apiVersion": LWS_API_VERSION,
        "kind": "LeaderWorkerSet",
        "metadata": _metadata(k, k.name, "server"),
        "spec": {
            "replicas": k.replicas,
            # LeaderReady would wait for a leader that only becomes ready once its workers joined.
            "startupPolicy": "LeaderCreated",
            "leaderWorkerTemplate": {
                "size": k.nodes,
                # One MPI world: when any pod of a group restarts, the whole group must start again.
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": {
                    "metadata": {"labels": _labels(k, "leader")},
                    "spec": _pod_spec(k, [leader], files, serviceAccountName=k.name + SUFFIXES["account"]),
                },
                "workerTemplate": {
                    "metadata": {"labels": _labels(k, "worker")},
                    "spec": _pod_spec(k, [worker], files, automountServiceAccountToken=False),
                },
            },
        },
    }


def multi_node(k: KubeLaunch) -> list[Manifest]:
    """The group's scripts, the leader's ServiceAccount and rights, the LeaderWorkerSet and the Service."""
    scripts = _config_map(k, k.name + SUFFIXES["scripts"], "launcher",
                          ["leader.sh", "worker.sh", "kubectl-exec.sh"])
    selector = {LWS_NAME_LABEL: k.name, LWS_WORKER_INDEX_LABEL: "0"}  # the group leaders
    return [scripts, *_rbac(k), leader_worker_set(k), _service(k, selector)]


# ---------------------------------------------------------------- the build Job


def build_manifests(k: KubeLaunch) -> list[Manifest]:
    """A Job that runs the build steps on one GPU node with the same volumes, the build folder writable."""
    if not k.build_steps:
        return []
    scripts = k.name + SUFFIXES["job"]
    files = _pod_files(k, scripts=scripts, build_writable=True)
    pairs = [word for step in k.build_steps for word in (step.script, step.output)]
    container = _container(k, BUILD_CONTAINER, ("bash", f"{SCRIPTS_MOUNT}/build.sh", *pairs), files, k.build_gpus)
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(k, k.name + SUFFIXES["job"], "build"),
        "spec": {
            "backoffLimit": 0,  # a failed step fails the same way again; its log says why
            "template": {"metadata": {"labels": _labels(k, "build")},
                         "spec": _pod_spec(k, [container], files, restartPolicy="Never")},
        },
    }
    return [_config_map(k, scripts, "build", ["build.sh"]), job]


# ---------------------------------------------------------------- output


def manifests(k: KubeLaunch) -> list[Manifest]:
    """The serving manifests, in the order `kubectl apply -f` should create them."""
    return multi_node(k) if k.multi_node else single_node(k)


class ManifestDumper(yaml.SafeDumper):
    """yaml.safe_dump's dumper, printing as people write manifests: no anchors or aliases where two
    pod templates share a list, and multi-line text (the scripts) as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


ManifestDumper.add_representer(str, _represent_text)


def manifests_yaml(docs: Sequence[Manifest], title: str) -> str:
    """Manifests as one YAML stream; a renderer prints, it decides nothing."""
    if "\n" in title or "\r" in title:  # only plan-made text goes into the comment; this guards that
        raise ValueError(f"a comment line holds a newline: {title!r}")
    header = f"# {title}\n# written by `trtdeploy compile`; edits are overwritten\n"
    return header + yaml.dump_all(docs, Dumper=ManifestDumper, sort_keys=False, default_flow_style=False,
                                  allow_unicode=True, explicit_start=True, width=4096)


def render_files(k: KubeLaunch) -> dict[str, str]:
    """The files of the build folder's launch/ for launcher kubernetes."""
    kind = "a LeaderWorkerSet" if k.multi_node else "a Deployment"
    files = {"launch/kubernetes.yaml": manifests_yaml(
        manifests(k), f"trtdeploy: {k.name} on Kubernetes as {kind} of {k.nodes} pod(s) x {k.gpus_per_pod} GPU(s)")}
    job = build_manifests(k)
    if job:
        files["launch/kubernetes-build.yaml"] = manifests_yaml(
            job, f"trtdeploy: the build of {k.name} as a Job; apply and wait for it before launch/kubernetes.yaml")
    return files


def _hash(value: object) -> str:
    payload = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def aspects(k: KubeLaunch) -> dict[str, str]:
    """Per-aspect hashes of the serving manifests, for diff: any change among them is a relaunch,
    and the aspect says why (the build Job's steps are the planner's build aspects)."""
    return {
        "kubernetes.image": _hash([k.image, k.pull_secrets]),
        "kubernetes.replicas": _hash(k.replicas),
        "kubernetes.resources": _hash([k.requests, k.limits, k.shm_size]),
        "kubernetes.probes": _hash([k.port, LIVENESS_PATH, READINESS_PATH, k.startup_timeout_s]),
        "kubernetes.service": _hash([k.service_type, k.service_port]),
        "kubernetes.volumes": _hash([k.model, k.build_dir]),
        "kubernetes.placement": _hash([k.namespace, k.labels, k.node_selector, k.tolerations]),
        "kubernetes.topology": _hash([k.nodes, k.gpus_per_pod, k.server_argv, k.engine_rank_argv, k.secrets]),
        "kubernetes.manifests": _hash(manifests(k)),
    }


# ---------------------------------------------------------------- consistency checks


def _option(argv: Sequence[str], flag: str) -> str | None:
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


def check_topology(k: KubeLaunch) -> list[Problem]:
    """World size = pods x GPUs per pod = tp x pp; whole GPUs; GPUs per pod <= GPUs per node."""
    problems = []
    if k.world_size % k.nodes:
        problems.append(Problem("target.nodes", Severity.ERROR,
                                f"tp x pp = {k.world_size} GPUs do not split into whole GPUs over {k.nodes} pods",
                                "choose target.nodes that divides tp x pp: each pod takes whole GPUs"))
    elif k.nodes * k.gpus_per_pod != k.world_size:
        problems.append(Problem("target.nodes", Severity.ERROR,
                                f"{k.nodes} pods x {k.gpus_per_pod} GPUs = {k.nodes * k.gpus_per_pod} ranks, "
                                f"but tp x pp = {k.world_size}",
                                "the MPI world must be exactly tp x pp ranks, one per GPU"))
    if k.gpus_per_pod > k.gpus_per_node:
        problems.append(Problem("target.gpus_per_node", Severity.ERROR,
                                f"a pod needs {k.gpus_per_pod} GPUs but a node has {k.gpus_per_node}",
                                f"use target.nodes: {-(-k.world_size // k.gpus_per_node)} or more"))
    if k.gpus_per_pod < 1:
        problems.append(Problem("target.nodes", Severity.ERROR, f"{k.gpus_per_pod} GPUs per pod",
                                "a pod serves with at least one whole GPU"))
    return problems


def check_server(k: KubeLaunch) -> list[Problem]:
    """The server's tp/pp equal the spec's; it listens on all interfaces, on the port the probes use."""
    argv = k.server_argv
    if SERVE_PROGRAM not in (word.rsplit("/", 1)[-1] for word in argv):
        return [Problem("launch.entrypoint", Severity.ERROR, "on Kubernetes the pods serve with trtllm-serve",
                        "use launch.entrypoint: serve (a smoke run exits, and the Deployment would restart it)")]
    problems = []
    for flag, key, want in (("--tp_size", "parallelism.tp", k.tp), ("--pp_size", "parallelism.pp", k.pp)):
        got = _as_int(_option(argv, flag), 1)
        if got != want:
            problems.append(Problem(key, Severity.ERROR, f"the server runs with {flag} {_option(argv, flag) or 1} "
                                    f"but the spec says {want}",
                                    "the server's mapping must be the spec's: a mismatch hangs or serves a wrong model"))
    port = _as_int(_option(argv, "--port"), SERVE_DEFAULT_PORT)
    if port != k.port:
        problems.append(Problem("launch.serve.port", Severity.ERROR,
                                f"the server listens on {_option(argv, '--port') or SERVE_DEFAULT_PORT} but the "
                                f"probes and the Service use {k.port}", "pass --port launch.serve.port"))
    host = _option(argv, "--host")
    if host not in ALL_INTERFACES:
        problems.append(Problem("launch.serve.host", Severity.ERROR,
                                f"the server binds {host or 'localhost'}: the kubelet's probes and the Service reach "
                                "the pod's own address", "use launch.serve.host: 0.0.0.0"))
    return problems + _check_word_splitting(k)


def _wrapped_words(k: KubeLaunch) -> Sequence[str]:
    """The server's words that pass through trtllm-llmapi-launch: all of them when this launcher wraps
    the server (PyTorch, several nodes), else those after it where the server's argv names it."""
    if k.backend is Backend.PYTORCH and k.multi_node:
        return k.server_argv
    names = [word.rsplit("/", 1)[-1] for word in k.server_argv]
    return k.server_argv[names.index(MPI_WRAPPER) + 1:] if MPI_WRAPPER in names else ()


def _check_word_splitting(k: KubeLaunch) -> list[Problem]:
    """trtllm-llmapi-launch runs its arguments from one variable, unquoted ("${@:1}" then
    $task_with_command: trtllm-llmapi-launch @ 020c89e6): a word with blanks or glob characters is
    split or expanded on the way."""
    split = [word for word in _wrapped_words(k) if any(c.isspace() or c in "*?[" for c in word)]
    if not split:
        return []
    return [Problem("launch.kubernetes", Severity.ERROR,
                    f"trtllm-llmapi-launch re-splits the server's words: {split[0]!r} would not arrive whole",
                    "use paths and values without blanks or * ? [ where trtllm-llmapi-launch starts the server")]


def _check_volume(volume: Volume | None, key: str, what: str) -> list[Problem]:
    if volume is None:
        return [Problem(key, Severity.ERROR, f"launch.kubernetes names no volume for {what}",
                        f"set {key}.claim (a PersistentVolumeClaim) or {key}.host_path")]
    if (volume.claim is None) == (volume.host_path is None):
        return [Problem(key, Severity.ERROR, f"{key} names {'both' if volume.claim else 'neither'} a claim "
                        "and a host path", "set exactly one of claim and host_path")]
    if volume.sub_path is not None and ".." in volume.sub_path.split("/"):
        return [Problem(f"{key}.sub_path", Severity.ERROR, f"sub_path {volume.sub_path!r} climbs out of the volume",
                        "name a folder inside the volume (Kubernetes refuses '..' in a subPath)")]
    return []


def check_volumes(k: KubeLaunch) -> list[Problem]:
    problems = _check_volume(k.model, "launch.kubernetes.model", "the model")
    problems += _check_volume(k.build_dir, "launch.kubernetes.build_dir", "the build folder")
    shared = [v for v in (k.model, k.build_dir) if v is not None and v.host_path is not None]
    if k.multi_node and shared:
        problems.append(Problem("launch.kubernetes", Severity.WARNING,
                                f"a host path serves {k.nodes} nodes: each node must hold the same files there",
                                "use a ReadOnlyMany or ReadWriteMany PersistentVolumeClaim, or copy the folder "
                                "to every GPU node"))
    return problems


def check_image(k: KubeLaunch, release_version: str) -> list[Problem]:
    if k.image is None:
        default = release_image(release_version)
        if default.image is not None:
            return [Problem("launch.kubernetes.image", Severity.ERROR, "the launch names no image",
                            f"set launch.kubernetes.image: {default.image}")]
        return [Problem("launch.kubernetes.image", Severity.ERROR,
                        f"no image for TensorRT-LLM {release_version}: {default.why}",
                        "set launch.kubernetes.image, or target.tensorrt_llm to a whole 1.x release (e.g. 1.2.0)")]
    if k.multi_node and k.image_is_default:
        return [Problem("launch.kubernetes.image", Severity.WARNING,
                        f"{k.image} is not known to hold kubectl, which the leader's mpirun uses to reach the "
                        "workers", "build an image FROM it with kubectl added, and name it here (docs/kubernetes.md)")]
    return []


def check_names(k: KubeLaunch) -> list[Problem]:
    """Object names the API server accepts: Services need DNS-1035 labels, and LWS worker StatefulSets
    (<name>-<group>) must leave room in their pods' controller-revision-hash label."""
    longest = max(len(suffix) for suffix in SUFFIXES.values())
    limit = NAME_MAX - longest
    if k.multi_node:
        limit = min(limit, STATEFULSET_NAME_MAX - 1 - len(str(max(k.replicas - 1, 0))))
    problems = []
    if not DNS_1035.match(k.name) or len(k.name) > limit:
        problems.append(Problem("name", Severity.ERROR,
                                f"{k.name!r} cannot name the Kubernetes objects: it must start with a letter, hold "
                                f"lowercase letters, digits and '-', and have at most {limit} characters",
                                "rename the deployment (name:), e.g. llama-70b-tp8"))
    taken = sorted(key for key, _ in k.labels if key in RESERVED_LABELS)
    if taken:
        problems.append(Problem("launch.kubernetes.labels", Severity.ERROR,
                                f"labels {', '.join(taken)} are trtdeploy's: they select the pods",
                                "use other label keys"))
    return problems


def check_env(k: KubeLaunch) -> list[Problem]:
    """launch.env names variables of the launching shell; in a pod only the Secrets' variables exist."""
    bound = {secret.env for secret in k.secrets}
    missing = [name for name in k.env_passthrough if name not in bound]
    if not missing:
        return []
    return [Problem("launch.env", Severity.WARNING,
                    f"{', '.join(missing)} would be unset in the pods: on Kubernetes a variable comes from a Secret",
                    f"add launch.kubernetes.secrets: {{{missing[0]}: SECRET/KEY}}")]


def check(k: KubeLaunch, release_version: str) -> list[Problem]:
    """Every consistency problem of a Kubernetes launch; empty means the manifests can be written."""
    return [*check_topology(k), *check_server(k), *check_volumes(k), *check_image(k, release_version),
            *check_names(k), *check_env(k)]


# ---------------------------------------------------------------- checks of the emitted manifests


def _containers_gpus(pod_template: Mapping[str, Any], where: str, problems: list[str]) -> int:
    """The whole GPUs a pod asks for; a limit that is not a whole number is a problem."""
    total = 0
    for container in pod_template["spec"]["containers"]:
        value = container.get("resources", {}).get("limits", {}).get(GPU_RESOURCE)
        text = None if value is None else str(value)
        if text is None or not text.isdigit() or int(text) < 1:
            problems.append(f"{where} container {container['name']}: {GPU_RESOURCE} limit {text!r} is not a whole "
                            "number of GPUs")
        else:
            total += int(text)
    return total


def _group_gpus(doc: Manifest, where: str, problems: list[str]) -> int | None:
    """The GPUs of one serving copy: a Deployment's pod, or a LeaderWorkerSet group (leader + workers)."""
    if doc["kind"] == "Deployment":
        return _containers_gpus(doc["spec"]["template"], where, problems)
    if doc["kind"] == "LeaderWorkerSet":
        group = doc["spec"]["leaderWorkerTemplate"]
        worker = _containers_gpus(group["workerTemplate"], where + " worker", problems)
        leader = _containers_gpus(group.get("leaderTemplate", group["workerTemplate"]), where + " leader", problems)
        return leader + (group["size"] - 1) * worker
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


def check_manifests(k: KubeLaunch, docs: Sequence[Manifest]) -> list[str]:
    """What the emitted serving manifests hold, read back from them: whole GPUs per pod, one copy's GPUs
    = tp x pp, and every probe on a declared port that is the one the server's argv listens on."""
    problems: list[str] = []
    server_port = _as_int(_option(k.server_argv, "--port"), SERVE_DEFAULT_PORT)
    for doc in docs:
        where = f"{doc['kind']} {doc['metadata']['name']}"
        gpus = _group_gpus(doc, where, problems)
        if gpus is not None and gpus != k.world_size:
            problems.append(f"{where}: one serving copy asks for {gpus} GPUs; tp x pp = {k.world_size}")
        templates = []
        if doc["kind"] == "Deployment":
            templates = [doc["spec"]["template"]]
        elif doc["kind"] == "LeaderWorkerSet":
            group = doc["spec"]["leaderWorkerTemplate"]
            templates = [group["workerTemplate"], group.get("leaderTemplate", group["workerTemplate"])]
        for template in templates:
            for container in template["spec"]["containers"]:
                problems += _probe_problems(container, server_port, where)
    return problems
