"""The active reminder: read it, acknowledge it, snooze it."""

from __future__ import annotations

import inspect

from flask import jsonify

from dashboard import state
from dashboard.api import bp, json_body, number
from dashboard.errors import ApiError
from dashboard.services import services

SNOOZE_MINUTES = (5, 240)


def _with_source(method, *args):
    """Call ``method``, telling it the dashboard asked when it takes a ``source``."""
    try:
        takes_source = "source" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        takes_source = False
    return method(*args, source="dashboard") if takes_source else method(*args)


def _service():
    svc = services()
    if svc.reminders is None:
        raise ApiError(503, "reminders are not running on this device")
    return svc


@bp.get("/reminder")
def reminder():
    """The active reminder, or ``{"active": null}``."""
    return jsonify({"active": state.reminder(services())})


@bp.post("/reminder/ack")
def acknowledge():
    """Acknowledge the active reminder (a stretching prompt counts as stretched)."""
    svc = _service()
    if state.reminder(svc) is None:
        raise ApiError(409, "no reminder is active")
    _with_source(svc.reminders.ack)
    return jsonify({"active": state.reminder(svc)})


@bp.post("/reminder/snooze")
def snooze():
    """Snooze the active reminder for ``minutes`` (5-240)."""
    svc = _service()
    minutes = number(json_body(), "minutes", lo=SNOOZE_MINUTES[0], hi=SNOOZE_MINUTES[1], integer=True)
    if state.reminder(svc) is None:
        raise ApiError(409, "no reminder is active")
    _with_source(svc.reminders.snooze, int(minutes))
    return jsonify({"active": state.reminder(svc)})
