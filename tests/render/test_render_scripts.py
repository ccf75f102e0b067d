"""The emitted scripts: shellcheck-clean, bash-parsable, and they run what the plan says, rank wrapper included."""

from __future__ import annotations

import py_compile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from compiler.plan.model import BUILD_DIR, EXAMPLES_DIR, HOSTFILE, MODEL_DIR, STEP_OUT
from plan.support import DATA, expand, gptq_script, plan_file, plan_spec, text, tool_args
from render.support import bash_syntax, clean_env, compile_plan, fake_bin, run_script, scripts, shellcheck

CASES: dict[str, dict[str, Any]] = {
    "single-gpu": {"quantization": {"format": "fp8", "calibration": {}}, "model": {"path": "/models/llama"}},
    "tp2-pp2": {"quantization": {"format": "int8_wo"}, "parallelism": {"tp": 2, "pp": 2},
                "target": {"tensorrt_llm": "0.8.0", "gpu": "A10", "gpus_per_node": 4}},
    "two-node-mpirun": {"parallelism": {"tp": 4, "pp": 2}, "launch": {"hosts": ["node-a", "node-b"], "env": ["HF_TOKEN"]},
                        "target": {"nodes": 2, "gpus_per_node": 4}},
    "gptq": {"quantization": {"format": "int4_gptq", "calibration": {"dataset": "wikitext2"}},
             "target": {"gpu": "A100-SXM-80GB", "tensorrt_llm": "1.2.0"}},
    "serve": {"launch": {"entrypoint": "serve"}, "target": {"tensorrt_llm": "1.2.0"}},
    "kubernetes": {"launch": {"launcher": "kubernetes", "entrypoint": "serve",
                              "kubernetes": {"model": {"claim": "models"}, "build_dir": {"claim": "builds"}}},
                   "target": {"tensorrt_llm": "1.2.0"}},
    "pytorch-run": {"launch": {"entrypoint": "run", "run": {"input_text": "-it's $HOME"}},
                    "quantization": {"format": "none"}, "target": {"tensorrt_llm": "1.2.0", "backend": "pytorch"}},
    "kubernetes-pytorch": {"launch": {"launcher": "kubernetes", "entrypoint": "serve",
                                      "kubernetes": {"model": {"claim": "models"}, "build_dir": {"claim": "builds"}}},
                           "target": {"tensorrt_llm": "1.2.0", "backend": "pytorch"}},
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compiled")
    out = {name: compile_plan(plan_spec(root / "specs", case, name=f"{name}.yaml"), root / name)
           for name, case in CASES.items()}
    out["slurm"] = compile_plan(plan_file(DATA / "llama-7b-gptq-tp2-slurm.yaml"), root / "slurm")
    return out


def test_every_script_passes_shellcheck_and_bash_n(folders: dict[str, Path]) -> None:
    every = [script for folder in folders.values() for script in scripts(folder)]
    assert len(every) >= 20
    result = shellcheck(every)
    assert result.returncode == 0, result.stdout + result.stderr
    for script in every:
        assert bash_syntax(script).returncode == 0, script


def test_launch_files_per_launcher(folders: dict[str, Path]) -> None:
    names = {name: sorted(p.name for p in (folder / "launch").iterdir()) for name, folder in folders.items()}
    assert names["single-gpu"] == ["mpirun.sh", "rank.sh"]
    assert names["two-node-mpirun"] == ["hostfile", "mpirun.sh", "rank.sh"]
    assert names["slurm"] == ["rank.sh", "slurm.sbatch"]
    # Kubernetes' pods run trtllm-serve themselves: no rank.sh; the PyTorch backend's LLM-API YAML beside the manifests.
    assert names["kubernetes"] == ["kubernetes.yaml"]
    assert names["kubernetes-pytorch"] == ["kubernetes.yaml", "llm_api_options.yaml"]
    # entrypoint run on the PyTorch backend: the smoke client in front of the one trtllm-serve process.
    assert names["pytorch-run"] == ["llm_api_options.yaml", "rank.sh", "smoke.py", "smoke.sh"]
    hostfile = (folders["two-node-mpirun"] / "launch" / "hostfile").read_text(encoding="utf-8").splitlines()
    assert hostfile[1:] == ["node-a slots=4", "node-b slots=4"]
    sbatch = (folders["slurm"] / "launch" / "slurm.sbatch").read_text(encoding="utf-8")
    for line in ("#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=2", "#SBATCH --partition=gpu", "#SBATCH --account=llm",
                 "#SBATCH --time=01:00:00", "  --container-image=nvcr.io/nvidia/tritonserver:24.11-trtllm-python-py3"):
        assert line in sbatch


def test_gptq_script_is_python_and_takes_the_step_argv(folders: dict[str, Path]) -> None:
    folder = folders["gptq"]
    script = folder / "steps" / "gptq_quantize.py"
    py_compile.compile(str(script), doraise=True)
    step = plan_file(next((folder.parent / "specs").glob("gptq.yaml"))).step("gptq")
    args = gptq_script().parse_args(tool_args(step.argv))
    assert (args.bits, args.group_size, args.desc_act, args.dataset) == (4, 128, False, "wikitext2")


def test_smoke_client_is_python_and_takes_the_launch_argv(folders: dict[str, Path], tmp_path: Path) -> None:
    folder = folders["pytorch-run"]
    script = folder / "launch" / "smoke.py"
    py_compile.compile(str(script), doraise=True, cfile=str(tmp_path / "smoke.pyc"))
    module = ModuleType("rendered_smoke")
    exec(compile(script.read_text(encoding="utf-8"), str(script), "exec"), module.__dict__)
    plan = plan_file(folder.parent / "specs" / "pytorch-run.yaml")
    values = _values(dict(plan.variables), **{MODEL_DIR: "/m", BUILD_DIR: str(folder)})
    args, command = module.parse_args(expand(plan.launch.argv, values)[2:])
    assert (args.host, args.port, args.model, args.prompt, args.max_tokens) == ("127.0.0.1", 8000, "/m", "-it's $HOME",
                                                                               64)
    assert command == ["bash", f"{folder}/launch/rank.sh"]
    assert module.served_name(str(tmp_path)) == tmp_path.name and module.served_name("org/model") == "org/model"


def test_gptq_script_reads_local_calibration_files(tmp_path: Path) -> None:
    module = gptq_script()
    (tmp_path / "a.txt").write_text("first line\n\nsecond line\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text('{"text": "third"}\n"fourth"\n', encoding="utf-8")
    assert module.calibration_texts(str(tmp_path), 10, 0) == ["first line", "second line", "third", "fourth"]
    picked = module.calibration_texts(str(tmp_path), 2, 7)
    assert len(picked) == 2 and picked == module.calibration_texts(str(tmp_path), 2, 7)


def _values(plan_variables: dict[str, str | None], **more: str) -> dict[str, str]:
    return {**{k: v for k, v in plan_variables.items() if v is not None}, **more}


@pytest.mark.parametrize("case", ["single-gpu", "gptq"])
def test_step_scripts_run_the_planned_argv(folders: dict[str, Path], case: str, tmp_path: Path) -> None:
    folder = folders[case]
    plan = plan_file(folder.parent / "specs" / f"{case}.yaml")
    env = clean_env(tmp_path, fake_bin(tmp_path / "bin"), TRTDEPLOY_MODEL_DIR="/m", STEP_OUT=str(tmp_path / "out"))
    for step in plan.steps:
        assert step.script is not None
        printed = run_script(folder / step.script, env)
        values = _values(dict(plan.variables), **{MODEL_DIR: "/m", STEP_OUT: str(tmp_path / "out")})
        assert printed == expand(step.argv, values)[1:]
        assert (tmp_path / "out").is_dir()


def test_rank_wrapper_leaves_gpus_to_the_runtime_and_honours_the_probe(folders: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    # TensorRT-LLM selects device rank % gpus_per_node itself, so the devices stay as the scheduler set them.
    folder = folders["two-node-mpirun"]
    plan = plan_file(folder.parent / "specs" / "two-node-mpirun.yaml")
    bin_dir = fake_bin(tmp_path / "bin")
    values = _values(dict(plan.variables), **{MODEL_DIR: "/m"})
    expected = expand(plan.launch.rank_argv, values)[1:]
    for variable, rank in (("OMPI_COMM_WORLD_LOCAL_RANK", "3"), ("SLURM_LOCALID", "2"), ("MPI_LOCALRANKID", "1")):
        env = clean_env(tmp_path, bin_dir, TRTDEPLOY_MODEL_DIR="/m", TRTDEPLOY_RANK_ENTRYPOINT=str(bin_dir / "probe"),
                        CUDA_VISIBLE_DEVICES="0,1,2,3", **{variable: rank})
        assert run_script(folder / "launch" / "rank.sh", env) == ["0,1,2,3", *expected]
        env["TRTDEPLOY_BIND_GPU"] = "1"  # asked for: each rank sees its local GPU only
        assert run_script(folder / "launch" / "rank.sh", env) == [rank, *expected]
    env = clean_env(tmp_path, bin_dir, TRTDEPLOY_MODEL_DIR="/m", TRTDEPLOY_RANK_ENTRYPOINT=str(bin_dir / "probe"))
    assert run_script(folder / "launch" / "rank.sh", env)[0] is None


def test_mpirun_script_starts_one_rank_per_gpu(folders: dict[str, Path], tmp_path: Path) -> None:
    folder = folders["two-node-mpirun"]
    plan = plan_file(folder.parent / "specs" / "two-node-mpirun.yaml")
    bin_dir = fake_bin(tmp_path / "bin")
    env = clean_env(tmp_path, bin_dir, TRTDEPLOY_MODEL_DIR="/m", TRTDEPLOY_RANK_ENTRYPOINT=str(bin_dir / "probe"),
                    HF_TOKEN="secret")
    printed = run_script(folder / "launch" / "mpirun.sh", env)
    values = {BUILD_DIR: str(folder), HOSTFILE: "launch/hostfile", EXAMPLES_DIR: "unused"}
    assert printed[0] == expand(plan.launch.argv, values)[1:]
    assert text(plan.launch.argv)[:3] == ["mpirun", "-n", "8"] and "HF_TOKEN" in text(plan.launch.argv)
    ranks = printed[1:]
    per_rank = len(plan.launch.rank_argv)  # the GPU line plus every argument after the program
    gpus = [ranks[i] for i in range(0, len(ranks), per_rank)]
    assert gpus == [None] * 8  # every rank keeps the devices it was started with
    assert "secret" not in (folder / "launch" / "mpirun.sh").read_text(encoding="utf-8")


def test_no_model_path_means_the_environment_must_give_it(folders: dict[str, Path], tmp_path: Path) -> None:
    folder = folders["gptq"]  # its spec names the model only from the catalog
    plan = plan_file(folder.parent / "specs" / "gptq.yaml")
    assert plan.variables[MODEL_DIR] is None
    script = folder / "steps" / "01-gptq.sh"
    assert "MODEL_DIR=${TRTDEPLOY_MODEL_DIR:?set TRTDEPLOY_MODEL_DIR to the model folder}" in script.read_text()
    import subprocess

    result = subprocess.run(["bash", str(script)], capture_output=True, text=True,
                            env=clean_env(tmp_path, fake_bin(tmp_path / "bin")), timeout=30)
    assert result.returncode != 0 and "set TRTDEPLOY_MODEL_DIR" in result.stderr
