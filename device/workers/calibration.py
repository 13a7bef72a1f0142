"""The bottle scale's calibration as stored: one row of the settings table.

Read when the bottle worker starts, written by both calibration wizards (``crampwatch
calibrate`` and the dashboard's) and by a tare. The arithmetic is
:class:`sensors.calibration.Calibration`.
"""

from __future__ import annotations

from device.storage.store import Store
from sensors.calibration import Calibration

CALIBRATION_KEY = "bottle.calibration"
READS_PER_STEP = 25  # 2.5 s at 10 SPS: the median of 25 noisy reads is within ~0.2 g


def load_calibration(store: Store, default: Calibration | None = None) -> Calibration:
    data = store.get_setting(CALIBRATION_KEY)
    return Calibration.from_dict(data) if data else (default or Calibration())


def save_calibration(store: Store, calibration: Calibration) -> None:
    store.set_setting(CALIBRATION_KEY, calibration.to_dict())
