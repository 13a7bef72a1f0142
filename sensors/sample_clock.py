"""Timestamps for FIFO samples: a steady grid at the chip's rate, kept near wall time.

A FIFO drain returns n samples with no times. Stamping them "now" would make the
grid jitter with the drain's scheduling; instead each sample follows the previous one
by one period, and the grid is nudged slowly toward wall time (the chip's oscillator
is off by a few percent). A jump of more than ``max_error_s`` - samples lost to an
overflow, the clock set - re-anchors the grid on wall time.

>>> clock = SampleClock(rate_hz=10)
>>> clock.stamp(3, now=100.0).round(2).tolist()
[99.8, 99.9, 100.0]
>>> clock.stamp(2, now=100.2).round(2).tolist()
[100.1, 100.2]
"""

from __future__ import annotations

import numpy as np


class SampleClock:
    """Stamps batches of evenly spaced samples (see the module docstring)."""

    def __init__(self, rate_hz: float, *, gain: float = 0.02, max_error_s: float = 0.5):
        self.period = 1.0 / rate_hz
        self._gain = gain
        self._max_error = max_error_s
        self._last: float | None = None
        self.reanchors = 0

    def stamp(self, n: int, now: float) -> np.ndarray:
        """Times of ``n`` samples whose newest arrived by ``now``."""
        if n <= 0:
            return np.empty(0)
        if self._last is None:
            first = now - (n - 1) * self.period
        else:
            first = self._last + self.period
            error = now - (first + (n - 1) * self.period)  # >0: the grid runs behind wall time
            if abs(error) > self._max_error:
                self.reanchors += 1
                first = max(now - (n - 1) * self.period, self._last + self.period)
            else:
                first += self._gain * error
        times = first + self.period * np.arange(n)
        self._last = float(times[-1])
        return times
