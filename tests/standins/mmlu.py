#!/usr/bin/env python3
"""Stand-in for TensorRT-LLM's examples/mmlu.py (0.8-0.10): link it as $EXAMPLES_DIR/mmlu.py.

It refuses what the release in TRTDEPLOY_STANDIN_VERSION refuses: argv against
compiler/catalog/tools/mmlu.py.yaml (exit 2, as argparse does); an --engine_dir that is not an engine, an
engine whose world size is not this run's MPI world size (ModelRunner's assertion), a tokenizer folder
(--hf_model_dir, or --tokenizer_dir) without config.json, a --data_dir without the test/ folder it lists
(exit 1). Then it prints what mmlu.py prints: "Average accuracy {:.3f} - {subject}" lines and
"Average accuracy: {:.3f}", the fraction TRTDEPLOY_STANDIN_SCORE / 100, and exits 0.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

import _pytorch_standin as p  # noqa: E402
import _verify_standin as v  # noqa: E402

from compiler.catalog.tools import ParsedArgs  # noqa: E402

TOOL = "mmlu.py"


def main() -> int:
    version = p.trtllm_release()

    def body(parsed: ParsedArgs) -> None:
        if "--test_trt_llm" not in parsed.values:
            raise p.Refused("the stand-in evaluates engines only (--test_trt_llm)")
        v.check_world(v.engine_config(p.one(parsed, "--engine_dir")))
        v.model_folder(p.one(parsed, "--tokenizer_dir") or p.one(parsed, "--hf_model_dir"), "--hf_model_dir")
        data = Path(p.one(parsed, "--data_dir", "data/mmlu") or "data/mmlu")
        if not (data / "test").is_dir():
            raise p.Refused(f"FileNotFoundError: {data / 'test'}")
        v.banner(version)
        if v.silent(TOOL) or v.rank() != 0:
            return
        accuracy = v.score("mmlu") / 100
        for subject in ("abstract_algebra", "anatomy", "STEM", "humanities"):
            print(f"Average accuracy {accuracy:.3f} - {subject}")
        print(f"Average accuracy: {accuracy:.3f}")

    return p.run(TOOL, version, body)


if __name__ == "__main__":
    sys.exit(main())
