"""L rules of launcher kubernetes: can the manifests be written, and will the pods be able to serve?

The topology is the one every launcher shares (Decided.topology): a pod per node, tp x pp / nodes
GPUs per pod, so a world that does not split into whole GPUs over the pods is L104 and one that
needs more GPUs than a node has is L101, with every launcher. The errors here are gaps that the
Kubernetes launcher decides (compiler/launchers/kubernetes/__init__.py): the planner refuses to plan
while one is left. The warnings read the same module's facts. What the planner emits (the server's
tp and pp, the manifests) is read back at plan time (compiler/launchers/kubernetes/readback.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.decide.model import Decided
from compiler.findings import Finding, Severity
from compiler.launchers import kubernetes as kube
from compiler.rules import draft, rule
from compiler.rules.plan import gaps_of
from compiler.spec import Launcher

_LAUNCH = "launch:\n  launcher: kubernetes\n  entrypoint: serve\n"
_VOLUMES = "    model: {claim: models, sub_path: llama-7b}\n    build_dir: {claim: builds, sub_path: llama-7b}\n"
_TWO_NODES = "parallelism: {tp: 8, pp: 2}\ntarget: {gpu: H100-SXM, nodes: 2}\n"


def _on_kubernetes(d: Decided) -> bool:
    return d.r.spec.launch.launcher is Launcher.KUBERNETES


@rule(
    "L108", "kubernetes-volume-missing", Severity.ERROR,
    "launch.kubernetes does not say where the pods find the model or the build folder, or says it ambiguously.",
    why="Every pod mounts the model at /model and the compiled build folder at /build; without a "
    "PersistentVolumeClaim or a host path for each there is nothing to serve. A volume naming both a claim and "
    "a host path is ambiguous, and Kubernetes refuses a subPath with '..'.",
    bad=_LAUNCH + "  kubernetes:\n    model: {claim: models, host_path: /models}\n",
    good=_LAUNCH + "  kubernetes:\n" + _VOLUMES,
    hint="set launch.kubernetes.model and .build_dir, each with a claim or a host_path",
)
def kubernetes_volume_missing(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "L108")


@rule(
    "L109", "kubernetes-image-missing", Severity.ERROR,
    "The pods have no container image: the spec names none and the release has no NGC image to default to.",
    why="The default image is the NGC release container of target.tensorrt_llm "
    "(nvcr.io/nvidia/tensorrt-llm/release:<version>, TensorRT-LLM docs/source/installation/containers.md "
    "@ 20c5f48b). NGC tags name whole 1.x releases: a partial version (1.2) or a 0.x release has no tag that "
    "could be pinned from a source.",
    bad="target: {gpu: H100-SXM, tensorrt_llm: '1.2'}\n" + _LAUNCH,
    good="target: {gpu: H100-SXM, tensorrt_llm: '1.2.0'}\n" + _LAUNCH,
    hint="set launch.kubernetes.image, or target.tensorrt_llm to a whole 1.x release",
)
def kubernetes_image_missing(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "L109")


@rule(
    "L110", "kubernetes-name-invalid", Severity.ERROR,
    "The deployment's name cannot name its Kubernetes objects.",
    why="Every object is named after the deployment: the Service (<name>-http) must be a DNS-1035 label (a "
    "letter first; lowercase letters, digits and '-'; at most 63 characters), and over several nodes LWS names "
    "each group's worker StatefulSet <name>-<group>, whose pods carry controller-revision-hash="
    "<statefulset>-<10 characters>, a label value of at most 63 characters.",
    bad="name: llama_7b.tp2\n" + _LAUNCH,
    good="name: llama-7b-tp2\n" + _LAUNCH,
    hint="rename the deployment (name:) with lowercase letters, digits and '-', starting with a letter",
)
def kubernetes_name_invalid(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "L110")


@rule(
    "L111", "kubernetes-label-reserved", Severity.ERROR,
    "launch.kubernetes.labels sets a label that trtdeploy uses to select the pods.",
    why="The Deployment, the LeaderWorkerSet and the Service select their pods by app.kubernetes.io/name and "
    "app.kubernetes.io/component; overriding one would select other pods, or none.",
    bad=_LAUNCH + "  kubernetes:\n    labels: {app.kubernetes.io/name: chat}\n",
    good=_LAUNCH + "  kubernetes:\n    labels: {team: chat}\n",
    hint="use other label keys",
)
def kubernetes_label_reserved(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "L111")


@rule(
    "L112", "kubernetes-smoke-run", Severity.ERROR,
    "launch.launcher kubernetes with entrypoint run: the pods would run a smoke generation, not a server.",
    why="The manifests serve: a Deployment or a LeaderWorkerSet restarts a container that exits, and the probes "
    "ask the server's /health. A smoke run (run.py) exits after one generation.",
    bad="launch:\n  launcher: kubernetes\n  entrypoint: run\n",
    good=_LAUNCH,
    hint="use launch.entrypoint: serve, or launcher mpirun for a smoke run",
)
def kubernetes_smoke_run(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "L112")


@rule(
    "L113", "kubernetes-server-unreachable", Severity.ERROR,
    "On Kubernetes the server would bind an address that the probes and the Service cannot reach.",
    why="The kubelet probes, and the Service forwards to, the pod's own address; a server bound to localhost "
    "(trtllm-serve's default) or another address never becomes ready (tensorrt_llm/commands/serve.py "
    "@ 00209af1).",
    bad=_LAUNCH + "  serve: {host: 127.0.0.1}\n",
    good=_LAUNCH + "  serve: {host: 0.0.0.0}\n",
    hint="use launch.serve.host: 0.0.0.0",
)
def kubernetes_server_unreachable(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "L113")


@rule(
    "L114", "kubernetes-path-not-in-pods", Severity.ERROR,
    "The pods would read a path they do not have: only the model and the build folder are mounted.",
    why="The pods mount launch.kubernetes.model at /model (model.path on the build host) and the build folder "
    "at /build. A tokenizer or a served checkpoint inside model.path is seen under /model; anywhere else it is "
    "not in the pods. The build Job's step scripts hold the build host's paths as written, so a checkpoint or "
    "a local calibration file they read is not in its pod either.",
    bad="model: {name: llama-2-7b, path: /models/llama-2-7b, tokenizer: /tokenizers/llama}\n" + _LAUNCH,
    good="model: {name: llama-2-7b, path: /models/llama-2-7b, tokenizer: /models/llama-2-7b/tokenizer}\n" + _LAUNCH,
    hint="put the path inside model.path, or build with `trtdeploy build` on a host that has it",
)
def kubernetes_path_not_in_pods(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "L114")


@rule(
    "L115", "kubernetes-word-split", Severity.ERROR,
    "A path the server reads in the pods has a blank or * ? [, and trtllm-llmapi-launch would split it.",
    why="trtllm-llmapi-launch runs its arguments from one unquoted variable (\"${@:1}\", then "
    "$task_with_command: tensorrt_llm/llmapi/trtllm-llmapi-launch @ 020c89e6), so a word with blanks "
    "arrives as several and a glob is expanded. It wraps trtllm-serve (either backend) only when the pods span "
    "nodes; on one node the pod runs the server alone, and its words arrive as written.",
    bad="model: {name: llama-2-70b, path: /models/llama-2-70b, tokenizer: /models/llama-2-70b/my tokenizer}\n"
    + _TWO_NODES + _LAUNCH,
    good="model: {name: llama-2-70b, path: /models/llama-2-70b, tokenizer: /models/llama-2-70b/tokenizer}\n"
    + _TWO_NODES + _LAUNCH,
    hint="rename the folder without blanks or * ? [",
)
def kubernetes_word_split(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "L115")


@rule(
    "L116", "kubernetes-host-path-over-nodes", Severity.WARNING,
    "A host path serves pods on several nodes: each node must hold the same files there.",
    why="A hostPath volume is the folder of the node the pod runs on. A LeaderWorkerSet group spans nodes, so "
    "every GPU node must hold the same model and build folder at that path, or ranks load different files.",
    bad="target: {gpu: H100-SXM, nodes: 2}\n" + _LAUNCH + "  kubernetes:\n    model: {host_path: /models/llama}\n",
    good="target: {gpu: H100-SXM, nodes: 2}\n" + _LAUNCH + "  kubernetes:\n    model: {claim: models}\n",
    hint="use a ReadOnlyMany or ReadWriteMany PersistentVolumeClaim, or copy the folder to every GPU node",
)
def kubernetes_host_path_over_nodes(d: Decided) -> Iterator[Finding]:
    if not _on_kubernetes(d):
        return
    for key in kube.shared_host_paths(d):
        yield draft(key, f"a host path serves {d.topology.nodes} nodes: each node must hold the same files there")


@rule(
    "L117", "kubernetes-image-may-lack-kubectl", Severity.WARNING,
    "Over several nodes the pods run the stock NGC image, which is not known to hold kubectl.",
    why="The leader's mpirun starts the ranks in the worker pods with kubectl exec (LWS's TensorRT-LLM example, "
    "docs/examples/tensorrt-llm @ 0e2e095a); the leader stops with exit 127 when the image has no kubectl.",
    bad="target: {gpu: H100-SXM, nodes: 2, tensorrt_llm: '1.2.0'}\n" + _LAUNCH,
    good="target: {gpu: H100-SXM, nodes: 2, tensorrt_llm: '1.2.0'}\n" + _LAUNCH
    + "  kubernetes: {image: registry.example/trtllm:1.2.0-kubectl}\n",
    hint="build an image FROM the NGC one with kubectl added, and name it in launch.kubernetes.image "
    "(docs/kubernetes.md)",
)
def kubernetes_image_may_lack_kubectl(d: Decided) -> Iterator[Finding]:
    if _on_kubernetes(d) and kube.image_may_lack_kubectl(d):
        image = kube.pod_image(d).image
        yield draft(d.r.first_written("launch.kubernetes.image", "target.tensorrt_llm"),
                    f"{image} is not known to hold kubectl, which the leader's mpirun uses to reach the workers")


@rule(
    "L118", "kubernetes-env-without-secret", Severity.WARNING,
    "launch.env names a variable that no Secret provides: it would be unset in the pods.",
    why="launch.env passes variables of the launching shell to every rank by name. Pods have no launching shell: "
    "a variable exists in them only when a Secret provides it (launch.kubernetes.secrets).",
    bad=_LAUNCH + "  env: [HF_TOKEN]\n",
    good=_LAUNCH + "  env: [HF_TOKEN]\n  kubernetes:\n    secrets: {HF_TOKEN: hf-token/token}\n",
    hint="add the variable to launch.kubernetes.secrets as NAME: SECRET/KEY",
)
def kubernetes_env_without_secret(d: Decided) -> Iterator[Finding]:
    if not _on_kubernetes(d):
        return
    missing = kube.unbound_env(d)
    if missing:
        yield draft("launch.env", f"{', '.join(missing)} would be unset in the pods: on Kubernetes a variable "
                    "comes from a Secret", f"add launch.kubernetes.secrets: {{{missing[0]}: SECRET/KEY}}")
