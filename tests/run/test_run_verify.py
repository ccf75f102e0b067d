"""verify: end to end: specs with gates compiled by the real planner, built with the verify tools' stand-ins.

0.8.0 runs the engine path's examples/mmlu.py and gptSessionBenchmark, 1.2.0 the PyTorch backend's
trtllm-eval and trtllm-bench; the stand-ins report what the TRTDEPLOY_STANDIN_* knobs say, so a
build whose benchmark reports less than its gate must exit 1 and say which gate failed by how much.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from runkit import STANDINS, Host, calls

Build = Callable[..., Result]


@pytest.fixture
def tools(host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The verify tools' stand-ins where the scripts look for them (trtllm-eval and trtllm-bench are in the host's
    bin already), and an MMLU data folder."""
    (host.examples / "mmlu.py").symlink_to(STANDINS / "mmlu.py")
    benchmarks = tmp_path / "benchmarks"
    benchmarks.mkdir()
    (benchmarks / "gptSessionBenchmark").symlink_to(STANDINS / "gptSessionBenchmark")
    monkeypatch.setenv("TRTDEPLOY_BENCHMARKS_DIR", str(benchmarks))
    mmlu = tmp_path / "mmlu"
    (mmlu / "test").mkdir(parents=True)
    (mmlu / "test" / "anatomy_test.csv").write_text("q,a,b,c,d,A\n")
    return mmlu


def engine_spec(host: Host, path: Path, mmlu: Path, gate: float = 1500) -> Path:
    path.write_text(f"""\
name: tiny-verify-08
model: {{path: {host.model}}}
limits: {{max_batch_size: 4, max_input_len: 256, max_output_len: 256}}
target: {{gpu: H100-SXM, tensorrt_llm: "0.8.0"}}
verify:
  accuracy:
    - {{task: mmlu, min_score: 45, dataset: {mmlu}}}
  throughput: {{concurrency: 4, input_len: 128, output_len: 64, num_requests: 16, min_output_tokens_per_s: {gate}}}
""")
    return path


def pytorch_spec(host: Host, path: Path, baseline: str = "46.2") -> Path:
    path.write_text(f"""\
name: tiny-verify-12
model: {{path: {host.model}}}
limits: {{max_batch_size: 4, max_input_len: 256, max_output_len: 256}}
target: {{gpu: H100-SXM, tensorrt_llm: "1.2.0", backend: pytorch}}
verify:
  accuracy:
    - {{task: mmlu, max_drop: 1.0, baseline: {baseline}}}
    - {{task: gsm8k, min_score: 30}}
  throughput: {{concurrency: 4, input_len: 128, output_len: 64, num_requests: 16, max_ttft_ms: 200}}
""")
    return path


def gates(out: Path) -> dict[str, dict[str, object]]:
    results = json.loads((out / "results.json").read_text())
    return {gate["name"]: gate for gate in results["gates"]}


def test_an_engine_build_below_its_throughput_gate_exits_1_and_says_by_how_much(
        host: Host, tools: Path, tmp_path: Path, trtdeploy: Build, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRTDEPLOY_STANDIN_VERSION", "0.8.0")
    monkeypatch.setenv("TRTDEPLOY_STANDIN_TOKENS_PER_S", "1000")
    spec, out = engine_spec(host, tmp_path / "spec.yaml", tools), tmp_path / "out"
    failed = trtdeploy("build", str(spec), "-o", str(out), "--skip-doctor", "--plain")
    assert failed.exit_code == 1, failed.output
    assert calls(host) == ["convert_checkpoint.py", "trtllm-build", "mmlu.py", "gptSessionBenchmark"]
    assert "B211 error: verify gate throughput.min_output_tokens_per_s failed: output_tokens_per_s 1000 tokens/s is " \
           "500 below its threshold 1500" in failed.stderr
    assert "throughput.min_output_tokens_per_s  1000.00 tokens/s  >= 1500    -500.00  FAILED" in failed.stdout
    verdicts = gates(out)
    assert verdicts["throughput.min_output_tokens_per_s"]["passed"] is False
    assert verdicts["throughput.min_output_tokens_per_s"]["margin"] == -500.0
    assert verdicts["mmlu.min_score"] == {**verdicts["mmlu.min_score"], "value": 50.0, "passed": True}
    results = json.loads((out / "results.json").read_text())
    assert results["passed"] is False
    assert {m["tool"]: m["tool_version"] for m in results["measured"]} == {"mmlu.py": "0.8.0", "gptSessionBenchmark": None}
    kept = out / results["measured"][1]["output"]
    assert "[BENCHMARK] batch_size 4 input_length 128 output_length 64" in kept.read_text()  # the output is kept

    # The same engine, measured again faster: above the gate, the build passes, and only the benchmark re-ran.
    monkeypatch.setenv("TRTDEPLOY_STANDIN_TOKENS_PER_S", "1600")
    passed = trtdeploy("build", str(out), "--skip-doctor", "--plain", "--force", "verify-throughput")
    assert passed.exit_code == 0, passed.output
    assert calls(host)[4:] == ["gptSessionBenchmark"]
    assert "verify: all 2 gates passed" in passed.stdout
    assert gates(out)["throughput.min_output_tokens_per_s"]["margin"] == 100.0


def test_a_pytorch_build_fails_its_accuracy_drop_and_status_shows_the_gates(
        host: Host, tools: Path, tmp_path: Path, trtdeploy: Build, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRTDEPLOY_STANDIN_VERSION", "1.2.0")
    monkeypatch.setenv("TRTDEPLOY_STANDIN_SCORE", "mmlu:44.9,gsm8k:70")
    spec, out = pytorch_spec(host, tmp_path / "spec.yaml"), tmp_path / "out"
    result = trtdeploy("build", str(spec), "-o", str(out), "--skip-doctor", "--plain")
    assert result.exit_code == 1, result.output
    assert calls(host) == ["trtllm-eval", "trtllm-eval", "trtllm-bench", "trtllm-bench"]
    verdicts = gates(out)
    assert verdicts["mmlu.max_drop"]["threshold"] == 45.2 and verdicts["mmlu.max_drop"]["margin"] == pytest.approx(-0.3)
    assert [name for name, gate in verdicts.items() if not gate["passed"]] == ["mmlu.max_drop"]
    assert verdicts["throughput.max_ttft_ms"]["value"] == 100.0  # the benchmark streamed, so it reported TTFT
    status = trtdeploy("status", str(out))
    assert status.exit_code == 0
    assert "verify: 1 of 3 gates failed" in status.stdout and "mmlu.max_drop" in status.stdout
    as_json = json.loads(trtdeploy("status", str(out), "--format", "json").stdout)
    assert as_json["results"]["passed"] is False


def test_a_baseline_results_json_gives_the_threshold(host: Host, tools: Path, tmp_path: Path, trtdeploy: Build,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRTDEPLOY_STANDIN_VERSION", "1.2.0")
    monkeypatch.setenv("TRTDEPLOY_STANDIN_SCORE", "mmlu:47.5,gsm8k:70")
    first = tmp_path / "baseline"
    assert trtdeploy("build", str(pytorch_spec(host, tmp_path / "a.yaml")), "-o", str(first), "--skip-doctor",
                     "--plain").exit_code == 0
    monkeypatch.setenv("TRTDEPLOY_STANDIN_SCORE", "mmlu:46.8,gsm8k:70")
    spec = pytorch_spec(host, tmp_path / "b.yaml", baseline=str(first / "results.json"))
    result = trtdeploy("build", str(spec), "-o", str(tmp_path / "out"), "--skip-doctor", "--plain")
    assert result.exit_code == 0, result.output
    gate = gates(tmp_path / "out")["mmlu.max_drop"]
    assert gate["threshold"] == 46.5 and gate["reason"] == f"baseline 47.5 ({first / 'results.json'}) - max_drop 1"


def test_an_output_without_figures_is_b212_and_the_gate_fails_unmeasured(
        host: Host, tools: Path, tmp_path: Path, trtdeploy: Build, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRTDEPLOY_STANDIN_VERSION", "0.8.0")
    monkeypatch.setenv("TRTDEPLOY_STANDIN_OOM", "1")
    spec, out = engine_spec(host, tmp_path / "spec.yaml", tools), tmp_path / "out"
    result = trtdeploy("build", str(spec), "-o", str(out), "--skip-doctor", "--plain")
    assert result.exit_code == 1
    assert "B212 error: step verify-throughput: gptSessionBenchmark's output" in result.stderr
    assert "ran out of GPU memory" in result.stderr
    assert "B211 error: verify gate throughput.min_output_tokens_per_s (output_tokens_per_s >= 1500 tokens/s) has " \
           "no measurement" in result.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["missing"][0]["step"] == "verify-throughput"


def test_a_failed_build_step_leaves_the_verify_gates_unmeasured(host: Host, tools: Path, tmp_path: Path,
                                                               trtdeploy: Build, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRTDEPLOY_STANDIN_VERSION", "0.8.0")
    monkeypatch.setenv("TRTDEPLOY_STANDIN_FAIL", "trtllm-build")
    spec, out = engine_spec(host, tmp_path / "spec.yaml", tools), tmp_path / "out"
    result = trtdeploy("build", str(spec), "-o", str(out), "--skip-doctor", "--plain")
    assert result.exit_code == 1 and "B208 error: step build failed" in result.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["passed"] is False
    assert {m["step"]: m["why"] for m in results["missing"]} == {"verify-mmlu": "not built",
                                                                 "verify-throughput": "not built"}


def test_changing_only_a_gate_reruns_only_the_verify_step(host: Host, tools: Path, tmp_path: Path, trtdeploy: Build,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRTDEPLOY_STANDIN_VERSION", "0.8.0")
    out = tmp_path / "out"
    assert trtdeploy("build", str(engine_spec(host, tmp_path / "spec.yaml", tools, gate=900)), "-o", str(out),
                     "--skip-doctor", "--plain").exit_code == 0
    again = trtdeploy("build", str(engine_spec(host, tmp_path / "spec.yaml", tools, gate=950)), "-o", str(out),
                      "--skip-doctor", "--plain")
    assert again.exit_code == 0, again.output
    assert calls(host)[4:] == ["gptSessionBenchmark"]


def test_an_engine_build_runs_summarize_py_and_gates_its_rouge_1(host: Host, tools: Path, tmp_path: Path,
                                                                 trtdeploy: Build, monkeypatch: pytest.MonkeyPatch) -> None:
    (host.examples / "summarize.py").symlink_to(STANDINS / "summarize.py")
    monkeypatch.setenv("TRTDEPLOY_STANDIN_VERSION", "0.8.0")
    monkeypatch.setenv("TRTDEPLOY_STANDIN_SCORE", "cnn_dailymail:19.5")
    spec, out = tmp_path / "spec.yaml", tmp_path / "out"
    spec.write_text(f"""\
name: tiny-verify-summarize
model: {{path: {host.model}}}
limits: {{max_batch_size: 4, max_input_len: 256, max_output_len: 128}}
target: {{gpu: H100-SXM, tensorrt_llm: "0.8.0"}}
verify:
  accuracy:
    - {{task: cnn_dailymail, min_score: 20, num_samples: 8}}
""")
    failed = trtdeploy("build", str(spec), "-o", str(out), "--skip-doctor", "--plain")
    assert failed.exit_code == 1, failed.output
    assert calls(host) == ["convert_checkpoint.py", "trtllm-build", "summarize.py"]
    gate = gates(out)["cnn_dailymail.min_score"]
    assert (gate["value"], gate["threshold"], gate["passed"]) == (19.5, 20.0, False)
    assert gate["margin"] == pytest.approx(-0.5)
    measured = json.loads((out / "results.json").read_text())["measured"][0]
    assert measured["tool"] == "summarize.py" and measured["tool_version"] == "0.8.0"
    assert measured["figures"]["rouge1"] == 19.5 and "rougeLsum" in measured["figures"]

    monkeypatch.setenv("TRTDEPLOY_STANDIN_SCORE", "cnn_dailymail:21.25")
    passed = trtdeploy("build", str(out), "--skip-doctor", "--plain", "--force", "verify-cnn_dailymail")
    assert passed.exit_code == 0, passed.output
    assert calls(host)[3:] == ["summarize.py"]
    assert gates(out)["cnn_dailymail.min_score"]["margin"] == pytest.approx(1.25)


@pytest.mark.parametrize("release", ["0.12.0", "0.17.0"])
def test_a_012_to_021_engine_gates_trtllm_bench_throughput(host: Host, tmp_path: Path, trtdeploy: Build,
                                                           monkeypatch: pytest.MonkeyPatch, release: str) -> None:
    # trtllm-bench throughput --engine_dir on a dataset of trtllm-bench's JSON lines; the stand-in prints the
    # release's report ("Token Throughput (tokens/sec):"), which the reader takes as output tokens per second.
    monkeypatch.setenv("TRTDEPLOY_STANDIN_VERSION", release)
    monkeypatch.setenv("TRTDEPLOY_STANDIN_TOKENS_PER_S", "1200")
    dataset = tmp_path / "requests.jsonl"
    dataset.write_text("".join(json.dumps({"task_id": i, "input_ids": [1, 2, 3, 4], "output_tokens": 64}) + "\n"
                               for i in range(16)))
    spec, out = tmp_path / "spec.yaml", tmp_path / "out"
    spec.write_text(f"""\
name: tiny-verify-bench-engine
model: {{path: {host.model}}}
limits: {{max_batch_size: 4, max_input_len: 256, max_output_len: 256}}
target: {{gpu: H100-SXM, tensorrt_llm: "{release}"}}
verify:
  throughput: {{dataset: {dataset}, num_requests: 16, min_output_tokens_per_s: 1500}}
""")
    failed = trtdeploy("build", str(spec), "-o", str(out), "--skip-doctor", "--plain")
    assert failed.exit_code == 1, failed.output
    assert calls(host)[-1] == "trtllm-bench"
    verdict = gates(out)["throughput.min_output_tokens_per_s"]
    assert (verdict["value"], verdict["passed"], verdict["margin"]) == (1200.0, False, -300.0)
    results = json.loads((out / "results.json").read_text())
    assert [(m["tool"], m["tool_version"]) for m in results["measured"]] == [("trtllm-bench", release)]
    assert "Token Throughput (tokens/sec):" in (out / results["measured"][0]["output"]).read_text()

    monkeypatch.setenv("TRTDEPLOY_STANDIN_TOKENS_PER_S", "1600")
    passed = trtdeploy("build", str(out), "--skip-doctor", "--plain", "--force", "verify-throughput")
    assert passed.exit_code == 0, passed.output
    assert gates(out)["throughput.min_output_tokens_per_s"]["margin"] == 100.0
