"""Inputs of the Kubernetes launcher written by hand, the kubelet's $(VAR) expansion, and stand-in programs.

`llama_70b_tp8_pp2` and `llama_7b_tp2` are the two deployments of issue 13's "Done when", as the
launcher builds them: the server's argv with the paths the pods see. `topology` is the decided
topology each was made from, which the read-back checks compare against.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from compiler.decide.model import Topology
from compiler.launchers.kubernetes import manifests as kube
from compiler.launchers.kubernetes.manifests import BuildStep, KubeLaunch, SecretEnv, Toleration, Volume
from compiler.launchers.kubernetes.readback import MPI_WRAPPER

IMAGE = "nvcr.io/nvidia/tensorrt-llm/release:1.2.0"
GPUS_PER_NODE = 8


def serve_argv(tp: int, pp: int, port: int = 8000, model: str = kube.MODEL_MOUNT) -> tuple[str, ...]:
    """trtllm-serve on the PyTorch backend as the launcher writes it: the model, its flags, the LLM-API YAML."""
    return ("trtllm-serve", model, "--backend", "pytorch", "--tp_size", str(tp), "--pp_size", str(pp),
            "--host", "0.0.0.0", "--port", str(port), "--config", "/build/launch/llm_api_options.yaml")


def llama_70b_tp8_pp2(**changes: object) -> KubeLaunch:
    """Llama-2-70B, tp 8 x pp 2 over two nodes of 8 GPUs: one LeaderWorkerSet group of 2 pods."""
    launch = KubeLaunch(
        name="llama-2-70b", namespace="llm", image=IMAGE, world_size=16, nodes=2, gpus_per_pod=8, port=8000,
        server_argv=serve_argv(8, 2), wrapper=(MPI_WRAPPER,),
        model=Volume(claim="models", sub_path="Llama-2-70b-hf"), build_dir=Volume(claim="builds", sub_path="llama-2-70b"),
        secrets=(SecretEnv("HF_TOKEN", "hf-token", "token"),),
        requests=(("cpu", "32"), ("memory", "400Gi")), limits=(("memory", "800Gi"),), shm_size="64Gi",
        tolerations=(Toleration("nvidia.com/gpu", None, "NoSchedule"),), labels=(("team", "llm"),),
        pull_secrets=("ngc",),
    )
    return replace(launch, **changes)  # type: ignore[arg-type]


def llama_7b_tp2(**changes: object) -> KubeLaunch:
    """Llama-7B, tp 2 on one node: a Deployment whose pod has 2 GPUs and runs trtllm-serve once."""
    launch = KubeLaunch(
        name="llama-7b", namespace="default", image=IMAGE, world_size=2, nodes=1, gpus_per_pod=2, port=8000,
        server_argv=serve_argv(2, 1), wrapper=(MPI_WRAPPER,),
        model=Volume(host_path="/models/llama-7b-hf"), build_dir=Volume(host_path="/builds/llama-7b"),
    )
    return replace(launch, **changes)  # type: ignore[arg-type]


def topology(launch: KubeLaunch, tp: int, pp: int) -> Topology:
    """The decided topology `launch` was made from."""
    return Topology(tp, pp, tp * pp, launch.nodes, launch.gpus_per_pod, GPUS_PER_NODE)


def engine_serve_argv(tp: int, pp: int, port: int = 8000) -> tuple[str, ...]:
    """trtllm-serve on the engine the build Job writes (the TensorRT backend), as the launcher writes it."""
    return ("trtllm-serve", "store/build-0123456789abcdef", "--backend", "tensorrt", "--host", "0.0.0.0",
            "--port", str(port), "--tokenizer", kube.MODEL_MOUNT, "--tp_size", str(tp), "--pp_size", str(pp))


def engine(launch: KubeLaunch, tp: int, pp: int) -> KubeLaunch:
    """The same deployment on the TensorRT backend: the build Job converts and builds, and trtllm-serve serves
    the engine the same way it serves a Hugging Face model (one process on one node, wrapped across nodes)."""
    return replace(launch, server_argv=engine_serve_argv(tp, pp, launch.port),
                   build_steps=(BuildStep("steps/01-convert.sh", "store/convert-0123456789abcdef"),
                                BuildStep("steps/02-build.sh", "store/build-0123456789abcdef")))


def kinds(docs: Sequence[Mapping[str, object]]) -> list[str]:
    return [str(doc["kind"]) for doc in docs]


def one(docs: Sequence[dict[str, object]], kind: str) -> dict[str, object]:
    (found,) = [doc for doc in docs if doc["kind"] == kind]
    return found


def kubelet_expand(text: str, env: Mapping[str, str]) -> str:
    """The kubelet's expansion of command, args and env values: $(NAME) becomes NAME's value when NAME
    is defined (else stays as written), $$ becomes $, any other $ stays. A line-by-line port of
    Expand and tryReadVariableName (kubernetes/kubernetes third_party/forked/golang/expansion/expand.go
    @ fde22c3f9aacfd260225a9741de123a41157b7c0)."""
    out: list[str] = []
    checkpoint = cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            rest = text[cursor + 1:]
            if rest[0] == "$":
                read, advance = "$", 1
            elif rest[0] == "(":
                close = rest.find(")", 1)
                if close == -1:
                    read, advance = "$(", 1
                else:
                    name = rest[1:close]
                    read, advance = (env[name] if name in env else "$(" + name + ")"), close + 1
            else:
                read, advance = "$" + rest[0], 1
            out.append(read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + text[checkpoint:]


def container_env(container: Mapping[str, object], secrets: Mapping[str, str]) -> dict[str, str]:
    """A container's environment as the kubelet builds it: plain values in order (each may refer to the
    ones before it), Secret values from `secrets` (SECRET/KEY -> value)."""
    env: dict[str, str] = {}
    for var in container.get("env", []):  # type: ignore[union-attr]
        if "value" in var:
            env[var["name"]] = kubelet_expand(var["value"], env)
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = secrets[f"{ref['name']}/{ref['key']}"]
    return env


def shim(path: Path, program: str) -> Path:
    """An executable that runs a Python program with this interpreter."""
    source = path.with_suffix(".py")
    source.write_text(program, encoding="utf-8")
    path.write_text(f"#!/bin/sh\nexec {json.dumps(sys.executable)} {json.dumps(str(source))} \"$@\"\n",
                    encoding="utf-8")
    path.chmod(0o755)
    return path


# Prints its argv and the hostfile leader.sh wrote ($TRTDEPLOY_HOSTFILE) as one JSON line.
PRINT_MPIRUN = """import json, os, sys
with open(os.environ["TRTDEPLOY_HOSTFILE"]) as hostfile:
    print(json.dumps({"argv": sys.argv[1:], "hostfile": hostfile.read()}))
"""
# Appends its argv to $KUBECTL_LOG as a JSON line. `exec POD ...` fails while $KUBECTL_STARTING holds
# a count above 0 for POD (a worker pod still starting), one failure per call.
FAKE_KUBECTL = """import json, os, sys
with open(os.environ["KUBECTL_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
starting = os.environ.get("KUBECTL_STARTING")
if starting and os.path.exists(starting):
    counts = json.load(open(starting))
    pod = sys.argv[2]
    if counts.get(pod, 0) > 0:
        counts[pod] -= 1
        json.dump(counts, open(starting, "w"))
        sys.exit(1)
"""


def run(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, env=dict(env), cwd=cwd, timeout=120)


def base_env(bin_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRTDEPLOY_", "OMPI_", "LWS_", "STEP_OUT"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    env.update(extra)
    return env
