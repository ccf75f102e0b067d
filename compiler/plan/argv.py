"""An argv under construction: every argument filed under the aspect it belongs to, plus the decisions behind it.

Aspects name what went into a step (the tool, the quantization inputs, the
parallelism, the build arguments, the outputs of earlier steps), so that `diff`
can say why a step re-runs. Values that start with '-' are passed as
`--flag=value`, so that argparse never mistakes a prompt or dataset name for an option.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from compiler.decide.model import Note
from compiler.plan.model import Arg, Var

TOOL = "tool"
QUANT_INPUTS = "quant_inputs"
PARALLELISM = "parallelism"
BUILD_ARGS = "build_args"
UPSTREAM = "upstream"
LAUNCH = "launch"

Value = Arg | int | float


@dataclass
class Argv:
    """Arguments in order, each with its aspect, and the notes that explain them."""

    parts: list[tuple[str, Arg]] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def add(self, aspect: str, *args: Arg) -> None:
        self.parts.extend((aspect, arg) for arg in args)

    def opt(self, aspect: str, flag: str, value: Value) -> None:
        """`flag value`, or `flag=value` when the value could be read as an option."""
        text: Arg = value if isinstance(value, Var) else _text(value)
        if isinstance(text, str) and text.startswith("-"):
            self.add(aspect, f"{flag}={text}")
        else:
            self.add(aspect, flag, text)

    def note(self, topic: str, choice: str, reason: str) -> None:
        self.notes.append(Note(topic, choice, reason))

    @property
    def argv(self) -> tuple[Arg, ...]:
        return tuple(arg for _, arg in self.parts)

    def by_aspect(self) -> dict[str, list[Arg]]:
        grouped: dict[str, list[Arg]] = {}
        for aspect, arg in self.parts:
            grouped.setdefault(aspect, []).append(arg)
        return grouped


def _text(value: int | float | str) -> str:
    if isinstance(value, bool):  # a bool here is a programming error: switches are added bare
        raise TypeError("pass switches with Argv.add")
    return str(value)
