"""The group and build scripts, run for real with bash; values from the manifests to the exec'd program, intact.

A pod is played by this machine: the container's command and environment are taken from the
manifest, expanded the way the kubelet expands them (support.kubelet_expand), and run with bash;
kubectl and mpirun are stand-ins that record what they were asked to do.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from compiler.launchers.kubernetes import manifests as kube
from compiler.launchers.kubernetes.manifests import BuildStep, KubeLaunch, SecretEnv
from launchers.support import (
    FAKE_KUBECTL,
    PRINT_MPIRUN,
    base_env,
    container_env,
    engine,
    kubelet_expand,
    llama_7b_tp2,
    llama_70b_tp8_pp2,
    one,
    run,
    serve_argv,
    shim,
)
from render.support import bash_syntax, shellcheck

SCRIPTS = sorted(kube.SCRIPTS_DIR.glob("*.sh"))
SECRET = "hf_secret_value_never_written"
HOSTILE = [
    "$(HF_TOKEN)", "$(TRTDEPLOY_MODEL_DIR)", "$$(HF_TOKEN)", "$(", "$", "a$", "${HOME}", "`id`", "; rm -rf ~",
    "x' \"y\" \\", "one\ntwo", "--output=$(touch pwned)", "模型 🦙", "$(NO_SUCH_VAR)", "$$$", "$()",
]


def test_the_scripts_pass_bash_n_and_shellcheck() -> None:
    assert {path.name for path in SCRIPTS} == {"build.sh", "kubectl-exec.sh", "leader.sh", "worker.sh"}
    for path in SCRIPTS:
        assert bash_syntax(path).returncode == 0, path
    result = shellcheck(SCRIPTS)
    assert result.returncode == 0, result.stdout


# ---------------------------------------------------------------- the kubelet's $(VAR) expansion


@pytest.mark.parametrize("text", HOSTILE)
def test_every_value_reaches_the_container_as_written(text: str) -> None:
    env = {"HF_TOKEN": SECRET, "TRTDEPLOY_MODEL_DIR": "/model", "HOME": "/root"}
    assert kubelet_expand(kube.kubelet_literal(text), env) == text


def test_the_expansion_port_expands_what_the_kubelet_expands() -> None:
    """Without the escaping, the kubelet would hand over the Secret's value and eat a $: what is guarded against."""
    env = {"HF_TOKEN": SECRET}
    assert kubelet_expand("--key=$(HF_TOKEN)", env) == "--key=" + SECRET
    assert kubelet_expand("$$(HF_TOKEN) $(NOPE) $( $x a$", env) == "$(HF_TOKEN) $(NOPE) $( $x a$"


# ---------------------------------------------------------------- the leader, as a pod


def _pod(tmp_path: Path, launch: KubeLaunch) -> dict[str, Any]:
    """The leader container of `launch`, its scripts written out, stand-ins for kubectl and mpirun on PATH."""
    docs = kube.manifests(launch)
    scripts = tmp_path / "etc-trtdeploy"
    scripts.mkdir()
    for name, text in one(docs, "ConfigMap")["data"].items():
        (scripts / name).write_text(text, encoding="utf-8")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim(bin_dir / "kubectl", FAKE_KUBECTL)
    shim(bin_dir / "mpirun", PRINT_MPIRUN)
    group = one(docs, "LeaderWorkerSet")["spec"]["leaderWorkerTemplate"]
    container = group["leaderTemplate"]["spec"]["containers"][0]
    env = container_env(container, {"hf-token/token": SECRET})
    argv = [kubelet_expand(word, env) for word in container["command"]]
    argv[1] = argv[1].replace(kube.SCRIPTS_MOUNT, str(scripts))  # bash /etc/trtdeploy/leader.sh, here
    env.update(TRTDEPLOY_HOSTFILE=str(tmp_path / "hostfile"), KUBECTL_LOG=str(tmp_path / "kubectl.log"),
               KUBECTL_STARTING=str(tmp_path / "starting.json"), LWS_GROUP_SIZE=str(group["size"]),
               LWS_LEADER_ADDRESS=f"{launch.name}-0.{launch.name}.{launch.namespace}", HOSTNAME=f"{launch.name}-0")
    return {"argv": argv, "env": base_env(bin_dir, **env), "cwd": tmp_path, "log": tmp_path / "kubectl.log",
            "starting": tmp_path / "starting.json"}


def _kubectl_calls(pod: dict[str, Any]) -> list[list[str]]:
    return [json.loads(line) for line in pod["log"].read_text(encoding="utf-8").splitlines()]


def test_the_leader_lists_the_group_waits_for_each_worker_then_runs_mpirun_as_written(tmp_path: Path) -> None:
    launch = llama_70b_tp8_pp2(nodes=4, gpus_per_pod=4)
    pod = _pod(tmp_path, launch)
    pod["starting"].write_text(json.dumps({"llama-2-70b-0-2": 1}), encoding="utf-8")  # one worker is slow
    result = run(pod["argv"], pod["env"], pod["cwd"])
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["argv"] == list(kube.mpirun_argv(launch))[1:]  # after the program's own name
    assert printed["hostfile"] == ("llama-2-70b-0 slots=4\nllama-2-70b-0-1 slots=4\n"
                                   "llama-2-70b-0-2 slots=4\nllama-2-70b-0-3 slots=4\n")
    exec_probe = ["-c", "worker", "--", "true"]
    assert _kubectl_calls(pod) == [["exec", "llama-2-70b-0-1", *exec_probe], ["exec", "llama-2-70b-0-2", *exec_probe],
                                   ["exec", "llama-2-70b-0-2", *exec_probe], ["exec", "llama-2-70b-0-3", *exec_probe]]


def test_hostile_server_words_reach_mpirun_intact_and_secrets_stay_out_of_them(tmp_path: Path) -> None:
    argv = (*serve_argv(8, 2), "--served_model_name", *HOSTILE)
    launch = llama_70b_tp8_pp2(server_argv=argv, model=kube.Volume(claim="models", sub_path="a$(HF_TOKEN)b"))
    pod = _pod(tmp_path, launch)
    result = run(pod["argv"], pod["env"], pod["cwd"])
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)["argv"]
    assert printed == list(kube.mpirun_argv(launch))[1:]
    assert printed[-len(HOSTILE):] == HOSTILE
    assert SECRET not in result.stdout
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(("change", "code", "message"), [
    ({"LWS_GROUP_SIZE": "3"}, 2, "compiled for 2"),
    ({"HOSTNAME": "llama-2-70b-0-1"}, 2, "not the group's leader"),
    ({"TRTDEPLOY_WORKER_WAIT": "0"}, 1, "did not accept kubectl exec within 0s"),
], ids=["group size", "not the leader", "worker never starts"])
def test_the_leader_refuses_a_group_it_was_not_compiled_for(tmp_path: Path, change: dict[str, str], code: int,
                                                            message: str) -> None:
    pod = _pod(tmp_path, llama_70b_tp8_pp2())
    pod["starting"].write_text(json.dumps({"llama-2-70b-0-1": 99}), encoding="utf-8")
    if "TRTDEPLOY_WORKER_WAIT" not in change:
        pod["starting"].unlink()
    result = run(pod["argv"], {**pod["env"], **change}, pod["cwd"])
    assert result.returncode == code and message in result.stderr, result.stderr
    assert result.stdout == ""  # mpirun never ran


def test_the_leader_says_when_the_image_has_no_kubectl(tmp_path: Path) -> None:
    pod = _pod(tmp_path, llama_70b_tp8_pp2())
    bare = tmp_path / "bare-bin"  # the tools leader.sh uses, and no kubectl (this host may have one)
    bare.mkdir()
    for tool in ("bash", "dirname", "mkdir", "sleep"):
        found = shutil.which(tool)
        assert found, tool
        (bare / tool).symlink_to(found)
    result = run(pod["argv"], {**pod["env"], "PATH": str(bare)}, pod["cwd"])
    assert result.returncode == 127 and "no kubectl" in result.stderr


def test_the_remote_start_agent_runs_open_mpis_command_in_the_worker_pod(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim(bin_dir / "kubectl", FAKE_KUBECTL)
    log = tmp_path / "kubectl.log"
    env = base_env(bin_dir, KUBECTL_LOG=str(log), TRTDEPLOY_WORKER_CONTAINER="worker")
    agent = kube.SCRIPTS_DIR / "kubectl-exec.sh"
    result = run(["bash", str(agent), "llama-2-70b-0-1.llama-2-70b.llm", "orted", "-mca", "ess", "env"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(log.read_text(encoding="utf-8")) == [
        "exec", "llama-2-70b-0-1", "-c", "worker", "--", "/bin/sh", "-c", "orted -mca ess env"]


# ---------------------------------------------------------------- the build Job, on a real build folder


def _build_folder(tmp_path: Path) -> tuple[Path, list[BuildStep], Path]:
    """A compiled build folder of a shipped-like spec, and stand-ins for its tools."""
    from plan.support import plan_spec
    from render.support import compile_plan, fake_bin

    plan = plan_spec(tmp_path / "spec", {"parallelism": {"tp": 2}, "quantization": {"format": "int8_wo"}})
    folder = compile_plan(plan, tmp_path / "build folder $(touch pwned)")
    steps = [BuildStep(step.script, step.output) for step in plan.steps if step.script is not None]
    return folder, steps, fake_bin(tmp_path / "bin")


def _job_argv(launch: KubeLaunch, folder: Path) -> list[str]:
    (container,) = one(kube.build_manifests(launch), "Job")["spec"]["template"]["spec"]["containers"]
    script = kube.SCRIPTS_DIR / "build.sh"
    return [kubelet_expand(word, {}).replace(f"{kube.SCRIPTS_MOUNT}/build.sh", str(script))
            for word in container["command"]]


def test_the_build_job_runs_each_step_into_place_and_a_second_run_skips_them(tmp_path: Path) -> None:
    folder, steps, bin_dir = _build_folder(tmp_path)
    launch = replace(llama_7b_tp2(), build_steps=tuple(steps))
    env = base_env(bin_dir, TRTDEPLOY_MODEL_DIR=str(tmp_path / "model"))
    first = run(_job_argv(launch, folder), env, folder)
    assert first.returncode == 0, first.stderr
    for step in steps:
        assert (folder / step.output).is_dir(), step
        assert f"{step.script}: running" in first.stderr
    assert not any((folder / "store" / ".tmp").iterdir())
    second = run(_job_argv(launch, folder), env, folder)
    assert second.returncode == 0 and "running" not in second.stderr
    assert all(f"{step.script}: done" in second.stderr for step in steps)
    assert not (tmp_path / "pwned").exists()


def test_a_failed_step_leaves_no_output_and_stops_the_job(tmp_path: Path) -> None:
    folder, steps, bin_dir = _build_folder(tmp_path)
    (bin_dir / "trtllm-build").write_text("#!/bin/sh\nexit 3\n", encoding="utf-8")
    launch = replace(llama_7b_tp2(), build_steps=tuple(steps))
    result = run(_job_argv(launch, folder), base_env(bin_dir, TRTDEPLOY_MODEL_DIR=str(tmp_path / "model")), folder)
    assert result.returncode == 3
    built = [step for step in steps if (folder / step.output).is_dir()]
    assert built == steps[:-1] and steps[-1].script.endswith("build.sh")


def test_the_build_job_wants_pairs(tmp_path: Path) -> None:
    result = run(["bash", str(kube.SCRIPTS_DIR / "build.sh"), "steps/01-x.sh"], base_env(tmp_path), tmp_path)
    assert result.returncode == 2 and "pairs" in result.stderr


# ---------------------------------------------------------------- Secrets are names, never values


def test_secrets_are_referenced_and_their_values_are_never_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", SECRET)
    launch = engine(llama_70b_tp8_pp2(secrets=(SecretEnv("HF_TOKEN", "hf-token", "token"),)), 8, 2)
    files = kube.render_files(launch)
    assert all(SECRET not in text for text in files.values())
    for doc in kube.manifests(launch):
        for container in _containers(doc):
            (var,) = [v for v in container["env"] if v["name"] == "HF_TOKEN"]
            assert var == {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token"}}}


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if doc["kind"] == "LeaderWorkerSet":
        group = doc["spec"]["leaderWorkerTemplate"]
        return [*group["leaderTemplate"]["spec"]["containers"], *group["workerTemplate"]["spec"]["containers"]]
    if doc["kind"] in ("Deployment", "Job"):
        return list(doc["spec"]["template"]["spec"]["containers"])
    return []
