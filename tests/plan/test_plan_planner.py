"""Planner decisions per release line: example folders, plugin forms, runtime flags, launchers, and their reasons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compiler.plan.model import EXAMPLES_DIR, Plan, Var
from plan.support import flag_value, plan_spec, text


def decision(plan: Plan, topic: str) -> str:
    found = [f"{d.choice} | {d.reason}" for d in plan.decisions if d.topic == topic]
    assert found, [d.topic for d in plan.decisions]
    return found[0]


def topics(plan: Plan) -> set[str]:
    return {d.topic for d in plan.decisions}


@pytest.mark.parametrize(("model", "release", "folder"), [
    ("llama-2-7b", "0.8.0", "/llama/"), ("llama-2-7b", "0.16.0", "/llama/"), ("llama-2-7b", "1.2.0", "/models/core/llama/"),
    ("qwen2-7b", "1.2.0", "/models/core/qwen/"), ("falcon-7b", "1.2.0", "/models/contrib/falcon/"),
    ("baichuan2-7b", "0.16.0", "/baichuan/"),
])
def test_convert_script_lives_in_the_family_folder_of_the_line(tmp_path: Path, model: str, release: str,
                                                               folder: str) -> None:
    plan = plan_spec(tmp_path, {"model": {"name": model}, "quantization": {"format": "int8_wo"},
                                "target": {"tensorrt_llm": release, "backend": "tensorrt"}})
    script = plan.step("convert").argv[1]
    assert isinstance(script, Var) and script.name == EXAMPLES_DIR
    assert script.suffix == f"{folder}convert_checkpoint.py"


def test_examples_dir_from_the_spec(tmp_path: Path) -> None:
    assert plan_spec(tmp_path, {"target": {"examples_dir": "/opt/trt/examples"}}).variables[EXAMPLES_DIR] == \
        "/opt/trt/examples"
    assert plan_spec(tmp_path, {"target": {"examples_dir": "ex"}}, name="rel.yaml").variables[EXAMPLES_DIR] == "./ex"


def test_custom_all_reduce_on_the_0_8_line(tmp_path: Path) -> None:
    a10 = {"target": {"gpu": "A10", "tensorrt_llm": "0.8.0"}}
    plan = plan_spec(tmp_path, a10)
    assert flag_value(plan.step("build").argv, "--use_custom_all_reduce") == "disable"
    assert "no NVLink" in decision(plan, "plugins.use_custom_all_reduce")
    explicit = plan_spec(tmp_path, a10, {"plugins": {"use_custom_all_reduce": "enable"}}, name="e.yaml")
    assert flag_value(explicit.step("build").argv, "--use_custom_all_reduce") == "enable"
    later = plan_spec(tmp_path, {"plugins": {"use_custom_all_reduce": "disable"}}, name="l.yaml")
    assert flag_value(later.step("build").argv, "--use_custom_all_reduce") is None
    assert "runtime" in decision(later, "plugins.use_custom_all_reduce")


@pytest.mark.parametrize(("release", "build_form", "run_form"), [
    ("0.8.0", ["--use_fused_mlp", "--multi_block_mode", "enable"], None),
    ("0.16.0", ["--use_fused_mlp", "enable"], "True"),
    ("1.2.0", ["--use_fused_mlp", "enable"], "True"),
])
def test_flags_that_changed_form(tmp_path: Path, release: str, build_form: list[str], run_form: str | None) -> None:
    plan = plan_spec(tmp_path, {"plugins": {"use_fused_mlp": "enable", "multi_block_mode": "enable"},
                                "target": {"tensorrt_llm": release, "backend": "tensorrt"}})
    build = text(plan.step("build").argv)
    start = build.index("--use_fused_mlp")
    assert build[start:start + len(build_form)] == build_form
    assert flag_value(plan.launch.rank_argv, "--multi_block_mode") == run_form


def test_defaults_of_the_line_are_left_alone_unless_set(tmp_path: Path) -> None:
    build = text(plan_spec(tmp_path, {}).step("build").argv)
    for flag in ("--use_fused_mlp", "--tokens_per_block", "--use_paged_context_fmha", "--multi_block_mode"):
        assert flag not in build
    set_ = plan_spec(tmp_path, {"plugins": {"tokens_per_block": 64}}, name="t.yaml")
    assert flag_value(set_.step("build").argv, "--tokens_per_block") == "64"


def test_plugin_dtype_auto_becomes_the_model_dtype_on_0_8(tmp_path: Path) -> None:
    plan = plan_spec(tmp_path, {"model": {"dtype": "bfloat16"}, "target": {"tensorrt_llm": "0.9.0"}})
    build = plan.step("build").argv
    assert flag_value(build, "--gpt_attention_plugin") == flag_value(build, "--gemm_plugin") == "bfloat16"
    assert "0.9.0 has no 'auto', so it becomes the model dtype" in decision(plan, "plugins.gemm")
    assert "0.9.0 has no 'auto', so it becomes the model dtype" in decision(plan, "plugins.gpt_attention")


# The 1.x builder keeps paged context FMHA with an fp8 KV cache on SM89 too (builder.py @ 008b2b8d), for FP8
# checkpoints; other formats lose it.
@pytest.mark.parametrize(("fmt", "gpu", "disabled"), [("int4_awq", "H100-SXM", True), ("fp8", "H100-SXM", False),
                                                      ("fp8", "L40S", False), ("int4_awq", "L40S", True)])
def test_fp8_kv_paged_context_fmha_on_1x(tmp_path: Path, fmt: str, gpu: str, disabled: bool) -> None:
    plan = plan_spec(tmp_path, {"quantization": {"format": fmt, "kv_cache": "fp8", "calibration": {}},
                                "target": {"gpu": gpu, "tensorrt_llm": "1.2.0", "backend": "tensorrt"}})
    value = flag_value(plan.step("build").argv, "--use_paged_context_fmha")
    assert value == ("disable" if disabled else None)


def test_auto_format_is_a_decision(tmp_path: Path) -> None:
    plan = plan_spec(tmp_path, {"quantization": {"format": "auto", "calibration": {}}, "limits": {"max_batch_size": 32}})
    assert plan.resolved["format"] == "fp8"
    assert decision(plan, "quantization.format").startswith("fp8 | auto picked fp8")


def test_smoothquant_calibrates_on_convert_from_0_12(tmp_path: Path) -> None:
    sq = {"quantization": {"format": "int8_sq", "smoothquant_alpha": 0.7, "calibration": {"samples": 64}},
          "target": {"gpu": "A100-SXM-80GB"}}
    convert = plan_spec(tmp_path, sq).step("convert").argv
    assert flag_value(convert, "--smoothquant") == "0.7" and "--per_channel" in text(convert)
    assert flag_value(convert, "--calib_dataset") == "ccdv/cnn_dailymail"
    assert flag_value(convert, "--calib_size") == "64"
    old = plan_spec(tmp_path, sq, {"target": {"tensorrt_llm": "0.10.0"}}, name="old.yaml")
    assert flag_value(old.step("convert").argv, "--calib_size") is None
    assert "for samples (64), seq_len (512), seed (1234) it uses its built-in choice" in decision(old, "calibration")


def test_an_awq_checkpoint_is_converted_directly(tmp_path: Path) -> None:
    plan = plan_spec(tmp_path, {"quantization": {"format": "int4_awq", "checkpoint": "/ckpt/awq", "group_size": 64},
                                "target": {"gpu": "A100-SXM-80GB"}})
    convert = plan.step("convert").argv
    assert [s.id for s in plan.steps] == ["convert", "build"]
    assert flag_value(convert, "--model_dir") == "/ckpt/awq"
    assert flag_value(convert, "--weight_only_precision") == "int4_awq" and flag_value(convert, "--group_size") == "64"


LAUNCHERS: dict[str, dict[str, Any]] = {
    "serve": {"launch": {"entrypoint": "serve", "serve": {"port": 9000}}, "target": {"tensorrt_llm": "1.2.0", "backend": "tensorrt"}},
    "kubernetes": {"launch": {"launcher": "kubernetes", "entrypoint": "serve",
                              "kubernetes": {"model": {"claim": "models"}, "build_dir": {"claim": "builds"}}},
                   "target": {"tensorrt_llm": "1.2.0", "backend": "tensorrt"}},
}


def test_serve_on_1x(tmp_path: Path) -> None:
    plan = plan_spec(tmp_path, LAUNCHERS["serve"])
    rank = text(plan.launch.rank_argv)
    # One process on one node: the LLM API starts the engine's workers itself (no trtllm-llmapi-launch).
    assert rank[:4] == ["trtllm-serve", plan.launch.engine_dir, "--backend", "tensorrt"]
    assert flag_value(rank, "--port") == "9000" and flag_value(rank, "--tokenizer") == "${MODEL_DIR}"
    assert flag_value(rank, "--tp_size") == "1" and flag_value(rank, "--pp_size") == "1"


@pytest.mark.parametrize(("release", "name"), [("1.0.0", "trt"), ("1.1.0", "tensorrt"), ("1.2.0", "tensorrt")])
def test_serve_names_the_engine_path_as_the_release_spells_it(tmp_path: Path, release: str, name: str) -> None:
    # trtllm-serve 1.0 offers --backend pytorch|trt; tensorrt came with 1.1 (PR #7829).
    plan = plan_spec(tmp_path, LAUNCHERS["serve"], {"target": {"tensorrt_llm": release}})
    assert flag_value(plan.launch.rank_argv, "--backend") == name


def test_kubernetes_writes_the_manifests_and_the_pod_runs_the_server_itself(tmp_path: Path) -> None:
    plan = plan_spec(tmp_path, LAUNCHERS["kubernetes"])
    assert plan.launch.files == {"launch/kubernetes.yaml": "text"}  # no rank.sh: the pod's command is the server
    assert plan.launch.script == "launch/kubernetes.yaml"
    assert text(plan.launch.argv)[:4] == ["trtllm-serve", plan.launch.engine_dir, "--backend", "tensorrt"]
    assert decision(plan, "launch.kubernetes").startswith("a Deployment of 1 pod(s) x 1 GPUs")


def test_a_separate_tokenizer_is_used_by_the_launch(tmp_path: Path) -> None:
    plan = plan_spec(tmp_path, {"model": {"path": "/m", "tokenizer": "/tok"}})
    assert flag_value(plan.launch.rank_argv, "--tokenizer_dir") == "/tok"
    assert "TRTDEPLOY_MODEL_DIR" not in plan.launch.env_passthrough


def test_the_lock_file_records_the_resolved_spec(tmp_path: Path) -> None:
    plan = plan_spec(tmp_path, {"model": {"path": "/models/llama"}, "launch": {"env": ["HF_TOKEN"]}})
    doc = plan.to_json()
    resolved = doc["resolved"]
    assert isinstance(resolved, dict)
    assert resolved["model"]["dir"] == "/models/llama" and resolved["gpu"]["sm"] == 90
    assert resolved["spec"]["launch"]["env"] == ["HF_TOKEN"]
    assert doc["variables"] == {"EXAMPLES_DIR": {"env": "TRTDEPLOY_EXAMPLES_DIR", "default": "/app/tensorrt_llm/examples"},
                                "MODEL_DIR": {"env": "TRTDEPLOY_MODEL_DIR", "default": "/models/llama"}}


PYTORCH_RUN = {"model": {"name": "llama-2-7b", "path": "/models/llama-2-7b"}, "quantization": {"format": "none"},
               "target": {"tensorrt_llm": "1.2.0", "backend": "pytorch"}, "launch": {"entrypoint": "run"}}


@pytest.mark.parametrize(("layout", "client_host", "script", "starts"), [
    ({}, "127.0.0.1", "launch/smoke.sh", ["bash"]),
    ({"launch": {"serve": {"host": "::"}}}, "::1", "launch/smoke.sh", ["bash"]),
    ({"launch": {"serve": {"host": "10.0.0.5"}}}, "10.0.0.5", "launch/smoke.sh", ["bash"]),
    # Across nodes mpirun puts rank 0, the server, on the hostfile's first node.
    ({"parallelism": {"tp": 8, "pp": 2}, "target": {"nodes": 2}, "launch": {"hosts": ["node-a", "node-b"]}},
     "node-a", "launch/smoke.sh", ["mpirun", "-n", "16"]),
    # A Slurm batch script runs on the allocation's first node, where srun puts rank 0.
    ({"parallelism": {"tp": 8, "pp": 2}, "target": {"nodes": 2}, "launch": {"launcher": "slurm"}},
     "127.0.0.1", "launch/slurm.sbatch", ["srun", "--mpi=pmix"]),
])
def test_run_on_the_pytorch_backend_asks_the_server_it_starts(tmp_path: Path, layout: dict[str, Any], client_host: str,
                                                              script: str, starts: list[str]) -> None:
    plan = plan_spec(tmp_path, PYTORCH_RUN, layout)
    argv = text(plan.launch.argv)
    at = argv.index("--")
    assert argv[:2] == ["python3", "${BUILD_DIR}/launch/smoke.py"] and argv[at + 1:at + 1 + len(starts)] == starts
    assert argv[-2:] == ["bash", "${BUILD_DIR}/launch/rank.sh"]
    client = argv[:at]
    assert flag_value(client, "--host") == client_host and flag_value(client, "--port") == "8000"
    assert flag_value(client, "--model") == plan.launch.engine_dir == "${MODEL_DIR}"
    assert (flag_value(client, "--prompt"), flag_value(client, "--max_tokens")) == ("Hello, my name is", "64")
    assert plan.launch.script == script and plan.launch.files["launch/smoke.py"] == "smoke"
    assert text(plan.launch.rank_argv)[:3] in (["trtllm-serve", "${MODEL_DIR}", "--backend"],
                                               ["trtllm-llmapi-launch", "trtllm-serve", "${MODEL_DIR}"])
    assert decision(plan, "launch.run").startswith("GET /health until 200, then one POST /v1/completions")


def test_run_on_the_engine_path_of_1x_stays_run_py_on_every_rank(tmp_path: Path) -> None:
    plan = plan_spec(tmp_path, {"target": {"tensorrt_llm": "1.2.0", "backend": "tensorrt"}, "parallelism": {"tp": 2}})
    assert text(plan.launch.rank_argv)[:2] == ["python3", "${EXAMPLES_DIR}/run.py"]
    assert text(plan.launch.argv)[:3] == ["mpirun", "-n", "2"] and "launch/smoke.py" not in plan.launch.files


@pytest.mark.parametrize(("launcher", "wrapped"), [("slurm", True), ("mpirun", False)])
def test_one_node_of_llm_api_ranks_is_wrapped_under_slurm_only(tmp_path: Path, launcher: str, wrapped: bool) -> None:
    # srun starts one task per GPU (TensorRT-LLM's Slurm examples, -N 1 --ntasks-per-node=2, wrap each in
    # trtllm-llmapi-launch); mpirun's one process lets the LLM API spawn its workers.
    plan = plan_spec(tmp_path, PYTORCH_RUN, {"parallelism": {"tp": 2}, "launch": {"launcher": launcher,
                                                                                  "entrypoint": "serve"}})
    rank = text(plan.launch.rank_argv)
    assert (rank[0] == "trtllm-llmapi-launch") is wrapped and rank[int(wrapped)] == "trtllm-serve"
    assert decision(plan, "launch.ranks").startswith("world size 2: 2 per node" if wrapped else "one trtllm-serve")
