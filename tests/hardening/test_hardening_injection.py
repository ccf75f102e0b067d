"""Shell safety: hostile text in every string field never runs, arrives intact, and secrets stay out of files.

Every free-text leaf of the spec (from the pydantic models, via specleaves) gets each
kind of hostile text ($(...), backticks, `; rm -rf ~`, quotes, newlines, a leading dash,
unicode, %s, jinja markers, ${VARS}, 4,000 characters). A value is either refused with
an error finding that names the field (S108 for a pattern or length, S110/S113 for
names, S103 for extends, P104 for host names), or it compiles: then every emitted
script passes bash -n and shellcheck. For each field, the all-in-one hostile value (and
a long one) is then built for real: `trtdeploy build --dry-run`, `compile`, and `build`
through the runner with the argv-logging stand-ins, then launch/rank.sh, mpirun.sh and
slurm.sbatch with a probe. Nothing may be created or run, every argument must arrive at
the stand-in or probe exactly as planned, and HF_TOKEN (passed through launch.env) must
reach the rank while appearing in no file of the build folder, no log and no output.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result
from injectkit import (
    hostile_values,
    launch_bin,
    long_sink,
    materialize,
    sink,
    spec_with,
)
from plan.support import expand, tool_args
from render.support import bash_syntax, clean_env, run_script, shellcheck
from runkit import Host, host_env, make_host
from specleaves import Leaf, text_leaves

from compiler.findings import Severity
from compiler.pipeline import check_spec
from compiler.plan.model import BUILD_DIR, STEP_OUT, Plan
from compiler.plan.planner import make_plan
from compiler.render import render_build

LEAVES = text_leaves()
SECRET_PREFIX = "hf_secret_"
STEP_OUT_SENTINEL = "\x00STEP_OUT\x00"


@dataclass(frozen=True)
class Case:
    """One field holding one hostile value, and what became of it."""

    leaf: Leaf
    kind: str
    value: str
    spec: Path
    plan: Plan | None

    @property
    def label(self) -> str:
        return f"{self.leaf.dotted}={self.kind}"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The module's fake host, the marker every injected command would create, and the secret."""
    root = tmp_path_factory.mktemp("hostile")
    return {"root": root, "host": make_host(root / "host"), "marker": root / f"pwned-{uuid.uuid4().hex[:12]}",
            "secret": SECRET_PREFIX + uuid.uuid4().hex}


@pytest.fixture
def secret_env(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """HF_TOKEN set while compiling and building; HOME a scratch folder with a file that must survive."""
    home = world["root"] / f"home-{uuid.uuid4().hex[:6]}"
    home.mkdir()
    (home / "keep").write_text("still here\n", encoding="utf-8")
    monkeypatch.setenv("HF_TOKEN", world["secret"])
    monkeypatch.setenv("HOME", str(home))
    for name in ("TRTDEPLOY_MODEL_DIR", "TRTDEPLOY_EXAMPLES_DIR", "TRTDEPLOY_STANDIN_FAIL", "TRTDEPLOY_STANDIN_SLEEP"):
        monkeypatch.delenv(name, raising=False)
    yield world["secret"]
    assert (home / "keep").read_text(encoding="utf-8") == "still here\n", "HOME was touched"


def values_of(marker: Path) -> dict[str, str]:
    return {**hostile_values(marker), "sink": sink(marker), "long-sink": long_sink(marker)}


def make_case(world: dict[str, Any], leaf: Leaf, kind: str, value: str) -> Case:
    folder = world["root"] / "specs" / f"{leaf.dotted}-{kind}"
    folder.mkdir(parents=True, exist_ok=True)
    materialize(world["host"], folder, leaf, value)
    spec = folder / "spec.yaml"
    spec.write_text(yaml.safe_dump(spec_with(world["host"], leaf, value), allow_unicode=True), encoding="utf-8")
    report = check_spec(spec)
    if report.errors:
        return Case(leaf, kind, value, spec, None)
    assert report.resolved is not None
    return Case(leaf, kind, value, spec, make_plan(report.decided, report.findings))


def untouched(world: dict[str, Any]) -> None:
    marker: Path = world["marker"]
    assert not list(marker.parent.glob(marker.name + "*")), "an injected command ran"


# ---------------------------------------------------------------- every field, every kind: refused or clean


@pytest.fixture(scope="module")
def compiled(world: dict[str, Any]) -> list[Case]:
    return [make_case(world, leaf, kind, value) for leaf in LEAVES for kind, value in values_of(world["marker"]).items()]


def test_the_base_spec_of_every_context_is_clean(world: dict[str, Any]) -> None:
    """So that any error below is the hostile value's, in every context the fields are tried in."""
    for leaf in LEAVES:
        case = make_case(world, leaf, "plain", "plain-value")
        report = check_spec(case.spec)
        others = [f for f in report.findings if f.severity is Severity.ERROR and not f.key.startswith(leaf.dotted)]
        assert not others, (leaf.dotted, others)


def test_refused_values_get_a_finding_on_their_field(compiled: list[Case]) -> None:
    for case in compiled:
        if case.plan is not None:
            continue
        errors = [f for f in check_spec(case.spec).findings if f.severity is Severity.ERROR]
        assert errors and all(f.key.startswith(case.leaf.dotted) for f in errors), (case.label, errors)
        assert all(f.code[0] in "SP" and f.hint for f in errors), (case.label, errors)


def test_values_that_fit_their_field_are_accepted(compiled: list[Case]) -> None:
    """Free text, paths and names are not refused for their characters: the quoting has to hold.

    (launch.serve.host is refused on this tp-2 engine deployment: its trtllm-serve runs under
    trtllm-llmapi-launch, which splits words, P106.)
    """
    accepted = {case.leaf.dotted for case in compiled if case.plan is not None and case.kind == "sink"}
    assert {"description", "model.path", "model.tokenizer", "quantization.calibration.dataset",
            "quantization.checkpoint", "target.examples_dir", "launch.run.input_text",
            "launch.slurm.container_image"} <= accepted, accepted


def test_every_emitted_script_passes_bash_n_and_shellcheck(compiled: list[Case], world: dict[str, Any],
                                                          secret_env: str) -> None:
    lint = world["root"] / "lint"
    scripts: dict[str, Path] = {}
    for case in compiled:
        if case.plan is None:
            continue
        for relative, text in render_build(case.plan).items():
            assert secret_env not in text, (case.label, relative)
            if relative.endswith((".sh", ".sbatch")) and text not in scripts:
                path = lint / case.leaf.dotted / case.kind / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                scripts[text] = path
    assert len(scripts) > 50
    for path in scripts.values():
        assert bash_syntax(path).returncode == 0, path
    result = shellcheck(sorted(scripts.values()))
    assert result.returncode == 0, result.stdout[-3000:]
    untouched(world)


# ---------------------------------------------------------------- built and run


def _run_build(trtdeploy: Callable[..., Result], case: Case, out: Path, world: dict[str, Any]) -> None:
    dry = trtdeploy("build", str(case.spec), "-o", str(out), "--dry-run")
    assert dry.exit_code == 0 and "would run" in dry.stdout, dry.output
    assert not out.exists()
    compiled = trtdeploy("compile", str(case.spec), "-o", str(out))
    assert compiled.exit_code == 0, compiled.output
    materialize(world["host"], out, case.leaf, case.value)  # relative examples folders are the build folder's
    built = trtdeploy("build", str(out), "--skip-doctor", "--plain")
    assert built.exit_code == 0, built.output
    for result in (dry, compiled, built):
        assert world["secret"] not in result.output


def _matches(expected: list[str], got: list[str]) -> bool:
    if len(expected) != len(got):
        return False
    for want, have in zip(expected, got):
        pattern = re.escape(want).replace(re.escape(STEP_OUT_SENTINEL), r".*/store/\.tmp/[^/]+")
        if not re.fullmatch(pattern, have, flags=re.DOTALL):
            return False
    return True


def _steps_got_their_argv(case: Case, host: Host, out: Path) -> None:
    assert case.plan is not None
    calls = [json.loads(line) for line in host.calls.read_text(encoding="utf-8").splitlines()]
    assert [c["tool"] for c in calls] == [s.tool for s in case.plan.steps]
    values = {**{k: v for k, v in case.plan.variables.items() if v is not None}, STEP_OUT: STEP_OUT_SENTINEL,
              BUILD_DIR: str(out)}
    for step, call in zip(case.plan.steps, calls):
        expected = tool_args(expand(step.argv, values))
        assert _matches(expected, call["argv"]), (case.label, step.id, expected, call["argv"])


def _launch_runs_with_argv_intact(case: Case, out: Path, world: dict[str, Any], tmp_path: Path) -> None:
    assert case.plan is not None
    launch = case.plan.launch
    bin_dir = launch_bin(tmp_path / "bin")
    env = clean_env(tmp_path, bin_dir, TRTDEPLOY_RANK_ENTRYPOINT=str(bin_dir / "probe"), HF_TOKEN=world["secret"],
                    TRTDEPLOY_BUILD_DIR=str(out))
    values = {**{k: v for k, v in case.plan.variables.items() if v is not None}, BUILD_DIR: str(out)}
    rank = expand(launch.rank_argv, values)[1:]
    token = hashlib.sha256(world["secret"].encode()).hexdigest()
    assert run_script(out / "launch" / "rank.sh", env) == [{"argv": rank, "token_sha": token}]
    launcher = launch.script
    if launcher is not None:
        printed = run_script(out / launcher, env)
        if launch.argv[0] == "bash":  # one process that starts its own workers: the script runs rank.sh itself
            assert printed == [{"argv": rank, "token_sha": token}], case.label
            return
        ranks = launch.world_size if launch.launcher == "mpirun" else 1  # the fake srun starts one rank
        assert printed == [expand(launch.argv, values)[1:], *[{"argv": rank, "token_sha": token}] * ranks], case.label
    if launch.launcher == "mpirun":
        assert ["-x", "HF_TOKEN"] == [a for a in launch.argv if a in ("-x", "HF_TOKEN")][:2]


def _no_secret_in(folder: Path, secret: str) -> None:
    needle = secret.encode()
    leaked = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and needle in p.read_bytes()]
    assert not leaked, leaked


@pytest.mark.parametrize("field", [leaf.dotted for leaf in LEAVES])
def test_hostile_values_build_and_launch_intact(field: str, world: dict[str, Any], secret_env: str,
                                                trtdeploy: Callable[..., Result], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The all-in-one hostile value and its 3,000-character form, in one field: built, run and launched.

    A field that refuses both (test_refused_values_get_a_finding_on_their_field checks how) builds nothing here.
    """
    leaf = next(leaf for leaf in LEAVES if leaf.dotted == field)
    host: Host = world["host"]
    for name, value in host_env(host).items():
        if name != "TRTDEPLOY_EXAMPLES_DIR":  # the spec names the examples folder, so that field can be hostile
            monkeypatch.setenv(name, value)
    for kind in ("sink", "long-sink"):
        case = make_case(world, leaf, kind, values_of(world["marker"])[kind])
        if case.plan is None:
            continue
        host.calls.unlink(missing_ok=True)
        out = tmp_path / kind / "build $(touch x)"
        _run_build(trtdeploy, case, out, world)
        _steps_got_their_argv(case, host, out)
        _launch_runs_with_argv_intact(case, out, world, tmp_path / kind)
        _templates_printed_it_literally(out)
        untouched(world)
        _no_secret_in(out, secret_env)
        _no_secret_in(host.calls.parent, secret_env)


def _templates_printed_it_literally(out: Path) -> None:
    """Jinja markers in a value are text: plan.md shows them as written, never evaluated."""
    text = (out / "plan.md").read_text(encoding="utf-8")
    assert "7*7" not in text or "{{ 7*7 }}" in text


def test_a_literal_dollar_brace_in_an_input_path_is_not_a_variable(tmp_path: Path) -> None:
    """Regression: a checkpoint path holding "${HOME}" made the runner refuse the build as a planner bug."""
    from compiler.run.errors import BuildError
    from compiler.run.plandoc import PathVars

    found = PathVars({"MODEL_DIR": "/m", "BUILD_DIR": "/b"})
    assert found.expand("${MODEL_DIR}/x ${HOME} $(id) ${HOME:-y}") == "/m/x ${HOME} $(id) ${HOME:-y}"
    with pytest.raises(BuildError, match="STEP_OUT"):
        found.expand("${STEP_OUT}/x")


def test_the_secret_reaches_no_file_even_when_compiled_from_the_environment(world: dict[str, Any], secret_env: str,
                                                                          trtdeploy: Callable[..., Result],
                                                                          tmp_path: Path) -> None:
    """launch.env names variables; their values are read by the scripts at run time, never written."""
    case = make_case(world, LEAVES[0], "plain-secret", "plain")
    out = tmp_path / "out"
    assert trtdeploy("compile", str(case.spec), "-o", str(out)).exit_code == 0
    plan_text = (out / "plan.json").read_text(encoding="utf-8")
    assert "HF_TOKEN" in plan_text and secret_env not in plan_text
    _no_secret_in(out, secret_env)
