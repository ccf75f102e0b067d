#!/usr/bin/env python3
"""Stand-in for ModelOpt's examples/llm_ptq/hf_ptq.py: quantize a Hugging Face model, export an HF checkpoint.

Checks argv against compiler/catalog/tools/hf_ptq.py.yaml for the ModelOpt release in
TRTDEPLOY_STANDIN_MODELOPT_VERSION (default: the one TRTDEPLOY_STANDIN_VERSION ships, per
compiler/catalog/pytorch/backend.yaml) and exits 2 on anything that release's argparse or
its --qformat / --kv_cache_qformat checks refuse. Past that it is no stand-in:
_modelopt_hf.py quantizes for real with the installed ModelOpt on a CPU and writes the HF
checkpoint with hf_quant_config.json (needs torch, nvidia-modelopt and transformers under
the python3 that runs it, and a local model folder and calibration text file).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

import _modelopt_hf  # noqa: E402
import _pytorch_standin as p  # noqa: E402

from compiler.catalog.pytorch_backend import modelopt_shipped  # noqa: E402
from compiler.catalog.tools import ParsedArgs  # noqa: E402
from compiler.versions import Version, parse_version  # noqa: E402

TOOL = "hf_ptq.py"


def modelopt_release() -> Version:
    text = os.environ.get("TRTDEPLOY_STANDIN_MODELOPT_VERSION")
    return parse_version(text) if text else modelopt_shipped(p.trtllm_release()).version


def main() -> int:
    version = modelopt_release()

    def body(parsed: ParsedArgs) -> None:
        _modelopt_hf.run(parsed, version)

    return p.run(TOOL, version, body)


if __name__ == "__main__":
    sys.exit(main())
