"""The facts data of compiler/catalog: it loads, every row names its source, and it says what the sources say.

The pinned facts asserted here are the ones the engine path turns on (when a flag came or
went, what a default is, what a release refuses); each was read at the commit its row names.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

import pytest

from compiler.catalog import gpus
from compiler.catalog.architectures import ArchStatus, architecture_for_sm, architectures, support
from compiler.catalog.formats import format_facts, formats
from compiler.catalog.ranges import CatalogFactsError, ranged_rows
from compiler.catalog.releases import (
    ReleaseNotSupported,
    ReleaseStatus,
    fact_names,
    fact_rows,
    known_releases,
    newest_release,
    ranged,
    release_facts,
)
from compiler.catalog.tools import TOOLS_DIR, surface, tool_facts
from compiler.spec import QuantFormat
from compiler.versions import parse_version
from plan.support import gptq_script

ROOT = Path(__file__).resolve().parents[2]
TOOLS = sorted(path.stem for path in TOOLS_DIR.glob("*.yaml"))


def v(text: str):  # noqa: ANN201 - a short alias keeps the tables of cases readable
    return parse_version(text)


def _tracked_content(path: Path) -> bytes:
    """A tracked file's bytes; for a tracked symbolic link, the path it points to (what git stores)."""
    return os.readlink(path).encode() if path.is_symlink() else path.read_bytes()


def test_no_tracked_file_names_the_shared_folder_beside_the_repository() -> None:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    files = [name.decode() for name in listed.split(b"\0") if name]
    needle = b"../" + b"shared"  # spelled in two parts so that this file does not name it
    naming = [name for name in files if needle in _tracked_content(ROOT / name)]
    assert len(files) > 100 and naming == []


# ---------------------------------------------------------------- tool surfaces


@pytest.mark.parametrize("tool", TOOLS)
def test_every_tool_row_names_a_source_with_a_commit_or_a_note(tool: str) -> None:
    facts = tool_facts(tool)
    assert facts.rows or facts.subcommands or facts.wraps  # a wrapper's arguments are the command it runs
    for name, rows in facts.rows.items():
        for row in rows:
            # A source without a commit is an era's revision: its row says so (pinned: false) and is never emitted.
            pinned_source = "@ " in row.source or "http" in row.source or "trtdeploy" in row.source
            assert pinned_source or not row.pinned, (name, row.source)
        for earlier, later in zip(rows, rows[1:], strict=False):
            assert earlier.range.until is not None and earlier.range.until <= later.range.since, name


@pytest.mark.parametrize(("tool", "flag", "present", "absent"), [
    ("trtllm-build", "--max_output_len", ["0.8.0", "0.11.0"], ["0.12.0", "1.2.0"]),
    ("trtllm-build", "--max_seq_len", ["0.11.0", "1.3.0rc1"], ["0.10.0"]),
    ("trtllm-build", "--kv_cache_type", ["0.13.0", "1.2.0"], ["0.12.0"]),
    ("trtllm-build", "--use_fp8_context_fmha", ["0.9.0", "0.10.0"], ["0.8.0"]),
    ("trtllm-build", "--use_custom_all_reduce", ["0.8.0", "0.11.0"], ["0.12.0"]),
    ("trtllm-build", "--multi_block_mode", ["0.11.0"], ["0.12.0"]),
    ("trtllm-build", "--auto_parallel", ["0.9.0", "0.21.0"], ["0.8.0", "1.0.0"]),
    ("quantize.py", "--calib_dataset", ["0.10.0", "1.2.0"], ["0.9.0"]),
    ("quantize.py", "--calib_max_seq_length", ["0.10.0"], ["0.9.0"]),
    ("quantize.py", "--seed", ["0.9.0"], ["0.8.0"]),
    ("convert_checkpoint.py", "--ammo_quant_ckpt_path", ["0.8.0", "0.9.0"], ["0.10.0"]),
    ("convert_checkpoint.py", "--modelopt_quant_ckpt_path", ["0.10.0"], ["0.9.0", "0.11.0"]),
    ("convert_checkpoint.py", "--quant_ckpt_path", ["0.11.0", "1.2.0"], ["0.10.0"]),
    ("convert_checkpoint.py", "--calib_dataset", ["0.10.0", "0.12.0"], ["0.9.0"]),
    ("convert_checkpoint.py", "--calib_size", ["0.14.0"], ["0.13.0"]),
    ("run.py", "--multi_block_mode", ["0.12.0"], ["0.11.0"]),
])
def test_flags_come_and_go_with_the_exact_release(tool: str, flag: str, present: list[str], absent: list[str]) -> None:
    assert all(surface(tool, v(version)).has(flag) for version in present)
    assert not any(surface(tool, v(version)).has(flag) for version in absent)


@pytest.mark.parametrize(("tool", "flag", "version", "kind", "choices_include", "default"), [
    ("trtllm-build", "--gpt_attention_plugin", "0.10.0", "choice", [], "float16"),
    ("trtllm-build", "--gpt_attention_plugin", "0.11.0", "choice", ["auto"], "auto"),
    ("trtllm-build", "--gemm_plugin", "0.11.0", "choice", ["fp8"], "disable"),
    ("trtllm-build", "--gemm_plugin", "1.2.0", "choice", ["fp8", "nvfp4"], None),
    ("trtllm-build", "--use_fused_mlp", "0.12.0", "switch", [], None),
    ("trtllm-build", "--use_fused_mlp", "0.13.0", "choice", ["enable", "disable"], "enable"),
    ("trtllm-build", "--use_paged_context_fmha", "0.16.0", "choice", ["enable"], "disable"),
    ("trtllm-build", "--use_paged_context_fmha", "0.17.0", "choice", ["enable"], "enable"),
    ("trtllm-build", "--use_fp8_context_fmha", "1.2.0", "choice", ["enable"], "enable"),
    ("trtllm-build", "--tokens_per_block", "0.9.0", "int", [], 128),
    ("trtllm-build", "--tokens_per_block", "0.10.0", "int", [], 64),
    ("trtllm-build", "--tokens_per_block", "1.2.0", "int", [], 32),
    ("trtllm-build", "--max_batch_size", "0.8.0", "int", [], 1),
    ("trtllm-build", "--max_batch_size", "0.14.0", "int", [], 2048),
    ("trtllm-build", "--kv_cache_type", "1.2.0", "choice", ["paged", "continuous", "disabled"], None),
    ("quantize.py", "--qformat", "0.16.0", "choice", ["fp8", "w4a8_awq"], "full_prec"),
    ("quantize.py", "--qformat", "0.17.0", "choice", ["nvfp4"], "full_prec"),
    ("quantize.py", "--dtype", "0.15.0", "choice", ["auto"], "auto"),
    ("convert_checkpoint.py", "--weight_only_precision", "0.13.0", "choice", ["int4_gptq"], "int8"),
    ("convert_checkpoint.py", "--weight_only_precision", "0.14.0", "choice", ["int4_awq"], "int8"),
    ("convert_checkpoint.py", "--dtype", "0.8.0", "choice", ["float16"], "float16"),
    ("run.py", "--multi_block_mode", "0.13.0", "switch", [], None),
    ("run.py", "--multi_block_mode", "0.14.0", "str", [], True),
])
def test_kinds_choices_and_defaults_by_release(tool: str, flag: str, version: str, kind: str,
                                               choices_include: list[str], default: object) -> None:
    fact = surface(tool, v(version)).fact(flag)
    assert fact is not None and fact.kind == kind and fact.default == default
    assert set(choices_include) <= set(fact.choices)


def test_choices_that_come_later_are_refused_before() -> None:
    assert "auto" not in surface("trtllm-build", v("0.10.0")).fact("--gpt_attention_plugin").choices  # type: ignore[union-attr]
    assert "fp8" not in surface("trtllm-build", v("0.10.0")).fact("--gemm_plugin").choices  # type: ignore[union-attr]
    assert "nvfp4" not in surface("quantize.py", v("0.16.0")).fact("--qformat").choices  # type: ignore[union-attr]
    assert "int4_awq" not in surface("convert_checkpoint.py", v("0.13.0")).fact("--weight_only_precision").choices  # type: ignore[union-attr]


def test_other_families_have_their_own_converter_flags() -> None:
    falcon, llama = surface("convert_checkpoint.py-falcon", v("0.16.0")), surface("convert_checkpoint.py", v("0.16.0"))
    assert llama.has("--smoothquant") and not falcon.has("--smoothquant")
    assert not falcon.has("--int8_kv_cache") and not surface("convert_checkpoint.py-mpt", v("0.16.0")).has("--per_group")
    assert surface("convert_checkpoint.py-qwen", v("0.16.0")).has("--quant_ckpt_path") is False
    assert not surface("convert_checkpoint.py-qwen", v("0.8.0")).flags  # qwen had no converter at 0.8.0


@pytest.mark.parametrize(("args", "problem"), [
    (["--max_seq_len"], "unknown flag --max_seq_len"),
    (["--use_fused_mlp", "enable"], "unexpected argument 'enable'"),
    (["--gemm_plugin", "fp8"], "--gemm_plugin 'fp8' is not one of"),
    (["--max_batch_size", "eight"], "--max_batch_size 'eight' is not an integer"),
    (["--max_batch_size", "8", "--max_batch_size", "8"], "--max_batch_size given twice"),
    (["--paged_kv_cache"], "--paged_kv_cache needs a value"),
    (["--use_fused_mlp=1"], "--use_fused_mlp is a switch and takes no value"),
])
def test_the_argv_check_names_each_kind_of_mistake(args: list[str], problem: str) -> None:
    problems = surface("trtllm-build", v("0.8.0")).check(args)
    assert len(problems) == 1 and problems[0].startswith(f"trtllm-build 0.8.0: {problem}"), problems


def test_the_argv_check_takes_aliases_equals_and_several_values() -> None:
    build = surface("trtllm-build", v("1.2.0"))
    assert build.check(["--max_decoder_seq_len=4096", "--lora_dir", "a", "b", "--max_batch_size", "8"]) == []
    assert surface("convert_checkpoint.py", v("0.8.0")).check(["-sq", "0.5", "--per_channel"]) == []


def _gptq_parser(monkeypatch: pytest.MonkeyPatch) -> argparse.ArgumentParser:
    """The parser the rendered GPTQ script builds (caught as it is asked to parse)."""
    built: list[argparse.ArgumentParser] = []

    def catch(parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> argparse.Namespace:
        built.append(parser)
        return argparse.Namespace()

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", catch)
    gptq_script().parse_args([])
    return built[0]


def test_the_gptq_step_surface_is_the_parser_of_its_template(monkeypatch: pytest.MonkeyPatch) -> None:
    rendered = {a.option_strings[0]: a for a in _gptq_parser(monkeypatch)._actions if a.dest != "help"}
    rows = surface("gptq_quantize.py", v("1.2.0")).flags
    assert set(rows) == set(rendered)
    for flag, action in rendered.items():
        kind = "switch" if action.nargs == 0 else "choice" if action.choices else \
            {int: "int", float: "float"}.get(action.type, "str")  # type: ignore[arg-type]
        assert rows[flag].kind == kind and ("required" in rows[flag].note) == action.required, flag
        assert list(rows[flag].choices) == [str(c) for c in action.choices or ()], flag


# ---------------------------------------------------------------- releases


def test_releases_run_from_0_8_0_to_the_newest_known_each_with_a_source() -> None:
    releases = known_releases()
    versions = [str(release.version) for release in releases]
    assert versions[0] == "0.8.0" and str(newest_release().version) == "1.3.0"
    assert versions == sorted(versions, key=parse_version) and len(set(versions)) == len(versions)
    for minor in range(8, 22):
        assert f"0.{minor}.0" in versions
    assert {"1.0.0", "1.1.0", "1.2.0rc6", "1.2.0"} <= set(versions)
    assert all(release.source for release in releases)
    pinned = {str(r.version): r.commit for r in releases}
    assert pinned["0.8.0"] == "5955b8afbad2ddcc3156202b16c567e94c52248f"
    assert pinned["1.0.0"] == "ae8270b713446948246f16fadf4e2a32e35d0f62"
    assert pinned["1.3.0rc1"] == "45d7022cc33903509fd8045bbc577d77dd1d3e2f"


@pytest.mark.parametrize(("version", "status", "release", "facts_version"), [
    ("0.8.0", ReleaseStatus.KNOWN, "0.8.0", "0.8.0"),
    ("0.11.0", ReleaseStatus.KNOWN, "0.11.0", "0.11.0"),
    ("0.12.1", ReleaseStatus.UNLISTED, "0.12.0", "0.12.1"),
    ("1.2.0rc3", ReleaseStatus.KNOWN, "1.2.0rc3", "1.2.0rc3"),
    ("1.3.0rc1", ReleaseStatus.KNOWN, "1.3.0rc1", "1.3.0rc1"),
    ("1.3.0rc2", ReleaseStatus.UNLISTED, "1.3.0rc1", "1.3.0rc2"),
    ("1.3.0", ReleaseStatus.KNOWN, "1.3.0", "1.3.0"),
    ("2.0", ReleaseStatus.NEWER, "1.3.0", "1.3.0"),
])
def test_release_facts_resolve_any_version(version: str, status: ReleaseStatus, release: str,
                                           facts_version: str) -> None:
    facts = release_facts(version)
    assert (facts.status, str(facts.release.version), str(facts.facts_version)) == (status, release, facts_version)
    assert (facts.message is None) == (status is ReleaseStatus.KNOWN)
    if status is ReleaseStatus.NEWER:
        assert facts.message is not None and "newer than the newest release known (1.3.0)" in facts.message


def test_a_release_newer_than_known_reads_the_newest_facts_and_an_older_one_is_refused() -> None:
    newer = release_facts("1.9.0")
    assert newer.surface("trtllm-build") == surface("trtllm-build", newest_release().version)
    assert newer.fact("examples_layout") == ranged("examples_layout", newest_release().version)
    for bad in ("0.7.1", "next"):
        with pytest.raises(ReleaseNotSupported):
            release_facts(bad)


@pytest.mark.parametrize("name", fact_names())
def test_every_ranged_fact_covers_every_known_release_with_a_sourced_row(name: str) -> None:
    uncovered = [str(r.version) for r in known_releases() if ranged(name, r.version) is None]
    assert uncovered == [] and all(row.source for row in fact_rows(name))


@pytest.mark.parametrize(("name", "version", "value"), [
    ("builder_int8_kv_with_paged_context_fmha", "0.8.0", "unchecked"),
    ("builder_int8_kv_with_paged_context_fmha", "0.16.0", "error"),
    ("builder_int8_kv_with_paged_context_fmha", "1.2.0", "disabled_with_warning"),
    ("fp8_kv_scales_discarded", "0.8.0", True),
    ("fp8_kv_scales_discarded", "0.13.0", True),
    ("fp8_kv_scales_discarded", "0.14.0", False),
    ("awq_checkpoint_convert", "0.15.0", False),
    ("awq_checkpoint_convert", "0.16.0", True),
    ("gptq_checkpoint_flag", "0.9.0", "--ammo_quant_ckpt_path"),
    ("gptq_checkpoint_flag", "0.10.0", "--modelopt_quant_ckpt_path"),
    ("gptq_checkpoint_flag", "0.11.0", "--quant_ckpt_path"),
    ("gptq_desc_act_check", "0.16.0", "model_dir_quantization_config"),
])
def test_release_facts_by_exact_version(name: str, version: str, value: object) -> None:
    assert ranged(name, version).value == value  # type: ignore[union-attr]


def test_layout_devices_and_builder_checks_by_release() -> None:
    assert ranged("examples_layout", "0.19.0").value["llama"] == "llama"  # type: ignore[union-attr]
    assert ranged("examples_layout", "0.20.0").value["falcon"] == "models/contrib/falcon"  # type: ignore[union-attr]
    assert ranged("runtime_device_selection", "1.2.0").value["selects_device_itself"] is True  # type: ignore[union-attr]
    assert ranged("builder_sm100_refusals", "0.16.0").value == []  # type: ignore[union-attr]
    refusals = ranged("builder_sm100_refusals", "1.0.0").value  # type: ignore[union-attr]
    assert {"W4A16_AWQ", "W4A16_GPTQ", "W8A16"} <= set(refusals[0]["quant_algos"]) and refusals[0]["sm_until"] == 120
    fmha = {version: ranged("builder_fp8_context_fmha", version).value for version in ("0.9.0", "0.13.0", "1.0.0")}  # type: ignore[union-attr]
    assert fmha["0.9.0"]["sm"] == [90] and fmha["0.13.0"]["sm"] == [89, 90] and fmha["1.0.0"]["min_sm"] == 89
    assert ranged("build_kv_cache_flag", "0.13.0").value["deprecated"] == ["--paged_kv_cache"]  # type: ignore[union-attr]


@pytest.mark.parametrize(("version", "forms"), [
    ("0.9.0", {"flag": False}),
    ("0.10.0", {"directory": False, "contains_casefold": []}),
    ("0.11.0", {"directory": True, "contains_casefold": []}),
    ("1.2.0", {"directory": True, "contains_casefold": ["scienceqa", "science_qa"], "exact": ["pileval"]}),
])
def test_calibration_forms_of_quantize_by_release(version: str, forms: dict[str, object]) -> None:
    value = ranged("quantize_calibration_forms", version).value  # type: ignore[union-attr]
    assert {key: value[key] for key in forms} == forms


def test_ranged_rows_refuse_overlaps_unknown_sources_and_unquoted_versions() -> None:
    sources = {"s": "somewhere @ abc"}
    with pytest.raises(CatalogFactsError, match="overlaps"):
        ranged_rows("f", "x", [{"since": "0.8.0", "value": 1, "source": "s"},
                               {"since": "0.9.0", "value": 2, "source": "s"}], sources)
    with pytest.raises(CatalogFactsError, match="not listed under sources"):
        ranged_rows("f", "x", [{"since": "0.8.0", "value": 1, "source": "t"}], sources)
    with pytest.raises(CatalogFactsError, match="quoted string"):
        ranged_rows("f", "x", [{"since": 0.8, "value": 1, "source": "s"}], sources)


# ---------------------------------------------------------------- formats and architectures


def test_every_spec_format_has_a_row_and_engine_facts() -> None:
    assert set(formats()) == {f.value for f in QuantFormat} - {"auto"}
    for fmt in formats().values():
        engine = fmt.tensorrt(v("1.2.0"))
        assert engine is not None and engine.routes and engine.min_sm >= 70 and fmt.pytorch is None


def test_format_facts_by_release_and_gpu() -> None:
    assert format_facts("nvfp4").tensorrt(v("0.16.0")) is None
    nvfp4 = format_facts("nvfp4").tensorrt(v("0.17.0"))
    assert nvfp4 is not None and nvfp4.qformat == "nvfp4" and nvfp4.min_sm == 100 and "int8" not in format_facts("nvfp4").kv_cache
    awq = format_facts("int4_awq")
    assert awq.tensorrt(v("0.10.0")).min_sm == 80 and awq.tensorrt(v("0.11.0")).min_sm == 75  # type: ignore[union-attr]
    assert "checkpoint+convert" in awq.tensorrt(v("0.16.0")).routes  # type: ignore[union-attr]
    assert "checkpoint+convert" not in awq.tensorrt(v("0.15.0")).routes  # type: ignore[union-attr]
    assert awq.tensorrt(v("1.2.0")).refuses(100) and not awq.tensorrt(v("1.2.0")).refuses(120)  # type: ignore[union-attr]
    assert not awq.tensorrt(v("0.16.0")).refuses(100)  # type: ignore[union-attr]
    assert not format_facts("fp8").tensorrt(v("1.2.0")).runs_on(80)  # type: ignore[union-attr]
    assert format_facts("int8_sq").calibrates and not format_facts("int8_wo").calibrates


def test_every_catalog_gpu_has_an_architecture_with_rows_for_every_release() -> None:
    for gpu in gpus().values():
        arch = architecture_for_sm(gpu.sm)
        for release in known_releases():
            support(arch, release.version)  # raises when no row covers the release


@pytest.mark.parametrize(("arch", "version", "status"), [
    ("volta", "0.14.0", ArchStatus.LISTED_EXPERIMENTAL),
    ("volta", "0.15.0", ArchStatus.REMOVED),
    ("turing", "0.13.0", ArchStatus.LISTED),
    ("turing", "0.16.0", ArchStatus.COMMUNITY_ONLY),
    ("blackwell", "0.16.0", ArchStatus.NOT_YET),
    ("blackwell", "0.17.0", ArchStatus.LISTED),
    ("hopper", "1.3.0rc1", ArchStatus.LISTED),
])
def test_architecture_status_by_release(arch: str, version: str, status: ArchStatus) -> None:
    assert support(arch, v(version)).status is status
    assert set(architectures()) == {"volta", "turing", "ampere", "ada", "hopper", "blackwell"}
