"""Issue 11: what each TensorRT-LLM release really does, one case per finding and affected release range.

Every case names the upstream file (at its commit) or release note it mirrors; the facts
themselves are rows of compiler/catalog/ (releases.yaml, formats.yaml, architectures.yaml,
tools/*.yaml), and these cases check that check/plan follow them end to end: the findings
(code and severity), the argv each tool gets, and the decisions. Fixtures under
tests/data/broken/ named here are checked marker by marker in tests/rules/test_rule_fixtures.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compiler.catalog.tools import surface
from compiler.pipeline import SpecReport, check_spec
from compiler.plan.model import EXAMPLES_DIR, Plan, Var
from compiler.versions import parse_version
from plan.support import flag_value, plan_file, text, write_spec
from render.support import clean_env, compile_plan, fake_bin, run_script
from standins.refusals import SM_ENV, build_refusals, quantize_refusals

BROKEN = Path(__file__).resolve().parents[1] / "data" / "broken"
LLAMA = {"model": {"name": "llama-2-7b"}}


def spec(tmp_path: Path, release: str, gpu: str = "H100-SXM", **sections: Any) -> Path:
    """A spec for the engine path of one release, with the given sections merged over the base."""
    return write_spec(tmp_path, LLAMA, {"target": {"gpu": gpu, "tensorrt_llm": release, "backend": "tensorrt"}},
                      sections, name=f"{release}-{gpu}.yaml")


def findings(report: SpecReport) -> set[tuple[str, str]]:
    return {(f.code, f.severity.value) for f in report.findings}


def message(report: SpecReport, code: str) -> str:
    found = [f.message for f in report.findings if f.code == code]
    assert found, [f"{f.code} {f.message}" for f in report.findings]
    return found[0]


def argv_of(plan: Plan, step: str) -> list[str]:
    return text(plan.step(step).argv)


def decision(plan: Plan, topic: str) -> str:
    found = [f"{d.choice} | {d.reason}" for d in plan.decisions if d.topic == topic]
    assert found, [d.topic for d in plan.decisions]
    return found[0]


# ---------------------------------------------------------------- item 1: GPU binding for world size > 1
# The runtime selects device rank % gpus_per_node itself: tensorrt_llm/runtime/model_runner.py @ 5955b8af
# (torch.cuda.set_device(rank % runtime_mapping.gpus_per_node)); C++ WorldConfig::getDevice (worldConfig.h @ 5955b8af).


@pytest.mark.parametrize(("release", "build_flag"), [
    ("0.8.0", None),        # build.py @ 5955b8af has no --gpus_per_node (the engine records the mapping's 8)
    ("0.9.0", "4"),         # --gpus_per_node from build.py @ 250d9c29 until the 1.x build.py @ 65f1d153
    ("0.21.0", "4"),
    ("1.2.0", None),
])
def test_item01_ranks_keep_the_scheduler_gpus_and_get_gpus_per_node(tmp_path: Path, release: str,
                                                                     build_flag: str | None) -> None:
    plan = plan_file(spec(tmp_path, release, parallelism={"tp": 2}, target={"gpus_per_node": 4}))
    assert flag_value(plan.step("build").argv, "--gpus_per_node") == build_flag
    folder = compile_plan(plan, tmp_path / "build")
    bin_dir = fake_bin(tmp_path / "bin")
    env = clean_env(tmp_path, bin_dir, TRTDEPLOY_MODEL_DIR="/m", TRTDEPLOY_RANK_ENTRYPOINT=str(bin_dir / "probe"),
                    CUDA_VISIBLE_DEVICES="0,1", OMPI_COMM_WORLD_LOCAL_RANK="1")
    assert run_script(folder / "launch" / "rank.sh", env)[0] == "0,1"  # rank 1 still sees device 1
    env["TRTDEPLOY_BIND_GPU"] = "1"  # binding only when asked for
    assert run_script(folder / "launch" / "rank.sh", env)[0] == "1"


def test_item01_trtllm_serve_gets_gpus_per_node_and_one_process_never_binds(tmp_path: Path) -> None:
    # trtllm-serve --gpus_per_node (tensorrt_llm/commands/serve.py, 1.x); the LLM API spawns the workers itself.
    plan = plan_file(spec(tmp_path, "1.2.0", parallelism={"tp": 2}, target={"gpus_per_node": 4},
                          launch={"entrypoint": "serve"}))
    assert flag_value(plan.launch.rank_argv, "--gpus_per_node") == "4"
    rank_sh = (compile_plan(plan, tmp_path / "build") / "launch" / "rank.sh").read_text(encoding="utf-8")
    assert "CUDA_VISIBLE_DEVICES" not in rank_sh


# ---------------------------------------------------------------- item 2: SM100 on the engine path
# builder.py @ 008b2b8d (placed at 0.17.0 with B200): INT8/INT4 weight-only (W4A16 AWQ/GPTQ too) and an int8 KV cache,
# SmoothQuant, per-channel/per-token scaling are refused for 100 <= SM < 120 (releases.yaml builder_sm100_refusals).


@pytest.mark.parametrize(("release", "quantization", "expected", "said"), [
    ("1.2.0", {"format": "int4_awq", "calibration": {"samples": 32}}, {("H102", "error")},
     "INT8/INT4 quantization is not supported on SM>=100."),           # fixture H102-int4-awq-blackwell-1.2.yaml
    ("0.17.0", {"format": "int4_gptq", "calibration": {}}, {("H102", "error")},
     "INT8/INT4 quantization is not supported on SM>=100."),
    ("1.2.0", {"format": "int8_sq", "calibration": {}}, {("H102", "error")}, "SmoothQuant is not supported on SM>=100."),
    ("1.2.0", {"format": "fp8", "kv_cache": "int8", "calibration": {}}, {("H103", "error")},
     "INT8/INT4 quantization is not supported on SM>=100."),           # fixture H103-int8-kv-blackwell-1.2.yaml
    ("1.2.0", {"format": "fp8", "kv_cache": "fp8", "calibration": {}}, set(), None),
    ("0.16.0", {"format": "int4_awq", "calibration": {"samples": 32}}, {("H106", "error")}, None),  # no B200 yet
])
def test_item02_blackwell_refusals_of_the_builder(tmp_path: Path, release: str, quantization: dict[str, Any],
                                                  expected: set[tuple[str, str]], said: str | None) -> None:
    report = check_spec(spec(tmp_path, release, "B200", quantization=quantization))
    assert findings(report) == expected
    if said is not None:
        code = next(iter(expected))[0]
        assert said in message(report, code)


def test_item02_the_1x_build_standin_refuses_int4_on_sm100(monkeypatch: pytest.MonkeyPatch) -> None:
    version = parse_version("1.2.0")
    build = surface("trtllm-build", version)
    monkeypatch.setenv(SM_ENV, "100")
    [refusal] = build_refusals(version, build, {}, {"quant_algo": "W4A16_AWQ"})
    assert refusal.startswith("RuntimeError: INT8/INT4 quantization is not supported on SM>=100.")
    monkeypatch.setenv(SM_ENV, "90")
    assert build_refusals(version, build, {}, {"quant_algo": "W4A16_AWQ"}) == []


# ---------------------------------------------------------------- item 3: calibration datasets per release
# quantize.py: no --calib_dataset before 0.10 (quantize.py @ 5955b8af); get_calib_dataloader takes pileval and names
# containing cnn_dailymail at 0.10 (quantize_by_modelopt.py @ 9bd15f19), any folder from 0.11 (@ 05316d33),
# scienceqa in any case in 1.x (@ 042c510d); anything else raises NotImplementedError. convert_checkpoint.py:
# load_calib_dataset by name from 0.10 (convert_utils.py @ 9bd15f19), any folder from 0.14 (@ 8681b3a4).


@pytest.fixture()
def calib_file(tmp_path: Path) -> Path:
    path = tmp_path / "calib" / "train.jsonl"
    path.parent.mkdir()
    path.write_text('{"text": "calibration text"}\n', encoding="utf-8")
    return path


@pytest.mark.parametrize(("release", "fmt", "expected", "staged"), [
    ("0.8.0", "fp8", {("P101", "error")}, False),        # no --calib_dataset at all (fixture P101-custom-dataset-0.8)
    ("0.10.0", "fp8", {("P107", "error")}, False),       # names only
    ("0.11.0", "int4_awq", set(), True),                 # folders: the file is staged into one
    ("1.2.0", "int4_awq", set(), True),
    ("0.13.0", "int8_sq", {("P107", "error")}, False),   # convert_checkpoint.py: names only until 0.14
    ("0.14.0", "int8_sq", set(), True),
])
def test_item03_a_local_file_is_staged_where_the_release_reads_folders(
        tmp_path: Path, calib_file: Path, release: str, fmt: str, expected: set[tuple[str, str]], staged: bool) -> None:
    calibration = {"dataset": str(calib_file), "samples": 32}
    path = spec(tmp_path, release, "A100-SXM-80GB" if fmt != "fp8" else "H100-SXM",
                quantization={"format": fmt, "calibration": calibration})
    report = check_spec(path)
    assert findings(report) == expected
    if not staged:
        return
    plan = plan_file(path)
    stage = plan.step("calibration")
    assert argv_of(plan, "calibration")[:2] == ["python3", "steps/stage_calibration.py"]
    calibrator = "quantize" if fmt == "int4_awq" else "convert"
    assert flag_value(plan.step(calibrator).argv, "--calib_dataset") == stage.output


@pytest.mark.parametrize(("release", "dataset", "accepted"), [
    ("1.2.0", "wikitext", False),
    ("1.2.0", "my-ScienceQA-copy", True),   # 1.x: "scienceqa" in the name, any case
    ("0.16.0", "my-ScienceQA-copy", False),
    ("0.10.0", "pileval", True),
])
def test_item03_dataset_names_each_release_reads(tmp_path: Path, release: str, dataset: str, accepted: bool) -> None:
    report = check_spec(spec(tmp_path, release, quantization={"format": "fp8", "calibration": {"dataset": dataset}}))
    assert findings(report) == (set() if accepted else {("P107", "error")})


def test_item03_the_1x_quantize_standin_refuses_a_file(calib_file: Path) -> None:
    args = {"--qformat": ["fp8"], "--calib_dataset": [str(calib_file)]}
    [refusal] = quantize_refusals(parse_version("1.2.0"), args)
    assert f"Unsupported dataset name or local repo directory: {calib_file}." in refusal
    assert quantize_refusals(parse_version("1.2.0"), {**args, "--calib_dataset": [str(calib_file.parent)]}) == []


# ---------------------------------------------------------------- item 4: FP8 context FMHA on Ada (SM89)
# The attention plugin checks mSM == 90 at 0.9-0.11 (gptAttentionCommon.cpp @ 250d9c29, 05316d33); Ada from 0.12.0
# (release notes 0.12.0: "Supported FP8 FMHA for NVIDIA Ada Lovelace Architecture"; the check reads SM89/SM90 at
# 74b324f6); from 0.17 the builder turns it off only below SM89 and keeps paged context FMHA with an fp8 KV cache
# of an FP8 checkpoint on SM89 (builder.py @ 008b2b8d).


@pytest.mark.parametrize(("release", "expected", "emitted"), [
    ("0.11.0", {("H107", "error")}, None),      # fixture H107-fp8-fmha-ada.yaml
    ("0.12.0", set(), "enable"),
    ("0.16.0", set(), "enable"),
    ("1.2.0", set(), "enable"),                 # on by default there, and kept on SM89
])
def test_item04_fp8_context_fmha_enabled_on_l40s(tmp_path: Path, release: str, expected: set[tuple[str, str]],
                                                 emitted: str | None) -> None:
    path = spec(tmp_path, release, "L40S", quantization={"format": "fp8", "calibration": {}},
                plugins={"use_fp8_context_fmha": "enable"})
    report = check_spec(path)
    assert findings(report) == expected
    if not expected:
        assert flag_value(plan_file(path).step("build").argv, "--use_fp8_context_fmha") == emitted


def test_item04_1x_keeps_fp8_and_paged_context_fmha_on_l40s(tmp_path: Path) -> None:
    path = spec(tmp_path, "1.2.0", "L40S", quantization={"format": "fp8", "kv_cache": "fp8", "calibration": {}})
    report = check_spec(path)
    assert findings(report) == set() and report.decided is not None
    assert report.decided.on("plugins.use_fp8_context_fmha") and report.decided.on("plugins.use_paged_context_fmha")
    build = argv_of(plan_file(path), "build")  # the defaults stand: no disable of either
    assert "--use_fp8_context_fmha" not in build and "--use_paged_context_fmha" not in build


@pytest.mark.parametrize(("release", "fmt", "expected"), [
    ("0.9.0", "fp8", {("C105", "error"), ("C116", "note")}),   # 'Paged Context FMHA doesn't work with fp8/int8 kv cache'
    ("0.11.0", "fp8", {("C105", "error"), ("C116", "note")}),  # the builder turns FP8 FMHA on; SM90 only (fixture)
    ("0.12.0", "fp8", {("C116", "note")}),
    ("0.16.0", "int4_awq", {("C105", "error")}),               # 'only works with fp8 quantization workflow' (fixture)
    ("1.2.0", "int4_awq", {("C105", "warning")}),              # the builder turns it off and warns
    ("1.2.0", "fp8", set()),
])
def test_item04_paged_context_fmha_with_an_fp8_kv_cache_on_l40s(tmp_path: Path, release: str, fmt: str,
                                                               expected: set[tuple[str, str]]) -> None:
    report = check_spec(spec(tmp_path, release, "L40S", plugins={"use_paged_context_fmha": "enable"},
                             quantization={"format": fmt, "kv_cache": "fp8", "calibration": {"samples": 32}}))
    assert findings(report) == expected


# ---------------------------------------------------------------- items 5 and 6: Volta and Turing
# Support matrices @ 9bd15f19, 05316d33, 8681b3a4 list T4 and V100 (experimental) up to 0.14, with "INT4 AWQ and GPTQ
# are not supported on SM < 80" until 0.10 and "SM < 75" from 0.11; release notes 0.15.0: "[BREAKING CHANGE] NVIDIA
# Volta GPU support is removed in this and future releases" (0.16.0 says it again for V100); Turing is no longer
# listed from 0.15 (support-matrix.md @ c629546c): community support.


@pytest.mark.parametrize(("release", "expected"), [
    ("0.14.0", set()),                          # listed (experimental)
    ("0.15.0", {("H106", "error")}),            # fixture H106-volta-removed.yaml
    ("0.16.0", {("H106", "error")}),
])
def test_item05_v100_is_removed_from_0_15(tmp_path: Path, release: str, expected: set[tuple[str, str]]) -> None:
    assert findings(check_spec(spec(tmp_path, release, "V100-32GB"))) == expected


@pytest.mark.parametrize(("release", "fmt", "expected"), [
    ("0.10.0", "int4_awq", {("H102", "error")}),    # SM < 80 (fixture H102-int4-awq-turing-0.10.yaml)
    ("0.11.0", "int4_awq", set()),
    ("0.12.0", "int4_awq", set()),
    ("0.14.0", "int4_gptq", set()),
    ("0.15.0", "int4_awq", {("H106", "warning")}),  # community support (fixture H106-turing-community.yaml)
])
def test_item06_t4_runs_int4_awq_and_gptq_from_0_11(tmp_path: Path, release: str, fmt: str,
                                                   expected: set[tuple[str, str]]) -> None:
    report = check_spec(spec(tmp_path, release, "T4", quantization={"format": fmt, "calibration": {"samples": 32}},
                             limits={"max_batch_size": 4}))
    assert findings(report) == expected


# ---------------------------------------------------------------- item 7: B200 and NVFP4 from 0.17
# Release notes 0.17.0: "Added support for B200", "Added NVFP4 Gemm support for Llama and Mixtral models".


@pytest.mark.parametrize(("release", "expected"), [
    ("0.16.0", {("H104", "error"), ("H106", "error")}),     # fixture H104-nvfp4-old-line.yaml
    ("0.17.0", set()),
    ("1.2.0", set()),
])
def test_item07_nvfp4_on_b200_from_0_17(tmp_path: Path, release: str, expected: set[tuple[str, str]]) -> None:
    path = spec(tmp_path, release, "B200", quantization={"format": "nvfp4", "calibration": {}})
    assert findings(check_spec(path)) == expected
    if not expected:
        assert flag_value(plan_file(path).step("quantize").argv, "--qformat") == "nvfp4"


# ---------------------------------------------------------------- item 8: where the example scripts live
# examples/<family>/ through 0.19.0 (its release notes point to examples/mixtral/, examples/gemma/; the backend's
# v0.19.0 CI builds from examples/gpt); examples/models/core/<family>/ from 0.20.0 (notes 0.20.0,
# examples/models/core/llama/convert_checkpoint.py @ 368f8f2a).


@pytest.mark.parametrize(("release", "folder"), [
    ("0.8.0", "/llama/"), ("0.19.0", "/llama/"), ("0.20.0", "/models/core/llama/"), ("1.2.0", "/models/core/llama/"),
])
def test_item08_convert_script_folder_per_release(tmp_path: Path, release: str, folder: str) -> None:
    plan = plan_file(spec(tmp_path, release, quantization={"format": "int8_wo"}))
    script = plan.step("convert").argv[1]
    assert script == Var(EXAMPLES_DIR, f"{folder}convert_checkpoint.py")


# ---------------------------------------------------------------- items 9 and 13: paged context FMHA, int8 KV cache
# plugin.py defaults use_paged_context_fmha / use_fp8_context_fmha to False up to 0.17.0.dev2024121700 and True in
# 1.x (plugin.py @ c20322ff; placed at 0.17.0). builder.py raises 'Paged Context FMHA doesn't work with int8 kv cache
# currently.' from 0.9 (@ 250d9c29, 9bd15f19) to 0.16; from 0.17 it turns it off and warns (@ 008b2b8d).


@pytest.mark.parametrize(("release", "emitted"), [
    ("0.16.0", None),           # off by default: nothing to turn off
    ("0.17.0", "disable"),      # on by default: the plan turns it off itself and says why
    ("0.21.0", "disable"),
    ("1.2.0", "disable"),
])
def test_item09_an_int8_kv_cache_turns_default_paged_context_fmha_off(tmp_path: Path, release: str,
                                                                     emitted: str | None) -> None:
    plan = plan_file(spec(tmp_path, release, "A100-SXM-80GB",
                          quantization={"format": "int8_wo", "kv_cache": "int8", "calibration": {}}))
    assert flag_value(plan.step("build").argv, "--use_paged_context_fmha") == emitted
    reason = decision(plan, "plugins.use_paged_context_fmha") if emitted else ""
    assert emitted is None or "not with an int8 KV cache" in reason


@pytest.mark.parametrize(("release", "expected"), [
    ("0.8.0", {("C105", "warning")}),       # unchecked by the 0.8 builder
    ("0.9.0", {("C105", "error")}),
    ("0.16.0", {("C105", "error")}),        # fixture C105-int8-kv-paged-context-enabled.yaml
    ("0.17.0", {("C105", "warning")}),
    ("1.2.0", {("C105", "warning")}),       # fixture C105-int8-kv-paged-context-1.2.yaml
])
def test_item13_explicit_paged_context_fmha_with_an_int8_kv_cache(tmp_path: Path, release: str,
                                                                  expected: set[tuple[str, str]]) -> None:
    report = check_spec(spec(tmp_path, release, "A100-SXM-80GB", plugins={"use_paged_context_fmha": "enable"},
                             quantization={"format": "int8_wo", "kv_cache": "int8", "calibration": {}}))
    assert findings(report) == expected


# ---------------------------------------------------------------- item 10: AutoAWQ checkpoints
# Release notes 0.16.0: "Added AutoAWQ and AutoGPTQ Hugging Face checkpoints support for LLaMA. (#2458)";
# convert_checkpoint.py reads quantization_config (quant_method awq -> use_autoawq) from 0.16.0.dev2024120300 (@ 548b5b73).


@pytest.mark.parametrize(("release", "expected"), [
    ("0.8.0", {("P101", "error")}),     # fixture P101-awq-checkpoint-0.8.yaml
    ("0.15.0", {("P101", "error")}),
    ("0.16.0", set()),
    ("1.2.0", set()),
])
def test_item10_autoawq_checkpoints_convert_from_0_16(tmp_path: Path, release: str,
                                                     expected: set[tuple[str, str]]) -> None:
    path = spec(tmp_path, release, "A100-SXM-80GB", quantization={"format": "int4_awq", "checkpoint": "/ckpt/awq"})
    assert findings(check_spec(path)) == expected
    if not expected:
        convert = plan_file(path).step("convert").argv
        assert flag_value(convert, "--model_dir") == "/ckpt/awq"
        assert flag_value(convert, "--weight_only_precision") == "int4_awq"


# ---------------------------------------------------------------- item 11: FP8 KV-cache scales before 0.14
# build.py @ 5955b8af: "FP8 kv_cache_scaling_factor is always 1.0" (every scale set to 1.0; models/modeling_utils.py
# from 0.9.0); gone at 0.14.0.dev2024100100 (modeling_utils.py @ 48686bca).


@pytest.mark.parametrize(("release", "expected"), [
    ("0.8.0", {("C116", "note")}),      # fixture C116-fp8-kv-scales-discarded-0.8.yaml
    ("0.13.0", {("C116", "note")}),
    ("0.14.0", {("C106", "error")}),    # the scales count: calibration data is needed
    ("1.2.0", {("C106", "error")}),
])
def test_item11_an_fp8_kv_cache_alone_needs_no_calibration_where_its_scales_are_discarded(
        tmp_path: Path, release: str, expected: set[tuple[str, str]]) -> None:
    path = spec(tmp_path, release, quantization={"format": "none", "kv_cache": "fp8"})
    assert findings(check_spec(path)) == expected
    if ("C106", "error") not in expected:  # quantize.py still runs (and calibrates on its default data)
        quantize = plan_file(path).step("quantize").argv
        assert flag_value(quantize, "--qformat") == "full_prec" and flag_value(quantize, "--kv_cache_dtype") == "fp8"


def test_item11_the_note_stays_when_the_weights_calibrate(tmp_path: Path) -> None:
    report = check_spec(spec(tmp_path, "0.8.0", quantization={"format": "fp8", "kv_cache": "fp8", "calibration": {}}))
    assert findings(report) == {("C116", "note")}
    assert "kv_cache_scaling_factor is always 1.0" in message(report, "C116")


# ---------------------------------------------------------------- item 12: --kv_cache_type
# build.py @ 74b324f6 (0.13.0.dev2024081300) adds --kv_cache_type and warns "Option --paged_kv_cache is deprecated";
# the issue placed this at 0.16 (build.py @ 008b2b8d), but the 0.13 tree already has it.


@pytest.mark.parametrize(("release", "flag", "value"), [
    ("0.8.0", "--paged_kv_cache", "enable"), ("0.12.0", "--paged_kv_cache", "enable"),
    ("0.13.0", "--kv_cache_type", "paged"), ("0.16.0", "--kv_cache_type", "paged"), ("1.2.0", "--kv_cache_type", "paged"),
])
def test_item12_the_paged_kv_cache_flag_per_release(tmp_path: Path, release: str, flag: str, value: str) -> None:
    build = plan_file(spec(tmp_path, release)).step("build").argv
    assert flag_value(build, flag) == value
    other = {"--paged_kv_cache": "--kv_cache_type", "--kv_cache_type": "--paged_kv_cache"}[flag]
    assert flag_value(build, other) is None


# ---------------------------------------------------------------- item 14: GPTQ act order
# convert_checkpoint.py reads external GPTQ weights as qweight, qzeros and scales only (models/llama/weight.py
# @ 5955b8af, models/llama/convert.py @ 05316d33 and be178810): g_idx is never read, so act-order groups come out in
# channel order. Its "GPTQ with desc_act=True is not implemented!" (from @ 548b5b73) checks --model_dir only.


@pytest.mark.parametrize("release", ["0.8.0", "0.16.0", "1.2.0"])
def test_item14_act_order_gptq_is_refused_for_the_loader_not_the_model_dir_check(tmp_path: Path, release: str) -> None:
    report = check_spec(spec(tmp_path, release, "A100-SXM-80GB",
                             quantization={"format": "int4_gptq", "act_order": True, "calibration": {}}))
    assert findings(report) == {("H108", "error")}
    assert "without g_idx" in message(report, "H108") and "desc_act=True is not implemented" not in \
        message(report, "H108")


# ---------------------------------------------------------------- item 15: the 0.9 / 0.10 plugin gates
# plugin.py @ 250d9c29 and 9bd15f19: plugin dtypes float16/float32/bfloat16/disable (no auto, no fp8) and
# --use_fp8_context_fmha (from 0.9.0); plugin.py @ 05316d33 (0.11.0) adds auto and --gemm_plugin fp8.


@pytest.mark.parametrize(("release", "expected", "gemm", "attention"), [
    ("0.9.0", {("P101", "error")}, None, None),
    ("0.10.0", {("P101", "error")}, None, None),
    ("0.11.0", set(), "fp8", "auto"),
])
def test_item15_gemm_plugin_fp8_and_plugin_auto_from_0_11(tmp_path: Path, release: str,
                                                          expected: set[tuple[str, str]], gemm: str | None,
                                                          attention: str | None) -> None:
    path = spec(tmp_path, release, quantization={"format": "fp8", "calibration": {}}, plugins={"gemm": "fp8"})
    assert findings(check_spec(path)) == expected
    if not expected:
        build = plan_file(path).step("build").argv
        assert (flag_value(build, "--gemm_plugin"), flag_value(build, "--gpt_attention_plugin")) == (gemm, attention)


@pytest.mark.parametrize(("release", "expected", "emitted"), [
    ("0.8.0", {("P101", "error")}, None),   # no --use_fp8_context_fmha (fixture P101-plugins-0.8.yaml)
    ("0.9.0", set(), "enable"),
    ("0.10.0", set(), "enable"),
])
def test_item15_fp8_context_fmha_on_hopper_from_0_9(tmp_path: Path, release: str, expected: set[tuple[str, str]],
                                                    emitted: str | None) -> None:
    path = spec(tmp_path, release, quantization={"format": "fp8", "calibration": {}},
                plugins={"use_fp8_context_fmha": "enable"})
    assert findings(check_spec(path)) == expected
    if not expected:
        assert flag_value(plan_file(path).step("build").argv, "--use_fp8_context_fmha") == emitted


def test_item15_plugin_auto_is_the_model_dtype_before_0_11(tmp_path: Path) -> None:
    plan = plan_file(spec(tmp_path, "0.10.0", model={"dtype": "bfloat16"}))
    build = plan.step("build").argv
    assert flag_value(build, "--gpt_attention_plugin") == flag_value(build, "--gemm_plugin") == "bfloat16"


def test_every_issue_11_fixture_named_here_exists() -> None:
    named = ("H102-int4-awq-blackwell-1.2", "H103-int8-kv-blackwell-1.2", "P101-custom-dataset-0.8",
             "H107-fp8-fmha-ada", "C105-fp8-kv-forces-fp8-fmha-ada-0.11", "C105-fp8-kv-paged-context-awq-0.16",
             "H106-volta-removed", "H102-int4-awq-turing-0.10", "H106-turing-community", "H104-nvfp4-old-line",
             "C105-int8-kv-paged-context-enabled", "C105-int8-kv-paged-context-1.2", "P101-awq-checkpoint-0.8",
             "C116-fp8-kv-scales-discarded-0.8", "P101-plugins-0.8")
    assert [name for name in named if not (BROKEN / f"{name}.yaml").is_file()] == []
