"""The storage step's watchman: free space, writes per hour, epoch retention.

Every ``interval`` seconds it looks at the data directory's file system (``statvfs``)
and at the store's write accounting, and sets health ``storage``:

- ``ok`` with the writes (commits that changed rows) of the last hour
  (``writes_per_hour``, also a field of the health entry, so ``crampwatch status``,
  the dashboard and health.json show it);
- ``degraded`` when the last write failed for want of space, or free space is below
  ``storage.min_free_mb``: the daemon keeps running, detected events wait in memory
  (the sensor workers retry them) and are written when space returns.

From its first round on and then once a day it deletes epochs older than
``storage.epoch_retention_days`` in small batches. Events are never deleted.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable

from device.health import Health
from device.storage.store import Store

log = logging.getLogger(__name__)

INTERVAL_S = 5.0
DAY_S = 86400.0
MB = 1024 * 1024


def free_mb(path: str) -> float | None:
    """Free space (for an unprivileged writer) on the file system holding ``path``, in MB."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize / MB


class StorageMonitor:
    """Watches ``store`` for the daemon; ``check()`` is one round (the thread calls it)."""

    def __init__(self, store: Store, health: Health, *, min_free_mb: float, retention_days: int,
                 unwritten: Callable[[], int] = lambda: 0, retry: Callable[[], None] = lambda: None,
                 interval: float = INTERVAL_S,
                 clock: Callable[[], float] = time.time):
        self.store = store
        self.health = health
        self.min_free_mb = min_free_mb
        self.retention_days = retention_days
        self._unwritten = unwritten
        self._retry = retry
        self.interval = interval
        self._clock = clock
        self._next_retention = 0.0
        self.epochs_deleted = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._dir = os.path.dirname(os.path.abspath(store.path)) if store.path != ":memory:" else None

    def start(self) -> None:
        self.update_health()  # retention, which may have much to delete after an upgrade, runs on the thread
        self._thread = threading.Thread(target=self._run, name="storage-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while True:
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the watchman must not die of one bad round
                log.exception("storage check failed")
            if self._stop.wait(self.interval):
                return

    def check(self) -> None:
        """Retry kept events, retention when due, then health from free space and the last write."""
        self._retry()
        if self.retention_days and self._clock() >= self._next_retention:
            self.apply_retention()
        self.update_health()

    def apply_retention(self) -> int:
        """Delete epochs older than the retention (batched); the next run is a day later."""
        self._next_retention = self._clock() + DAY_S
        cutoff = self._clock() - self.retention_days * DAY_S
        try:
            deleted = self.store.delete_epochs_before(cutoff)
        except sqlite3.Error as exc:  # a full disk: try again at the next round's day
            log.warning("epoch retention could not run: %s", exc)
            return 0
        if deleted:
            log.info("retention: %d epochs older than %d days deleted", deleted, self.retention_days)
        self.epochs_deleted += deleted
        return deleted

    def update_health(self) -> None:
        store = self.store
        writes = store.writes_last_hour()
        free = None if self._dir is None else free_mb(self._dir)
        self.health.measure("storage", writes_per_hour=writes, writes=store.writes,
                            rows_written=store.rows_written,
                            free_mb=None if free is None else round(free, 1), unwritten_events=self._unwritten())
        where = self._dir or "memory"
        space = "" if free is None else f"{free:.1f} MB free on {where}"
        if store.disk_full:
            waiting = self._unwritten()
            self.health.set("storage", "degraded",
                            f"disk full: {space}; {waiting} new event(s) kept in memory, written when space returns")
        elif store.last_write_error is not None:
            self.health.set("storage", "degraded", f"last write failed: {store.last_write_error}")
        elif free is not None and free < self.min_free_mb:
            self.health.set("storage", "degraded",
                            f"low disk space: {space} (storage.min_free_mb is {self.min_free_mb:g}); "
                            f"{writes} writes in the last hour")
        else:
            self.health.set("storage", "ok", f"{store.path}; {writes} writes in the last hour"
                            + (f"; {space}" if space else ""))
