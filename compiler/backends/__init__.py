"""Backends: the execution paths of TensorRT-LLM, each one module implementing `BackendModule`.

A backend decides what only it knows (the quantization route its tools take, the
tool-facing settings, what its tools cannot express) and, at plan time, adds its
steps and says what each rank runs. `compiler.decide` asks the registered backend;
`compiler.plan` calls its `plan`. Registering a backend is one line in BACKENDS.

| backend | module | path |
|---|---|---|
| tensorrt | compiler/backends/tensorrt/ | checkpoint (quantize.py / convert_checkpoint.py / GPTQModel) -> trtllm-build -> engine |
| pytorch | compiler/backends/pytorch/ | a Hugging Face checkpoint (ModelOpt's hf_ptq.py, or none) -> trtllm-serve |
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from compiler.decide.model import Backend, Calibration, Limits, Route, Setting, VerifyTools
from compiler.findings import Finding, draft
from compiler.resolve import Resolved
from compiler.spec import KvCacheDtype, Launcher, QuantFormat

if TYPE_CHECKING:  # plan-stage types: only the plan half of a backend uses them
    from compiler.decide.model import Decided
    from compiler.plan.steps import RankProgram, StepList


class BackendModule(Protocol):
    """What a backend module provides (module-level functions and a `BACKEND` constant)."""

    BACKEND: Backend

    def unsupported(self, r: Resolved, fmt: QuantFormat, kv: KvCacheDtype) -> str | None:
        """Why this backend cannot serve the spec at its release (None: it can). Used by `backend: auto`."""

    def route(self, r: Resolved, fmt: QuantFormat, kv: KvCacheDtype) -> Route:
        """Which tools produce what is served, who calibrates, who quantizes the KV cache."""

    def stage_calibration(self, r: Resolved, route: Route, calibration: Calibration) -> Calibration:
        """The calibration as the release's calibrating tool takes it (a local file staged into a folder, say)."""

    def settings(self, r: Resolved, fmt: QuantFormat, kv: KvCacheDtype, route: Route,
                 limits: Limits) -> Mapping[str, Setting[object]]:
        """Every tool-facing setting, decided: plugins, runtime options, by spec key."""

    def verify_tools(self, r: Resolved) -> VerifyTools:
        """What this backend measures accuracy and throughput with in the spec's release (verify:)."""

    def gaps(self, d: Decided) -> list[Finding]:
        """Drafts (with their rule code) of what the spec asks for that this backend's tools cannot express."""

    def plan(self, d: Decided, steps: StepList) -> RankProgram:
        """Add the backend's steps; return what each rank runs to serve (or smoke-test) the result."""


# Characters trtllm-llmapi-launch's unquoted re-expansion splits or globs on.
SPLIT_BY_WRAPPER = frozenset(" \t\n*?[")
# What each MPI rank runs trtllm-serve under across nodes: rank 0 becomes the server, the others its workers
# (tensorrt_llm/llmapi/trtllm-llmapi-launch @ 020c89e6). On one node the LLM API spawns its own workers.
MULTINODE_WRAPPER = ("trtllm-llmapi-launch",)
# trtllm-serve's health endpoint (both backends: tensorrt_llm/serve/openai_server.py).
HEALTH_PATH = "/health"


def ranks_wrapped(d: Decided) -> bool:
    """Whether the launcher starts one rank per GPU, each running trtllm-serve under trtllm-llmapi-launch, instead
    of one process whose LLM API spawns its workers: across nodes, and under Slurm on one node too, where srun
    starts the tasks (TensorRT-LLM's Slurm examples run `srun ... trtllm-llmapi-launch` with -N 1
    --ntasks-per-node=2: examples/llm-api/llm_mgmn_llm_distributed.sh @ b35ac1b6)."""
    return d.topology.nodes > 1 or d.r.spec.launch.launcher is Launcher.SLURM


def wrapper_split_gaps(r: Resolved) -> list[Finding]:
    """P106 drafts: the paths and values trtllm-serve gets that trtllm-llmapi-launch would split or glob.

    None on Kubernetes: the pods see other paths (the model at /model), which L115 checks as they see them.
    """
    if r.spec.launch.launcher is Launcher.KUBERNETES:
        return []
    words = {"model.path": r.model_dir, "model.tokenizer": r.tokenizer_dir, "quantization.checkpoint": r.checkpoint_dir,
             "launch.serve.host": r.spec.launch.serve.host}
    return [draft(key, f"{key} {value!r} holds a blank or * ? [; trtllm-llmapi-launch would split or expand it",
                  "use an address without blanks or * ? [" if key == "launch.serve.host" else "",
                  code="P106") for key, value in words.items()
            if value is not None and SPLIT_BY_WRAPPER & set(value) and r.is_written(key)]


BACKENDS: dict[Backend, str] = {
    Backend.TENSORRT: "compiler.backends.tensorrt",
    Backend.PYTORCH: "compiler.backends.pytorch",
}


def backend_module(backend: Backend) -> BackendModule:
    module = importlib.import_module(BACKENDS[backend])
    return module
