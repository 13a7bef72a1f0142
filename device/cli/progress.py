"""A one-line progress display on stderr for long commands: on a terminal only.

``crampwatch simulate``, ``replay`` and ``report`` show where they are on one line of
stderr, redrawn in place, and wipe it when done; piped or redirected (a script, a log,
``2>file``) they print nothing of it, so their output stays clean.

>>> import io
>>> with progress_line("simulate", stream=io.StringIO()) as progress:  # not a terminal
...     progress is None
True
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

_CLEAR = "\r\x1b[K"  # back to the start of the line, erase it


class Progress:
    """One line on a terminal: ``progress(0.42)`` shows ``label: 42%``, ``progress.step(text)``
    shows ``label: text``. Redrawn at most every ``interval_s`` seconds (a step, always)."""

    def __init__(self, label: str, stream: TextIO, *, interval_s: float = 0.1,
                 clock: Callable[[], float] = time.monotonic):
        self.label, self.stream, self.interval_s, self._clock = label, stream, interval_s, clock
        self._shown_at: float | None = None

    def __call__(self, fraction: float, note: str = "") -> None:
        now = self._clock()
        if self._shown_at is not None and now - self._shown_at < self.interval_s and fraction < 1.0:
            return
        percent = 100.0 * min(max(fraction, 0.0), 1.0)
        self._show(f"{percent:5.1f}%" + (f" {note}" if note else ""), now)

    def step(self, text: str) -> None:
        """Show what is being done now (a stage without a fraction)."""
        self._show(text, self._clock())

    def close(self) -> None:
        """Wipe the line (what the command prints next starts on a clean line)."""
        if self._shown_at is not None:
            self._write(_CLEAR)
            self._shown_at = None

    def _show(self, text: str, now: float) -> None:
        self._shown_at = now
        self._write(f"{_CLEAR}{self.label}: {text}")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # the terminal went away: the work goes on
            pass


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


@contextmanager
def progress_line(label: str, *, stream: TextIO | None = None) -> Iterator[Progress | None]:
    """``with progress_line("replay") as progress:`` a :class:`Progress` on stderr when it is
    a terminal, else None (nothing to show, and callers may skip work done only to show it)."""
    stream = sys.stderr if stream is None else stream
    if not is_terminal(stream):
        yield None
        return
    progress = Progress(label, stream)
    try:
        yield progress
    finally:
        progress.close()
