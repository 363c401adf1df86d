"""Progress of the long commands (``sync``, a full ``generate``) on stderr.

Library code reports progress through two plain callbacks, ``on_total(n)`` (how many
items the work holds, once known) and ``on_progress(k)`` (``k`` more are done); a
``ProgressReporter`` is the CLI's renderer of both:

- on a terminal, one line redrawn in place (at most ten times a second): a bar, the
  counts, the rate and the time left, e.g.
  ``syncing pypi [#######-------] 1,204/4,000 projects  48.2/s  ETA 58s``;
- elsewhere (a pipe, a log file, cron), a plain line every ``interval`` seconds
  (``TIMESHELF_PROGRESS_SECONDS``, default 5), e.g.
  ``syncing pypi: 1,204/4,000 projects (30%), 48.2/s, ETA 58s``, and a closing line
  when any was printed. Work shorter than the interval prints nothing.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

INTERVAL_VARIABLE = "TIMESHELF_PROGRESS_SECONDS"
DEFAULT_INTERVAL = 5.0
# Redraws of the terminal line per second, at most: a fast loop must not spend its time
# writing to the terminal.
REDRAW_SECONDS = 0.1
BAR_WIDTH = 24


def configured_interval() -> float:
    """Seconds between the plain lines: ``TIMESHELF_PROGRESS_SECONDS``, else 5 (a value
    that is not a positive number is ignored)."""
    text = os.environ.get(INTERVAL_VARIABLE, "")
    try:
        value = float(text)
    except ValueError:
        return DEFAULT_INTERVAL
    return value if value > 0 else DEFAULT_INTERVAL


def format_duration(seconds: float) -> str:
    """``42s``, ``5m07s``, ``2h03m``: a duration as people read it."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def describe(done: int, total: int | None, unit: str, elapsed: float) -> tuple[str, str]:
    """(counts, rate and ETA) of a task ``elapsed`` seconds in: ``("12/40 projects",
    "3.0/s, ETA 9s")``; no ETA while the total or the rate is unknown."""
    counts = f"{done:,}/{total:,} {unit}" if total is not None else f"{done:,} {unit}"
    if elapsed <= 0 or done == 0:
        return counts, ""
    rate = done / elapsed
    pace = f"{rate:.1f}/s" if rate < 100 else f"{rate:,.0f}/s"
    if total is not None and done < total:
        pace += f", ETA {format_duration((total - done) / rate)}"
    return counts, pace


class ProgressReporter:
    """Draws the progress of one task named ``label`` counting ``unit`` on ``stream``
    (default stderr): a bar when ``tty`` (default: whether the stream is a terminal),
    else a line every ``interval`` seconds. ``start`` and ``advance`` are the library's
    ``on_total`` and ``on_progress`` callbacks; ``close`` ends the display (also on
    leaving a ``with`` block). ``waiting`` is shown on a terminal until the total is
    known (reading a large upstream's listing takes a while)."""

    def __init__(
        self, label: str, unit: str, *, stream: TextIO | None = None, tty: bool | None = None,
        interval: float | None = None, clock: Callable[[], float] = time.monotonic,
        waiting: str = "",
    ) -> None:
        self.label, self.unit = label, unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.interval = configured_interval() if interval is None else interval
        self.clock = clock
        self.total: int | None = None
        self.done = 0
        self.started = clock()
        self._last = self.started
        self._printed = False
        self._drawn = False
        self._lock = threading.Lock()
        self._waiting = bool(self.tty and waiting)
        if self._waiting:
            self.stream.write(f"\r{label}: {waiting}\x1b[K")
            self.stream.flush()

    def start(self, total: int) -> None:
        """The task holds ``total`` items (the ETA's base)."""
        with self._lock:
            self.total = total
            self.started = self._last = self.clock()
            if self.tty and total:
                self._draw()

    def advance(self, step: int = 1) -> None:
        """``step`` more items are done."""
        with self._lock:
            self.done += step
            now = self.clock()
            if self.tty:
                if now - self._last >= REDRAW_SECONDS:
                    self._last = now
                    self._draw()
            elif now - self._last >= self.interval:
                self._last = now
                self._line()

    def close(self) -> None:
        """End the display: the bar's final state and a newline on a terminal, a closing
        line in a log that got periodic ones."""
        with self._lock:
            if self.tty and self._drawn:
                self._draw()
                self.stream.write("\n")
            elif self._waiting:
                self.stream.write("\r\x1b[K")  # the work ended before it had a total
            elif self._printed:
                self._line()
            self.stream.flush()

    def __enter__(self) -> ProgressReporter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _line(self) -> None:
        counts, pace = describe(self.done, self.total, self.unit, self.clock() - self.started)
        share = f" ({100 * self.done // self.total}%)" if self.total else ""
        self.stream.write(f"{self.label}: {counts}{share}" + (f", {pace}" if pace else "") + "\n")
        self.stream.flush()
        self._printed = True

    def _draw(self) -> None:
        counts, pace = describe(self.done, self.total, self.unit, self.clock() - self.started)
        total = self.total or 0
        filled = min(BAR_WIDTH, BAR_WIDTH * self.done // total) if total else 0
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        text = f"{self.label} [{bar}] {counts}" + (f"  {pace.replace(', ', '  ')}" if pace else "")
        width = shutil.get_terminal_size((100, 24)).columns
        # \r and erase-to-end-of-line: the line is redrawn in place, never wrapped.
        self.stream.write("\r" + text[: max(10, width - 1)] + "\x1b[K")
        self.stream.flush()
        self._drawn = True
