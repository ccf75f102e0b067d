"""Issue 13's "Done when", through the pipeline: `trtdeploy compile` of the shipped specs writes strictly valid
manifests; `diff` calls a manifests-only change a relaunch and names the aspects that moved; a launch that
contradicts its decided deployment stops compile as an internal error, never as a finding."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import compiler.backends.pytorch.steps as pytorch_steps
import compiler.backends.tensorrt.steps as engine_steps
from compiler.cli import cli, main
from compiler.launchers.kubernetes.readback import option
from compiler.plan.argv import Argv
from compiler.plan.steps import RankProgram
from launchers.kubeschema import assert_valid
from launchers.support import kinds, one

SPECS = Path(__file__).resolve().parents[2] / "specs"
LLAMA_70B = SPECS / "llama-2-70b-tp8-pp2-k8s.yaml"
LLAMA_7B = SPECS / "llama-7b-tp2-k8s.yaml"


def _compile(spec: Path, out: Path) -> Path:
    result = CliRunner().invoke(cli, ["compile", str(spec), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def _gpus(template: dict[str, Any]) -> list[str]:
    return [c["resources"]["limits"]["nvidia.com/gpu"] for c in template["spec"]["containers"]]


def test_llama_2_70b_tp8_pp2_on_two_nodes_is_a_valid_leader_worker_set_of_two_pods_of_eight_gpus(
        tmp_path: Path) -> None:
    """The engine path: the build Job builds the engine, every rank serves it under trtllm-llmapi-launch."""
    folder = _compile(LLAMA_70B, tmp_path / "build")
    assert sorted(path.name for path in (folder / "launch").iterdir()) == ["kubernetes-build.yaml", "kubernetes.yaml"]
    docs = _documents(folder / "launch" / "kubernetes.yaml")
    job = _documents(folder / "launch" / "kubernetes-build.yaml")
    assert_valid([*docs, *job])
    assert kinds(docs) == ["ConfigMap", "ServiceAccount", "Role", "RoleBinding", "LeaderWorkerSet", "Service"]
    group = one(docs, "LeaderWorkerSet")["spec"]["leaderWorkerTemplate"]
    assert group["size"] == 2
    assert _gpus(group["leaderTemplate"]) == ["8"] and _gpus(group["workerTemplate"]) == ["8"]
    leader = group["leaderTemplate"]["spec"]["containers"][0]
    plan = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    command = leader["command"]
    assert command[2:5] == ["mpirun", "-n", "16"]
    ranks = command[command.index("trtllm-llmapi-launch"):]
    assert ranks[:5] == ["trtllm-llmapi-launch", "trtllm-serve", plan["launch"]["engine_dir"], "--backend", "tensorrt"]
    assert option(ranks, "--tp_size") == "8" and option(ranks, "--pp_size") == "2"
    assert option(ranks, "--tokenizer") == "/model"
    assert leader["readinessProbe"]["httpGet"] == {"path": "/health_generate", "port": 8000}
    (builder,) = one(job, "Job")["spec"]["template"]["spec"]["containers"]
    assert builder["command"][2:] == [word for step in plan["steps"] for word in (step["script"], *step["outputs"])]
    assert plan["steps"][-1]["outputs"] == [plan["launch"]["engine_dir"]]  # the Job writes what the ranks serve
    assert _gpus(one(job, "Job")["spec"]["template"]) == ["8"]


def test_llama_7b_tp2_on_one_node_is_a_valid_deployment_with_two_gpus_and_a_readiness_probe(tmp_path: Path) -> None:
    """The PyTorch backend: nothing to build; the pod runs trtllm-serve on the model with the LLM-API YAML."""
    folder = _compile(LLAMA_7B, tmp_path / "build")
    assert sorted(path.name for path in (folder / "launch").iterdir()) == ["kubernetes.yaml", "llm_api_options.yaml"]
    assert not (folder / "steps").exists()
    docs = _documents(folder / "launch" / "kubernetes.yaml")
    assert_valid(docs)
    assert kinds(docs) == ["Deployment", "Service"]
    template = one(docs, "Deployment")["spec"]["template"]
    assert _gpus(template) == ["2"]
    (container,) = template["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/health_generate", "port": 8000}
    command = container["command"]
    assert command[:4] == ["trtllm-serve", "/model", "--backend", "pytorch"]  # one process: no mpirun, no wrapper
    assert option(command, "--tp_size") == "2" and option(command, "--pp_size") == "1"
    # The LLM-API YAML the server reads is the build folder's, which the pod mounts at /build.
    options = option(command, "--extra_llm_api_options")
    assert options == "/build/launch/llm_api_options.yaml"
    written = yaml.safe_load((folder / options.removeprefix("/build/")).read_text(encoding="utf-8"))
    assert written["max_batch_size"] == 16 and option(command, "--max_batch_size") == "16"
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["build"] == "/build" and mounts["model"] == "/model"


# ---------------------------------------------------------------- diff


@pytest.mark.parametrize(("edit", "aspect"), [
    ({"replicas": 3}, "kubernetes.replicas"),
    ({"image": "registry.example/trtllm:1.2.0-kubectl"}, "kubernetes.image"),
    ({"requests": {"cpu": 16, "memory": "64Gi"}}, "kubernetes.resources"),
    ({"startup_timeout": 3600}, "kubernetes.probes"),
], ids=["replicas", "image", "resources", "probes"])
def test_a_manifests_only_change_is_a_relaunch_that_names_its_aspect(tmp_path: Path, edit: dict[str, Any],
                                                                     aspect: str) -> None:
    old = tmp_path / "old.yaml"
    old.write_text(LLAMA_7B.read_text(encoding="utf-8"), encoding="utf-8")
    data = yaml.safe_load(old.read_text(encoding="utf-8"))
    data["launch"]["kubernetes"].update(edit)
    new = tmp_path / "new.yaml"
    new.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = CliRunner().invoke(cli, ["diff", "--format", "json", str(old), str(new)])
    assert result.exit_code == 0, result.output
    (spec,) = json.loads(result.output)["specs"]
    assert spec["impact"] == "relaunch"
    (launch,) = spec["steps"]
    assert launch["step"] == "launch" and launch["tool"] == "kubernetes"
    assert aspect in launch["aspects"] and "kubernetes.manifests" in launch["aspects"]
    assert not {"kubernetes.topology", "kubernetes.volumes", "upstream"} & set(launch["aspects"])


# ---------------------------------------------------------------- a contradiction is a bug


@pytest.mark.parametrize(("spec", "steps", "decided"), [
    (LLAMA_7B, pytorch_steps, "2"), (LLAMA_70B, engine_steps, "8"),
], ids=["pytorch", "tensorrt"])
def test_a_server_that_contradicts_the_decided_topology_stops_compile_as_an_internal_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], spec: Path,
        steps: ModuleType, decided: str) -> None:
    real = steps.rank_program

    def tp_one(*args: Any) -> RankProgram:
        """The backend's server with --tp_size 1: the planner bug the read-back exists for."""
        program = real(*args)
        assert option([str(a) for a in program.argv.argv], "--tp_size") == decided
        parts = [(aspect, "1" if previous == "--tp_size" else arg)
                 for (aspect, arg), (_, previous) in zip(program.argv.parts, [("", ""), *program.argv.parts])]
        return replace(program, argv=Argv(parts))

    monkeypatch.setattr(steps, "rank_program", tp_one)
    with pytest.raises(SystemExit) as exited:
        main(["compile", str(spec), "-o", str(tmp_path / "build")])
    assert exited.value.code == 3
    err = capsys.readouterr().err
    assert "internal error: InconsistentLaunch" in err
    assert f"--tp_size 1, but the deployment is decided with {decided}" in err
    assert not (tmp_path / "build").exists()
