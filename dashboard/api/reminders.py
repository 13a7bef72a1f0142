"""The active reminder: read it, acknowledge it, snooze it."""

from __future__ import annotations

from flask import jsonify

from dashboard import state
from dashboard.api import bp, json_body
from dashboard.errors import bad_field
from dashboard.services import services


@bp.get("/reminder")
def reminder():
    """The active reminder, or ``{"active": null}``; ``next``: the next one planned (or null)."""
    svc = services()
    return jsonify({"active": state.reminder(svc), "next": state.next_reminder(svc)})


@bp.post("/reminder/ack")
def acknowledge():
    """Acknowledge the active reminder (a stretching prompt counts as stretched)."""
    svc = services()
    svc.actions.ack(source="dashboard")
    return jsonify({"active": state.reminder(svc)})


@bp.post("/reminder/snooze")
def snooze():
    """Snooze the active reminder for ``minutes`` (1-720; the action's limits)."""
    svc = services()
    body = json_body()
    if body.get("minutes") is None:
        raise bad_field("minutes", "is required (a whole number of minutes)")
    svc.actions.snooze(body["minutes"], source="dashboard")
    return jsonify({"active": state.reminder(svc)})
