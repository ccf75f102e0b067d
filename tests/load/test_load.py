"""The loader: positions, extends, unknown keys, bad values and hostile documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.load import load_spec

GOOD = """\
name: tiny
model:
  name: llama-2-7b
target:
  gpu: H100-SXM
  tensorrt_llm: 0.10
"""


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def codes(loaded) -> list[tuple[str, int]]:
    return [(f.code, f.location.line) for f in loaded.findings]


def test_positions_of_every_key_are_kept(tmp_path: Path) -> None:
    loaded = load_spec(write(tmp_path, "a.yaml", GOOD))
    assert loaded.spec is not None
    assert loaded.positions[("model", "name")].line == 3
    assert loaded.positions[("target", "gpu")].column == 3


def test_release_version_text_is_kept_verbatim(tmp_path: Path) -> None:
    loaded = load_spec(write(tmp_path, "a.yaml", GOOD))
    assert loaded.spec.target.tensorrt_llm == "0.10"


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    loaded = load_spec(write(tmp_path, "a.yaml", GOOD + "limits:\n  max_batch: 8\n"))
    [finding] = loaded.findings
    assert (finding.code, finding.location.line, finding.key) == ("S107", 8, "limits.max_batch")
    assert "max_batch_size" in finding.hint


def test_bad_enum_value_names_allowed_values(tmp_path: Path) -> None:
    loaded = load_spec(write(tmp_path, "a.yaml", GOOD + "quantization:\n  format: int4-awq\n"))
    [finding] = loaded.findings
    assert finding.code == "S108" and finding.location.line == 8
    assert "int4_awq" in finding.hint and "fp8" in finding.hint


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = GOOD + "parallelism:\n  tp: two\n  pq: 1\nlimits:\n  max_batch_size: -3\n"
    loaded = load_spec(write(tmp_path, "a.yaml", text))
    assert sorted(codes(loaded)) == [("S107", 9), ("S108", 8), ("S108", 11)]


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    loaded = load_spec(write(tmp_path, "a.yaml", GOOD + "parallelism:\n  tp: 2\n  tp: 4\n"))
    assert codes(loaded) == [("S105", 9)]


def test_extends_overrides_and_keeps_base_positions(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", "abstract: true\nmodel:\n  name: llama-2-7b\nlimits:\n  max_batch_size: 4\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\ntarget:\n  gpu: A10\nlimits:\n  max_input_len: 512\n")
    loaded = load_spec(child)
    assert loaded.spec is not None and not loaded.spec.abstract
    assert loaded.spec.limits.max_batch_size == 4 and loaded.spec.limits.max_input_len == 512
    assert loaded.positions[("model", "name")].file.endswith("base.yaml")
    assert loaded.positions[("target", "gpu")].file.endswith("child.yaml")
    assert len(loaded.chain) == 2


def test_extends_cycle_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\n")
    loaded = load_spec(tmp_path / "a.yaml")
    assert [f.code for f in loaded.findings] == ["S104"]


def test_missing_base_is_reported_at_the_extends_line(tmp_path: Path) -> None:
    loaded = load_spec(write(tmp_path, "a.yaml", "name: x\nextends: nope.yaml\n"))
    assert codes(loaded) == [("S103", 2)]


@pytest.mark.parametrize(
    "text, code",
    [
        ("model: {name: x\n", "S101"),
        (b"\x00\x01\x02binary", "S101"),
        (b"\xff\xfe bad utf8", "S101"),
        ("", "S102"),
        ("- a\n- b\n", "S102"),
        ("a: !!python/object:os.system ls\n", "S101"),
        ("[" * 5000 + "]" * 5000, "S106"),
        ("a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
         "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n", "S106"),
        ("limits:\n  max_batch_size: 99999999999999999999999999999999\n", "S108"),
        ("quantization:\n  smoothquant_alpha: .nan\n", "S108"),
    ],
)
def test_hostile_documents_become_findings(tmp_path: Path, text: str | bytes, code: str) -> None:
    loaded = load_spec(write(tmp_path, "a.yaml", text))
    assert loaded.spec is None
    assert [f.code for f in loaded.findings][:1] == [code]


def test_directory_and_missing_file(tmp_path: Path) -> None:
    assert [f.code for f in load_spec(tmp_path).findings] == ["S100"]
    assert [f.code for f in load_spec(tmp_path / "none.yaml").findings] == ["S100"]


def test_merge_keys_are_supported(tmp_path: Path) -> None:
    text = "x-defaults: &d {max_batch_size: 4}\n"
    loaded = load_spec(write(tmp_path, "a.yaml", text + "limits:\n  <<: *d\n  max_input_len: 64\n"))
    # x-defaults is not a spec key, so it is reported; the merge itself is read.
    assert [f.code for f in loaded.findings] == ["S107"]
    assert loaded.raw["limits"] == {"max_batch_size": 4, "max_input_len": 64}
