"""`entrypoint: run` on the PyTorch backend, end to end: the compiled launch/smoke.sh against the trtllm-serve stand-in.

The spec is compiled with the CLI; launch/smoke.sh then runs as written, with the
stand-in first on PATH. It must start the very server `entrypoint: serve` starts, wait
for GET /health, send one POST /v1/completions naming the model as trtllm-serve
registers it, print the answer and stop the server (the stand-in serves until it is
signalled, as the real one does). Failures: a server that refuses its launch, and one
that never becomes healthy.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import Result

from runkit import STANDINS, Host

SPEC = {
    "name": "tiny-smoke",
    "quantization": {"format": "none"},
    "limits": {"max_batch_size": 4, "max_input_len": 512, "max_output_len": 64},
    "target": {"gpu": "H100-SXM", "tensorrt_llm": "1.2.0"},
    "launch": {"entrypoint": "run", "run": {"input_text": "the quick brown fox", "max_output_len": 3}},
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def serve_on_path(host: Host) -> Host:
    (host.bin / "trtllm-serve").symlink_to(STANDINS / "trtllm-serve")
    return host


def compiled(tmp_path: Path, host: Host, trtdeploy: Callable[..., Result], **changes: object) -> Path:
    spec = {**SPEC, "model": {"path": str(host.model)}, **changes}
    spec["launch"] = {**SPEC["launch"], "serve": {"port": free_port()}, **changes.get("launch", {})}  # type: ignore[dict-item]
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "build"
    result = trtdeploy("compile", str(path), "-o", str(out))
    assert result.exit_code == 0, result.output
    return out


def smoke(out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(out / "launch" / "smoke.sh")], env={**os.environ, **env}, capture_output=True,
                          text=True, check=False)


def test_run_asks_the_started_server_once_and_stops_it(serve_on_path: Host, tmp_path: Path,
                                                        trtdeploy: Callable[..., Result]) -> None:
    out = compiled(tmp_path, serve_on_path, trtdeploy)
    result = smoke(out, TRTDEPLOY_STANDIN_SERVE_EXIT="terminated")
    assert result.returncode == 0, result.stdout + result.stderr
    # The stand-in answers with the prompt's words reversed, up to max_tokens; the model is the folder's name.
    assert 'Input: "the quick brown fox"\nOutput: " brown quick the"' in result.stdout
    assert f"trtdeploy smoke: {serve_on_path.model.name} answered" in result.stdout
    assert "POST /v1/completions -> 200" in result.stdout
    assert "stopped by SIGTERM after answering ['completions', 'health']" in result.stdout
    served = [json.loads(line) for line in serve_on_path.calls.read_text().splitlines()]
    assert [call["tool"] for call in served] == ["trtllm-serve"]


def test_run_checks_the_server_serve_would_start(serve_on_path: Host, tmp_path: Path,
                                                 trtdeploy: Callable[..., Result]) -> None:
    run = json.loads((compiled(tmp_path / "run", serve_on_path, trtdeploy) / "plan.json").read_text())["launch"]
    serve = json.loads((compiled(tmp_path / "serve", serve_on_path, trtdeploy, launch={"entrypoint": "serve"})
                        / "plan.json").read_text())["launch"]
    ports = {launch["rank_argv"][launch["rank_argv"].index("--port") + 1] for launch in (run, serve)}
    strip = [word for word in run["rank_argv"] if word not in ports]
    assert strip == [word for word in serve["rank_argv"] if word not in ports]
    assert "launch/smoke.py" in run["files"] and "launch/smoke.py" not in serve["files"]
    assert run["argv"][-2:] == ["bash", "${BUILD_DIR}/launch/rank.sh"] == serve["argv"]


def test_a_server_that_refuses_its_launch_fails_the_check_with_its_status(serve_on_path: Host, tmp_path: Path,
                                                                          trtdeploy: Callable[..., Result]) -> None:
    # 1.3 names the LLM-API file with --config, which the 1.1 server does not know: click's usage error, status 2.
    out = compiled(tmp_path, serve_on_path, trtdeploy, target={"gpu": "H100-SXM", "tensorrt_llm": "1.3.0"})
    result = smoke(out, TRTDEPLOY_STANDIN_VERSION="1.1.0")
    assert result.returncode == 2
    assert "unknown flag --config" in result.stderr
    assert "trtdeploy smoke: the server exited with status 2 before /health answered" in result.stderr


def test_a_server_that_never_gets_healthy_is_stopped(serve_on_path: Host, tmp_path: Path,
                                                     trtdeploy: Callable[..., Result]) -> None:
    out = compiled(tmp_path, serve_on_path, trtdeploy)
    silent = tmp_path / "silent-server"
    silent.write_text("#!/bin/sh\nexec sleep 600\n")
    silent.chmod(0o755)
    result = smoke(out, TRTDEPLOY_RANK_ENTRYPOINT=str(silent), TRTDEPLOY_SMOKE_TIMEOUT="0")
    assert result.returncode == 1
    assert "trtdeploy smoke: /health did not answer 200 within TRTDEPLOY_SMOKE_TIMEOUT" in result.stderr
    started = re.search(r"started the server \(pid (\d+)\)", result.stdout)
    assert started is not None, result.stdout
    with pytest.raises(ProcessLookupError):  # stopped and reaped: no such process any more
        os.kill(int(started.group(1)), 0)
