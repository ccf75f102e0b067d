"""Which TensorRT-LLM release has which flag or tool: the version gates the planner and P rules share.

Being replaced by the ranged rows of compiler/catalog/tools/*.yaml and releases.yaml,
which name the upstream file and commit of each fact. A release
line is a family of flag sets (compiler.versions), but a few flags appeared in the
middle of the 0.8-0.10 line, so gates compare the exact (major, minor) version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from compiler.versions import Release

Version = tuple[int, int]

_MAJOR_MINOR = re.compile(r"^(\d+)\.(\d+)")


def version_of(release: Release) -> Version:
    """(major, minor) of a release: "0.10.0" -> (0, 10), "1.2.0rc2" -> (1, 2)."""
    match = _MAJOR_MINOR.match(release.version)
    if match is None:  # parse_release accepted it, so this is a programming error
        raise ValueError(f"not a version: {release.version}")
    return int(match.group(1)), int(match.group(2))


@dataclass(frozen=True)
class Gate:
    """A flag or tool that exists from `since` (inclusive) until `until` (exclusive)."""

    what: str
    since: Version
    until: Version | None
    source: str

    def holds(self, version: Version) -> bool:
        return self.since <= version and (self.until is None or version < self.until)

    def where(self) -> str:
        """The releases that have it, for messages: 'TensorRT-LLM 0.10 and newer'."""
        first = "1.x" if self.since[0] >= 1 else f"{self.since[0]}.{self.since[1]}"
        if self.until is None:
            return f"TensorRT-LLM {first} and newer"
        return f"TensorRT-LLM {first} up to (not including) {self.until[0]}.{self.until[1]}"


_OLDEST: Version = (0, 8)
_V0_12: Version = (0, 12)
_V1: Version = (1, 0)

GATES: dict[str, Gate] = {
    "quantize_calib_dataset": Gate("quantize.py --calib_dataset", (0, 10), None, "§1.2 (cnn_dailymail hard-coded before)"),
    "quantize_calib_max_seq_length": Gate("quantize.py --calib_max_seq_length", _V0_12, None, "§1.2"),
    "quantize_seed": Gate("quantize.py --seed", _V0_12, None, "§1.2"),
    "convert_calibration": Gate("convert_checkpoint.py --calib_dataset/--calib_size/--calib_max_seq_length",
                                _V0_12, None, "§1.3"),
    "convert_awq_checkpoint": Gate("convert_checkpoint.py --weight_only_precision int4_awq", _V0_12, None, "§1.3, §2"),
    "max_output_len": Gate("trtllm-build --max_output_len", _OLDEST, _V0_12, "§1.1, §7"),
    "kv_cache_type": Gate("trtllm-build --kv_cache_type", _V1, None, "§1.1, §7"),
    "plugin_dtype_auto": Gate("plugin dtype auto", _V0_12, None, "§1.1, §7"),
    "fused_mlp_toggle": Gate("trtllm-build --use_fused_mlp enable|disable", _V0_12, None, "§1.1"),
    "fp8_context_fmha": Gate("trtllm-build --use_fp8_context_fmha", _V0_12, None, "§1.1 plugin flags"),
    "gemm_plugin_fp8": Gate("trtllm-build --gemm_plugin fp8", _V0_12, None, "§1.1 plugin flags"),
    "build_multi_block_mode": Gate("trtllm-build --multi_block_mode", _OLDEST, _V0_12, "§1.1, §4"),
    "runtime_multi_block_mode": Gate("run.py --multi_block_mode", _V0_12, None, "§1.4"),
    "runtime_multi_block_mode_default_on": Gate("multi_block_mode on by default at runtime", (0, 13), None, "§4"),
    "build_custom_all_reduce": Gate("trtllm-build --use_custom_all_reduce", _OLDEST, _V0_12, "§1.1, §4"),
    "paged_context_fmha_default_on": Gate("use_paged_context_fmha on by default", _V1, None, "§1.1, §7"),
    "fp8_context_fmha_default_on": Gate("use_fp8_context_fmha on by default", _V1, None, "§1.1, §3.5"),
    "models_core_layout": Gate("examples/models/core/<family>/", _V1, None, "§0 (c), §7"),
    "nvfp4": Gate("quantize.py --qformat nvfp4", _V1, None, "§1.2"),
    "trtllm_serve": Gate("trtllm-serve (with trtllm-llmapi-launch)", _V1, None, "§5"),
}

# The flag convert_checkpoint.py reads a GPTQ checkpoint from, by the release that named it (§1.3, §7).
GPTQ_CHECKPOINT_FLAGS: tuple[tuple[Version, str], ...] = (
    ((0, 8), "--ammo_quant_ckpt_path"),
    ((0, 10), "--modelopt_quant_ckpt_path"),
    ((0, 11), "--quant_ckpt_path"),
)


def has(release: Release, name: str) -> bool:
    """True when the release has the gated flag or tool `name` (a key of GATES)."""
    return GATES[name].holds(version_of(release))


def gptq_checkpoint_flag(release: Release) -> str:
    """convert_checkpoint.py's GPTQ checkpoint flag in this exact release."""
    version = version_of(release)
    return [flag for since, flag in GPTQ_CHECKPOINT_FLAGS if since <= version][-1]
