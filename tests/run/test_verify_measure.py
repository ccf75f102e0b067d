"""The verify tools' output readers on real published output (tests/data/verify/SOURCES.md says where from)."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.run.measure import MeasureError, read_output, read_text

DATA = Path(__file__).resolve().parents[1] / "data" / "verify"


def reading(name: str, reader: str, task: str) -> dict[str, float]:
    return read_output(reader, task, read_text(DATA / name)).figures


def test_trtllm_eval_mmlu_reads_the_weighted_average_and_the_question_count() -> None:
    assert reading("trtllm-eval-mmlu.log", "trtllm-eval", "mmlu") == {"score": 79.09, "samples": 14042.0}


def test_trtllm_eval_gsm8k_averages_the_lm_eval_table_rows_of_the_task() -> None:
    assert reading("trtllm-eval-gsm8k.log", "trtllm-eval", "gsm8k")["score"] == pytest.approx((84.3063 + 88.6277) / 2)


def test_an_average_accuracy_line_wins_over_the_table() -> None:
    text = (DATA / "trtllm-eval-gsm8k.log").read_text() + "[TRT-LLM] [I] lm-eval gsm8k average accuracy: 86.47\n"
    assert read_output("trtllm-eval", "gsm8k", text).figures == {"score": 86.47}


def test_cnn_dailymail_reads_beam_0_rouge_scores_in_the_evaluators_format() -> None:
    # No published cnn_dailymail log was found; these lines follow cnn_dailymail.py's logger.info formats.
    text = ("[TRT-LLM] [I] Beam 0 rouge scores:\n[TRT-LLM] [I] \trouge1: 24.813\n[TRT-LLM] [I] \trouge2: 7.911\n"
            "[TRT-LLM] [I] \trougeL: 17.240\n[TRT-LLM] [I] \trougeLsum: 22.016\n")
    figures = read_output("trtllm-eval", "cnn_dailymail", text).figures
    assert figures["score"] == 24.813 and figures["rouge2"] == 7.911 and figures["rougeLsum"] == 22.016


def test_mmlu_py_gives_its_fraction_in_points() -> None:
    assert reading("mmlu.py-0.8.0.log", "mmlu.py", "mmlu") == {"score": 34.2}


def test_mmlu_py_is_not_misread_from_a_per_subject_line() -> None:
    text = "Average accuracy 0.342 - STEM\n"
    with pytest.raises(MeasureError, match="'Average accuracy:' line"):
        read_output("mmlu.py", "mmlu", text)


def test_summarize_py_reads_beam_0_rouge_in_points() -> None:
    figures = reading("summarize.py-qwen.log", "summarize.py", "cnn_dailymail")
    assert figures == {"score": 26.35215119137573, "rouge1": 26.35215119137573, "rouge2": 9.507814774384485,
                       "rougeL": 18.171982659482865, "rougeLsum": 21.10413175647868}


SUMMARIZE_TRT_AND_HF = """\
[03/10/2024-09:29:40] [TRT-LLM] [I] TensorRT-LLM (tokens per second: 388.9467022139794)
[03/10/2024-09:29:40] [TRT-LLM] [I] TensorRT-LLM beam 0 result
[03/10/2024-09:29:40] [TRT-LLM] [I]   rouge1 : 21.95770615933248
[03/10/2024-09:29:40] [TRT-LLM] [I]   rouge2 : 6.127009262128831
[03/10/2024-09:29:40] [TRT-LLM] [I] Hugging Face (total latency: 11.438827991485596 sec)
[03/10/2024-09:29:40] [TRT-LLM] [I] HF beam 0 result
[03/10/2024-09:29:40] [TRT-LLM] [I]   rouge1 : 99.0
"""


def test_summarize_py_reads_the_engines_block_not_the_hf_one_after_it() -> None:
    figures = read_output("summarize.py", "cnn_dailymail", SUMMARIZE_TRT_AND_HF).figures
    assert figures == {"score": 21.95770615933248, "rouge1": 21.95770615933248, "rouge2": 6.127009262128831}


@pytest.mark.parametrize("cut", [
    "[11/09/2023-02:24:06] [TRT-LLM] [I] TensorRT-LLM beam 0 result\n",  # ends before the scores
    "[11/09/2023-02:24:06] [TRT-LLM] [I] TensorRT-LLM beam 0 result\n[11/09/2023-02:24:06] [TRT-LLM] [I]   rouge1 : 26.",
    "[11/09/2023-02:24:06] [TRT-LLM] [I] TensorRT-LLM beam 0 result\n[TRT-LLM] [I]   rouge2 : 9.5\n",  # no rouge1
    "[TRT-LLM] [I] HF beam 0 result\n[TRT-LLM] [I]   rouge1 : 26.3\n",  # Hugging Face's score only
])
def test_summarize_py_truncated_or_without_the_engines_rouge1_is_an_error(cut: str) -> None:
    with pytest.raises(MeasureError, match="TensorRT-LLM beam 0 result"):
        read_output("summarize.py", "cnn_dailymail", cut)


def test_gpt_session_benchmark_reads_the_benchmark_line() -> None:
    figures = reading("gptSessionBenchmark-0.8.0.log", "gptSessionBenchmark", "throughput")
    assert figures == {"batch_size": 1.0, "input_len": 128.0, "output_len": 256.0, "latency_ms": 2918.14,
                       "output_tokens_per_s": 87.73, "gpu_peak_mem_gb": 93.76}


def test_gpt_session_benchmark_out_of_memory_has_no_result() -> None:
    text = "[BENCHMARK] batch_size 64 input_length 2048 output_length 1024 latency(ms) N/A tokensPerSec N/A\n"
    with pytest.raises(MeasureError, match="ran out of GPU memory"):
        read_output("gptSessionBenchmark", "throughput", text)


def test_trtllm_bench_reads_throughput_ttft_and_the_release() -> None:
    found = read_output("trtllm-bench", "throughput", read_text(DATA / "trtllm-bench-throughput-streaming.log"))
    assert found.figures["output_tokens_per_s"] == 11076.77
    assert found.figures["ttft_ms"] == 162.6706
    assert found.figures["requests_per_s"] == 86.5373
    assert found.tool_version == "0.21.0rc0"


def test_trtllm_bench_without_streaming_has_no_ttft() -> None:
    figures = reading("trtllm-bench-throughput-offline.log", "trtllm-bench", "throughput")
    assert figures["output_tokens_per_s"] == 185.8351 and "ttft_ms" not in figures


def test_the_0_17_engine_report_gives_its_token_throughput_as_output_throughput() -> None:
    found = read_output("trtllm-bench", "throughput", read_text(DATA / "trtllm-bench-throughput-0.17.0.log"))
    # 3000 requests x 128 output tokens over 13525.6862 ms: the "Token Throughput" line counts output tokens
    assert found.figures["output_tokens_per_s"] == 28390.4265
    assert found.figures["output_tokens_per_s"] == pytest.approx(3000 * 128 / 13.5256862, rel=1e-6)
    assert found.figures["requests_per_s"] == 221.8002 and "ttft_ms" not in found.figures
    assert found.tool_version == "0.17.0"


def test_the_0_12_report_format_is_read() -> None:
    # run.py @ 20709ce9 (0.12.0) logs "= STATISTICS" with tab-separated figures and the latency in seconds
    text = ("[TensorRT-LLM] TensorRT-LLM version: 0.12.0\n[08/29/2024-10:00:00] [TRT-LLM] [I] \n"
            "===========================================================\n= STATISTICS\n"
            "===========================================================\nNumber of requests:\t\t256\n"
            "Average Input Length (tokens):\t128.0\nAverage Output Length (tokens):\t128.0\n"
            "Token Throughput (tokens/sec):\t1733.5\nRequest Throughput (req/sec):\t13.54\n"
            "Total Latency (seconds):\t18.9\n")
    found = read_output("trtllm-bench", "throughput", text)
    assert found.figures["output_tokens_per_s"] == 1733.5 and found.tool_version == "0.12.0"


def test_total_token_throughput_is_never_taken_for_output_throughput() -> None:
    text = "Total Token Throughput (tokens/sec):                 22153.5400\n"
    with pytest.raises(MeasureError, match="Token Throughput"):
        read_output("trtllm-bench", "throughput", text)


@pytest.mark.parametrize(("reader", "task"), [("trtllm-eval", "mmlu"), ("trtllm-eval", "gsm8k"),
                                              ("trtllm-eval", "cnn_dailymail"), ("mmlu.py", "mmlu"),
                                              ("summarize.py", "cnn_dailymail"),
                                              ("trtllm-bench", "throughput"), ("gptSessionBenchmark", "throughput")])
def test_an_output_without_figures_is_an_error(reader: str, task: str) -> None:
    with pytest.raises(MeasureError):
        read_output(reader, task, "[TensorRT-LLM] TensorRT-LLM version: 1.2.0\nstand-in: done\n")


def test_the_banner_gives_the_release() -> None:
    text = "[TensorRT-LLM] TensorRT-LLM version: 0.8.0\n" + read_text(DATA / "mmlu.py-0.8.0.log")
    assert read_output("mmlu.py", "mmlu", text).tool_version == "0.8.0"
