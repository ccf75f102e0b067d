"""P rules beyond their fixtures (which live with every rule's in tests/data/broken).

Each P rule's bad example triggers it and its good example does not, and the
planner refuses what the rules report even when they are silenced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from compiler.cli import cli
from compiler.load import deep_merge
from compiler.pipeline import check_spec
from compiler.plan.planner import PlanError, make_plan
from compiler.rules import load_rules
from plan.support import write_spec

P_RULES = sorted(code for code in load_rules() if code.startswith("P"))
EXAMPLE_BASE: dict[str, Any] = {"model": {"name": "llama-2-7b"}, "target": {"gpu": "A100-SXM-80GB"}}
BROKEN = Path(__file__).resolve().parents[1] / "data" / "broken"


def _codes(example: str, tmp_path: Path, name: str) -> set[str]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(deep_merge(EXAMPLE_BASE, yaml.safe_load(example) or {})), encoding="utf-8")
    return {f.code for f in check_spec(path).findings}


@pytest.mark.parametrize("code", P_RULES)
def test_rule_examples_behave(code: str, tmp_path: Path) -> None:
    rule = load_rules()[code]
    assert code in _codes(rule.bad, tmp_path, "bad")
    assert code not in _codes(rule.good, tmp_path, "good")


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


def test_p102_only_when_convert_runs(tmp_path: Path) -> None:
    quantized = {"model": {"name": "falcon-7b"}, "quantization": {"format": "fp8", "calibration": {}}}
    assert "P102" not in {f.code for f in check_spec(write_spec(tmp_path, quantized)).findings}
