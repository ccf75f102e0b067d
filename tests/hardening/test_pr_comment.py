"""Issue 10, item 2: spec values, keys and file names cannot inject into a pull-request comment, plan.md, the
terminal or GitHub annotations.

Each hostile text is put where a pull request controls it: a spec's description (the diff's table of changed
keys), a file name (the diff's summary table and `<summary>` lines, `check`'s locations, plan.md), an unknown
key (a changed key and an S107 message), and values the plan prints (paths and prompts in commands). The
Markdown is rendered with a real CommonMark parser (tests/hardening/htmlkit.py) and read back as HTML: only
the elements trtdeploy writes may be there, no comment, no attribute, the rows trtdeploy wrote and no others,
and every hostile text shown literally (as compiler.escape.visible shows it).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from compiler.cli import cli
from compiler.escape import visible
from compiler.load import quoted_key
from gitkit import commit_all, init
from htmlkit import Rendered, render, rows

HOSTILE = {
    "close the code span, summary and details": "` </code></summary></details><h1>LGTM: no impact</h1>"
                                                 "<img src=x onerror=alert(1)> `",
    "forged impact row": "x\n| `specs/fine.yaml` | modified | **none** | n/a | +0 / −0 |\n",
    "forged rows after CR LF": "x\r\n\r\n| key | line | old | new |\n|---|---|---|---|\n| `k` | 1 | `a` | `b` |",
    "an HTML comment hiding the rest": "<!-- ",
    "an HTML comment, closed": "<!-- hidden --> shown",
    "a raw details block": "\n\n<details><summary>approve</summary>\n\n",
    "a code fence": "\n```\n</code>\n```\n",
    "a pipe, a backslash and an escaped pipe": "a | b \\| c \\\\| d \\",
    "links and images": "[ok](javascript:alert(1)) ![x](https://e.invalid/x.png) <https://e.invalid>",
    "emphasis, strikethrough, math": "**LGTM** _x_ ~~requantize~~ $\\href{javascript:x}{y}$",
    "entities": "&lt;b&gt; &#60;script&#62; &amp;",
    "a heading and a list": "\n# Approved\n- [x] reviewed\n",
    "terminal escapes": "\x1b[2J\x1b]0;pwned\x07\x1b[31mred\x9b31m",
    "bidi overrides and separators": "safe\u202eexe.yaml\u2066\u2028line\u2029para\u0085nel",
}
# What trtdeploy itself writes into a diff comment and plan.md.
DIFF_TAGS = {"h3", "p", "strong", "table", "thead", "tbody", "tr", "th", "td", "code", "details", "summary", "ul", "li"}
PLAN_TAGS = {"h1", "h2", "h3", "p", "strong", "table", "thead", "tbody", "tr", "th", "td", "code", "pre", "ul", "li"}
# Characters that must never reach a terminal or a log raw (line breaks are trtdeploy's own).
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
TRTDEPLOY_COLOURS = re.compile("\x1b\\[(?:0|1|31|32|33)m")  # bold, red, green, yellow, reset: --color's own

SPEC = {"name": "chat", "model": {"name": "llama-2-7b"}, "quantization": {"format": "int8_wo"},
        "target": {"gpu": "A100-80GB", "tensorrt_llm": "1.2.0"}}


def _file_name(text: str) -> str:
    """The hostile text as a file name: no '/' (a path separator), at most 200 bytes."""
    return text.replace("/", "\u2215")[:60] + ".yaml"


def _write(path: Path, spec: dict[str, object]) -> None:
    path.write_text(yaml.safe_dump(spec, allow_unicode=False), encoding="utf-8")


def _cli(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 1), result.output
    return result


def _shows_only_trtdeploy_html(rendered: Rendered, allowed: set[str]) -> None:
    assert rendered.tags() <= allowed, f"elements from user input: {rendered.tags() - allowed}"
    assert not rendered.comments, f"an HTML comment or declaration survived: {rendered.comments}"
    foreign = [a for a in rendered.attributes() if a != ("code", [("class", "language-bash")])]  # plan.md's fences
    assert not foreign, f"attributes from user input: {foreign}"


@pytest.fixture()
def pull_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = init(tmp_path / "repo")
    (repo / "specs").mkdir()
    _write(repo / "specs" / "chat.yaml", SPEC)
    commit_all(repo, "specs")
    monkeypatch.chdir(repo)
    return repo


@pytest.mark.parametrize("name", list(HOSTILE))
def test_the_diff_comment_shows_hostile_text_literally_and_only_its_own_rows(pull_request: Path, name: str) -> None:
    hostile = HOSTILE[name]
    specs = pull_request / "specs"
    _write(specs / "chat.yaml", {**SPEC, "description": hostile})  # impact none
    renamed = f"specs/{_file_name(hostile)}"
    _write(pull_request / renamed, {**SPEC, "quantization": {"format": "int4_wo"}})  # added: requantize
    _write(specs / "keys.yaml", {**SPEC, hostile: 1})  # added, with an unknown key: an error
    result = _cli("diff", "--base", "main", "--format", "markdown", "specs")
    rendered = render(result.output)
    _shows_only_trtdeploy_html(rendered, DIFF_TAGS)

    summary, *details_tables = rendered.root.find("table")
    assert sorted(row[0] for row in rows(summary)) == sorted(visible(p) for p in
                                                             ["specs/chat.yaml", renamed, "specs/keys.yaml"])
    impact = {row[0]: row[2] for row in rows(summary)}
    assert impact == {"specs/chat.yaml": "none", visible(renamed): "requantize", "specs/keys.yaml": "requantize"}
    summaries = [element.text for element in rendered.root.find("summary")]
    assert sorted(summaries) == sorted(f"{visible(p)}: {impact[visible(p)]}" for p in
                                       ["specs/chat.yaml", renamed, "specs/keys.yaml"])
    assert len(rendered.root.find("details")) == 3

    changed = {row[0]: row[3] for table in details_tables for row in rows(table)}
    assert changed["description"] == visible(json.dumps(hostile, ensure_ascii=False))
    assert visible(hostile) in changed  # the unknown key, as a changed key
    findings = [item.text for item in rendered.root.find("li")]
    assert any(f"unknown key '{visible(quoted_key(hostile))}'" in text for text in findings), findings


@pytest.mark.parametrize("name", list(HOSTILE))
def test_diff_text_and_json_carry_no_raw_control_character(pull_request: Path, name: str) -> None:
    hostile = HOSTILE[name]
    _write(pull_request / "specs" / "chat.yaml", {**SPEC, "description": hostile, hostile: 1})
    _write(pull_request / "specs" / _file_name(hostile), SPEC)
    coloured = _cli("diff", "--base", "main", "--format", "text", "--color", "specs").output
    assert not RAW_CONTROL.search(TRTDEPLOY_COLOURS.sub("", coloured)), coloured
    plain = _cli("diff", "--base", "main", "--format", "text", "specs").output
    assert not RAW_CONTROL.search(plain), plain
    value = visible(json.dumps(hostile, ensure_ascii=False))
    assert any(line.startswith("  description:") and line.endswith(f" → {value}") for line in plain.splitlines())
    payload = _cli("diff", "--base", "main", "--format", "json", "specs").output
    assert payload.isascii() and json.loads(payload)["specs"][0]["changes"]


SERVED = {**SPEC, "quantization": {"format": "none"}, "target": {"gpu": "A100-80GB", "tensorrt_llm": "1.2.0",
                                                                   "backend": "pytorch"}}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_backend_migration_shows_hostile_llm_api_keys_literally(pull_request: Path, name: str) -> None:
    # Moving to the engine path: runtime.llm_api_options has no equivalent there, and the report names its keys.
    hostile = HOSTILE[name]
    served = {**SERVED, "runtime": {"llm_api_options": {hostile: 1}}}
    _write(pull_request / "specs" / "chat.yaml", served)
    commit_all(pull_request, "specs")
    _write(pull_request / "specs" / "chat.yaml", {**served, "target": {**SERVED["target"], "backend": "tensorrt"}})
    payload = json.loads(_cli("diff", "--base", "main", "--format", "json", "specs").output)
    migration = payload["specs"][0]["migration"]
    assert (migration["from"], migration["to"]) == ("pytorch", "tensorrt")
    assert {"subject": "runtime.llm_api_options", "value": [hostile], "becomes": "",
            "why": migration["no_equivalent"][-1]["why"]} == migration["no_equivalent"][-1]

    rendered = render(_cli("diff", "--base", "main", "--format", "markdown", "specs").output)
    _shows_only_trtdeploy_html(rendered, DIFF_TAGS)
    table = rendered.root.find("table")[-1]
    parts = ("dropped", "added", "mapped", "no_equivalent")
    assert len(rows(table)) == sum(len(migration[part]) for part in parts)  # the rows trtdeploy wrote, no others
    keys = visible(json.dumps([hostile], ensure_ascii=False))
    assert [f"runtime.llm_api_options {keys}", "—"] in [row[1:3] for row in rows(table) if row[0] == "no equivalent"]
    plain = _cli("diff", "--base", "main", "--format", "text", "specs").output
    assert not RAW_CONTROL.search(plain), plain
    assert f"    no equivalent: runtime.llm_api_options ({keys}): " in plain


@pytest.mark.parametrize("name", list(HOSTILE))
def test_check_text_and_annotations_show_one_line_per_message(tmp_path: Path, name: str) -> None:
    hostile = HOSTILE[name]
    folder = tmp_path / "specs"
    folder.mkdir()
    spec = {**SPEC, "model": {"name": hostile}, hostile: 1, "extends": f"./{hostile.replace('/', '-')}"}
    _write(folder / _file_name(hostile), spec)
    text = _cli("check", "--format", "text", str(folder)).output
    assert not RAW_CONTROL.search(text), text
    lines = text.splitlines()
    assert len(lines) == 3 and lines[1].startswith("  help: ") and lines[2].startswith("1 spec checked")
    place = re.escape(visible(str(folder / _file_name(hostile))))
    assert re.match(f"{place}:[0-9]+:[0-9]+: S103 error: extends: ", lines[0]), lines[0]

    _write(folder / _file_name(hostile), {**SPEC, hostile: 1})  # S107, quoting the key
    _write(folder / f"model {_file_name(hostile)}", {**SPEC, "model": {"name": hostile}})  # S110, quoting the value
    text = _cli("check", "--format", "text", str(folder)).output
    assert not RAW_CONTROL.search(text), text
    lines = text.splitlines()
    assert len(lines) == 5 and lines[4] == "2 specs checked: 2 errors, 0 warnings", text
    messages, hints = lines[0:4:2], lines[1:4:2]
    assert all(hint.startswith("  help: ") for hint in hints)
    codes = {re.search(":[0-9]+:[0-9]+: (S1[0-9][0-9]) error: ", m).group(1) for m in messages}  # type: ignore[union-attr]
    assert codes == {"S107", "S110"}
    assert any(f"unknown key '{visible(quoted_key(hostile))}'" in m for m in messages)
    assert any(visible(hostile) in m or visible(hostile[:40]) in m for m in messages if "S110" in m)

    github = _cli("check", "--format", "github", str(folder)).output
    assert not RAW_CONTROL.search(github), github
    annotations = github.splitlines()
    assert len(annotations) == 2 and all(line.startswith("::error file=") for line in annotations)
    for line, message, hint in zip(annotations, messages, hints):
        data = line.split("::", 2)[2]
        shown, advice = data.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%").split("\n")
        assert message.endswith(shown) and hint == f"  help: {advice}"


@pytest.mark.parametrize("name", list(HOSTILE))
def test_plan_md_shows_hostile_values_in_code_blocks_and_adds_nothing(tmp_path: Path, name: str) -> None:
    hostile = HOSTILE[name]
    spec = {"name": "chat", "model": {"name": "llama-2-7b", "path": f"/models/{hostile}"},
            "quantization": {"format": "fp8", "calibration": {"dataset": f"./calibration {hostile}"}},
            "target": {"gpu": "H100-SXM", "tensorrt_llm": "0.16.0"}, "launch": {"run": {"input_text": hostile}}}
    path = tmp_path / _file_name(hostile)
    _write(path, spec)
    markdown = _cli("plan", str(path), "--format", "markdown")
    assert markdown.exit_code == 0, markdown.output
    rendered = render(markdown.output)
    _shows_only_trtdeploy_html(rendered, PLAN_TAGS)
    assert [h.text for h in rendered.root.find("h2")] == ["Memory per GPU", "Steps", "Launch", "Decisions"]
    # 0.16.0's quantize.py reads dataset folders: a step stages the local file into one first.
    assert [h.text.split(":")[0] for h in rendered.root.find("h3")] == [
        "steps/01-calibration.sh", "steps/02-quantize.sh", "steps/03-build.sh"]
    blocks = [block.text for block in rendered.root.find("pre")]
    assert len(blocks) == 5  # three steps, mpirun, each rank
    assert any(visible(hostile.replace("'", "'\"'\"'")) in block for block in blocks), blocks
    assert f"Spec {visible(str(path))} ·" in rendered.root.find("p")[0].text

    text = _cli("plan", str(path)).output
    assert not RAW_CONTROL.search(text), text
