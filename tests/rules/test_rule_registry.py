"""The registry as documentation: every rule is explained, and docs/rules.md is current."""

from __future__ import annotations

import json
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
# Rule examples are snippets; these fill in what they leave out. 1.2.0 is the last release with both backends,
# so an example that names no release can be about either.
BASE: dict[str, Any] = {"model": {"name": "llama-2-7b"}, "target": {"gpu": "A100-SXM-80GB", "tensorrt_llm": "1.2.0"}}
EXAMPLE_PREFIXES = ("H", "L", "M", "C", "P")


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


# A checkpoint folder an example names holds this ModelOpt export (FP8 weights, no KV-cache scales).
CHECKPOINT = {"producer": {"name": "modelopt"}, "quantization": {"quant_algo": "FP8", "kv_cache_quant_algo": None}}


def _codes(example: str, tmp_path: Path, name: str, backends: tuple[str, ...] = ()) -> set[str]:
    base = deep_merge(BASE, {"target": {"backend": backends[0]}}) if backends else BASE
    spec = deep_merge(base, yaml.safe_load(example) or {})
    checkpoint = spec.get("quantization", {}).get("checkpoint")
    if checkpoint:
        (tmp_path / checkpoint).mkdir(parents=True, exist_ok=True)
        (tmp_path / checkpoint / "hf_quant_config.json").write_text(json.dumps(CHECKPOINT), encoding="utf-8")
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return {f.code for f in check_spec(path).findings}


@pytest.mark.parametrize("code", sorted(c for c, r in RULES.items() if c.startswith(EXAMPLE_PREFIXES) and not r.removed))
def test_rule_examples_behave(code: str, tmp_path: Path) -> None:
    rule = RULES[code]  # an example runs on the backend its rule is about
    assert code in _codes(rule.bad, tmp_path, "bad", rule.backends), f"{code}'s bad example does not trigger it"
    assert code not in _codes(rule.good, tmp_path, "good", rule.backends), f"{code}'s good example triggers it"
