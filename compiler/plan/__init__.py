"""plan: Resolved -> Plan, the stage where every decision about tools and flags is made.

Modules:
    model     the Plan types (read by render, run and diff)
    argv      an argv under construction, each argument filed under its aspect
    steps     the step list backends append to, fingerprints, and what each rank runs
    planner   make_plan: the registered backend's steps and the registered launcher's launch

Nothing here decides: the values come from compiler.decide, the steps from
compiler/backends/, the launch from compiler/launchers/. `make_plan` (also exported
as `plan_deployment`) and `PlanError` are the public entry points.
"""

from __future__ import annotations

from typing import Any

# The planner is imported on first use, so that `compiler.plan.model` (read by the runner) stays light.
_PUBLIC = {"make_plan": "make_plan", "plan_deployment": "make_plan", "PlanError": "PlanError"}


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'compiler.plan' has no attribute {name!r}")
    from compiler.plan import planner

    return getattr(planner, _PUBLIC[name])
