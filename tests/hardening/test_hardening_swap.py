"""compile's replacement of a built folder's files, SIGKILLed at every file operation, never loses the folder.

The writing process counts its file operations (mkdir, rename, replace, fsync, unlink,
rmdir, chmod) and SIGKILLs itself just before the N-th, for every N of one recompile
of a built folder (staging, the journal, each entry moved aside and into place, the
cleanup). After every kill:

  * the build folder is still there, with its store/, logs/ and .trtdeploy/ state
    byte-equal to before, and nothing is left beside it;
  * `status` still reads it, and warns (B112) when the swap was cut after its commit;
  * the next writer (a compile, or a build) finds the folder whole: the new files in
    place, the store kept, no staging left; a build then re-runs only the step the
    change affects.

The same at a seeded sample of points of `trtdeploy build SPEC` as a real process (compile
under the build lock, then the run).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

from compiler.pipeline import check_spec
from compiler.plan.planner import make_plan
from compiler.render import is_executable, render_build
from compiler.run.folder import write_build_folder
from runkit import Host, host_env, make_host, write_spec

SEED = 20240607
GENERATED = ("plan.json", "plan.md", "steps", "launch")
KEPT = ("store", "logs", ".trtdeploy/digests.json")
HOOKED = ("mkdir", "rename", "replace", "fsync", "unlink", "rmdir", "chmod")
# Counts file operations and SIGKILLs the process just before the KILL_AT-th (0: never); the count goes to
# COUNT_FILE at exit, and with OPS_FILE set each operation is listed there. Then either writes the files of a
# JSON object (path -> text) into a folder, as compile does (without importing the renderer), or runs the CLI.
CRASHER = r"""
import atexit, json, os, signal, sys
target, count, ops = int(os.environ["KILL_AT"]), [0], []
def hook(name):
    real = getattr(os, name)
    def hooked(*args, **kwargs):
        count[0] += 1
        ops.append(f"{name} {' '.join(map(str, args))}")
        if count[0] == target:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    setattr(os, name, hooked)
for name in %r:
    hook(name)
def report():
    open(os.environ["COUNT_FILE"], "w").write(str(count[0]))
    if os.environ.get("OPS_FILE"):
        open(os.environ["OPS_FILE"], "w").write("\n".join(ops))
atexit.register(report)
if sys.argv[1] == "write":
    from compiler.run.folder import write_build_folder
    from pathlib import Path
    write_build_folder(Path(sys.argv[2]), json.loads(open(sys.argv[3]).read()), lambda p: p.endswith(".sh"))
else:
    from compiler.cli import main
    main(sys.argv[2:])
""" % (HOOKED,)


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Host]:
    made = make_host(tmp_path / "host")
    for name in ("TRTDEPLOY_MODEL_DIR", "TRTDEPLOY_STANDIN_FAIL", "TRTDEPLOY_STANDIN_SLEEP", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in host_env(made).items():
        monkeypatch.setenv(name, value)
    yield made


def rendered(spec: Path) -> dict[str, str]:
    report = check_spec(spec)
    assert report.resolved is not None, report.findings
    return render_build(make_plan(report.decided, report.findings))


def contents(folder: Path, names: tuple[str, ...]) -> dict[str, bytes]:
    """Every file under the named entries of a folder, by relative path."""
    out: dict[str, bytes] = {}
    for name in names:
        path = folder / name
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        out.update({p.relative_to(folder).as_posix(): p.read_bytes() for p in files})
    return out


def as_files(files: dict[str, str]) -> dict[str, bytes]:
    return {path: text.encode() for path, text in files.items()}


def crash(args: list[str], kill_at: int, count_file: Path, ops_file: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "KILL_AT": str(kill_at), "COUNT_FILE": str(count_file), "OPS_FILE": str(ops_file or "")}
    return subprocess.run([sys.executable, "-c", CRASHER, *args], env=env, capture_output=True, timeout=300,
                          check=False)


@pytest.fixture
def built(host: Host, tmp_path: Path, trtdeploy: Callable[..., Result]) -> tuple[Path, dict[str, str]]:
    """A folder built from spec A (batch 4), and the files of spec B (batch 8) to compile into it."""
    folder = tmp_path / "built"
    result = trtdeploy("build", str(write_spec(host, tmp_path / "a.yaml", batch=4)), "-o", str(folder), "--skip-doctor", "--plain")
    assert result.exit_code == 0, result.output
    return folder, rendered(write_spec(host, tmp_path / "b.yaml", batch=8))


def test_sigkill_at_every_file_operation_of_a_recompile(built: tuple[Path, dict[str, str]], tmp_path: Path,
                                                       trtdeploy: Callable[..., Result]) -> None:
    original, new_files = built
    files_json = tmp_path / "files.json"
    files_json.write_text(json.dumps(new_files))
    counted = tmp_path / "counted"
    shutil.copytree(original, counted, symlinks=True)
    done = crash(["write", str(counted), str(files_json)], 0, tmp_path / "count.txt")
    assert done.returncode == 0, done.stderr.decode()
    total = int((tmp_path / "count.txt").read_text())
    assert total > 30  # staging, journal, swap and cleanup each take several
    kept = contents(original, KEPT)
    pending_seen = 0
    for point in range(1, total + 1):
        parent = tmp_path / f"p{point}"
        target = parent / "built"
        shutil.copytree(original, target, symlinks=True)
        killed = crash(["write", str(target), str(files_json)], point, tmp_path / "ignored.txt")
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr.decode()[-2000:])
        assert target.is_dir() and contents(target, KEPT) == kept, f"kill at {point} damaged the build"
        assert sorted(p.name for p in parent.iterdir()) == ["built"], f"kill at {point} left files beside the folder"
        status = trtdeploy("status", str(target))
        assert status.exit_code == 0, (point, status.output)
        pending = (target / ".trtdeploy" / "compile" / "journal.json").exists()
        pending_seen += pending
        assert ("B112 warning: " in status.stderr) == pending, (point, status.stderr)
        assert write_build_folder(target, new_files, is_executable) is not None  # the next compile
        assert contents(target, GENERATED) == as_files(new_files), f"kill at {point}: the files are not the new ones"
        assert contents(target, KEPT) == kept and not (target / ".trtdeploy" / "compile").exists()
        shutil.rmtree(parent)
    assert pending_seen > 5  # the points after the commit were reached, not only the staging


def test_a_build_completes_an_interrupted_compile_and_reruns_only_what_changed(
        built: tuple[Path, dict[str, str]], tmp_path: Path, trtdeploy: Callable[..., Result]) -> None:
    """Killed after the commit, half-way through the swap: `build DIR` completes it, then skips quantize."""
    original, new_files = built
    files_json = tmp_path / "files.json"
    files_json.write_text(json.dumps(new_files))
    target = tmp_path / "target"
    shutil.copytree(original, target, symlinks=True)
    counted, ops = tmp_path / "counted", tmp_path / "ops.txt"
    shutil.copytree(original, counted, symlinks=True)
    assert crash(["write", str(counted), str(files_json)], 0, tmp_path / "count.txt", ops).returncode == 0
    # Just before the old plan.json is moved aside: steps/ and launch/ are new, plan.json is still the old one.
    point = 1 + ops.read_text().splitlines().index(f"rename {counted / 'plan.json'} {counted}/.trtdeploy/compile/old/plan.json")
    assert crash(["write", str(target), str(files_json)], point, tmp_path / "ignored.txt").returncode == -signal.SIGKILL
    assert (target / "plan.json").read_bytes() == (original / "plan.json").read_bytes()
    assert contents(target, ("steps",)) == {k: v for k, v in as_files(new_files).items() if k.startswith("steps/")}
    result = trtdeploy("build", str(target), "--skip-doctor", "--plain")
    assert result.exit_code == 0, result.output
    assert "B112 note: " in result.stderr and "completed a compile that was interrupted" in result.stderr
    assert "[1/2] quantize … skipped (up to date)" in result.stdout and "[2/2] build … running" in result.stdout
    assert contents(target, GENERATED) == as_files(new_files)


def test_sigkill_inside_build_spec_at_seeded_points(host: Host, tmp_path: Path,
                                                    trtdeploy: Callable[..., Result]) -> None:
    """`trtdeploy build SPEC` as a process: compile under the lock, then the run; killed at 6 seeded points."""
    spec_a, spec_b = write_spec(host, tmp_path / "a.yaml", batch=4), write_spec(host, tmp_path / "b.yaml", batch=8)
    reference = tmp_path / "reference"
    for spec in (spec_a, spec_b):
        assert trtdeploy("build", str(spec), "-o", str(reference), "--skip-doctor", "--plain").exit_code == 0
    counted = tmp_path / "counted"
    assert trtdeploy("build", str(spec_a), "-o", str(counted), "--skip-doctor", "--plain").exit_code == 0
    argv = ["cli", "build", str(spec_b), "-o", str(counted), "--skip-doctor", "--plain"]
    assert crash(argv, 0, tmp_path / "count.txt").returncode == 0
    total = int((tmp_path / "count.txt").read_text())
    for point in sorted(random.Random(SEED).sample(range(1, total + 1), 6)):
        target = tmp_path / f"k{point}"
        assert trtdeploy("build", str(spec_a), "-o", str(target), "--skip-doctor", "--plain").exit_code == 0
        quantize_store = contents(target, ("store",))
        argv[4] = str(target)
        assert crash(argv, point, tmp_path / "ignored.txt").returncode == -signal.SIGKILL
        assert target.is_dir() and (target / "store").is_dir(), f"kill at {point} lost the folder"
        assert {k: v for k, v in contents(target, ("store",)).items() if k.startswith("store/quantize-")} == \
               {k: v for k, v in quantize_store.items() if k.startswith("store/quantize-")}
        again = trtdeploy("build", str(spec_b), "-o", str(target), "--skip-doctor", "--plain")
        assert again.exit_code == 0, (point, again.output)
        assert "quantize … running" not in again.stdout, f"kill at {point}: every step ran again"
        assert contents(target, GENERATED) == contents(reference, GENERATED)
        assert not (target / ".trtdeploy" / "compile").exists()
