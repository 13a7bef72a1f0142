"""What every sensor thread shares: open the driver, sample until stopped, and turn
failures into health and a retry with backoff instead of an exit; step-free sensor
time (sensors.sensor_time) and committing what it detects on the wall clock, kept and
retried when the store refuses it (device.storage.pending_events).

Subclasses implement :meth:`SensorWorker._sample_until_stopped` and call
:meth:`SensorWorker._healthy` when a good sample arrives.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from device.health import Health
from device.storage.pending_events import PendingEvents
from sensors.sensor_time import SensorTime
from vocabulary.errors import SensorError

log = logging.getLogger(__name__)

BACKOFF_S = (0.5, 1, 2, 5, 10, 30)


class SensorWorker:
    """A named sensor thread (``bottle``, ``bed``) reporting to ``health`` under that name.

    ``reopen_on_error``: close and reopen the driver after a :class:`SensorError`
    (an I2C driver whose bus went away), or keep it (the HX711, whose next read works
    after a timeout).
    """

    reopen_on_error = True

    def __init__(self, name: str, open_driver: Callable[[], object], store, health: Health, *,
                 sensor_time: SensorTime | None = None):
        self.name = name
        self._open_driver = open_driver
        self._store = store
        self._health = health
        self.time = sensor_time or SensorTime()  # what samples are stamped with
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self.pending = PendingEvents(name)  # detected events the store could not take yet

    def start(self) -> None:
        self._health.set(self.name, "starting", f"opening the {self.name} sensor")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.pending.close(self._store)

    def _sample_until_stopped(self, driver) -> None:
        raise NotImplementedError

    def _healthy(self) -> None:
        """A good sample after a start or a failure: health ok, backoff reset."""
        self._health.set(self.name, "ok", "reading")
        self._failures = 0

    def _store_detected(self, events: Sequence) -> list[dict]:
        """Commit ``events`` detected on sensor time, put on the wall clock as it is now (a
        step noticed here), and any kept from a failed write; return the newly stored ones.

        A failed commit (the disk is full) keeps them in memory, bounded, and they are
        retried with the next events or a few seconds later (device.storage.pending_events).
        """
        self.time.check()
        return self.pending.store(self._store, [e.shifted(self.time.shift) for e in events])

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
