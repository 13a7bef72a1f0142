"""Every change a person makes to the running daemon, in one place.

MQTT commands (:mod:`device.mqtt.commands`), the dashboard's JSON API and the GPIO buttons
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

>>> from device.storage.store import Store
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
import unicodedata
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from device import drinks as drink_rules, factors as factor_rules
from device.config import Config
from device.guards.rate_limits import Limit, RateLimits
from device.storage.pending_events import PendingEvents
from vocabulary.errors import CrampwatchError
from vocabulary.events import CrampLog, DailyFactors, Drink, DrinkChange

log = logging.getLogger(__name__)

# -- the rules, each defined once --------------------------------------------------
GOAL_SETTING = "hydration.goal_ml"  # the settings-table key of the live daily goal
GOAL_RANGE_ML = (250, 10000)
SNOOZE_RANGE_MIN = (1, 720)
# A cramp logged by hand may be up to a year old (a missed night entered later); it and a
# drink logged by hand a few minutes in the future (a phone's clock a little ahead).
CRAMP_MAX_AGE_S = 366 * 86400.0
CRAMP_FUTURE_S = 300.0
WAKE_ID = re.compile(r"^wake-(\d{1,16})$")
# A drink logged by hand: a glass or a mug, up to a week late (entered later from memory).
DRINK_RANGE_ML = (10, 2000)
DRINK_MAX_AGE_S = 7 * 86400.0
FACTOR_MAX_AGE_DAYS = 366  # daily factors may be recorded for a day up to a year back
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
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
    "drink": Limit(burst=10, every_s=60.0),  # a drink logged by hand: a day's forgotten glasses at once
    "drink_change": Limit(burst=20, every_s=10.0),  # a drink corrected or deleted
    "factors": Limit(burst=10, every_s=30.0),  # a day's factors (a row of toggles)
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


def check_choice(action: str, key: str, value: Any, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``, else ActionRefused naming ``key``."""
    if not isinstance(value, str) or value not in choices:
        raise ActionRefused(f"{action}: {key} must be one of {', '.join(choices)} (got {value!r:.40})", field=key)
    return value


def check_bool(action: str, key: str, value: Any) -> bool:
    """``value`` if it is a JSON boolean, else ActionRefused naming ``key``."""
    if not isinstance(value, bool):
        raise ActionRefused(f"{action}: {key} must be true or false (got {value!r:.40})", field=key)
    return value


def check_factors(values: dict[str, Any]) -> dict[str, Any]:
    """Daily factors (:mod:`device.factors`) checked and normalised; ActionRefused naming the first bad one."""
    unknown = sorted(set(values) - set(factor_rules.FACTORS))
    if unknown:
        raise ActionRefused(f"factors: unknown factor {unknown[0][:40]!r}; known: {', '.join(factor_rules.FACTORS)}",
                            field=unknown[0][:40])
    if not values:
        raise ActionRefused(f"factors: give at least one of {', '.join(factor_rules.FACTORS)}",
                            field=factor_rules.FACTORS[0])
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key == "supplement":
            out[key] = check_bool("factors", key, value)
        elif key == "exercise":
            out[key] = check_choice("factors", key, value, factor_rules.EXERCISE)
        elif key == "alcohol":
            out[key] = value if isinstance(value, bool) else int(check_number(
                "factors", "alcohol", value, 0, factor_rules.ALCOHOL_MAX, integer=True))
        else:
            out[key] = _medication(value)
    return out


def _medication(value: Any) -> str:
    if not isinstance(value, str):
        raise ActionRefused(f"factors: medication must be text (got {type(value).__name__})", field="medication")
    text = " ".join(value.split())  # one line: newlines and runs of spaces become one space
    if len(text) > factor_rules.MEDICATION_MAX:
        raise ActionRefused(f"factors: medication must be at most {factor_rules.MEDICATION_MAX} characters",
                            field="medication")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
        raise ActionRefused("factors: medication must be plain text (no control characters)", field="medication")
    return text


class Actions:
    """The daemon's actions over its store and (looked up when used) its running parts.

    ``reminders()`` returns the reminder service or None; ``bottle()`` the bottle
    worker or None; ``config()`` the live configuration (its time zone and day times
    say which day is today). ``limits`` holds the rate limits' buckets (by default
    :data:`RATE_LIMITS` on the monotonic clock). ``source`` is the surface that asks:
    ``mqtt``, ``dashboard``, ``button`` (``api`` for a direct call).
    """

    def __init__(self, store, *, clock: Callable[[], float] = time.time,
                 reminders: Callable[[], Any] = lambda: None, bottle: Callable[[], Any] = lambda: None,
                 config: Callable[[], Config] | None = None, limits: RateLimits | None = None):
        self.store = store
        self.clock = clock
        self._reminders = reminders
        self._bottle = bottle
        if config is None:
            default = Config()
            config = lambda: default  # noqa: E731
        self._config = config
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

    def _moment(self, action: str, t: Any, max_age_s: float, too_old: str) -> float:
        """When an entry says it happened: ``t`` checked, or now when None (ActionRefused naming ``t``)."""
        now = self.clock()
        if t is None:
            return now
        t = check_number(action, "t", t, 0, 1e10)
        if t > now + CRAMP_FUTURE_S:
            raise ActionRefused(f"{action}: t is in the future", field="t")
        if t < now - max_age_s:
            raise ActionRefused(f"{action}: t is {too_old}", field="t")
        return t

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
        """Snooze the active reminder for ``minutes`` (default: the ``outputs.snooze_min``
        setting as it is now, as the button's hold); returns it."""
        minutes = self._config().outputs.snooze_min if minutes is None else minutes
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
        t = self._moment("cramp", t, CRAMP_MAX_AGE_S, "more than a year ago")
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

    # -- drinks not from the bottle, and corrections ------------------------------------
    def log_drink(self, ml: float, kind: str = "water", t: float | None = None,
                  source: str = "api") -> tuple[Drink, bool]:
        """A drink not from the bottle (a glass at dinner, a coffee at work) at ``t`` (now when
        None), stored with ``source: "manual"``; returns ``(event, created)``.

        The same ``t`` is the same drink: a retried message that names its ``t`` is stored once.
        """
        ml = round(check_number("drink", "ml", ml, *DRINK_RANGE_ML), 1)
        kind = check_choice("drink", "kind", kind, drink_rules.KINDS)
        t = self._moment("drink", t, DRINK_MAX_AGE_S, "more than a week ago")
        self._take_turn("drink", source)
        event = Drink(t=round(t, 3), ml=ml, source="manual", kind=kind, via=source)
        return event, self._store(event)

    def correct_drink(self, drink_id: str, ml: float | None = None, kind: str | None = None,
                      source: str = "api") -> tuple[dict, bool]:
        """Correct a stored drink's volume and/or kind; returns ``(the drink as it now stands, changed)``.

        The drink is not rewritten: the correction is stored as its own event
        (:class:`~vocabulary.events.DrinkChange`); one that changes nothing stores nothing.
        """
        if ml is None and kind is None:
            raise ActionRefused("drink: give ml or kind to correct", field="ml")
        if ml is not None:
            ml = round(check_number("drink", "ml", ml, *DRINK_RANGE_ML), 1)
        if kind is not None:
            kind = check_choice("drink", "kind", kind, drink_rules.KINDS)
        drink, changed_at = self._changeable_drink(drink_id, source)
        if drink["deleted"]:
            raise ActionRefused(f"drink: {drink_id} was deleted", 409, "drink_id")
        if ml in (None, drink["ml"]) and kind in (None, drink["kind"]):
            return drink, False
        self._store(DrinkChange(t=_after(self.clock(), changed_at), drink_id=drink_id, ml=ml, kind=kind, source=source))
        now = drink | {"ml": ml or drink["ml"], "kind": kind or drink["kind"], "corrected": True}
        now.setdefault("recorded_ml", drink["ml"])
        now.setdefault("recorded_kind", drink["kind"])
        log.info("drink %s corrected to %g mL of %s (%s)", drink_id, now["ml"], now["kind"], source)
        return now, True

    def delete_drink(self, drink_id: str, source: str = "api") -> tuple[dict, bool]:
        """Delete a stored drink (detected by mistake, or logged twice); returns ``(drink, changed)``.

        The deletion is stored as its own event; the drink stays in the store, left out of every total.
        """
        drink, changed_at = self._changeable_drink(drink_id, source)
        if drink["deleted"]:
            return drink, False
        self._store(DrinkChange(t=_after(self.clock(), changed_at), drink_id=drink_id, deleted=True, source=source))
        log.info("drink %s deleted (%s)", drink_id, source)
        return drink | {"deleted": True}, True

    def _changeable_drink(self, drink_id: str, source: str) -> tuple[dict, list[float]]:
        """The drink as it stands and the times of its changes (its turn taken first)."""
        self._take_turn("drink_change", source)
        drink = drink_rules.find_drink(self.store, drink_id)
        if drink is None:
            raise ActionRefused(f"drink: no stored drink {str(drink_id)[:60]!r}", 404, "drink_id")
        return drink, drink.pop("changed_at")

    # -- daily factors ----------------------------------------------------------------
    def today(self) -> date:
        """Today's local day, as the reminders, Today and the insights count it."""
        from scheduler.policy import day_of

        config = self._config()
        return day_of(self.clock(), config.hydration, config.tz)

    def set_factors(self, values: dict[str, Any], day: str | None = None,
                    source: str = "api") -> tuple[dict, bool]:
        """Record daily factors (:mod:`device.factors`) for ``day`` (an ISO date, today when
        None); returns ``(the day's factors, changed)``. Values already recorded store nothing."""
        values = check_factors(values)
        day = self._factor_day(day)
        self._take_turn("factors", source)
        entries = factor_rules.entries(self.store, day, day)
        current = factor_rules.fold(entries).get(day.isoformat(), {})
        new = {k: v for k, v in values.items() if k not in current or (type(current[k]), current[k]) != (type(v), v)}
        if new:
            t = _after(self.clock(), [e["t"] for e in entries])
            self._store(DailyFactors(t=t, day=day.isoformat(), source=source, **new))
            log.info("factors of %s: %s (%s)", day, new, source)
        return factor_rules.view(day, current | new), bool(new)

    def _factor_day(self, day: Any) -> date:
        today = self.today()
        if day is None:
            return today
        try:
            if not isinstance(day, str) or not ISO_DAY.match(day):
                raise ValueError
            value = date.fromisoformat(day)
        except ValueError:
            raise ActionRefused(f"factors: day must be a date like 2026-12-07 (got {day!r:.40})", field="day") from None
        if value > today:
            raise ActionRefused(f"factors: day {day} is in the future (today is {today})", field="day")
        if value < today - timedelta(days=FACTOR_MAX_AGE_DAYS):
            raise ActionRefused(f"factors: day {day} is more than a year ago", field="day")
        return value


def _after(now: float, earlier: list[float]) -> float:
    """``now`` (to the ms), or just after the latest of ``earlier`` entries when the clock has not
    passed it: the latest entry wins, so entries about one thing must never share a moment."""
    return round(max([now, *(t + 0.001 for t in earlier)]), 3)


def goal_ml(store, configured: float) -> float:
    """The live daily goal kept in ``store`` (set by a person), else ``configured``."""
    return float(store.get_setting(GOAL_SETTING, configured))
