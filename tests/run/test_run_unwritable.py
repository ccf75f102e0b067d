"""A build folder this user cannot write (its .trtdeploy/ state, its store) is a B111 finding, never a traceback;
an input it cannot read is a B206 finding.

Root ignores file modes, so as root the CLI runs without CAP_DAC_OVERRIDE (util-linux setpriv):
the modes then apply to it as to anyone else.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runkit import Host

SETPRIV = shutil.which("setpriv")
DROP = ["--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search"]
pytestmark = pytest.mark.skipif(os.geteuid() == 0 and SETPRIV is None,
                                reason="running as root without setpriv: file modes cannot be made to apply")


def trtdeploy_process(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a process that file modes apply to."""
    prefix = [SETPRIV, *DROP] if os.geteuid() == 0 and SETPRIV else []
    return subprocess.run([*prefix, sys.executable, "-m", "compiler.cli", *args], capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], None]]:
    """Make folders read-only for the test; their modes are restored afterwards, so they can be removed."""
    changed: list[tuple[Path, int]] = []

    def make(path: Path) -> None:
        changed.append((path, stat.S_IMODE(path.stat().st_mode)))
        path.chmod(0o555)

    yield make
    for path, mode in reversed(changed):
        path.chmod(mode)


def test_an_unwritable_state_folder_is_a_finding(host: Host, compile_folder: Callable[..., Path],
                                                read_only: Callable[[Path], None]) -> None:
    folder = compile_folder()
    (folder / ".trtdeploy").mkdir()
    (folder / ".trtdeploy" / "lock").touch()
    read_only(folder / ".trtdeploy")
    result = trtdeploy_process("build", str(folder), "--skip-doctor", "--plain")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert "B111 error: cannot write the build folder: " in result.stderr and "Permission denied" in result.stderr
    assert f"{folder}/.trtdeploy/.digests.json." in result.stderr  # the digest cache, the first thing written there
    assert "  help: check free space and permissions" in result.stderr


def test_an_unwritable_store_is_a_finding_naming_the_step(host: Host, compile_folder: Callable[..., Path],
                                                         read_only: Callable[[Path], None]) -> None:
    folder = compile_folder()
    (folder / "store").mkdir()
    read_only(folder / "store")
    result = trtdeploy_process("build", str(folder), "--skip-doctor", "--plain")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert "B111 error: step quantize: Permission denied" in result.stderr


def test_an_unwritable_lock_folder_is_a_finding(host: Host, compile_folder: Callable[..., Path],
                                               read_only: Callable[[Path], None]) -> None:
    folder = compile_folder()
    read_only(folder)  # .trtdeploy/ cannot even be created
    for command in (("build", str(folder), "--skip-doctor"), ("build", str(folder), "--clean")):
        result = trtdeploy_process(*command)
        assert result.returncode == 1, result.stderr
        assert "B111 error: cannot create the lock file " in result.stderr and "Traceback" not in result.stderr
    status = trtdeploy_process("status", str(folder))  # reads only: a read-only folder is fine
    assert status.returncode == 0, status.stderr


def test_an_unreadable_model_file_is_a_finding(host: Host, compile_folder: Callable[..., Path]) -> None:
    folder = compile_folder()
    weights = host.model / "model.safetensors"
    weights.chmod(0)
    try:
        result = trtdeploy_process("build", str(folder), "--skip-doctor", "--plain")
    finally:
        weights.chmod(0o644)
    assert result.returncode == 1, result.stderr
    assert f"B206 error: step quantize: cannot read model input {host.model}" in result.stderr
    assert "Permission denied" in result.stderr and "help: check its permissions" in result.stderr
