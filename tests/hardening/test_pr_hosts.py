"""Issue 10, item 6: a host name starting with '-' never reaches ssh as an option through launch/hostfile.

mpirun starts remote ranks with ssh, giving it each hostfile name as the host argument; `-lroot`,
`-L9999:localhost:22` or `-oProxyCommand=...` would be options there. P104 refuses such names (and Slurm
partitions and accounts starting with '-', written into #SBATCH lines); the renderer refuses them again,
so a plan that got past the rules still cannot write one.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from compiler.pipeline import check_spec
from compiler.render import render_hostfile, render_sbatch
from plan.support import plan_spec, write_spec

DASHED = ["-lroot", "-L9999:localhost:22", "-Jjump.example.com", "-oProxyCommand=id", "--help", "-", "-6",
          "-Fconfig", "-i/root/.ssh/id_rsa", "-R0:localhost:22", "-W/tmp/x", "--", "-vvv"]


@pytest.mark.parametrize("host", DASHED)
def test_p104_refuses_a_host_starting_with_a_dash(tmp_path: Path, host: str) -> None:
    spec = write_spec(tmp_path, {"target": {"nodes": 2, "gpus_per_node": 8}, "parallelism": {"tp": 8, "pp": 2},
                                 "launch": {"launcher": "mpirun", "hosts": ["node-a", host]}})
    findings = [(f.code, f.key) for f in check_spec(spec).findings if f.severity.value == "error"]
    assert findings == [("P104", "launch.hosts.1")]


@pytest.mark.parametrize("value", DASHED)
@pytest.mark.parametrize("key", ["partition", "account"])
def test_p104_refuses_a_slurm_name_starting_with_a_dash(tmp_path: Path, key: str, value: str) -> None:
    spec = write_spec(tmp_path, {"launch": {"launcher": "slurm", "slurm": {key: value}}})
    findings = [(f.code, f.key) for f in check_spec(spec).findings if f.severity.value == "error"]
    assert findings == [("P104", f"launch.slurm.{key}")]


@pytest.mark.parametrize("host", DASHED)
def test_the_renderer_refuses_a_dashed_host_that_got_past_the_rules(tmp_path: Path, host: str) -> None:
    plan = plan_spec(tmp_path, {"target": {"nodes": 2, "gpus_per_node": 8}, "parallelism": {"tp": 8, "pp": 2},
                                "launch": {"launcher": "mpirun", "hosts": ["node-a", "node-b"]}})
    assert "node-b slots=8" in render_hostfile(plan)
    forged = dataclasses.replace(plan, launch=dataclasses.replace(plan.launch, hosts=("node-a", host)))
    with pytest.raises(ValueError, match="not a plain value"):
        render_hostfile(forged)


@pytest.mark.parametrize("value", DASHED)
def test_the_renderer_refuses_a_dashed_sbatch_value_that_got_past_the_rules(tmp_path: Path, value: str) -> None:
    plan = plan_spec(tmp_path, {"launch": {"launcher": "slurm", "slurm": {"partition": "gpu"}}})
    assert "#SBATCH --partition=gpu" in render_sbatch(plan)
    options = tuple((k, value if k == "--partition" else v) for k, v in plan.launch.sbatch)
    forged = dataclasses.replace(plan, launch=dataclasses.replace(plan.launch, sbatch=options))
    with pytest.raises(ValueError, match="not a plain value"):
        render_sbatch(forged)
