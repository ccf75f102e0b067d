"""From a spec's launch.kubernetes to the launcher's input, and the aspects diff reads: a manifest-only change is a relaunch."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from compiler.launchers import kubernetes as kube
from compiler.launchers.kubernetes import Backend, BuildStep, SecretEnv, Toleration, Volume
from compiler.load import deep_merge
from compiler.spec import SpecFile
from launchers.kubeschema import assert_valid
from launchers.support import engine, llama_7b_tp2, llama_70b_tp8_pp2, one, serve_argv

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


def _spec(*overrides: dict[str, Any]) -> SpecFile:
    data = LLAMA_70B
    for override in overrides:
        data = deep_merge(data, override)
    return SpecFile.model_validate(data)


def _from(spec: SpecFile, **kwargs: Any) -> kube.KubeLaunch:
    args: dict[str, Any] = {"name": spec.name, "release_version": spec.target.tensorrt_llm, "backend": Backend.PYTORCH,
                            "server_argv": serve_argv(spec.parallelism.tp, spec.parallelism.pp)}
    return kube.from_spec(spec, **{**args, **kwargs})


def test_the_70b_spec_becomes_the_group_of_two_pods_of_eight_gpus() -> None:
    launch = _from(_spec(), build_steps=[BuildStep("steps/01-convert.sh", "store/convert-x")])
    assert (launch.nodes, launch.gpus_per_pod, launch.world_size) == (2, 8, 16)
    assert launch.image == "nvcr.io/nvidia/tensorrt-llm/release:1.2.0" and launch.image_is_default
    assert launch.model == Volume(claim="models", sub_path="Llama-2-70b-hf")
    assert launch.secrets == (SecretEnv("HF_TOKEN", "hf-token", "token"),)
    assert launch.requests == (("cpu", "32"), ("memory", "400Gi"))
    assert launch.tolerations == (Toleration("nvidia.com/gpu", None, "NoSchedule"), Toleration("dedicated", "llm"))
    assert launch.build_steps == (BuildStep("steps/01-convert.sh", "store/convert-x"),)
    assert launch.build_gpus == 8
    problems = kube.check(launch, "1.2.0")
    assert [p.key for p in problems] == ["launch.kubernetes.image"]  # the stock image may lack kubectl: a warning
    docs = [*kube.manifests(launch), *kube.build_manifests(launch)]
    assert_valid(docs)
    assert one(docs, "LeaderWorkerSet")["spec"]["leaderWorkerTemplate"]["size"] == 2


def test_one_node_of_a_7b_spec_becomes_a_deployment() -> None:
    spec = _spec({"parallelism": {"tp": 2, "pp": 1}, "target": {"nodes": 1},
                  "launch": {"kubernetes": {"image": "registry.example/trtllm:1.2.0-kubectl", "build_job": False}}})
    launch = _from(spec)
    assert (launch.nodes, launch.gpus_per_pod, launch.image_is_default) == (1, 2, False)
    assert launch.build_steps == ()
    assert not kube.check(launch, "1.2.0")
    assert [doc["kind"] for doc in kube.manifests(launch)] == ["Deployment", "Service"]


def test_layouts_that_do_not_split_are_reported_not_rounded_away() -> None:
    launch = _from(_spec({"parallelism": {"tp": 3, "pp": 1}}), server_argv=serve_argv(3, 1))
    assert launch.gpus_per_pod == 2
    assert "target.nodes" in [p.key for p in kube.check(launch, "1.2.0")]


@pytest.mark.parametrize("release", ["1.2", "0.16.0"])
def test_no_default_image_without_a_pinned_tag(release: str) -> None:
    launch = _from(_spec({"target": {"tensorrt_llm": release}}), release_version=release)
    assert launch.image is None and not launch.image_is_default
    assert "launch.kubernetes.image" in [p.key for p in kube.check(launch, release)]


@pytest.mark.parametrize("kubernetes", [
    {"namespace": "LLM"}, {"labels": {"bad key": "x"}}, {"labels": {"team": "a b"}}, {"requests": {"cpu": "lots"}},
    {"secrets": {"HF_TOKEN": "hf-token"}}, {"secrets": {"1X": "s/k"}}, {"tolerations": ["gpu:Sometimes"]},
    {"image": "nvcr.io/x y"}, {"model": {"host_path": "relative/path"}}, {"replicas": -1}, {"replicas": "2"},
    {"service": {"type": "Ingress"}}, {"startup_timeout": 10}, {"shm_size": True}, {"imagee": "x"},
], ids=str)
def test_the_spec_refuses_what_kubernetes_would(kubernetes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _spec({"launch": {"kubernetes": kubernetes}})


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
    launch = engine(llama_7b_tp2())
    assert kube.aspects(launch) == kube.aspects(replace(launch, build_steps=launch.build_steps[:1]))
