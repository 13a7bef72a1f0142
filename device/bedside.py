"""The bedside "I had a cramp" button: one press records a confirmed cramp.

The press is stored as a :class:`device.events.CrampLog` at that moment. Whether it
confirms a detected wake (a press during or just after the wake) or stands alone is
decided when labels are read (:func:`device.labels.apply_labels`), because the wake
itself is only reported when the night's sleep period ends. A press the database
refuses (a full disk) is kept in memory and written with the next press or the
storage monitor's next round (device.pending_events).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from device.events import CrampLog
from device.pending_events import PendingEvents
from device.storage import Store

log = logging.getLogger(__name__)

# A bounce or a double press within this long is one cramp, not two.
DEBOUNCE_S = 0.05
SAME_PRESS_S = 30.0


class BedsideButton:
    """gpiozero ``Button`` (to ground, internal pull-up) that stores a CrampLog per press."""

    def __init__(self, pin: int, store: Store, *, pin_factory=None, clock: Callable[[], float] = time.time):
        from gpiozero import Button

        self._store = store
        self._clock = clock
        self._last: float | None = None
        self.pending = PendingEvents("bedside_button")
        self.button = Button(pin, pull_up=True, bounce_time=DEBOUNCE_S, pin_factory=pin_factory)
        self.button.when_pressed = self._pressed

    def _pressed(self) -> None:
        now = self._clock()
        if self._last is not None and now - self._last < SAME_PRESS_S:
            return
        self._last = now
        try:
            if self.pending.store(self._store, [CrampLog(t=now, confirmed=True, source="button")]):
                log.info("cramp logged by the bedside button")
        except Exception:  # nothing may kill gpiozero's callback thread
            log.exception("could not store the bedside button press")

    def retry(self) -> None:
        """Write presses kept from a failed write, when due (the storage monitor calls this)."""
        self.pending.store(self._store)

    def close(self) -> None:
        self.button.close()
        self.pending.close(self._store)
