"""What every sensor thread shares: open the driver, sample until stopped, and turn
failures into health and a retry with backoff instead of an exit.

Subclasses implement :meth:`SensorWorker._sample_until_stopped` and call
:meth:`SensorWorker._healthy` when a good sample arrives.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence

from device.errors import SensorError
from device.health import Health

log = logging.getLogger(__name__)

BACKOFF_S = (0.5, 1, 2, 5, 10, 30)
# Events that could not be committed (a full disk) wait here and are retried every
# RETRY_S and with each new event; beyond MAX_UNWRITTEN the oldest are given up (logged).
MAX_UNWRITTEN = 1000
RETRY_S = 5.0


class SensorWorker:
    """A named sensor thread (``bottle``, ``bed``) reporting to ``health`` under that name.

    ``reopen_on_error``: close and reopen the driver after a :class:`SensorError`
    (an I2C driver whose bus went away), or keep it (the HX711, whose next read works
    after a timeout).
    """

    reopen_on_error = True

    def __init__(self, name: str, open_driver: Callable[[], object], health: Health):
        self.name = name
        self._open_driver = open_driver
        self._health = health
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self.unwritten: list = []  # detected events the store could not take yet
        self.events_lost = 0  # given up beyond MAX_UNWRITTEN
        self._next_retry = 0.0

    def start(self) -> None:
        self._health.set(self.name, "starting", f"opening the {self.name} sensor")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        store = getattr(self, "_store", None)
        if self.unwritten and store is not None:  # one last try; what still fails is named in the log
            self._next_retry = 0.0
            self._store_events(store, [])
            if self.unwritten:
                log.error("%s: stopping with %d events that could not be stored: %s", self.name,
                          len(self.unwritten), [e.to_dict() for e in self.unwritten])

    def _sample_until_stopped(self, driver) -> None:
        raise NotImplementedError

    def _healthy(self) -> None:
        """A good sample after a start or a failure: health ok, backoff reset."""
        self._health.set(self.name, "ok", "reading")
        self._failures = 0

    def _store_events(self, store, events: Sequence) -> list[dict]:
        """Commit ``events`` (and any kept from a failed write); return the newly stored ones.

        A failed commit (the disk is full) keeps them in memory, bounded, and they are
        retried with the next events or after RETRY_S. Ids make a retry idempotent.
        """
        if not events and (not self.unwritten or time.monotonic() < self._next_retry):
            return []
        batch = self.unwritten + list(events)
        try:
            new = store.add_events(batch)
        except sqlite3.Error as exc:
            keep = batch[-MAX_UNWRITTEN:]
            lost = len(batch) - len(keep)
            if lost:
                self.events_lost += lost
                log.error("%s: %d unwritten events given up (more than %d waiting): %s",
                          self.name, lost, MAX_UNWRITTEN, [e.id for e in batch[:lost]])
            if not self.unwritten:
                log.warning("%s: events kept in memory, the database refused them: %s", self.name, exc)
            self.unwritten = keep
            self._next_retry = time.monotonic() + RETRY_S
            return []
        if self.unwritten:
            log.info("%s: %d events kept in memory are now stored", self.name, len(self.unwritten))
            self.unwritten = []
        return new

    def _run(self) -> None:
        driver = None
        while not self._stop.is_set():
            try:
                if driver is None:
                    driver = self._open_driver()
                self._sample_until_stopped(driver)
            except SensorError as exc:
                self._fail(f"{type(exc).__name__}: {exc}")
                if self.reopen_on_error:
                    driver = _close_quietly(driver)
            except Exception as exc:  # a bug must not end sampling for good
                log.exception("%s worker error", self.name)
                self._fail(f"unexpected {type(exc).__name__}: {exc}")
                driver = _close_quietly(driver)
            delay = BACKOFF_S[min(self._failures, len(BACKOFF_S)) - 1] if self._failures else 0
            if self._stop.wait(delay):
                break
        _close_quietly(driver)

    def _fail(self, detail: str) -> None:
        self._failures += 1
        self._health.count(self.name, errors=1)
        self._health.set(self.name, "failed", detail)
        log.warning("%s sensor: %s (retry %d)", self.name, detail, self._failures)


def _close_quietly(driver):
    if driver is not None:
        try:
            driver.close()
        except Exception:  # closing a broken driver must not mask the real error
            log.debug("closing a driver failed", exc_info=True)
    return None
