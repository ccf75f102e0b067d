"""The quantization route of a spec, its calibration settings, and what no release can plan.

Routes follow reference §1.2, §1.3 and §2: convert_checkpoint.py quantizes
weight-only and SmoothQuant itself (and calibrates an int8 KV cache); ModelOpt's
quantize.py does AWQ, FP8, w4a8, nvfp4 and every fp8 KV cache; int4_gptq is a
GPTQModel step (or a given checkpoint) followed by convert_checkpoint.py.
"""

from __future__ import annotations

import enum
import posixpath
from dataclasses import dataclass

from compiler.plan.features import GATES, has
from compiler.plan.layout import VERIFIED_FAMILY
from compiler.resolve import Resolved
from compiler.spec import (
    AutoToggle,
    CalibrationSection,
    Entrypoint,
    GemmPluginDtype,
    KvCacheDtype,
    QuantFormat,
)


class Route(str, enum.Enum):
    """Which tools write the TensorRT-LLM checkpoint."""

    CONVERT = "convert"                # convert_checkpoint.py (plain, weight-only, SmoothQuant, int8 KV)
    QUANTIZE = "quantize"              # ModelOpt's quantize.py
    GPTQ = "gptq"                      # a GPTQModel step, then convert_checkpoint.py
    CHECKPOINT = "checkpoint"          # a given GPTQ/AWQ checkpoint, then convert_checkpoint.py


QUANTIZE_FORMATS = frozenset({QuantFormat.INT4_AWQ, QuantFormat.FP8, QuantFormat.W4A8_AWQ, QuantFormat.NVFP4})
QUANTIZED_KV = frozenset({KvCacheDtype.INT8, KvCacheDtype.FP8})
# quantize.py's --qformat for each format (reference §1.2); full_prec quantizes only the KV cache.
QFORMAT: dict[QuantFormat, str] = {
    QuantFormat.NONE: "full_prec",
    QuantFormat.INT8_WO: "int8_wo",
    QuantFormat.INT4_WO: "int4_wo",
    QuantFormat.INT8_SQ: "int8_sq",
    QuantFormat.INT4_AWQ: "int4_awq",
    QuantFormat.FP8: "fp8",
    QuantFormat.W4A8_AWQ: "w4a8_awq",
    QuantFormat.NVFP4: "nvfp4",
}
# quantize.py caps calib_size at 32 for any *awq* qformat (reference §1.2).
AWQ_CALIB_CAP = 32
# The dataset quantize.py calibrates on when it is not told (and always before 0.10).
DEFAULT_DATASET = str(CalibrationSection.model_fields["dataset"].default)
# convert_checkpoint.py names the same dataset by its Hugging Face id (reference §1.3 default).
CONVERT_DATASET_NAMES = {"cnn_dailymail": "ccdv/cnn_dailymail"}
GPTQ_BITS = 4
# The file GPTQModel writes (the GPTQ step merges shards into it) and convert reads (§1.3, seed 002).
GPTQ_WEIGHTS_FILE = "model.safetensors"


def route(r: Resolved) -> Route:
    """The tools that write the checkpoint for this format and KV-cache dtype."""
    if r.format is QuantFormat.INT4_GPTQ:
        return Route.CHECKPOINT if r.checkpoint_dir else Route.GPTQ
    if r.format is QuantFormat.INT4_AWQ and r.checkpoint_dir:
        return Route.CHECKPOINT
    if r.format in QUANTIZE_FORMATS or r.kv_cache is KvCacheDtype.FP8:
        return Route.QUANTIZE
    return Route.CONVERT


@dataclass(frozen=True)
class Calibration:
    """The calibration a quantizing tool runs with. `local` is a file or folder the runner digests."""

    dataset: str
    local: bool
    samples: int
    seq_len: int
    seed: int
    written: bool


def calibrates(r: Resolved) -> bool:
    """True when the checkpoint tool reads calibration data (reference §1.2, §1.3, §2)."""
    kind = route(r)
    if kind in (Route.QUANTIZE, Route.GPTQ):
        return True
    return kind is Route.CONVERT and (r.format is QuantFormat.INT8_SQ or r.kv_cache is KvCacheDtype.INT8)


def calibration(r: Resolved) -> Calibration | None:
    """The calibration settings of the spec, or None when nothing calibrates."""
    if not calibrates(r):
        return None
    section = r.spec.quantization.calibration
    written = section is not None
    section = section or CalibrationSection.model_validate({})
    dataset = r.calibration_dataset or section.dataset
    return Calibration(dataset, posixpath.isabs(dataset), section.samples, section.seq_len, section.seed, written)


def is_awq(fmt: QuantFormat) -> bool:
    """quantize.py's own test for its AWQ calib_size cap is the substring (reference §1.2)."""
    return "awq" in fmt.value


def checkpoint_weights(checkpoint: str) -> str:
    """The path convert_checkpoint.py reads a GPTQ checkpoint from: the safetensors file itself.

    A folder (as GPTQModel and Hugging Face write them) means its model.safetensors.
    """
    return checkpoint if checkpoint.endswith(".safetensors") else posixpath.join(checkpoint, GPTQ_WEIGHTS_FILE)


@dataclass(frozen=True)
class Gap:
    """Something the spec asks for that the planner cannot express: where, what, and the fix."""

    key: str
    message: str
    hint: str


def _custom_dataset(r: Resolved) -> bool:
    calib = calibration(r)
    return calib is not None and calib.dataset != DEFAULT_DATASET


def _calibration_gaps(r: Resolved) -> list[Gap]:
    kind, version = route(r), r.release.version
    if not _custom_dataset(r):
        return []
    gate = {Route.QUANTIZE: "quantize_calib_dataset", Route.CONVERT: "convert_calibration"}.get(kind)
    if gate is None or has(r.release, gate):
        return []
    tool = "quantize.py" if kind is Route.QUANTIZE else "convert_checkpoint.py"
    return [Gap("quantization.calibration.dataset",
                f"{tool} of TensorRT-LLM {version} always calibrates on {DEFAULT_DATASET}; "
                f"{GATES[gate].what} exists in {GATES[gate].where()}",
                f"use a newer target.tensorrt_llm, or remove calibration.dataset to calibrate on {DEFAULT_DATASET}")]


def _plugin_gaps(r: Resolved) -> list[Gap]:
    plugins, gaps = r.spec.plugins, []
    if plugins.gemm is GemmPluginDtype.FP8 and not has(r.release, "gemm_plugin_fp8"):
        gate = GATES["gemm_plugin_fp8"]
        gaps.append(Gap("plugins.gemm", f"TensorRT-LLM {r.release.version} has no fp8 GEMM plugin; {gate.what} "
                        f"exists in {gate.where()}", "use plugins.gemm: auto, or a newer target.tensorrt_llm"))
    if plugins.use_fp8_context_fmha is AutoToggle.ENABLE and not has(r.release, "fp8_context_fmha"):
        gate = GATES["fp8_context_fmha"]
        gaps.append(Gap("plugins.use_fp8_context_fmha", f"TensorRT-LLM {r.release.version} has no FP8 context "
                        f"FMHA; {gate.what} exists in {gate.where()}",
                        "remove plugins.use_fp8_context_fmha, or use a newer target.tensorrt_llm"))
    return gaps


def line_gaps(r: Resolved) -> list[Gap]:
    """What the spec asks for that this release's tools lack, each naming the releases that have it (P101)."""
    gaps = _calibration_gaps(r) + _plugin_gaps(r)
    if route(r) is Route.CHECKPOINT and r.format is QuantFormat.INT4_AWQ \
            and not has(r.release, "convert_awq_checkpoint"):
        gate = GATES["convert_awq_checkpoint"]
        gaps.append(Gap("quantization.checkpoint", f"TensorRT-LLM {r.release.version} cannot convert an AutoAWQ "
                        f"checkpoint; {gate.what} exists in {gate.where()}",
                        "remove quantization.checkpoint to quantize with quantize.py, or use a newer release"))
    if r.spec.launch.entrypoint is Entrypoint.SERVE and not has(r.release, "trtllm_serve"):
        gate = GATES["trtllm_serve"]
        gaps.append(Gap("launch.entrypoint", f"TensorRT-LLM {r.release.version} has no trtllm-serve; "
                        f"{gate.what} exists in {gate.where()}",
                        "use launch.entrypoint: run for a smoke generation, or a 1.x target.tensorrt_llm"))
    return gaps


def combination_gaps(r: Resolved) -> list[Gap]:
    """Combinations no release's tools express (P103)."""
    if r.format is QuantFormat.INT4_GPTQ and r.kv_cache in QUANTIZED_KV:
        return [Gap("quantization.kv_cache",
                    f"int4_gptq with an {r.kv_cache.value} KV cache: convert_checkpoint.py reads the GPTQ weights "
                    "but cannot also calibrate KV-cache scales, and quantize.py cannot read a GPTQ checkpoint",
                    "use kv_cache: auto with int4_gptq, or int4_awq with a quantized KV cache")]
    return []


def family_unverified(r: Resolved) -> bool:
    """True when a convert_checkpoint.py step runs for a family whose flags the reference does not list (P102)."""
    return r.model.family != VERIFIED_FAMILY and route(r) is not Route.QUANTIZE
