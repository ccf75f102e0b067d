"""The PyTorch backend's tool surfaces (trtllm-serve, hf_ptq.py, trtllm-bench, trtllm-eval, trtllm-llmapi-launch).

Known good command lines are the upstream examples the facts were read with (Slurm
scripts, docs recipes); refusals are flags a release does not have yet, or no longer.
The format extensions these files use (subcommand groups with ranges, a default
subcommand, alias rows with their own range, switch negations, required flags, a
wrapping launcher, pinned/unpinned rows) are tested on the real files and, for the
malformed cases, on small files written here.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from pathlib import Path

import pytest

from compiler.catalog import tools
from compiler.catalog.tools import FlagFact, ToolFactsError, surface, tool_facts
from compiler.versions import Version, VersionRange, parse_version

PYTORCH_TOOLS = ("trtllm-serve", "hf_ptq.py", "trtllm-bench", "trtllm-eval", "trtllm-llmapi-launch")


def v(text: str) -> Version:
    return parse_version(text)


def check(tool: str, version: str, argv: list[str]) -> list[str]:
    return surface(tool, v(version)).check(argv)


# Known good command lines -------------------------------------------------------------------

@pytest.mark.parametrize(("tool", "version", "argv"), [
    # examples/llm-api/llm_mgmn_trtllm_serve.sh @ b35ac1b6 (1.2.0rc2)
    ("trtllm-serve", "1.2.0rc2", ["/models/llama", "--tp_size", "16", "--host", "0.0.0.0"]),
    # examples/disaggregated/slurm/benchmark/start_worker.sh: --extra_llm_api_options in every release
    ("trtllm-serve", "1.0.0", ["/m", "--host", "node1", "--port", "8001", "--extra_llm_api_options", "c.yaml"]),
    ("trtllm-serve", "1.3.0", ["/m", "--host", "node1", "--port", "8001", "--extra_llm_api_options", "c.yaml"]),
    # examples/disaggregated/slurm/simple_example/launch.slurm: ctx server with --config
    ("trtllm-serve", "1.3.0rc1", ["/models/llama", "--tp_size", "8", "--host", "0.0.0.0", "--port", "8001",
                                  "--config", "ctx.yaml"]),
    ("trtllm-serve", "1.1.0", ["disaggregated", "-c", "disagg_config.yaml"]),
    ("trtllm-serve", "1.0.0", ["serve", "/models/llama", "--backend", "pytorch", "--max_batch_size", "16"]),
    # examples/llm-api/llm_mgmn_trtllm_bench.sh @ 1aa45ba6
    ("trtllm-bench", "1.0.0", ["--model", "meta-llama/Llama-2-7b-hf", "--model_path", "/m", "throughput",
                               "--dataset", "d.txt", "--backend", "pytorch", "--tp", "16",
                               "--extra_llm_api_options", "/tmp/pytorch_extra_args.txt"]),
    ("trtllm-bench", "1.3.0rc1", ["--model=/m", "prepare-dataset", "--output", "d.txt", "token-norm-dist",
                                  "--num-requests=100", "--input-mean=128", "--output-mean=128",
                                  "--input-stdev=0", "--output-stdev=0"]),
    ("trtllm-bench", "1.1.0", ["-m", "x", "latency", "--dataset", "d.txt", "--concurrency", "1"]),
    # trtllm-eval usage: trtllm-eval --model <m> [group opts] mmlu [--dataset_path DIR]
    ("trtllm-eval", "1.0.0", ["--model", "/m", "--tp_size", "2", "mmlu", "--dataset_path", "/data/mmlu"]),
    ("trtllm-eval", "1.2.0", ["--model", "/m", "--extra_llm_api_options", "x.yaml", "gsm8k", "--num_samples", "64"]),
    # TensorRT-LLM docs recipe for the PyTorch backend: hf_ptq.py ... --export_fmt hf (needed at 0.33)
    ("hf_ptq.py", "0.33.0", ["--pyt_ckpt_path", "/m", "--qformat", "fp8", "--kv_cache_qformat", "fp8",
                             "--export_fmt", "hf", "--export_path", "/out", "--calib_size", "512"]),
    ("hf_ptq.py", "0.37.0", ["--pyt_ckpt_path", "/m", "--qformat", "int4_awq", "--kv_cache_qformat", "none",
                             "--awq_block_size", "128", "--calib_size", "32,32", "--dataset", "cnn_dailymail,pile"]),
    ("hf_ptq.py", "0.47.0", ["--model", "/m", "--qformat", "w4a8_awq_beta", "--kv_cache_qformat", "fp8_cast",
                             "--calib_seq", "256", "--no-verbose"]),
    ("trtllm-llmapi-launch", "1.2.0", ["trtllm-serve", "/m", "--tp_size", "16", "--anything-goes-to-the-command"]),
])
def test_known_good_command_lines_are_accepted(tool: str, version: str, argv: list[str]) -> None:
    assert check(tool, version, argv) == []


# Refusals: not yet, no longer, wrong value ---------------------------------------------------

@pytest.mark.parametrize(("tool", "version", "argv", "expected"), [
    ("trtllm-serve", "1.1.0", ["/m", "--config", "x.yaml"], "unknown flag --config"),
    ("trtllm-serve", "1.2.0rc2", ["/m", "--config", "x.yaml"], "unknown flag --config"),
    ("trtllm-serve", "1.2.0", ["/m", "--kv_cache_dtype", "fp8"], "unknown flag --kv_cache_dtype"),
    ("trtllm-serve", "1.0.0", ["/m", "--backend", "tensorrt"], "'tensorrt' is not one of pytorch, trt, _autodeploy"),
    ("trtllm-serve", "1.3.0", ["/m", "--backend", "tensorrt"], "'tensorrt' is not one of pytorch, _autodeploy"),
    ("trtllm-serve", "1.3.0", ["/m", "--fail_fast_on_attention_window_too_large"], "unknown flag"),
    ("trtllm-serve", "1.2.0", ["/m", "--tp_size", "two"], "'two' is not an integer"),
    ("trtllm-serve", "1.2.0", ["--tp_size", "2"], "missing argument MODEL"),
    ("trtllm-serve", "1.2.0", ["/m", "--trust_remote_code=yes"], "is a switch and takes no value"),
    ("hf_ptq.py", "0.37.0", ["--pyt_ckpt_path", "/m", "--qformat", "int8_wo"], "'int8_wo' is not one of"),
    ("hf_ptq.py", "0.39.0", ["--pyt_ckpt_path", "/m", "--qformat", "int8_weight_only"], "is not one of"),
    ("hf_ptq.py", "0.47.0", ["--model", "/m", "--qformat", "int8_sq"], "'int8_sq' is not one of"),
    ("hf_ptq.py", "0.37.0", ["--pyt_ckpt_path", "/m", "--calib_seq", "512"], "unknown flag --calib_seq"),
    ("hf_ptq.py", "0.42.0", ["--model", "/m"], "unknown flag --model"),
    ("hf_ptq.py", "0.33.0", ["--qformat", "fp8"], "--pyt_ckpt_path is required"),
    ("hf_ptq.py", "0.33.0", ["--pyt_ckpt_path", "/m", "--dataset", "my_corpus"], "'my_corpus' is not one of"),
    ("trtllm-bench", "1.2.0rc2", ["-m", "x", "prepare-dataset", "token-norm-dist"],
     "prepare-dataset is not in this release"),
    ("trtllm-bench", "1.3.0", ["-m", "x", "build", "--tp_size", "2"], "build is not in this release"),
    ("trtllm-bench", "1.2.0", ["-m", "x", "dataset"], "unknown subcommand 'dataset'"),
    ("trtllm-bench", "1.2.0", ["-m", "x"], "needs a subcommand"),
    ("trtllm-bench", "1.2.0", ["throughput"], "--model is required"),
    ("trtllm-bench", "1.0.0", ["-m", "x", "throughput", "--disable_chunked_context"], "unknown flag"),
    ("trtllm-bench", "1.0.0", ["-m", "x", "latency", "--extra_llm_api_options", "x.yaml"], "unknown flag"),
    ("trtllm-bench", "1.3.0rc1", ["-m", "x", "prepare-dataset", "token-norm-dist", "--num-requests", "3"],
     "--input-mean is required"),
    ("trtllm-eval", "1.0.0", ["--model", "/m", "mmlu", "--num_fewshot", "5"], "unknown flag --num_fewshot"),
    ("trtllm-eval", "1.0.0", ["--model", "/m", "mmlu"], "--dataset_path is required"),
    ("trtllm-eval", "1.3.0", ["--model", "/m", "--backend", "tensorrt", "gsm8k"], "'tensorrt' is not one of pytorch"),
    ("trtllm-llmapi-launch", "1.2.0", [], "needs the command it runs"),
])
def test_flags_a_release_does_not_have_are_refused(tool: str, version: str, argv: list[str], expected: str) -> None:
    problems = check(tool, version, argv)
    assert any(expected in p for p in problems), problems


# Aliases, negations, pinned rows ------------------------------------------------------------

def test_a_later_long_spelling_is_an_alias_of_the_flag_every_release_has() -> None:
    s12, s10 = surface("trtllm-serve", v("1.2.0"), "serve"), surface("trtllm-serve", v("1.0.0"), "serve")
    assert s12.fact("--tensor_parallel_size").name == "--tp_size"
    assert not s10.has("--tensor_parallel_size")
    problems = check("trtllm-serve", "1.2.0", ["/m", "--tp_size", "2", "--tensor_parallel_size", "2"])
    assert problems == ["trtllm-serve serve 1.2.0: --tensor_parallel_size given twice"]


def test_config_and_extra_llm_api_options_are_one_flag() -> None:
    problems = check("trtllm-serve", "1.3.0", ["/m", "--config", "a.yaml", "--extra_llm_api_options", "b.yaml"])
    assert problems == ["trtllm-serve serve 1.3.0: --extra_llm_api_options given twice"]
    parsed = surface("trtllm-serve", v("1.3.0")).parse(["/m", "--config", "a.yaml"]).leaf()
    assert parsed.values == {"--extra_llm_api_options": ("a.yaml",)} and parsed.positionals == ("/m",)


def test_an_alias_row_carries_its_own_pinned_state() -> None:
    # --config is accepted from 1.2.0rc3 on, but only pinned from 1.3.0rc0; the flag it spells is pinned throughout.
    early, late = surface("trtllm-serve", v("1.2.0rc5"), "serve"), surface("trtllm-serve", v("1.3.0rc1"), "serve")
    assert early.fact("--config").pinned is False and late.fact("--config").pinned is True
    assert early.fact("--extra_llm_api_options").pinned is True


def test_a_switch_and_its_negation_are_one_flag() -> None:
    s = surface("hf_ptq.py", v("0.37.0"))
    assert s.parse(["--pyt_ckpt_path", "/m", "--no-verbose"]).values == {"--pyt_ckpt_path": ("/m",),
                                                                         "--no-verbose": ()}
    twice = s.check(["--pyt_ckpt_path", "/m", "--verbose", "--no-verbose"])
    assert twice == ["hf_ptq.py 0.37.0: --no-verbose given twice"]
    assert check("trtllm-bench", "1.2.0", ["-m", "x", "throughput", "--disable_chunked_context"]) == []


def test_short_aliases_of_group_options() -> None:
    parsed = surface("trtllm-bench", v("1.1.0")).parse(["-m", "x", "-w", "/ws", "throughput", "--tp", "2"])
    assert parsed.values == {"--model": ("x",), "--workspace": ("/ws",)}
    assert parsed.sub is not None and parsed.sub.path == ("throughput",) and parsed.sub.values == {"--tp": ("2",)}


def test_a_subcommand_with_an_era_mapped_range_is_not_pinned() -> None:
    assert surface("trtllm-bench", v("1.2.0"), "prepare-dataset").pinned is False
    assert surface("trtllm-bench", v("1.3.0rc1"), "prepare-dataset token-norm-dist").pinned is True
    assert surface("trtllm-bench", v("1.2.0"), "throughput").pinned is True


def test_the_default_subcommand_takes_every_argument() -> None:
    parsed = surface("trtllm-serve", v("1.2.0")).parse(["--host", "127.0.0.1", "/m"])
    assert parsed.values == {} and parsed.sub is not None
    assert parsed.sub.path == ("serve",) and parsed.sub.values == {"--host": ("127.0.0.1",)}


def test_the_wrapper_hands_the_rest_of_the_line_to_the_command() -> None:
    parsed = surface("trtllm-llmapi-launch", v("1.2.0")).parse(["trtllm-serve", "/m", "--tp_size", "2"])
    assert parsed.wrapped == ("trtllm-serve", "/m", "--tp_size", "2") and parsed.all_problems() == []


def test_modelopt_versions_in_a_row_range_share_its_flags() -> None:
    # 0.33.1 is a patch of 0.33.0: same qformats; 0.35.0 added nvfp4_mlp_only.
    q0331 = surface("hf_ptq.py", v("0.33.1")).fact("--qformat")
    assert "nvfp4_mlp_only" not in q0331.choices
    assert "nvfp4_mlp_only" in surface("hf_ptq.py", v("0.35.0")).fact("--qformat").choices
    assert surface("hf_ptq.py", v("0.33.0")).fact("--export_fmt").default == "tensorrt_llm"
    assert surface("hf_ptq.py", v("0.37.0")).fact("--export_fmt").default == "hf"


# Data integrity of these files -----------------------------------------------------------------

def _levels(facts: tools.ToolFacts) -> Iterator[tools.ToolFacts]:
    yield facts
    for sub in facts.subcommands.values():
        yield from _levels(sub)


def _overlap(a: VersionRange, b: VersionRange) -> bool:
    a_until = a.until or Version(9999, 0)
    b_until = b.until or Version(9999, 0)
    return a.since < b_until and b.since < a_until


@pytest.mark.parametrize("tool", PYTORCH_TOOLS)
def test_rows_of_one_flag_do_not_overlap_and_each_names_a_source(tool: str) -> None:
    for level in _levels(tool_facts(tool)):
        for name, rows in level.rows.items():
            assert all(row.source for row in rows), (level.tool, name)
            for a, b in combinations(rows, 2):
                assert not _overlap(a.range, b.range), (level.tool, name, a.range, b.range)


@pytest.mark.parametrize("tool", PYTORCH_TOOLS)
def test_every_release_surface_maps_each_spelling_to_one_fact(tool: str) -> None:
    # A spelling claimed by two rows of different flags would make the check ambiguous.
    for version in ("1.0.0", "1.1.0", "1.2.0", "1.3.0rc1", "1.3.0", "0.33.0", "0.37.0", "0.47.0"):
        for level in _levels(tool_facts(tool)):
            spellings: dict[str, str] = {}
            for name, rows in level.rows.items():
                for row in rows:
                    if parse_version(version) in row.range and not row.alias_of:
                        for spelling in (name, *row.aliases, *([row.negation] if row.negation else [])):
                            assert spellings.setdefault(spelling, name) == name, (level.tool, version, spelling)


# Malformed files and the old format ----------------------------------------------------------

@pytest.fixture
def tools_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(tools, "TOOLS_DIR", tmp_path)
    tools.tool_facts.cache_clear()
    tools._surface.cache_clear()
    yield tmp_path
    tools.tool_facts.cache_clear()
    tools._surface.cache_clear()


def test_a_file_in_the_original_format_reads_as_before(tools_dir: Path) -> None:
    (tools_dir / "old.yaml").write_text(
        'tool: old\nsources: {s: "release note"}\nflags:\n'
        '  --a:\n    - {since: "0.8.0", until: "0.12.0", kind: int, source: s}\n'
        '  --b:\n    - {since: "0.8.0", kind: switch, aliases: [-b], source: s}\n')
    s = surface("old", v("0.9.0"))
    assert s.check(["--a", "1", "-b"]) == [] and s.positionals == () and s.subcommands == ()
    assert s.fact("--a") == FlagFact(name="--a", kind="int", range=VersionRange(v("0.8.0"), v("0.12.0")),
                                     source="release note")
    assert surface("old", v("0.12.0")).check(["--a", "1"]) == ["old 0.12.0: unknown flag --a",
                                                              "old 0.12.0: unexpected argument '1'"]


@pytest.mark.parametrize(("body", "expected"), [
    ('flags:\n  --x:\n    - {since: "1.0.0", alias_of: --nope, source: s}\n', "alias_of --nope"),
    ('flags:\n  --x:\n    - {since: "1.0.0", kind: int, negation: --no-x, source: s}\n', "only a switch"),
    ('default_subcommand: serve\nsubcommands: {other: {flags: {}}}\n', "default_subcommand 'serve'"),
    ('flags:\n  --x:\n    - {since: "1.0.0", kind: int, source: [s, t]}\n', "not listed under sources"),
    ('subcommands:\n  a:\n    releases: [{since: 1.0, source: s}]\n', "must be a quoted string"),
])
def test_malformed_files_are_refused_with_the_file_and_the_flag(tools_dir: Path, body: str, expected: str) -> None:
    (tools_dir / "bad.yaml").write_text('tool: bad\nsources: {s: "note"}\n' + body)
    with pytest.raises(ToolFactsError, match=expected):
        tool_facts("bad")


def test_an_unknown_subcommand_path_is_a_caller_error() -> None:
    with pytest.raises(ToolFactsError, match="no subcommand 'nope'"):
        surface("trtllm-bench", v("1.2.0"), "nope")
