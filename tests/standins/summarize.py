#!/usr/bin/env python3
"""Stand-in for TensorRT-LLM's examples/summarize.py (0.8-0.10): link it as $EXAMPLES_DIR/summarize.py.

It refuses what the release in TRTDEPLOY_STANDIN_VERSION refuses: argv against
compiler/catalog/tools/summarize.py.yaml (exit 2, as argparse does); an --engine_dir that is not an engine,
an engine whose world size is not this run's MPI world size (ModelRunner's assertion), runtime limits above
the engine's (the C++ runner is created with max_input_len=--max_input_length, max_output_len=--output_len,
max_batch_size=--batch_size), a tokenizer folder (--tokenizer_dir, else --hf_model_dir) without config.json
(exit 1). It never downloads: --dataset_path is the datasets cache the real script would fill. Then rank 0
prints what summarize.py logs: the latency and token lines, "TensorRT-LLM beam 0 result" and the ROUGE
lines f'  {key} : {value*100}', rouge1 = TRTDEPLOY_STANDIN_SCORE (task cnn_dailymail), and exits 0.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

import _pytorch_standin as p  # noqa: E402
import _verify_standin as v  # noqa: E402

from compiler.catalog.tools import ParsedArgs  # noqa: E402

TOOL = "summarize.py"
TASK = "cnn_dailymail"
# What each runtime limit is checked against in the engine's build_config.
LIMITS = (("--max_input_length", "923", "max_input_len"), ("--output_len", "100", "max_output_len"),
          ("--batch_size", "1", "max_batch_size"))


def check_limits(parsed: ParsedArgs, config: dict[str, object]) -> None:
    build = config.get("build_config")
    if not isinstance(build, dict):
        return
    for flag, default, key in LIMITS:
        asked, built = int(p.one(parsed, flag, default) or default), build.get(key)
        if built is not None and asked > int(str(built)):
            raise p.Refused(f"{flag} {asked} is above the engine's {key} {built}")


def log(message: str) -> None:
    print(f"[{time.strftime('%m/%d/%Y-%H:%M:%S')}] [TRT-LLM] [I] {message}")


def main() -> int:
    version = p.trtllm_release()

    def body(parsed: ParsedArgs) -> None:
        if "--test_trt_llm" not in parsed.values:
            raise p.Refused("the stand-in evaluates engines only (--test_trt_llm)")
        config = v.engine_config(p.one(parsed, "--engine_dir"))
        v.check_world(config)
        check_limits(parsed, config)
        v.model_folder(p.one(parsed, "--tokenizer_dir") or p.one(parsed, "--hf_model_dir"), "--hf_model_dir")
        v.banner(version)
        if v.silent(TOOL) or v.rank() != 0:
            return
        articles = int(p.one(parsed, "--max_ite", "20") or 20) * int(p.one(parsed, "--batch_size", "1") or 1)
        tokens = articles * int(p.one(parsed, "--output_len", "100") or 100)
        rouge1 = v.score(TASK)
        log("TensorRT-LLM (total latency: 12.5 sec)")
        log(f"TensorRT-LLM (total output tokens: {tokens})")
        log(f"TensorRT-LLM (tokens per second: {tokens / 12.5})")
        log("TensorRT-LLM beam 0 result")
        for key, value in (("rouge1", rouge1), ("rouge2", rouge1 / 3), ("rougeL", rouge1 * 0.7),
                           ("rougeLsum", rouge1 * 0.8)):
            log(f"  {key} : {value}")

    return p.run(TOOL, version, body)


if __name__ == "__main__":
    sys.exit(main())
