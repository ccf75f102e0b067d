"""validate: the rule registry. Each rule is a small pure function Decided -> findings.

Codes are grouped by prefix, like a linter's; a code is never reused, and a retired
rule keeps its entry with `removed=True`.

| prefix | category                                                        |
|--------|-----------------------------------------------------------------|
| S      | spec: YAML, shape, names that do not resolve (load and resolve) |
| D      | divisibility of the model over tp / pp / group size             |
| H      | hardware and release support of precisions and formats          |
| L      | launch topology: GPUs, nodes, world size                        |
| M      | memory fit, serving and build time                              |
| C      | configuration: limits, plugins, calibration                     |
| P      | plan: what a release's tools can express                        |
| B      | build: the build folder, plan.json, runs and the build host     |

Rules never raise and never stop at the first problem: `validate` runs them all.
`trtdeploy explain CODE` and docs/rules.md are generated from this registry.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from compiler.findings import Finding, Severity, draft

if TYPE_CHECKING:
    from compiler.decide.model import Decided

# What a rule function yields: drafts (compiler.findings.draft) about a spec key; the
# registry gives each the rule's code, its severity unless the draft has its own, the
# location of the key, and the rule's hint when the draft has none.
Check = Callable[["Decided"], Iterable[Finding]]
__all__ = ["ENGINE", "Check", "PREFIXES", "REGISTRY", "Rule", "draft", "gaps_of", "load_rules", "register", "rule", "validate"]
# `backends=ENGINE`: a rule about trtllm-build, its plugins or the engine path's tools.
ENGINE = ("tensorrt",)


@dataclass(frozen=True)
class Rule:
    """A registered rule: identity, documentation and (for validator rules) its check."""

    code: str
    name: str
    severity: Severity
    summary: str
    why: str
    bad: str
    good: str
    hint: str
    since: str = "0.1.0"
    check: Check | None = field(default=None, compare=False)
    stage: str = "validate"
    removed: bool = False
    # The backends whose tools the rule is about ("tensorrt", "pytorch"); empty: every backend.
    backends: tuple[str, ...] = ()


PREFIXES: dict[str, str] = {
    "S": "spec: YAML, shape, names that do not resolve (load and resolve)",
    "D": "divisibility of the model over tp / pp / group size",
    "H": "hardware and release support of precisions and formats",
    "L": "launch topology: GPUs, nodes, world size",
    "M": "memory fit, serving and build time",
    "C": "configuration: limits, plugins, calibration",
    "P": "plan: what a release's tools can express",
    "B": "build: the build folder, plan.json, runs and the build host (stage run)",
}
REGISTRY: dict[str, Rule] = {}
RULE_MODULES = ("shape", "divisibility", "hardware", "launch", "kubernetes", "memory", "config", "plan", "verify",
                "build")


def register(rule: Rule) -> Rule:
    if rule.code in REGISTRY:
        raise ValueError(f"rule code {rule.code} registered twice")
    REGISTRY[rule.code] = rule
    return rule


def rule(
    code: str,
    name: str,
    severity: Severity,
    summary: str,
    *,
    why: str,
    bad: str,
    good: str,
    hint: str,
    since: str = "0.1.0",
    backends: tuple[str, ...] = (),
) -> Callable[[Check], Check]:
    """Register a validator rule. The function yields drafts; the registry adds code, severity and location.

    `backends` limits the rule to deployments on those backends (an engine-build rule means nothing
    for the PyTorch backend).
    """

    def wrap(check: Check) -> Check:
        register(Rule(code, name, severity, summary, why, bad, good, hint, since, check, backends=backends))
        return check

    return wrap


_loaded = False


def load_rules() -> dict[str, Rule]:
    """Import every rule module once, so that each registers its rules."""
    global _loaded
    if not _loaded:
        for module in RULE_MODULES:
            importlib.import_module(f"compiler.rules.{module}")
        _loaded = True
    return REGISTRY


def _run(rule_: Rule, decided: Decided) -> Iterator[Finding]:
    assert rule_.check is not None
    for found in rule_.check(decided):
        yield replace(
            found,
            code=rule_.code,
            severity=rule_.severity if found.draft else found.severity,
            hint=found.hint or rule_.hint,
            location=decided.r.location(found.key),
            draft=False,
        )


def validate(decided: Decided) -> list[Finding]:
    """Run every validator rule on a decided spec and return all findings, sorted by place."""
    findings: list[Finding] = []
    backend = decided.backend.value.value
    for rule_ in load_rules().values():
        if rule_.check is not None and not rule_.removed and (not rule_.backends or backend in rule_.backends):
            findings.extend(_run(rule_, decided))
    return sorted(findings, key=Finding.sort_key)


def gaps_of(decided: Decided, code: str) -> Iterator[Finding]:
    """The decided gaps a rule reports: what the backend's or the launcher's tools cannot express."""
    return (gap for gap in decided.gaps if gap.code == code)


def apply_policy(
    findings: Iterable[Finding], ignore: Iterable[str] = (), error: Iterable[str] = ()
) -> list[Finding]:
    """Silence codes in `ignore` and raise codes in `error` to errors ('ALL' raises every warning)."""
    ignored, raised = set(ignore), set(error)
    kept = []
    for finding in findings:
        if finding.code in ignored or finding.code[0] in ignored:
            continue
        if finding.severity is Severity.WARNING and ({finding.code, finding.code[0], "ALL"} & raised):
            finding = finding.with_severity(Severity.ERROR)
        kept.append(finding)
    return kept
