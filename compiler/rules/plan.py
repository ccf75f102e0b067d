"""P rules: can the release line's tools express what the spec asks for?

The decisions themselves (which route, which flag in which release) live in
compiler/plan/ and are shared with the planner, so a spec these rules pass is one
the planner can plan. Facts from the release gates of compiler/plan/features.py
(being replaced by compiler/catalog/tools/*.yaml and releases.yaml, which name the
upstream file and commit of each fact).
Topology (world size, nodes, hosts) is the L rules'; nvfp4 per release is H104.
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.findings import Severity
from compiler.plan.launch import unplain_values
from compiler.plan.layout import VERIFIED_FAMILY, family_folder
from compiler.plan.quant import combination_gaps, family_unverified, line_gaps
from compiler.resolve import Resolved
from compiler.rules import Issue, rule


@rule(
    "P101", "release-line-lacks-flag", Severity.ERROR,
    "The spec needs a flag or tool that the chosen TensorRT-LLM release does not have.",
    why="Flags come and go between releases (reference §1, §7): quantize.py takes --calib_dataset only from "
    "0.10 and convert_checkpoint.py from 0.12 (before, both calibrate on cnn_dailymail whatever the spec says); "
    "--gemm_plugin fp8 and --use_fp8_context_fmha exist from 0.12; trtllm-serve from 1.x. Planning anyway "
    "would either fail in argparse after hours of work or silently do something else.",
    bad="quantization:\n  format: fp8\n  calibration: {dataset: ./my-prompts.jsonl}\n"
    "target: {gpu: H100-SXM, tensorrt_llm: '0.8.0'}\n",
    good="quantization:\n  format: fp8\n  calibration: {dataset: ./my-prompts.jsonl}\n"
    "target: {gpu: H100-SXM, tensorrt_llm: '0.10.0'}\n",
    hint="use a release that has the flag (the message names it), or drop the setting",
)
def release_line_lacks_flag(r: Resolved) -> Iterator[Issue]:
    for gap in line_gaps(r):
        yield Issue(gap.key, gap.message, gap.hint)


@rule(
    "P102", "convert-flags-unverified-for-family", Severity.WARNING,
    "convert_checkpoint.py runs for a model family whose flags the reference documents for llama only.",
    why="Each model family has its own convert_checkpoint.py under examples/ (examples/models/contrib/ in 1.x), "
    "and only llama's flags are in the reference tables (§1.3). The planner passes llama's flags; other "
    "families usually take the same quantization flags, but some add their own (baichuan's --model_version).",
    bad="model: {name: falcon-7b}\nquantization: {format: int8_wo}\ntarget: {gpu: A100-SXM-80GB}\n",
    good="model: {name: llama-2-7b}\nquantization: {format: int8_wo}\ntarget: {gpu: A100-SXM-80GB}\n",
    hint="check the generated convert step against the family's convert_checkpoint.py --help before building",
)
def convert_flags_unverified_for_family(r: Resolved) -> Iterator[Issue]:
    if family_unverified(r):
        folder = family_folder(r.model.family, r.release)
        yield Issue("model", f"examples/{folder}/convert_checkpoint.py gets {VERIFIED_FAMILY}'s flags; they are "
                    f"verified for {VERIFIED_FAMILY} only", "")


@rule(
    "P103", "kv-quantization-with-gptq", Severity.ERROR,
    "int4_gptq with a quantized (int8 or fp8) KV cache, which no release's tools plan.",
    why="int4_gptq weights reach TensorRT-LLM through convert_checkpoint.py's GPTQ flags, which read the GPTQ "
    "safetensors but do not calibrate KV-cache scales; quantize.py, which calibrates KV caches, cannot read a GPTQ "
    "checkpoint (reference §1.2, §1.3, §2).",
    bad="quantization: {format: int4_gptq, kv_cache: fp8, calibration: {}}\n",
    good="quantization: {format: int4_awq, kv_cache: fp8, calibration: {}}\n",
    hint="keep the KV cache in the model dtype with int4_gptq, or use int4_awq",
)
def kv_quantization_with_gptq(r: Resolved) -> Iterator[Issue]:
    for gap in combination_gaps(r):
        yield Issue(gap.key, gap.message, gap.hint)


@rule(
    "P104", "launch-value-not-plain", Severity.ERROR,
    "A host name or Slurm option holds spaces, quotes or other characters that cannot be written safely.",
    why="Host names go into launch/hostfile and Slurm's partition and account into #SBATCH lines, where no "
    "shell quoting applies: a newline there would start a new line of the hostfile or a new shell command.",
    bad="launch:\n  launcher: slurm\n  slurm: {partition: \"gpu\\nrm -rf ~\"}\n",
    good="launch:\n  launcher: slurm\n  slurm: {partition: gpu}\n",
    hint="use the name as the cluster shows it (letters, digits and . _ - : @ + , = /)",
)
def launch_value_not_plain(r: Resolved) -> Iterator[Issue]:
    for gap in unplain_values(r):
        yield Issue(gap.key, gap.message, gap.hint)
