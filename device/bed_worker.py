"""The bed sensor's thread: drain the accelerometer FIFO -> night analysis -> store.

The FIFO is drained well within its depth (an ADXL345 holds a third of a second at
100 Hz), samples are stamped on a steady grid, the pure analyzer turns them into
epochs and events, and the store keeps the epochs (not raw samples) and commits the
night's events. I2C failures become health and a reopen with backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from device.errors import SensorError
from device.health import Health
from device.sample_clock import SampleClock
from device.storage import Store

log = logging.getLogger(__name__)

BACKOFF_S = (0.5, 1, 2, 5, 10, 30)
# Hand the analyzer about a second of samples at a time: its cost per call is small
# and events are minutes long, so nothing is gained by feeding it more often.
FEED_EVERY_S = 1.0


class BedWorker:
    """Owns the accelerometer and the night analyzer; ``start()`` runs it in a thread.

    ``open_driver`` returns an object with ``read() -> [(x, y, z), ...]``,
    ``fifo_seconds``, ``counters`` and ``close()`` (an ADXL345 or MPU6050 driver).
    """

    def __init__(self, open_driver: Callable[[], object], analyzer, store: Store, health: Health, *,
                 rate_hz: float, clock=time.time):
        self._open_driver = open_driver
        self.analyzer = analyzer
        self._store = store
        self._health = health
        self._rate = rate_hz
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self.latest: tuple[float, float, float, float] | None = None  # t, x, y, z

    def start(self) -> None:
        self._health.set("bed", "starting", "opening the accelerometer")
        self._thread = threading.Thread(target=self._run, name="bed", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        driver = None
        while not self._stop.is_set():
            try:
                if driver is None:
                    driver = self._open_driver()
                self._drain_until_stopped(driver)
            except SensorError as exc:
                self._fail(f"{type(exc).__name__}: {exc}")
                driver = _close_quietly(driver)
            except Exception as exc:  # a bug must not end night monitoring for good
                log.exception("bed worker error")
                self._fail(f"unexpected {type(exc).__name__}: {exc}")
                driver = _close_quietly(driver)
            delay = BACKOFF_S[min(self._failures, len(BACKOFF_S)) - 1] if self._failures else 0
            if self._stop.wait(delay):
                break
        _close_quietly(driver)

    def _fail(self, detail: str) -> None:
        self._failures += 1
        self._health.count("bed", errors=1)
        self._health.set("bed", "failed", detail)
        log.warning("bed sensor: %s (retry %d)", detail, self._failures)

    def _drain_until_stopped(self, driver) -> None:
        stamps = SampleClock(self._rate)
        # Drain at a quarter of the FIFO's depth in time: late wake-ups of this
        # thread then still leave room before the chip overwrites samples.
        interval = min(0.5, driver.fifo_seconds / 4)
        chunks_t: list[np.ndarray] = []
        chunks_xyz: list[np.ndarray] = []
        last_feed = self._clock()
        overflows = driver.counters.get("overflows", 0)
        healthy = False
        while not self._stop.wait(interval):
            samples = driver.read()
            now = self._clock()
            if samples:
                xyz = np.asarray(samples, dtype=np.float64)
                chunks_t.append(stamps.stamp(len(xyz), now))
                chunks_xyz.append(xyz)
                self.latest = (now, *samples[-1])
                self._health.sample("bed", now)
                if not healthy:
                    self._health.set("bed", "ok", "reading")
                    self._failures = 0
                    healthy = True
            counters = driver.counters
            if counters.get("overflows", 0) > overflows:
                self._health.count("bed", glitches=counters["overflows"] - overflows)
                overflows = counters["overflows"]
            if now - last_feed >= FEED_EVERY_S and chunks_t:
                self._feed(np.concatenate(chunks_t), np.concatenate(chunks_xyz))
                chunks_t, chunks_xyz = [], []
                last_feed = now
        if chunks_t:
            self._feed(np.concatenate(chunks_t), np.concatenate(chunks_xyz))

    def _feed(self, t: np.ndarray, xyz: np.ndarray) -> None:
        events = self.analyzer.feed(t, xyz)
        epochs = self.analyzer.pop_epochs()
        if epochs:
            self._store.add_epochs(epochs)
        if events:
            for data in self._store.add_events(events):
                log.info("%s %s", data["type"], {k: v for k, v in data.items() if k not in ("id", "type")})


def _close_quietly(driver):
    if driver is not None:
        try:
            driver.close()
        except Exception:
            log.debug("closing the accelerometer failed", exc_info=True)
    return None
