"""The real mode of the quantize.py stand-in: what TensorRT-LLM's examples/quantization/quantize.py does, through ModelOpt.

Used when TRTDEPLOY_STANDIN_MODELOPT=1, after the stand-in has checked argv against
the package's surface of quantize.py (the one argv check; see _standin.py). It loads the Hugging
Face model of --model_dir, calibrates it on a local text file with ModelOpt, and
exports a TensorRT-LLM checkpoint (config.json + rank{N}.safetensors, one per
tp x pp rank) with ModelOpt's own export_tensorrt_llm_checkpoint, the function
quantize.py calls. tensorrt_llm is not needed: without it ModelOpt writes the
checkpoint's config.json "manually" (and warns so).

What it mirrors from quantize.py (0.16 / 1.x: tensorrt_llm/quantization/quantize_by_modelopt.py):
  --qformat            fp8, int4_awq, int8_sq, w4a8_awq, fp8_pc_pt, nvfp4 calibrate with the ModelOpt preset
                       of that name; int8_wo, int4_wo and full_prec calibrate nothing but the KV cache and
                       export full-precision weights, with quant_algo rewritten to W8A16 / W4A16 / None
  --kv_cache_dtype     fp8 | int8 | None (ModelOpt has no int8 KV preset: FP8_KV_CFG with num_bits 8)
  --awq_block_size     the weight quantizer's block size for *awq* formats
  --calib_dataset      a local .txt (one sample per line), .jsonl / .json ({"text": ...} or strings), or a
                       folder of those; dataset names (cnn_dailymail, ...) need the network and are refused
  --calib_size         samples; capped at 32 for any *awq* qformat, as quantize.py does
  --calib_max_seq_length, --batch_size, --seed, --tp_size, --pp_size, --dtype, --decoder_type
  --device             cuda | cpu; when absent: $TRTDEPLOY_STANDIN_DEVICE, else cuda when torch sees a GPU,
                       else cpu (quantize.py's own default is cuda)

Calibration runs in float32 on a CPU (half-precision CPU kernels are slow or
missing) and in --dtype on a GPU; the export is in --dtype either way.

Also the rope fix: transformers 5 keeps rope_theta only in config.rope_parameters,
where ModelOpt's export does not look, so it would silently drop rotary_base
(TensorRT-LLM would then use 10000); it is put back before the export.
"""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path
from typing import Any

import _standin as s

# quantize.py's --qformat -> ModelOpt preset (None: no weight quantization, only the KV cache if asked).
PRESETS = {
    "fp8": "FP8_DEFAULT_CFG",
    "int4_awq": "INT4_AWQ_CFG",
    "int8_sq": "INT8_SMOOTHQUANT_CFG",
    "w4a8_awq": "W4A8_AWQ_BETA_CFG",
    "fp8_pc_pt": "FP8_PER_CHANNEL_PER_TOKEN_CFG",
    "nvfp4": "NVFP4_DEFAULT_CFG",
    "int8_wo": None,
    "int4_wo": None,
    "full_prec": None,
}
# quant_algo that quantize.py writes for the formats TensorRT-LLM quantizes itself at build time.
REWRITTEN_ALGO = {"int8_wo": "W8A16", "int4_wo": "W4A16", "full_prec": None}
AWQ_CALIB_CAP = 32
TEXT_SUFFIXES = (".txt", ".json", ".jsonl")
DECODER_TYPES = {"llama": "llama", "mistral": "llama", "qwen2": "qwen", "gpt2": "gpt", "mixtral": "llama"}


def _dtype(name: str, model_dir: Path) -> str:
    """quantize.py's --dtype: auto takes the model's (a float32 model exports as float16)."""
    if name not in ("auto", "None"):
        return name
    config = json.loads((model_dir / "config.json").read_text())
    found = str(config.get("torch_dtype") or config.get("dtype") or "float16")
    return "float16" if found == "float32" else found


def _texts_of(path: Path) -> list[str]:
    raw = path.read_text(encoding="utf-8")
    if path.suffix == ".txt":
        return [line.strip() for line in raw.splitlines() if line.strip()]
    items = json.loads(raw) if path.suffix == ".json" else [json.loads(x) for x in raw.splitlines() if x.strip()]
    return [item if isinstance(item, str) else str(item["text"]) for item in items]


def calibration_texts(dataset: str | None, samples: int) -> list[str]:
    """`samples` texts from a local file or folder, repeated from the start when the file is shorter."""
    if dataset is None or not Path(dataset).exists():
        raise s.StandinError(f"--calib_dataset {dataset!r}: the real ModelOpt mode reads a local text file or folder "
                             "only (dataset names need the network); set quantization.calibration.dataset to a path")
    path = Path(dataset)
    files = sorted(p for p in path.rglob("*") if p.suffix in TEXT_SUFFIXES) if path.is_dir() else [path]
    texts = [text for file in files for text in _texts_of(file)]
    if not texts:
        raise s.StandinError(f"--calib_dataset {dataset}: no calibration text there")
    return (texts * (samples // len(texts) + 1))[:samples]


def _set_block_size(cfg: dict[str, Any], block: int) -> None:
    """block_sizes[-1] of the block-quantized *weight_quantizer entries (ModelOpt 0.47: a list of entries)."""
    found = False
    for entry in cfg["quant_cfg"]:
        if entry.get("quantizer_name") != "*weight_quantizer" or "cfg" not in entry:
            continue
        subs = entry["cfg"] if isinstance(entry["cfg"], list) else [entry["cfg"]]
        for sub in subs:
            sizes = sub.get("block_sizes") if isinstance(sub, dict) else None
            if sizes and (-1 in sizes or "-1" in sizes):
                sizes[-1 if -1 in sizes else "-1"] = block
                found = True
    if not found:
        raise s.StandinError("internal: no block-quantized weight quantizer in the AWQ preset")


def _kv_entries(mtq: Any, kind: str) -> list[dict[str, Any]]:
    entries = copy.deepcopy(mtq.FP8_KV_CFG["quant_cfg"])
    if kind == "int8":
        for entry in entries:
            entry["cfg"]["num_bits"] = 8  # the export reports this as kv_cache_quant_algo INT8
    return entries


def quant_config(mtq: Any, qformat: str, kv: str | None, block: int) -> dict[str, Any] | None:
    """The ModelOpt config of quantize.py's flags; None when nothing is calibrated at all."""
    preset = PRESETS[qformat]
    if preset is None and kv is None:
        return None
    if preset is None:
        cfg: dict[str, Any] = {"quant_cfg": [{"quantizer_name": "*", "enable": False}], "algorithm": "max"}
    else:
        cfg = copy.deepcopy(getattr(mtq, preset))
    if "awq" in qformat:
        _set_block_size(cfg, block)
    if kv is not None:
        cfg = mtq.update_quant_cfg_with_kv_cache_quant(cfg, _kv_entries(mtq, kv))
    return cfg


def _decoder_type(args: s.Args, model_dir: Path) -> str:
    given = s.one(args, "--decoder_type")
    if given:
        return given
    model_type = str(json.loads((model_dir / "config.json").read_text()).get("model_type", "llama"))
    return DECODER_TYPES.get(model_type, model_type)


def _restore_rope_theta(config: Any) -> None:
    params = getattr(config, "rope_parameters", None) or {}
    if "rope_theta" not in config.__dict__ and isinstance(params, dict) and "rope_theta" in params:
        config.__dict__["rope_theta"] = params["rope_theta"]


def run(args: s.Args) -> None:
    """Calibrate and export, as quantize.py does with these (already checked) flags."""
    started = time.perf_counter()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    qformat = s.one(args, "--qformat", "full_prec") or "full_prec"
    if qformat not in PRESETS:
        raise s.StandinError(f"--qformat {qformat}: not implemented by the real ModelOpt mode")
    kv_flag = s.one(args, "--kv_cache_dtype")
    kv = None if kv_flag in (None, "None", "none") else kv_flag
    model_dir = Path(s.one(args, "--model_dir") or "")
    if not (model_dir / "config.json").is_file():
        raise s.StandinError(f"--model_dir {model_dir}: no config.json there")
    dtype_name = _dtype(s.one(args, "--dtype", "auto") or "auto", model_dir)
    samples = s.integer(args, "--calib_size", 512)
    if "awq" in qformat and samples > AWQ_CALIB_CAP:
        print(f"AWQ calibration is capped at {AWQ_CALIB_CAP} samples (calib_size {samples})", flush=True)
        samples = AWQ_CALIB_CAP
    seq_len = s.integer(args, "--calib_max_seq_length", 512)
    batch = max(1, s.integer(args, "--batch_size", 1))
    tp, pp = s.integer(args, "--tp_size", 1), s.integer(args, "--pp_size", 1)
    out = s.output_dir(args, "exported_model")

    import modelopt.torch.quantization as mtq
    import torch
    from modelopt.torch.export import export_tensorrt_llm_checkpoint
    from transformers import AutoModelForCausalLM, AutoTokenizer

    imported = time.perf_counter()
    torch.manual_seed(s.integer(args, "--seed", 1234))
    device = s.one(args, "--device") or os.environ.get("TRTDEPLOY_STANDIN_DEVICE") or (
        "cuda" if torch.cuda.is_available() else "cpu")
    dtype = getattr(torch, dtype_name)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    calib_dtype = torch.float32 if device == "cpu" else dtype
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=calib_dtype).to(device).eval()

    cfg = quant_config(mtq, qformat, kv, s.integer(args, "--awq_block_size", 128))
    calibrated = 0
    if cfg is not None:
        texts = calibration_texts(s.one(args, "--calib_dataset"), samples)
        batches = [tokenizer(texts[i:i + batch], return_tensors="pt", padding=True, truncation=True,
                             max_length=seq_len)["input_ids"].to(device) for i in range(0, len(texts), batch)]

        def forward_loop(m: Any) -> None:
            with torch.no_grad():
                for ids in batches:
                    m(ids)

        model = mtq.quantize(model, cfg, forward_loop)
        calibrated = len(texts)
    quantized = time.perf_counter()

    _restore_rope_theta(model.config)
    with torch.inference_mode():
        export_tensorrt_llm_checkpoint(model, _decoder_type(args, model_dir), dtype, export_dir=str(out),
                                       inference_tensor_parallel=tp, inference_pipeline_parallel=pp)
    config_path = out / "config.json"
    config = json.loads(config_path.read_text())
    if qformat in REWRITTEN_ALGO:
        config.setdefault("quantization", {})["quant_algo"] = REWRITTEN_ALGO[qformat]
        config_path.write_text(json.dumps(config, indent=4))
    done = time.perf_counter()
    timings = {"import_s": round(imported - started, 2), "quantize_s": round(quantized - imported, 2),
               "export_s": round(done - quantized, 2), "total_s": round(done - started, 2)}
    print(f"ModelOpt ({device}): {qformat}, KV {kv}, {calibrated} samples of <= {seq_len} tokens -> {out}", flush=True)
    print("quantization:", json.dumps(config.get("quantization")), "mapping:", json.dumps(config.get("mapping")),
          flush=True)
    print("timings:", json.dumps(timings), flush=True)
