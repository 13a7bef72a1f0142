"""The bedside "I had a cramp" button: one press is the ``cramp`` action from the button.

A press calls :meth:`device.actions.Actions.log_cramp` with ``source="button"``, the
same action as MQTT's ``cramp`` command and the dashboard's "I had a cramp": its checks,
its rate limit (the button has its own allowance) and its storage, which keeps an entry
the database refuses (a full disk, a busy database) and writes it once later (see
:mod:`device.actions`). Whether the press confirms a detected wake (during or just
after it) or stands alone is decided when labels are read
(:func:`device.labels.apply_labels`), because the wake itself is only reported when
the night's sleep period ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from device.actions import ActionRefused, Actions

log = logging.getLogger(__name__)

# A bounce or a double press within this long is one cramp, not two.
DEBOUNCE_S = 0.05
SAME_PRESS_S = 30.0


class BedsideButton:
    """gpiozero ``Button`` (to ground, internal pull-up) whose press logs a cramp through ``actions``."""

    def __init__(self, pin: int, actions: Actions, *, pin_factory=None, clock: Callable[[], float] = time.monotonic):
        from gpiozero import Button

        self._actions = actions
        self._clock = clock  # only for SAME_PRESS_S; the cramp's time is the action's clock
        self._last: float | None = None
        self.button = Button(pin, pull_up=True, bounce_time=DEBOUNCE_S, pin_factory=pin_factory)
        self.button.when_pressed = self._pressed

    def _pressed(self) -> None:
        now = self._clock()
        if self._last is not None and now - self._last < SAME_PRESS_S:
            return
        self._last = now
        try:  # nothing may raise into gpiozero's callback thread
            event, created = self._actions.log_cramp(source="button")
            if created:
                log.info("cramp logged by the bedside button (%s)", event.id)
        except ActionRefused as exc:  # asked too often: one line
            log.info("bedside button press ignored: %s", exc)
        except Exception:
            log.exception("could not log the bedside button press")

    def close(self) -> None:
        self.button.close()
