"""The emitted launch/mpirun.sh, run for real under Open MPI with 4 ranks on this machine.

`trtdeploy compile` writes the folder; the test runs launch/mpirun.sh as it is,
with the `mpirun` of the test extras (Open MPI 5 from PyPI, found beside
sys.executable). The runtime (examples/run.py) is replaced through
TRTDEPLOY_RANK_ENTRYPOINT by a probe that appends one JSON line per rank: what
the rank's wrapper (launch/rank.sh) gave it. The generated scripts stay as a GPU
cluster needs them; only the environment adapts Open MPI to a 2-core CI machine:

- OMPI_ALLOW_RUN_AS_ROOT(_CONFIRM)=1: CI containers run as root; the emitted
  script already passes --allow-run-as-root, the variables cover older wrappers.
- PRTE_MCA_rmaps_default_mapping_policy=:oversubscribe: 4 ranks on 2 cores
  (Open MPI 5 / PRRTE; Open MPI 4's OMPI_MCA_rmaps_base_oversubscribe=1 is
  ignored by 5.0.11 and mpirun refuses with "not enough slots").
- Two nodes on one machine: a hostfile of two made-up names (the spec's
  launch.hosts) and PRTE_MCA_plm_ssh_agent pointing at a fake ssh that drops the
  host name and runs PRRTE's daemon here. Each "node" then has its own daemon, so
  Open MPI gives each its own local ranks, as on two machines. (Naming the
  machine twice, localhost and 127.0.0.1, does not work: Open MPI 5 resolves both
  to one node and rejects the hostfile.)

Select these tests with `pytest -m real`.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from runkit import make_host

from compiler.cli import cli

BIN = Path(sys.executable).parent
MPIRUN = shutil.which("mpirun", path=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]))
pytestmark = [
    pytest.mark.real,
    pytest.mark.skipif(MPIRUN is None, reason="no mpirun beside sys.executable or on PATH: the test extras install "
                                              "Open MPI (pip install -e '.[test]')"),
]
TIMEOUT_S = 60
INPUT_TEXT = "Hello, it's $HOME; \"quoted\" `not run`"

PROBE = '''\
import json, os, sys
keys = ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE",
        "CUDA_VISIBLE_DEVICES", "TRTDEPLOY_FAKE_NODE", "PMIX_SERVER_URI41")
record = {key: os.environ.get(key) for key in keys}
record.update(argv=sys.argv[1:], cwd=os.getcwd(), pid=os.getpid())
fd = os.open(os.environ["PROBE_OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.write(fd, (json.dumps(record) + "\\n").encode())
os.close(fd)
'''

# What PRRTE's ssh launcher runs: `<agent> [options] <host> <command...>`. The fake one runs the command here,
# with the host's name in TRTDEPLOY_FAKE_NODE so the ranks can say which "node" started them.
FAKE_SSH = '''\
#!/bin/sh
while [ $# -gt 0 ]; do
  case "$1" in
    -o|-p|-l|-i|-F) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
TRTDEPLOY_FAKE_NODE=$1
export TRTDEPLOY_FAKE_NODE
shift
exec /bin/sh -c "$*"
'''


def compile_spec(root: Path, nodes: int = 1, hosts: list[str] | None = None) -> tuple[Path, Path, Path]:
    """A tp 2 x pp 2 spec (world size 4) compiled with the real planner; (build folder, model, examples)."""
    host = make_host(root / "host")
    lines = [
        "name: tiny-launch",
        "model:", f"  path: {host.model}",
        "parallelism:", "  tp: 2", "  pp: 2",
        "limits:", "  max_batch_size: 4", "  max_input_len: 256", "  max_output_len: 256",
        "target:", "  gpu: H100-SXM", f"  gpus_per_node: {4 // nodes}", f"  nodes: {nodes}", '  tensorrt_llm: "0.16.0"',
        "launch:", "  launcher: mpirun", "  run:", f"    input_text: {json.dumps(INPUT_TEXT)}",
    ]
    if hosts:
        lines.append(f"  hosts: [{', '.join(hosts)}]")
    spec = root / "spec.yaml"
    spec.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = root / "out"
    result = CliRunner().invoke(cli, ["compile", str(spec), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out, host.model, host.examples


def probe_program(root: Path) -> Path:
    (root / "probe.py").write_text(PROBE, encoding="utf-8")
    wrapper = root / "probe"
    wrapper.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(root / 'probe.py'))} \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper


def launch(out: Path, root: Path, examples: Path, **extra: str) -> list[dict[str, object]]:
    """Run launch/mpirun.sh; the probe's records, one per rank."""
    records = root / "ranks.jsonl"
    records.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PRTE_", "PMIX_", "TRTDEPLOY_"))}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env.update(
        PATH=os.pathsep.join([str(BIN), env.get("PATH", "")]),
        OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        TRTDEPLOY_RANK_ENTRYPOINT=str(probe_program(root)), TRTDEPLOY_EXAMPLES_DIR=str(examples),
        PROBE_OUT=str(records), **extra,
    )
    proc = subprocess.Popen(["bash", str(out / "launch" / "mpirun.sh")], cwd=root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"mpirun did not finish in {TIMEOUT_S} s:\n{output}")
    assert proc.returncode == 0, output
    return [json.loads(line) for line in records.read_text().splitlines()] if records.exists() else []


def expected_argv(out: Path, model: Path, examples: Path) -> list[str]:
    """The rank argv of plan.json after the program (python3), with the variables as rank.sh defines them."""
    argv = json.loads((out / "plan.json").read_text())["launch"]["rank_argv"]
    words = [a.replace("${EXAMPLES_DIR}", str(examples)).replace("${MODEL_DIR}", str(model)) for a in argv]
    return words[1:]


def check_ranks(records: list[dict[str, object]], out: Path, model: Path, examples: Path, local_size: int,
                bound: bool = False) -> None:
    assert len(records) == 4, records
    assert sorted(int(r["OMPI_COMM_WORLD_RANK"]) for r in records) == [0, 1, 2, 3]  # type: ignore[arg-type]
    argv = expected_argv(out, model, examples)
    assert argv[0] == f"{examples}/run.py" and "--engine_dir" in argv and INPUT_TEXT in argv
    for r in records:
        assert r["OMPI_COMM_WORLD_SIZE"] == "4" and r["OMPI_COMM_WORLD_LOCAL_SIZE"] == str(local_size), r
        # TensorRT-LLM picks device rank % gpus_per_node itself: rank.sh leaves the devices alone unless asked.
        assert r["CUDA_VISIBLE_DEVICES"] == (r["OMPI_COMM_WORLD_LOCAL_RANK"] if bound else None), r
        assert r["argv"] == argv, r  # engine folder, tokenizer folder and the input text arrive intact
        assert r["cwd"] == str(out)  # rank.sh runs in the build folder, where the engine path is relative to


def test_mpirun_script_starts_four_ranks_and_binds_gpus_only_when_asked(tmp_path: Path) -> None:
    out, model, examples = compile_spec(tmp_path)
    script = (out / "launch" / "mpirun.sh").read_text()
    assert "--oversubscribe" not in script and "--hostfile" not in script and "-n 4" in script
    records = launch(out, tmp_path, examples, PRTE_MCA_rmaps_default_mapping_policy=":oversubscribe")
    check_ranks(records, out, model, examples, local_size=4)
    records = launch(out, tmp_path, examples, PRTE_MCA_rmaps_default_mapping_policy=":oversubscribe",
                     TRTDEPLOY_BIND_GPU="1")
    check_ranks(records, out, model, examples, local_size=4, bound=True)
    # Open MPI 5 numbers local ranks its own way when oversubscribed (rank 1 may be local rank 2), which is
    # why a bound rank.sh uses OMPI_COMM_WORLD_LOCAL_RANK and never computes rank % ranks_per_node.
    assert sorted(int(r["OMPI_COMM_WORLD_LOCAL_RANK"]) for r in records) == [0, 1, 2, 3]  # type: ignore[arg-type]


def test_mpirun_script_spreads_ranks_over_two_nodes(tmp_path: Path) -> None:
    out, model, examples = compile_spec(tmp_path, nodes=2, hosts=["node-a", "node-b"])
    assert (out / "launch" / "hostfile").read_text().splitlines()[1:] == ["node-a slots=2", "node-b slots=2"]
    fake_ssh = tmp_path / "fake-ssh"
    fake_ssh.write_text(FAKE_SSH)
    fake_ssh.chmod(0o755)
    records = launch(out, tmp_path, examples, PRTE_MCA_plm_ssh_agent=str(fake_ssh))
    check_ranks(records, out, model, examples, local_size=2)
    by_node: dict[str, list[tuple[int, int]]] = {}
    for r in records:
        by_node.setdefault(str(r["TRTDEPLOY_FAKE_NODE"]), []).append(
            (int(r["OMPI_COMM_WORLD_RANK"]), int(r["OMPI_COMM_WORLD_LOCAL_RANK"])))  # type: ignore[arg-type]
    # by slot: ranks 0-1 fill node-a, 2-3 node-b, and each node numbers its ranks 0, 1 (so GPUs 0, 1)
    assert {node: sorted(ranks) for node, ranks in by_node.items()} == {"node-a": [(0, 0), (1, 1)],
                                                                        "node-b": [(2, 0), (3, 1)]}
    daemons = {str(r["PMIX_SERVER_URI41"]).split(";")[0] for r in records}
    assert len(daemons) == 2  # two PRRTE daemons, one per "node", as with two machines


def test_hostfile_can_be_replaced_at_launch_time(tmp_path: Path) -> None:
    """TRTDEPLOY_HOSTFILE swaps the compiled hostfile: here one line, `localhost slots=4`, runs all 4 ranks."""
    out, model, examples = compile_spec(tmp_path, nodes=2, hosts=["node-a", "node-b"])
    hostfile = tmp_path / "one-node"
    hostfile.write_text("localhost slots=4\n")
    # 4 slots on 2 cores: Open MPI 5 then refuses its default binding to cores ("binding more processes than
    # cpus"), so the binding policy is relaxed, again from the environment.
    records = launch(out, tmp_path, examples, TRTDEPLOY_HOSTFILE=str(hostfile),
                     PRTE_MCA_hwloc_default_binding_policy="none")
    check_ranks(records, out, model, examples, local_size=4)
    assert {r["TRTDEPLOY_FAKE_NODE"] for r in records} == {None}
