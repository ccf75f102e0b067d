"""Hostile documents shared by the hardening tests (memory bounds) and bench/bench_hostile.py (time bounds)."""

from __future__ import annotations

HUGE = 1 << 20  # the loader's file limit
# Memory allowed while refusing one bomb (peak traced), and one huge document (growth of the peak resident set).
BOMB_MEMORY = 64 << 20
HUGE_MEMORY = 512 << 20

HUGE_DOCUMENTS = {
    "deep flow": ("[" * (HUGE - 1), "S106"),
    "deep block sequence": ("- " * (HUGE // 2 - 1), "S106"),
    "indentation staircase": ("".join(" " * i + "a:\n" for i in range(1400)), "S106"),
    "100k keys": ("".join(f"k{i}: {i}\n" for i in range(100_000)), "S106"),
    "long scalar": ("description: " + "x" * (HUGE - 100) + "\n", "S108"),
    "long flow list": ("ignore: [" + "D101," * ((HUGE - 20) // 5) + "D101]\n", "S106"),
    "over the limit": ("a: 1\n" * (HUGE // 5 + 1), "S106"),
}

MERGE_KEY_BOMB = "\n".join(
    ["a0: &a0 {k: 1, j: 2}"]
    + [f"a{i}: &a{i} {{<<: [*a{i - 1}, *a{i - 1}, *a{i - 1}], x{i}: 1}}" for i in range(1, 30)]
) + "\n"

# tp x pp up to 2**40 over 4096 nodes: the D and M hints must not try every layout.
HUGE_TP = ("model: {name: llama-3.1-405b}\nparallelism: {tp: 1048576, pp: 1048576}\n"
           "target: {gpu: T4, gpus_per_node: 64, nodes: 4096}\nlimits: {max_batch_size: 1048576}\n")
