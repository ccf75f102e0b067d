"""Issue 13's "Done when", through the pipeline: `trtdeploy compile` of the shipped specs writes strictly valid
manifests; `diff` calls a manifests-only change a relaunch and names the aspects that moved; a launch that
contradicts its decided deployment stops compile as an internal error, never as a finding."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import compiler.backends.tensorrt.steps as engine_steps
from compiler.cli import cli, main
from compiler.decide.model import Decided
from compiler.launchers.kubernetes.readback import option
from compiler.plan.argv import Argv
from compiler.plan.model import Step
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
    folder = _compile(LLAMA_70B, tmp_path / "build")
    docs = _documents(folder / "launch" / "kubernetes.yaml")
    job = _documents(folder / "launch" / "kubernetes-build.yaml")
    assert_valid([*docs, *job])
    assert kinds(docs) == ["ConfigMap", "ServiceAccount", "Role", "RoleBinding", "LeaderWorkerSet", "Service"]
    group = one(docs, "LeaderWorkerSet")["spec"]["leaderWorkerTemplate"]
    assert group["size"] == 2
    assert _gpus(group["leaderTemplate"]) == ["8"] and _gpus(group["workerTemplate"]) == ["8"]
    leader = group["leaderTemplate"]["spec"]["containers"][0]
    assert leader["command"][2:5] == ["mpirun", "-n", "16"] and leader["command"][-2:] == ["bash", "launch/rank.sh"]
    assert leader["readinessProbe"]["httpGet"] == {"path": "/health_generate", "port": 8000}
    rank = (folder / "launch" / "rank.sh").read_text(encoding="utf-8")
    assert "--tp_size 8" in rank and "--pp_size 2" in rank
    plan = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    (builder,) = one(job, "Job")["spec"]["template"]["spec"]["containers"]
    assert builder["command"][2:] == [word for step in plan["steps"] for word in (step["script"], *step["outputs"])]


def test_llama_7b_tp2_on_one_node_is_a_valid_deployment_with_two_gpus_and_a_readiness_probe(tmp_path: Path) -> None:
    folder = _compile(LLAMA_7B, tmp_path / "build")
    assert sorted(path.name for path in (folder / "launch").iterdir()) == ["kubernetes.yaml", "rank.sh"]
    docs = _documents(folder / "launch" / "kubernetes.yaml")
    assert_valid(docs)
    assert kinds(docs) == ["Deployment", "Service"]
    template = one(docs, "Deployment")["spec"]["template"]
    assert _gpus(template) == ["2"]
    (container,) = template["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/health_generate", "port": 8000}
    assert container["command"] == ["mpirun", "-n", "2", "--allow-run-as-root", "-x", "TRTDEPLOY_MODEL_DIR",
                                    "bash", "launch/rank.sh"]


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


def test_a_server_that_contradicts_the_decided_topology_stops_compile_as_an_internal_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    real = engine_steps.rank_program

    def tp_one(d: Decided, engine: Step) -> RankProgram:
        """The engine's server with --tp_size 1: the planner bug the read-back exists for."""
        program = real(d, engine)
        assert option([str(a) for a in program.argv.argv], "--tp_size") == "2"
        parts = [(aspect, "1" if previous == "--tp_size" else arg)
                 for (aspect, arg), (_, previous) in zip(program.argv.parts, [("", ""), *program.argv.parts])]
        return replace(program, argv=Argv(parts))

    monkeypatch.setattr(engine_steps, "rank_program", tp_one)
    with pytest.raises(SystemExit) as exited:
        main(["compile", str(LLAMA_7B), "-o", str(tmp_path / "build")])
    assert exited.value.code == 3
    err = capsys.readouterr().err
    assert "internal error: InconsistentLaunch" in err and "--tp_size 1, but the deployment is decided with 2" in err
    assert not (tmp_path / "build").exists()
