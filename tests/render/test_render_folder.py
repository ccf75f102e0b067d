"""The build folder: byte-identical on recompile, replaced as a whole, never half-written, store/ and logs/ kept.

Kills at every file operation of the swap are in tests/hardening/test_hardening_swap.py.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from compiler.plan.model import Plan
from compiler.render import is_executable, render_build
from compiler.run.errors import BuildError
from compiler.run.folder import write_build_folder as write_files
from compiler.run.lock import BuildLock
from plan.support import plan_file, plan_spec

GPTQ: dict[str, Any] = {"quantization": {"format": "int4_gptq", "calibration": {}}, "parallelism": {"tp": 2},
                        "target": {"gpu": "A100-SXM-80GB"}, "launch": {"env": ["HF_TOKEN"]}}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(parent: Path) -> list[str]:
    """Hidden entries beside the build folders, and staging left inside them."""
    hidden = [p.name for p in parent.iterdir() if p.name.startswith(".")]
    staged = [str(p.relative_to(parent)) for p in parent.glob("*/.trtdeploy/compile")]
    return sorted(hidden + staged)


def write_build_folder(dest: Path, files: dict[str, str]) -> None:
    write_files(dest, files, is_executable)


@pytest.fixture
def plan(tmp_path: Path) -> Plan:
    return plan_spec(tmp_path / "specs", GPTQ)


def test_compiling_twice_is_byte_identical(plan: Plan, tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    write_build_folder(first, render_build(plan))
    write_build_folder(second, render_build(plan_file(Path(plan.spec_path))))  # planned again from the same file
    assert snapshot(first) == snapshot(second)
    before = snapshot(first)
    write_build_folder(first, render_build(plan))
    assert snapshot(first) == before
    assert leftovers(tmp_path) == []


def test_file_modes(plan: Plan, tmp_path: Path) -> None:
    folder = tmp_path / "b"
    write_build_folder(folder, render_build(plan))
    modes = {str(p.relative_to(folder)): stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*") if p.is_file()}
    assert modes["plan.json"] == 0o644 and modes["plan.md"] == 0o644
    assert modes["launch/mpirun.sh"] == 0o755 and modes["steps/01-gptq.sh"] == 0o755
    assert modes["steps/gptq_quantize.py"] == 0o755


def test_recompiling_keeps_store_logs_and_runner_state(plan: Plan, tmp_path: Path) -> None:
    folder = tmp_path / "b"
    write_build_folder(folder, render_build(plan))
    for kept in ("store/gptq-0123/model.safetensors", "logs/01-gptq.log", ".trtdeploy/state.json"):
        (folder / kept).parent.mkdir(parents=True, exist_ok=True)
        (folder / kept).write_text("kept\n", encoding="utf-8")
    (folder / "steps" / "99-stale.sh").write_text("old\n", encoding="utf-8")
    changed = plan_spec(tmp_path / "specs", GPTQ, {"limits": {"max_batch_size": 64}}, name="changed.yaml")
    write_build_folder(folder, render_build(changed))
    assert (folder / "store/gptq-0123/model.safetensors").read_text() == "kept\n"
    assert (folder / "logs/01-gptq.log").read_text() == "kept\n"
    assert (folder / ".trtdeploy/state.json").read_text() == "kept\n"
    assert not (folder / "steps" / "99-stale.sh").exists()
    assert "max_batch_size 64" in (folder / "steps" / "03-build.sh").read_text().replace("--max_batch_size", "max_batch_size")
    assert leftovers(tmp_path) == []


def test_refuses_to_replace_a_folder_that_is_not_a_build(plan: Plan, tmp_path: Path) -> None:
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "thesis.tex").write_text("precious\n", encoding="utf-8")
    with pytest.raises(BuildError, match="not a build folder") as err:
        write_build_folder(folder, render_build(plan))
    assert err.value.finding.code == "B110"
    assert snapshot(folder) == {"thesis.tex": b"precious\n"}
    assert leftovers(tmp_path) == []


def test_unwritable_destination_leaves_nothing(plan: Plan, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(BuildError):
        write_build_folder(blocker / "build", render_build(plan))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "specs"]


def test_a_failure_while_writing_leaves_no_partial_folder(plan: Plan, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "b"
    write_build_folder(folder, render_build(plan))
    before = snapshot(folder)
    real = os.fsync
    calls = {"n": 0}

    def flaky(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        real(fd)

    monkeypatch.setattr(os, "fsync", flaky)
    with pytest.raises(BuildError, match="No space left"):
        write_build_folder(folder, render_build(plan))
    monkeypatch.undo()
    assert snapshot(folder) == before
    assert leftovers(tmp_path) == []
    with pytest.raises(BuildError):
        write_build_folder(tmp_path / "fresh", {"plan.json": "{}", "a/b": "x", "a/b/c": "y"})
    assert not (tmp_path / "fresh").exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("entry", ["launch", "plan.json"])
def test_a_failed_swap_puts_the_old_files_back(entry: str, plan: Plan, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "b"
    write_build_folder(folder, render_build(plan))
    (folder / "store").mkdir()
    (folder / "store" / "x").write_text("kept\n", encoding="utf-8")
    before = snapshot(folder)
    real = os.rename
    failed: list[Path] = []

    def failing(src: Any, dst: Any) -> None:
        if Path(dst) == folder / entry and not failed:  # the rename that would put this new entry in place
            failed.append(Path(src))
            raise OSError(5, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(os, "rename", failing)
    changed = plan_spec(tmp_path / "specs", GPTQ, {"limits": {"max_batch_size": 64}}, name="changed.yaml")
    with pytest.raises(BuildError, match="Input/output error") as err:
        write_build_folder(folder, render_build(changed))
    monkeypatch.undo()
    assert err.value.finding.code == "B111" and failed
    assert snapshot(folder) == before
    assert leftovers(tmp_path) == []


def test_a_running_build_keeps_its_folder(plan: Plan, tmp_path: Path) -> None:
    folder = tmp_path / "b"
    write_build_folder(folder, render_build(plan))
    before = {k: v for k, v in snapshot(folder).items() if not k.startswith(".trtdeploy")}
    with BuildLock(folder), pytest.raises(BuildError, match="locked") as err:
        write_build_folder(folder, render_build(plan))
    assert err.value.finding.code == "B201"
    assert {k: v for k, v in snapshot(folder).items() if not k.startswith(".trtdeploy")} == before
    assert leftovers(tmp_path) == []
