"""Issue 10, items 1 and 4: `diff --base REV` reads an untrusted commit's tree and writes nothing outside its
temporary folder; a spec that is a link out of the repository is refused, not a crash.

Each hostile commit is built with real git (`git mktree -z`, `git commit-tree`): entries named `..`, `.`,
`.git` or nothing, a name twice, a file and a folder of one name, links, submodules, names with newlines,
bytes that are not UTF-8 and names too long for the file system. The temporary folder lies deep inside a
sandbox folder, so a file written through `..` would land in the sandbox, where the test looks for it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from compiler.cli import cli
from gitkit import FILE, LINK, SUBMODULE, Tree, commit_all, commit_tree, git, init, tree

SPEC = b"""\
name: chat
model: {name: llama-2-7b}
quantization: {format: int8_wo}
target: {gpu: A100-80GB, tensorrt_llm: "1.2.0"}
"""
PLANTED = b"name: planted\nmodel: {name: llama-2-7b}\n"
SECRET = "hunter2-do-not-print"


def _nested(path: list[bytes], content: bytes) -> Tree:
    """Trees nesting `path` literally, one component per tree, `..` included."""
    if len(path) == 1:
        return [(path[0], (FILE, content))]
    return [(path[0], _nested(path[1:], content))]


def _specs(*extra: tuple[bytes, object]) -> Tree:
    return [(b"specs", [(b"chat.yaml", (FILE, SPEC)), *extra])]  # type: ignore[list-item]


# Trees whose paths leave the temporary folder or name git's own folder: refused before anything is written.
ESCAPING_TREES: dict[str, Tree] = {
    "dotdot nested": _specs(*_nested([b"..", b"..", b"evil", b"x.yaml"], PLANTED)),
    "dotdot at the top": _nested([b"..", b"..", b"..", b"x.yaml"], PLANTED),
    "dot": _specs(*_nested([b".", b"x.yaml"], PLANTED)),
    "dotgit": _nested([b".git", b"hooks", b"x.yaml"], PLANTED) + _specs(),
    "dotgit upper case": _specs(*_nested([b".GIT", b"x.yaml"], PLANTED)),
    "dotdot then a real folder": _specs(*_nested([b"..", b"specs", b"chat.yaml"], PLANTED)),
}
# Trees git can hold but no folder can: refused, naming the path (or git refuses), nothing half-written outside.
UNWRITABLE_TREES: dict[str, Tree] = {
    "an empty name": _specs(*_nested([b"", b"x.yaml"], PLANTED)),  # git ls-tree itself refuses this one
    "one name twice": _specs((b"chat.yaml", (FILE, PLANTED))),
    "a file and a folder of one name": _specs((b"chat.yaml", [(b"x.yaml", (FILE, PLANTED))])),
    "a name over 255 bytes": _specs((b"a" * 300 + b".yaml", (FILE, PLANTED))),
}
# Trees with odd but harmless entries: the diff runs and reports what it can.
ODD_TREES: dict[str, Tree] = {
    "a link out of the repository": _specs((b"leak.yaml", (LINK, b"../../../../../../etc/passwd"))),
    "a link to a folder outside": _specs((b"up", (LINK, b"../../../../..")), ),
    "a submodule named like a spec": _specs((b"sub.yaml", (SUBMODULE, "1" * 40))),
    "a newline in a name": _specs((b"new\nline.yaml", (FILE, SPEC))),
    "a name that is not UTF-8": _specs((b"\xff\xfe.yaml", (FILE, SPEC))),
    "a backslash path": _specs((b"..\\..\\x.yaml", (FILE, SPEC))),
    "terminal escapes in a name": _specs((b"\x1b]0;pwned\x07\x1b[2J.yaml", (FILE, SPEC))),
}
HOSTILE_TREES = {**ESCAPING_TREES, **UNWRITABLE_TREES, **ODD_TREES}


@pytest.fixture()
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with specs/chat.yaml committed, and the temporary folder five levels down the sandbox."""
    repo = init(tmp_path / "repo")
    (repo / "specs").mkdir()
    (repo / "specs" / "chat.yaml").write_bytes(SPEC)
    commit_all(repo, "specs")
    temp = tmp_path / "t1" / "t2" / "t3" / "t4" / "t5"
    temp.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.chdir(repo)
    return tmp_path


def _files(root: Path) -> set[str]:
    return {os.path.relpath(os.path.join(folder, name), root)
            for folder, subfolders, names in os.walk(root) for name in [*names, *subfolders]
            if ".git" not in os.path.relpath(folder, root).split(os.sep)}


def _diff(*args: str) -> Result:
    result = CliRunner().invoke(cli, ["diff", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    return result


@pytest.mark.parametrize("name", list(HOSTILE_TREES))
@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_a_hostile_base_tree_writes_nothing_outside_the_temporary_folder(sandbox: Path, name: str, fmt: str) -> None:
    repo = sandbox / "repo"
    base = commit_tree(repo, tree(repo, HOSTILE_TREES[name]), "hostile")
    before = _files(sandbox)
    result = _diff("--base", base, "--format", fmt, "specs")
    assert _files(sandbox) == before, "diff created or removed files"
    if name in ESCAPING_TREES:
        assert result.exit_code == 2 and "leaves the repository" in result.output, result.output
    elif name in UNWRITABLE_TREES:
        assert result.exit_code == 2 and result.output.startswith("trtdeploy: git: "), result.output
    else:
        assert result.exit_code in (0, 1), result.output
    assert "\x1b" not in result.output and "\x07" not in result.output


def test_a_spec_renamed_to_an_odd_name_is_still_compared(sandbox: Path) -> None:
    """Odd names are data, not errors: a name with a newline and bytes that are not UTF-8 diff like any other."""
    repo = sandbox / "repo"
    odd = os.fsdecode(b"specs/new\nline \xff.yaml")
    (repo / "specs" / "chat.yaml").rename(repo / odd)
    base = commit_all(repo, "odd name")
    (repo / odd).write_bytes(SPEC.replace(b"int8_wo", b"int4_wo"))
    result = _diff("--base", base, "--format", "text", "specs")
    assert result.exit_code == 0, result.output
    assert "specs/new\\nline \\udcff.yaml (modified)" in result.output
    assert "quantization.format" in result.output and "requantize" in result.output


def test_a_revision_that_looks_like_an_option_is_refused(sandbox: Path) -> None:
    result = _diff("--base", "--output=/tmp/x", "specs")
    assert result.exit_code == 2 and "would be read as an option" in result.output


@pytest.mark.parametrize("target", ["outside file", "outside link chain", "dangling", "loop"])
def test_a_spec_that_links_out_of_the_repository_is_refused_not_read(sandbox: Path, target: str) -> None:
    """Item 4: `diff --base` over a spec that is a link out of the repository raised ValueError."""
    repo = sandbox / "repo"
    secret = sandbox / "secret.yaml"
    secret.write_text(f"password: {SECRET}\nname: {SECRET}\n")
    link = repo / "specs" / "leak.yaml"
    if target == "outside file":
        link.symlink_to(secret)
    elif target == "outside link chain":
        (repo / "specs" / "hop.yaml").symlink_to(secret)
        link.symlink_to("hop.yaml")
    elif target == "dangling":
        link.symlink_to(sandbox / "missing.yaml")
    else:
        link.symlink_to("leak.yaml")
    for fmt in ("text", "markdown", "json"):
        result = _diff("--base", "main", "--format", fmt, "specs")
        assert result.exit_code == 1, result.output
        assert SECRET not in result.output
        assert "S115" in result.output or "S100" in result.output


def test_the_base_side_keeps_extends_inside_its_own_tree(sandbox: Path) -> None:
    """The revision's specs are checked against the temporary copy of its tree: bases inside it are found."""
    repo = sandbox / "repo"
    (repo / "specs" / "base").mkdir()
    (repo / "specs" / "base" / "common.yaml").write_bytes(SPEC.replace(b"name: chat\n", b"abstract: true\n"))
    (repo / "specs" / "prod").mkdir()
    (repo / "specs" / "prod" / "chat.yaml").write_text("extends: ../base/common.yaml\nname: prod-chat\n")
    commit_all(repo, "a base")
    git(repo, "tag", "before")
    common = repo / "specs" / "base" / "common.yaml"
    common.write_bytes(common.read_bytes().replace(b"int8_wo", b"int4_wo"))
    result = _diff("--base", "before", "--format", "text", "specs")
    assert result.exit_code == 0, result.output
    assert "specs/prod/chat.yaml (modified)" in result.output and "S115" not in result.output
    assert "through extends: specs/base/common.yaml" in result.output
