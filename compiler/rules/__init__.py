"""validate: the rule registry. Each rule is a small pure function Resolved -> findings.

Codes are grouped by prefix, like a linter's; a code is never reused, and a retired
rule keeps its entry with `removed=True`.

| prefix | category                                                        |
|--------|-----------------------------------------------------------------|
| S      | spec: YAML, shape, names that do not resolve (load and resolve) |
| D      | divisibility of the model over tp / pp / group size             |
| H      | hardware and release-line support of precisions and formats     |
| L      | launch topology: GPUs, nodes, world size                        |
| M      | memory fit, serving and build time                              |
| C      | configuration: limits, plugins, calibration                     |
| P      | plan: what a release line's tools can express                   |
| B      | build: the build folder, plan.json, runs and the build host     |

Rules never raise and never stop at the first problem: `validate` runs them all.
`trtdeploy explain CODE` and docs/rules.md are generated from this registry.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from compiler.findings import Finding, Severity
from compiler.resolve import Resolved


@dataclass(frozen=True)
class Issue:
    """What a rule function yields: the problem, the fix and the key it is about."""

    key: str
    message: str
    hint: str
    severity: Severity | None = None


Check = Callable[[Resolved], Iterable[Issue]]


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


PREFIXES: dict[str, str] = {
    "S": "spec: YAML, shape, names that do not resolve (load and resolve)",
    "D": "divisibility of the model over tp / pp / group size",
    "H": "hardware and release-line support of precisions and formats",
    "L": "launch topology: GPUs, nodes, world size",
    "M": "memory fit, serving and build time",
    "C": "configuration: limits, plugins, calibration",
    "P": "plan: what a release line's tools can express",
    "B": "build: the build folder, plan.json, runs and the build host (stage run)",
}
REGISTRY: dict[str, Rule] = {}
RULE_MODULES = ("shape", "divisibility", "hardware", "launch", "memory", "config", "plan", "build")


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
) -> Callable[[Check], Check]:
    """Register a validator rule. The function yields Issues; the registry adds code, severity and location."""

    def wrap(check: Check) -> Check:
        register(Rule(code, name, severity, summary, why, bad, good, hint, since, check))
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


def _run(rule_: Rule, resolved: Resolved) -> Iterator[Finding]:
    assert rule_.check is not None
    for issue in rule_.check(resolved):
        yield Finding(
            rule_.code,
            issue.severity or rule_.severity,
            issue.message,
            issue.hint or rule_.hint,
            issue.key,
            resolved.location(issue.key),
        )


def validate(resolved: Resolved) -> list[Finding]:
    """Run every validator rule on a resolved spec and return all findings, sorted by place."""
    findings: list[Finding] = []
    for rule_ in load_rules().values():
        if rule_.check is not None and not rule_.removed:
            findings.extend(_run(rule_, resolved))
    return sorted(findings, key=Finding.sort_key)


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
