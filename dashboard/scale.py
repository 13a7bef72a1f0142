"""The bottle scale as the dashboard sees it, on top of the daemon's sampling thread.

The daemon's :class:`device.workers.bottle_worker.BottleWorker` owns the HX711; the dashboard
never opens it. :class:`WorkerScale` gives the live reading, and a robust raw level
for calibration: it collects the worker's next readings and turns each back into
counts with the calibration that produced it (the conversion is linear), then takes
:func:`sensors.calibration.robust_level` of them, like ``crampwatch calibrate``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from device.workers.calibration import READS_PER_STEP
from sensors.calibration import Calibration, robust_level


class WorkerScale:
    """``latest()``, ``state()``, ``level()``, ``calibration()`` and ``use()`` over a bottle worker.

    ``calibration`` returns what the worker converts with; ``use`` makes the worker
    convert with a new one.
    """

    def __init__(self, worker, calibration: Callable[[], Calibration], use: Callable[[Calibration], None],
                 *, reads: int = READS_PER_STEP, timeout_s: float = 15.0, clock=time.monotonic):
        self._worker, self._calibration, self._use = worker, calibration, use
        self._reads, self._timeout, self._clock = reads, timeout_s, clock

    def latest(self):
        return self._worker.latest if self._worker is not None else None

    def state(self):
        """What the worker's bottle detector knows now (presence, contents), or None."""
        return self._worker.detector.state if self._worker is not None else None

    def calibration(self) -> Calibration:
        return self._calibration()

    def use(self, calibration: Calibration) -> None:
        self._use(calibration)

    def level(self) -> float:
        """Median raw counts of the next ``reads`` readings (raises TimeoutError)."""
        raws, seen = [], None
        deadline = self._clock() + self._timeout
        while len(raws) < self._reads:
            reading = self.latest()
            if reading is not None and reading is not seen:
                seen = reading
                cal = self._calibration()
                raws.append(cal.offset + reading.grams * cal.counts_per_gram)
            elif self._clock() > deadline:
                raise TimeoutError(f"only {len(raws)} of {self._reads} readings in {self._timeout:.0f} s")
            else:
                time.sleep(0.02)
        return robust_level(raws)
