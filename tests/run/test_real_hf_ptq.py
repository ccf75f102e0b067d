"""ModelOpt's real HF-checkpoint export through the hf_ptq.py stand-in, checked against the package's facts.

The tiny Llama (tests/standins/tiny_llama.py: random weights, hidden 256, a local
tokenizer) is quantized on this CPU by the installed ModelOpt, after the stand-in checked
argv against tools/hf_ptq.py.yaml for the ModelOpt release it acts as. hf_quant_config.json
must hold what compiler/catalog/pytorch/quantization.yaml says that qformat writes and the
spec's format and KV dtype mean; the trtllm-serve stand-in must then load the folder, and a compiled
`entrypoint: run` must get one answer from a server of it.
Three ModelOpt processes in all (8-40 s each on two cores, mostly imports).
Select with `pytest -m real`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from compiler.catalog.pytorch_backend import format_route, hf_export_layout, hf_ptq_export, hf_ptq_kv_export, kv_route
from compiler.versions import parse_version

STANDINS = Path(__file__).resolve().parents[1] / "standins"
sys.path.insert(0, str(STANDINS))
import tiny_llama  # noqa: E402

sys.path.remove(str(STANDINS))

MISSING = [m for m in ("torch", "transformers", "modelopt", "safetensors", "tokenizers")
           if importlib.util.find_spec(m) is None]
pytestmark = [
    pytest.mark.real,
    pytest.mark.skipif(bool(MISSING), reason=f"the test extras are not installed ({', '.join(MISSING)} missing): "
                                             "pip install -e '.[test]'"),
]
KNOBS = ("TRTDEPLOY_STANDIN_VERSION", "TRTDEPLOY_STANDIN_MODELOPT_VERSION", "TRTDEPLOY_STANDIN_FAIL",
         "TRTDEPLOY_STANDIN_LOG", "TRTDEPLOY_STANDIN_SERVE_EXIT", "TRTDEPLOY_STANDIN_GPU_SM",
         "TRTDEPLOY_STANDIN_DEVICE", "TRTDEPLOY_STANDIN_CALIB_FILE")


def _env(**knobs: str) -> dict[str, str]:
    # One math thread: as fast for a model this small, and immune to a busy neighbour on a shared machine.
    base = {k: v for k, v in os.environ.items() if k not in KNOBS}
    return base | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"} | knobs


@dataclass(frozen=True)
class Export:
    """One hf_ptq.py stand-in run: its folder, what it printed, and hf_quant_config.json's quantization."""

    folder: Path
    output: str
    quantization: dict[str, object]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tiny-hf")
    return tiny_llama.make(root / "model"), tiny_llama.calibration_lines(root / "calib.txt")


def hf_ptq(tiny: tuple[Path, Path], out: Path, modelopt: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the stand-in as `modelopt`; ModelOpt 0.33 takes dataset names only, so it names one and the
    stand-in calibrates on the local file in its place (TRTDEPLOY_STANDIN_CALIB_FILE)."""
    model, calib = tiny
    dataset = "cnn_dailymail" if modelopt == "0.33.0" else str(calib)
    argv = ["--pyt_ckpt_path", str(model), "--export_path", str(out), "--dataset", dataset, "--calib_size", "8",
            "--batch_size", "4", *args]
    return subprocess.run([sys.executable, str(STANDINS / "hf_ptq.py"), *argv], capture_output=True, text=True,
                          env=_env(TRTDEPLOY_STANDIN_MODELOPT_VERSION=modelopt,
                                   TRTDEPLOY_STANDIN_CALIB_FILE=str(calib)),
                          check=False)


def exported(tiny: tuple[Path, Path], out: Path, modelopt: str, *args: str) -> Export:
    result = hf_ptq(tiny, out, modelopt, *args)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return Export(out, result.stdout, json.loads((out / "hf_quant_config.json").read_text())["quantization"])


@pytest.fixture(scope="module")
def fp8(tiny: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Export:
    """fp8 weights and an fp8 KV cache, as ModelOpt 0.37 (what TensorRT-LLM 1.1 and 1.2 ship) is asked."""
    return exported(tiny, tmp_path_factory.mktemp("fp8") / "ckpt", "0.37.0",
                    "--qformat", "fp8", "--kv_cache_qformat", "fp8")


@pytest.fixture(scope="module")
def int4_awq(tiny: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Export:
    """int4_awq with 64-wide groups and no KV quantization, as ModelOpt 0.33 (TensorRT-LLM 1.0) is asked."""
    return exported(tiny, tmp_path_factory.mktemp("awq") / "ckpt", "0.33.0", "--qformat", "int4_awq",
                    "--awq_block_size", "64", "--kv_cache_qformat", "none", "--export_fmt", "hf")


def test_fp8_export_holds_what_the_facts_say_fp8_with_an_fp8_kv_cache_writes(fp8: Export) -> None:
    route, kv = format_route("fp8", parse_version("1.2.0"), parse_version("0.37.0")), \
        kv_route("fp8", parse_version("1.2.0"), parse_version("0.37.0"))
    assert (route.qformat, kv.qformat) == ("fp8", "fp8")
    facts = hf_ptq_export("fp8", parse_version("0.37.0"))
    assert facts is not None and fp8.quantization["quant_algo"] == route.quant_algo == facts.quant_algo
    assert fp8.quantization["kv_cache_quant_algo"] == kv.quant_algo == "FP8"
    assert "lm_head" in fp8.quantization["exclude_modules"]  # type: ignore[operator]
    config = json.loads((fp8.folder / "config.json").read_text())
    assert config["quantization_config"]["quant_method"] == "modelopt"
    assert {"config.json", "hf_quant_config.json", "model.safetensors", "tokenizer.json"} <= \
        {p.name for p in fp8.folder.iterdir()}
    # One checkpoint whatever tp/pp serves it (quantization.yaml hf_export_layout), unlike the per-rank
    # rank<N>.safetensors of the tensorrt_llm export below.
    assert hf_export_layout(parse_version("0.37.0")).per_rank is False
    assert not [p.name for p in fp8.folder.iterdir() if p.name.startswith("rank")]


def test_int4_awq_export_has_the_groups_asked_for_and_no_kv_quantization(int4_awq: Export) -> None:
    modelopt = parse_version("0.33.0")
    route, kv = format_route("int4_awq", parse_version("1.0.0"), modelopt), kv_route("auto", parse_version("1.0.0"),
                                                                                     modelopt)
    facts = hf_ptq_export("int4_awq", modelopt)
    assert facts is not None and route.qformat == "int4_awq" and kv.qformat == "none"
    assert int4_awq.quantization["quant_algo"] == route.quant_algo == facts.quant_algo == "W4A16_AWQ"
    assert int4_awq.quantization["group_size"] == 64  # --awq_block_size; the facts' 128 is the default
    assert (int4_awq.quantization["has_zero_point"], int4_awq.quantization["pre_quant_scale"]) == \
        (facts.extras["has_zero_point"], facts.extras["pre_quant_scale"])
    assert int4_awq.quantization.get("kv_cache_quant_algo") == hf_ptq_kv_export("none", modelopt).quant_algo is None


def test_modelopt_0_33_writes_a_tensorrt_llm_checkpoint_unless_asked_for_hf(tiny: tuple[Path, Path],
                                                                            tmp_path: Path) -> None:
    # --export_fmt defaults to tensorrt_llm before 0.37: a folder the PyTorch backend cannot load.
    result = hf_ptq(tiny, tmp_path / "ckpt", "0.33.0", "--qformat", "fp8", "--kv_cache_qformat", "none")
    assert result.returncode == 0, result.stderr[-3000:]
    files = {p.name for p in (tmp_path / "ckpt").iterdir()}
    assert "rank0.safetensors" in files and "hf_quant_config.json" not in files
    assert json.loads((tmp_path / "ckpt" / "config.json").read_text())["quantization"]["quant_algo"] == "FP8"


@pytest.mark.parametrize(("gpu_sm", "loads"), [("89", True), ("80", False)])
def test_the_serve_stand_in_loads_the_fp8_export_where_fp8_runs(fp8: Export, tmp_path: Path, gpu_sm: str,
                                                                loads: bool) -> None:
    options = tmp_path / "llm_api_options.yaml"
    options.write_text(yaml.safe_dump({"max_batch_size": 4, "kv_cache_config": {"dtype": "fp8"}}))
    result = subprocess.run([sys.executable, str(STANDINS / "trtllm-serve"), str(fp8.folder), "--config",
                             str(options)], capture_output=True, text=True, check=False,
                            env=_env(TRTDEPLOY_STANDIN_VERSION="1.2.0", TRTDEPLOY_STANDIN_SERVE_EXIT="validated",
                                     TRTDEPLOY_STANDIN_GPU_SM=gpu_sm))
    assert (result.returncode == 0) is loads, result.stderr
    assert ('ModelOpt checkpoint {"exclude_modules"' in result.stdout) is loads


def test_the_serve_stand_in_loads_the_int4_awq_export_on_ampere_not_on_blackwell(int4_awq: Export) -> None:
    def serve(sm: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(STANDINS / "trtllm-serve"), str(int4_awq.folder)],
                              capture_output=True, text=True, check=False,
                              env=_env(TRTDEPLOY_STANDIN_VERSION="1.0.0", TRTDEPLOY_STANDIN_SERVE_EXIT="validated",
                                       TRTDEPLOY_STANDIN_GPU_SM=sm))

    assert serve("80").returncode == 0
    blackwell = serve("100")
    assert blackwell.returncode == 1 and "W4A16_AWQ: not supported on SM 100" in blackwell.stderr


def test_entrypoint_run_asks_a_server_of_the_real_fp8_export(fp8: Export, tiny: tuple[Path, Path],
                                                             tmp_path: Path) -> None:
    """The compiled smoke check, end to end: launch/smoke.sh starts the serve stand-in on ModelOpt's real export
    (checked as the release loads it), sends one completion naming the export's folder and stops the server."""
    import shlex
    import socket

    from click.testing import CliRunner

    from compiler.cli import cli

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    spec = {"name": "tiny-fp8", "model": {"path": str(tiny[0])},
            "quantization": {"format": "fp8", "kv_cache": "fp8", "checkpoint": str(fp8.folder)},
            "limits": {"max_batch_size": 4, "max_input_len": 512, "max_output_len": 64},
            "target": {"gpu": "H100-SXM", "tensorrt_llm": "1.2.0"},
            "launch": {"entrypoint": "run", "serve": {"port": port}, "run": {"input_text": "the model data"}}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    compiled = CliRunner().invoke(cli, ["compile", str(tmp_path / "spec.yaml"), "-o", str(tmp_path / "build")])
    assert compiled.exit_code == 0, compiled.output
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "trtllm-serve").symlink_to(STANDINS / "trtllm-serve")
    (bin_dir / "python3").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    (bin_dir / "python3").chmod(0o755)
    result = subprocess.run(["bash", str(tmp_path / "build" / "launch" / "smoke.sh")], capture_output=True, text=True,
                            check=False, env=_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                                                  TRTDEPLOY_STANDIN_VERSION="1.2.0", TRTDEPLOY_STANDIN_GPU_SM="90",
                                                  TRTDEPLOY_STANDIN_SERVE_EXIT="terminated"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'ModelOpt checkpoint {"exclude_modules"' in result.stdout
    assert f"trtdeploy smoke: {fp8.folder.name} answered" in result.stdout
    assert 'Output: " data model the"' in result.stdout
