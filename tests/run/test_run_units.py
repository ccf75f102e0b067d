"""Units of compiler.run: digests and their cache, the store, plan.json reading, progress output."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compiler.run import digest as digest_module
from compiler.run.digest import DigestCache, digest_path
from compiler.run.errors import BuildError
from compiler.plan.document import StepDocument
from compiler.run.plandoc import RunStep, load_plan, path_vars, read_plan
from compiler.run.progress import LineTail, LiveReporter
from compiler.run.store import RECORD, Record, Store, read_record


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- digests


def test_a_file_is_hashed_again_only_when_its_size_or_mtime_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "model"
    weights = _write(model / "w.safetensors", b"a" * 1000)
    _write(model / "config.json", b"{}")
    hashed: list[str] = []
    real = digest_module._hash_file
    monkeypatch.setattr(digest_module, "_hash_file", lambda p: hashed.append(p) or real(p))
    cache_file = tmp_path / "digests.json"
    cache = DigestCache(cache_file)
    first = digest_path(model, cache)
    cache.save()
    assert len(hashed) == 2
    again = digest_path(model, DigestCache(cache_file))  # a new run: stats only
    assert len(hashed) == 2 and again == first
    os.utime(weights, ns=(time.time_ns(), time.time_ns() + 10**9))
    touched = digest_path(model, DigestCache(cache_file))
    assert len(hashed) == 3 and touched.digest == first.digest  # re-hashed, same content, same digest
    weights.write_bytes(b"b" * 1000)
    os.utime(weights, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    changed = digest_path(model, DigestCache(cache_file))
    assert changed.digest != first.digest and changed.changed_files(first.files) == ["w.safetensors"]


def test_digests_skip_dot_files_and_follow_symlinks(tmp_path: Path) -> None:
    blobs = tmp_path / "blobs"
    _write(blobs / "abc", b"weights")
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "model.safetensors").symlink_to(blobs / "abc")
    _write(snapshot / ".git" / "HEAD", b"ref")
    _write(snapshot / ".lock", b"")
    (snapshot / "loop").symlink_to(snapshot)  # a cycle is cut, not followed forever
    found = digest_path(snapshot, DigestCache(None))
    assert list(found.files) == ["model.safetensors"]
    assert digest_path(blobs / "abc", DigestCache(None)).files == {"abc": found.files["model.safetensors"]}


def test_a_damaged_cache_only_costs_a_rehash(tmp_path: Path) -> None:
    cache_file = _write(tmp_path / "digests.json", b"{not json")
    model = _write(tmp_path / "m" / "a", b"x").parent
    assert digest_path(model, DigestCache(cache_file)).files


# ---------------------------------------------------------------- store


def _step(output: str = "store/build-0123456789abcdef") -> RunStep:
    return RunStep(2, StepDocument(id="build", tool="trtllm-build", argv=("trtllm-build",), outputs=(output,),
                                   depends_on=("convert",), fingerprint="f" * 64, impact="rebuild"))


def test_promotion_replaces_an_old_output_only_after_the_new_one_is_in_place(tmp_path: Path) -> None:
    store = Store(tmp_path)
    step = _step()
    _write(store.final(step) / "rank0.engine", b"old")
    tmp = store.new_tmp(step)
    _write(tmp / "rank0.engine", b"new")
    store.promote(tmp, step)
    assert (store.final(step) / "rank0.engine").read_bytes() == b"new"
    assert not tmp.exists() and not any(store.tmp.iterdir())


def test_records_round_trip_and_damaged_records_mean_not_done(tmp_path: Path) -> None:
    store = Store(tmp_path)
    step = _step()
    store.final(step).mkdir(parents=True)
    record = Record("build", "f" * 64, "k", "o", {"build_args": "x"})
    store.write_record(step, record)
    assert store.record(step) == record
    assert not list(store.final(step).glob("*.tmp"))
    (store.final(step) / RECORD).write_text('{"version": 1, "step": "build"')
    assert store.record(step) is None
    (store.final(step) / RECORD).write_text(json.dumps({**record.to_json(), "step": "other"}))
    assert store.record(step) is None and read_record(store.final(step)) is not None


# ---------------------------------------------------------------- plan.json (the document's own checks: test_plan_document.py)


def _plan_doc(**changes: object) -> str:
    steps = [
        {"id": "a", "tool": "quantize.py", "argv": ["x"], "inputs": [], "outputs": ["store/a-1"], "depends_on": [], "fingerprint": "1",
         "impact": "requantize"},
        {"id": "b", "tool": "trtllm-build", "argv": [], "inputs": [], "outputs": ["store/b-2"], "depends_on": ["a"], "fingerprint": "2", "impact": "rebuild"},
        {"id": "c", "tool": "trtllm-build", "argv": [], "inputs": [], "outputs": ["store/c-3"], "depends_on": ["b"], "fingerprint": "3", "impact": "rebuild"},
        {"id": "d", "tool": "trtllm-build", "argv": [], "inputs": [], "outputs": ["store/d-4"], "depends_on": ["a"], "fingerprint": "4", "impact": "rebuild"},
    ]
    return json.dumps({"schema_version": 1, "name": "x", "backend": "tensorrt", "tensorrt_llm": {"version": "1.2.0"},
                       "steps": steps, **changes})


def test_dependents_and_dependencies_follow_the_graph(tmp_path: Path) -> None:
    plan = read_plan(_plan_doc(), tmp_path)
    assert plan.dependents("a") == ["b", "c", "d"] and plan.dependents("b") == ["c"]
    assert plan.dependencies("c") == ["a", "b"] and plan.dependencies("a") == []
    assert plan.step("c").script == "steps/03-c.sh" and plan.step("c").log == "logs/03-c.log"


def test_an_unreadable_plan_json_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text("{")
    with pytest.raises(BuildError, match="plan.json is not valid JSON") as err:
        load_plan(tmp_path)
    assert err.value.finding.code == "B102"


def test_variables_come_from_the_environment_then_the_plan_defaults(tmp_path: Path) -> None:
    variables = {"MODEL_DIR": {"env": "TRTDEPLOY_MODEL_DIR", "default": None},
                 "EXAMPLES_DIR": {"env": "TRTDEPLOY_EXAMPLES_DIR", "default": "./examples"}}
    plan = read_plan(_plan_doc(variables=variables), tmp_path)
    found = path_vars(plan, {"TRTDEPLOY_EXAMPLES_DIR": ""})
    assert found.path("${EXAMPLES_DIR}/run.py", tmp_path) == tmp_path / "examples" / "run.py"
    assert found.path("${BUILD_DIR}/steps", tmp_path) == tmp_path / "steps"
    with pytest.raises(BuildError, match=r"needs \$\{MODEL_DIR\}, which the plan leaves to the environment") as err:
        found.expand("${MODEL_DIR}")
    assert err.value.hint == "set TRTDEPLOY_MODEL_DIR"
    assert path_vars(plan, {"TRTDEPLOY_MODEL_DIR": "/m"}).expand("${MODEL_DIR}/config.json") == "/m/config.json"
    with pytest.raises(BuildError, match="STEP_OUT"):
        found.expand("${STEP_OUT}")


# ---------------------------------------------------------------- progress


def test_line_tail_keeps_the_last_lines_and_collapses_progress_bars() -> None:
    tail = LineTail()
    tail.feed(b"".join(f"line {i}\n".encode() for i in range(30)))
    tail.feed(b"loading  10%\rloading  50%\rloading 100%\nhalf a li")
    tail.feed("ne \xe2\x82".encode("latin-1") + b"\xac")  # a UTF-8 character split across reads
    text = tail.text().splitlines()
    assert len(text) == 12 and text[-2] == "loading 100%" and text[-1] == "half a line €"
    assert text[0] == "line 20"


def test_the_live_view_draws_the_running_steps_last_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    monkeypatch.setattr("compiler.run.progress.REFRESH_S", 0.0)
    out = io.StringIO()
    reporter = LiveReporter(Console(file=out, force_terminal=True, width=100))
    step = _step()
    reporter.skipped(step, 3, "up to date")
    reporter.started(step, 3, "missing: not built yet")
    reporter.output(b"stand-in trtllm-build: wrote rank0.engine\n")
    reporter.tick()
    reporter.finished(step, 3, 12.34)
    reporter.close()
    shown = out.getvalue()
    assert "[2/3] build … skipped (up to date)" in shown and "[2/3] build … 12.3 s" in shown
    assert "wrote rank0.engine" in shown


def test_plain_runs_never_import_rich() -> None:
    code = ("import sys; from compiler.run.progress import make_reporter; import compiler.run.runner, compiler.cli.build; "
            "make_reporter(True); print('rich' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
