"""The bottle's sampling thread: HX711 -> grams -> detector -> store.

Reads continuously, converts with the stored calibration, feeds the pure detector in
small batches and commits each event before anything else sees it. Samples are
stamped on step-free sensor time (sensors.sensor_time) and events put back on the wall
clock as they are stored, so a wall-clock step changes no duration. A sensor that
times out or fails is reported in health and reopened with backoff; the thread never
dies for it.
"""

from __future__ import annotations

import logging
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from device.health import Health
from device.storage.store import Store
from device.workers.sensor_worker import SensorWorker
from sensors.calibration import Calibration
from sensors.sensor_time import SensorTime
from vocabulary.errors import SensorGlitch

log = logging.getLogger(__name__)

# Feed the detector every half second: small enough that events reach the store
# promptly, large enough that the per-call overhead stays negligible at 80 SPS.
FEED_INTERVAL_S = 0.5


@dataclass
class Reading:
    """The latest calibrated reading, for the live views."""

    t: float
    grams: float


class BottleWorker(SensorWorker):
    """Owns the HX711 and the detector; ``start()`` runs it in a thread.

    ``open_driver`` returns an object with ``read_raw(timeout)`` and ``close()``
    (a :class:`sensors.hx711.HX711` or the same driver on simulated pins).
    """

    reopen_on_error = False  # after a timeout the HX711's next read works

    def __init__(self, open_driver: Callable[[], object], detector, store: Store, health: Health, *,
                 calibration: Calibration, rate_hz: float, sensor_time: SensorTime | None = None,
                 on_reading: Callable[[Reading], None] | None = None):
        super().__init__("bottle", open_driver, store, health, sensor_time=sensor_time)
        self.detector = detector
        self.calibration = calibration
        # About 3 s of recent readings, for tare: the median ignores a spike.
        self._recent: deque[float] = deque(maxlen=max(5, int(3 * rate_hz)))
        self._timeout = max(1.0, 5.0 / rate_hz)
        self._on_reading = on_reading
        self.latest: Reading | None = None

    def _sample_until_stopped(self, driver) -> None:
        from sensors.hx711 import is_saturated

        ts: list[float] = []
        gs: list[float] = []
        clock = self.time
        last_feed = clock.now()
        healthy = False
        while not self._stop.is_set():
            try:
                raw = driver.read_raw(timeout=self._timeout)
            except SensorGlitch:  # raised only where warnings are errors (tests)
                self._health.count("bottle", glitches=1)
                continue
            now = clock.now()
            if is_saturated(raw):
                self._health.count("bottle", glitches=1)
                continue
            grams = self.calibration.to_grams(raw)
            self._recent.append(grams)
            ts.append(now)
            gs.append(grams)
            self.latest = Reading(clock.to_wall(now), grams)
            self._health.sample("bottle", self.latest.t)
            if not healthy:
                self._healthy()
                healthy = True
            if self._on_reading is not None:
                self._on_reading(self.latest)
            if now - last_feed >= FEED_INTERVAL_S:
                self._feed(ts, gs)
                ts, gs = [], []
                last_feed = now
        if ts:
            self._feed(ts, gs)

    def set_calibration(self, calibration: Calibration) -> None:
        """Convert with ``calibration`` from the next reading on; the detector takes its
        empty bottle's weight at once (contents and events of the running worker)."""
        self.calibration = calibration
        self.detector.set_empty_bottle(calibration.empty_bottle_g)

    def tare(self) -> Calibration:
        """Make what the empty scale reads now its zero, and store the calibration.

        Refused (ValueError) while the bottle stands on the scale: taring it away would
        hide it from the detector and from the intake.
        """
        if self.detector.state.present:
            raise ValueError("take the bottle off the scale before taring")
        if len(self._recent) < 5:
            raise ValueError("no recent readings to tare from")
        from device.workers.calibration import save_calibration

        level = statistics.median(self._recent)
        cal = self.calibration
        self.calibration = cal.with_tare(cal.offset + level * cal.counts_per_gram)
        save_calibration(self._store, self.calibration)
        log.info("scale tared: zero moved by %.1f g", level)
        return self.calibration

    def _feed(self, ts: list[float], gs: list[float]) -> None:
        events = self.detector.feed(np.asarray(ts), np.asarray(gs))
        for data in self._store_detected(events or []):
            log.info("%s %.0f mL", data["type"], data.get("ml", 0))

