"""Issue 10, items 3, 4 and 5: what the loader reads, and how it reads it.

- `extends:` is confined to the repository that holds the spec (S115), and a file that is not a spec is
  refused without quoting it (S102): neither a runner's files nor a secret reach logs or comments.
- A YAML tag beyond plain text, numbers, booleans, null, mappings and lists is a finding (S101, S108 for a
  date), never a value that crashes `diff` later.
- YAML 1.1's octal (`010`) and base-60 (`1:30`) numbers are refused with the number to write (S108).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from compiler.cli import cli
from compiler.pipeline import check_spec
from gitkit import init

SECRET = "hunter2-do-not-print"
SPEC = """\
name: chat
model: {name: llama-2-7b}
quantization: {format: int8_wo}
target: {gpu: A100-80GB, tensorrt_llm: "1.2.0"}
"""
FORMATS = ("text", "json", "github")


def _cli(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return result


def _codes(path: Path) -> list[tuple[str, int]]:
    return [(f.code, f.location.line if f.location else 0) for f in check_spec(path).findings]


# ---------------------------------------------------------------- item 3: extends stays in the repository

# Where a pull request's spec may point `extends:`; {outside} is a folder beside the repository.
ESCAPING_EXTENDS = {
    "absolute path outside": "{outside}/secret.yaml",
    "relative path out of the repository": "../../outside/secret.yaml",
    "deep relative path to /etc": "../" * 40 + "etc/passwd",
    "/etc/passwd": "/etc/passwd",
    "/etc/shadow": "/etc/shadow",
    "/proc/self/environ": "/proc/self/environ",
    "/dev/stdin": "/dev/stdin",
    "a link in the repository to a file outside": "link-to-secret.yaml",
    "a file under a linked folder that leads outside": "linked-folder/secret.yaml",
    "a link to a link to a file outside": "link-to-link.yaml",
    "the repository's parent folder": "../..",
    "a path with a NUL-free but odd name outside": "{outside}/odd \n name.yaml",
}
# Secret-like files, each named on the command line: refused without quoting any of it.
NOT_SPECS = {
    "a YAML config with secrets": f"password: {SECRET}\naws_secret_access_key: {SECRET}\n",
    "a JSON credential file": json.dumps({"token": SECRET, "user": SECRET}),
    "a shadow file": f"root:{SECRET}:19000:0:99999:7:::\nbackup:*:19000:0:99999:7:::\n",
    "an env file": f"HF_TOKEN={SECRET}\nAWS_KEY={SECRET}\n",
    "a private key": f"-----BEGIN OPENSSH PRIVATE KEY-----\n{SECRET}\n-----END OPENSSH PRIVATE KEY-----\n",
    "an ini file": f"[default]\naws_secret_access_key = {SECRET}\n",
    "a secret key holding a mapping": f"{SECRET}:\n  {SECRET}: {SECRET}\n",
}


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """A git work tree with specs/; beside it, outside/ holds a secret that looks like a spec."""
    root = init(tmp_path / "repo")
    (root / "specs").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = f"name: {SECRET}\ndescription: {SECRET}\nbackup: {SECRET}\n"
    (outside / "secret.yaml").write_text(secret)
    (outside / "odd \n name.yaml").write_text(secret)
    (root / "specs" / "link-to-secret.yaml").symlink_to(outside / "secret.yaml")
    (root / "specs" / "link-to-link.yaml").symlink_to("link-to-secret.yaml")
    (root / "specs" / "linked-folder").symlink_to(outside)
    return root


@pytest.mark.parametrize("name", list(ESCAPING_EXTENDS))
def test_extends_outside_the_repository_is_refused_without_reading_it(repo: Path, name: str) -> None:
    target = ESCAPING_EXTENDS[name].format(outside=repo.parent / "outside")
    spec = repo / "specs" / "pr.yaml"
    spec.write_text(f"extends: {json.dumps(target)}\n{SPEC}")
    assert _codes(spec) == [("S115", 1)]
    for fmt in FORMATS:
        result = _cli("check", "--format", fmt, str(spec))
        assert result.exit_code == 1 and "S115" in result.output and SECRET not in result.output
    for command in (["plan", str(spec)], ["compile", str(spec), "-o", str(repo / "out")]):
        result = _cli(*command)
        assert result.exit_code == 1 and SECRET not in result.output
    assert not (repo / "out").exists()


def test_a_diff_of_a_spec_extending_outside_quotes_nothing(repo: Path) -> None:
    old = repo / "specs" / "old.yaml"
    old.write_text(SPEC)
    new = repo / "specs" / "new.yaml"
    new.write_text(f"extends: {repo.parent / 'outside' / 'secret.yaml'}\n{SPEC}")
    for fmt in ("text", "markdown", "json"):
        result = _cli("diff", "--format", fmt, str(old), str(new))
        assert result.exit_code == 1 and "S115" in result.output and SECRET not in result.output


@pytest.mark.parametrize("target", ["../common/base.yaml", "sub/../../common/base.yaml", "{repo}/common/base.yaml"])
def test_extends_anywhere_inside_the_repository_is_allowed(repo: Path, target: str) -> None:
    (repo / "common").mkdir()
    (repo / "common" / "base.yaml").write_text(f"abstract: true\n{SPEC}")
    (repo / "specs" / "sub").mkdir()
    spec = repo / "specs" / "pr.yaml"
    spec.write_text(f"extends: {target.format(repo=repo)}\nname: pr\n")
    assert _codes(spec) == []


def test_outside_git_extends_stays_under_the_specs_folder(tmp_path: Path) -> None:
    """Without a git work tree, the spec's own folder is the repository."""
    (tmp_path / "base.yaml").write_text(f"abstract: true\n{SPEC}")
    (tmp_path / "deploy" / "bases").mkdir(parents=True)
    (tmp_path / "deploy" / "bases" / "base.yaml").write_text(f"abstract: true\n{SPEC}")
    above = tmp_path / "deploy" / "above.yaml"
    above.write_text("extends: ../base.yaml\nname: above\n")
    below = tmp_path / "deploy" / "below.yaml"
    below.write_text("extends: bases/base.yaml\nname: below\n")
    assert _codes(above) == [("S115", 1)]
    assert _codes(below) == []


@pytest.mark.parametrize("name", list(NOT_SPECS))
def test_a_file_that_is_not_a_spec_is_refused_without_quoting_it(tmp_path: Path, name: str) -> None:
    path = tmp_path / "credentials"
    path.write_text(NOT_SPECS[name])
    findings = check_spec(path).findings
    assert [f.code for f in findings] in (["S101"], ["S102"]), findings
    for fmt in FORMATS:
        result = _cli("check", "--format", fmt, str(path))
        assert result.exit_code == 1 and SECRET not in result.output and SECRET[:10] not in result.output


def test_a_long_unknown_key_is_quoted_only_in_part(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(f"{SPEC}{'k' * 30}{SECRET}: 1\n")
    [finding] = check_spec(path).findings
    assert finding.code == "S107" and SECRET not in finding.message and finding.message.endswith("…'")


# ---------------------------------------------------------------- item 4: tags make findings, not crashes

TAGGED = {
    "!!binary": ("!!binary aGVsbG8=", "S101"),
    "!!timestamp": ("!!timestamp 2024-01-01", "S108"),
    "an implicit date": ("2024-01-01", "S108"),
    "an implicit date and time": ("2024-01-01 10:00:00", "S108"),
    "!!set": ("!!set {a, b}", "S101"),
    "!!omap": ("!!omap [a: 1]", "S101"),
    "!!pairs": ("!!pairs [a: 1]", "S101"),
    "!!python/object": ("!!python/object:os.system {}", "S101"),
    "!!python/name": ("!!python/name:os.system", "S101"),
    "!!python/object/apply": ("!!python/object/apply:os.system [id]", "S101"),
    "a local tag": ("!secret x", "S101"),
    "a verbatim tag": ("!<tag:example.com,2024:x> x", "S101"),
    "!!binary in a flow list": ("[!!binary aGVsbG8=]", "S101"),
}
PLACES = {
    "name": "name: {value}\nmodel: {{name: llama-2-7b}}\ntarget: {{gpu: A10}}\n",
    "description": "description: {value}\nmodel: {{name: llama-2-7b}}\ntarget: {{gpu: A10}}\n",
    "model.name": "model:\n  name: {value}\ntarget: {{gpu: A10}}\n",
    "target.tensorrt_llm": "model: {{name: llama-2-7b}}\ntarget:\n  gpu: A10\n  tensorrt_llm: {value}\n",
    "a key": "model: {{name: llama-2-7b}}\ntarget: {{gpu: A10}}\n{value}: 1\n",
}


@pytest.mark.parametrize("place", list(PLACES))
@pytest.mark.parametrize("name", list(TAGGED))
def test_a_tagged_value_is_a_finding_in_check_and_diff(tmp_path: Path, name: str, place: str) -> None:
    value, code = TAGGED[name]
    if place == "a key" and value.startswith("["):
        value = "? " + value + "\n"  # a complex key: refused as not a plain word
    path = tmp_path / "tagged.yaml"
    path.write_text(PLACES[place].format(value=value))
    findings = check_spec(path).findings
    # A key is read as its text, so a date there is merely an unknown key.
    expected = {code, "S101"} | ({"S107"} if place == "a key" else set())
    assert [f.severity.value for f in findings] == ["error"] and findings[0].code in expected, findings
    old = tmp_path / "old.yaml"
    old.write_text("model: {name: llama-2-7b}\ntarget: {gpu: A10}\n")
    for fmt in ("text", "markdown", "json"):
        assert _cli("diff", "--format", fmt, str(old), str(path)).exit_code == 1


@pytest.mark.parametrize("value", ["!!str 010", "!!int 10", "!!float 1.5", "!!bool true", "!!null ''", "!!map {}"])
def test_the_plain_types_may_still_be_tagged(tmp_path: Path, value: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(f"{SPEC}description: {value}\n")
    assert [f.code for f in check_spec(path).findings if f.code.startswith("S10")] in ([], ["S108"])


# ---------------------------------------------------------------- item 5: numbers that read otherwise

YAML11_NUMBERS = {
    "010": "write 10,",
    "-010": "write -10,",
    "+010": "write 10,",
    "00": "write 0,",
    "0_10": "write 10,",
    "007": "write 7,",
    "1:30": "write 90,",
    "1:30:00": "write 5400,",
    "-1:30": "write -90,",
    "1:30.5": "write 90.5,",
}


@pytest.mark.parametrize("text", list(YAML11_NUMBERS))
@pytest.mark.parametrize("place", ["parallelism:\n  tp: {}\n", "limits: {{max_batch_size: {}}}\n",
                                   "launch:\n  hosts: [{}]\n", "description: {}\n"])
def test_yaml11_octal_and_base60_numbers_are_refused_with_the_number_to_write(tmp_path: Path, text: str,
                                                                              place: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC + place.format(text))
    [finding] = check_spec(path).findings
    line = SPEC.count("\n") + place.count("\n")  # the value is on the place's last line
    assert finding.code == "S108" and finding.location is not None and finding.location.line == line
    assert finding.hint.startswith(YAML11_NUMBERS[text]) and f"quote it if text is meant: '{text}'" in finding.hint


@pytest.mark.parametrize("text", ["10", "0", "-0", "0x10", "1_000", "'010'"])
def test_plain_numbers_still_read(tmp_path: Path, text: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC + f"limits: {{max_batch_size: {text}}}\n")
    codes = [f.code for f in check_spec(path).findings if f.code.startswith("S")]
    assert codes == ([] if text in ("10", "0x10", "1_000") else ["S108"])  # 0, -0: out of range; '010': text


def test_a_release_keeps_its_text(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.replace('"1.2.0"', "0.10"))
    report = check_spec(path)
    assert report.resolved is not None and report.resolved.spec.target.tensorrt_llm == "0.10"
