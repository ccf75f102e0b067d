"""The `quantization.format: auto` policy, as an ordered table of data rows.

Follows the practice of seed 002 ("量化方法选择的最佳实践"): at batch <= 4 decoding is
memory-bound, so weight-only int4 (AWQ) wins; at batch >= 16 weight+activation
formats win, FP8 first on Ada/Hopper, else int8 SmoothQuant. FP8 is the first
choice whenever accuracy matters and the GPU has it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from compiler.spec import AccuracyPreference, QuantFormat

SMALL_BATCH = 4
LARGE_BATCH = 16


@dataclass(frozen=True)
class AutoRow:
    """One row: when it applies (batch range, minimum SM, preferences) and what it picks."""

    min_batch: int
    max_batch: int
    min_sm: int
    preferences: frozenset[AccuracyPreference]
    choice: QuantFormat
    why: str


_ALL = frozenset(AccuracyPreference)
_SPEEDY = frozenset({AccuracyPreference.SPEED, AccuracyPreference.BALANCED})
_ACCURATE = frozenset({AccuracyPreference.ACCURACY})

AUTO_TABLE: tuple[AutoRow, ...] = (
    AutoRow(1, SMALL_BATCH, 89, _ACCURATE, QuantFormat.FP8,
            "at batch <= 4 with accuracy first, FP8 keeps accuracy loss lowest and this GPU has FP8"),
    AutoRow(1, SMALL_BATCH, 80, _ACCURATE, QuantFormat.INT8_WO,
            "at batch <= 4 with accuracy first and no FP8 on this GPU, weight-only int8 loses least"),
    AutoRow(1, SMALL_BATCH, 80, _SPEEDY, QuantFormat.INT4_AWQ,
            "at batch <= 4 decoding is memory-bound, so weight-only int4 AWQ is fastest with low accuracy loss"),
    AutoRow(1, SMALL_BATCH, 0, _ALL, QuantFormat.INT8_WO,
            "at batch <= 4 decoding is memory-bound; below SM80 weight-only int8 is the supported weight-only format"),
    AutoRow(1, 1 << 30, 89, _ALL, QuantFormat.FP8,
            "above batch 4 compute matters too, and FP8 gives the best speed and accuracy on Ada/Hopper"),
    AutoRow(LARGE_BATCH, 1 << 30, 80, _SPEEDY | _ACCURATE, QuantFormat.INT8_SQ,
            "at batch >= 16 weight+activation int8 SmoothQuant is fastest where FP8 is unavailable"),
    AutoRow(SMALL_BATCH + 1, LARGE_BATCH - 1, 80, _SPEEDY, QuantFormat.INT4_AWQ,
            "at a middle batch without FP8, weight-only int4 AWQ still saves the most bandwidth"),
    AutoRow(SMALL_BATCH + 1, LARGE_BATCH - 1, 80, _ACCURATE, QuantFormat.INT8_SQ,
            "at a middle batch without FP8 and accuracy first, int8 SmoothQuant loses little"),
    AutoRow(1, 1 << 30, 0, _ALL, QuantFormat.INT8_WO,
            "below SM80 only weight-only formats are supported, and int8 keeps accuracy"),
)


def choose_auto_format(sm: int, max_batch_size: int, preference: AccuracyPreference,
                       servable: Callable[[QuantFormat], bool] = lambda fmt: True) -> tuple[QuantFormat, str]:
    """Pick the format for `auto` among those the backend can serve, and say why in one sentence."""
    for row in AUTO_TABLE:
        if row.min_batch <= max_batch_size <= row.max_batch and sm >= row.min_sm and preference in row.preferences \
                and servable(row.choice):
            return row.choice, f"auto picked {row.choice.value}: {row.why}"
    return QuantFormat.NONE, "auto found no quantization format this backend serves on this GPU, so none"
