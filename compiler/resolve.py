"""resolve: SpecFile -> Resolved, adding the facts a user should not have to type.

Owns: the model's architecture (from the local config.json, else the catalog),
the target and build GPUs (catalog), the TensorRT-LLM release, and paths made
absolute against the spec's folder. Problems become S1xx findings. Choices
(`auto` values, the backend, the route) are compiler.decide's.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from compiler import catalog
from compiler.catalog import GpuFacts
from compiler.findings import Finding, Location, Severity
from compiler.load import KeyPath, LoadedSpec
from compiler.modelconfig import ModelFacts, UnsupportedModelConfig, facts_from_hf_config
from compiler.results import ResultsError, baseline_scores, read_results
from compiler.spec import SpecFile
from compiler.catalog.releases import ReleaseFacts, ReleaseNotSupported, newest_release, oldest_release, release_facts

MAX_CONFIG_BYTES = 4 << 20


@dataclass(frozen=True)
class CheckpointFacts:
    """What a given quantized checkpoint says of itself, when its folder can be read at check time.

    `kind` is "modelopt" (an hf_quant_config.json, ModelOpt's HF export) or the quant_method of
    config.json's quantization_config ("gptq", "awq", ...); the algos are hf_quant_config.json's.
    """

    kind: str
    quant_algo: str | None = None
    kv_cache_quant_algo: str | None = None


@dataclass(frozen=True)
class BaselineFile:
    """A results.json that verify.accuracy[i].baseline names, as read at check time.

    `scores` maps each task it measured to its score; None when it cannot be used (`problem` says why).
    """

    path: str
    scores: Mapping[str, float] | None
    problem: str = ""


@dataclass(frozen=True)
class Resolved:
    """A spec with every fact the rules and the planner need. Frozen; nothing downstream mutates it."""

    loaded: LoadedSpec
    spec: SpecFile
    name: str
    model: ModelFacts
    model_origin: str
    model_dir: str | None
    tokenizer_dir: str | None
    checkpoint_dir: str | None
    checkpoint: CheckpointFacts | None
    calibration_dataset: str | None
    gpu: GpuFacts
    build_gpu: GpuFacts
    build_gpus: int
    release: ReleaseFacts
    # verify: local dataset paths made absolute, by dotted key ("verify.accuracy.0.dataset"), and the
    # results.json files named as baselines, by their index in verify.accuracy.
    verify_paths: Mapping[str, str] = field(default_factory=dict)
    baselines: Mapping[int, BaselineFile] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return self.loaded.path

    @property
    def world_size(self) -> int:
        return self.spec.parallelism.tp * self.spec.parallelism.pp

    def is_written(self, key: str) -> bool:
        """True when the spec (or a base it extends) writes this dotted key."""
        return tuple(key.split(".")) in self.loaded.positions

    def first_written(self, *keys: str) -> str:
        """The first of `keys` the spec (or a spec it extends) writes, else the first key.

        Findings point at the line the user would edit; when that key was left to its
        default, a related key that was written is a better place than the section.
        """
        return next((key for key in keys if self.is_written(key)), keys[0])

    def location(self, key: str) -> Location:
        """Where a dotted key (`parallelism.tp`) was written, or its nearest written parent."""
        parts: KeyPath = tuple(int(p) if p.isdigit() else p for p in key.split(".")) if key else ()
        return self.loaded.location(parts)


@dataclass(frozen=True)
class Resolution:
    """The outcome of resolving one spec: a Resolved when possible, and findings either way."""

    resolved: Resolved | None
    findings: tuple[Finding, ...]


def _finding(loaded: LoadedSpec, code: str, key: str, message: str, hint: str) -> Finding:
    parts: KeyPath = tuple(key.split(".")) if key else ()
    return Finding(code, Severity.ERROR, message, hint, key, loaded.location(parts))


def _spec_dir(loaded: LoadedSpec, key: KeyPath) -> Path:
    """Folder a relative path is taken from: that of the file where the key was written."""
    loc = loaded.positions.get(key)
    return Path(loc.file).resolve().parent if loc else Path(loaded.path).resolve().parent


def _absolute(loaded: LoadedSpec, key: KeyPath, value: str | None) -> str | None:
    if value is None:
        return None
    # os.path.expanduser leaves an unknown `~user` as written, as a shell does; Path.expanduser raises.
    path = Path(os.path.expanduser(value))
    return str(path if path.is_absolute() else (_spec_dir(loaded, key) / path).resolve())


def _read_json(path: Path) -> object:
    """A small JSON file, or None when it is missing, unreadable, too large or not JSON."""
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None


def checkpoint_facts(folder: str | None) -> CheckpointFacts | None:
    """The kind of a given checkpoint folder: ModelOpt's hf_quant_config.json, else config.json's quant_method."""
    if folder is None:
        return None
    modelopt = _read_json(Path(folder) / "hf_quant_config.json")
    if isinstance(modelopt, dict) and isinstance(modelopt.get("quantization"), dict):
        quant = modelopt["quantization"]
        algo, kv = quant.get("quant_algo"), quant.get("kv_cache_quant_algo")
        return CheckpointFacts("modelopt", algo if isinstance(algo, str) else None, kv if isinstance(kv, str) else None)
    config = _read_json(Path(folder) / "config.json")
    method = config.get("quantization_config", {}).get("quant_method") if isinstance(config, dict) and \
        isinstance(config.get("quantization_config"), dict) else None
    return CheckpointFacts(method) if isinstance(method, str) else None


def _read_config(model_dir: str) -> dict[str, object] | None:
    config = Path(model_dir) / "config.json"
    try:
        if config.stat().st_size > MAX_CONFIG_BYTES:
            raise UnsupportedModelConfig(f"config.json is larger than {MAX_CONFIG_BYTES} bytes", "")
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise UnsupportedModelConfig(f"config.json is not valid JSON: {exc}", "") from None
    if not isinstance(data, dict):
        raise UnsupportedModelConfig("config.json is not a JSON object", "")
    return data


def _model_facts(loaded: LoadedSpec, spec: SpecFile, model_dir: str | None) -> tuple[ModelFacts | None, str, list[Finding]]:
    if model_dir is not None:
        try:
            config = _read_config(model_dir)
        except UnsupportedModelConfig as exc:
            return None, "", [_finding(loaded, "S111", "model.path", f"{model_dir}/config.json: {exc}", "fix or replace config.json")]
        if config is not None:
            try:
                return facts_from_hf_config(config), f"config.json in {model_dir}", []
            except UnsupportedModelConfig as exc:
                hint = "TensorRT-LLM checkpoints of this architecture are not planned by trtdeploy yet"
                return None, "", [_finding(loaded, "S111", "model.path", f"{model_dir}/config.json: {exc}", hint)]
    name = spec.model.name
    if name is None:
        if model_dir is not None:
            return None, "", [_finding(loaded, "S111", "model.path", f"no readable config.json in {model_dir}",
                                       "point model.path at a Hugging Face model folder, or add model.name")]
        return None, "", [_finding(loaded, "S109", "model", "the spec names no model",
                                   "add model.name (see `trtdeploy models`) or model.path")]
    entry = catalog.find_model(name)
    if entry is None:
        return None, "", [_finding(loaded, "S110", "model.name", f"unknown model '{name}'", _did_you_mean(name, catalog.model_names(), "trtdeploy models"))]
    return entry.facts, f"catalog entry {entry.id}", []


def _did_you_mean(word: str, names: list[str], command: str) -> str:
    import difflib

    close = difflib.get_close_matches(word.lower(), [n.lower() for n in names], n=3, cutoff=0.5)
    lookup = {n.lower(): n for n in names}
    if close:
        return "did you mean " + " or ".join(f"'{lookup[c]}'" for c in close) + f"? (`{command}` lists all)"
    return f"`{command}` lists the known names"


def _gpu(loaded: LoadedSpec, key: str, name: str | None) -> tuple[GpuFacts | None, list[Finding]]:
    if name is None:
        return None, [_finding(loaded, "S112", key, "the spec names no target GPU", "add target.gpu (see `trtdeploy gpus`)")]
    gpu = catalog.find_gpu(name)
    if gpu is None:
        return None, [_finding(loaded, "S113", key, f"unknown GPU '{name}'", _did_you_mean(name, catalog.gpu_names(), "trtdeploy gpus"))]
    return gpu, []


def _default_name(loaded: LoadedSpec) -> str:
    stem = Path(loaded.path).stem.lower()
    return re.sub(r"[^a-z0-9._-]+", "-", stem).strip("-._")[:63] or "deployment"


def _calibration(loaded: LoadedSpec, spec: SpecFile) -> str | None:
    calib = spec.quantization.calibration
    if calib is None:
        return None
    key = ("quantization", "calibration", "dataset")
    candidate = Path(_absolute(loaded, key, calib.dataset) or calib.dataset)
    looks_local = calib.dataset.startswith((".", "/", "~")) or _exists(candidate)
    return str(candidate) if looks_local else calib.dataset


def _exists(path: Path) -> bool:
    """Path.exists, but False for a name the OS refuses (too long, say) instead of raising."""
    try:
        return path.exists()
    except OSError:
        return False


def _verify_paths(loaded: LoadedSpec, spec: SpecFile) -> dict[str, str]:
    """Absolute paths of the datasets verify: names, by dotted key."""
    paths: dict[str, str] = {}
    for index, item in enumerate(spec.verify.accuracy):
        if item.dataset is not None:
            paths[f"verify.accuracy.{index}.dataset"] = _absolute(loaded, ("verify", "accuracy", index, "dataset"),
                                                                  item.dataset) or item.dataset
    throughput = spec.verify.throughput
    if throughput is not None and throughput.dataset is not None:
        paths["verify.throughput.dataset"] = _absolute(loaded, ("verify", "throughput", "dataset"),
                                                       throughput.dataset) or throughput.dataset
    return paths


def _baselines(loaded: LoadedSpec, spec: SpecFile) -> dict[int, BaselineFile]:
    """The results.json files verify.accuracy names as baselines, read now: decide needs their scores."""
    files: dict[int, BaselineFile] = {}
    for index, item in enumerate(spec.verify.accuracy):
        if not isinstance(item.baseline, str):
            continue
        path = _absolute(loaded, ("verify", "accuracy", index, "baseline"), item.baseline) or item.baseline
        try:
            files[index] = BaselineFile(path, baseline_scores(read_results(Path(path))))
        except ResultsError as exc:
            files[index] = BaselineFile(path, None, str(exc))
    return files


def _release(loaded: LoadedSpec, written: str | None) -> tuple[ReleaseFacts | None, list[Finding]]:
    """The release's facts: as written, else the newest release known; a release not listed is a warning."""
    try:
        release = release_facts(written or str(newest_release().version))
    except ReleaseNotSupported as exc:
        return None, [_finding(loaded, "S114", "target.tensorrt_llm", str(exc),
                               f"use a release from {oldest_release().version} to {newest_release().version} "
                               "(`trtdeploy releases` lists them)")]
    if release.message is None:
        return release, []
    finding = _finding(loaded, "S116", "target.tensorrt_llm", release.message,
                       "check the generated commands against the release's --help, or use a listed release")
    return release, [replace(finding, severity=Severity.WARNING)]


def resolve(loaded: LoadedSpec) -> Resolution:
    """Add model, GPU and release facts to a loaded spec; never raises for bad input."""
    spec = loaded.spec
    if spec is None:
        return Resolution(None, loaded.findings)
    findings: list[Finding] = list(loaded.findings)
    model_dir = _absolute(loaded, ("model", "path"), spec.model.path)
    checkpoint_dir = _absolute(loaded, ("quantization", "checkpoint"), spec.quantization.checkpoint)
    model, origin, problems = _model_facts(loaded, spec, model_dir)
    findings += problems
    gpu, problems = _gpu(loaded, "target.gpu", spec.target.gpu)
    findings += problems
    build_gpu, problems = _gpu(loaded, "build.gpu", spec.build.gpu) if spec.build.gpu else (gpu, [])
    findings += problems
    release, problems = _release(loaded, spec.target.tensorrt_llm)
    findings += problems
    if model is None or gpu is None or build_gpu is None or release is None:
        return Resolution(None, tuple(findings))
    resolved = Resolved(
        loaded=loaded,
        spec=spec,
        name=spec.name or _default_name(loaded),
        model=model,
        model_origin=origin,
        model_dir=model_dir,
        tokenizer_dir=_absolute(loaded, ("model", "tokenizer"), spec.model.tokenizer) or model_dir,
        checkpoint_dir=checkpoint_dir,
        checkpoint=checkpoint_facts(checkpoint_dir),
        calibration_dataset=_calibration(loaded, spec),
        gpu=gpu,
        build_gpu=build_gpu,
        build_gpus=spec.build.gpus or spec.target.gpus_per_node,
        release=release,
        verify_paths=_verify_paths(loaded, spec),
        baselines=_baselines(loaded, spec),
    )
    return Resolution(resolved, tuple(findings))
