"""The reference-table parser reads what trtllm.md says, and the checker catches each kind of mistake."""

from __future__ import annotations

import pytest

import reference_flags as rf


def spec(tool: str, column: str, flag: str) -> rf.FlagSpec:
    return rf.flag_tables()[tool][column][flag]


def test_columns_and_their_headers() -> None:
    headers = rf.load().headers
    assert set(rf.flag_tables()) == set(rf.TOOLS)
    assert headers["trtllm-build"] == {"0.8.0": "0.8.0", "0.16.0.dev": "0.16.0.dev (aaacc9bd)", "1.x": "1.x (65f1d15)"}
    assert headers["quantize.py"]["1.x"] == "1.x (c8c6df08)"
    assert headers["convert_checkpoint.py"]["1.x"] == "1.x (fd96a08)"


@pytest.mark.parametrize(("tool", "column", "flag", "kind"), [
    ("trtllm-build", "0.8.0", "--max_output_len", rf.INT),
    ("trtllm-build", "0.16.0.dev", "--max_output_len", rf.ABSENT),
    ("trtllm-build", "0.8.0", "--max_seq_len", rf.ABSENT),
    ("trtllm-build", "1.x", "--max_decoder_seq_len", rf.INT),            # an alias in the first cell
    ("trtllm-build", "0.8.0", "--use_fused_mlp", rf.SWITCH),
    ("trtllm-build", "0.16.0.dev", "--use_fused_mlp", rf.TOGGLE),
    ("trtllm-build", "1.x", "--use_fused_mlp", rf.TOGGLE),               # "plugin flag; ..." keeps 0.16's kind
    ("trtllm-build", "0.8.0", "--multi_block_mode", rf.TOGGLE),          # plugin table
    ("trtllm-build", "0.16.0.dev", "--multi_block_mode", rf.ABSENT),
    ("trtllm-build", "0.8.0", "--nccl_plugin", rf.ABSENT),               # "not a CLI flag"
    ("trtllm-build", "1.x", "--auto_parallel", rf.ABSENT),               # "**removed**"
    ("trtllm-build", "0.16.0.dev", "--output_timing_cache", rf.STR),     # "str, None / str, `model.cache`"
    ("quantize.py", "0.8.0", "--pp_size", rf.INT),                       # "int, 1 / 1"
    ("quantize.py", "0.8.0", "--calib_dataset", rf.ABSENT),
    ("convert_checkpoint.py", "0.16.0.dev", "--calib_max_seq_length", rf.INT),  # "`ccdv/...` / 512 / 512"
    ("convert_checkpoint.py", "0.8.0", "-sq", rf.FLOAT),
    ("convert_checkpoint.py", "0.16.0.dev", "--multiple_of", rf.ANY),    # "+ `--multiple_of`"
    ("run.py", "0.8.0", "--max_output_len", rf.INT),                     # the common list
    ("run.py", "0.8.0", "--multi_block_mode", rf.ABSENT),
    ("run.py", "1.x", "--kv_cache_free_gpu_memory_fraction", rf.FLOAT),  # "inherited" from 0.16
])
def test_parsed_kinds(tool: str, column: str, flag: str, kind: str) -> None:
    assert spec(tool, column, flag).kind == kind


def test_choice_lists() -> None:
    assert spec("quantize.py", "1.x", "--qformat").choices[:3] == ("nvfp4", "fp8", "fp8_pc_pt")
    assert "nvfp4" not in spec("quantize.py", "0.16.0.dev", "--qformat").choices
    assert spec("convert_checkpoint.py", "0.8.0", "--weight_only_precision").choices == ("int8", "int4", "int4_gptq")
    assert "auto" not in spec("trtllm-build", "0.8.0", "--gpt_attention_plugin").choices
    assert "auto" in spec("trtllm-build", "1.x", "--gpt_attention_plugin").choices
    gemm = {c: spec("trtllm-build", c, "--gemm_plugin").choices for c in rf.COLUMNS}
    assert "fp8" not in gemm["0.8.0"] and "fp8" in gemm["0.16.0.dev"] and "nvfp4" in gemm["1.x"]
    assert spec("quantize.py", "0.8.0", "--kv_cache_dtype").choices == ("int8", "fp8", "None")
    assert spec("trtllm-build", "1.x", "--kv_cache_type").choices == ("continuous", "paged", "disabled")


def test_exact_release_flags() -> None:
    at_08 = rf.flags_for("convert_checkpoint.py", "0.8.0", "0.8.0")
    at_010 = rf.flags_for("convert_checkpoint.py", "0.8.0", "0.10.0")
    assert "--ammo_quant_ckpt_path" in at_08 and "--modelopt_quant_ckpt_path" not in at_08
    assert "--modelopt_quant_ckpt_path" in at_010 and "--ammo_quant_ckpt_path" not in at_010
    assert "--quant_ckpt_path" in rf.flags_for("convert_checkpoint.py", "1.x", "1.2.0")
    assert rf.flags_for("quantize.py", "0.8.0", "0.9.0")["--calib_dataset"].kind == rf.ABSENT
    assert rf.flags_for("quantize.py", "0.8.0", "0.10.0")["--calib_dataset"].kind == rf.STR


@pytest.mark.parametrize(("args", "problem"), [
    (["--max_seq_len", "2048"], "does not exist"),
    (["--no_such_flag", "1"], "unknown"),
    (["--use_fused_mlp", "enable"], "store_true"),
    (["--gemm_plugin", "fp8"], "is not one of"),
    (["--max_batch_size", "eight"], "is not an int"),
    (["--max_batch_size", "8", "--max_batch_size", "8"], "given twice"),
    (["--paged_kv_cache"], "one value"),
    (["stray"], "positional"),
])
def test_checker_catches(args: list[str], problem: str) -> None:
    problems = rf.check_argv("trtllm-build", "0.8.0", args, "0.8.0")
    assert len(problems) >= 1 and problem in problems[0], problems


def test_checker_accepts_equals_form_and_versions() -> None:
    assert rf.check_argv("quantize.py", "0.8.0", ["--calib_dataset=-x"], "0.10.0") == []
    assert rf.check_argv("quantize.py", "0.8.0", ["--calib_dataset", "pile"], "0.9.0") != []
    assert rf.column_for("0.10.0") == "0.8.0" and rf.column_for("0.16.0") == "0.16.0.dev"
    assert rf.column_for("1.2.0rc2") == "1.x"


def test_cells_with_pipes_inside_backticks_stay_whole() -> None:
    assert rf.split_cells("| `--a` | plugin flag, `enable|disable`, default x | — |") == [
        "`--a`", "plugin flag, `enable|disable`, default x", "—"]
