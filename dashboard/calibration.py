"""The dashboard's calibration wizard: the same three steps as ``crampwatch calibrate``.

1. tare (nothing on the scale), 2. a known weight, 3. the empty bottle (or skip).
The arithmetic is :class:`sensors.calibration.Calibration`; levels come from the
scale's robust reading (the median of a few seconds of raw counts); the result is
stored with :func:`device.workers.calibration.save_calibration` and handed to the scale.
One wizard per device: the scale is shared, so a second browser sees the same step.
"""

from __future__ import annotations

import threading

from device.workers.calibration import load_calibration, save_calibration
from sensors.calibration import Calibration

STEPS = ("tare", "known", "empty", "done")


class WizardError(ValueError):
    """A step out of order or a reading that cannot make a calibration."""

    def __init__(self, message: str, field: str | None = None, status: int = 409):
        super().__init__(message)
        self.field, self.status = field, status


class CalibrationWizard:
    """Server-side state of the wizard; each step reads the scale's level once."""

    def __init__(self, store, scale):
        self._store, self._scale = store, scale
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.step, self.tare_counts, self.known_g, self.draft, self.result = "tare", None, None, None, None

    def state(self) -> dict:
        current = load_calibration(self._store, self._scale.calibration() if self._scale else None)
        return {"step": self.step, "known_g": self.known_g, "current": current.to_dict(),
                "result": self.result.to_dict() if self.result else None, "scale": self._scale is not None}

    def _level(self) -> float:
        if self._scale is None:
            raise WizardError("no scale is connected to this dashboard", status=503)
        try:
            return float(self._scale.level())
        except (OSError, TimeoutError, ValueError) as exc:
            raise WizardError(f"the scale did not give a steady reading: {exc}", status=503) from None

    def tare(self) -> dict:
        """Step 1: remember the level with nothing on the scale."""
        with self._lock:
            self.tare_counts = self._level()
            self.step, self.known_g, self.draft, self.result = "known", None, None, None
            return self.state()

    def known(self, grams: float) -> dict:
        """Step 2: a known weight is on the scale; compute counts per gram."""
        with self._lock:
            if self.step != "known":
                raise WizardError("take everything off the scale and do step 1 (tare) first")
            try:
                self.draft = Calibration.from_points(self.tare_counts, self._level(), grams)
            except ValueError as exc:
                raise WizardError(str(exc), field="grams", status=422) from None
            self.known_g, self.step = grams, "empty"
            return self.state()

    def empty(self, skip: bool = False) -> dict:
        """Step 3: weigh the empty bottle (or keep none), save, and start using it."""
        with self._lock:
            if self.step != "empty":
                raise WizardError("do steps 1 and 2 first")
            cal = self.draft
            if not skip:
                empty = cal.to_grams(self._level())
                if empty <= 0:
                    raise WizardError(f"the scale reads {empty:.0f} g; put the empty bottle on it", field="skip",
                                      status=422)
                cal = Calibration(cal.offset, cal.counts_per_gram, round(empty, 1))
            save_calibration(self._store, cal)
            if hasattr(self._scale, "use"):
                self._scale.use(cal)
            self.result, self.step = cal, "done"
            return self.state()
