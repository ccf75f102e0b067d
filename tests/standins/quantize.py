#!/usr/bin/env python3
"""Stand-in for TensorRT-LLM's examples/quantization/quantize.py (ModelOpt PTQ + TRT-LLM checkpoint export).

Checks argv against the package's surface of quantize.py for the release played, refuses a
--calib_dataset that release does not read (refusals.py), reads --model_dir's
config.json, and writes a TRT-LLM checkpoint: config.json with architecture,
dtype, mapping and quantization from the flags, plus rank{N}.safetensors.

With TRTDEPLOY_STANDIN_MODELOPT=1 it is no stand-in past the argv check: _modelopt.py
quantizes the model for real with NVIDIA ModelOpt and exports a real TensorRT-LLM
checkpoint, as quantize.py does (needs torch, nvidia-modelopt and transformers under
the python3 that runs the step; runs on a CPU).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

import _standin as s  # noqa: E402
from refusals import quantize_refusals  # noqa: E402

TOOL = "quantize.py"


def write(call: s.Call) -> None:
    args = call.args
    s.refuse(quantize_refusals(call.version, args))
    if os.environ.get("TRTDEPLOY_STANDIN_MODELOPT") == "1":
        import _modelopt

        _modelopt.run(args)
        return
    hf, model_digest = s.read_model(s.one(args, "--model_dir"))
    qformat = s.one(args, "--qformat", "full_prec") or "full_prec"
    kv = s.one(args, "--kv_cache_dtype")
    calib = s.one(args, "--calib_dataset")
    calib_digest = s.folder_digest(Path(calib)) if calib and Path(calib).exists() else calib
    tp, pp = s.integer(args, "--tp_size", 1), s.integer(args, "--pp_size", 1)
    quant: dict[str, object] = {"quant_algo": s.QFORMAT_ALGO.get(qformat),
                                "kv_cache_quant_algo": kv.upper() if kv and kv != "None" else None}
    if "awq" in qformat:
        quant["group_size"] = s.integer(args, "--awq_block_size", 128)
    dtype = s.one(args, "--dtype", "auto")
    config = {
        "producer": {"name": "modelopt (trtdeploy stand-in)"},
        "architecture": (hf.get("architectures") or ["LlamaForCausalLM"])[0],
        "dtype": hf.get("torch_dtype", "float16") if dtype == "auto" else dtype,
        "mapping": s.mapping(tp, pp),
        "quantization": quant,
    }
    kept = {k: v for k, v in args.items() if k not in {"--output_dir", "--model_dir", "--calib_dataset"}}
    seed = s.seed_of(TOOL, kept, model_digest, calib_digest)
    s.write_ranks(s.output_dir(args, "exported_model"), config, "safetensors", seed, TOOL)


if __name__ == "__main__":
    sys.exit(s.run(TOOL, write))
