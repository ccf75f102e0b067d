"""decide(Resolved) -> Decided: the one place where every choice of a deployment is made.

The backend, the quantization format behind `auto`, the KV-cache dtype behind `auto`,
the route (which tools run, who calibrates, who quantizes the KV cache), the
calibration, the limits, the tool-facing settings with the release's defaults, the
topology, and the gaps (what no plan can express, as drafts of findings). The rules
check these; the backends and launchers emit them; nothing decides again.
Pure and cheap: `check` decides every spec it reads.
"""

from __future__ import annotations

import posixpath
from dataclasses import replace

from compiler.backends import backend_module
from compiler.decide.limits import decide_limits
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
from compiler.spec import CalibrationSection, KvCacheDtype, QuantFormat

def decide(r: Resolved) -> Decided:
    """Make every decision of a resolved spec. Never raises for bad input: what cannot be planned is a gap."""
    backend = _backend(r)
    module = backend_module(backend.value)
    fmt = _format(r)
    kv = _kv_cache(r)
    route = module.route(r, fmt.value, kv.value)
    limits = decide_limits(r)
    decided = Decided(
        resolved=r, backend=backend, format=fmt, kv_cache=kv, route=route,
        calibration=_calibration(r, route), limits=limits, topology=_topology(r),
        settings=module.settings(r, fmt.value, kv.value, route, limits),
        notes=tuple(_notes(r, fmt, route)),
    )
    launcher = launcher_module(r.spec.launch.launcher)
    return replace(decided, gaps=(*module.gaps(decided), *launcher.gaps(decided)),
                   notes=(*decided.notes, *launcher.notes(decided)))


def _backend(r: Resolved) -> Setting[Backend]:
    return Setting("target.backend", Backend.TENSORRT, Origin.DEFAULT,
                   f"TensorRT-LLM {r.release.version} is planned on the TensorRT engine path")


def _format(r: Resolved) -> Setting[QuantFormat]:
    written = r.spec.quantization.format
    if written is not QuantFormat.AUTO:
        origin = Origin.WRITTEN if r.is_written("quantization.format") else Origin.DEFAULT
        return Setting("quantization.format", written, origin)
    fmt, reason = choose_auto_format(r.gpu.sm, r.spec.limits.max_batch_size, r.spec.quantization.accuracy)
    return Setting("quantization.format", fmt, Origin.DECIDED, reason)


def _kv_cache(r: Resolved) -> Setting[KvCacheDtype]:
    written = r.spec.quantization.kv_cache
    if written is not KvCacheDtype.AUTO:
        return Setting("quantization.kv_cache", written, Origin.WRITTEN)
    dtype = KvCacheDtype(r.spec.model.dtype.value)
    return Setting("quantization.kv_cache", dtype, Origin.DEFAULT, f"auto keeps the model dtype ({dtype.value})")


def _calibration(r: Resolved, route: Route) -> Calibration | None:
    """The calibration settings the route's calibrating tool runs with, or None when nothing calibrates."""
    if not route.calibrates:
        return None
    section = r.spec.quantization.calibration
    written = section is not None
    section = section or CalibrationSection.model_validate({})
    dataset = r.calibration_dataset or section.dataset
    return Calibration(dataset, posixpath.isabs(dataset), section.samples, section.seq_len, section.seed, written)


def _topology(r: Resolved) -> Topology:
    par, target = r.spec.parallelism, r.spec.target
    world = par.tp * par.pp
    return Topology(par.tp, par.pp, world, target.nodes, max(1, world // target.nodes), target.gpus_per_node)


def _notes(r: Resolved, fmt: Setting[QuantFormat], route: Route) -> list[Note]:
    notes = []
    if fmt.origin is Origin.DECIDED:
        notes.append(Note("quantization.format", fmt.value.value, fmt.reason))
    notes.append(Note("quantization.path", route.kind.value, route.reason))
    return notes
