"""Hostile strings, the spec contexts that make each field count, and a stand-in host for them.

Every free-text leaf of the spec (enumerated by specleaves.text_leaves, so a new field
is covered without an edit) is filled with each hostile string in turn, inside a spec
that is otherwise clean and in which that field is used (serve.* under entrypoint serve,
slurm.* under launcher slurm, ...). Paths are made to exist by `materialize`: one
folder that is at once a model (config.json, weights), a GPTQ checkpoint, a calibration
dataset and a TensorRT-LLM examples folder (the stand-ins), so the build can run
whatever field the value landed in.
"""

from __future__ import annotations

import copy

import json
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runkit import STANDINS, Host
from specleaves import Leaf

from compiler.load import deep_merge

# The contexts: key-path prefix -> overrides that make the fields under it count.
CONTEXTS: dict[tuple[str | int, ...], dict[str, Any]] = {
    ("quantization", "checkpoint"): {"quantization": {"format": "int4_gptq", "kv_cache": "auto", "calibration": None}},
    ("launch", "serve"): {"launch": {"entrypoint": "serve"}},
    ("launch", "slurm"): {"launch": {"launcher": "slurm"}},
    ("verify", "accuracy"): {"verify": {"accuracy": [{"task": "mmlu", "min_score": 10}]}},
    ("verify", "throughput"): {"verify": {"throughput": {"input_len": 128, "output_len": 64, "num_requests": 4}}},
}
# A trtllm-bench dataset (JSON lines) for verify.throughput.dataset, written where the hostile value points.
BENCH_DATASET = '{"task_id": 0, "input_ids": [1, 2, 3], "output_tokens": 4}\n'

EXAMPLE_SCRIPTS = {"quantization/quantize.py": "quantize.py", "llama/convert_checkpoint.py": "convert_checkpoint.py",
                   "models/core/llama/convert_checkpoint.py": "convert_checkpoint.py"}
# Prints its argv and a digest of HF_TOKEN (never the token): the rank's program in the launch tests.
PROBE = """import hashlib, json, os, sys
token = os.environ.get("HF_TOKEN")
print(json.dumps({"argv": sys.argv[1:], "token_sha": hashlib.sha256(token.encode()).hexdigest() if token else None}))
"""
# A tiny srun: prints its argv, then runs the rank's command (the last two words) as Slurm's local rank 0.
FAKE_SRUN = """import json, os, subprocess, sys
print(json.dumps(sys.argv[1:]), flush=True)
subprocess.run(sys.argv[-2:], env=dict(os.environ, SLURM_LOCALID="0"), check=True)
"""


def hostile_values(marker: Path) -> dict[str, str]:
    """Each kind of hostile text; the ones that could run a command would create `marker`-<kind>."""
    m = str(marker)
    return {
        "command-substitution": f"$(touch {m}-subst)",
        "backticks": f"`touch {m}-tick`",
        "semicolon": f"x; touch {m}-semi; rm -rf ~",
        "quotes": f"it's \"q\" '$(touch {m}-quote)' \\'",
        "newline": f"one\ntouch {m}-newline\nthree",
        "leading-dash": f"--output_dir=/tmp -rf $(touch {m}-dash)",
        "unicode": "模型 🦙 é \u202e ok",
        "format": "%s %n %x %d {0} %(x)s",
        "jinja": "{{ 7*7 }} {% raw %}{% endraw %} {# c #}",
        "variables": "${HOME} $IFS ${PATH:0:1} $0",
        "long": "long " * 700 + f"$(touch {m}-long)",
    }


def sink(marker: Path) -> str:
    """Every hostile kind in one value under 255 characters (so host-name fields take it too), dash first."""
    m = str(marker)
    return (f"-x $(touch {m}-s) `touch {m}-t`; rm -rf ~ 'q' \"dq\" \\ \n%s%n {{{{ 7*7 }}}} {{% raw %}} "
            "${HOME} 模型🦙\u202e")


def long_sink(marker: Path) -> str:
    """Over 3,000 characters that are still a creatable path (no component over 255 bytes)."""
    return ("a" * 200 + "/") * 15 + sink(marker)


def base_spec(host: Host) -> dict[str, Any]:
    """A spec that checks clean and builds with the stand-ins: fp8 with an fp8 KV cache, tp 2, HF_TOKEN passed, on
    the engine path (the most scripts: quantize, convert-free build, rank.sh and the hostfile)."""
    return {
        "name": "hostile",
        "model": {"path": str(host.model)},
        "quantization": {"format": "fp8", "kv_cache": "fp8", "calibration": {"dataset": str(host.calib), "samples": 32}},
        "parallelism": {"tp": 2},
        "limits": {"max_batch_size": 4, "max_input_len": 256, "max_output_len": 256},
        "target": {"gpu": "H100-SXM", "gpus_per_node": 2, "tensorrt_llm": "1.2.0", "backend": "tensorrt",
                   "examples_dir": str(host.examples)},
        "launch": {"env": ["HF_TOKEN"]},
    }


def context(leaf: Leaf) -> dict[str, Any]:
    for prefix, overrides in CONTEXTS.items():
        if leaf.path[: len(prefix)] == prefix:
            return overrides
    return {}


def spec_with(host: Host, leaf: Leaf, value: str) -> dict[str, Any]:
    """The base spec in the leaf's context, with the leaf set to `value` (in a list or mapping for those leaves)."""
    data = deep_merge(base_spec(host), copy.deepcopy(context(leaf)))  # a copy: a list item is set in place below
    data = _drop_nones(data)
    node: Any = data
    for part in leaf.path[:-1]:
        node = node[part] if isinstance(part, int) else node.setdefault(part, {})  # a list's item: the context's
    node[leaf.path[-1]] = leaf.holding(value)
    return data


def _drop_nones(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _drop_nones(v) if isinstance(v, Mapping) else v for k, v in data.items() if v is not None}


def materialize(host: Host, folder: Path, leaf: Leaf, value: str) -> None:
    """Make `value`, taken as a path from the spec's folder, exist: a spec file for `extends`, else the
    universal folder (model + checkpoint + calibration data + examples). Values that cannot be a path
    (a component over 255 bytes) are left alone: those fields then see a name, not a path."""
    target = folder / value
    try:
        if leaf.path == ("extends",):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("description: the base of a hostile extends\n", encoding="utf-8")
            return
        if leaf.path == ("verify", "throughput", "dataset"):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(BENCH_DATASET, encoding="utf-8")
            return
        target.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    for name in ("config.json", "model.safetensors"):
        shutil.copyfile(host.model / name, target / name)
    shutil.copyfile(host.calib / "train.jsonl", target / "calib.jsonl")
    for relative, standin in EXAMPLE_SCRIPTS.items():
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).unlink(missing_ok=True)
        (target / relative).symlink_to(STANDINS / standin)


def launch_bin(folder: Path) -> Path:
    """probe (the rank's program) and srun, beside render.support's fake mpirun."""
    from render.support import fake_bin

    fake_bin(folder)
    for name, program in (("probe", PROBE), ("srun", FAKE_SRUN)):
        (folder / f"{name}.py").write_text(program, encoding="utf-8")
        (folder / name).write_text(f"#!/bin/sh\nexec {json.dumps(sys.executable)} {json.dumps(str(folder / name))}.py "
                                   '"$@"\n', encoding="utf-8")
        (folder / name).chmod(0o755)
    return folder
