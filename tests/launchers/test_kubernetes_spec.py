"""From a decided spec to the launcher's input and its Launch; the spec refuses what Kubernetes would; the aspects
diff reads: a manifest-only change is a relaunch."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from compiler.backends import backend_module
from compiler.decide.model import Decided
from compiler.launchers import kubernetes
from compiler.launchers.kubernetes import manifests as kube
from compiler.launchers.kubernetes.manifests import BuildStep, KubeLaunch, SecretEnv, Toleration, Volume
from compiler.launchers.kubernetes.readback import MPI_WRAPPER, InconsistentLaunch
from compiler.load import deep_merge
from compiler.pipeline import check_spec
from compiler.plan.argv import LAUNCH, TOOL, Argv
from compiler.plan.model import BUILD_DIR, EXAMPLES_DIR, MODEL_DIR, Arg, Launch, Var
from compiler.plan.planner import make_plan
from compiler.plan.steps import RankProgram, StepList
from compiler.spec import SpecFile
from launchers.kubeschema import assert_valid
from launchers.support import engine, llama_7b_tp2, llama_70b_tp8_pp2, one

LLAMA_70B: dict[str, Any] = {
    "name": "llama-2-70b",
    "model": {"name": "llama-2-70b", "path": "/models/Llama-2-70b-hf"},
    "parallelism": {"tp": 8, "pp": 2},
    "target": {"gpu": "H100-SXM", "gpus_per_node": 8, "nodes": 2, "tensorrt_llm": "1.2.0"},
    "launch": {
        "launcher": "kubernetes",
        "entrypoint": "serve",
        "env": ["HF_TOKEN"],
        "kubernetes": {
            "namespace": "llm",
            "labels": {"team": "llm"},
            "model": {"claim": "models", "sub_path": "Llama-2-70b-hf"},
            "build_dir": {"claim": "builds", "sub_path": "llama-2-70b"},
            "requests": {"cpu": 32, "memory": "400Gi"},
            "limits": {"memory": "800Gi"},
            "secrets": {"HF_TOKEN": "hf-token/token"},
            "tolerations": ["nvidia.com/gpu:NoSchedule", "dedicated=llm"],
            "pull_secrets": ["ngc"],
            "build_job": True,
        },
    },
}
ONE_NODE_7B: dict[str, Any] = {
    "name": "llama-7b", "model": {"name": "llama-7b", "path": "/models/llama-7b-hf"}, "parallelism": {"tp": 2, "pp": 1},
    "target": {"nodes": 1}, "limits": {"max_input_len": 1024, "max_output_len": 1024},
    "launch": {"env": [], "kubernetes": {"image": "registry.example/trtllm:1.2.0-kubectl", "build_job": False}},
}


def _spec_data(*overrides: dict[str, Any]) -> dict[str, Any]:
    data = LLAMA_70B
    for override in overrides:
        data = deep_merge(data, override)
    return data


def _decided(tmp_path: Path, *overrides: dict[str, Any]) -> Decided:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(_spec_data(*overrides)), encoding="utf-8")
    report = check_spec(path)
    assert report.decided is not None and not report.errors, [f"{f.code} {f.message}" for f in report.findings]
    return report.decided


def _kube_input(d: Decided) -> tuple[KubeLaunch, StepList]:
    """What the launcher builds its manifests from, with the backend's real program and steps."""
    steps = StepList(d)
    program = backend_module(d.backend.value).plan(d, steps)
    return kubernetes.kube_launch(d, program, steps.steps), steps


ENGINE = {"target": {"backend": "tensorrt"}}
PYTORCH = {"target": {"backend": "pytorch"}}


def test_the_70b_spec_on_the_engine_path_becomes_the_group_of_two_pods_and_the_build_job(tmp_path: Path) -> None:
    launch, steps = _kube_input(_decided(tmp_path, ENGINE))
    assert (launch.nodes, launch.gpus_per_pod, launch.world_size) == (2, 8, 16)
    assert launch.image == "nvcr.io/nvidia/tensorrt-llm/release:1.2.0"
    assert launch.model == Volume(claim="models", sub_path="Llama-2-70b-hf")
    assert launch.secrets == (SecretEnv("HF_TOKEN", "hf-token", "token"),)
    assert launch.requests == (("cpu", "32"), ("memory", "400Gi"))
    assert launch.tolerations == (Toleration("nvidia.com/gpu", None, "NoSchedule"), Toleration("dedicated", "llm"))
    assert [step.id for step in steps.steps] == ["convert", "build"]
    assert launch.build_steps == tuple(BuildStep(str(s.script), s.output) for s in steps.steps)
    assert launch.build_gpus == 8
    # trtllm-serve on the engine the build Job writes; every rank runs it behind trtllm-llmapi-launch.
    assert launch.server_argv[:4] == ("trtllm-serve", steps.steps[-1].output, "--backend", "tensorrt")
    assert launch.rank_argv == (MPI_WRAPPER, *launch.server_argv)
    assert launch.server_argv[launch.server_argv.index("--tokenizer") + 1] == kube.MODEL_MOUNT
    docs = [*kube.manifests(launch), *kube.build_manifests(launch)]
    assert_valid(docs)
    assert one(docs, "LeaderWorkerSet")["spec"]["leaderWorkerTemplate"]["size"] == 2


def test_the_70b_spec_on_the_pytorch_backend_serves_the_model_and_builds_nothing(tmp_path: Path) -> None:
    launch, steps = _kube_input(_decided(tmp_path, PYTORCH))
    assert steps.steps == [] and launch.build_steps == () and kube.build_manifests(launch) == []
    assert launch.server_argv[:4] == ("trtllm-serve", kube.MODEL_MOUNT, "--backend", "pytorch")
    assert launch.server_argv[-2:] == ("--extra_llm_api_options", "/build/launch/llm_api_options.yaml")
    assert launch.rank_argv == (MPI_WRAPPER, *launch.server_argv)
    assert_valid(kube.manifests(launch))


@pytest.mark.parametrize("backend", [ENGINE, PYTORCH], ids=["tensorrt", "pytorch"])
def test_one_node_of_a_7b_spec_becomes_a_deployment_running_the_server_alone(tmp_path: Path,
                                                                             backend: dict[str, Any]) -> None:
    launch, steps = _kube_input(_decided(tmp_path, ONE_NODE_7B, backend))
    assert (launch.nodes, launch.gpus_per_pod, launch.image) == (1, 2, "registry.example/trtllm:1.2.0-kubectl")
    assert launch.build_steps == ()  # build_job is off; the engine path still has its steps, for `trtdeploy build`
    assert bool(steps.steps) is (backend is ENGINE)
    assert launch.rank_argv == launch.server_argv and launch.server_argv[0] == "trtllm-serve"
    assert [doc["kind"] for doc in kube.manifests(launch)] == ["Deployment", "Service"]


@pytest.mark.parametrize("backend", [ENGINE, PYTORCH], ids=["tensorrt", "pytorch"])
def test_a_tokenizer_inside_the_model_folder_is_read_under_the_model_mount(tmp_path: Path,
                                                                           backend: dict[str, Any]) -> None:
    d = _decided(tmp_path, ONE_NODE_7B, backend, {"model": {"tokenizer": "/models/llama-7b-hf/tokenizer"}})
    launch, _ = _kube_input(d)
    assert launch.server_argv[launch.server_argv.index("--tokenizer") + 1] == "/model/tokenizer"
    command = make_plan(d).launch.argv  # what the pod runs, as plan.md shows it
    assert command[command.index("--tokenizer") + 1] == "/model/tokenizer"


@pytest.mark.parametrize(("backend", "files"), [
    (ENGINE, {"launch/kubernetes.yaml", "launch/kubernetes-build.yaml"}),
    (PYTORCH, {"launch/kubernetes.yaml", "launch/llm_api_options.yaml"}),
], ids=["tensorrt", "pytorch"])
def test_the_launch_carries_the_manifests_the_programs_files_and_their_aspects(
        tmp_path: Path, backend: dict[str, Any], files: set[str]) -> None:
    d = _decided(tmp_path, backend)
    plan = make_plan(d)
    launch, _ = _kube_input(d)
    assert dict(plan.launch.files) == {path: "text" for path in files}  # no rank script: the pods run the server
    assert list(yaml.safe_load_all(plan.launch.contents["launch/kubernetes.yaml"])) == kube.manifests(launch)
    job = plan.launch.contents.get("launch/kubernetes-build.yaml")
    assert (list(yaml.safe_load_all(job)) if job is not None else []) == kube.build_manifests(launch)
    assert {name: plan.launch.aspects[name] for name in kube.aspects(launch)} == kube.aspects(launch)
    assert plan.launch.script == "launch/kubernetes.yaml" and plan.launch.argv == kube.server_command(launch)
    assert plan.launch.rank_argv == launch.rank_argv and plan.launch.env_passthrough == ("HF_TOKEN",)


def test_the_build_job_on_the_pytorch_backend_says_there_is_nothing_to_build(tmp_path: Path) -> None:
    notes = {note.topic: note for note in _decided(tmp_path, PYTORCH).notes}
    assert notes["launch.kubernetes.build_job"].choice == "no Job: nothing to build"
    assert "launch.kubernetes.build_job" not in {note.topic for note in _decided(tmp_path, ENGINE).notes}


@pytest.mark.parametrize("backend", [ENGINE, PYTORCH], ids=["tensorrt", "pytorch"])
def test_the_gpu_note_is_the_pods_not_rank_sh_binding(tmp_path: Path, backend: dict[str, Any]) -> None:
    (note,) = [note for note in _decided(tmp_path, backend).notes if note.topic == "launch.gpu_binding"]
    assert note.choice == "each pod's own GPUs, as the device plugin gave them"
    assert "TRTDEPLOY_BIND_GPU" not in note.reason  # rank.sh's switch: the pods run no rank.sh


@pytest.mark.parametrize("kubernetes_section", [
    {"namespace": "LLM"}, {"labels": {"bad key": "x"}}, {"labels": {"team": "a b"}}, {"requests": {"cpu": "lots"}},
    {"secrets": {"HF_TOKEN": "hf-token"}}, {"secrets": {"1X": "s/k"}}, {"tolerations": ["gpu:Sometimes"]},
    {"image": "nvcr.io/x y"}, {"model": {"host_path": "relative/path"}}, {"replicas": -1}, {"replicas": "2"},
    {"service": {"type": "Ingress"}}, {"startup_timeout": 10}, {"shm_size": True}, {"imagee": "x"},
], ids=str)
def test_the_spec_refuses_what_kubernetes_would(kubernetes_section: dict[str, Any]) -> None:
    SpecFile.model_validate(_spec_data())
    with pytest.raises(ValidationError):
        SpecFile.model_validate(_spec_data({"launch": {"kubernetes": kubernetes_section}}))


# ---------------------------------------------------------------- what diff reads


@pytest.mark.parametrize(("change", "aspect"), [
    ({"image": "registry.example/trtllm:1.2.0-kubectl"}, "kubernetes.image"),
    ({"replicas": 3}, "kubernetes.replicas"),
    ({"requests": (("cpu", "64"),)}, "kubernetes.resources"),
    ({"startup_timeout_s": 3600}, "kubernetes.probes"),
    ({"service_type": "LoadBalancer"}, "kubernetes.service"),
    ({"node_selector": (("pool", "h100"),)}, "kubernetes.placement"),
], ids=lambda value: value if isinstance(value, str) else ",".join(value))
def test_a_manifest_only_change_moves_its_aspect_and_the_manifests_only(change: dict[str, Any], aspect: str) -> None:
    before = kube.aspects(llama_70b_tp8_pp2())
    after = kube.aspects(replace(llama_70b_tp8_pp2(), **change))
    assert {name for name in before if before[name] != after[name]} == {aspect, "kubernetes.manifests"}


def test_the_build_jobs_steps_are_not_a_launch_aspect() -> None:
    """Rebuilds are the planner's aspects; the Job only carries the steps."""
    launch = engine(llama_7b_tp2(), 2, 1)
    assert kube.aspects(launch) == kube.aspects(replace(launch, build_steps=launch.build_steps[:1]))


# ---------------------------------------------------------------- a program that starts its own workers


def _llm_api_program(d: Decided, *extra: Arg) -> RankProgram:
    """trtllm-serve as a PyTorch-backend program says it: the LLM API starts its own workers on one node, and
    trtllm-llmapi-launch wraps it when the ranks span nodes."""
    b = Argv()
    b.add(TOOL, "trtllm-serve", Var(MODEL_DIR))
    for flag, value in (("--backend", "pytorch"), ("--host", "0.0.0.0"), ("--port", "8000"),
                        ("--tp_size", str(d.topology.tp)), ("--pp_size", str(d.topology.pp))):
        b.opt(LAUNCH, flag, value)
    b.opt(LAUNCH, "--config", Var(BUILD_DIR, "/launch/llm_api_options.yaml"))
    b.add(LAUNCH, *extra)
    return RankProgram(b, "serve", "${MODEL_DIR}", (), spawns_workers=True, multinode_wrapper=(MPI_WRAPPER,),
                       files={"launch/llm_api_options.yaml": "max_batch_size: 8\n"}, port=8000, health_path="/health")


def _serving(launch: Launch) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(launch.contents["launch/kubernetes.yaml"]))


def test_on_one_node_the_pod_runs_the_server_itself_with_the_paths_it_sees(tmp_path: Path) -> None:
    d = _decided(tmp_path, ONE_NODE_7B)
    launch = kubernetes.launch(d, _llm_api_program(d), ())
    assert dict(launch.files) == {"launch/kubernetes.yaml": "text", "launch/llm_api_options.yaml": "text"}
    assert launch.contents["launch/llm_api_options.yaml"] == "max_batch_size: 8\n"
    docs = _serving(launch)
    assert_valid(docs)
    (container,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["trtllm-serve", "/model", "--backend", "pytorch", "--host", "0.0.0.0",
                                    "--port", "8000", "--tp_size", "2", "--pp_size", "1",
                                    "--config", "/build/launch/llm_api_options.yaml"]


def test_across_nodes_every_rank_runs_the_server_behind_its_wrapper_under_mpirun(tmp_path: Path) -> None:
    d = _decided(tmp_path)
    launch = kubernetes.launch(d, _llm_api_program(d), ())
    assert "launch/rank.sh" not in launch.files
    docs = _serving(launch)
    assert_valid(docs)
    command = one(docs, "LeaderWorkerSet")["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"][
        "containers"][0]["command"]
    assert command[2:5] == ["mpirun", "-n", "16"]
    assert command[command.index(MPI_WRAPPER):command.index(MPI_WRAPPER) + 3] == [MPI_WRAPPER, "trtllm-serve", "/model"]
    assert command[-2:] == ["--config", "/build/launch/llm_api_options.yaml"]


def test_a_program_that_does_not_serve_is_a_bug(tmp_path: Path) -> None:
    d = _decided(tmp_path)
    run = replace(_llm_api_program(d), spawns_workers=False, entrypoint="run")  # L112 refuses a smoke run first
    with pytest.raises(InconsistentLaunch, match="does not serve"):
        kubernetes.launch(d, run, ())


def test_a_served_word_with_no_place_in_the_pods_or_split_by_the_wrapper_is_a_bug(tmp_path: Path) -> None:
    d = _decided(tmp_path)
    with pytest.raises(InconsistentLaunch, match="has no path in the pods"):
        kubernetes.launch(d, _llm_api_program(d, "--examples", Var(EXAMPLES_DIR)), ())
    with pytest.raises(InconsistentLaunch, match="split the server's word"):
        kubernetes.launch(d, _llm_api_program(d, "--served_model_name", "llama 70b"), ())
