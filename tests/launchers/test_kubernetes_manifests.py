"""The manifests of launcher kubernetes: the issue's two deployments, strict validity of everything emitted, output."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import yaml

from compiler.launchers.kubernetes import manifests as kube
from compiler.launchers.kubernetes import readback
from compiler.launchers.kubernetes.manifests import KubeLaunch, Volume
from compiler.launchers.kubernetes.readback import MPI_WRAPPER
from launchers.kubeschema import assert_valid
from launchers.support import (
    engine,
    engine_serve_argv,
    kinds,
    llama_7b_tp2,
    llama_70b_tp8_pp2,
    one,
    serve_argv,
    topology,
)


def _all_documents(launch: KubeLaunch) -> list[dict[str, Any]]:
    return [*kube.manifests(launch), *kube.build_manifests(launch)]


# ---------------------------------------------------------------- issue 13, "Done when"


def test_llama_2_70b_tp8_pp2_on_two_nodes_is_a_valid_leader_worker_set_of_two_pods_of_eight_gpus() -> None:
    docs = kube.manifests(llama_70b_tp8_pp2())
    assert_valid(docs)
    lws = one(docs, "LeaderWorkerSet")
    assert lws["apiVersion"] == "leaderworkerset.x-k8s.io/v1"
    group = lws["spec"]["leaderWorkerTemplate"]
    assert group["size"] == 2
    for template in (group["leaderTemplate"], group["workerTemplate"]):
        (container,) = template["spec"]["containers"]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "8"
    leader = group["leaderTemplate"]["spec"]["containers"][0]
    argv = leader["command"]
    assert argv[argv.index("-n") + 1] == "16"
    assert argv[argv.index("--tp_size") + 1] == "8" and argv[argv.index("--pp_size") + 1] == "2"
    assert leader["readinessProbe"]["httpGet"] == {"path": "/health_generate", "port": 8000}
    assert not readback.server_problems(llama_70b_tp8_pp2(), topology(llama_70b_tp8_pp2(), 8, 2))
    assert not readback.manifest_problems(llama_70b_tp8_pp2(), topology(llama_70b_tp8_pp2(), 8, 2), docs)


def test_llama_7b_tp2_on_one_node_is_a_valid_deployment_with_two_gpus_and_a_readiness_probe() -> None:
    docs = kube.manifests(llama_7b_tp2())
    assert_valid(docs)
    assert kinds(docs) == ["Deployment", "Service"]
    (container,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert container["readinessProbe"]["httpGet"] == {"path": "/health_generate", "port": 8000}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": 8000}
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    # One node: the LLM API starts its own workers, so the pod runs trtllm-serve itself.
    assert container["command"] == list(llama_7b_tp2().server_argv)
    assert not readback.server_problems(llama_7b_tp2(), topology(llama_7b_tp2(), 2, 1))
    assert not readback.manifest_problems(llama_7b_tp2(), topology(llama_7b_tp2(), 2, 1), docs)


# ---------------------------------------------------------------- every variant is strictly valid


# Each with the tp and pp it was made from.
VARIANTS: dict[str, tuple[KubeLaunch, int, int]] = {
    "pytorch, 2 nodes": (llama_70b_tp8_pp2(), 8, 2),
    "pytorch, 1 node": (llama_7b_tp2(), 2, 1),
    "tensorrt, 2 nodes, build job": (engine(llama_70b_tp8_pp2(), 8, 2), 8, 2),
    "tensorrt, 1 node, build job": (engine(llama_7b_tp2(), 2, 1), 2, 1),
    "4 nodes, 3 groups, LoadBalancer": (replace(llama_70b_tp8_pp2(), nodes=4, gpus_per_pod=4, replicas=3,
                                                service_type="LoadBalancer", service_port=80), 8, 2),
    "bare": (replace(llama_7b_tp2(), labels=(), node_selector=(), tolerations=(), requests=(), limits=(),
                     shm_size=None, secrets=(), pull_secrets=()), 2, 1),
    "node selector, NodePort": (replace(llama_7b_tp2(), service_type="NodePort",
                                        node_selector=(("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3"),)), 2, 1),
}


@pytest.mark.parametrize(("launch", "tp", "pp"), VARIANTS.values(), ids=VARIANTS.keys())
def test_every_emitted_manifest_is_strictly_valid(launch: KubeLaunch, tp: int, pp: int) -> None:
    docs = _all_documents(launch)
    assert docs
    assert_valid(docs)
    readback.assert_consistent(launch, topology(launch, tp, pp), kube.manifests(launch))


def test_the_yaml_files_parse_back_to_the_manifests_without_aliases() -> None:
    launch = engine(llama_70b_tp8_pp2(), 8, 2)
    files = kube.render_files(launch)
    assert set(files) == {"launch/kubernetes.yaml", "launch/kubernetes-build.yaml"}
    for path, expected in (("launch/kubernetes.yaml", kube.manifests(launch)),
                           ("launch/kubernetes-build.yaml", kube.build_manifests(launch))):
        text = files[path]
        assert "&id" not in text and "*id" not in text, "anchors would make the manifests hard to read"
        assert [doc for doc in yaml.safe_load_all(text) if doc is not None] == expected


def test_output_is_deterministic() -> None:
    assert kube.render_files(engine(llama_70b_tp8_pp2(), 8, 2)) == kube.render_files(engine(llama_70b_tp8_pp2(), 8, 2))


def test_the_scripts_are_in_the_config_map_as_written() -> None:
    docs = kube.manifests(llama_70b_tp8_pp2())
    data = one(docs, "ConfigMap")["data"]
    assert set(data) == {"leader.sh", "worker.sh", "kubectl-exec.sh"}
    for name, text in data.items():
        assert text == (kube.SCRIPTS_DIR / name).read_text(encoding="utf-8")
    assert "build.sh" in one(kube.build_manifests(engine(llama_7b_tp2(), 2, 1)), "ConfigMap")["data"]


# ---------------------------------------------------------------- what the group needs


def test_the_service_selects_the_group_leaders_and_forwards_to_the_server_port() -> None:
    docs = kube.manifests(llama_70b_tp8_pp2(service_port=80))
    service = one(docs, "Service")
    assert service["metadata"]["name"] == "llama-2-70b-http"  # LWS's own headless Service is named llama-2-70b
    assert service["spec"]["selector"] == {"leaderworkerset.sigs.k8s.io/name": "llama-2-70b",
                                           "leaderworkerset.sigs.k8s.io/worker-index": "0"}
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]


def test_the_leader_may_exec_into_its_workers_and_nothing_more() -> None:
    docs = kube.manifests(llama_70b_tp8_pp2())
    role = one(docs, "Role")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
                             {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]}]
    binding = one(docs, "RoleBinding")
    account = one(docs, "ServiceAccount")["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": "llm"}]
    group = one(docs, "LeaderWorkerSet")["spec"]["leaderWorkerTemplate"]
    assert group["leaderTemplate"]["spec"]["serviceAccountName"] == account
    assert group["workerTemplate"]["spec"]["automountServiceAccountToken"] is False


def test_a_group_restarts_whole_and_its_workers_are_created_with_the_leader() -> None:
    spec = one(kube.manifests(llama_70b_tp8_pp2()), "LeaderWorkerSet")["spec"]
    assert spec["leaderWorkerTemplate"]["restartPolicy"] == "RecreateGroupOnPodRestart"
    assert spec["startupPolicy"] == "LeaderCreated"


@pytest.mark.parametrize("launch", [llama_70b_tp8_pp2(), llama_7b_tp2()], ids=["lws", "deployment"])
def test_pods_get_an_in_memory_shm_and_the_spec_volumes(launch: KubeLaunch) -> None:
    for doc in kube.manifests(launch):
        for spec in _pod_specs(doc):
            volumes = {v["name"]: v for v in spec["volumes"]}
            assert volumes["shm"]["emptyDir"]["medium"] == "Memory"
            for container in spec["containers"]:
                mounts = {m["name"]: m for m in container["volumeMounts"]}
                assert mounts["shm"]["mountPath"] == "/dev/shm"
                assert mounts["model"]["mountPath"] == kube.MODEL_MOUNT and mounts["model"]["readOnly"]
                assert mounts["build"]["mountPath"] == kube.BUILD_MOUNT and mounts["build"]["readOnly"]
                assert container["workingDir"] == kube.BUILD_MOUNT


def test_volumes_come_from_the_claim_or_the_host_path_the_spec_names() -> None:
    docs = kube.manifests(llama_7b_tp2(model=Volume(claim="models", sub_path="llama-7b")))
    volumes = {v["name"]: v for v in _pod_specs(one(docs, "Deployment"))[0]["volumes"]}
    assert volumes["model"] == {"name": "model", "persistentVolumeClaim": {"claimName": "models", "readOnly": True}}
    assert volumes["build"] == {"name": "build", "hostPath": {"path": "/builds/llama-7b", "type": "Directory"}}


def test_the_build_job_runs_the_steps_on_a_gpu_with_the_build_folder_writable() -> None:
    launch = engine(llama_7b_tp2(build_gpus=2), 2, 1)
    job = one(kube.build_manifests(launch), "Job")
    spec = job["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["command"] == ["bash", "/etc/trtdeploy/build.sh", "steps/01-convert.sh",
                                    "store/convert-0123456789abcdef", "steps/02-build.sh",
                                    "store/build-0123456789abcdef"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert {m["name"]: m["readOnly"] for m in container["volumeMounts"] if m["name"] in ("model", "build")} == {
        "model": True, "build": False}
    assert spec["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 0
    assert "readinessProbe" not in container
    assert kube.build_manifests(llama_7b_tp2()) == []


# The same deployments on both backends: trtllm-serve on the Hugging Face model (PyTorch) or on the engine the
# build Job writes (TensorRT) is started the same way.
BACKENDS = {"pytorch": lambda launch, tp, pp: launch, "tensorrt": engine}


@pytest.mark.parametrize("backend", BACKENDS)
def test_on_one_node_the_pod_runs_the_server_as_its_one_process(backend: str) -> None:
    launch = BACKENDS[backend](llama_7b_tp2(), 2, 1)
    (container,) = one(kube.manifests(launch), "Deployment")["spec"]["template"]["spec"]["containers"]
    served = {"pytorch": serve_argv(2, 1), "tensorrt": engine_serve_argv(2, 1)}[backend]
    assert container["command"] == list(served)  # no mpirun, no trtllm-llmapi-launch: the LLM API spawns its workers
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"


@pytest.mark.parametrize("backend", BACKENDS)
def test_across_nodes_every_rank_runs_the_server_behind_its_wrapper_under_the_leaders_mpirun(backend: str) -> None:
    launch = BACKENDS[backend](llama_70b_tp8_pp2(), 8, 2)
    group = one(kube.manifests(launch), "LeaderWorkerSet")["spec"]["leaderWorkerTemplate"]
    served = {"pytorch": serve_argv(8, 2), "tensorrt": engine_serve_argv(8, 2)}[backend]
    assert group["leaderTemplate"]["spec"]["containers"][0]["command"] == [
        "bash", "/etc/trtdeploy/leader.sh", "mpirun", "-n", "16", "--allow-run-as-root", "--hostfile", kube.HOSTFILE,
        "-mca", "plm_rsh_agent", "/etc/trtdeploy/kubectl-exec.sh", "-x", "HF_TOKEN", MPI_WRAPPER, *served]
    assert group["workerTemplate"]["spec"]["containers"][0]["command"] == ["bash", "/etc/trtdeploy/worker.sh"]


def test_the_model_folders_variable_is_the_build_steps_alone() -> None:
    """The step scripts read TRTDEPLOY_MODEL_DIR; the serving pods' words already name /model."""
    launch = engine(llama_70b_tp8_pp2(), 8, 2)
    for doc in kube.manifests(launch):
        for spec in _pod_specs(doc):
            assert all(var["name"] != "TRTDEPLOY_MODEL_DIR" for c in spec["containers"] for var in c["env"])
    (builder,) = one(kube.build_manifests(launch), "Job")["spec"]["template"]["spec"]["containers"]
    assert {"name": "TRTDEPLOY_MODEL_DIR", "value": kube.MODEL_MOUNT} in builder["env"]


def test_labels_scheduling_and_pull_secrets_reach_every_pod() -> None:
    docs = kube.manifests(llama_70b_tp8_pp2(node_selector=(("pool", "h100"),)))
    for doc in docs:
        assert doc["metadata"]["labels"]["team"] == "llm"
        assert doc["metadata"]["namespace"] == "llm"
        for spec in _pod_specs(doc):
            assert spec["nodeSelector"] == {"pool": "h100"}
            assert spec["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
            assert spec["imagePullSecrets"] == [{"name": "ngc"}]


def _pod_specs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if doc["kind"] == "LeaderWorkerSet":
        group = doc["spec"]["leaderWorkerTemplate"]
        return [group["leaderTemplate"]["spec"], group["workerTemplate"]["spec"]]
    if doc["kind"] in ("Deployment", "Job"):
        return [doc["spec"]["template"]["spec"]]
    return []
