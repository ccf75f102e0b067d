"""`trtdeploy build` with the quantize steps run for real on a CPU: ModelOpt and GPTQModel on a tiny local Llama.

The model is made here (tests/standins/tiny_llama.py: random weights, 2 layers,
hidden 256, a local tokenizer; nothing from the hub) and so is the calibration text.
The quantize step is the quantize.py stand-in in its real mode
(TRTDEPLOY_STANDIN_MODELOPT=1): the stand-in's argv check against the package's
surface of quantize.py, then ModelOpt's calibration and its TensorRT-LLM checkpoint export
(tests/standins/_modelopt.py). The GPTQ step is the script the planner renders
(templates/steps/gptq_quantize.py.j2) running GPTQModel. Only convert_checkpoint.py
and trtllm-build stay stand-ins: they need tensorrt_llm, which has no CPU build.

Every ModelOpt or GPTQModel process costs 8-12 s on two cores (the imports), so
the builds are shared: one module-scoped build per case, asserts read a snapshot
of it, and the re-run sequences continue from it. 5 ModelOpt and 3 GPTQ runs in all.
Select these tests with `pytest -m real`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from runkit import STANDINS, Host, host_env, make_host

from compiler.cli import cli

sys.path.insert(0, str(STANDINS))
import tiny_llama

sys.path.remove(str(STANDINS))

MISSING = [m for m in ("torch", "transformers", "modelopt", "safetensors", "tokenizers")
           if importlib.util.find_spec(m) is None]
GPTQ_MISSING = importlib.util.find_spec("gptqmodel") is None
pytestmark = [
    pytest.mark.real,
    pytest.mark.skipif(bool(MISSING), reason=f"the test extras are not installed ({', '.join(MISSING)} missing): "
                                             "pip install -e '.[test]'"),
]
LINES = {"0.16.0": "0.12", "1.2.0": "1.x"}
CLEARED = ("TRTDEPLOY_MODEL_DIR", "TRTDEPLOY_STANDIN_FAIL", "TRTDEPLOY_STANDIN_SLEEP", "TRTDEPLOY_STANDIN_DEVICE")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama, made once per session; tests that change it work on a copy."""
    return tiny_llama.make(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def calib_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with 64 lines of 48 words the tiny tokenizer knows: one calibration sample per line.

    A folder, because that is the local form quantize.py reads from 0.11 on (a plain file is
    refused: releases.yaml quantize_calibration_forms); the GPTQ script reads folders too.
    """
    folder = tmp_path_factory.mktemp("calib")
    tiny_llama.calibration_lines(folder / "calib.txt")
    return folder


@dataclass
class Bench:
    """One build folder, its spec and its fake host; `build(**spec)` rewrites the spec and builds."""

    root: Path
    model: Path
    calib: Path
    version: str
    spec_fields: dict[str, object]
    host: Host = field(init=False)

    def __post_init__(self) -> None:
        self.host = make_host(self.root / "host")

    @property
    def out(self) -> Path:
        return self.root / "out"

    def env(self) -> dict[str, str | None]:
        env: dict[str, str | None] = dict(host_env(self.host, LINES[self.version]))
        env["PATH"] = os.pathsep.join([str(self.host.bin), str(Path(sys.executable).parent), os.environ["PATH"]])
        # One math thread: as fast for a model this small, and immune to a busy neighbour on a shared CI
        # machine (with 2 threads on 2 contended cores, OpenMP's spinning made AWQ's search 20x slower).
        env.update(TRTDEPLOY_STANDIN_MODELOPT="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                   HF_DATASETS_OFFLINE="1", OMP_NUM_THREADS="1")
        env.update(dict.fromkeys(CLEARED))
        return env

    def write_spec(self, **changes: object) -> Path:
        self.spec_fields.update(changes)
        f = self.spec_fields
        quant = [f"format: {f['format']}"]
        quant += [f"kv_cache: {f['kv']}"] if f.get("kv") else []
        quant += [f"group_size: {f['group']}"] if f.get("group") else []
        lines = [
            f"name: {f['name']}",
            "model:", f"  path: {self.model}",
            "quantization:", *(f"  {q}" for q in quant),
            "  calibration:", f"    dataset: {self.calib}", f"    samples: {f['samples']}", "    seq_len: 32",
            "parallelism:", f"  tp: {f.get('tp', 1)}", f"  pp: {f.get('pp', 1)}",
            "limits:", f"  max_batch_size: {f['batch']}", "  max_input_len: 256", "  max_output_len: 256",
            "target:", "  gpu: H100-SXM", "  gpus_per_node: 4", f'  tensorrt_llm: "{self.version}"', "  backend: tensorrt",
        ]
        spec = self.root / "spec.yaml"
        spec.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return spec

    def build(self, **changes: object) -> list[str]:
        """Write the spec with `changes`, run `trtdeploy build` on it; the ids of the steps that ran."""
        spec = self.write_spec(**changes)
        result = CliRunner().invoke(cli, ["build", str(spec), "-o", str(self.out), "--skip-doctor", "--plain"],
                                    env=self.env())
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == 0, result.output + self.logs()
        return ran(result)

    def logs(self) -> str:
        return "".join(f"\n--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                       for p in sorted((self.out / "logs").glob("*.log")))

    def output_of(self, step_id: str) -> Path:
        plan = json.loads((self.out / "plan.json").read_text())
        step = next(s for s in plan["steps"] if s["id"] == step_id)
        return self.out / step["outputs"][0]

    def calls(self) -> list[dict[str, object]]:
        path = self.host.calls
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def ran(result: Result) -> list[str]:
    return [line.split()[1] for line in result.stdout.splitlines() if line.startswith("[") and "… running" in line]


@dataclass(frozen=True)
class Checkpoint:
    """What a quantize step wrote, read right after the first build (later builds may replace the store)."""

    config: dict[str, object]
    files: list[str]
    tensors: dict[str, dict[str, tuple[str, tuple[int, ...]]]]   # rank file -> name -> (dtype, shape)
    engine: dict[str, object]
    log: str


def read_checkpoint(bench: Bench, step_id: str, real: bool = True) -> Checkpoint:
    """The checkpoint of `step_id`; its tensors too when a real tool wrote it (a stand-in writes dummy bytes)."""
    from safetensors import safe_open

    folder = bench.output_of(step_id)
    tensors = {}
    for rank_file in sorted(folder.glob("rank*.safetensors")) if real else []:
        with safe_open(str(rank_file), "pt") as f:
            tensors[rank_file.name] = {k: (str(f.get_slice(k).get_dtype()), tuple(f.get_slice(k).get_shape()))
                                       for k in f.keys()}  # noqa: SIM118 (a safetensors handle, not a dict)
    engine = json.loads((bench.output_of("build") / "config.json").read_text())
    log = next((bench.out / "logs").glob(f"*-{step_id}.log")).read_text(errors="replace")
    return Checkpoint(json.loads((folder / "config.json").read_text()), sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")),
                      tensors, engine, log)


def _bench(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, calib_file: Path, name: str, version: str,
           copy_model: bool = False, **spec: object) -> Bench:
    root = tmp_path_factory.mktemp(name)
    model = tiny_model
    if copy_model:  # this case changes a model file
        model = root / "tiny-llama"
        shutil.copytree(tiny_model, model)
    fields: dict[str, object] = {"name": name, "samples": 8, "batch": 4, **spec}
    return Bench(root, model, calib_file, version, fields)


# ---------------------------------------------------------------- ModelOpt: fp8 + fp8 KV cache, and what re-runs


@pytest.fixture(scope="module")
def fp8(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, calib_file: Path) -> Iterator[tuple[Bench, Checkpoint]]:
    bench = _bench(tmp_path_factory, tiny_model, calib_file, "tiny-fp8", "0.16.0", copy_model=True,
                   format="fp8", kv="fp8")
    assert bench.build() == ["quantize", "build"]
    yield bench, read_checkpoint(bench, "quantize")


def test_fp8_checkpoint_is_modelopt_s_export_of_the_spec(fp8: tuple[Bench, Checkpoint]) -> None:
    bench, ckpt = fp8
    config = ckpt.config
    assert config["producer"]["name"] == "modelopt"  # type: ignore[index]
    assert config["quantization"] == {"quant_algo": "FP8", "kv_cache_quant_algo": "FP8", "exclude_modules": ["lm_head"]}
    assert config["mapping"] == {"world_size": 1, "tp_size": 1, "pp_size": 1}
    assert (config["architecture"], config["dtype"], config["num_hidden_layers"]) == ("LlamaForCausalLM", "float16", 2)
    assert config["rotary_base"] == 500000.0  # the rope_theta fix: transformers 5 hides it from ModelOpt's export
    assert ckpt.files == ["config.json", "rank0.safetensors"]
    rank0 = ckpt.tensors["rank0.safetensors"]
    assert rank0["transformer.layers.0.attention.qkv.weight"] == ("F8_E4M3", (512, 256))  # q 256 + k 128 + v 128
    for name in ("attention.qkv.weights_scaling_factor", "attention.qkv.activation_scaling_factor",
                 "attention.kv_cache_scaling_factor", "mlp.fc.weight"):
        assert f"transformer.layers.1.{name}" in rank0
    assert rank0["lm_head.weight"] == ("F16", (1000, 256))
    # the quantize step ran with the planner's flags, checked by the stand-in, and calibrated on the file
    quantize = next(c for c in bench.calls() if c["tool"] == "quantize.py")
    assert "--calib_dataset" in quantize["argv"] and str(bench.calib) in quantize["argv"]  # type: ignore[operator]
    assert "ModelOpt (" in ckpt.log and "fp8, KV fp8, 8 samples of <= 32 tokens" in ckpt.log
    # and trtllm-build (a stand-in) read that checkpoint
    assert ckpt.engine["pretrained_config"]["quantization"] == config["quantization"]  # type: ignore[index]


def test_fp8_rebuilds_only_what_a_change_touches(fp8: tuple[Bench, Checkpoint]) -> None:
    """The done-when sequence, with the real quantize step: each change re-runs the steps that read it."""
    bench, _ = fp8
    assert bench.build() == []                                  # built twice: every step ran once
    assert bench.build(batch=8) == ["build"]                    # an engine limit: only the engine
    assert bench.build(samples=16) == ["quantize", "build"]     # calibration: quantize and what reads it
    assert json.loads((bench.output_of("quantize") / "config.json").read_text())["quantization"]["quant_algo"] == "FP8"
    config = bench.model / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "trtdeploy_test_note": "a harmless key"}, indent=2))
    assert bench.build() == ["quantize", "build"]               # a model file: everything that reads the model
    assert bench.build() == []
    assert [c["tool"] for c in bench.calls()] == ["quantize.py", "trtllm-build", "trtllm-build", "quantize.py",
                                                   "trtllm-build", "quantize.py", "trtllm-build"]


# ---------------------------------------------------------------- ModelOpt: int4_awq


@pytest.mark.parametrize(("group", "tp", "pp", "kv", "version"), [
    (128, 2, 1, None, "1.2.0"),    # group 128 divides the 256/2 in-features of each tp shard
    (64, 2, 2, "int8", "0.16.0"),  # group 64, 4 ranks over tp x pp, and an int8 KV cache through quantize.py
])
def test_int4_awq_checkpoint_matches_the_spec(group: int, tp: int, pp: int, kv: str | None, version: str,
                                              tmp_path_factory: pytest.TempPathFactory, tiny_model: Path,
                                              calib_file: Path) -> None:
    bench = _bench(tmp_path_factory, tiny_model, calib_file, f"tiny-awq-g{group}", version, format="int4_awq",
                   group=group, tp=tp, pp=pp, kv=kv, samples=64)
    assert bench.build() == ["quantize", "build"]
    ckpt = read_checkpoint(bench, "quantize")
    assert ckpt.config["quantization"] == {
        "quant_algo": "W4A16_AWQ", "kv_cache_quant_algo": kv.upper() if kv else None, "group_size": group,
        "has_zero_point": False, "pre_quant_scale": True, "exclude_modules": ["lm_head"]}
    world = tp * pp
    assert ckpt.config["mapping"] == {"world_size": world, "tp_size": tp, "pp_size": pp}
    assert ckpt.files == ["config.json", *(f"rank{r}.safetensors" for r in range(world))]
    assert ckpt.config["vocab_size"] == 1024  # AWQ pads the vocabulary to a multiple of 64 x tp
    first = ckpt.tensors["rank0.safetensors"]
    # int4 packed two per int8 (along the out-features); one scale per group of 256 in-features
    assert first["transformer.layers.0.attention.qkv.weight"] == ("I8", (512 // tp // 2, 256))
    assert first["transformer.layers.0.attention.qkv.weights_scaling_factor"] == ("F32", (512 // tp, 256 // group))
    assert first["transformer.layers.0.attention.qkv.prequant_scaling_factor"] == ("F16", (256,))
    if pp > 1:  # pipeline stages: the embedding on the first, the head on the last
        assert "transformer.vocab_embedding.weight" in first and "lm_head.weight" not in first
        assert "lm_head.weight" in ckpt.tensors[f"rank{world - 1}.safetensors"]
    quantize = next(c for c in bench.calls() if c["tool"] == "quantize.py")
    argv = quantize["argv"]
    assert argv[argv.index("--calib_size") + 1] == "32"  # type: ignore[union-attr,index]
    assert "32 samples of <= 32 tokens" in ckpt.log  # the planner caps AWQ calibration, as quantize.py does
    assert ckpt.engine["pretrained_config"]["mapping"] == ckpt.config["mapping"]  # type: ignore[index]
    assert sorted(p.name for p in bench.output_of("build").glob("rank*.engine")) == \
        [f"rank{r}.engine" for r in range(world)]


# ---------------------------------------------------------------- GPTQModel


@pytest.fixture(scope="module")
def gptq(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, calib_file: Path) -> Iterator[tuple[Bench, Checkpoint]]:
    if GPTQ_MISSING:
        pytest.skip("gptqmodel is not installed: pip install -e '.[test]'")
    bench = _bench(tmp_path_factory, tiny_model, calib_file, "tiny-gptq", "0.16.0", copy_model=True,
                   format="int4_gptq", group=128)
    # The first GPTQ run on a machine compiles GPTQModel's CPU packing extension (about 35 s, cached in
    # ~/.cache/gptqmodel); the step sets GPTQMODEL_CPU_WORKERS itself (2-core hosts need 2).
    assert bench.build() == ["gptq", "convert", "build"]
    yield bench, read_checkpoint(bench, "convert", real=False)


def test_gptq_step_writes_a_gptq_checkpoint_that_convert_reads(gptq: tuple[Bench, Checkpoint]) -> None:
    from safetensors import safe_open

    bench, convert = gptq
    out = bench.output_of("gptq")
    for name in ("quantize_config.json", "config.json"):
        data = json.loads((out / name).read_text())
        qc = data.get("quantization_config", data)
        assert (qc["bits"], qc["group_size"], qc["desc_act"], qc["sym"]) == (4, 128, False, True), name
        assert qc.get("quant_method", "gptq") == "gptq"
    assert not list(out.glob("model-*.safetensors"))  # one file: what convert_checkpoint.py reads
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118 (a safetensors handle, not a dict)
        dtypes = {k: str(f.get_slice(k).get_dtype()) for k in f.keys()}  # noqa: SIM118 (a safetensors handle, not a dict)
    q = "model.layers.0.self_attn.q_proj"
    assert (shapes[f"{q}.qweight"], dtypes[f"{q}.qweight"]) == ((256 * 4 // 32, 256), "I32")  # 8 int4 per int32
    assert shapes[f"{q}.qzeros"] == (256 // 128, 256 * 4 // 32) and shapes[f"{q}.scales"] == (256 // 128, 256)
    assert shapes["model.layers.1.mlp.down_proj.scales"] == (512 // 128, 256)
    assert "model.layers.0.self_attn.q_proj.weight" not in shapes
    # convert_checkpoint.py (a stand-in) got the checkpoint flag of the 0.16 line and the GPTQ file itself
    call = next(c for c in bench.calls() if c["tool"] == "convert_checkpoint.py")
    argv: list[str] = call["argv"]  # type: ignore[assignment]
    assert argv[argv.index("--quant_ckpt_path") + 1] == f"{bench.output_of('gptq').relative_to(bench.out)}/model.safetensors"
    for flag, value in (("--weight_only_precision", "int4_gptq"), ("--group_size", "128")):
        assert argv[argv.index(flag) + 1] == value
    assert "--per_group" in argv and "--use_weight_only" in argv
    assert convert.config["quantization"] == {"quant_algo": "W4A16_GPTQ", "kv_cache_quant_algo": None, "group_size": 128}
    gptq_log = next((bench.out / "logs").glob("*-gptq.log")).read_text(errors="replace")
    assert "8 samples of <= 32 tokens, 4-bit, group 128" in gptq_log


def test_gptq_rebuilds_only_what_a_change_touches(gptq: tuple[Bench, Checkpoint]) -> None:
    bench, _ = gptq
    assert bench.build() == []
    assert bench.build(batch=8) == ["build"]
    assert bench.build(samples=12) == ["gptq", "convert", "build"]   # calibration: gptq, convert and build
    weights = bench.model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # one bit of the last tensor's last value: a changed weight file
    weights.write_bytes(bytes(data))
    assert bench.build() == ["gptq", "convert", "build"]
    assert bench.build() == []
