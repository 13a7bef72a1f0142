"""The bed sensor's thread: drain the accelerometer FIFO -> night analysis -> store.

The FIFO is drained well within its depth (an ADXL345 holds a third of a second at
100 Hz), samples are stamped on a steady grid, the pure analyzer turns them into
epochs and events, and the store keeps the epochs (not raw samples) and commits the
night's events. Epochs are written in batches (device.workers.epoch_writer: one commit every
``epoch_flush_s``, and at stop; ``Store.epochs`` shows the buffered ones too, so the
night chart does not lag); events are committed at once, and kept in memory and
retried when the disk is full. I2C failures become health and a reopen with backoff.
Samples are stamped on step-free sensor time (sensors.sensor_time); epochs and events
go back on the wall clock as they are stored, so a wall-clock step during a night
changes none of its durations.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from device.health import Health
from device.storage.store import Store
from device.workers.epoch_writer import EpochWriter
from device.workers.sensor_worker import SensorWorker
from sensors.sample_clock import SampleClock
from sensors.sensor_time import SensorTime

log = logging.getLogger(__name__)

# Hand the analyzer about a second of samples at a time: its cost per call is small
# and events are minutes long, so nothing is gained by feeding it more often.
FEED_EVERY_S = 1.0
# "In bed" is unknown once the sensor has been silent this long (a loose wire, a stop).
IN_BED_STALE_S = 60.0


class BedWorker(SensorWorker):
    """Owns the accelerometer and the night analyzer; ``start()`` runs it in a thread.

    ``open_driver`` returns an object with ``read() -> [(x, y, z), ...]``,
    ``fifo_seconds``, ``counters`` and ``close()`` (an ADXL345 or MPU6050 driver).
    """

    def __init__(self, open_driver: Callable[[], object], analyzer, store: Store, health: Health, *,
                 rate_hz: float, sensor_time: SensorTime | None = None, epoch_flush_s: float = 0.0):
        super().__init__("bed", open_driver, store, health, sensor_time=sensor_time)
        self.analyzer = analyzer
        self.epoch_writer = EpochWriter(store, flush_s=epoch_flush_s)
        self._rate = rate_hz
        self.latest: tuple[float, float, float, float] | None = None  # t, x, y, z
        self._latest_at: float | None = None  # the last feed, in sensor time (step-free)

    def _sample_until_stopped(self, driver) -> None:
        stamps = SampleClock(self._rate)
        # Drain at a quarter of the FIFO's depth in time: late wake-ups of this
        # thread then still leave room before the chip overwrites samples.
        interval = min(0.5, driver.fifo_seconds / 4)
        chunks_t: list[np.ndarray] = []
        chunks_xyz: list[np.ndarray] = []
        clock = self.time
        last_feed = clock.now()
        overflows = driver.counters.get("overflows", 0)
        healthy = False
        while not self._stop.wait(interval):
            samples = driver.read()
            now = clock.now()
            if samples:
                xyz = np.asarray(samples, dtype=np.float64)
                chunks_t.append(stamps.stamp(len(xyz), now))
                chunks_xyz.append(xyz)
                self.latest = (clock.to_wall(now), *samples[-1])
                self._health.sample("bed", self.latest[0])
                if not healthy:
                    self._healthy()
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
        self._latest_at = self.time.now()
        events = self.analyzer.feed(t, xyz)
        epochs = self.analyzer.pop_epochs()
        stored = self._store_detected(events or [])  # notices a step of the wall clock
        if epochs:
            shift = self.time.shift
            self.epoch_writer.add([replace(e, t=e.t + shift) for e in epochs] if shift else epochs)
        for data in stored:
            log.info("%s %s", data["type"], {k: v for k, v in data.items() if k not in ("id", "type")})

    def in_bed(self) -> bool | None:
        """Someone is on the bed, by the analyzer's latest decided epoch (about a minute
        behind someone getting in, two behind the last one getting out); None when not
        decided yet or when no sample came for IN_BED_STALE_S."""
        latest_at = self._latest_at
        if latest_at is None or self.time.now() - latest_at > IN_BED_STALE_S:
            return None
        return self.analyzer.in_bed

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        self.epoch_writer.flush()  # a clean stop loses no epoch

