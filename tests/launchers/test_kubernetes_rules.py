"""The decide half of launcher kubernetes and the L rules that report it, beyond the fixtures under
tests/data/broken: each check on the variants of its problem, where it must stay quiet, and that its errors
stop the plan even when silenced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compiler.findings import Severity
from compiler.launchers import kubernetes
from compiler.pipeline import SpecReport, check_spec
from plan.support import write_spec

DATA = Path(__file__).resolve().parents[1] / "data" / "broken"
K8S: dict[str, Any] = {
    "name": "llama",
    "target": {"tensorrt_llm": "1.2.0"},
    "launch": {"launcher": "kubernetes", "entrypoint": "serve",
               "kubernetes": {"model": {"claim": "models"}, "build_dir": {"claim": "builds"}}},
}
TWO_NODES: dict[str, Any] = {"model": {"name": "llama-2-70b"}, "parallelism": {"tp": 8, "pp": 2},
                             "target": {"nodes": 2}}


def _report(tmp_path: Path, *overrides: dict[str, Any], plan: bool = False) -> SpecReport:
    return check_spec(write_spec(tmp_path, K8S, *overrides), plan=plan)


def _found(tmp_path: Path, *overrides: dict[str, Any]) -> list[tuple[str, Severity, str]]:
    return [(f.code, f.severity, f.key) for f in _report(tmp_path, *overrides).findings]


def test_a_clean_spec_has_no_finding_and_plans(tmp_path: Path) -> None:
    report = _report(tmp_path, plan=True)
    assert report.findings == () and report.plan is not None


# ---------------------------------------------------------------- volumes


@pytest.mark.parametrize(("volume", "key", "message"), [
    ({"model": None}, "launch.kubernetes.model", "names no volume for the model"),
    ({"build_dir": {"claim": None, "sub_path": "x"}}, "launch.kubernetes.build_dir", "names neither a claim and a host path"),
    ({"model": {"host_path": "/models"}}, "launch.kubernetes.model", "names both a claim and a host path"),
    ({"model": {"sub_path": "a/../../etc"}}, "launch.kubernetes.model.sub_path", "climbs out of the volume"),
], ids=["missing", "neither", "both", "climbing"])
def test_each_volume_names_one_source_inside_it(tmp_path: Path, volume: dict[str, Any], key: str, message: str) -> None:
    (finding,) = _report(tmp_path, {"launch": {"kubernetes": volume}}).findings
    assert (finding.code, finding.key) == ("L108", key) and message in finding.message


# ---------------------------------------------------------------- the image


def test_the_default_image_is_the_releases_ngc_container() -> None:
    assert kubernetes.release_image("1.2.0").image == "nvcr.io/nvidia/tensorrt-llm/release:1.2.0"
    assert kubernetes.release_image("1.0.0rc4").image == "nvcr.io/nvidia/tensorrt-llm/release:1.0.0rc4"
    assert kubernetes.release_image("1.2").image is None  # a line, not a tag
    assert kubernetes.release_image("0.16.0").image is None  # no 0.x tag is pinned from a source
    assert kubernetes.release_image("0.11.0").image is None


def test_without_an_image_the_message_says_why_for_the_release(tmp_path: Path) -> None:
    report = _report(tmp_path, {"target": {"tensorrt_llm": "0.16.0"}, "launch": {"entrypoint": "serve"}})
    (finding,) = [f for f in report.findings if f.code == "L109"]
    assert "no NGC image is pinned for TensorRT-LLM 0.16.0: 0.x releases shipped in Triton" in finding.message
    assert finding.key == "target.tensorrt_llm"
    written = _found(tmp_path, {"target": {"tensorrt_llm": "1.2"},
                                "launch": {"kubernetes": {"image": "registry.example/trtllm:1.2"}}})
    assert written == []


def test_the_stock_image_warns_about_kubectl_on_several_nodes_only(tmp_path: Path) -> None:
    assert _found(tmp_path, TWO_NODES) == [("L117", Severity.WARNING, "target.tensorrt_llm")]
    assert _found(tmp_path, TWO_NODES, {"launch": {"kubernetes": {"image": "registry.example/trtllm:kubectl"}}}) == []
    assert _found(tmp_path) == []


# ---------------------------------------------------------------- names and labels


@pytest.mark.parametrize("name", ["7b-llama", "llama.7b", "llama_7b", "x" * 57])
def test_names_must_be_able_to_name_the_objects(tmp_path: Path, name: str) -> None:
    assert _found(tmp_path, {"name": name}) == [("L110", Severity.ERROR, "name")]


def test_names_leave_room_for_their_suffixes_and_a_groups_statefulset_revision_label(tmp_path: Path) -> None:
    assert _found(tmp_path, {"name": "x" * 56}) == []  # x...-launch is 63 characters
    # <name>-<group> names a worker StatefulSet: at most 52 characters, for <statefulset>-<10-character hash>.
    image = {"launch": {"kubernetes": {"image": "registry.example/trtllm:kubectl"}}}
    assert _found(tmp_path, TWO_NODES, image, {"name": "x" * 50}) == []
    assert _found(tmp_path, TWO_NODES, image, {"name": "x" * 51}) == [("L110", Severity.ERROR, "name")]
    eleven = {"name": "x" * 50, "launch": {"kubernetes": {"replicas": 11}}}  # group 10: two digits
    assert _found(tmp_path, TWO_NODES, image, eleven) == [("L110", Severity.ERROR, "name")]


def test_trtdeploys_own_labels_are_not_overridden(tmp_path: Path) -> None:
    labels = {"launch": {"kubernetes": {"labels": {"app.kubernetes.io/name": "other"}}}}
    assert _found(tmp_path, labels) == [("L111", Severity.ERROR, "launch.kubernetes.labels")]


# ---------------------------------------------------------------- paths the pods see


def test_a_tokenizer_inside_the_model_folder_is_in_the_pods(tmp_path: Path) -> None:
    inside = {"model": {"path": "/models/llama", "tokenizer": "/models/llama/tokenizer"}}
    assert _found(tmp_path, inside) == []
    outside = {"model": {"path": "/models/llama", "tokenizer": "/models/llama-tokenizer"}}  # a prefix, not inside
    assert _found(tmp_path, outside) == [("L114", Severity.ERROR, "model.tokenizer")]


def test_the_build_jobs_steps_cannot_read_a_local_calibration_file(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('"hello"\n', encoding="utf-8")
    calibrated = {"quantization": {"format": "fp8", "calibration": {"dataset": str(prompts)}}}
    assert _found(tmp_path, calibrated) == []  # built with `trtdeploy build` on the host that has it
    job = {"launch": {"kubernetes": {"build_job": True}}}
    assert _found(tmp_path, calibrated, job) == [("L114", Severity.ERROR, "quantization.calibration.dataset")]


@pytest.mark.parametrize("backend", ["tensorrt", "pytorch"])
def test_a_path_with_a_blank_is_split_only_where_the_wrapper_runs_across_nodes(tmp_path: Path, backend: str) -> None:
    chosen = {"target": {"backend": backend}}
    blank = {"model": {"path": "/models/llama", "tokenizer": "/models/llama/my tokenizer"}}
    # One node: the pod runs trtllm-serve alone, on either backend, and the word arrives whole.
    assert _found(tmp_path, chosen, blank) == []
    image = {"launch": {"kubernetes": {"image": "registry.example/trtllm:kubectl"}}}
    assert _found(tmp_path, chosen, TWO_NODES, image, blank) == [("L115", Severity.ERROR, "model.tokenizer")]
    globbed = {"model": {"path": "/models/llama", "tokenizer": "/models/llama/tok*"}}
    assert _found(tmp_path, chosen, TWO_NODES, image, globbed) == [("L115", Severity.ERROR, "model.tokenizer")]
    plain = {"model": {"path": "/models/llama", "tokenizer": "/models/llama/tokenizer"}}
    assert _found(tmp_path, chosen, TWO_NODES, image, plain) == []


def test_the_pods_see_the_model_at_its_mount_so_a_blank_on_the_build_host_splits_nothing(tmp_path: Path) -> None:
    """P106 reads the build host's paths; on Kubernetes the server reads /model, which L115 checks instead."""
    image = {"launch": {"kubernetes": {"image": "registry.example/trtllm:kubectl"}}}
    spaced = {"model": {"path": "/models/llama 2"}, "target": {"backend": "pytorch"}}
    assert _found(tmp_path, TWO_NODES, image, spaced) == []
    assert ("P106", Severity.ERROR, "model.path") in _found(tmp_path, TWO_NODES, spaced, {"launch": {
        "launcher": "mpirun", "hosts": ["node-a", "node-b"]}})


# ---------------------------------------------------------------- the environment, and other launchers


def test_launch_env_names_need_a_secret_on_kubernetes_only(tmp_path: Path) -> None:
    env = {"launch": {"env": ["HF_TOKEN", "WANDB_KEY"], "kubernetes": {"secrets": {"HF_TOKEN": "hf/token"}}}}
    (finding,) = _report(tmp_path, env).findings
    assert (finding.code, finding.severity) == ("L118", Severity.WARNING)
    assert "WANDB_KEY" in finding.message and "HF_TOKEN" not in finding.message
    assert _found(tmp_path, env, {"launch": {"launcher": "mpirun"}}) == []


def test_a_host_path_warns_only_when_the_pods_span_nodes(tmp_path: Path) -> None:
    host = {"launch": {"kubernetes": {"model": {"claim": None, "host_path": "/models/llama"},
                                      "image": "registry.example/trtllm:kubectl"}}}
    assert _found(tmp_path, host) == []
    assert _found(tmp_path, TWO_NODES, host) == [("L116", Severity.WARNING, "launch.kubernetes.model")]


def test_the_kubernetes_section_means_nothing_to_other_launchers(tmp_path: Path) -> None:
    other = {"name": "llama_7b", "launch": {"launcher": "mpirun", "entrypoint": "run",
                                         "kubernetes": {"model": None}}}
    assert _found(tmp_path, other) == []


# ---------------------------------------------------------------- errors are gaps


# The fixtures of the Kubernetes launcher's own errors (L108 and up; its layouts are L101 and L104's).
ERROR_FIXTURES = sorted(path for path in DATA.glob("L*-kubernetes-*.yaml")
                        if int(path.stem[1:4]) >= 108 and "# E:" in path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("fixture", ERROR_FIXTURES, ids=[p.stem for p in ERROR_FIXTURES])
def test_every_kubernetes_error_is_a_gap_that_stops_the_plan_even_when_silenced(fixture: Path) -> None:
    code = fixture.stem.split("-")[0]
    report = check_spec(fixture, ignore=[code], plan=True)
    assert report.decided is not None and code in {gap.code for gap in report.decided.gaps}
    assert report.plan is None
    assert any(f.code == code and f.message.startswith("cannot plan: ") for f in report.findings)
