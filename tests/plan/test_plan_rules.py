"""P rules beyond their fixtures (which live with every rule's in tests/data/broken).

The planner refuses what the rules report even when they are silenced (every rule's own
examples are exercised in tests/rules/test_rule_registry.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from compiler.cli import cli
from compiler.pipeline import check_spec
from compiler.plan.model import Var
from compiler.plan.planner import PlanError, make_plan
from plan.support import write_spec

BROKEN = Path(__file__).resolve().parents[1] / "data" / "broken"


@pytest.mark.parametrize("fixture", ["P101-serve-0.16", "P103-gptq-fp8-kv", "P104-slurm-partition"])
def test_the_planner_refuses_what_a_silenced_rule_reports(fixture: str, tmp_path: Path) -> None:
    code = fixture.split("-", maxsplit=1)[0]
    source = yaml.safe_load((BROKEN / f"{fixture}.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "silenced.yaml"
    path.write_text(yaml.safe_dump({**source, "ignore": [code]}), encoding="utf-8")
    report = check_spec(path)
    assert report.resolved is not None and not report.errors
    with pytest.raises(PlanError):
        make_plan(report.decided)
    result = CliRunner().invoke(cli, ["plan", str(path)])
    assert result.exit_code == 1 and "cannot plan" in result.output


def test_calibration_on_the_release_that_has_the_flag(tmp_path: Path) -> None:
    wiki = {"quantization": {"format": "fp8", "calibration": {"dataset": "wikitext2"}}}
    codes = {f.code for f in check_spec(write_spec(tmp_path, wiki, {"target": {"tensorrt_llm": "0.10.0"}})).findings}
    assert "P101" not in codes
    sq = {"quantization": {"format": "int8_sq", "calibration": {"dataset": "wikitext2"}},
          "target": {"gpu": "A100-SXM-80GB", "tensorrt_llm": "0.16.0"}}
    assert "P101" not in {f.code for f in check_spec(write_spec(tmp_path, sq, name="sq.yaml")).findings}


@pytest.mark.parametrize(("release", "script"), [("0.12.0", "falcon/convert_checkpoint.py"),
                                                ("1.2.0", "models/contrib/falcon/convert_checkpoint.py")])
def test_a_family_converts_with_its_own_script(tmp_path: Path, release: str, script: str) -> None:
    # The planner checks the argv against falcon's own flag table (PlanBug otherwise), so a clean plan is the proof.
    spec = {"model": {"name": "falcon-7b"}, "quantization": {"format": "int8_wo"},
            "target": {"backend": "tensorrt", "tensorrt_llm": release}}
    result = check_spec(write_spec(tmp_path, spec), plan=True)
    assert result.plan is not None, [f.message for f in result.findings]
    convert = next(step for step in result.plan.steps if step.id == "convert")
    assert convert.argv[1] == Var("EXAMPLES_DIR", f"/{script}")
