"""Commands that arrive on ``<base>/cmd/<name>``: strict parsing and a dispatcher.

A payload is empty, a bare JSON value or a JSON object with exactly the keys listed
here; anything else (wrong type, out of range, unknown key, more than 4 KiB, invalid
UTF-8, JSON nested too deep for Python) is refused with a :class:`CommandError`, which
the dispatcher logs and ignores. Nothing here raises into the MQTT thread.

What a command does is an action of :mod:`device.actions` (the same one the dashboard
and the buttons call); :func:`action_handlers` maps each command to it. An action
refused by its part (no active reminder, the bottle on the scale during a tare) or by
its rate limit (:data:`device.actions.RATE_LIMITS`, e.g. one cramp a minute) is logged
as one line and counted, like a refused payload. A flood of refusals is counted in full
but logged at the pace of :data:`LOG_LIMIT` per command, so it cannot fill the log.

===========  ===========================================  =================================
command      payloads                                     means
===========  ===========================================  =================================
``ack``      empty, ``{}``                                acknowledge the active reminder
``snooze``   empty, ``{}``, ``30``, ``{"minutes": 30}``   snooze reminders for N minutes
                                                          (1-720; none: outputs.snooze_min)
``tare``     empty, ``{}``                                zero the empty scale
``goal``     ``2000``, ``{"ml": 2000}``                   daily intake goal, 250-10000 mL
``cramp``    empty, ``{}``                                "I had a cramp" now
             ``{"t": 1764120000.0}``                      ... at that time (past year)
             ``{"wake_id": "wake-1764120100000",          confirm (or deny, with false)
             "confirmed": true}``                         that a stored wake was a cramp
``drink``    ``250``, ``{"ml": 250, "kind": "tea"}``      a drink not from the bottle, now
             (kind water when left out)                   (10-2000 mL; water, tea, coffee,
             ``{"ml": 250, "t": 1764120000.0}``           electrolyte, other), or at t
                                                          (past week; same t, stored once)
``factors``  ``{"day": "2026-12-07",                      the day's factors (today when
             "exercise": "hard", "supplement": true,      day is left out; any of them:
             "alcohol": 2, "medication": "..."}``         device.factors)
===========  ===========================================  =================================

>>> parse_command("goal", b'{"ml": 2000}')
Goal(ml=2000.0)
>>> parse_command("snooze", b"")
Snooze(minutes=None)
>>> parse_command("goal", b"99999")
Traceback (most recent call last):
...
device.mqtt.commands.CommandError: goal: ml must be between 250 and 10000 (got 99999)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from device.actions import (DRINK_RANGE_ML, GOAL_RANGE_ML, SNOOZE_RANGE_MIN, WAKE_ID,
                            ActionRefused, Actions, RateLimited, check_choice, check_factors, check_number)
from device.drinks import KINDS
from device.factors import FACTORS
from device.guards import json_input
from device.guards.rate_limits import Limit, RateLimits
from vocabulary.errors import CrampwatchError

log = logging.getLogger(__name__)

MAX_PAYLOAD = 4096
LOG_LIMIT = Limit(burst=10, every_s=10.0)  # refusal lines logged per command name
__all__ = ["GOAL_RANGE_ML", "SNOOZE_RANGE_MIN"]  # re-exported for discovery


class CommandError(CrampwatchError, ValueError):
    """An MQTT command payload was refused (it is logged and ignored)."""


@dataclass(frozen=True)
class Ack:
    """Acknowledge the active reminder."""


@dataclass(frozen=True)
class Snooze:
    """Snooze reminders for ``minutes`` (None: the ``outputs.snooze_min`` setting)."""

    minutes: int | None = None


@dataclass(frozen=True)
class Tare:
    """Zero the scale (it must be empty)."""


@dataclass(frozen=True)
class Goal:
    """Set the daily intake goal."""

    ml: float


@dataclass(frozen=True)
class Cramp:
    """Log a cramp (at ``t``, or now when None), or confirm/deny the wake ``wake_id``."""

    t: float | None = None
    wake_id: str | None = None
    confirmed: bool = True


@dataclass(frozen=True)
class LogDrink:
    """Log a drink not from the bottle: ``ml`` of ``kind`` at ``t`` (now when None)."""

    ml: float
    kind: str = "water"
    t: float | None = None


@dataclass(frozen=True)
class SetFactors:
    """Record daily factors (``values``: factor and value pairs) for ``day`` (today when None)."""

    values: tuple[tuple[str, Any], ...]
    day: str | None = None


Command = Ack | Snooze | Tare | Goal | Cramp | LogDrink | SetFactors
COMMANDS = ("ack", "snooze", "tare", "goal", "cramp", "drink", "factors")


# -- parsing -------------------------------------------------------------------------
def decode_payload(name: str, payload: bytes) -> Any:
    """Bytes to a JSON value (None for an empty payload); CommandError for anything unsafe."""
    if len(payload) > MAX_PAYLOAD:
        raise CommandError(f"{name}: payload of {len(payload)} bytes refused (at most {MAX_PAYLOAD})")
    if not payload.strip():
        return None
    try:
        return json_input.loads(payload)
    except json_input.BadJson as exc:
        raise CommandError(f"{name}: payload is {exc}") from None


def _fields(name: str, value: Any, allowed: set[str], bare: str | None = None) -> dict[str, Any]:
    """The payload as a dict of known keys (a bare scalar becomes ``{bare: value}``)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise CommandError(f"{name}: unknown key(s) {', '.join(map(repr, unknown))}; "
                               f"allowed: {', '.join(sorted(allowed)) or 'none'}")
        return value
    if bare is not None and not isinstance(value, (list, str)):
        return {bare: value}
    raise CommandError(f"{name}: expected {'a number or ' if bare else ''}a JSON object, got {type(value).__name__}")


def _checked(check: Callable, *args, **kwargs) -> Any:
    """An action's check of a value, its refusal as a CommandError."""
    try:
        return check(*args, **kwargs)
    except ActionRefused as exc:
        raise CommandError(str(exc)) from None


def _number(name: str, key: str, value: Any, low: float, high: float, *, integer: bool = False) -> float:
    return _checked(check_number, name, key, value, low, high, integer=integer)


def parse_command(name: str, payload: bytes) -> Command:
    """Validate one command payload; return the command or raise CommandError."""
    if name not in COMMANDS:
        raise CommandError(f"unknown command {name[:40]!r}; known: {', '.join(COMMANDS)}")
    value = decode_payload(name, payload)
    if name in ("ack", "tare"):
        _fields(name, value, set())
        return Ack() if name == "ack" else Tare()
    if name == "snooze":
        f = _fields(name, value, {"minutes"}, bare="minutes")
        if "minutes" not in f:
            return Snooze()
        return Snooze(int(_number(name, "minutes", f["minutes"], *SNOOZE_RANGE_MIN, integer=True)))
    if name == "goal":
        f = _fields(name, value, {"ml"}, bare="ml")
        if "ml" not in f:
            raise CommandError("goal: ml is required (a number of mL)")
        return Goal(float(_number(name, "ml", f["ml"], *GOAL_RANGE_ML)))
    if name == "drink":
        f = _fields(name, value, {"ml", "kind", "t"}, bare="ml")
        if "ml" not in f:
            raise CommandError("drink: ml is required (a number of mL)")
        t = float(_number(name, "t", f["t"], 0, 1e10)) if "t" in f else None  # its age: the action
        return LogDrink(float(_number(name, "ml", f["ml"], *DRINK_RANGE_ML)),
                        _checked(check_choice, name, "kind", f.get("kind", "water"), KINDS), t)
    if name == "factors":
        f = _fields(name, value, {"day", *FACTORS})
        values = _checked(check_factors, {k: v for k, v in f.items() if k != "day"})
        day = f.get("day")
        if "day" in f and not isinstance(day, str):
            raise CommandError(f"factors: day must be a date like 2026-12-07 (got {day!r:.40})")
        return SetFactors(tuple(values.items()), day)  # the day's range: the action
    # cramp
    f = _fields(name, value, {"t", "wake_id", "confirmed"})
    if "wake_id" in f:
        if "t" in f:
            raise CommandError("cramp: give either t or wake_id, not both")
        wake_id = f["wake_id"]
        if not isinstance(wake_id, str) or not WAKE_ID.match(wake_id):
            raise CommandError(f"cramp: wake_id must look like 'wake-1764120100000' (got {wake_id!r:.60})")
        confirmed = f.get("confirmed", True)
        if not isinstance(confirmed, bool):
            raise CommandError(f"cramp: confirmed must be true or false (got {confirmed!r:.40})")
        return Cramp(wake_id=wake_id, confirmed=confirmed)
    if "confirmed" in f:
        raise CommandError("cramp: confirmed needs a wake_id")
    if "t" in f:
        return Cramp(t=float(_number(name, "t", f["t"], 0, 1e10)))  # its age: Actions.log_cramp
    return Cramp()


# -- dispatching ---------------------------------------------------------------------
Handler = Callable[[Any], None]


class CommandDispatcher:
    """Routes parsed commands to handlers by name; logs and swallows every failure.

    ``on_refused(counts)`` is told ``{"commands_refused": n, "commands_rate_limited": m}``
    after each refusal (the daemon puts them in health). ``clock`` (monotonic seconds)
    paces the refusal log lines.

    >>> seen = []
    >>> d = CommandDispatcher({"goal": seen.append})
    >>> d.dispatch("goal", b"1800"), d.dispatch("goal", b"[[["), seen
    (True, False, [Goal(ml=1800.0)])
    """

    def __init__(self, handlers: dict[str, Handler] | None = None, *,
                 on_refused: Callable[[dict[str, int]], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self._handlers: dict[str, Handler] = {}
        self._on_refused = on_refused
        self.refused = 0
        self.rate_limited = 0
        self._log_pace = RateLimits({name: LOG_LIMIT for name in (*COMMANDS, "unknown")}, clock=clock)
        self._unlogged: dict[str, int] = {}
        for name, handler in (handlers or {}).items():
            self.register(name, handler)

    def register(self, name: str, handler: Handler) -> None:
        """Route command ``name`` to ``handler(command)`` (replacing an earlier one)."""
        if name not in COMMANDS:
            raise ValueError(f"unknown command {name!r}; known: {', '.join(COMMANDS)}")
        self._handlers[name] = handler

    @property
    def names(self) -> list[str]:
        return sorted(self._handlers)

    def _refuse(self, name: str, why: str, *, limited: bool = False) -> None:
        """Count a refusal; log it as one line unless this command's refusals come too fast."""
        self.refused += 1
        self.rate_limited += limited
        key = name if name in COMMANDS else "unknown"
        if not self._log_pace.take(key):
            unlogged = self._unlogged.pop(key, 0)
            log.warning("MQTT command ignored: %s%s", why,
                        f" ({unlogged} more {key} command(s) refused before this, not logged)" if unlogged else "")
        else:
            if not self._unlogged.get(key):
                log.warning("MQTT commands %s: too many refusals to log each; health counts them "
                            "(mqtt.commands_refused)", key)
            self._unlogged[key] = self._unlogged.get(key, 0) + 1
        if self._on_refused is not None:
            self._on_refused({"commands_refused": self.refused, "commands_rate_limited": self.rate_limited})

    def dispatch(self, name: str, payload: bytes) -> bool:
        """Parse and run one command; True if a handler ran without error."""
        try:
            command = parse_command(name, payload)
        except (ValueError, OverflowError, RecursionError) as exc:  # CommandError, or a check it missed
            self._refuse(name, _reason(name, exc))
            return False
        handler = self._handlers.get(name)
        if handler is None:
            self._refuse(name, f"{name}: nothing handles it in this daemon")
            return False
        try:
            handler(command)
        except (CommandError, ActionRefused, OverflowError, RecursionError) as exc:  # refused, not broken
            self._refuse(name, _reason(name, exc), limited=isinstance(exc, RateLimited))
            return False
        except Exception:  # a broken handler must not stop the MQTT thread
            log.exception("MQTT command %r failed", name)
            return False
        log.info("MQTT command %s: %s", name, command)
        return True


def _reason(name: str, exc: Exception) -> str:
    """One line saying why a command was refused (our own refusals say it themselves)."""
    if isinstance(exc, (CommandError, ActionRefused)):
        return str(exc)
    return f"{name[:40]}: {type(exc).__name__}: {str(exc)[:200]}"


def action_handlers(actions: Actions, source: str = "mqtt") -> dict[str, Handler]:
    """Every command's handler: the action of :mod:`device.actions` it names."""

    def cramp(command: Cramp) -> None:
        if command.wake_id is not None:
            actions.label_wake(command.wake_id, command.confirmed, source=source)
        else:
            actions.log_cramp(command.t, source=source)

    return {
        "ack": lambda command: actions.ack(source=source),
        "snooze": lambda command: actions.snooze(command.minutes, source=source),
        "goal": lambda command: actions.set_goal(command.ml, source=source),
        "tare": lambda command: actions.tare(source=source),
        "cramp": cramp,
        "drink": lambda command: actions.log_drink(command.ml, command.kind, command.t, source=source),
        "factors": lambda command: actions.set_factors(dict(command.values), command.day, source=source),
    }
