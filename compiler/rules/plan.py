"""P rules: can the release's tools express what the spec asks for?

What cannot be expressed is decided once (compiler.decide: the backend's and the
launcher's gaps); these rules report those gaps, and the planner refuses to plan
while one is left, so a spec these rules pass is one the planner can plan.
Topology (world size, nodes, hosts) is the L rules'; nvfp4 per release is H104.
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler.decide.model import Decided
from compiler.findings import Finding, Severity
from compiler.rules import ENGINE, Rule, gaps_of, register, rule


@rule(
    "P101", "release-lacks-flag", Severity.ERROR,
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
def release_lacks_flag(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "P101")


register(Rule(
    "P102", "convert-flags-unverified-for-family", Severity.WARNING,
    "convert_checkpoint.py ran for a model family whose own flags were not read (retired).",
    why="Retired: every family in the catalog now has its convert_checkpoint.py flags read per release "
    "(compiler/catalog/tools/convert_checkpoint.py-*.yaml), and the planner checks each convert argv against "
    "the family's own table, so there is nothing left to warn about.",
    bad="model: {name: falcon-7b}\nquantization: {format: int8_wo}\n",
    good="model: {name: falcon-7b}\nquantization: {format: int8_wo}\n",
    hint="nothing to do", removed=True, backends=ENGINE,
))


@rule(
    "P103", "kv-quantization-without-calibrator", Severity.ERROR,
    "A quantized (int8 or fp8) KV cache on a route where no tool calibrates it (GPTQ, or a given checkpoint).",
    why="int4_gptq weights, and a given GPTQ or AutoAWQ checkpoint, reach TensorRT-LLM through "
    "convert_checkpoint.py, which reads them without calibrating KV-cache scales; quantize.py, which calibrates "
    "KV caches, cannot read a GPTQ checkpoint (quantize.py, convert_checkpoint.py @ 5955b8af and later). A plan "
    "would either quantize no KV cache while counting 1-byte KV in memory, or fail in convert.",
    bad="quantization: {format: int4_gptq, kv_cache: fp8, calibration: {}}\n",
    good="quantization: {format: int4_awq, kv_cache: fp8, calibration: {}}\n",
    hint="keep the KV cache in the model dtype with int4_gptq, or use int4_awq",
)
def kv_quantization_without_calibrator(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "P103")


@rule(
    "P104", "launch-value-not-plain", Severity.ERROR,
    "A host name or Slurm option holds spaces, quotes or other characters that cannot be written safely, or "
    "starts with '-'.",
    why="Host names go into launch/hostfile and Slurm's partition and account into #SBATCH lines, where no "
    "shell quoting applies: a newline there would start a new line of the hostfile or a new shell command. "
    "mpirun hands the hostfile's names to ssh, so a name starting with '-' (`-lroot`, `-J jump`, "
    "`-L9999:localhost:22`) would be read as an ssh option.",
    bad="launch:\n  launcher: slurm\n  slurm: {partition: \"gpu\\nrm -rf ~\"}\n",
    good="launch:\n  launcher: slurm\n  slurm: {partition: gpu}\n",
    hint="use the name as the cluster shows it (letters, digits and . _ - : @ + , = /, not starting with '-')",
)
def launch_value_not_plain(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "P104")


@rule(
    "P105", "llm-api-option-refused", Severity.ERROR,
    "runtime.llm_api_options holds a key or value the release's TorchLlmArgs refuses, or one trtdeploy writes.",
    why="TorchLlmArgs and every nested config have extra='forbid' (tensorrt_llm/llmapi/llm_args.py): one unknown "
    "key in the YAML stops trtllm-serve at start-up. Keys change between releases (kv_cache_config.dtype came "
    "in 1.0, tokens_per_block later), so they are checked against the exact release. Keys trtdeploy writes "
    "itself (limits, kv_cache_config, cuda_graph_config) belong to their spec keys, so one value is reviewed once.",
    bad="runtime:\n  llm_api_options: {kv_cache_config: {tokens_per_blok: 64}}\n"
    "target: {gpu: H100-SXM, tensorrt_llm: '1.2.0', backend: pytorch}\n",
    good="runtime:\n  llm_api_options: {print_iter_log: true}\ntarget: {gpu: H100-SXM, tensorrt_llm: '1.2.0', "
    "backend: pytorch}\n",
    hint="remove the key, or write it where the message says",
    backends=("pytorch",),
)
def llm_api_option_refused(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "P105")


@rule(
    "P106", "word-split-by-llmapi-launch", Severity.ERROR,
    "A path or value the server gets would be split by trtllm-llmapi-launch.",
    why="trtllm-llmapi-launch runs the command it wraps unquoted (tensorrt_llm/llmapi/trtllm-llmapi-launch @ "
    "020c89e6), so a word with a blank or a glob character (* ? [) reaches trtllm-serve broken into several, "
    "or expanded. It wraps trtllm-serve (either backend) whenever the ranks span nodes, and under Slurm on one node "
    "too (srun starts one task per GPU); on one node under mpirun the LLM API starts its workers itself and no "
    "wrapper runs. On Kubernetes the pods see other paths, and L115 checks those.",
    bad="model: {name: llama-2-70b, path: '/models/llama 2'}\nparallelism: {tp: 8, pp: 2}\nlaunch: {entrypoint: serve}\n"
    "target: {gpu: H100-SXM, nodes: 2, tensorrt_llm: '1.2.0', backend: pytorch}\n",
    good="model: {name: llama-2-70b, path: /models/llama-2}\nparallelism: {tp: 8, pp: 2}\nlaunch: {entrypoint: serve}\n"
    "target: {gpu: H100-SXM, nodes: 2, tensorrt_llm: '1.2.0', backend: pytorch}\n",
    hint="use a path without blanks or * ? [ (a symlink to it will do)",
)
def word_split_by_llmapi_launch(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "P106")


@rule(
    "P107", "calibration-dataset-unreadable", Severity.ERROR,
    "The calibrating tool of this release cannot read the calibration data the spec names.",
    why="quantize.py's get_calib_dataloader takes 'pileval', names containing 'cnn_dailymail' (and 'scienceqa' "
    "from 0.17) or, from 0.11, a dataset folder; anything else raises NotImplementedError "
    "(tensorrt_llm/quantization/quantize_by_modelopt.py per release). convert_checkpoint.py's load_calib_dataset "
    "knows ccdv/cnn_dailymail, cnn_dailymail and lambada, and from 0.14 any dataset folder. ModelOpt 0.33's "
    "hf_ptq.py offers a fixed list of names. A local file is staged into a dataset folder where the release reads "
    "folders; otherwise the quantize step would fail after loading the model.",
    bad="quantization:\n  format: fp8\n  calibration: {dataset: ./prompts.jsonl}\n"
    "target: {gpu: H100-SXM, tensorrt_llm: '0.10.0'}\n",
    good="quantization:\n  format: fp8\n  calibration: {dataset: ./prompts.jsonl}\n"
    "target: {gpu: H100-SXM, tensorrt_llm: '0.16.0'}\n",
    hint="use a dataset name the tool knows, or a release that reads dataset folders",
)
def calibration_dataset_unreadable(d: Decided) -> Iterator[Finding]:
    yield from gaps_of(d, "P107")
