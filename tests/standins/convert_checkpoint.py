#!/usr/bin/env python3
"""Stand-in for TensorRT-LLM's convert_checkpoint.py of a model family (examples/<family>/, or examples/models/*/<family>/).

The family is the folder the script is called through; its surface is the package's
convert_checkpoint.py-<family> file where there is one, else llama's. Checks argv against
it for the release played, refuses a --calib_dataset that release does not read
(refusals.py), reads --model_dir's
config.json (and the GPTQ checkpoint, when given), and writes a TRT-LLM
checkpoint: config.json with architecture, dtype, mapping and quantization
derived from the flags, plus rank{N}.safetensors.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

import _standin as s  # noqa: E402
from refusals import convert_refusals  # noqa: E402

from compiler.catalog.tools import TOOLS_DIR  # noqa: E402

TOOL = "convert_checkpoint.py"
CKPT_FLAGS = ("--quant_ckpt_path", "--modelopt_quant_ckpt_path", "--ammo_quant_ckpt_path")


def quantization(args: s.Args) -> dict[str, object]:
    algo = None
    if "--use_weight_only" in args:
        algo = s.WEIGHT_ONLY_ALGO[s.one(args, "--weight_only_precision", "int8") or "int8"]
    if "--smoothquant" in args or "-sq" in args:
        algo = "W8A8_SQ_PER_CHANNEL" if "--per_channel" in args else "W8A8_SQ_PER_TENSOR"
        algo += "_PER_TOKEN_PLUGIN" if "--per_token" in args else "_PER_TENSOR_PLUGIN"
    if "--use_fp8" in args or "--enable_fp8" in args:
        algo = "FP8"
    kv = "INT8" if "--int8_kv_cache" in args else "FP8" if "--fp8_kv_cache" in args else None
    quant: dict[str, object] = {"quant_algo": algo, "kv_cache_quant_algo": kv}
    if algo and ("GPTQ" in algo or "AWQ" in algo):
        quant["group_size"] = s.integer(args, "--group_size", 128)
    return quant


def facts_tool() -> str:
    """The tool file of the family this script was called as (its folder's name), llama's by default."""
    family = Path(sys.argv[0]).parent.name
    own = f"{TOOL}-{family}"
    return own if (TOOLS_DIR / f"{own}.yaml").is_file() else TOOL


def write(call: s.Call) -> None:
    args = call.args
    s.refuse(convert_refusals(call.version, args))
    hf, model_digest = s.read_model(s.one(args, "--model_dir"))
    digests = [model_digest]
    for flag in CKPT_FLAGS:
        path = s.one(args, flag)
        if path is not None:
            if not Path(path).exists():
                raise s.StandinError(f"{flag} {path}: no such file or folder")
            digests.append(s.folder_digest(Path(path)))
    tp, pp = s.integer(args, "--tp_size", 1), s.integer(args, "--pp_size", 1)
    dtype = s.one(args, "--dtype", "auto")
    config = {
        "architecture": (hf.get("architectures") or ["LlamaForCausalLM"])[0],
        "dtype": hf.get("torch_dtype", "float16") if dtype in (None, "auto") else dtype,
        "mapping": s.mapping(tp, pp),
        "quantization": quantization(args),
    }
    kept = {k: v for k, v in args.items() if k not in {"--output_dir", "--model_dir", "--calib_dataset", *CKPT_FLAGS}}
    seed = s.seed_of(TOOL, kept, digests)
    s.write_ranks(s.output_dir(args, "tllm_checkpoint"), config, "safetensors", seed, TOOL)


if __name__ == "__main__":
    sys.exit(s.run(TOOL, write, facts_tool()))
