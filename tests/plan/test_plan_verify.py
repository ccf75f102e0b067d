"""verify: in the plan: each backend's and release's tools with their real flags, fingerprints, impact, plan.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from compiler.diff import diff_files
from compiler.plan.document import DocumentError, read_document
from compiler.plan.model import Impact
from compiler.render import render_build
from plan.support import checked, flag_value, plan_problems, plan_spec, text, write_spec

ENGINE_08 = {"target": {"tensorrt_llm": "0.8.0"}, "model": {"path": "/models/llama-2-7b"},
             "limits": {"max_batch_size": 8, "max_input_len": 1024, "max_output_len": 512}}
PYTORCH_12 = {"target": {"tensorrt_llm": "1.2.0", "backend": "pytorch"}, "model": {"path": "/models/llama-2-7b"},
              "quantization": {"format": "fp8", "calibration": {}}, "runtime": {"llm_api_options": {"print_iter_log": True}}}


def verify(accuracy: list[dict[str, Any]] | None = None, throughput: dict[str, Any] | None = None) -> dict[str, Any]:
    section: dict[str, Any] = {}
    if accuracy is not None:
        section["accuracy"] = accuracy
    if throughput is not None:
        section["throughput"] = throughput
    return {"verify": section}


def check_codes(folder: Path, *overrides: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f.code, f.message) for f in checked(write_spec(folder, *overrides)).findings]


def steps_by_id(plan: Any) -> dict[str, Any]:
    return {s.id: s for s in plan.steps}


def test_the_08_engine_path_runs_mmlu_py_and_gpt_session_benchmark_with_their_flags(tmp_path: Path) -> None:
    (tmp_path / "mmlu").mkdir()
    plan = plan_spec(tmp_path, ENGINE_08, verify([{"task": "mmlu", "min_score": 45, "dataset": "mmlu"}],
                                                 {"concurrency": 4, "input_len": 128, "output_len": 256,
                                                  "num_requests": 10, "min_output_tokens_per_s": 300}))
    steps = steps_by_id(plan)
    assert list(steps) == ["convert", "build", "verify-mmlu", "verify-throughput"]
    engine = steps["build"].output
    assert text(steps["verify-mmlu"].argv) == [
        "python3", "${EXAMPLES_DIR}/mmlu.py", "--hf_model_dir", "${MODEL_DIR}", "--engine_dir", engine,
        "--data_dir", str(tmp_path / "mmlu"), "--test_trt_llm"]
    assert text(steps["verify-throughput"].argv) == [
        "${BENCHMARKS_DIR}/gptSessionBenchmark", "--model", "llama", "--engine_dir", engine, "--batch_size", "4",
        "--input_output_len", "128,256", "--num_runs", "3", "--duration", "0"]
    assert {s.impact for s in plan.steps[2:]} == {Impact.REVERIFY}
    assert plan_problems(plan) == []
    assert [(m.step, m.reader, m.task) for m in plan.measures] == [("verify-mmlu", "mmlu.py", "mmlu"),
                                                                    ("verify-throughput", "gptSessionBenchmark",
                                                                     "throughput")]


@pytest.mark.parametrize("release", ["0.8.0", "0.9.0", "0.10.0"])
def test_cnn_dailymail_on_a_pre_1_0_engine_runs_summarize_py_with_its_flags(tmp_path: Path, release: str) -> None:
    plan = plan_spec(tmp_path, ENGINE_08, {"target": {"tensorrt_llm": release}},
                     verify([{"task": "cnn_dailymail", "min_score": 20, "num_samples": 50}]))
    steps = steps_by_id(plan)
    assert list(steps) == ["convert", "build", "verify-cnn_dailymail"]
    # The engine takes 1024 prompt tokens, so summarize.py's 923 fits (no cap); no dataset: the release downloads
    # ccdv/cnn_dailymail itself, so there is no finding and no --dataset_path.
    assert text(steps["verify-cnn_dailymail"].argv) == [
        "python3", "${EXAMPLES_DIR}/summarize.py", "--test_trt_llm", "--hf_model_dir", "${MODEL_DIR}",
        "--engine_dir", steps["build"].output, "--eval_task", "summarize", "--max_ite", "50"]
    assert steps["verify-cnn_dailymail"].impact is Impact.REVERIFY
    assert [(m.step, m.reader, m.task) for m in plan.measures] == [("verify-cnn_dailymail", "summarize.py",
                                                                     "cnn_dailymail")]
    assert [(g.name, g.metric, g.threshold, g.unit) for g in plan.gates] == [
        ("cnn_dailymail.min_score", "score", 20.0, "points")]
    assert plan_problems(plan) == []


def test_summarize_py_cuts_prompts_at_the_engines_limit_and_reads_a_given_datasets_cache(tmp_path: Path) -> None:
    (tmp_path / "hf-datasets").mkdir()
    plan = plan_spec(tmp_path, ENGINE_08, {"limits": {"max_input_len": 512}, "parallelism": {"tp": 2}},
                     verify([{"task": "cnn_dailymail", "min_score": 20, "dataset": "hf-datasets"}]))
    step = steps_by_id(plan)["verify-cnn_dailymail"]
    argv = text(step.argv)
    assert argv[:4] == ["mpirun", "-n", "2", "--allow-run-as-root"]
    assert flag_value(step.argv, "--max_input_length") == "512"
    assert flag_value(step.argv, "--dataset_path") == str(tmp_path / "hf-datasets")
    assert "--max_ite" not in argv  # no num_samples: the script's default 20 articles
    assert plan_problems(plan) == []


def test_summarize_py_output_beyond_the_engines_limit_is_c117(tmp_path: Path) -> None:
    findings = check_codes(tmp_path, ENGINE_08, {"limits": {"max_output_len": 64}},
                           verify([{"task": "cnn_dailymail", "min_score": 20}]))
    assert ("C117", "summarize.py generates up to 100 tokens for cnn_dailymail; limits.max_output_len is 64") in findings


def test_cnn_dailymail_is_p108_where_summarize_py_was_not_read(tmp_path: Path) -> None:
    findings = check_codes(tmp_path, ENGINE_08, {"target": {"tensorrt_llm": "0.11.0"}},
                           verify([{"task": "cnn_dailymail", "min_score": 20}]))
    assert [code for code, _ in findings] == ["P108"]
    assert "summarize.py's flags were read at 0.8.0-0.10.x, not at 0.11.0" in findings[0][1]


def test_a_multi_gpu_engine_runs_the_verify_tools_one_process_per_rank(tmp_path: Path) -> None:
    (tmp_path / "mmlu").mkdir()
    plan = plan_spec(tmp_path, ENGINE_08, {"parallelism": {"tp": 2}},
                     verify([{"task": "mmlu", "min_score": 45, "dataset": "mmlu"}],
                            {"concurrency": 4, "input_len": 128, "output_len": 256}))
    for step in plan.steps[2:]:
        assert text(step.argv)[:4] == ["mpirun", "-n", "2", "--allow-run-as-root"]
    assert plan_problems(plan) == []


def test_the_09_engine_path_gives_gpt_session_benchmark_no_model(tmp_path: Path) -> None:
    plan = plan_spec(tmp_path, ENGINE_08, {"target": {"tensorrt_llm": "0.9.0"}},
                     verify(throughput={"concurrency": 4, "input_len": 128, "output_len": 256}))
    assert flag_value(steps_by_id(plan)["verify-throughput"].argv, "--model") is None
    assert plan_problems(plan) == []


@pytest.mark.parametrize("release", ["0.12.0", "0.15.0", "0.17.0", "0.21.0"])
def test_a_012_to_021_engine_runs_trtllm_bench_throughput_with_the_flags_read(tmp_path: Path, release: str) -> None:
    # tensorrt_llm/bench/run/run.py @ 20709ce9 (0.12.0): the group has --model (and --workspace), throughput
    # --engine_dir, --dataset, --num_requests; no --backend, --model_path, --concurrency or --report_json
    (tmp_path / "requests.jsonl").write_text("{}\n")
    plan = plan_spec(tmp_path, ENGINE_08, {"target": {"tensorrt_llm": release}},
                     verify(throughput={"dataset": "requests.jsonl", "concurrency": 4, "num_requests": 10,
                                        "min_output_tokens_per_s": 300}))
    steps = steps_by_id(plan)
    engine = steps["build"].output
    assert text(steps["verify-throughput"].argv) == [
        "trtllm-bench", "--model", "${MODEL_DIR}", "throughput", "--engine_dir", engine,
        "--dataset", str(tmp_path / "requests.jsonl"), "--num_requests", "10"]
    assert [(m.step, m.reader) for m in plan.measures] == [("verify-throughput", "trtllm-bench")]
    notes = [n for n in plan.decisions if n.topic == "verify.throughput.concurrency"]
    assert notes and "max_batch_size (8)" in notes[0].reason
    assert ("not read file by file" in notes[0].reason) is (release != "0.12.0")
    assert plan_problems(plan) == []


@pytest.mark.parametrize(("release", "code"), [("0.11.0", "P108"), ("0.17.0", "P109")])
def test_what_the_pre_10_engine_benchmarks_cannot_do_is_refused(tmp_path: Path, release: str, code: str) -> None:
    # 0.11.0: no trtllm-bench yet and gptSessionBenchmark's flags not read; 0.17.0's report prints no TTFT
    from compiler.pipeline import check_spec

    (tmp_path / "requests.jsonl").write_text("{}\n")
    spec = write_spec(tmp_path, ENGINE_08, {"target": {"tensorrt_llm": release}},
                      verify(throughput={"dataset": "requests.jsonl", "max_ttft_ms": 500}))
    findings = [(f.code, f.message) for f in check_spec(spec).findings if f.code in ("P108", "P109")]
    assert [c for c, _ in findings] == [code], findings


def test_the_pytorch_backend_runs_trtllm_eval_and_bench_with_the_launch_settings(tmp_path: Path) -> None:
    plan = plan_spec(tmp_path, PYTORCH_12, verify([{"task": "gsm8k", "min_score": 70, "num_samples": 100}],
                                                  {"concurrency": 32, "num_requests": 256, "input_len": 128,
                                                   "output_len": 256, "max_ttft_ms": 500}))
    steps = steps_by_id(plan)
    assert list(steps) == ["quantize", "verify-gsm8k", "verify-dataset", "verify-throughput"]
    served = steps["quantize"].output
    options = "${BUILD_DIR}/launch/llm_api_options.yaml"
    assert plan.launch.files["launch/llm_api_options.yaml"]  # the launch's own YAML, which the verify steps read
    assert text(steps["verify-gsm8k"].argv) == [
        "trtllm-eval", "--model", served, "--backend", "pytorch", "--max_batch_size", "8", "--max_num_tokens", "8192",
        "--max_seq_len", "2048", "--max_beam_width", "1", "--kv_cache_free_gpu_memory_fraction", "0.9",
        "--tp_size", "1", "--pp_size", "1", "--extra_llm_api_options", options,
        "gsm8k", "--num_samples", "100", "--max_input_length", "1024"]
    assert text(steps["verify-dataset"].argv) == [
        "trtllm-bench", "--model", served, "prepare-dataset", "--output", "${STEP_OUT}/dataset.jsonl",
        "token-norm-dist", "--num-requests", "256", "--input-mean", "128", "--input-stdev", "0",
        "--output-mean", "256", "--output-stdev", "0"]
    bench = text(steps["verify-throughput"].argv)
    assert bench[:6] == ["trtllm-bench", "--model", served, "--model_path", served, "throughput"]
    assert flag_value(bench, "--dataset") == f"{steps['verify-dataset'].output}/dataset.jsonl"
    assert "--streaming" in bench and flag_value(bench, "--extra_llm_api_options") == options
    assert steps["verify-throughput"].depends_on == ("quantize", "verify-dataset")
    assert plan_problems(plan) == []


def test_no_ttft_gate_no_streaming(tmp_path: Path) -> None:
    plan = plan_spec(tmp_path, PYTORCH_12, verify(throughput={"input_len": 128, "output_len": 128,
                                                              "min_output_tokens_per_s": 100}))
    assert "--streaming" not in text(steps_by_id(plan)["verify-throughput"].argv)


def test_a_given_dataset_replaces_prepare_dataset(tmp_path: Path) -> None:
    (tmp_path / "requests.jsonl").write_text("{}\n")
    plan = plan_spec(tmp_path, PYTORCH_12, {"target": {"tensorrt_llm": "1.1.0"}},
                     verify(throughput={"dataset": "requests.jsonl", "input_len": 128, "output_len": 128}))
    steps = steps_by_id(plan)
    assert "verify-dataset" not in steps
    assert flag_value(steps["verify-throughput"].argv, "--dataset") == str(tmp_path / "requests.jsonl")
    assert [i.kind.value for i in steps["verify-throughput"].inputs] == ["step", "dataset"]
    assert plan_problems(plan) == []


def test_a_1x_engine_is_verified_with_the_llm_api_tools_on_the_engine(tmp_path: Path) -> None:
    plan = plan_spec(tmp_path, ENGINE_08, {"target": {"tensorrt_llm": "1.2.0"}},
                     verify([{"task": "mmlu", "min_score": 45}], {"input_len": 128, "output_len": 128}))
    steps = steps_by_id(plan)
    engine = steps["build"].output
    assert text(steps["verify-mmlu"].argv)[:7] == ["trtllm-eval", "--model", engine, "--tokenizer", "${MODEL_DIR}",
                                                   "--backend", "tensorrt"]
    bench = text(steps["verify-throughput"].argv)
    assert flag_value(bench, "--engine_dir") == engine and flag_value(bench, "--backend") == "tensorrt"
    assert flag_value(bench, "--extra_llm_api_options") is None  # an engine is built: no LLM-API limits to pass
    assert plan_problems(plan) == []


def test_a_gate_change_reruns_only_the_verify_step_and_costs_a_reverify(tmp_path: Path) -> None:
    before = write_spec(tmp_path, PYTORCH_12, verify([{"task": "mmlu", "min_score": 45}],
                                                     {"input_len": 128, "output_len": 128}), name="a.yaml")
    after = write_spec(tmp_path, PYTORCH_12, verify([{"task": "mmlu", "min_score": 46}],
                                                    {"input_len": 128, "output_len": 128}), name="b.yaml")
    change = diff_files(str(before), str(after))
    assert change.impact is Impact.REVERIFY
    assert [(s.step, s.aspects) for s in change.steps] == [("verify-mmlu", ("gates",))]
    assert [(g.name, g.before, g.after) for g in change.gates] == [("mmlu.min_score", 45.0, 46.0)]


def test_a_workload_change_reruns_the_dataset_and_the_benchmark(tmp_path: Path) -> None:
    before = write_spec(tmp_path, PYTORCH_12, verify(throughput={"input_len": 128, "output_len": 128}), name="a.yaml")
    after = write_spec(tmp_path, PYTORCH_12, verify(throughput={"input_len": 256, "output_len": 128}), name="b.yaml")
    change = diff_files(str(before), str(after))
    assert change.impact is Impact.REVERIFY
    assert [(s.step, s.aspects) for s in change.steps] == [("verify-dataset", ("workload",)),
                                                           ("verify-throughput", ("upstream",))]


def test_a_limits_change_rebuilds_and_reverifies(tmp_path: Path) -> None:
    base = [ENGINE_08, {"target": {"tensorrt_llm": "1.2.0"}}, verify([{"task": "mmlu", "min_score": 45}])]
    before = write_spec(tmp_path, *base, name="a.yaml")
    after = write_spec(tmp_path, *base, {"limits": {"max_batch_size": 16}}, name="b.yaml")
    change = diff_files(str(before), str(after))
    assert change.impact is Impact.REBUILD
    assert [s.step for s in change.steps] == ["build", "verify-mmlu", "launch"]


def test_plan_json_carries_the_measures_and_gates_and_refuses_a_gate_on_no_step(tmp_path: Path) -> None:
    plan = plan_spec(tmp_path, PYTORCH_12, verify([{"task": "mmlu", "max_drop": 1.0, "baseline": 46.2}]))
    files = render_build(plan)
    document = json.loads(files["plan.json"])
    assert document["verify"]["gates"] == [{"name": "mmlu.max_drop", "step": "verify-mmlu", "metric": "score",
                                            "bound": "min", "threshold": 45.2, "unit": "points",
                                            "reason": "baseline 46.2 - max_drop 1"}]
    assert document["steps"][1]["capture"] == "output.log"
    assert "| tee \"${STEP_OUT}\"/'output.log'" in files["steps/02-verify-mmlu.sh"]
    assert "## Verify gates" in files["plan.md"]
    document["verify"]["gates"][0]["step"] = "quantize"
    with pytest.raises(DocumentError) as caught:
        read_document(json.dumps(document), "plan.json")
    assert [f.code for f in caught.value.findings] == ["B107"]
    assert "gates step 'quantize', which nothing measures" in caught.value.findings[0].message


def test_a_spec_without_verify_plans_no_verify_step(tmp_path: Path) -> None:
    plan = plan_spec(tmp_path, PYTORCH_12)
    assert [s.id for s in plan.steps] == ["quantize"] and not plan.measures
    assert json.loads(render_build(plan)["plan.json"])["verify"] is None


def test_a_baseline_results_json_without_the_task_is_c118(tmp_path: Path) -> None:
    from compiler.pipeline import check_spec

    baseline = tmp_path / "results.json"
    baseline.write_text(json.dumps({"schema_version": 1, "name": "fp16", "tensorrt_llm": "1.2.0",
                                    "backend": "pytorch", "passed": True,
                                    "measured": [{"step": "verify-gsm8k", "fingerprint": "ab", "tool": "trtllm-eval",
                                                  "tool_version": None, "task": "gsm8k", "figures": {"score": 70.0},
                                                  "output": "store/x/output.log"}]}))
    spec = write_spec(tmp_path, PYTORCH_12, verify([{"task": "mmlu", "max_drop": 1.0, "baseline": "results.json"}]))
    findings = [(f.code, f.message) for f in check_spec(spec).findings]
    assert findings == [("S117", f"baseline {baseline} has no mmlu score (it measured gsm8k)")]
    baseline.write_text("{}")
    assert [f.code for f in check_spec(spec).findings] == ["S117"]


@pytest.mark.parametrize(("name", "verify_steps"), [
    ("llama-7b-fp16-h100", ["verify-mmlu", "verify-cnn_dailymail", "verify-throughput"]),  # 0.8.0, the engine path
    ("llama-7b-fp8-pytorch-h100", ["verify-mmlu", "verify-dataset", "verify-throughput"]),  # 1.2.0, PyTorch
])
def test_the_shipped_specs_with_gates_compile_to_verify_steps_with_real_flags(name: str, verify_steps: list[str]) -> None:
    from plan.support import SPECS, plan_file

    plan = plan_file(SPECS / f"{name}.yaml")
    assert [s.id for s in plan.steps if s.impact is Impact.REVERIFY] == verify_steps
    assert plan_problems(plan) == []
    assert plan.gates and all(g.step in verify_steps for g in plan.gates)
    assert "verify" in json.loads(render_build(plan)["plan.json"])
