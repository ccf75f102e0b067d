"""Varied, realistic specs for the benchmarks: different models, GPUs, formats, releases, tp and pp.

Seeded, so every run checks the same 1,000 files. Most specs check clean (so `plan`
has work to do); about one in ten carries the kind of mistake CI catches (a tp that
does not divide the heads, a format the GPU lacks), so `check` also formats findings.
"""

from __future__ import annotations

import random
from pathlib import Path

MODELS = ["llama-7b", "llama-13b", "llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3.1-8b",
          "llama-3-70b", "codellama-7b", "codellama-34b", "mistral-7b", "qwen2-7b", "qwen2.5-7b", "vicuna-7b",
          "tinyllama-1.1b", "mixtral-8x7b", "falcon-7b"]
GPUS = ["H100-SXM", "H100-PCIE", "H200", "A100-SXM-80GB", "A100-SXM-40GB", "L40S", "L4", "A10", "RTX-4090", "B200"]
RELEASES = ["0.8.0", "0.10.0", "0.12.0", "0.16.0", "0.21.0", "1.0.0", "1.2.0"]
# format -> (extra quantization lines, kv cache choices)
FORMATS = {
    "none": ([], ["auto"]),
    "int8_wo": ([], ["auto", "int8"]),
    "int4_wo": ([], ["auto"]),
    "int4_awq": (["group_size: 128", "calibration: {samples: 128, seq_len: 512}"], ["auto", "fp8"]),
    "int8_sq": (["smoothquant_alpha: 0.5", "calibration: {samples: 256}"], ["auto", "int8"]),
    "fp8": (["calibration: {samples: 512, seq_len: 1024}"], ["auto", "fp8"]),
    "int4_gptq": (["group_size: 128", "checkpoint: /models/gptq/model.safetensors"], ["auto"]),
}
TEMPLATE = """\
# yaml-language-server: $schema=../docs/spec.schema.json
# Generated for the benchmarks: {model} on {gpu}, {fmt}, tp {tp} x pp {pp}, TensorRT-LLM {release}.
name: {name}
description: {model} as a {fmt} engine, tp {tp} x pp {pp}.
model:
  name: {model}
  path: /models/{model}
  dtype: {dtype}
quantization:
  format: {fmt}
  kv_cache: {kv}
{quant}parallelism:
  tp: {tp}
  pp: {pp}
limits:
  max_batch_size: {batch}
  max_input_len: {inp}
  max_output_len: {out}
plugins:
  gemm: auto
  paged_kv_cache: enable
target:
  gpu: {gpu}
  gpus_per_node: 8
  tensorrt_llm: "{release}"
launch:
  launcher: {launcher}
  entrypoint: {entrypoint}
  env: [HF_TOKEN]
"""


def spec_text(rng: random.Random, index: int) -> str:
    model, gpu, fmt = rng.choice(MODELS), rng.choice(GPUS), rng.choice(list(FORMATS))
    extra, kvs = FORMATS[fmt]
    release = rng.choice(RELEASES)
    entrypoint = "serve" if release.startswith("1.") and rng.random() < 0.3 else "run"
    return TEMPLATE.format(
        name=f"bench-{index:04d}", model=model, gpu=gpu, fmt=fmt, kv=rng.choice(kvs),
        quant="".join(f"  {line}\n" for line in extra), tp=rng.choice([1, 1, 2, 2, 4, 8, 3]),
        pp=rng.choice([1, 1, 1, 2]), batch=rng.choice([1, 4, 8, 16, 64]), inp=rng.choice([256, 512, 1024]),
        out=rng.choice([128, 256, 512, 1024]), dtype=rng.choice(["float16", "bfloat16"]), release=release,
        launcher=rng.choice(["mpirun", "mpirun", "slurm", "kubernetes"]), entrypoint=entrypoint,
    )


def generate(folder: Path, count: int = 1000, seed: int = 20240601) -> list[Path]:
    """Write `count` specs into `folder`: ~90% that check clean, the rest with errors. Returns their paths.

    Candidates are drawn at random and sorted by an in-process check, so the mix is fixed
    whatever the catalogs' rules make of a random draw.
    """
    from compiler.pipeline import check_spec

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    clean_wanted, broken_wanted = count - count // 10, count // 10
    paths: list[Path] = []
    attempt = 0
    while clean_wanted or broken_wanted:
        path = folder / f"spec-{len(paths):04d}.yaml"
        path.write_text(spec_text(rng, len(paths)), encoding="utf-8")
        attempt += 1
        clean = check_spec(path).errors == 0
        if clean and clean_wanted:
            clean_wanted -= 1
        elif not clean and broken_wanted:
            broken_wanted -= 1
        else:
            continue  # overwritten by the next candidate
        paths.append(path)
    return paths


if __name__ == "__main__":
    import sys
    import tempfile

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="trtdeploy-specs-"))
    print(f"wrote {len(generate(out))} specs to {out}")
