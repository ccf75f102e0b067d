"""The matrix property: the plan emits what was decided, and a clean spec's written values reach the tools.

Over format x KV-cache dtype x release x GPU x tp/pp (and written plugin and limit
values cycled through the combinations), for every spec that plans:

1. every flag the plan emits for a decided setting carries the decided value;
2. when `check` is clean, every value the spec writes is the decided value (the plan
   changed nothing the user wrote) and reaches the plan: as a flag with that value, or
   as a decision note saying why no tool takes it (nothing is dropped silently).

The oracle below (which spec key becomes which flag, per tool) is written here, apart
from the backend that emits the flags, so a disagreement shows up as a failure.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from compiler.decide.model import Decided
from compiler.pipeline import check_spec
from compiler.plan.model import Plan

FORMATS = ("none", "int8_wo", "int4_wo", "int4_awq", "int4_gptq", "int8_sq", "fp8", "w4a8_awq", "nvfp4", "auto")
KV = ("auto", "int8", "fp8")
RELEASES = ("0.8.0", "0.9.0", "0.10.0", "0.12.0", "0.16.0", "1.0.0", "1.2.0")
GPUS = ("A100-SXM-80GB", "H100-SXM", "L40S", "B200")
LAYOUTS = ((1, 1), (2, 1), (2, 2))
TOGGLES = ("use_paged_context_fmha", "use_fp8_context_fmha", "multi_block_mode", "use_fused_mlp",
           "use_custom_all_reduce")
TEXT = {True: "enable", False: "disable"}

# Spec key -> (tool, flag, how the decided value is spelled). The flag may be absent from a release
# (the settings say so with value None, or with a note); when it is emitted it must carry the value.
BUILD_FLAGS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "plugins.gpt_attention": ("--gpt_attention_plugin", str),
    "plugins.gemm": ("--gemm_plugin", str),
    "plugins.remove_input_padding": ("--remove_input_padding", TEXT.__getitem__),
    "plugins.context_fmha": ("--context_fmha", TEXT.__getitem__),
    "plugins.use_paged_context_fmha": ("--use_paged_context_fmha", TEXT.__getitem__),
    "plugins.use_fp8_context_fmha": ("--use_fp8_context_fmha", TEXT.__getitem__),
    "plugins.use_custom_all_reduce": ("--use_custom_all_reduce", TEXT.__getitem__),
    "plugins.tokens_per_block": ("--tokens_per_block", str),
}


def specs() -> Iterator[tuple[str, dict[str, Any]]]:
    combos = itertools.product(FORMATS, KV, RELEASES, GPUS, LAYOUTS)
    for index, (fmt, kv, release, gpu, (tp, pp)) in enumerate(combos):
        plugins: dict[str, Any] = {}
        chosen = TOGGLES[index % len(TOGGLES)]
        if index % 3:
            plugins[chosen] = ("enable", "disable")[index % 2]
        if index % 7 == 0:
            plugins["tokens_per_block"] = 64
        spec = {
            "model": {"name": "llama-2-7b"},
            "quantization": {"format": fmt, "kv_cache": kv, "calibration": {"dataset": "cnn_dailymail"},
                             "group_size": 64},
            "parallelism": {"tp": tp, "pp": pp},
            "limits": {"max_batch_size": 4 + index % 5, "max_input_len": 1024, "max_output_len": 512},
            "plugins": plugins,
            "target": {"gpu": gpu, "tensorrt_llm": release, "gpus_per_node": 8, "backend": "tensorrt"},
        }
        yield f"{fmt}-{kv}-{release}-{gpu}-tp{tp}pp{pp}", spec


def flag(argv: list[str], name: str) -> str | None:
    for i, word in enumerate(argv):
        if word == name:
            return argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--") else ""
        if word.startswith(name + "="):
            return word.partition("=")[2]
    return None


def emitted_settings_match(d: Decided, plan: Plan) -> list[str]:
    """Property 1: a flag emitted for a decided setting carries its value."""
    build = [str(a) for a in plan.step("build").argv]
    problems = []
    for key, (name, spell) in BUILD_FLAGS.items():
        value, setting = flag(build, name), d.settings[key]
        if value is not None and (setting.value is None or value != spell(setting.value)):
            problems.append(f"{name} {value} but {key} is decided {setting.value}")
    limits = d.limits
    expected = {"--max_batch_size": limits.max_batch_size, "--max_input_len": limits.max_input_len,
                "--max_beam_width": limits.max_beam_width, "--max_num_tokens": limits.max_num_tokens.value}
    problems += [f"{name} {flag(build, name)} but decided {value}" for name, value in expected.items()
                 if flag(build, name) != str(value)]
    length = flag(build, "--max_seq_len") or flag(build, "--max_output_len")
    if length not in (str(limits.max_seq_len), str(limits.max_output_len)):
        problems.append(f"length flag {length}")
    checkpoint = plan.steps[-2]  # the step whose per-rank checkpoint trtllm-build reads
    ranks = [str(a) for a in checkpoint.argv]
    if flag(ranks, "--tp_size") != str(d.topology.tp) or flag(ranks, "--pp_size") != str(d.topology.pp):
        problems.append(f"{checkpoint.id} does not carry tp/pp {d.topology.tp}/{d.topology.pp}")
    return problems


def written_values_reach_the_plan(d: Decided, plan: Plan) -> list[str]:
    """Property 2, for a clean spec: a written setting keeps its value and shows up as a flag or a note."""
    build = [str(a) for a in plan.step("build").argv]
    run = [str(a) for a in plan.launch.rank_argv]
    noted = {n.topic for n in plan.decisions}
    problems = []
    for key, setting in d.settings.items():
        if not setting.written:
            continue
        written = d.r.loaded.raw
        for part in key.split("."):
            written = written[part]
        wanted = {"enable": True, "disable": False}.get(written, written)  # type: ignore[call-overload]
        if setting.value is not None and setting.value != wanted:
            problems.append(f"{key}: written {written}, decided {setting.value}")
        name = BUILD_FLAGS.get(key, (f"--{key.split('.')[1]}", str))[0]
        if flag(build, name) is None and flag(run, name) is None and key not in noted:
            problems.append(f"{key}: written {written}, but neither a flag nor a note carries it")
    return problems


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Decided, Plan, bool]]:
    folder = tmp_path_factory.mktemp("matrix")
    out = []
    for name, spec in specs():
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec), encoding="utf-8")
        report = check_spec(path, plan=True)
        assert report.decided is not None, [f.message for f in report.findings]
        if report.plan is not None:
            clean = not report.errors and not report.warnings  # notes are advice, not problems
            out.append((name, report.decided, report.plan, clean))
        elif not report.errors:
            raise AssertionError(f"{name}: no error, yet no plan")
    return out


def test_the_matrix_plans_widely(planned: list[tuple[str, Decided, Plan, bool]]) -> None:
    formats = {d.format.value.value for _, d, _, _ in planned}
    releases = {d.r.release.version for _, d, _, _ in planned}
    assert len(planned) > 500 and formats >= {"none", "int8_sq", "fp8", "int4_awq", "int4_gptq"}
    assert releases == set(RELEASES)
    assert sum(clean for *_, clean in planned) > 100


def test_every_emitted_flag_equals_its_decided_value(planned: list[tuple[str, Decided, Plan, bool]]) -> None:
    problems = {name: found for name, d, plan, _ in planned if (found := emitted_settings_match(d, plan))}
    assert not problems, dict(list(problems.items())[:5])


def test_a_clean_spec_keeps_and_carries_what_it_writes(planned: list[tuple[str, Decided, Plan, bool]]) -> None:
    problems = {name: found for name, d, plan, clean in planned
                if clean and (found := written_values_reach_the_plan(d, plan))}
    assert not problems, dict(list(problems.items())[:5])


def test_the_oracle_catches_a_planner_that_drops_a_flag(planned: list[tuple[str, Decided, Plan, bool]],
                                                        tmp_path: Path) -> None:
    """The property can fail: a plan whose build step lost a written flag is reported."""
    import dataclasses

    name, d, plan, _ = next(p for p in planned if p[3] and any(
        s.written and s.value is not None and s.key in BUILD_FLAGS for s in p[1].settings.values()))
    key = next(k for k, s in d.settings.items() if s.written and s.value is not None and k in BUILD_FLAGS)
    build = plan.step("build")
    name_ = BUILD_FLAGS[key][0]
    words = list(build.argv)
    at = words.index(name_)
    stripped = dataclasses.replace(build, argv=tuple(words[:at] + words[at + 2:]))
    broken = dataclasses.replace(plan, steps=tuple(stripped if s.id == "build" else s for s in plan.steps))
    assert written_values_reach_the_plan(d, broken), (name, key)
