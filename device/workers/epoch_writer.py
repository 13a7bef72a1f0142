"""Batched epoch writes: the bed's activity epochs reach the SD card in one commit
every ``storage.epoch_flush_s`` instead of one commit per epoch.

Epochs are history for the night chart, not events: a power cut loses at most the
buffered ones (``epoch_flush_s`` worth), never a drink or a cramp, which are committed
at once. ``Store.epochs`` includes the buffered epochs (the writer registers itself as
an epoch source), so the dashboard's night chart does not lag; only the file does.
An epoch the analyzer refines keeps its newest value (same ``t``).
A failed flush (a full disk) keeps the epochs for the next try, bounded to
``MAX_PENDING`` (the oldest go first, counted in ``dropped``).

>>> from types import SimpleNamespace as E
>>> from device.storage.store import Store
>>> store = Store(":memory:")
>>> now = [0.0]
>>> w = EpochWriter(store, flush_s=300, clock=lambda: now[0])
>>> c = store.writes
>>> w.add([E(t=30.0, activity=1.0, presence=None)])
>>> store.writes - c, w.pending, store.epochs(0, 100)
(0, 1, [(30.0, 1.0, None)])
>>> now[0] = 300.0
>>> w.add([E(t=60.0, activity=2.0, presence=0.5)])
>>> store.writes - c, w.pending, store.epochs(0, 100)
(1, 0, [(30.0, 1.0, None), (60.0, 2.0, 0.5)])
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from device.storage.store import Store

log = logging.getLogger(__name__)

MAX_PENDING = 4 * 2880  # four days of 30 s epochs (a full disk for that long loses the oldest)


class EpochWriter:
    """Buffers epochs (objects with ``t``, ``activity``, ``presence``) and writes them in batches."""

    def __init__(self, store: Store, *, flush_s: float, clock: Callable[[], float] = time.monotonic):
        self._store = store
        self.flush_s = flush_s
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[float, tuple[float, float, float | None]] = {}
        self._last_flush = clock()
        self.dropped = 0
        self.flushes = 0
        store.add_epoch_source(self.pending_between)

    def pending_between(self, since: float, until: float) -> list[tuple[float, float, float | None]]:
        """Buffered ``(t, activity, presence)`` rows with ``since <= t < until`` (for ``Store.epochs``)."""
        with self._lock:
            return [row for t, row in self._pending.items() if since <= t < until]

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add(self, epochs: Iterable[Any]) -> None:
        """Buffer epochs; write the buffer when ``flush_s`` has passed since the last write."""
        with self._lock:
            for e in epochs:
                t = float(e.t)
                self._pending[t] = (t, float(e.activity), None if e.presence is None else float(e.presence))
            excess = len(self._pending) - MAX_PENDING
            if excess > 0:
                for t in sorted(self._pending)[:excess]:
                    del self._pending[t]
                self.dropped += excess
                log.error("%d bed epochs dropped: the database could not take them for too long", excess)
        if self._clock() - self._last_flush >= self.flush_s:
            self.flush()

    def flush(self) -> bool:
        """Write every buffered epoch in one transaction; False (epochs kept) if the write failed."""
        with self._lock:
            self._last_flush = self._clock()
            if not self._pending:
                return True
            rows = [self._pending[t] for t in sorted(self._pending)]
            try:
                self._store.add_epoch_rows(rows)
            except (sqlite3.Error, OSError) as exc:
                log.warning("%d bed epochs kept in memory, not written: %s", len(rows), exc)
                return False
            self._pending.clear()
            self.flushes += 1
            return True
