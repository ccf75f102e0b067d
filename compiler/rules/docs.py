"""Rule documentation: `trtdeploy explain CODE` text and docs/rules.md, both from the registry."""

from __future__ import annotations

import textwrap

from compiler.rules import PREFIXES, Rule, load_rules


def explain_rule(rule: Rule) -> str:
    parts = [
        f"{rule.code} {rule.name} ({rule.severity.value}, since {rule.since}{', removed' if rule.removed else ''})",
        "",
        rule.summary,
        "",
        "Why:",
        textwrap.indent(textwrap.fill(rule.why, 88), "  "),
        "",
        "Bad:",
        textwrap.indent(rule.bad.rstrip(), "  "),
        "",
        "Good:",
        textwrap.indent(rule.good.rstrip(), "  "),
        "",
        f"Fix: {rule.hint}",
    ]
    return "\n".join(parts)


def rules_markdown() -> str:
    """docs/rules.md: the prefix table, then one section per rule."""
    rules = sorted(load_rules().values(), key=lambda r: r.code)
    out = [
        "# Rules",
        "",
        "Generated from the rule registry (`python -m compiler.rules.docs > docs/rules.md`); "
        "`trtdeploy explain CODE` prints the same text.",
        "Silence a rule with `--ignore CODE` or `ignore: [CODE]` in a spec; raise a warning to an error with "
        "`--error CODE` or `error: [CODE]`.",
        "",
        "| prefix | category |",
        "|---|---|",
        *[f"| {prefix} | {text} |" for prefix, text in PREFIXES.items()],
        "",
        "| code | name | severity | summary |",
        "|---|---|---|---|",
        *[f"| [{r.code}](#{r.code.lower()}) | {r.name} | {r.severity.value} | {r.summary} |" for r in rules],
        "",
    ]
    for r in rules:
        out += [
            f"## {r.code}",
            "",
            f"**{r.name}** · {r.severity.value} · stage: {r.stage} · since {r.since}",
            "",
            r.summary,
            "",
            f"**Why.** {r.why}",
            "",
            "**Bad**",
            "",
            "```yaml",
            r.bad.rstrip(),
            "```",
            "",
            "**Good**",
            "",
            "```yaml",
            r.good.rstrip(),
            "```",
            "",
            f"**Fix.** {r.hint}",
            "",
        ]
    return "\n".join(out)


if __name__ == "__main__":
    print(rules_markdown(), end="")
