"""(e) Hostile documents: how long `check` takes to refuse bombs, huge documents and a huge tp.

The hardening tests bound their memory; their time is measured here, not in tests
(shared CI machines are too noisy for wall-clock bounds). Targets on a 2-core machine:
each bomb under 3 s, each huge document under 10 s, the huge tp and an `extends:` of a
device or pipe under 2 s.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "hardening"))

from documents import HUGE_DOCUMENTS, HUGE_TP, MERGE_KEY_BOMB  # noqa: E402

BOMB_S, HUGE_S, QUICK_S = 3.0, 10.0, 2.0


def _alias_bomb(width: int, depth: int) -> str:
    lines = ["model: {name: llama-2-7b}", "target: {gpu: H100-SXM}", "l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * width) + "]" for n in range(1, depth + 1)]
    return "\n".join(lines) + "\n"


def _timed(check: Callable[[Path], object], folder: Path, text: str) -> float:
    path = folder / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    began = time.perf_counter()
    check(path)
    return time.perf_counter() - began


def main() -> list[str]:
    from compiler.pipeline import check_spec

    cases: list[tuple[str, str, float]] = [(f"alias bomb {w}x{d}", _alias_bomb(w, d), BOMB_S)
                                           for w, d in ((10, 9), (2, 40), (100, 4), (1000, 2), (3, 25))]
    cases.append(("merge-key bomb", MERGE_KEY_BOMB, BOMB_S))
    cases += [(f"huge: {name}", text, HUGE_S) for name, (text, _) in HUGE_DOCUMENTS.items()]
    cases.append(("tp x pp = 2**40", HUGE_TP, QUICK_S))
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, text, target in cases:
            seconds = _timed(check_spec, folder, text)
            lines.append(f"(e) {name}: {seconds:.2f} s (target {target:g} s){'' if seconds < target else ' MISSES'}")
        os.mkfifo(folder / "fifo.yaml")
        seconds = _timed(check_spec, folder, "extends: fifo.yaml\n")
        lines.append(f"(e) extends: a pipe: {seconds:.2f} s (target {QUICK_S:g} s)"
                     f"{'' if seconds < QUICK_S else ' MISSES'}")
    for line in lines:
        print(line, flush=True)
    return lines


if __name__ == "__main__":
    main()
