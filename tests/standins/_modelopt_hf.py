"""The real part of the hf_ptq.py stand-in: ModelOpt quantization and Hugging Face checkpoint export, on a CPU.

After the stand-in has checked argv against tools/hf_ptq.py.yaml for the ModelOpt release it
acts as, this does what hf_ptq.py does with those flags, with the ModelOpt that is installed
(0.47 in the test extras): load the Hugging Face model of --pyt_ckpt_path / --model,
calibrate it on local text with the preset of --qformat (plus the KV-cache preset of
--kv_cache_qformat unless it is none), and write --export_path with
modelopt.torch.export.export_hf_checkpoint: config.json (quantization_config), safetensors,
hf_quant_config.json, and the tokenizer.

Differences from hf_ptq.py, all forced by running offline on a CPU:
  --dataset          a local .txt / .json / .jsonl file or folder; a dataset name (or none: hf_ptq.py's
                     default) needs the network, so $TRTDEPLOY_STANDIN_CALIB_FILE stands in for it
                     (ModelOpt 0.33's --dataset accepts names only)
  --device           when absent: $TRTDEPLOY_STANDIN_DEVICE, else cpu without a GPU (hf_ptq.py: cuda)
  calibration        in float32 on a CPU; the export is in the model's dtype (float32 models: float16)
  --export_fmt       tensorrt_llm (the default before 0.37) writes a TensorRT-LLM checkpoint with
                     export_tensorrt_llm_checkpoint, as hf_ptq.py does; from 0.37 hf_ptq.py forces hf
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import _modelopt
import _pytorch_standin as p
import _standin as s

from compiler.catalog.tools import ParsedArgs, surface
from compiler.versions import Version, parse_version

# The names older hf_ptq.py releases give the presets that ModelOpt 0.45 renamed (its
# modelopt/recipe/presets.py QFORMAT_ALIASES @ ec87a829; 0.47 dropped the old names).
RENAMED_QFORMATS = {
    "int8_sq": "int8_smoothquant", "int8_wo": "int8_weight_only", "w4a8_awq": "w4a8_awq_beta",
    "nvfp4_awq": "nvfp4_awq_lite", "nvfp4_mse": "nvfp4_w4a4_weight_mse_fp8_sweep",
    "nvfp4_local_hessian": "nvfp4_w4a4_weight_local_hessian", "fp8_pb_wo": "fp8_2d_blockwise_weight_only",
    "fp8_pc_pt": "fp8_per_channel_per_token",
}
KV_NONE = "none"
HF_FORCED_FROM = parse_version("0.37.0")  # hf_ptq.py: 'Deprecated. --export_fmt forced to hf.'


def _calibration_size(text: str) -> int:
    """--calib_size: one number, or (from 0.35) one per dataset, comma-separated: their sum."""
    try:
        return sum(int(part) for part in text.split(","))
    except ValueError:
        raise s.StandinError(f"--calib_size {text!r} is not a number or a comma list of numbers") from None


def _calibration_source(dataset: str | None) -> str | None:
    """--dataset, or the local stand-in for a dataset name (ModelOpt 0.33 accepts names only; they need the network)."""
    if dataset is not None and Path(dataset).exists():
        return dataset
    local = os.environ.get("TRTDEPLOY_STANDIN_CALIB_FILE")
    if local:
        print(f"stand-in: calibrating on {local} in place of --dataset {dataset or '(default)'}", flush=True)
        return local
    return dataset


def quant_config(mtq: Any, qformat: str, kv_qformat: str, awq_block_size: int) -> dict[str, Any]:
    """The ModelOpt config hf_ptq.py builds from --qformat, --kv_cache_qformat and --awq_block_size."""
    import copy

    from modelopt.recipe.presets import KV_QUANT_CFG_CHOICES, QUANT_CFG_CHOICES

    preset = RENAMED_QFORMATS.get(qformat, qformat)
    if preset not in QUANT_CFG_CHOICES:
        raise s.StandinError(f"--qformat {qformat}: the installed ModelOpt has no preset {preset!r}")
    cfg = copy.deepcopy(QUANT_CFG_CHOICES[preset])
    if awq_block_size and "awq" in preset:
        _modelopt._set_block_size(cfg, awq_block_size)
    if kv_qformat != KV_NONE:
        cfg = mtq.update_quant_cfg_with_kv_cache_quant(cfg, KV_QUANT_CFG_CHOICES[kv_qformat]["quant_cfg"])
    return cfg


def _export_dtype(model_dir: Path) -> str:
    config = json.loads((model_dir / "config.json").read_text())
    found = str(config.get("torch_dtype") or config.get("dtype") or "float16")
    return "float16" if found == "float32" else found


def run(parsed: ParsedArgs, modelopt_version: Version) -> None:
    """Quantize and export as hf_ptq.py of `modelopt_version` would with these (already checked) flags."""
    started = time.perf_counter()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    model_dir = Path(p.one(parsed, "--pyt_ckpt_path") or "")
    if not (model_dir / "config.json").is_file():
        raise p.Refused(f"--pyt_ckpt_path {model_dir}: no config.json there (the stand-in loads local folders only)")
    qformat = p.one(parsed, "--qformat", "fp8") or "fp8"
    kv_qformat = p.one(parsed, "--kv_cache_qformat") or _default("--kv_cache_qformat", modelopt_version)
    export_fmt = p.one(parsed, "--export_fmt") or _default("--export_fmt", modelopt_version)
    if export_fmt != "hf" and modelopt_version >= HF_FORCED_FROM:
        print("UserWarning: Deprecated. --export_fmt forced to hf.", flush=True)
        export_fmt = "hf"
    samples = _calibration_size(p.one(parsed, "--calib_size") or str(_default("--calib_size", modelopt_version)))
    seq_len = int(p.one(parsed, "--calib_seq") or 512)
    batch = max(1, int(p.one(parsed, "--batch_size") or 0))  # 0: hf_ptq.py picks one from GPU memory
    out = Path(p.one(parsed, "--export_path", "exported_model") or "exported_model")

    import modelopt.torch.quantization as mtq
    import torch
    from modelopt.torch.export import export_hf_checkpoint, export_tensorrt_llm_checkpoint
    from transformers import AutoModelForCausalLM, AutoTokenizer

    imported = time.perf_counter()
    device = p.one(parsed, "--device") if "--device" in parsed.values else (
        os.environ.get("TRTDEPLOY_STANDIN_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(1234)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = getattr(torch, _export_dtype(model_dir))
    model = AutoModelForCausalLM.from_pretrained(
        str(model_dir), dtype=torch.float32 if device == "cpu" else dtype).to(device).eval()
    texts = _modelopt.calibration_texts(_calibration_source(p.one(parsed, "--dataset")), samples)
    batches = [tokenizer(texts[i:i + batch], return_tensors="pt", padding=True, truncation=True,
                         max_length=seq_len)["input_ids"].to(device) for i in range(0, len(texts), batch)]

    def forward_loop(m: Any) -> None:
        with torch.no_grad():
            for ids in batches:
                m(ids)

    model = mtq.quantize(model, quant_config(mtq, qformat, kv_qformat,
                                             int(p.one(parsed, "--awq_block_size") or 0)), forward_loop)
    quantized = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    if export_fmt == "hf":
        with torch.no_grad():
            export_hf_checkpoint(model, dtype=dtype, export_dir=str(out))
        tokenizer.save_pretrained(str(out))
        written = json.loads((out / "hf_quant_config.json").read_text())["quantization"]
    else:
        _modelopt._restore_rope_theta(model.config)
        with torch.inference_mode():
            export_tensorrt_llm_checkpoint(
                model, _modelopt._decoder_type({}, model_dir), dtype, export_dir=str(out),
                inference_tensor_parallel=int(p.one(parsed, "--inference_tensor_parallel") or 1),
                inference_pipeline_parallel=int(p.one(parsed, "--inference_pipeline_parallel") or 1))
        written = json.loads((out / "config.json").read_text()).get("quantization")
    done = time.perf_counter()
    print(f"ModelOpt ({device}): --qformat {qformat}, --kv_cache_qformat {kv_qformat}, {len(texts)} samples of "
          f"<= {seq_len} tokens, {export_fmt} export -> {out}", flush=True)
    print("quantization:", json.dumps(written), flush=True)
    timings = {"import_s": round(imported - started, 2), "quantize_s": round(quantized - imported, 2),
               "export_s": round(done - quantized, 2)}
    print("timings:", json.dumps(timings), flush=True)


def _default(flag: str, modelopt_version: Version) -> str:
    """The default hf_ptq.py of `modelopt_version` gives `flag`, from tools/hf_ptq.py.yaml."""
    fact = surface("hf_ptq.py", modelopt_version).fact(flag)
    if fact is None or fact.default is None:
        raise s.StandinError(f"internal: hf_ptq.py {modelopt_version} has no default for {flag}")
    return str(fact.default)
