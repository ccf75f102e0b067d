"""The manifests of launcher kubernetes, from a `KubeLaunch` whose every value is already decided.

One node (tp x pp GPUs in one pod): a Deployment and a Service. Several nodes: a LeaderWorkerSet
(leaderworkerset.x-k8s.io/v1) whose groups have one pod per node, a Service in front of the
group leaders, the ConfigMap of the group's scripts, and the ServiceAccount, Role and RoleBinding
the leader needs to reach its workers. With build steps, a Job runs them in the cluster; it is a
file of its own (launch/kubernetes-build.yaml) since it must finish before the server starts.

The input is `KubeLaunch`, frozen, made by the launcher (compiler/launchers/kubernetes/__init__.py)
from the decided deployment and the backend's program; this module decides nothing. The outputs
are plain dicts (`manifests`, `build_manifests`), printed by `render_files` with yaml.safe_dump;
`aspects` hashes them for diff. Nothing here touches the world. Every value reaches a container as
one word of its argv or as an environment value, never inside shell text, and escaped for the
kubelet's own $(VAR) expansion.

How several pods make one MPI world, and where each fact was read:
- trtllm-serve serves on either backend through the LLM API, whose workers make one MPI world of tp x pp
  ranks. On one node the LLM API starts them itself, so the pod runs the server alone. Across nodes
  mpirun starts the ranks and trtllm-llmapi-launch makes rank 0 the HTTP server and the other ranks its
  workers (NVIDIA/TensorRT-LLM tensorrt_llm/llmapi/trtllm-llmapi-launch @ 020c89e6). Each worker takes
  device (global rank % visible GPUs) (tensorrt_llm/executor/base_worker.py _get_comm_ranks_device_id),
  so a pod that sees only its own GPUs needs no binding.
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
  (tensorrt_llm/serve/openai_server.py @ e7f7345e).
- The kubelet expands $(VAR) in command, args and env values and reads $$ as $
  (kubernetes/kubernetes third_party/forked/golang/expansion/expand.go @ fde22c3f).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from compiler.plan.model import MODEL_DIR, VARIABLE_ENV, fingerprint

Manifest = dict[str, Any]

SCRIPTS_DIR = Path(__file__).resolve().parents[2] / "templates" / "kubernetes"

# Where the pods see things: the model read-only at MODEL_MOUNT, the build folder at BUILD_MOUNT (the
# containers' working directory, so the plan's store-relative paths resolve in it).
MODEL_MOUNT = "/model"
BUILD_MOUNT = "/build"
SCRIPTS_MOUNT = "/etc/trtdeploy"
SHM_MOUNT = "/dev/shm"
HOSTFILE = "/tmp/trtdeploy/hostfile"
MODEL_DIR_ENV = VARIABLE_ENV[MODEL_DIR]  # the step scripts read the model folder from it (the build Job)
SERVING_FILE = "launch/kubernetes.yaml"
BUILD_JOB_FILE = "launch/kubernetes-build.yaml"

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


@dataclass(frozen=True)
class Volume:
    """Where a folder comes from: a PersistentVolumeClaim or a node's path, optionally a folder inside it.

    Exactly one of claim and host_path is set (the launcher refuses anything else, L108).
    """

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

    `server_argv` is trtllm-serve (either backend) with the paths the pods see. On one node the pod runs
    it as its one process, and the LLM API starts a worker per GPU; across nodes mpirun in the group's
    leader starts one rank per GPU, each running `rank_argv`: the server behind `wrapper`
    (trtllm-llmapi-launch, which makes rank 0 the HTTP server and the others its workers).
    `world_size` = `nodes` x `gpus_per_pod`, one worker per GPU.
    """

    name: str
    namespace: str
    image: str
    world_size: int
    nodes: int
    gpus_per_pod: int
    port: int
    server_argv: tuple[str, ...]
    model: Volume
    build_dir: Volume
    wrapper: tuple[str, ...] = ()
    replicas: int = 1
    labels: tuple[tuple[str, str], ...] = ()
    service_type: str = "ClusterIP"
    service_port: int | None = None
    requests: tuple[tuple[str, str], ...] = ()
    limits: tuple[tuple[str, str], ...] = ()
    shm_size: str | None = None
    secrets: tuple[SecretEnv, ...] = ()
    pull_secrets: tuple[str, ...] = ()
    node_selector: tuple[tuple[str, str], ...] = ()
    tolerations: tuple[Toleration, ...] = ()
    startup_timeout_s: int = 1800
    build_steps: tuple[BuildStep, ...] = ()
    build_gpus: int = 1

    @property
    def multi_node(self) -> bool:
        return self.nodes > 1

    @property
    def rank_argv(self) -> tuple[str, ...]:
        """What each MPI rank runs across nodes; on one node the server is the pod's only process."""
        return (*self.wrapper, *self.server_argv) if self.multi_node else self.server_argv


# ---------------------------------------------------------------- values the kubelet reads


def kubelet_literal(text: str) -> str:
    """`text` escaped so that the kubelet hands it over as written: it expands $(VAR) in command, args
    and env values and reads $$ as $, so every $ is doubled (expand.go @ fde22c3f)."""
    return text.replace("$", "$$")


def _words(argv: Iterable[str]) -> list[str]:
    return [kubelet_literal(word) for word in argv]


# ---------------------------------------------------------------- the commands


def mpirun_argv(k: KubeLaunch) -> tuple[str, ...]:
    """mpirun in a group's leader over the group's pods, reached with kubectl exec: one rank per GPU, each
    given the Secrets' variables with -x."""
    argv = ["mpirun", "-n", str(k.world_size), "--allow-run-as-root", "--hostfile", HOSTFILE,
            "-mca", "plm_rsh_agent", f"{SCRIPTS_MOUNT}/kubectl-exec.sh"]
    for secret in k.secrets:
        argv += ["-x", secret.env]
    return (*argv, *k.rank_argv)


def server_command(k: KubeLaunch) -> tuple[str, ...]:
    """What starts the server: trtllm-serve itself on one node (the LLM API starts its own workers), mpirun
    over the group's ranks across nodes."""
    return mpirun_argv(k) if k.multi_node else k.server_argv


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


@dataclass(frozen=True)
class PodFiles:
    """The volumes of a pod and where its container mounts them."""

    volumes: list[dict[str, Any]]
    mounts: list[dict[str, Any]]


def _pod_files(k: KubeLaunch, scripts: str | None, build_writable: bool) -> PodFiles:
    model, build = k.model, k.build_dir
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


def _env(k: KubeLaunch, plain: Iterable[tuple[str, str]] = ()) -> list[dict[str, Any]]:
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
               plain_env: Iterable[tuple[str, str]] = (), serves: bool = False) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": k.image,
        "imagePullPolicy": "IfNotPresent",
        "command": _words(argv),
        "workingDir": BUILD_MOUNT,
        "env": _env(k, plain_env),
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
                        k.gpus_per_pod, plain_env=leader_env, serves=True)
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
    container = _container(k, BUILD_CONTAINER, ("bash", f"{SCRIPTS_MOUNT}/build.sh", *pairs), files, k.build_gpus,
                           plain_env=[(MODEL_DIR_ENV, MODEL_MOUNT)])
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
    files = {SERVING_FILE: manifests_yaml(
        manifests(k), f"trtdeploy: {k.name} on Kubernetes as {kind} of {k.nodes} pod(s) x {k.gpus_per_pod} GPU(s)")}
    job = build_manifests(k)
    if job:
        files[BUILD_JOB_FILE] = manifests_yaml(
            job, f"trtdeploy: the build of {k.name} as a Job; apply and wait for it before {SERVING_FILE}")
    return files


def aspects(k: KubeLaunch) -> dict[str, str]:
    """Per-aspect hashes of the serving manifests, for diff: any change among them is a relaunch,
    and the aspect says why (the build Job's steps are the planner's build aspects)."""
    return {
        "kubernetes.image": fingerprint([k.image, k.pull_secrets]),
        "kubernetes.replicas": fingerprint(k.replicas),
        "kubernetes.resources": fingerprint([k.requests, k.limits, k.shm_size]),
        "kubernetes.probes": fingerprint([k.port, LIVENESS_PATH, READINESS_PATH, k.startup_timeout_s]),
        "kubernetes.service": fingerprint([k.service_type, k.service_port]),
        "kubernetes.volumes": fingerprint([k.model, k.build_dir]),
        "kubernetes.placement": fingerprint([k.namespace, k.labels, k.node_selector, k.tolerations]),
        "kubernetes.topology": fingerprint([k.nodes, k.gpus_per_pod, k.server_argv, k.wrapper, k.secrets]),
        "kubernetes.manifests": fingerprint(manifests(k)),
    }
