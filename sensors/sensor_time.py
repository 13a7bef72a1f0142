"""Sensor time: wall-clock seconds that never step, for the detectors' timelines.

The detectors measure durations (a bottle away for 12 s, a wake of 4 min) from the
times of their samples. Stamping samples with ``time.time()`` breaks them when the
wall clock is stepped (NTP's first sync after a Pi booted from a stale fake-hwclock,
someone running ``date -s``): a step back of an hour makes every duration negative
for an hour, a step forward makes a gap look like an hour of silence.

So the sensor threads stamp samples on the monotonic clock, anchored to the wall clock
when they start: ``now()`` is Unix time at the start plus monotonic time since. What
they detect is put back on the wall clock as it is stored (``to_wall``), with the
wall clock's offset at that moment: a step corrects the clock, so the whole event,
samples before the step included, gets the corrected time, and its duration stays
the true one.

>>> wall, mono = [1000.0], [5.0]
>>> st = SensorTime(wall=lambda: wall[0], mono=lambda: mono[0])
>>> mono[0] += 10; wall[0] += 10 - 3600  # ten seconds later the clock is set back an hour
>>> st.now(), st.check(), st.to_wall(1009.0)
(1010.0, -3600.0, -2591.0)
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


class SensorTime:
    """A step-free clock for a sensor thread, and the way back to wall time."""

    def __init__(self, *, wall=time.time, mono=time.monotonic, tolerance_s: float = 1.0):
        self._wall = wall
        self._mono = mono
        self._tolerance = tolerance_s
        self._anchor = wall() - mono()  # sensor time = monotonic + anchor, for good
        self.shift = 0.0  # wall time - sensor time, changed only by steps of the wall clock
        self.steps = 0

    def now(self) -> float:
        """Sensor time now: Unix seconds at the start plus monotonic seconds since."""
        return self._mono() + self._anchor

    def wall(self) -> float:
        return self._wall()

    def check(self) -> float:
        """Notice a step of the wall clock; return its size in seconds (0.0 when none).

        Cheap (two clock reads); the sensor threads call it with every batch they feed.
        Drift of less than ``tolerance_s`` is not a step (NTP slews both clocks alike).
        """
        shift = self._wall() - self.now()
        step = shift - self.shift
        if abs(step) <= self._tolerance:
            return 0.0
        self.shift = shift
        self.steps += 1
        log.warning("the wall clock stepped by %+.0f s; events are stored on the new clock", step)
        return step

    def to_wall(self, t: float) -> float:
        """A sensor time as wall-clock Unix time, on the wall clock as it is now."""
        return t + self.shift
