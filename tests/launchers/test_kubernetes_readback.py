"""The plan-time read-back of launcher kubernetes: what the server's argv and the manifests hold, against the
decided topology. Each check fails on its problem; a launch that trips one is a bug, raised, never a finding."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from compiler.launchers.kubernetes import manifests as kube
from compiler.launchers.kubernetes.readback import (
    MPI_WRAPPER,
    InconsistentLaunch,
    assert_consistent,
    command_problems,
    manifest_problems,
    server_problems,
)
from launchers.support import engine, llama_7b_tp2, llama_70b_tp8_pp2, one, serve_argv, topology

LWS = llama_70b_tp8_pp2()
LWS_TOPOLOGY = topology(LWS, 8, 2)
DEPLOYMENT = llama_7b_tp2()
DEPLOYMENT_TOPOLOGY = topology(DEPLOYMENT, 2, 1)


# ---------------------------------------------------------------- the server's argv


@pytest.mark.parametrize(("argv", "expected"), [
    (serve_argv(8, 1), "--pp_size 1, but the deployment is decided with 2"),
    (serve_argv(4, 2), "--tp_size 4, but the deployment is decided with 8"),
    (tuple(w for w in serve_argv(8, 2) if w not in ("--tp_size", "8")), "--tp_size 1"),  # llm-d #1101
], ids=["pp", "tp", "tp missing"])
def test_the_servers_tp_and_pp_are_the_decided_ones(argv: tuple[str, ...], expected: str) -> None:
    (problem,) = server_problems(llama_70b_tp8_pp2(server_argv=argv), LWS_TOPOLOGY)
    assert expected in problem


def test_the_flag_equals_form_is_read_too() -> None:
    argv = ("trtllm-serve", "/model", "--tp_size=8", "--pp_size=2", "--host=0.0.0.0", "--port=8000")
    assert not server_problems(llama_70b_tp8_pp2(server_argv=argv), LWS_TOPOLOGY)
    assert server_problems(llama_70b_tp8_pp2(server_argv=(*argv, "--pp_size=1")), LWS_TOPOLOGY)


def test_the_server_listens_where_the_probes_look() -> None:
    (problem,) = server_problems(llama_7b_tp2(server_argv=serve_argv(2, 1, port=9000)), DEPLOYMENT_TOPOLOGY)
    assert "listens on 9000" in problem
    without_port = tuple(w for w in serve_argv(2, 1) if w not in ("--port", "8000"))
    assert not server_problems(llama_7b_tp2(server_argv=without_port), DEPLOYMENT_TOPOLOGY)  # the default is 8000
    assert server_problems(llama_7b_tp2(server_argv=without_port, port=8080), DEPLOYMENT_TOPOLOGY)
    local = tuple("127.0.0.1" if w == "0.0.0.0" else w for w in serve_argv(2, 1))
    (problem,) = server_problems(llama_7b_tp2(server_argv=local), DEPLOYMENT_TOPOLOGY)
    assert "binds 127.0.0.1" in problem


@pytest.mark.parametrize("argv", [
    ("python3", "/app/tensorrt_llm/examples/run.py", "--engine_dir", "store/build-x"),  # a smoke run exits
    (MPI_WRAPPER, *serve_argv(2, 1)),  # the wrapper is the launcher's to add, across nodes only
    ("mpirun", "-n", "2", *serve_argv(2, 1)),  # on one node the LLM API starts the workers: two servers
], ids=["run.py", "wrapped", "mpirun"])
def test_the_server_is_trtllm_serve_itself(argv: tuple[str, ...]) -> None:
    (problem,) = server_problems(llama_7b_tp2(server_argv=argv), DEPLOYMENT_TOPOLOGY)
    assert "would not run trtllm-serve as the server" in problem


def test_the_engine_servers_argv_is_checked_like_the_pytorch_ones() -> None:
    assert not server_problems(engine(LWS, 8, 2), LWS_TOPOLOGY)
    assert len(server_problems(engine(LWS, 8, 2), replace(LWS_TOPOLOGY, tp=16, pp=1))) == 2
    assert not server_problems(engine(DEPLOYMENT, 2, 1), DEPLOYMENT_TOPOLOGY)


def test_words_that_pass_through_trtllm_llmapi_launch_must_arrive_whole() -> None:
    spaced = serve_argv(8, 2, model="/model/Llama 2 70B")
    (problem,) = server_problems(llama_70b_tp8_pp2(server_argv=spaced), LWS_TOPOLOGY)
    assert "split the server's word '/model/Llama 2 70B'" in problem
    # One node: the server runs itself, no wrapper re-splits its words.
    assert not server_problems(llama_7b_tp2(server_argv=serve_argv(2, 1, model="/model/Llama 2 7B")),
                               DEPLOYMENT_TOPOLOGY)
    for launch, t in ((engine(LWS, 8, 2), LWS_TOPOLOGY), (engine(DEPLOYMENT, 2, 1), DEPLOYMENT_TOPOLOGY)):
        globbed = tuple("/model/llama*" if word == kube.MODEL_MOUNT else word for word in launch.server_argv)
        assert bool(server_problems(replace(launch, server_argv=globbed), t)) is launch.multi_node


# ---------------------------------------------------------------- what the containers run, read back


BOTH = {"pytorch": (LWS, DEPLOYMENT), "tensorrt": (engine(LWS, 8, 2), engine(DEPLOYMENT, 2, 1))}


@pytest.mark.parametrize("backend", BOTH)
def test_the_emitted_commands_run_the_server_as_the_topology_needs(backend: str) -> None:
    group, single = BOTH[backend]
    assert not command_problems(group, LWS_TOPOLOGY, kube.manifests(group))
    assert not command_problems(single, DEPLOYMENT_TOPOLOGY, kube.manifests(single))


def _leader(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(docs, "LeaderWorkerSet")["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["containers"][0]


def _drop_wrapper(docs: list[dict[str, Any]]) -> None:
    _leader(docs)["command"].remove(MPI_WRAPPER)


def _set_leader_env(name: str, value: str) -> Callable[[list[dict[str, Any]]], None]:
    def edit(docs: list[dict[str, Any]]) -> None:
        (var,) = [v for v in _leader(docs)["env"] if v["name"] == name]
        var["value"] = value
    return edit


@pytest.mark.parametrize("backend", BOTH)
@pytest.mark.parametrize(("edit", "expected"), [
    (lambda docs: _leader(docs)["command"].__setitem__(4, "8"), "mpirun does not start 16 ranks"),
    (_drop_wrapper, "do not run the server behind trtllm-llmapi-launch"),
    (_set_leader_env("TRTDEPLOY_SLOTS", "4"), "TRTDEPLOY_SLOTS is 4, not 8"),
    (_set_leader_env("TRTDEPLOY_GROUP_SIZE", "4"), "TRTDEPLOY_GROUP_SIZE is 4, not 2"),
], ids=["ranks", "wrapper", "slots", "group size"])
def test_a_group_that_would_not_make_the_decided_world_is_caught(
        backend: str, edit: Callable[[list[dict[str, Any]]], None], expected: str) -> None:
    group, _ = BOTH[backend]
    docs = copy.deepcopy(kube.manifests(group))
    edit(docs)
    problems = command_problems(group, LWS_TOPOLOGY, docs)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("backend", BOTH)
def test_a_pod_that_would_start_more_than_the_one_server_is_caught(backend: str) -> None:
    _, single = BOTH[backend]
    docs = copy.deepcopy(kube.manifests(single))
    container = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    container["command"] = ["mpirun", "-n", "2", *container["command"]]
    (problem,) = command_problems(single, DEPLOYMENT_TOPOLOGY, docs)
    assert "runs mpirun -n 2 trtllm-serve" in problem and "not the server alone" in problem


def test_a_dollar_in_a_word_is_read_as_the_kubelet_hands_it_over() -> None:
    """The manifests double each $ for the kubelet; the read-back undoes that before comparing."""
    launch = llama_70b_tp8_pp2(server_argv=(*serve_argv(8, 2), "--served_model_name", "a$(HF_TOKEN)b"))
    assert "a$$(HF_TOKEN)b" in _leader(kube.manifests(launch))["command"]
    assert not command_problems(launch, LWS_TOPOLOGY, kube.manifests(launch))


# ---------------------------------------------------------------- the manifests, read back


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda g: g.update(size=3), "asks for 24 GPUs"),
    (lambda g: g["workerTemplate"]["spec"]["containers"][0]["resources"]["limits"].update(
        {"nvidia.com/gpu": "0.5"}), "not a whole number of GPUs"),  # production-stack #1047
    (lambda g: g["workerTemplate"]["spec"]["containers"][0]["resources"]["limits"].update(
        {"nvidia.com/gpu": "16"}), "a pod asks for 16 GPUs; a node has 8"),
    (lambda g: g["leaderTemplate"]["spec"]["containers"][0]["readinessProbe"]["httpGet"].update(port=9000),
     "readinessProbe targets port 9000"),
], ids=["group size", "half a GPU", "more than a node", "probe port"])
def test_tampered_manifests_are_caught(edit: Callable[[dict[str, Any]], None], expected: str) -> None:
    docs = kube.manifests(LWS)
    assert not manifest_problems(LWS, LWS_TOPOLOGY, docs)
    tampered = copy.deepcopy(docs)
    edit(one(tampered, "LeaderWorkerSet")["spec"]["leaderWorkerTemplate"])
    problems = manifest_problems(LWS, LWS_TOPOLOGY, tampered)
    assert any(expected in p for p in problems), problems


def test_a_probe_on_a_named_port_is_resolved() -> None:
    docs = copy.deepcopy(kube.manifests(DEPLOYMENT))
    container = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    container["livenessProbe"]["httpGet"]["port"] = "http"
    assert not manifest_problems(DEPLOYMENT, DEPLOYMENT_TOPOLOGY, docs)
    container["ports"][0]["containerPort"] = 9000
    assert manifest_problems(DEPLOYMENT, DEPLOYMENT_TOPOLOGY, docs)


def test_a_deployment_with_the_wrong_gpu_count_is_caught() -> None:
    docs = kube.manifests(replace(DEPLOYMENT, gpus_per_pod=1))
    assert any("asks for 1 GPUs" in p for p in manifest_problems(DEPLOYMENT, DEPLOYMENT_TOPOLOGY, docs))


def test_a_contradiction_is_raised_as_a_bug_with_every_problem() -> None:
    assert_consistent(LWS, LWS_TOPOLOGY, kube.manifests(LWS))
    broken = llama_70b_tp8_pp2(server_argv=serve_argv(4, 1, port=9000))
    with pytest.raises(InconsistentLaunch, match="a bug in trtdeploy") as raised:
        assert_consistent(broken, LWS_TOPOLOGY, kube.manifests(broken))
    assert all(part in str(raised.value) for part in ("--tp_size 4", "--pp_size 1", "listens on 9000"))
