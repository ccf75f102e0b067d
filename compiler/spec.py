"""The spec language: the shape of one deployment file, as pydantic models.

These models check shape only (types, enums, ranges). Cross-field and fact-based
checks live in `compiler.rules`; required-ness of the model and GPU is checked in
`compiler.resolve`, so that a base spec meant only to be extended can be partial.
Every field's `description` feeds `trtdeploy schema` and docs/spec.md.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

# Scalars whose YAML text is kept verbatim: `tensorrt_llm: 0.10` must stay "0.10", not 0.1.
VERBATIM_SCALAR_KEYS: frozenset[tuple[str, ...]] = frozenset({("target", "tensorrt_llm")})

MAX_COUNT = 1 << 20
MAX_TOKENS = 1 << 24

Slug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$"),
    Field(description="lowercase letters, digits, '.', '_' and '-'; at most 63 characters"),
]
PathText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=4096),
    Field(description="a file system path; relative paths are taken from the spec's folder"),
]
Count = Annotated[int, Field(strict=True, ge=1, le=MAX_COUNT)]
Tokens = Annotated[int, Field(strict=True, ge=1, le=MAX_TOKENS)]
RuleCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][0-9]{3}$")]


class ModelDtype(str, enum.Enum):
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"


class QuantFormat(str, enum.Enum):
    NONE = "none"
    INT8_WO = "int8_wo"
    INT4_WO = "int4_wo"
    INT4_AWQ = "int4_awq"
    INT4_GPTQ = "int4_gptq"
    INT8_SQ = "int8_sq"
    FP8 = "fp8"
    W4A8_AWQ = "w4a8_awq"
    NVFP4 = "nvfp4"
    AUTO = "auto"


class KvCacheDtype(str, enum.Enum):
    AUTO = "auto"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"
    INT8 = "int8"
    FP8 = "fp8"


class AccuracyPreference(str, enum.Enum):
    """What `quantization.format: auto` optimizes for."""

    SPEED = "speed"
    BALANCED = "balanced"
    ACCURACY = "accuracy"


class PluginDtype(str, enum.Enum):
    AUTO = "auto"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"
    FLOAT32 = "float32"
    DISABLE = "disable"


class GemmPluginDtype(str, enum.Enum):
    AUTO = "auto"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"
    FLOAT32 = "float32"
    FP8 = "fp8"
    DISABLE = "disable"


class Toggle(str, enum.Enum):
    ENABLE = "enable"
    DISABLE = "disable"


class AutoToggle(str, enum.Enum):
    AUTO = "auto"
    ENABLE = "enable"
    DISABLE = "disable"


class BackendChoice(str, enum.Enum):
    """Which TensorRT-LLM execution path serves the model; auto decides per release and spec."""

    AUTO = "auto"
    TENSORRT = "tensorrt"
    PYTORCH = "pytorch"


class Launcher(str, enum.Enum):
    MPIRUN = "mpirun"
    SLURM = "slurm"
    KUBERNETES = "kubernetes"


class Entrypoint(str, enum.Enum):
    RUN = "run"
    SERVE = "serve"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class ModelSection(Strict):
    name: str | None = Field(None, description="a model id from the built-in catalog (`trtdeploy models`)")
    path: PathText | None = Field(
        None, description="a local Hugging Face model folder; its config.json is the source of the architecture facts"
    )
    tokenizer: PathText | None = Field(None, description="tokenizer folder for the launch (default: model.path)")
    dtype: ModelDtype = Field(ModelDtype.FLOAT16, description="activation and unquantized weight dtype")


class CalibrationSection(Strict):
    dataset: Annotated[str, StringConstraints(min_length=1, max_length=4096)] = Field(
        "cnn_dailymail", description="a dataset name the quantize tool knows, or a local file or folder"
    )
    samples: Count = Field(512, description="number of calibration samples")
    seq_len: Tokens = Field(512, description="tokens per calibration sample")
    seed: Annotated[int, Field(strict=True, ge=0, le=2**31 - 1)] = Field(1234, description="calibration seed")


class QuantizationSection(Strict):
    format: QuantFormat = Field(QuantFormat.NONE, description="weight (and activation) quantization format")
    group_size: Annotated[int, Field(strict=True, ge=1, le=4096)] = Field(
        128, description="group size of group-wise int4 formats (int4_awq, int4_gptq, w4a8_awq)"
    )
    kv_cache: KvCacheDtype = Field(KvCacheDtype.AUTO, description="KV-cache dtype; auto keeps the model dtype")
    calibration: CalibrationSection | None = Field(
        None, description="calibration data for int4_awq, int4_gptq, int8_sq, fp8, w4a8_awq and quantized KV caches"
    )
    checkpoint: PathText | None = Field(
        None, description="an already-quantized GPTQ/AWQ checkpoint to start from (skips the GPTQ step)"
    )
    smoothquant_alpha: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = Field(
        0.5, description="SmoothQuant migration strength for int8_sq"
    )
    act_order: bool = Field(False, description="GPTQ activation reordering (desc_act); TensorRT-LLM needs it off")
    accuracy: AccuracyPreference = Field(
        AccuracyPreference.BALANCED, description="what `format: auto` optimizes for"
    )


class ParallelismSection(Strict):
    tp: Count = Field(1, description="tensor-parallel size")
    pp: Count = Field(1, description="pipeline-parallel size")


class LimitsSection(Strict):
    max_batch_size: Count = Field(8, description="largest batch the engine accepts")
    max_input_len: Tokens = Field(1024, description="longest prompt, in tokens")
    max_output_len: Tokens = Field(1024, description="most generated tokens per request")
    max_num_tokens: Tokens | None = Field(
        None, description="tokens per engine step (packed); default min(batch x input, max(8192, input))"
    )
    max_beam_width: Annotated[int, Field(strict=True, ge=1, le=64)] = Field(1, description="beam-search width")


class PluginsSection(Strict):
    gemm: GemmPluginDtype = Field(GemmPluginDtype.AUTO, description="--gemm_plugin; auto uses the model dtype")
    gpt_attention: PluginDtype = Field(PluginDtype.AUTO, description="--gpt_attention_plugin")
    paged_kv_cache: Toggle = Field(Toggle.ENABLE, description="paged KV cache (needed for in-flight batching)")
    remove_input_padding: Toggle = Field(Toggle.ENABLE, description="packed inputs (needed for in-flight batching)")
    context_fmha: Toggle = Field(Toggle.ENABLE, description="fused multi-head attention in the context phase")
    multi_block_mode: AutoToggle = Field(
        AutoToggle.AUTO, description="multi-block attention in generation (a build flag on 0.8-0.10, runtime later)"
    )
    use_fused_mlp: AutoToggle = Field(AutoToggle.AUTO, description="horizontal fusion of the gated MLP")
    use_paged_context_fmha: AutoToggle = Field(
        AutoToggle.AUTO, description="paged context FMHA (needed for chunked context and KV reuse)"
    )
    use_fp8_context_fmha: AutoToggle = Field(AutoToggle.AUTO, description="FP8 context FMHA (Hopper and newer)")
    use_custom_all_reduce: AutoToggle = Field(
        AutoToggle.AUTO, description="custom all-reduce kernel (0.8-0.10; needs GPU peer-to-peer access)"
    )
    tokens_per_block: Annotated[int, Field(strict=True, ge=8, le=1024)] | None = Field(
        None, description="KV-cache block size in tokens (default: the release's)"
    )


class TargetSection(Strict):
    gpu: str | None = Field(None, description="a GPU id from the catalog (`trtdeploy gpus`), case-insensitive")
    backend: BackendChoice = Field(
        BackendChoice.AUTO,
        description="tensorrt (engines: checkpoint -> trtllm-build), pytorch (a Hugging Face checkpoint served by "
        "trtllm-serve; 1.0 and newer, the only one from 1.3), or auto: per release and what the spec needs",
    )
    gpus_per_node: Annotated[int, Field(strict=True, ge=1, le=64)] = Field(8, description="GPUs on each node")
    nodes: Annotated[int, Field(strict=True, ge=1, le=4096)] = Field(1, description="number of nodes")
    tensorrt_llm: Annotated[str, StringConstraints(pattern=r"^\d{1,3}(\.\d{1,4}){1,2}[a-z0-9.]*$")] | None = Field(
        None, description="TensorRT-LLM release in use, e.g. 0.8.0, 0.16 or 1.2 (default: the newest line)"
    )
    examples_dir: PathText | None = Field(
        None,
        description="where TensorRT-LLM's examples/ folder is on the build host "
        "(overridden by $TRTDEPLOY_EXAMPLES_DIR; default: the release container's)",
    )


class BuildSection(Strict):
    gpu: str | None = Field(None, description="GPU of the build host (default: target.gpu)")
    modelopt_dir: PathText | None = Field(
        None,
        description="a Model-Optimizer checkout on the build host, whose examples/llm_ptq/hf_ptq.py quantizes for the "
        "PyTorch backend (overridden by $TRTDEPLOY_MODELOPT_DIR)",
    )
    modelopt: Annotated[str, StringConstraints(pattern=r"^\d{1,3}\.\d{1,4}(\.\d{1,4})?$")] | None = Field(
        None, description="the ModelOpt release installed on the build host (default: the one the TensorRT-LLM "
        "release pins); it picks hf_ptq.py's flags",
    )
    gpus: Annotated[int, Field(strict=True, ge=1, le=64)] | None = Field(
        None, description="GPUs on the build host (default: target.gpus_per_node)"
    )
    host_memory_gib: Annotated[float, Field(gt=0, le=1 << 20, allow_inf_nan=False)] | None = Field(
        None, description="host RAM of the build host, GiB; enables the build-time host memory check"
    )
    workers: Annotated[int, Field(strict=True, ge=1, le=64)] = Field(1, description="parallel build workers")


class CudaGraphSection(Strict):
    enabled: bool = Field(True, description="capture CUDA graphs for decoding (cuda_graph_config; false: null)")
    batch_sizes: list[Count] | None = Field(None, description="batch sizes to capture (default: the release's list)")
    max_batch_size: Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT)] | None = Field(
        None, description="capture batch sizes up to this one (default: the release's, 128)"
    )
    padding: bool | None = Field(None, description="pad batches up to a captured size (enable_padding)")


class RuntimeSection(Strict):
    """The PyTorch backend's LLM-API settings, written into launch/llm_api_options.yaml."""

    kv_cache_free_gpu_memory_fraction: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None = Field(
        None, description="share of free GPU memory the KV cache takes after the model loads (default: 0.9)"
    )
    enable_block_reuse: bool | None = Field(None, description="reuse KV-cache blocks of shared prefixes (default: on)")
    enable_chunked_prefill: AutoToggle = Field(
        AutoToggle.AUTO, description="split long prompts over several steps; auto: on when max_input_len exceeds "
        "max_num_tokens"
    )
    cuda_graphs: CudaGraphSection = Field(default_factory=CudaGraphSection, description="CUDA graph capture")
    llm_api_options: dict[str, Any] = Field(
        default_factory=dict, description="more LLM-API keys, merged into launch/llm_api_options.yaml and checked "
        "against the release's TorchLlmArgs",
    )


class RunSection(Strict):
    input_text: Annotated[str, StringConstraints(max_length=10000)] = Field(
        "Hello, my name is", description="prompt of the smoke check"
    )
    max_output_len: Tokens = Field(64, description="tokens to generate in the smoke check (max_tokens of its request "
                                   "on the PyTorch backend)")


class ServeSection(Strict):
    host: Annotated[str, StringConstraints(min_length=1, max_length=255)] = Field("0.0.0.0", description="bind host")
    port: Annotated[int, Field(strict=True, ge=1, le=65535)] = Field(8000, description="port")


class SlurmSection(Strict):
    partition: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(None, description="--partition")
    account: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(None, description="--account")
    time: Annotated[str, StringConstraints(pattern=r"^[0-9:-]{1,20}$")] = Field("04:00:00", description="--time limit")
    container_image: Annotated[str, StringConstraints(min_length=1, max_length=1024)] | None = Field(
        None, description="srun --container-image (pyxis)"
    )


EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
HostName = Annotated[str, StringConstraints(min_length=1, max_length=255)]


# Kubernetes names and values, in the forms the API server accepts (DNS-1123 labels and
# subdomains, label keys and values, resource quantities), so a typo fails `check`, not `kubectl apply`.
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_KEY = rf"({_DNS_SUBDOMAIN}/)?{_LABEL_NAME}"
_LABEL_VALUE = rf"({_LABEL_NAME})?"
_TAINT_EFFECT = "NoSchedule|PreferNoSchedule|NoExecute"

KubeName = Annotated[
    str, StringConstraints(pattern=rf"^{_DNS_LABEL}$"),
    Field(description="a DNS-1123 label: lowercase letters, digits and '-', at most 63 characters"),
]
KubeObjectName = Annotated[
    str, StringConstraints(max_length=253, pattern=rf"^{_DNS_SUBDOMAIN}$"),
    Field(description="a DNS-1123 subdomain: lowercase letters, digits, '-' and '.'"),
]
LabelKey = Annotated[str, StringConstraints(max_length=317, pattern=rf"^{_LABEL_KEY}$")]
LabelValue = Annotated[str, StringConstraints(max_length=63, pattern=rf"^{_LABEL_VALUE}$")]
SecretKeyRef = Annotated[
    str, StringConstraints(max_length=507, pattern=rf"^{_DNS_SUBDOMAIN}/[-._a-zA-Z0-9]{{1,253}}$"),
    Field(description="SECRET/KEY: a Secret's name and one of its keys"),
]
Toleration = Annotated[
    str, StringConstraints(max_length=400, pattern=rf"^{_LABEL_KEY}(={_LABEL_VALUE})?(:({_TAINT_EFFECT}))?$"),
    Field(description="a taint to tolerate, as `kubectl taint` writes it: KEY[=VALUE][:EFFECT]"),
]
ImageRef = Annotated[
    str, StringConstraints(max_length=1024, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$"),
    Field(description="a container image reference, e.g. nvcr.io/nvidia/tensorrt-llm/release:1.2.0"),
]
NodePath = Annotated[
    str, StringConstraints(max_length=4096, pattern=r"^/[^\x00\n\r]*$"),
    Field(description="an absolute path on the node"),
]
VolumePath = Annotated[
    str, StringConstraints(max_length=4096, pattern=r"^[A-Za-z0-9._-][A-Za-z0-9._/-]*$"),
    Field(description="a relative folder inside the volume"),
]


def _quantity_text(value: object) -> object:
    """`cpu: 16` is as natural as `cpu: "16"`; both mean the quantity 16."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Quantity = Annotated[
    str,
    BeforeValidator(_quantity_text, json_schema_input_type=str | int),
    StringConstraints(max_length=64, pattern=r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"),
    Field(description="a Kubernetes quantity: 16, 500m, 64Gi"),
]


class KubeServiceType(str, enum.Enum):
    CLUSTER_IP = "ClusterIP"
    NODE_PORT = "NodePort"
    LOAD_BALANCER = "LoadBalancer"


class KubeVolumeSection(Strict):
    claim: KubeObjectName | None = Field(None, description="a PersistentVolumeClaim's name (ReadOnlyMany or "
                                         "ReadWriteMany when several nodes share it)")
    host_path: NodePath | None = Field(None, description="a folder on every node that runs a pod (hostPath)")
    sub_path: VolumePath | None = Field(None, description="the folder inside the claim or host path")


class KubeServiceSection(Strict):
    type: KubeServiceType = Field(KubeServiceType.CLUSTER_IP, description="Service type")
    port: Annotated[int, Field(strict=True, ge=1, le=65535)] | None = Field(
        None, description="the Service's port (default: launch.serve.port)"
    )


class KubeResourcesSection(Strict):
    cpu: Quantity | None = Field(None, description="CPU cores")
    memory: Quantity | None = Field(None, description="memory, e.g. 200Gi")


class KubernetesSection(Strict):
    image: ImageRef | None = Field(
        None, description="container image (default: the NGC release container of target.tensorrt_llm)"
    )
    pull_secrets: list[KubeObjectName] = Field(
        default_factory=list, description="imagePullSecrets by name (nvcr.io needs one for NGC images)"
    )
    namespace: KubeName = Field("default", description="namespace of every object")
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, description="labels added to every object")
    replicas: Annotated[int, Field(strict=True, ge=0, le=1000)] = Field(
        1, description="serving copies: pods of a Deployment, or groups of a LeaderWorkerSet"
    )
    service: KubeServiceSection = Field(default_factory=KubeServiceSection, description="the Service in front")
    model: KubeVolumeSection | None = Field(None, description="where the pods read the model (mounted at /model)")
    build_dir: KubeVolumeSection | None = Field(
        None, description="where the compiled build folder is (mounted at /build)"
    )
    requests: KubeResourcesSection = Field(
        default_factory=KubeResourcesSection, description="CPU and memory requests of a pod (GPUs follow tp x pp)"
    )
    limits: KubeResourcesSection = Field(default_factory=KubeResourcesSection, description="CPU and memory limits")
    shm_size: Quantity | None = Field(None, description="size limit of the in-memory /dev/shm (default: none)")
    secrets: dict[EnvName, SecretKeyRef] = Field(
        default_factory=dict, description="environment variables read from Secrets, NAME: SECRET/KEY (never values)"
    )
    node_selector: dict[LabelKey, LabelValue] = Field(default_factory=dict, description="nodeSelector of the pods")
    tolerations: list[Toleration] = Field(default_factory=list, description="taints the pods tolerate")
    build_job: bool = Field(False, description="also write a Job that runs the build steps in the cluster")
    startup_timeout: Annotated[int, Field(strict=True, ge=60, le=86400)] = Field(
        1800, description="seconds allowed for workers to join and the model to load before probes count"
    )


class LaunchSection(Strict):
    launcher: Launcher = Field(Launcher.MPIRUN, description="how ranks are started")
    entrypoint: Entrypoint = Field(
        Entrypoint.RUN, description="run: a smoke check (engine path: run.py on every rank; PyTorch backend: one "
        "request to the trtllm-serve it starts and stops); serve: a server"
    )
    hosts: list[HostName] | None = Field(None, description="hostnames for a multi-node mpirun (one per node)")
    run: RunSection = Field(default_factory=RunSection, description="the smoke check of entrypoint run")
    serve: ServeSection = Field(default_factory=ServeSection, description="the server of entrypoint serve")
    slurm: SlurmSection = Field(default_factory=SlurmSection, description="sbatch settings of launcher slurm")
    kubernetes: KubernetesSection = Field(
        default_factory=KubernetesSection, description="manifests of launcher kubernetes (docs/kubernetes.md)"
    )
    env: list[EnvName] = Field(
        default_factory=list,
        description="environment variables passed to every rank by name (values such as tokens are never written)",
    )


Score = Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False)]
TaskName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class AccuracyGate(Strict):
    """One accuracy task and its gates; scores are the task's own, in points (0-100)."""

    task: TaskName = Field(
        description="the task, as the release's evaluation tool names it: mmlu, gsm8k, cnn_dailymail, gpqa_diamond, "
        "... (docs/verify.md lists them per backend and release)"
    )
    min_score: Score | None = Field(None, description="absolute gate: the score must be at least this")
    max_drop: Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False)] | None = Field(
        None, description="the score may be at most this many points below the baseline"
    )
    baseline: Score | PathText | None = Field(
        None, description="the score max_drop counts from: a number, or the results.json of another build "
        "(its score for the same task)"
    )
    dataset: PathText | None = Field(
        None, description="a local copy of the task's dataset: mmlu.py's MMLU data folder (required), summarize.py's "
        "Hugging Face datasets cache (else it downloads), trtllm-eval's --dataset_path"
    )
    num_samples: Count | None = Field(None, description="evaluate this many samples only (default: the tool's own: the whole set; summarize.py 20 articles)")


class ThroughputGate(Strict):
    """The benchmark workload and its gates; lengths default to the limits."""

    input_len: Tokens | None = Field(None, description="tokens per prompt (default: limits.max_input_len)")
    output_len: Tokens | None = Field(None, description="tokens generated per request (default: limits.max_output_len)")
    concurrency: Count = Field(
        1, description="requests in flight at once (the static batch size of a benchmark without in-flight batching)"
    )
    num_requests: Count = Field(64, description="requests the benchmark sends (a synthetic dataset of this size)")
    dataset: PathText | None = Field(
        None, description="a trtllm-bench dataset (JSON lines) to use instead of the synthetic one"
    )
    min_output_tokens_per_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        None, description="gate: generated tokens per second over the whole run, at least"
    )
    max_ttft_ms: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        None, description="gate: the average time to first token, in milliseconds, at most"
    )


class VerifySection(Strict):
    """What a build must show before it ships: accuracy and throughput, each gate optional (docs/verify.md)."""

    accuracy: list[AccuracyGate] = Field(default_factory=list, description="accuracy tasks and their gates")
    throughput: ThroughputGate | None = Field(None, description="a throughput benchmark and its gates")


class SpecFile(Strict):
    """One deployment spec file."""

    name: Slug | None = Field(None, description="deployment name (default: the file name)")
    description: Annotated[str, StringConstraints(max_length=10000)] | None = Field(None, description="free text for people")
    extends: PathText | None = Field(None, description="a spec this one starts from; its keys are overridden here")
    abstract: bool = Field(False, description="a base meant only to be extended: shape-checked, not validated")
    model: ModelSection = Field(default_factory=ModelSection, description="the model: a catalog name or a local folder")
    quantization: QuantizationSection = Field(
        default_factory=QuantizationSection, description="weight, activation and KV-cache quantization"
    )
    parallelism: ParallelismSection = Field(
        default_factory=ParallelismSection, description="tensor and pipeline parallelism; world size = tp x pp"
    )
    limits: LimitsSection = Field(default_factory=LimitsSection, description="engine build limits, always emitted")
    plugins: PluginsSection = Field(
        default_factory=PluginsSection, description="trtllm-build plugins and features, as TensorRT-LLM names them"
    )
    target: TargetSection = Field(
        default_factory=TargetSection, description="where it runs: GPU, nodes, TensorRT-LLM release"
    )
    build: BuildSection = Field(default_factory=BuildSection, description="the build host, when it differs")
    runtime: RuntimeSection = Field(
        default_factory=RuntimeSection, description="LLM-API settings of the PyTorch backend (trtllm-serve --config)"
    )
    launch: LaunchSection = Field(default_factory=LaunchSection, description="how the ranks are started")
    verify: VerifySection = Field(
        default_factory=VerifySection, description="accuracy and throughput gates the build must pass (docs/verify.md)"
    )
    ignore: list[RuleCode] = Field(default_factory=list, description="rule codes silenced for this spec")
    error: list[RuleCode] = Field(default_factory=list, description="rule codes raised to errors for this spec")


def json_schema() -> dict[str, object]:
    """The JSON Schema of a spec file, for editors and docs/spec.md."""
    schema = SpecFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "trtdeploy spec"
    return schema
