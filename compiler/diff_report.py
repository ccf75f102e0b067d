"""Renderers for `trtdeploy diff`: terminal text, a Markdown pull-request comment, and JSON.

File names, keys, values and finding messages come from the pull request under review, so
every one of them goes through compiler.escape: in text as one visible line, in the comment
as escaped Markdown or HTML. A spec can neither add rows nor hide them, nor write HTML.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from compiler.diff import IMPACT_COST, REMOVED_STEP, DefaultValue, GateChange, MemorySide, SpecDiff
from compiler.escape import html_text, markdown_code, markdown_text, visible
from compiler.findings import Finding
from compiler.memory import GIB
from compiler.migration import Migration, MigrationItem

# The migration's lists, in the order a review reads them, with their headings.
MIGRATION_PARTS = (("dropped", "dropped"), ("added", "added"), ("mapped", "maps to"),
                   ("no_equivalent", "no equivalent"))

_BOLD, _RED, _GREEN, _YELLOW, _RESET = "\033[1m", "\033[31m", "\033[32m", "\033[33m", "\033[0m"


def _gib(n: int) -> str:
    return f"{n / GIB:.1f} GiB"


def _memory_text(before: MemorySide | None, after: MemorySide | None) -> str:
    if before is None and after is None:
        return "n/a"
    if before is None:
        assert after is not None
        return f"{_gib(after.per_gpu_bytes)} per GPU ({'fits' if after.fits else 'does NOT fit'})"
    if after is None:
        return f"{_gib(before.per_gpu_bytes)} per GPU before"
    delta = after.per_gpu_bytes - before.per_gpu_bytes
    sign = "+" if delta >= 0 else "−"
    fits = "fits" if after.fits else "does NOT fit"
    return f"{_gib(before.per_gpu_bytes)} → {_gib(after.per_gpu_bytes)} per GPU ({sign}{_gib(abs(delta))}, {fits})"


def _value(value: Any) -> str:
    """A key's value as one visible line."""
    if value is None:
        return "—"
    if isinstance(value, DefaultValue):
        return f"{visible(json.dumps(value.value, ensure_ascii=False))} (default)"
    return visible(json.dumps(value, ensure_ascii=False))


def _json_value(value: Any) -> Any:
    return value.value if isinstance(value, DefaultValue) else value


def _finding_line(f: Finding) -> str:
    return f"{f.code} {f.severity.value}: {visible(f.message)}"


def _threshold(gate: GateChange, value: float | None) -> str:
    return "—" if value is None else f"{'>=' if gate.bound == 'min' else '<='} {value:g} {gate.unit}"


def _gate_thresholds(gate: GateChange) -> str:
    if gate.before == gate.after:
        return _threshold(gate, gate.after)
    return f"{_threshold(gate, gate.before)} → {_threshold(gate, gate.after)}"


def _gate_measured(gate: GateChange) -> str:
    if gate.value is None:
        return "not measured"
    side = {"both": "", "base": " (by the base's steps)", "head": " (by this change's steps)"}[gate.measured_on]
    return f"{gate.value:g} {gate.unit}{side}: {'passes' if gate.passed else 'FAILS'}"


def render_text(diffs: Sequence[SpecDiff], colour: bool = False) -> str:
    def paint(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if colour else text

    if not diffs:
        return "no spec changed\n"
    lines = []
    for d in diffs:
        base = ", base spec" if d.abstract else ""
        was = f", was {visible(d.old_path)}" if d.old_path and d.old_path != d.path else ""
        title = f"{visible(d.path)} ({d.status.value}{base}{was})"
        lines.append(paint(_BOLD, title))
        lines.append(f"  impact: {paint(_YELLOW, d.impact.value)}: {IMPACT_COST[d.impact]}")
        if d.via:
            lines.append(f"  through extends: {', '.join(visible(v) for v in d.via)}")
        for c in d.changes:
            where = f":{c.line}" if c.line else ""
            lines.append(f"  {visible(c.key)}{where}: {_value(c.old)} → {_value(c.new)}")
        for s in d.steps:
            lines.append(f"  no longer runs {s.step} ({s.tool})" if s.aspects == (REMOVED_STEP,) else
                         f"  re-runs {s.step} ({s.tool}): {', '.join(s.aspects)} changed")
        lines.append(f"  memory: {_memory_text(d.memory_before, d.memory_after)}")
        for g in d.gates:
            lines.append(f"  gate {visible(g.name)}: {_gate_thresholds(g)}; measured {_gate_measured(g)}")
        for f in d.findings_added:
            lines.append("  " + paint(_RED, "+ " + _finding_line(f)))
        for f in d.findings_removed:
            lines.append("  " + paint(_GREEN, "- " + _finding_line(f)))
        if d.migration is not None:
            lines += _migration_text(d.migration)
    return "\n".join(lines) + "\n"


def _item_text(item: MigrationItem) -> str:
    value = f" ({_value(item.value)})" if item.value is not None else ""
    becomes = f" → {visible(item.becomes)}" if item.becomes else ""
    return f"{visible(item.subject)}{value}{becomes}" + (f": {visible(item.why)}" if item.why else "")


def _migration_text(m: Migration) -> list[str]:
    lines = [f"  backend: {m.old_backend} → {m.new_backend}" + (f": {visible(m.why)}" if m.why else "")]
    for part, heading in MIGRATION_PARTS:
        lines += [f"    {heading}: {_item_text(item)}" for item in getattr(m, part)]
    lines += [f"    cannot serve: {_finding_line(f)}" for f in m.cannot_serve]
    return lines


def render_markdown(diffs: Sequence[SpecDiff]) -> str:
    if not diffs:
        return "### trtdeploy: no deployment spec changed\n"
    worst = max(diffs, key=lambda d: d.impact.rank).impact
    errors = sum(1 for d in diffs if d.introduces_error)
    out = [
        "### trtdeploy: deployment changes",
        "",
        f"{len(diffs)} spec{'s' if len(diffs) != 1 else ''} changed; most expensive impact: **{worst.value}** "
        f"({IMPACT_COST[worst]}).{f' **{errors} introduce errors.**' if errors else ''}",
        "",
        "| spec | status | impact | memory per GPU | findings |",
        "|---|---|---|---|---|",
    ]
    for d in diffs:
        findings = f"+{len(d.findings_added)} / −{len(d.findings_removed)}"
        if d.introduces_error:
            findings += " ❌"
        status = f"{d.status.value} (base spec)" if d.abstract else d.status.value
        out.append(f"| {markdown_code(d.path)} | {status} | **{d.impact.value}** | "
                   f"{_memory_text(d.memory_before, d.memory_after)} | {findings} |")
    out.append("")
    for d in diffs:
        out += _markdown_details(d)
    return "\n".join(out)


def _markdown_details(d: SpecDiff) -> list[str]:
    out = ["<details>", f"<summary><code>{html_text(d.path)}</code>: {d.impact.value}</summary>", ""]
    if d.abstract:
        out += ["A base spec: it deploys nothing itself; the specs that extend it carry the impact.", ""]
    else:
        out += [f"Impact: {IMPACT_COST[d.impact]}.", ""]
    if d.via:
        out += [f"Changed through `extends`: {', '.join(markdown_code(v) for v in d.via)}.", ""]
    if d.changes:
        out += ["| key | line | old | new |", "|---|---|---|---|"]
        out += [f"| {markdown_code(c.key)} | {c.line or ''} | {markdown_code(_value(c.old))} | "
                f"{markdown_code(_value(c.new))} |" for c in d.changes]
        out.append("")
    if d.steps:
        out += [f"- no longer runs **{markdown_text(s.step)}** ({markdown_code(s.tool)})"
                if s.aspects == (REMOVED_STEP,) else f"- re-runs **{markdown_text(s.step)}** ({markdown_code(s.tool)}): "
                f"{markdown_text(', '.join(s.aspects))} changed" for s in d.steps]
        out.append("")
    if d.gates:
        out += ["| verify gate | base | this change | last build measured |", "|---|---|---|---|"]
        out += [f"| {markdown_code(g.name)} | {_threshold(g, g.before)} | {_threshold(g, g.after)} | "
                f"{markdown_text(_gate_measured(g))} |" for g in d.gates]
        out.append("")
    if d.findings_added or d.findings_removed:
        out += [f"- ➕ {markdown_code(f.code)} {f.severity.value}: {markdown_text(f.message)}" for f in d.findings_added]
        out += [f"- ➖ {markdown_code(f.code)} {f.severity.value}: {markdown_text(f.message)}"
                for f in d.findings_removed]
        out.append("")
    if d.migration is not None:
        out += _migration_markdown(d.migration)
    out += ["</details>", ""]
    return out


def _migration_markdown(m: Migration) -> list[str]:
    out = [f"**Backend migration: {m.old_backend} → {m.new_backend}.**"
           + (f" {markdown_text(m.why)}" if m.why else ""), ""]
    rows = [(heading, item) for part, heading in MIGRATION_PARTS for item in getattr(m, part)]
    if rows:
        out += ["| | old | becomes | why |", "|---|---|---|---|"]
        out += [f"| {heading} | {markdown_code(item.subject)}"
                + (f" {markdown_code(_value(item.value))}" if item.value is not None else "")
                + f" | {markdown_code(item.becomes) if item.becomes else '—'} | {markdown_text(item.why)} |"
                for heading, item in rows]
        out.append("")
    if m.cannot_serve:
        out += [f"- ⛔ cannot serve: {markdown_code(f.code)} {f.severity.value}: {markdown_text(f.message)}"
                + (f" (help: {markdown_text(f.hint)})" if f.hint else "") for f in m.cannot_serve]
        out.append("")
    return out


def _memory_json(m: MemorySide | None) -> dict[str, object] | None:
    return None if m is None else {"per_gpu_bytes": m.per_gpu_bytes, "usable_bytes": m.usable_bytes, "fits": m.fits}


def _migration_json(m: Migration | None) -> dict[str, object] | None:
    if m is None:
        return None
    parts: dict[str, object] = {part: [{"subject": i.subject, "value": _json_value(i.value), "becomes": i.becomes,
                                         "why": i.why} for i in getattr(m, part)] for part, _ in MIGRATION_PARTS}
    return {"from": m.old_backend, "to": m.new_backend, "why": m.why, **parts,
            "cannot_serve": [f.to_json() for f in m.cannot_serve]}


def render_json(diffs: Sequence[SpecDiff]) -> str:
    payload = {
        "specs": [
            {
                "path": d.path,
                "old_path": d.old_path,
                "status": d.status.value,
                "impact": d.impact.value,
                "via": list(d.via),
                "abstract": d.abstract,
                "changes": [{"key": c.key, "old": _json_value(c.old), "new": _json_value(c.new), "line": c.line}
                            for c in d.changes],
                "steps": [{"step": s.step, "tool": s.tool, "aspects": list(s.aspects)} for s in d.steps],
                "memory": {"before": _memory_json(d.memory_before), "after": _memory_json(d.memory_after)},
                "findings": {"added": [f.to_json() for f in d.findings_added],
                             "removed": [f.to_json() for f in d.findings_removed]},
                "gates": [{"name": g.name, "unit": g.unit, "bound": g.bound, "before": g.before, "after": g.after,
                           "measured": g.value, "passed": g.passed, "measured_on": g.measured_on or None}
                          for g in d.gates],
                "migration": _migration_json(d.migration),
            }
            for d in diffs
        ],
        "summary": {
            "changed": len(diffs),
            "impact": max((d.impact for d in diffs), key=lambda i: i.rank).value if diffs else "none",
            "introduces_errors": any(d.introduces_error for d in diffs),
        },
    }
    # ASCII: a C1 control or a file name that is not UTF-8 (a lone surrogate) is escaped, never written raw.
    return json.dumps(payload, indent=2, default=str) + "\n"
