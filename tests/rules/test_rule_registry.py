"""The registry as documentation: every rule is explained, and docs/rules.md is current."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.load import deep_merge
from compiler.pipeline import check_spec
from compiler.rules import PREFIXES, load_rules
from compiler.rules.docs import explain_rule, rules_markdown

ROOT = Path(__file__).resolve().parents[2]
RULES = load_rules()
# Rule examples are snippets; these fill in what they leave out.
BASE: dict[str, Any] = {"model": {"name": "llama-2-7b"}, "target": {"gpu": "A100-SXM-80GB"}}
EXAMPLE_PREFIXES = ("H", "L", "M", "C")


@pytest.mark.parametrize("code", sorted(RULES))
def test_rule_is_documented(code: str) -> None:
    rule = RULES[code]
    for field in ("name", "summary", "why", "bad", "good", "hint"):
        assert getattr(rule, field).strip(), f"{code} has an empty {field}"
    assert rule.code[0] in PREFIXES
    assert rule.name == rule.name.lower() and " " not in rule.name
    assert code in explain_rule(rule)


def test_rule_names_are_unique() -> None:
    names = [rule.name for rule in RULES.values()]
    assert len(names) == len(set(names))


def test_docs_rules_md_is_generated_from_the_registry() -> None:
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert text == rules_markdown(), "regenerate: python -m compiler.rules.docs > docs/rules.md"


def _codes(example: str, tmp_path: Path, name: str) -> set[str]:
    spec = deep_merge(BASE, yaml.safe_load(example) or {})
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return {f.code for f in check_spec(path).findings}


@pytest.mark.parametrize("code", sorted(c for c in RULES if c.startswith(EXAMPLE_PREFIXES)))
def test_rule_examples_behave(code: str, tmp_path: Path) -> None:
    rule = RULES[code]
    assert code in _codes(rule.bad, tmp_path, "bad"), f"{code}'s bad example does not trigger it"
    assert code not in _codes(rule.good, tmp_path, "good"), f"{code}'s good example triggers it"
