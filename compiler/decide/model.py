"""The decided deployment: every choice made once, with its value, where it came from and why.

`Decided` is what the rules check and what the backends and launchers emit. Readers
never look at the raw spec for a value that has a decided form: a plugin left at
`auto`, a KV cache at `auto`, a format at `auto`, the backend, the quantization
route, the calibration, the limits and the launch topology are all here.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from compiler.findings import Finding
from compiler.resolve import Resolved
from compiler.spec import KvCacheDtype, QuantFormat

if TYPE_CHECKING:
    from compiler.memory import MemoryEstimate

T = TypeVar("T")


class Origin(str, enum.Enum):
    """Where a decided value came from."""

    WRITTEN = "written"    # the spec (or a base it extends) writes it
    DEFAULT = "default"    # the spec language's default, which is also what the tool does unasked
    DECIDED = "decided"    # trtdeploy chose it (an `auto`, a release default it must spell out, a consequence)


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One decided value: `key` is the spec key it belongs to, `reason` says why it is this value."""

    key: str
    value: T
    origin: Origin
    reason: str = ""

    @property
    def written(self) -> bool:
        return self.origin is Origin.WRITTEN


class Backend(str, enum.Enum):
    """Which TensorRT-LLM execution path serves the model."""

    TENSORRT = "tensorrt"  # TensorRT engines: checkpoint -> trtllm-build -> engine
    PYTORCH = "pytorch"    # the PyTorch backend: a Hugging Face checkpoint served by trtllm-serve


class RouteKind(str, enum.Enum):
    """How the model that gets served is produced."""

    CONVERT = "convert"            # engine: convert_checkpoint.py (plain, weight-only, SmoothQuant, int8 KV)
    QUANTIZE = "quantize"          # engine: ModelOpt's quantize.py
    GPTQ = "gptq"                  # engine: a GPTQModel step, then convert_checkpoint.py
    CHECKPOINT = "checkpoint"      # engine: a given GPTQ/AWQ checkpoint, then convert_checkpoint.py
    HF_EXPORT = "hf_export"        # pytorch: ModelOpt's hf_ptq.py writes a quantized HF checkpoint
    HF_MODEL = "hf_model"          # pytorch: the Hugging Face model is served as it is
    HF_CHECKPOINT = "hf_checkpoint"  # pytorch: a given ModelOpt HF checkpoint is served


@dataclass(frozen=True)
class Route:
    """Which tools write what is served, and who reads calibration data and quantizes the KV cache.

    `quantizer` is the tool that quantizes the weights (None: nobody), `calibrator` the tool
    that reads calibration data (None: no calibration runs), `kv_quantizer` the tool that
    writes KV-cache scales or the runtime setting that quantizes the KV cache (None: the KV
    cache stays in the model dtype), `full_model_on` where the full-precision model must
    fit at build time ("gpu", "host" or None).
    """

    kind: RouteKind
    quantizer: str | None
    calibrator: str | None
    kv_quantizer: str | None
    reads_checkpoint: bool
    full_model_on: str | None
    reason: str

    @property
    def calibrates(self) -> bool:
        return self.calibrator is not None


@dataclass(frozen=True)
class Calibration:
    """The calibration a quantizing tool runs with.

    `dataset` is what the tool is given (a name it knows, or a local path); `local` says
    it is a path whose files the runner digests; `staged` says the runner copies a local
    file into a folder first, because the release reads folders only.
    """

    dataset: str
    local: bool
    samples: int
    seq_len: int
    seed: int
    written: bool
    staged: bool = False


@dataclass(frozen=True)
class Limits:
    """The limits the engine (or the server) runs with."""

    max_batch_size: int
    max_input_len: int
    max_output_len: int
    max_seq_len: int
    max_beam_width: int
    max_num_tokens: Setting[int]
    tokens_per_block: Setting[int]


@dataclass(frozen=True)
class Topology:
    """Ranks and GPUs: one rank per GPU, world size tp x pp."""

    tp: int
    pp: int
    world_size: int
    nodes: int
    ranks_per_node: int
    gpus_per_node: int


@dataclass(frozen=True)
class ServerSmoke:
    """`entrypoint: run` through a server: start it, wait for `health_path`, send one completion, print, stop.

    `host` and `port` are where the client reaches the server (the bound address; loopback
    for a wildcard bind), `prompt` and `max_tokens` the one request's.
    """

    host: str
    port: int
    health_path: str
    completions_path: str
    prompt: str
    max_tokens: int

    def __str__(self) -> str:
        return (f"GET {self.health_path} until 200, then one POST {self.completions_path} "
                f"(max_tokens {self.max_tokens}) to port {self.port}")


@dataclass(frozen=True)
class Note:
    """A decision worth showing in the plan: the topic, the choice, and why."""

    topic: str
    choice: str
    reason: str


class Bound(str, enum.Enum):
    """Which side of its threshold a measured value must be on."""

    MIN = "min"  # at least the threshold
    MAX = "max"  # at most the threshold


@dataclass(frozen=True)
class Gate:
    """One gate: a metric a verify step measures, and the threshold it must meet.

    `name` is what results.json and the tables call it (`mmlu.min_score`), `key` the spec key
    it comes from, `reason` how the threshold was reached (a baseline minus max_drop, say).
    """

    name: str
    key: str
    metric: str
    bound: Bound
    threshold: float
    unit: str
    reason: str


@dataclass(frozen=True)
class TaskTool:
    """How a release's evaluation tool runs one accuracy task.

    `dataset` is "required" (the tool has no usable default) or "optional" (it downloads one);
    `max_output_len` is how many tokens the task generates per prompt, `max_input_len` how long
    the tool lets a prompt be by default (None: the engine's limit cuts them).
    """

    task: str
    tool: str
    dataset: str
    max_output_len: int
    max_input_len: int | None
    source: str
    sampled: bool = True  # the tool can evaluate a number of samples only


@dataclass(frozen=True)
class VerifyTools:
    """What a backend measures with in one release: its evaluation tool's tasks, its benchmark and its metrics.

    A tool that is None has a reason in `*_why` (the release has none, or its flags were not read).
    `dataset_tool` makes the benchmark's synthetic dataset (None: the spec must give one).
    """

    tasks: Mapping[str, TaskTool]
    accuracy_why: str
    benchmark: str | None
    benchmark_why: str
    metrics: frozenset[str]
    metrics_why: str
    dataset_tool: str | None
    dataset_why: str
    takes_dataset: bool  # False: the benchmark makes its own random prompts
    static_batch: bool  # the benchmark runs fixed batches of `concurrency` (no in-flight batching)


@dataclass(frozen=True)
class AccuracyCheck:
    """One accuracy task the build runs, with its gates (`index`: its place in verify.accuracy)."""

    index: int
    task: TaskTool
    dataset: str | None
    num_samples: int | None
    gates: tuple[Gate, ...]


@dataclass(frozen=True)
class Workload:
    """The benchmark's requests: lengths from the limits unless the spec gives them."""

    input_len: int
    output_len: int
    concurrency: int
    num_requests: int
    dataset: str | None
    lengths_from_limits: bool


@dataclass(frozen=True)
class ThroughputCheck:
    """The benchmark the build runs, its workload and gates; `streaming` when a gate needs per-token timing."""

    tool: str
    dataset_tool: str | None
    workload: Workload
    gates: tuple[Gate, ...]
    streaming: bool
    static_batch: bool


@dataclass(frozen=True)
class VerifyPlan:
    """Every check verify: asks for, decided: tasks with their tools, the workload, thresholds."""

    accuracy: tuple[AccuracyCheck, ...] = ()
    throughput: ThroughputCheck | None = None

    @property
    def gates(self) -> tuple[Gate, ...]:
        return (*(g for check in self.accuracy for g in check.gates), *(self.throughput.gates if self.throughput else ()))

    def __bool__(self) -> bool:
        return bool(self.accuracy) or self.throughput is not None


@dataclass(frozen=True)
class Decided:
    """A resolved spec with every decision made.

    `settings` holds every tool-facing value by spec key (plugins.*, limits.*, ...);
    `gaps` are the findings of what no plan can express (the P rules report them, the
    planner refuses to plan while one is left).
    """

    resolved: Resolved
    backend: Setting[Backend]
    format: Setting[QuantFormat]
    kv_cache: Setting[KvCacheDtype]
    route: Route
    calibration: Calibration | None
    limits: Limits
    topology: Topology
    settings: Mapping[str, Setting[object]]
    notes: tuple[Note, ...] = ()
    gaps: tuple[Finding, ...] = field(default=())
    verify: VerifyPlan = field(default_factory=VerifyPlan)

    @property
    def r(self) -> Resolved:
        return self.resolved

    @functools.cached_property
    def memory(self) -> MemoryEstimate:
        """Memory per GPU as decided (compiler/decide/estimate.py), computed once for the rules and the planner."""
        from compiler.decide.estimate import serving_estimate

        return serving_estimate(self)

    def setting(self, key: str) -> Setting[object]:
        return self.settings[key]

    def value(self, key: str) -> object:
        return self.settings[key].value

    def on(self, key: str) -> bool:
        """Whether a toggle setting is on (its value is True)."""
        return self.settings[key].value is True
