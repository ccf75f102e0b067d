"""launcher kubernetes: a Deployment (one node) or a LeaderWorkerSet (several nodes) that serves the deployment.

The decide half (`gaps`, `notes`, and the facts the warning rules read: `pod_image`,
`shared_host_paths`, `unbound_env`) works on the decided deployment only; the L rules of
compiler/rules/kubernetes.py report what it finds. The plan half (`launch`) builds the
`KubeLaunch` from the decided topology and the backend's program, with every path as the pods
see it, builds the manifests (manifests.py), reads them back against the decided deployment
(readback.py: a mismatch is a bug, raised), and returns the Launch with the manifests as launch
files and their aspects for diff.

What the pods see: the model read-only at /model (launch.kubernetes.model; on the build host it is
model.path, so a spec path inside model.path is seen under /model) and the build folder at /build,
their working directory. What serves is trtllm-serve on either backend (the Hugging Face model or
checkpoint with the LLM-API YAML on PyTorch, the engine on TensorRT), a program that starts its own
workers: on one node the pod runs it as its one process; across nodes every rank runs it behind its
multi-node wrapper (trtllm-llmapi-launch) under the leader's mpirun. No rank script is involved.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from compiler.catalog.ranges import (
    RangedFact,
    load_yaml,
    pick,
    ranged_rows,
    source_texts,
)
from compiler.decide.model import Decided, Note, RouteKind
from compiler.findings import Finding, draft
from compiler.launchers.kubernetes.manifests import (
    BUILD_MOUNT,
    MODEL_MOUNT,
    RESERVED_LABELS,
    SERVING_FILE,
    SUFFIXES,
    BuildStep,
    KubeLaunch,
    SecretEnv,
    Toleration,
    Volume,
    aspects,
    render_files,
    server_command,
)
from compiler.launchers.kubernetes.manifests import manifests as serving_manifests
from compiler.launchers.kubernetes.readback import ALL_INTERFACES, InconsistentLaunch, assert_consistent, splits
from compiler.launchers.ranks import common_notes, make_launch, topology_gaps
from compiler.plan.model import BUILD_DIR, MODEL_DIR, Arg, Launch, Step, Var
from compiler.plan.steps import RankProgram
from compiler.spec import Entrypoint, KubeResourcesSection, KubeVolumeSection, Launcher
from compiler.versions import VersionError, parse_version

LAUNCHER = Launcher.KUBERNETES
CONTAINERS_FILE = "containers.yaml"
# An NGC tag names a whole release: 1.2.0, 1.0.0rc4, never the line 1.2.
FULL_VERSION = re.compile(r"^\d+\.\d+\.\d+([a-z0-9.]*)$")
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
NAME_MAX = 63
# A StatefulSet's pods carry controller-revision-hash=<statefulset>-<10 characters>, a label value
# of at most 63 characters; LWS names each group's worker StatefulSet <lws>-<group>.
STATEFULSET_NAME_MAX = 52
# Where each script variable of a served program is in the pods.
POD_PATHS = {MODEL_DIR: MODEL_MOUNT, BUILD_DIR: BUILD_MOUNT}
# common_notes' note about a build folder shared by path; on Kubernetes the folder is a volume (the
# launch.kubernetes.volumes note says which).
SHARED_FOLDER_TOPIC = "launch.shared_folder"
# common_notes' note about rank.sh's GPU binding; the pods run no rank.sh, their own note replaces it.
GPU_BINDING_TOPIC = "launch.gpu_binding"
# Routes with no build step: trtllm-serve loads the model, or a given checkpoint, as it is.
NOTHING_TO_BUILD = frozenset({RouteKind.HF_MODEL, RouteKind.HF_CHECKPOINT})


# ---------------------------------------------------------------- the image


@dataclass(frozen=True)
class PodImage:
    """The image the pods run: the spec's, or the release's NGC image, or none (and why)."""

    image: str | None
    written: bool
    why: str


@functools.cache
def _image_rows() -> tuple[RangedFact, ...]:
    data = load_yaml(CONTAINERS_FILE)
    return ranged_rows(CONTAINERS_FILE, "images", data.get("images"), source_texts(CONTAINERS_FILE, data.get("sources")))


def release_image(version: str) -> PodImage:
    """The default image for TensorRT-LLM `version` (compiler/catalog/containers.yaml)."""
    try:
        exact = parse_version(version)
    except VersionError as exc:
        return PodImage(None, False, str(exc))
    row = pick(_image_rows(), exact)
    if row is None or row.value.get("image") is None:
        why = row.value["why"] if row is not None else "no row of containers.yaml holds it"
        return PodImage(None, False, f"no NGC image is pinned for TensorRT-LLM {version}: {why}")
    if not FULL_VERSION.match(version):
        return PodImage(None, False, f"NGC tags name whole releases; '{version}' is not a whole release (x.y.z)")
    return PodImage(str(row.value["image"]).format(version=version), False,
                    f"the NGC release image of TensorRT-LLM {version} (compiler/catalog/containers.yaml)")


def pod_image(d: Decided) -> PodImage:
    written = d.r.spec.launch.kubernetes.image
    if written is not None:
        return PodImage(written, True, "launch.kubernetes.image")
    return release_image(d.r.release.version)


# ---------------------------------------------------------------- paths as the pods see them


def pod_path(d: Decided, path: str) -> str | None:
    """Where the pods see a build-host path: model.path is /model, a path inside it is under /model; None
    for any other path (the pods do not have it)."""
    model = d.r.model_dir
    if model is None:
        return None
    model = posixpath.normpath(model)
    path = posixpath.normpath(path)
    if path == model:
        return MODEL_MOUNT
    prefix = model.rstrip("/") + "/"
    return MODEL_MOUNT + "/" + path[len(prefix):] if path.startswith(prefix) else None


def served_paths(d: Decided) -> list[tuple[str, str]]:
    """The spec's paths (key, build-host path) that the server reads, besides the model and the build folder."""
    r = d.r
    paths = []
    if r.spec.model.tokenizer is not None and r.tokenizer_dir is not None:
        paths.append(("model.tokenizer", r.tokenizer_dir))
    if d.route.kind is RouteKind.HF_CHECKPOINT and r.checkpoint_dir is not None:
        paths.append(("quantization.checkpoint", r.checkpoint_dir))
    return paths


def build_job_paths(d: Decided) -> list[tuple[str, str]]:
    """The spec's paths the build steps read besides the model: written into the step scripts as they are."""
    if not d.r.spec.launch.kubernetes.build_job:
        return []
    paths = []
    if d.route.reads_checkpoint and d.route.kind is not RouteKind.HF_CHECKPOINT and d.r.checkpoint_dir is not None:
        paths.append(("quantization.checkpoint", d.r.checkpoint_dir))
    if d.calibration is not None and d.calibration.local:
        paths.append(("quantization.calibration.dataset", d.calibration.dataset))
    return paths


def server_wrapped(d: Decided) -> bool:
    """Whether the server's words pass through trtllm-llmapi-launch: trtllm-serve (either backend) starts its
    own workers on one node and runs under the wrapper across nodes (compiler/backends/*/steps.py
    rank_program). readback.server_problems checks the emitted argv against this."""
    return d.topology.nodes > 1


# ---------------------------------------------------------------- the decide half: gaps


def _volume_gaps(d: Decided) -> list[Finding]:
    section = d.r.spec.launch.kubernetes
    out = []
    for key, volume, what in (("launch.kubernetes.model", section.model, "the model"),
                              ("launch.kubernetes.build_dir", section.build_dir, "the build folder")):
        if volume is None:
            out.append(draft(key, f"launch.kubernetes names no volume for {what}",
                             f"set {key}.claim (a PersistentVolumeClaim) or {key}.host_path", code="L108"))
        elif (volume.claim is None) == (volume.host_path is None):
            out.append(draft(key, f"{key} names {'both' if volume.claim else 'neither'} a claim and a host path",
                             "set exactly one of claim and host_path", code="L108"))
        elif volume.sub_path is not None and ".." in volume.sub_path.split("/"):
            out.append(draft(f"{key}.sub_path", f"sub_path {volume.sub_path!r} climbs out of the volume",
                             "name a folder inside the volume (Kubernetes refuses '..' in a subPath)", code="L108"))
    return out


def _image_gaps(d: Decided) -> list[Finding]:
    image = pod_image(d)
    if image.image is not None:
        return []
    return [draft(d.r.first_written("target.tensorrt_llm", "launch.kubernetes"),
                  f"the pods have no image: {image.why}",
                  "set launch.kubernetes.image, or target.tensorrt_llm to a whole 1.x release (e.g. 1.2.0)",
                  code="L109")]


def name_limit(d: Decided) -> int:
    """The longest name that can name every object: room for the longest suffix and, over several nodes,
    for the LWS worker StatefulSet <name>-<group> in its pods' controller-revision-hash label."""
    limit = NAME_MAX - max(len(suffix) for suffix in SUFFIXES.values())
    if d.topology.nodes > 1:
        last_group = max(d.r.spec.launch.kubernetes.replicas - 1, 0)
        limit = min(limit, STATEFULSET_NAME_MAX - 1 - len(str(last_group)))
    return limit


def _name_gaps(d: Decided) -> list[Finding]:
    name, limit = d.r.name, name_limit(d)
    if DNS_1035.match(name) and len(name) <= limit:
        return []
    return [draft("name", f"{name!r} cannot name the Kubernetes objects: it must start with a letter, hold "
                  f"lowercase letters, digits and '-', and have at most {limit} characters",
                  "rename the deployment (name:), e.g. llama-70b-tp8", code="L110")]


def _label_gaps(d: Decided) -> list[Finding]:
    taken = sorted(key for key in d.r.spec.launch.kubernetes.labels if key in RESERVED_LABELS)
    if not taken:
        return []
    return [draft("launch.kubernetes.labels", f"labels {', '.join(taken)} are trtdeploy's: they select the pods",
                  "use other label keys", code="L111")]


def _serve_gaps(d: Decided) -> list[Finding]:
    section = d.r.spec.launch
    if section.entrypoint is not Entrypoint.SERVE:
        return [draft("launch.entrypoint", "on Kubernetes the pods serve; a smoke run (entrypoint run) exits, and "
                      "its Deployment would restart it", "use launch.entrypoint: serve", code="L112")]
    if section.serve.host not in ALL_INTERFACES:
        return [draft("launch.serve.host", f"the server would bind {section.serve.host}: the kubelet's probes and "
                      "the Service reach the pod's own address", "use launch.serve.host: 0.0.0.0", code="L113")]
    return []


def _path_gaps(d: Decided) -> list[Finding]:
    out = [draft(key, f"{key} {path} is not in the pods: they see model.path at {MODEL_MOUNT} and the build "
                 f"folder at {BUILD_MOUNT}", f"move it inside model.path (the pods then read it under {MODEL_MOUNT})"
                 + (", or leave model.tokenizer out to use the model's own" if key == "model.tokenizer" else ""),
                 code="L114")
           for key, path in served_paths(d) if pod_path(d, path) is None]
    out += [draft(key, f"the build Job's steps read {path}, which its pod cannot see: it mounts only the model "
                  f"and the build folder", "run `trtdeploy build` on a host that has it, and leave "
                  "launch.kubernetes.build_job off", code="L114")
            for key, path in build_job_paths(d)]
    return out


def _word_gaps(d: Decided) -> list[Finding]:
    if not server_wrapped(d):
        return []
    return [draft(key, f"the pods would pass {seen!r} through trtllm-llmapi-launch, which re-splits words with "
                  "blanks and expands * ? [", "rename the folder without blanks or * ? [", code="L115")
            for key, path in served_paths(d) if (seen := pod_path(d, path)) is not None and splits(seen)]


def gaps(d: Decided) -> list[Finding]:
    """What no Kubernetes launch can be written for; the L rules report each (compiler/rules/kubernetes.py)."""
    return [*topology_gaps(d), *_volume_gaps(d), *_image_gaps(d), *_name_gaps(d), *_label_gaps(d),
            *_serve_gaps(d), *_path_gaps(d), *_word_gaps(d)]


# ---------------------------------------------------------------- the decide half: what the warnings read


def shared_host_paths(d: Decided) -> list[str]:
    """The volume keys that name a host path while the pods span several nodes."""
    section = d.r.spec.launch.kubernetes
    if d.topology.nodes == 1:
        return []
    return [key for key, volume in (("launch.kubernetes.model", section.model),
                                    ("launch.kubernetes.build_dir", section.build_dir))
            if volume is not None and volume.host_path is not None]


def image_may_lack_kubectl(d: Decided) -> bool:
    """The leader's mpirun reaches the workers with kubectl; the stock NGC image is not known to hold it."""
    image = pod_image(d)
    return d.topology.nodes > 1 and image.image is not None and not image.written


def unbound_env(d: Decided) -> list[str]:
    """launch.env names no Secret provides: in a pod only the Secrets' variables exist."""
    bound = d.r.spec.launch.kubernetes.secrets
    return [name for name in d.r.spec.launch.env if name not in bound]


# ---------------------------------------------------------------- the decide half: notes


def notes(d: Decided) -> list[Note]:
    t, section = d.topology, d.r.spec.launch.kubernetes
    out = [note for note in common_notes(d) if note.topic not in (SHARED_FOLDER_TOPIC, GPU_BINDING_TOPIC)]
    out.append(Note(GPU_BINDING_TOPIC, "each pod's own GPUs, as the device plugin gave them",
                    "a pod sees only the nvidia.com/gpu GPUs it asks for, one per worker, and each LLM-API worker "
                    "takes device (global rank % the GPUs it sees) (tensorrt_llm/executor/base_worker.py "
                    "_get_comm_ranks_device_id), so every worker finds its own"))
    if t.nodes > 1:
        out.append(Note("launch.kubernetes", f"a LeaderWorkerSet of {section.replicas} group(s) of {t.nodes} pods "
                        f"x {t.ranks_per_node} GPUs", "one pod per node, one MPI world per group: the leader runs "
                        "mpirun and reaches its workers with kubectl exec; a pod that restarts restarts its group "
                        "(docs/kubernetes.md)"))
    else:
        out.append(Note("launch.kubernetes", f"a Deployment of {section.replicas} pod(s) x {t.world_size} GPUs",
                        "the MPI world fits on one node, so one pod holds it; a Service in front"))
    out.append(Note("launch.kubernetes.volumes", f"the model at {MODEL_MOUNT}, the build folder at {BUILD_MOUNT}",
                    "every pod mounts both; the build folder is the containers' working directory, so the plan's "
                    "store paths resolve in it"))
    image = pod_image(d)
    if image.image is not None and not image.written:
        out.append(Note("launch.kubernetes.image", image.image, image.why))
    if d.r.spec.launch.hosts:
        out.append(Note("launch.hosts", "not used", "Kubernetes places the pods; launch.hosts is for mpirun"))
    if section.build_job and d.route.kind in NOTHING_TO_BUILD:
        out.append(Note("launch.kubernetes.build_job", "no Job: nothing to build",
                        f"the server loads what it serves as it is (quantization.path {d.route.kind.value}), so "
                        "there is no launch/kubernetes-build.yaml; apply launch/kubernetes.yaml"))
    return out


# ---------------------------------------------------------------- the plan half


def _tolerations(texts: Iterable[str]) -> tuple[Toleration, ...]:
    """`KEY[=VALUE][:EFFECT]` (kubectl taint's form, as the spec writes them) as Tolerations."""
    out = []
    for text in texts:
        head, _, effect = text.partition(":")
        key, has_value, value = head.partition("=")
        out.append(Toleration(key, value if has_value else None, effect or None))
    return tuple(out)


def _volume(section: KubeVolumeSection | None, what: str) -> Volume:
    if section is None:
        raise InconsistentLaunch(f"planned without a volume for {what}, which L108 refuses")
    return Volume(section.claim, section.host_path, section.sub_path)


def _amounts(section: KubeResourcesSection) -> tuple[tuple[str, str], ...]:
    return tuple((name, value) for name, value in (("cpu", section.cpu), ("memory", section.memory))
                 if value is not None)


def _secret(env: str, ref: str) -> SecretEnv:
    """NAME: SECRET/KEY as the spec writes it (the spec's pattern guarantees the slash)."""
    secret, key = ref.split("/", 1)
    return SecretEnv(env, secret, key)


def with_model_vars(d: Decided, argv: Sequence[Arg]) -> tuple[Arg, ...]:
    """argv with each path inside model.path written as ${MODEL_DIR}/..., which the pods set to /model."""
    out: list[Arg] = []
    for arg in argv:
        seen = pod_path(d, arg) if isinstance(arg, str) and arg.startswith("/") else None
        out.append(Var(MODEL_DIR, seen[len(MODEL_MOUNT):]) if seen is not None else arg)
    return tuple(out)


def pod_argv(argv: Sequence[Arg]) -> tuple[str, ...]:
    """argv as the pods run it: ${MODEL_DIR} and ${BUILD_DIR} as their mounts."""
    words = []
    for arg in argv:
        if isinstance(arg, Var):
            if arg.name not in POD_PATHS:
                raise InconsistentLaunch(f"the served program uses {arg}, which has no path in the pods")
            words.append(POD_PATHS[arg.name] + arg.suffix)
        else:
            words.append(arg)
    return tuple(words)


def _build_step(step: Step) -> BuildStep:
    if step.script is None:
        raise InconsistentLaunch(f"step {step.id} has no script for the build Job to run")
    return BuildStep(step.script, step.output)


def kube_launch(d: Decided, program: RankProgram, steps: Sequence[Step]) -> KubeLaunch:
    """The KubeLaunch of a decided deployment: its topology, the spec's launch.kubernetes, and what serves.

    `steps` are the build's, which the build Job runs when launch.kubernetes.build_job is set.
    """
    section, t = d.r.spec.launch.kubernetes, d.topology
    image = pod_image(d).image
    if image is None:
        raise InconsistentLaunch("planned without an image, which L109 refuses")
    if not program.spawns_workers:
        raise InconsistentLaunch(f"planned a program that does not serve ({program.entrypoint}), which L112 refuses")
    return KubeLaunch(
        name=d.r.name,
        namespace=section.namespace,
        image=image,
        world_size=t.world_size,
        nodes=t.nodes,
        gpus_per_pod=t.ranks_per_node,
        port=d.r.spec.launch.serve.port,
        server_argv=pod_argv(with_model_vars(d, program.argv.argv)),
        wrapper=tuple(program.multinode_wrapper),
        model=_volume(section.model, "the model"),
        build_dir=_volume(section.build_dir, "the build folder"),
        replicas=section.replicas,
        labels=tuple(sorted(section.labels.items())),
        service_type=section.service.type.value,
        service_port=section.service.port,
        requests=_amounts(section.requests),
        limits=_amounts(section.limits),
        shm_size=section.shm_size,
        secrets=tuple(_secret(env, ref) for env, ref in sorted(section.secrets.items())),
        pull_secrets=tuple(section.pull_secrets),
        node_selector=tuple(sorted(section.node_selector.items())),
        tolerations=_tolerations(section.tolerations),
        startup_timeout_s=section.startup_timeout,
        build_steps=tuple(_build_step(step) for step in steps) if section.build_job else (),
        build_gpus=d.r.build_gpus,
    )


def launch(d: Decided, program: RankProgram, steps: Sequence[Step]) -> Launch:
    """The manifests that serve `program` on the decided topology, beside the program's own files (the LLM-API
    YAML), read back against the decided deployment before anything is returned."""
    k = kube_launch(d, program, steps)
    assert_consistent(k, d.topology, serving_manifests(k))
    contents = render_files(k)
    made = make_launch(d, program, argv=server_command(k), files={path: "text" for path in contents},
                       rank=k.rank_argv, contents=contents, script=SERVING_FILE)
    # The pods get the Secrets' variables, and nothing of rank.sh's, which they do not run.
    return replace(made, env_passthrough=tuple(secret.env for secret in k.secrets),
                   aspects={**made.aspects, **aspects(k)})
