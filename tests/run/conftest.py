"""Fixtures of the run-stage tests: a fake host (model, calibration data, stand-ins) and a CLI invoker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from compiler.cli import cli
from runkit import Host, Knobs, host_env, make_host, make_plan, write_build_folder

KNOBS_ENV = ("TRTDEPLOY_MODEL_DIR", "TRTDEPLOY_STANDIN_FAIL", "TRTDEPLOY_STANDIN_SLEEP", "CUDA_VISIBLE_DEVICES")


@pytest.fixture(autouse=True)
def _stop_what_killed_runners_left(tmp_path: Path) -> Iterator[None]:
    """Tests kill runners with SIGKILL on purpose; afterwards, stop what their steps left and remove their cgroups,
    exactly as the next build would (compiler.run.processes.stop_leftovers)."""
    yield
    from compiler.run.processes import stop_leftovers

    for state_dir in {p.parent.parent for p in tmp_path.glob("**/.trtdeploy/attempts/*.json")}:
        stop_leftovers(state_dir)


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Host]:
    """A fake build host whose environment (PATH, examples folder, stand-in knobs) is this process's."""
    made = make_host(tmp_path / "host")
    for name in KNOBS_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in host_env(made).items():
        monkeypatch.setenv(name, value)
    yield made


@pytest.fixture
def compile_folder(tmp_path: Path, host: Host) -> Callable[..., Path]:
    """Write (or rewrite, after a knob change) the fixture plan's build folder; returns it."""

    def write(knobs: Knobs | None = None, name: str = "build") -> Path:
        return write_build_folder(make_plan(knobs or Knobs(), host), tmp_path / name)

    return write


@pytest.fixture
def trtdeploy() -> Callable[..., Result]:
    """Run the CLI in this process; fails the test if anything but SystemExit escaped (a traceback)."""

    def invoke(*args: str) -> Result:
        result = CliRunner().invoke(cli, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert "Traceback" not in result.output
        return result

    return invoke
