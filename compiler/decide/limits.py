"""The limits a deployment runs with: every one decided once, including max_num_tokens and tokens_per_block.

The planner emits these explicitly, so nothing is left to a release's default
(TensorRT-LLM's defaults changed between releases: max_batch_size 1 -> 256 -> 2048).
"""

from __future__ import annotations

from compiler.decide.model import Limits, Origin, Setting
from compiler.resolve import Resolved

# TensorRT-LLM's max_num_tokens default since 0.11 (BuildConfig): build.py @ aaacc9bd.
DEFAULT_MAX_NUM_TOKENS = 8192


def decide_limits(r: Resolved) -> Limits:
    limits = r.spec.limits
    return Limits(
        max_batch_size=limits.max_batch_size,
        max_input_len=limits.max_input_len,
        max_output_len=limits.max_output_len,
        max_seq_len=limits.max_input_len + limits.max_output_len,
        max_beam_width=limits.max_beam_width,
        max_num_tokens=_max_num_tokens(r),
        tokens_per_block=_tokens_per_block(r),
    )


def _max_num_tokens(r: Resolved) -> Setting[int]:
    limits = r.spec.limits
    if limits.max_num_tokens is not None:
        return Setting("limits.max_num_tokens", limits.max_num_tokens, Origin.WRITTEN, "set by the spec")
    tokens = min(limits.max_batch_size * limits.max_input_len, max(DEFAULT_MAX_NUM_TOKENS, limits.max_input_len))
    why = (f"min(max_batch_size x max_input_len, max({DEFAULT_MAX_NUM_TOKENS}, max_input_len)) = {tokens}, "
           "so the longest prompt fits one engine step")
    return Setting("limits.max_num_tokens", tokens, Origin.DECIDED, why)


def _tokens_per_block(r: Resolved) -> Setting[int]:
    written = r.spec.plugins.tokens_per_block
    if written is not None:
        return Setting("plugins.tokens_per_block", written, Origin.WRITTEN, "set by the spec")
    default = r.release.fact("build_plugin_defaults").value["tokens_per_block"]  # type: ignore[union-attr]
    return Setting("plugins.tokens_per_block", int(default), Origin.DEFAULT,
                   f"TensorRT-LLM {r.release.version}'s default KV-cache block size (releases.yaml "
                   "build_plugin_defaults)")
