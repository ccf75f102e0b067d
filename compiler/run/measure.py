"""Reading what each verify tool printed: its figures, from the text the real tool writes.

Every pattern is the tool's own print statement at the source named, and each reader is
tested on real sample output kept under tests/data/verify/:

- trtllm-eval mmlu: `logger.info(f"MMLU weighted average accuracy: {weighted_acc:.2f} ({len(all_corrections)})")`
  (tensorrt_llm/evaluate/mmlu.py); lm-eval tasks (gsm8k, gpqa_*): "<task> average accuracy: X" where the
  revision logs it, else the lm-eval table after "lm-eval <task> results (scores normalized to range 0~100):",
  whose Value column is averaged over the task's rows, as lm_eval.py's compute_score does; cnn_dailymail:
  `logger.info(f"\\t{key}: {metrics[key]*100:.3f}")` after "Beam 0 rouge scores:", rouge1 the score
  (tensorrt_llm/evaluate/cnn_dailymail.py @ 036a60f7).
- mmlu.py (0.8-0.10): `print("Average accuracy: {:.3f}".format(weighted_acc))`, a fraction, given in points here.
- summarize.py (0.8-0.10): `logger.info(f"TensorRT-LLM beam {beam_idx} result")`, then per ROUGE score
  `logger.info(f'  {key} : {computed_metrics_tensorrt_llm[key]*100}')` (points; rouge1 the score); an "HF beam 0
  result" block may follow, and is not read (examples/summarize.py, compiler/catalog/tools/summarize.py.yaml).
- trtllm-bench throughput: the PERFORMANCE OVERVIEW lines "Total Output Throughput (tokens/sec):" and, streaming,
  "Average time-to-first-token [TTFT] (ms):" (tensorrt_llm/bench/dataclasses/reporting.py). Before, a line of its
  own "Token Throughput (tokens/sec):" gives the same figure, output tokens over the total latency
  (`stats.total_output_tokens / total_latency_s`, tensorrt_llm/bench/run/run.py @ 20709ce9, 0.12.0; the 0.17.0
  sample in docs/source/performance/perf-benchmarking.md @ 04276b44: 3000 x 128 tokens / 13.5257 s = 28390.4).
- gptSessionBenchmark: `[BENCHMARK] batch_size %d input_length %d output_length %d latency(ms) %.2f tokensPerSec %.2f
  ...` (benchmarks/cpp/gptSessionBenchmark.cpp; "latency(ms) N/A tokensPerSec N/A" when the batch ran out of memory).

The release a tool ran is read from TensorRT-LLM's import banner ("[TensorRT-LLM] TensorRT-LLM version: 1.2.0")
or trtllm-bench's report ("TensorRT LLM Version:"); the C++ benchmark prints none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MAX_READ = 64 << 20  # a tool's log may be long; its figures are at the end

_VERSION = re.compile(r"TensorRT[- ]LLM [Vv]ersion:\s*([0-9][0-9A-Za-z.+-]*)")
_NUMBER = r"([-+]?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)"
_MMLU = re.compile(rf"MMLU weighted average accuracy:\s*{_NUMBER}(?:\s*\((\d+)\))?")
_MMLU_SCRIPT = re.compile(rf"^Average accuracy:\s*{_NUMBER}\s*$", re.MULTILINE)
_ROUGE_BEAM0 = re.compile(r"Beam 0 rouge scores:")
_ROUGE = re.compile(rf"^\s*(?:\[[^\]]*\]\s*)*\s*(rouge1|rouge2|rougeL|rougeLsum)\s*:\s*{_NUMBER}\s*$", re.MULTILINE)
_SUMMARIZE_BEAM0 = re.compile(r"TensorRT-LLM beam 0 result[ \t]*$", re.MULTILINE)
_SUMMARIZE_SCORE = re.compile(rf"^(?:\[[^\]]*\]\s*)*(rouge1|rouge2|rougeL|rougeLsum)\s*:\s*{_NUMBER}\s*$")
_BENCH = {
    "output_tokens_per_s": re.compile(rf"Total Output Throughput \(tokens/sec\):\s*{_NUMBER}"),
    "ttft_ms": re.compile(rf"Average time-to-first-token \[TTFT\] \(ms\):\s*{_NUMBER}"),
    "requests_per_s": re.compile(rf"Request Throughput \(req/sec\):\s*{_NUMBER}"),
    "total_latency_ms": re.compile(rf"Total Latency \(ms\):\s*{_NUMBER}"),
}
# The older label, anchored to its line so that 1.0's "Total Token Throughput" (input and output) never matches.
_BENCH_OUTPUT_BEFORE_1_0 = re.compile(rf"^Token Throughput \(tokens/sec\):\s*{_NUMBER}", re.MULTILINE)
_SESSION = re.compile(r"^\[BENCHMARK\]\s+(.*)$", re.MULTILINE)
_SESSION_FIGURES = {"latency(ms)": "latency_ms", "tokensPerSec": "output_tokens_per_s",
                    "gpu_peak_mem(gb)": "gpu_peak_mem_gb", "generationTokensPerSec": "generation_tokens_per_s",
                    "batch_size": "batch_size", "input_length": "input_len", "output_length": "output_len"}


class MeasureError(ValueError):
    """The tool's output does not hold the figures it prints when it succeeds."""


@dataclass(frozen=True)
class Reading:
    """The figures one verify step measured, and the release the tool said it was."""

    figures: dict[str, float]
    tool_version: str | None


def read_text(path: Path) -> str:
    """The captured output (its last MAX_READ bytes), decoded leniently: a tool may print anything."""
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - MAX_READ))
        return handle.read().decode("utf-8", errors="replace")


def read_output(reader: str, task: str, text: str) -> Reading:
    """The figures of a verify tool's output.

    Raises:
        MeasureError: the output lacks what the tool prints on success.
    """
    figures = READERS[reader](task, text)
    version = _VERSION.findall(text)
    return Reading(figures, version[-1] if version else None)


def _last(pattern: re.Pattern[str], text: str, what: str) -> re.Match[str]:
    found = list(pattern.finditer(text))
    if not found:
        raise MeasureError(f"no {what} in the output")
    return found[-1]


def _eval(task: str, text: str) -> dict[str, float]:
    if task == "mmlu":
        match = _last(_MMLU, text, "'MMLU weighted average accuracy:' line")
        return {"score": float(match.group(1)), **({"samples": float(match.group(2))} if match.group(2) else {})}
    if task == "cnn_dailymail":
        return _rouge(text)
    average = list(re.finditer(rf"\b{re.escape(task)}\S* average accuracy:\s*{_NUMBER}", text))
    if average:
        return {"score": float(average[-1].group(1))}
    return {"score": _lm_eval_table(task, text)}


def _rouge(text: str) -> dict[str, float]:
    start = _last(_ROUGE_BEAM0, text, "'Beam 0 rouge scores:' line").end()
    scores = {name: float(value) for name, value in _ROUGE.findall(text[start:])}
    if "rouge1" not in scores:
        raise MeasureError("no rouge1 score after 'Beam 0 rouge scores:'")
    return {"score": scores["rouge1"], **scores}


def _lm_eval_table(task: str, text: str) -> float:
    """The mean of the Value column of the task's rows in the last lm-eval table (scores already 0-100)."""
    header = _last(re.compile(rf"lm-eval {re.escape(task)} results"), text, f"lm-eval {task} results table")
    values: list[float] = []
    columns: list[str] = []
    for line in text[header.end():].splitlines()[1:]:
        if not line.startswith("|"):
            if columns:
                break
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not columns:
            columns = cells
            continue
        if set("".join(cells)) <= set("-: "):
            continue
        row = dict(zip(columns, cells))
        if row.get("Tasks", "") not in ("", task):
            continue
        try:
            values.append(float(row.get("Value", "")))
        except ValueError:
            raise MeasureError(f"lm-eval {task} table: Value {row.get('Value')!r} is not a number") from None
    if not values:
        raise MeasureError(f"the lm-eval {task} table has no {task} rows")
    return sum(values) / len(values)


def _mmlu_script(task: str, text: str) -> dict[str, float]:
    match = _last(_MMLU_SCRIPT, text, "'Average accuracy:' line")
    return {"score": round(float(match.group(1)) * 100, 6)}


def _summarize_script(task: str, text: str) -> dict[str, float]:
    """The ROUGE lines right after the last "TensorRT-LLM beam 0 result" (not the HF block that may follow)."""
    start = _last(_SUMMARIZE_BEAM0, text, "'TensorRT-LLM beam 0 result' line").end()
    scores: dict[str, float] = {}
    for line in text[start:].splitlines()[1:]:
        match = _SUMMARIZE_SCORE.match(line.strip())
        if match is None:
            break
        scores[match.group(1)] = float(match.group(2))
    if "rouge1" not in scores:
        raise MeasureError("no rouge1 line after 'TensorRT-LLM beam 0 result' (the output ends or is cut there)")
    return {"score": scores["rouge1"], **scores}


def _bench(task: str, text: str) -> dict[str, float]:
    figures = {name: float(found[-1]) for name, pattern in _BENCH.items() if (found := pattern.findall(text))}
    if "output_tokens_per_s" not in figures and (older := _BENCH_OUTPUT_BEFORE_1_0.findall(text)):
        figures["output_tokens_per_s"] = float(older[-1])
    if "output_tokens_per_s" not in figures:
        raise MeasureError("no 'Total Output Throughput (tokens/sec):' (or, before 1.0, 'Token Throughput "
                           "(tokens/sec):') line in the output")
    return figures


def _session(task: str, text: str) -> dict[str, float]:
    lines = _SESSION.findall(text)
    if not lines:
        raise MeasureError("no [BENCHMARK] line in the output")
    words = lines[-1].split()
    pairs = dict(zip(words[::2], words[1::2]))
    if pairs.get("tokensPerSec") == "N/A":
        raise MeasureError(f"the batch of {pairs.get('batch_size')} ran out of GPU memory ([BENCHMARK] ... N/A)")
    figures = {}
    for name, key in _SESSION_FIGURES.items():
        if name in pairs:
            try:
                figures[key] = float(pairs[name])
            except ValueError:
                raise MeasureError(f"[BENCHMARK] {name} {pairs[name]!r} is not a number") from None
    if "output_tokens_per_s" not in figures:
        raise MeasureError("the [BENCHMARK] line has no tokensPerSec")
    return figures


READERS: dict[str, Callable[[str, str], dict[str, float]]] = {
    "trtllm-eval": _eval,
    "mmlu.py": _mmlu_script,
    "summarize.py": _summarize_script,
    "trtllm-bench": _bench,
    "gptSessionBenchmark": _session,
}
