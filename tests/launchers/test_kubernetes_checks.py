"""The consistency checks of launcher kubernetes: each fires on its problem, with the key to report it at."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from compiler.findings import Severity
from compiler.launchers import kubernetes as kube
from compiler.launchers.kubernetes import KubeLaunch, Problem, SecretEnv, Volume
from launchers.support import engine, llama_7b_tp2, llama_70b_tp8_pp2, one, serve_argv


def _keys(problems: list[Problem]) -> list[str]:
    return [p.key for p in problems]


def _errors(launch: KubeLaunch, release: str = "1.2.0") -> list[Problem]:
    return [p for p in kube.check(launch, release) if p.severity is Severity.ERROR]


# ---------------------------------------------------------------- topology


def test_world_size_must_be_pods_times_gpus_per_pod() -> None:
    launch = llama_70b_tp8_pp2(gpus_per_pod=4)  # 2 pods x 4 GPUs = 8 ranks for tp 8 x pp 2 = 16
    (problem,) = _errors(launch)
    assert problem.key == "target.nodes" and "2 pods x 4 GPUs = 8 ranks" in problem.message


def test_gpus_must_split_whole_over_the_pods() -> None:
    launch = llama_70b_tp8_pp2(tp=3, pp=1, server_argv=serve_argv(3, 1))  # 3 GPUs over 2 pods
    assert "target.nodes" in _keys(_errors(launch))
    assert "whole GPUs" in _errors(launch)[0].message


def test_a_pod_fits_on_a_node() -> None:
    launch = llama_70b_tp8_pp2(nodes=1, gpus_per_pod=16)
    problems = _errors(launch)
    assert _keys(problems) == ["target.gpus_per_node"]
    assert "use target.nodes: 2 or more" == problems[0].hint


# ---------------------------------------------------------------- the server agrees with the spec


@pytest.mark.parametrize(("argv", "key"), [
    (serve_argv(8, 1), "parallelism.pp"),
    (serve_argv(4, 2), "parallelism.tp"),
    (tuple(w for w in serve_argv(8, 2) if w not in ("--tp_size", "8")), "parallelism.tp"),  # llm-d #1101
], ids=["pp", "tp", "tp missing"])
def test_the_servers_tp_and_pp_are_the_specs(argv: tuple[str, ...], key: str) -> None:
    assert _keys(_errors(llama_70b_tp8_pp2(server_argv=argv))) == [key]


def test_the_flag_equals_form_is_read_too() -> None:
    argv = ("trtllm-serve", "/model", "--tp_size=8", "--pp_size=2", "--host=0.0.0.0", "--port=8000")
    assert not _errors(llama_70b_tp8_pp2(server_argv=argv))
    assert _keys(_errors(llama_70b_tp8_pp2(server_argv=(*argv, "--pp_size=1")))) == ["parallelism.pp"]


def test_probes_use_the_port_the_server_listens_on() -> None:
    assert _keys(_errors(llama_7b_tp2(server_argv=serve_argv(2, 1, port=9000)))) == ["launch.serve.port"]
    without_port = tuple(w for w in serve_argv(2, 1) if w not in ("--port", "8000"))
    assert not _errors(llama_7b_tp2(server_argv=without_port))  # trtllm-serve's default is 8000
    assert _keys(_errors(llama_7b_tp2(server_argv=without_port, port=8080))) == ["launch.serve.port"]


def test_the_server_listens_on_every_interface() -> None:
    argv = tuple("127.0.0.1" if w == "0.0.0.0" else w for w in serve_argv(2, 1))
    assert _keys(_errors(llama_7b_tp2(server_argv=argv))) == ["launch.serve.host"]


def test_kubernetes_serves_and_does_not_run_a_smoke_generation() -> None:
    argv = ("python3", "/app/tensorrt_llm/examples/run.py", "--engine_dir", "store/build-x")
    assert _keys(_errors(llama_7b_tp2(server_argv=argv))) == ["launch.entrypoint"]


def test_the_engine_servers_argv_is_checked_through_its_wrapper() -> None:
    assert not _errors(engine(llama_70b_tp8_pp2()))
    broken = replace(engine(llama_70b_tp8_pp2()), tp=16, pp=1)  # the engine's server still says tp 8, pp 2
    assert _keys(_errors(broken)) == ["parallelism.tp", "parallelism.pp"]


def test_words_must_survive_trtllm_llmapi_launch() -> None:
    argv = serve_argv(8, 2, model="/model/Llama 2 70B")
    assert _keys(_errors(llama_70b_tp8_pp2(server_argv=argv))) == ["launch.kubernetes"]
    assert not _errors(llama_7b_tp2(server_argv=serve_argv(2, 1, model="/model/Llama 2 7B")))  # no wrapper on one node
    wrapped = engine(llama_7b_tp2())
    globbed = tuple("/model/llama-7b*" if word == kube.MODEL_MOUNT else word for word in wrapped.server_argv)
    assert _keys(_errors(replace(wrapped, server_argv=globbed))) == ["launch.kubernetes"]


# ---------------------------------------------------------------- volumes, image, names, environment


def test_both_volumes_are_required_and_each_names_one_source() -> None:
    assert _keys(_errors(llama_7b_tp2(model=None))) == ["launch.kubernetes.model"]
    assert _keys(_errors(llama_7b_tp2(build_dir=Volume()))) == ["launch.kubernetes.build_dir"]
    both = Volume(claim="models", host_path="/models")
    assert "both" in _errors(llama_7b_tp2(model=both))[0].message
    climbing = Volume(claim="models", sub_path="a/../../etc")
    assert _keys(_errors(llama_7b_tp2(model=climbing))) == ["launch.kubernetes.model.sub_path"]


def test_a_host_path_over_several_nodes_is_a_warning() -> None:
    problems = kube.check(llama_70b_tp8_pp2(model=Volume(host_path="/models/llama")), "1.2.0")
    assert [(p.key, p.severity) for p in problems] == [("launch.kubernetes", Severity.WARNING)]


def test_the_default_image_is_the_releases_ngc_container() -> None:
    assert kube.release_image("1.2.0").image == "nvcr.io/nvidia/tensorrt-llm/release:1.2.0"
    assert kube.release_image("1.0.0rc4").image == "nvcr.io/nvidia/tensorrt-llm/release:1.0.0rc4"
    assert kube.release_image("1.2").image is None  # a line, not a tag
    assert kube.release_image("0.16.0").image is None  # no 0.x tag is pinned from a source
    assert kube.release_image("0.11.0").image is None


def test_no_image_is_an_error_that_says_what_to_write() -> None:
    (problem,) = _errors(llama_7b_tp2(image=None), "0.16.0")
    assert problem.key == "launch.kubernetes.image" and "0.8" not in problem.message and "0.12-0.x" in problem.message
    (problem,) = _errors(llama_7b_tp2(image=None), "1.2.0")
    assert problem.hint == "set launch.kubernetes.image: nvcr.io/nvidia/tensorrt-llm/release:1.2.0"


def test_the_default_image_on_several_nodes_warns_about_kubectl() -> None:
    problems = kube.check(llama_70b_tp8_pp2(image_is_default=True), "1.2.0")
    assert [(p.key, p.severity) for p in problems] == [("launch.kubernetes.image", Severity.WARNING)]
    assert not kube.check(llama_7b_tp2(image_is_default=True), "1.2.0")


@pytest.mark.parametrize("name", ["7b-llama", "llama.7b", "llama_7b", "Llama", "x" * 58])
def test_names_must_be_able_to_name_the_objects(name: str) -> None:
    assert _keys(_errors(llama_7b_tp2(name=name))) == ["name"]


def test_names_leave_room_for_their_suffixes_and_a_groups_statefulset_revision_label() -> None:
    assert not _errors(llama_7b_tp2(name="x" * 56))  # x...-launch is 63 characters
    assert _keys(_errors(llama_7b_tp2(name="x" * 57))) == ["name"]
    # <name>-<group> names a worker StatefulSet: at most 52 characters, for <statefulset>-<10-character hash>.
    assert not _errors(llama_70b_tp8_pp2(name="x" * 50))
    assert _keys(_errors(llama_70b_tp8_pp2(name="x" * 51))) == ["name"]
    assert _keys(_errors(llama_70b_tp8_pp2(name="x" * 50, replicas=11))) == ["name"]  # group 10: two digits


def test_trtdeploys_own_labels_are_not_overridden() -> None:
    launch = llama_7b_tp2(labels=(("app.kubernetes.io/name", "other"),))
    assert _keys(_errors(launch)) == ["launch.kubernetes.labels"]


def test_launch_env_names_need_a_secret_on_kubernetes() -> None:
    problems = kube.check(llama_7b_tp2(env_passthrough=("HF_TOKEN", "WANDB_KEY"),
                                       secrets=(SecretEnv("HF_TOKEN", "hf", "token"),)), "1.2.0")
    assert [(p.key, p.severity) for p in problems] == [("launch.env", Severity.WARNING)]
    assert "WANDB_KEY" in problems[0].message and "HF_TOKEN" not in problems[0].message


# ---------------------------------------------------------------- the emitted manifests, read back


def test_tampered_manifests_are_caught() -> None:
    launch = llama_70b_tp8_pp2()
    docs = kube.manifests(launch)
    group = one(docs, "LeaderWorkerSet")["spec"]["leaderWorkerTemplate"]
    for edit, expected in (
        (lambda g: g.update(size=3), "asks for 24 GPUs"),
        (lambda g: g["workerTemplate"]["spec"]["containers"][0]["resources"]["limits"].update(
            {"nvidia.com/gpu": "0.5"}), "not a whole number of GPUs"),  # production-stack #1047
        (lambda g: g["leaderTemplate"]["spec"]["containers"][0]["readinessProbe"]["httpGet"].update(port=9000),
         "readinessProbe targets port 9000"),
    ):
        tampered = copy.deepcopy(docs)
        edit(one(tampered, "LeaderWorkerSet")["spec"]["leaderWorkerTemplate"])
        problems = kube.check_manifests(launch, tampered)
        assert any(expected in p for p in problems), problems
    assert group["size"] == 2  # the deep copies left the original alone


def test_a_probe_on_a_named_port_is_resolved() -> None:
    launch = llama_7b_tp2()
    docs = copy.deepcopy(kube.manifests(launch))
    container = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    container["livenessProbe"]["httpGet"]["port"] = "http"
    assert not kube.check_manifests(launch, docs)
    container["ports"][0]["containerPort"] = 9000
    assert kube.check_manifests(launch, docs)


def test_a_deployment_with_the_wrong_gpu_count_is_caught() -> None:
    launch = llama_7b_tp2()
    docs = kube.manifests(replace(launch, gpus_per_pod=1))
    assert any("asks for 1 GPUs" in p for p in kube.check_manifests(launch, docs))
