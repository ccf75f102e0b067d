"""What the user sees while steps run.

Two reporters with one interface: `PlainReporter` prints one line per step start,
finish and skip and nothing else (CI logs; the step's own output is in its log
file), and `LiveReporter` adds a rich Live panel with the running step's last
lines. rich is imported only by `LiveReporter`, so plain runs never load it.
The runner calls `tick()` from its own loop: the live view needs no thread.
"""

from __future__ import annotations

import codecs
import collections
import sys
import time
from typing import IO, Any, Protocol

from compiler.run.plandoc import RunStep

TAIL_LINES = 12
REFRESH_S = 0.1
PARTIAL_MAX = 1 << 16


class Reporter(Protocol):
    """Events of a build, in the order the runner emits them."""

    def skipped(self, step: RunStep, total: int, why: str) -> None: ...

    def started(self, step: RunStep, total: int, why: str) -> None: ...

    def output(self, data: bytes) -> None: ...

    def tick(self) -> None: ...

    def finished(self, step: RunStep, total: int, seconds: float) -> None: ...

    def failed(self, step: RunStep, total: int, seconds: float, why: str) -> None: ...

    def close(self) -> None: ...


def counter(step: RunStep, total: int) -> str:
    return f"[{step.index}/{total}] {step.id}"


def seconds_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


class PlainReporter:
    """One line per event; flushes each, so CI shows progress as it happens."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout

    def _line(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def skipped(self, step: RunStep, total: int, why: str) -> None:
        self._line(f"{counter(step, total)} … skipped ({why})")

    def started(self, step: RunStep, total: int, why: str) -> None:
        self._line(f"{counter(step, total)} … running ({why}); log: {step.log}")

    def output(self, data: bytes) -> None:
        pass  # the log file has it

    def tick(self) -> None:
        pass

    def finished(self, step: RunStep, total: int, seconds: float) -> None:
        self._line(f"{counter(step, total)} … {seconds_text(seconds)}")

    def failed(self, step: RunStep, total: int, seconds: float, why: str) -> None:
        self._line(f"{counter(step, total)} … FAILED after {seconds_text(seconds)} ({why})")

    def close(self) -> None:
        pass


class LineTail:
    """The last lines of a byte stream, with carriage-return progress bars collapsed to their latest state."""

    def __init__(self, size: int = TAIL_LINES) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=size)
        self.partial = ""
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> None:
        text = self.partial + self.decoder.decode(data)
        *complete, self.partial = text.split("\n")
        self.lines.extend(_last_segment(line) for line in complete)
        if len(self.partial) > PARTIAL_MAX:  # a progress bar redrawn with \r for hours: keep its end
            self.partial = self.partial[-PARTIAL_MAX // 16:]

    def text(self) -> str:
        shown = list(self.lines) + ([_last_segment(self.partial)] if self.partial else [])
        return "\n".join(shown[-TAIL_LINES:])


def _last_segment(line: str) -> str:
    """What a terminal shows of a line redrawn with carriage returns."""
    return line.rstrip("\r").rsplit("\r", 1)[-1]


class LiveReporter(PlainReporter):
    """The plain lines above a rich Live panel showing the running step's last lines and its elapsed time."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.live import Live

        super().__init__()
        self.console = console or Console()
        self.live = Live(console=self.console, auto_refresh=False, transient=True)
        self.step: RunStep | None = None
        self.total = 0
        self.began = 0.0
        self.last_draw = 0.0
        self.tail = LineTail()

    def _line(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False)

    def started(self, step: RunStep, total: int, why: str) -> None:
        super().started(step, total, why)
        self.step, self.total, self.began, self.tail = step, total, time.monotonic(), LineTail()
        self.live.start()
        self._draw(force=True)

    def output(self, data: bytes) -> None:
        self.tail.feed(data)
        self._draw()

    def tick(self) -> None:
        self._draw()

    def _draw(self, force: bool = False) -> None:
        from rich.panel import Panel
        from rich.text import Text

        now = time.monotonic()
        if self.step is None or (not force and now - self.last_draw < REFRESH_S):
            return
        self.last_draw = now
        title = f"{counter(self.step, self.total)} · {seconds_text(now - self.began)}"
        body = Text(self.tail.text() or "(no output yet)", no_wrap=True, overflow="ellipsis")
        self.live.update(Panel(body, title=title, title_align="left", subtitle=self.step.log), refresh=True)

    def _stop(self) -> None:
        if self.step is not None:
            self.live.stop()
            self.step = None

    def finished(self, step: RunStep, total: int, seconds: float) -> None:
        self._stop()
        super().finished(step, total, seconds)

    def failed(self, step: RunStep, total: int, seconds: float, why: str) -> None:
        self._stop()
        super().failed(step, total, seconds, why)

    def close(self) -> None:
        self._stop()


def make_reporter(plain: bool) -> Reporter:
    """Plain when asked or when stdout is not a terminal; the live view otherwise."""
    if plain or not sys.stdout.isatty():
        return PlainReporter()
    return LiveReporter()
