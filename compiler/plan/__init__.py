"""plan: Resolved -> Plan, the stage where every decision about tools and flags is made.

Modules:
    model     the Plan types (read by render, run and diff)
    features  which TensorRT-LLM release has which flag or tool (version gates)
    argv      an argv under construction, each argument filed under its aspect
    layout    where the examples folder and each tool's script live
    quant     the quantization route, calibration settings, and what cannot be planned
    tools     the exact argv of each tool, with the decision behind every choice
    launch    the MPI launch: world size, ranks per node, rank argv, mpirun / srun
    planner   make_plan: the steps, their fingerprints and aspects, and the launch

The P rules (compiler/rules/plan.py) import the shared decisions from here; nothing
here imports the rules. `make_plan` (also exported as `plan_deployment`, the name
compiler/diff.py uses) and `PlanError` are the public entry points.
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
