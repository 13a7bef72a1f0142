"""Every change a person makes to the running daemon, in one place.

MQTT commands (:mod:`device.commands`), the dashboard's JSON API and the GPIO buttons
all call these methods; each action's validation, limits and effect live here and
nowhere else. The parts an action needs (the reminder service, the bottle worker) are
looked up when the action runs, so an action taken before a part started, or while it
is off, is refused with a one-line reason instead of being lost.

A refusal is an :class:`ActionRefused` carrying an HTTP-like ``status`` (400 bad
value, 404 unknown target, 409 not possible now, 503 part not running) and, when one
field is wrong, its name; the surfaces turn it into their own answer (a 4xx with that
field, a logged warning for MQTT). Nothing else escapes from an action on purpose.

Every action that changes something is rate-limited per surface (:data:`RATE_LIMITS`,
a token bucket per action and ``source``): asked for too often it is refused with
:class:`RateLimited` (status 429, ``retry_after`` in seconds), after its value was
checked and before anything is touched, so a program in a loop cannot fill the store.

An entry the database refuses (``sqlite3.Error``: the disk is full, another writer
holds the lock) is not lost: it is kept in memory (:attr:`Actions.pending`) and
written, once (event ids make the retry idempotent), with the next entry, by the
storage monitor's next round (:meth:`Actions.retry`) or at stop (:meth:`Actions.close`).

>>> from device.storage import Store
>>> actions = Actions(Store(":memory:"), clock=lambda: 1_764_120_000.0)
>>> actions.set_goal(2300, source="mqtt")
2300.0
>>> actions.goal_ml(2000)
2300.0
>>> actions.set_goal(99999)
Traceback (most recent call last):
...
device.actions.ActionRefused: goal: ml must be between 250 and 10000 (got 99999)
>>> actions.ack()
Traceback (most recent call last):
...
device.actions.ActionRefused: ack: reminders are not running on this device
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from typing import Any

from device.errors import CrampwatchError
from device.events import CrampLog
from device.pending_events import PendingEvents
from device.rate_limits import Limit, RateLimits

log = logging.getLogger(__name__)

# -- the rules, each defined once --------------------------------------------------
GOAL_SETTING = "hydration.goal_ml"  # the settings-table key of the live daily goal
GOAL_RANGE_ML = (250, 10000)
SNOOZE_RANGE_MIN = (1, 720)
DEFAULT_SNOOZE_MIN = 15
# A cramp logged by hand may be up to a year old (a missed night entered later) and a
# few minutes in the future (a phone's clock a little ahead).
CRAMP_MAX_AGE_S = 366 * 86400.0
CRAMP_FUTURE_S = 300.0
WAKE_ID = re.compile(r"^wake-(\d{1,16})$")
# How often each action may run from one surface: generous for a person pressing buttons
# in Home Assistant or on the dashboard (entering a few missed cramps, labelling a month
# of wake-ups), tight for a program in a loop. A cramp is one a minute: 2,000 MQTT
# commands with distinct times once stored 1,095 cramps in 3 s.
RATE_LIMITS = {
    "ack": Limit(burst=5, every_s=6.0),
    "snooze": Limit(burst=5, every_s=6.0),
    "goal": Limit(burst=10, every_s=3.0),
    "tare": Limit(burst=3, every_s=20.0),
    "cramp": Limit(burst=3, every_s=60.0),  # "I had a cramp", now or at a time given
    "label": Limit(burst=30, every_s=5.0),  # a wake-up confirmed or denied as a cramp
}


class ActionRefused(CrampwatchError, ValueError):
    """An action was refused; ``status`` says why (400/404/409/503), ``field`` what."""

    def __init__(self, message: str, status: int = 400, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.field = field


class RateLimited(ActionRefused):
    """An action was asked for more often than :data:`RATE_LIMITS` allows (status 429)."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, 429)
        self.retry_after = retry_after  # whole seconds, as HTTP's Retry-After wants


def check_number(action: str, key: str, value: Any, low: float, high: float, *, integer: bool = False) -> float:
    """``value`` as a float within ``[low, high]``, else ActionRefused naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ActionRefused(f"{action}: {key} must be a number (got {value!r:.40})", field=key)
    try:
        number = float(value)
    except OverflowError:  # an int with hundreds of digits
        raise ActionRefused(f"{action}: {key} must be between {low:g} and {high:g} (got a huge number)",
                            field=key) from None
    if not math.isfinite(number):
        raise ActionRefused(f"{action}: {key} must be a finite number", field=key)
    if integer and number != int(number):
        raise ActionRefused(f"{action}: {key} must be a whole number (got {value!r})", field=key)
    if not low <= number <= high:
        raise ActionRefused(f"{action}: {key} must be between {low:g} and {high:g} (got {value!r})", field=key)
    return number


class Actions:
    """The daemon's actions over its store and (looked up when used) its running parts.

    ``reminders()`` returns the reminder service or None; ``bottle()`` the bottle
    worker or None. ``limits`` holds the rate limits' buckets (by default
    :data:`RATE_LIMITS` on the monotonic clock). ``source`` is the surface that asks:
    ``mqtt``, ``dashboard``, ``button`` (``api`` for a direct call).
    """

    def __init__(self, store, *, clock: Callable[[], float] = time.time,
                 reminders: Callable[[], Any] = lambda: None, bottle: Callable[[], Any] = lambda: None,
                 limits: RateLimits | None = None):
        self.store = store
        self.clock = clock
        self._reminders = reminders
        self._bottle = bottle
        self.limits = limits if limits is not None else RateLimits(RATE_LIMITS)
        self.pending = PendingEvents("actions")  # entries the database refused, until it takes them

    def _store(self, event) -> bool:
        """Store ``event`` (and any kept before it); True if it is new.

        Refused by the database it is kept and retried (see the module's docstring): it
        counts as new then too, since it will be stored.
        """
        if any(e["id"] == event.id for e in self.pending.store(self.store, [event])):
            return True
        if any(e.id == event.id for e in self.pending.events):
            log.warning("%s %s kept in memory until the database takes it", event.type, event.id)
            return True
        return False  # stored before (the same entry again)

    def retry(self) -> None:
        """Write kept entries when due (the storage monitor's round calls this)."""
        self.pending.store(self.store)

    def close(self) -> None:
        """At stop, before the store closes: one last try for kept entries."""
        self.pending.close(self.store)

    def _take_turn(self, action: str, source: str) -> None:
        """RateLimited when ``action`` from ``source`` came too often (nothing is touched then)."""
        wait = self.limits.take(action, source)
        if wait:
            retry = max(1, math.ceil(wait))
            raise RateLimited(f"{action}: asked too often from {source} (at most {self.limits.limits[action]}); "
                              f"try again in {retry} s", retry)

    # -- reminders ------------------------------------------------------------------
    def _reminder_service(self, action: str):
        service = self._reminders()
        if service is None:
            raise ActionRefused(f"{action}: reminders are not running on this device", 503)
        return service

    def ack(self, source: str = "api") -> dict:
        """Acknowledge the active (else the latest snoozed) reminder; returns it."""
        service = self._reminder_service("ack")
        self._take_turn("ack", source)
        done = service.ack(source=source)
        if done is None:
            raise ActionRefused("ack: no reminder is active", 409)
        return done

    def snooze(self, minutes: float | None = None, source: str = "api") -> dict:
        """Snooze the active reminder for ``minutes`` (default 15); returns it."""
        minutes = DEFAULT_SNOOZE_MIN if minutes is None else minutes
        minutes = int(check_number("snooze", "minutes", minutes, *SNOOZE_RANGE_MIN, integer=True))
        service = self._reminder_service("snooze")
        self._take_turn("snooze", source)
        done = service.snooze(minutes, source=source)
        if done is None:
            raise ActionRefused("snooze: no reminder is active", 409)
        return done

    # -- the daily goal -------------------------------------------------------------
    def goal_ml(self, configured: float) -> float:
        """Today's goal: the one last set by a person, else ``configured``."""
        return goal_ml(self.store, configured)

    def set_goal(self, ml: float, source: str = "api") -> float:
        """Set the daily intake goal (whole mL, as ``hydration.goal_ml``); every part reads it
        from the store at once."""
        ml = float(round(check_number("goal", "ml", ml, *GOAL_RANGE_ML)))
        self._take_turn("goal", source)
        self.store.set_setting(GOAL_SETTING, ml)
        log.info("daily goal set to %.0f mL (%s)", ml, source)
        return ml

    # -- the scale --------------------------------------------------------------------
    def _bottle_worker(self, action: str):
        worker = self._bottle()
        if worker is None:
            raise ActionRefused(f"{action}: the bottle scale is not running on this device", 503)
        return worker

    def tare(self, source: str = "api"):
        """Zero the empty scale (refused while the bottle stands on it); returns the calibration."""
        worker = self._bottle_worker("tare")
        self._take_turn("tare", source)
        try:
            calibration = worker.tare()
        except ActionRefused:
            raise
        except ValueError as exc:
            raise ActionRefused(f"tare: {exc}", 409) from None
        log.info("scale tared (%s)", source)
        return calibration

    def calibrate(self, calibration, source: str = "api") -> None:
        """Convert with ``calibration`` from the next reading on: the running worker and
        its detector (the empty bottle's weight) both take it at once."""
        worker = self._bottle()
        if worker is not None:
            worker.set_calibration(calibration)
        log.info("scale calibration changed (%s)", source)

    # -- cramps -----------------------------------------------------------------------
    def log_cramp(self, t: float | None = None, source: str = "api") -> tuple[CrampLog, bool]:
        """"I had a cramp" at ``t`` (now when None); returns ``(event, created)``."""
        now = self.clock()
        if t is None:
            t = now
        else:
            t = check_number("cramp", "t", t, 0, 1e10)
            if t > now + CRAMP_FUTURE_S:
                raise ActionRefused("cramp: t is in the future", field="t")
            if t < now - CRAMP_MAX_AGE_S:
                raise ActionRefused("cramp: t is more than a year ago", field="t")
        self._take_turn("cramp", source)
        event = CrampLog(t=round(t, 3), confirmed=True, source=source)
        return event, self._store(event)

    def find_wake(self, wake_id: str) -> dict | None:
        """The stored wake ``wake_id`` (``wake-<start ms>``), or None."""
        match = WAKE_ID.match(wake_id) if isinstance(wake_id, str) else None
        if match is None:
            return None
        start = int(match.group(1)) / 1000.0
        return next((e for e in self.store.events(types=["wake"], since=start - 0.001, until=start + 0.001)
                     if e["id"] == wake_id), None)

    def label_wake(self, wake_id: str, confirmed: bool, source: str = "api") -> CrampLog:
        """Confirm (or deny, ``confirmed=False``) that a stored wake was a cramp."""
        if not isinstance(confirmed, bool):
            raise ActionRefused(f"cramp: confirmed must be true or false (got {confirmed!r:.40})", field="confirmed")
        self._take_turn("label", source)
        if self.find_wake(wake_id) is None:
            raise ActionRefused(f"cramp: no stored wake {str(wake_id)[:60]!r}", 404, "wake_id")
        event = CrampLog(t=round(self.clock(), 3), confirmed=confirmed, wake_id=wake_id, source=source)
        self._store(event)
        return event


def goal_ml(store, configured: float) -> float:
    """The live daily goal kept in ``store`` (set by a person), else ``configured``."""
    return float(store.get_setting(GOAL_SETTING, configured))
