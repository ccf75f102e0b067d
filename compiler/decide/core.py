"""decide(Resolved) -> Decided: the one place where every choice of a deployment is made.

The backend, the quantization format behind `auto`, the KV-cache dtype behind `auto`,
the route (which tools run, who calibrates, who quantizes the KV cache), the
calibration, the limits, the tool-facing settings with the release's defaults, the
topology, the verify plan (tasks and their tools, the workload, thresholds), and the gaps (what no plan can express, as drafts of findings). The rules
check these; the backends and launchers emit them; nothing decides again.
Pure and cheap: `check` decides every spec it reads.
"""

from __future__ import annotations

import posixpath
from dataclasses import replace

from compiler.backends import BackendModule, backend_module
from compiler.backends import pytorch, tensorrt
from compiler.catalog import pytorch_backend
from compiler.decide.limits import decide_limits
from compiler.decide.verify import decide_verify
from compiler.decide.model import (
    Backend,
    Calibration,
    Decided,
    Note,
    Origin,
    Route,
    Setting,
    Topology,
)
from compiler.launchers import launcher_module
from compiler.policy import choose_auto_format
from compiler.resolve import Resolved
from compiler.spec import BackendChoice, CalibrationSection, KvCacheDtype, QuantFormat


def decide(r: Resolved) -> Decided:
    """Make every decision of a resolved spec. Never raises for bad input: what cannot be planned is a gap."""
    kv = _kv_cache(r)
    fmt = _format(r, backend_module(_preferred_backend(r)), kv.value)
    backend = _backend(r, fmt.value, kv.value)
    module = backend_module(backend.value)
    route = module.route(r, fmt.value, kv.value)
    limits = decide_limits(r)
    topology = _topology(r)
    verify, verify_gaps = decide_verify(r, module.verify_tools(r), limits, topology)
    decided = Decided(
        resolved=r, backend=backend, format=fmt, kv_cache=kv, route=route,
        calibration=_calibration(r, route, module), limits=limits, topology=topology,
        settings=module.settings(r, fmt.value, kv.value, route, limits),
        notes=tuple(_notes(backend, fmt, route)), verify=verify,
    )
    launcher = launcher_module(r.spec.launch.launcher)
    return replace(decided, gaps=(*module.gaps(decided), *launcher.gaps(decided), *verify_gaps),
                   notes=(*decided.notes, *launcher.notes(decided)))


def _preferred_backend(r: Resolved) -> Backend:
    """The backend `format: auto` picks for: the written one, else the release's default."""
    written = r.spec.target.backend
    if written is not BackendChoice.AUTO:
        return Backend(written.value)
    return Backend.PYTORCH if pytorch.supported_here(r) else Backend.TENSORRT


def _backend(r: Resolved, fmt: QuantFormat, kv: KvCacheDtype) -> Setting[Backend]:
    """The written backend, or auto's choice: the engine path before 1.0, the PyTorch backend once the engine
    path is gone, and in between the PyTorch backend unless the spec needs what only the engine path has."""
    key, written, version = "target.backend", r.spec.target.backend, r.release.version
    if written is not BackendChoice.AUTO:
        return Setting(key, Backend(written.value), Origin.WRITTEN, "set by the spec")
    if not pytorch.supported_here(r):
        return Setting(key, Backend.TENSORRT, Origin.DECIDED,
                       f"TensorRT-LLM {version} predates the PyTorch backend (1.0): the engine path is its only one")
    engine = pytorch_backend.engine_path(r.release.exact)
    if engine.state != "present":
        return Setting(key, Backend.PYTORCH, Origin.DECIDED, f"the PyTorch backend is TensorRT-LLM {version}'s only "
                       f"one: the engine path is {engine.state} there ({engine.note})")
    why = pytorch.unsupported(r, fmt, kv)
    if why is not None and tensorrt.unsupported(r, fmt, kv) is None:
        return Setting(key, Backend.TENSORRT, Origin.DECIDED, f"{why}; the engine path of {version} can")
    return Setting(key, Backend.PYTORCH, Origin.DECIDED, f"the default backend of TensorRT-LLM {version}")


def _format(r: Resolved, module: BackendModule, kv: KvCacheDtype) -> Setting[QuantFormat]:
    written = r.spec.quantization.format
    if written is not QuantFormat.AUTO:
        origin = Origin.WRITTEN if r.is_written("quantization.format") else Origin.DEFAULT
        return Setting("quantization.format", written, origin)
    fmt, reason = choose_auto_format(r.gpu.sm, r.spec.limits.max_batch_size, r.spec.quantization.accuracy,
                                     lambda candidate: module.unsupported(r, candidate, kv) is None)
    return Setting("quantization.format", fmt, Origin.DECIDED, reason)


def _kv_cache(r: Resolved) -> Setting[KvCacheDtype]:
    written = r.spec.quantization.kv_cache
    if written is not KvCacheDtype.AUTO:
        return Setting("quantization.kv_cache", written, Origin.WRITTEN)
    dtype = KvCacheDtype(r.spec.model.dtype.value)
    return Setting("quantization.kv_cache", dtype, Origin.DEFAULT, f"auto keeps the model dtype ({dtype.value})")


def _calibration(r: Resolved, route: Route, module: BackendModule) -> Calibration | None:
    """The calibration settings the route's calibrating tool runs with, or None when nothing calibrates.

    The backend says whether a local file is staged into a dataset folder for its release's tool.
    """
    if not route.calibrates:
        return None
    section = r.spec.quantization.calibration
    written = section is not None
    section = section or CalibrationSection.model_validate({})
    dataset = r.calibration_dataset or section.dataset
    calibration = Calibration(dataset, posixpath.isabs(dataset), section.samples, section.seq_len, section.seed,
                              written)
    return module.stage_calibration(r, route, calibration)


def _topology(r: Resolved) -> Topology:
    par, target = r.spec.parallelism, r.spec.target
    world = par.tp * par.pp
    return Topology(par.tp, par.pp, world, target.nodes, max(1, world // target.nodes), target.gpus_per_node)


def _notes(backend: Setting[Backend], fmt: Setting[QuantFormat], route: Route) -> list[Note]:
    notes = []
    if backend.origin is Origin.DECIDED:
        notes.append(Note("target.backend", backend.value.value, backend.reason))
    if fmt.origin is Origin.DECIDED:
        notes.append(Note("quantization.format", fmt.value.value, fmt.reason))
    notes.append(Note("quantization.path", route.kind.value, route.reason))
    return notes
