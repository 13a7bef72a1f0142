"""Commands that arrive on ``<base>/cmd/<name>``: strict parsing and a dispatcher.

A payload is empty, a bare JSON value or a JSON object with exactly the keys listed
here; anything else (wrong type, out of range, unknown key, more than 4 KiB, invalid
UTF-8, JSON nested too deep for Python) is refused with a :class:`CommandError`, which
the dispatcher logs and ignores. Nothing here raises into the MQTT thread.

What a command does is an action of :mod:`device.actions` (the same one the dashboard
and the buttons call); :func:`action_handlers` maps each command to it. An action
refused by its part (no active reminder, the bottle on the scale during a tare) is
logged as one line and counted, like a refused payload.

=========  ===========================================  ===============================
command    payloads                                      means
=========  ===========================================  ===============================
``ack``    empty, ``{}``                                 acknowledge the active reminder
``snooze`` empty, ``{}`` (15 min), ``30``,               snooze reminders for N minutes
           ``{"minutes": 30}``                           (1-720)
``tare``   empty, ``{}``                                 zero the empty scale
``goal``   ``2000``, ``{"ml": 2000}``                    daily intake goal, 250-10000 mL
``cramp``  empty, ``{}``                                 "I had a cramp" now
           ``{"t": 1764120000.0}``                       ... at that time (past year)
           ``{"wake_id": "wake-1764120100000",           confirm (or deny, with false)
           "confirmed": true}``                          that a stored wake was a cramp
=========  ===========================================  ===============================

>>> parse_command("goal", b'{"ml": 2000}')
Goal(ml=2000.0)
>>> parse_command("snooze", b"")
Snooze(minutes=15)
>>> parse_command("goal", b"99999")
Traceback (most recent call last):
...
device.commands.CommandError: goal: ml must be between 250 and 10000 (got 99999)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from device.actions import (DEFAULT_SNOOZE_MIN, GOAL_RANGE_ML, SNOOZE_RANGE_MIN, WAKE_ID, ActionRefused, Actions,
                            check_number)
from device.errors import CrampwatchError

log = logging.getLogger(__name__)

MAX_PAYLOAD = 4096
__all__ = ["DEFAULT_SNOOZE_MIN", "GOAL_RANGE_ML", "SNOOZE_RANGE_MIN"]  # re-exported for discovery


class CommandError(CrampwatchError, ValueError):
    """An MQTT command payload was refused (it is logged and ignored)."""


@dataclass(frozen=True)
class Ack:
    """Acknowledge the active reminder."""


@dataclass(frozen=True)
class Snooze:
    """Snooze reminders for ``minutes``."""

    minutes: int = DEFAULT_SNOOZE_MIN


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


Command = Ack | Snooze | Tare | Goal | Cramp
COMMANDS = ("ack", "snooze", "tare", "goal", "cramp")


# -- parsing -------------------------------------------------------------------------
def decode_payload(name: str, payload: bytes) -> Any:
    """Bytes to a JSON value (None for an empty payload); CommandError for anything unsafe."""
    if len(payload) > MAX_PAYLOAD:
        raise CommandError(f"{name}: payload of {len(payload)} bytes refused (at most {MAX_PAYLOAD})")
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CommandError(f"{name}: payload is not valid UTF-8") from None
    if not text:
        return None
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise CommandError(f"{name}: JSON nested too deeply") from None
    except ValueError as exc:
        raise CommandError(f"{name}: payload is not JSON ({exc})") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number")


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


def _number(name: str, key: str, value: Any, low: float, high: float, *, integer: bool = False) -> float:
    try:
        return check_number(name, key, value, low, high, integer=integer)
    except ActionRefused as exc:
        raise CommandError(str(exc)) from None


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

    >>> seen = []
    >>> d = CommandDispatcher({"goal": seen.append})
    >>> d.dispatch("goal", b"1800"), d.dispatch("goal", b"[[["), seen
    (True, False, [Goal(ml=1800.0)])
    """

    def __init__(self, handlers: dict[str, Handler] | None = None, *,
                 on_refused: Callable[[int], None] | None = None):
        self._handlers: dict[str, Handler] = {}
        self._on_refused = on_refused
        self.refused = 0
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

    def _refuse(self, exc: Exception) -> None:
        self.refused += 1
        log.warning("MQTT command ignored: %s", exc)
        if self._on_refused is not None:
            self._on_refused(self.refused)

    def dispatch(self, name: str, payload: bytes) -> bool:
        """Parse and run one command; True if a handler ran without error."""
        try:
            command = parse_command(name, payload)
        except CommandError as exc:
            self._refuse(exc)
            return False
        handler = self._handlers.get(name)
        if handler is None:
            log.warning("MQTT command %r ignored: nothing handles it in this daemon", name)
            return False
        try:
            handler(command)
        except (CommandError, ActionRefused) as exc:
            self._refuse(exc)
            return False
        except Exception:  # a broken handler must not stop the MQTT thread
            log.exception("MQTT command %r failed", name)
            return False
        log.info("MQTT command %s: %s", name, command)
        return True


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
    }
