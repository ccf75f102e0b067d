"""Rendering rules: quoting happens in Python, templates only loop, a missing variable is an error."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest

from compiler.plan.model import EXAMPLES_DIR, MODEL_DIR, STEP_OUT, Var
from compiler.render import TEMPLATES, _environment, command_lines, definitions, render_markdown, render_text, shell_word
from plan.support import plan_spec

TEMPLATE_FILES = sorted(p for p in TEMPLATES.rglob("*.j2"))


def test_the_package_ships_the_templates_through_a_symlink() -> None:
    link = Path(__file__).resolve().parents[2] / "compiler" / "templates"
    assert link.is_symlink() and link.resolve() == (Path(__file__).resolve().parents[2] / "templates")


def test_a_var_renders_as_its_variable_then_the_quoted_suffix() -> None:
    assert shell_word(Var(EXAMPLES_DIR, "/quantization/quantize.py")) == '"${EXAMPLES_DIR}"\'/quantization/quantize.py\''
    assert shell_word(Var(STEP_OUT)) == '"${STEP_OUT}"'
    assert shell_word("it's $(x)") == "'it'\"'\"'s $(x)'"
    assert shell_word("plain/path") == "plain/path"


def test_commands_break_at_options() -> None:
    lines = command_lines(["trtllm-build", "--a", "1", "--flag", "--b", "x y", "bash", "s.sh"], "exec ")
    assert lines == ["exec trtllm-build \\", "  --a 1 \\", "  --flag \\", "  --b 'x y' \\", "  bash s.sh"]


def test_definitions_take_the_environment_first() -> None:
    lines = definitions([[Var(MODEL_DIR), Var(EXAMPLES_DIR, "/run.py")]],
                        {MODEL_DIR: "/m o", EXAMPLES_DIR: "/ex"}, {STEP_OUT: "store/x-1"})
    assert lines == ["MODEL_DIR=${TRTDEPLOY_MODEL_DIR:-'/m o'}", "EXAMPLES_DIR=${TRTDEPLOY_EXAMPLES_DIR:-/ex}",
                     "STEP_OUT=${STEP_OUT:-store/x-1}"]
    assert definitions([[Var(MODEL_DIR)]], {MODEL_DIR: None}) == [
        "MODEL_DIR=${TRTDEPLOY_MODEL_DIR:?set TRTDEPLOY_MODEL_DIR to the model folder}"]


@pytest.mark.parametrize("template", TEMPLATE_FILES, ids=[p.name for p in TEMPLATE_FILES])
def test_templates_hold_no_decisions(template: Path) -> None:
    source = template.read_text(encoding="utf-8")
    statements = re.findall(r"{%-?\s*(\w+)", source)
    assert set(statements) <= {"for", "endfor"}, statements
    assert "|" not in "".join(re.findall(r"{{(.*?)}}", source)).replace("|format", ""), "no filters that decide"


def test_a_missing_variable_is_an_error() -> None:
    with pytest.raises(jinja2.UndefinedError):
        _environment().get_template("steps/step.sh.j2").render(header=[], definitions=[], exports=[])


def test_secrets_are_passed_by_name_only(tmp_path: Path) -> None:
    plan = plan_spec(tmp_path, {"launch": {"env": ["HF_TOKEN", "WANDB_API_KEY"]}})
    assert [str(a) for a in plan.launch.argv[4:6]] == ["-x", "HF_TOKEN"]
    assert "WANDB_API_KEY" in plan.launch.env_passthrough


def test_text_view_lists_every_step_and_decision(tmp_path: Path) -> None:
    plan = plan_spec(tmp_path, {"quantization": {"format": "int4_awq", "calibration": {"samples": 512}}})
    out = render_text(plan)
    for step in plan.steps:
        assert f"{step.script}  {step.tool}" in out
    for decision in plan.decisions:
        assert f"{decision.topic}: {decision.choice}" in out
    assert "--calib_size 32" in out and "caps AWQ calibration at 32" in out


K8S = {"launch": {"launcher": "kubernetes", "entrypoint": "serve",
                  "kubernetes": {"model": {"claim": "models"}, "build_dir": {"claim": "builds"},
                                 "image": "registry.example/trtllm:1.2.0-kubectl"}},
       "target": {"tensorrt_llm": "1.2.0"}}


@pytest.mark.parametrize(("case", "runner"), [
    ({"launch": {"entrypoint": "run"}}, "Each rank runs <code>launch/rank.sh</code>, which binds its GPU and then runs:"),
    ({"launch": {"entrypoint": "serve"}, "target": {"tensorrt_llm": "1.2.0"}},
     "<code>launch/rank.sh</code> runs the one process, which starts its own workers:"),
    ({**K8S, "parallelism": {"tp": 8, "pp": 2}, "target": {"tensorrt_llm": "1.2.0", "nodes": 2}},
     "Each MPI rank runs:"),
    (K8S, None),  # the pod's command is the server: nothing more to show, and no rank.sh to name
], ids=["mpirun ranks", "mpirun one process", "kubernetes group", "kubernetes pod"])
def test_the_plan_says_what_runs_each_ranks_command(tmp_path: Path, case: dict[str, object], runner: str | None) -> None:
    plan = plan_spec(tmp_path, case)
    out = render_markdown(plan)
    launch = out[out.index("## Launch"):out.index("## Decisions")]
    if runner is None:
        assert "rank" not in launch.lower() and launch.count("trtllm-serve") == 1
    else:
        assert runner in launch and launch.index(runner) > launch.index("```bash")
