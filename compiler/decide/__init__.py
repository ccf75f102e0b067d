"""decide: Resolved -> Decided, the stage between resolve and validate where every choice is made once.

Modules:
    model     the Decided types: Setting (value, origin, reason), Route, Calibration, Limits, Topology
    core      decide(): the backend, `auto` formats and KV caches, the route, calibration, settings, gaps
    limits    the limits a deployment runs with (max_num_tokens, tokens_per_block decided)
    estimate  the serving-memory estimate of a decided spec

Backend- and launcher-specific decisions live in their registered modules
(compiler/backends/, compiler/launchers/), which `core` asks.
"""

from __future__ import annotations

from typing import Any

_PUBLIC = {"decide": "compiler.decide.core"}


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'compiler.decide' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_PUBLIC[name]), name)
