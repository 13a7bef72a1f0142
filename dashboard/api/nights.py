"""Nights: the timeline data, labelling a wake-up as a cramp or not, adding a missed cramp."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from flask import jsonify

from dashboard import nights as night_data
from dashboard.api import boolean, bp, date_arg, date_value, int_arg, json_body, number
from dashboard.errors import ApiError, bad_field
from dashboard.localtime import clock, night_of
from dashboard.services import services
from device.actions import ActionRefused, RateLimited

CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


@bp.get("/nights")
def nights():
    """``count`` nights (default 14) up to the night of ``last``, newest first.

    ``last`` defaults to tonight from 20:00 (or once tonight has a sleep period), else
    last night.

    ``doctor`` is the doctor flag up to last night (the Insights page's and the MQTT
    state's, whatever nights were asked for); ``doctor_note`` its message when raised.
    """
    svc = services()
    tz = svc.effective.tz
    last = date_arg("last", night_data.newest_night(svc.store, svc.clock(), tz))
    count = int_arg("count", 14, 1, 62)
    rows = night_data.nights(svc.store, tz, last, count, timeline=False)
    doctor = night_data.doctor_flag(svc.store, svc.effective, svc.clock())
    return jsonify({"nights": rows, "doctor": doctor, "doctor_note": doctor["message"] if doctor["raised"] else None})


MOVEMENT_POINTS = (10, 600)  # the most points a night's movement is sent in


@bp.get("/nights/<night>/movement")
def night_movement(night: str):
    """One night's movement (``points``: at most this many, 10-600, default 240; each the busiest
    epoch of its slice of the night) with its sleep period, wake-ups and cramps."""
    svc = services()
    day = date_value("night", night)
    points = int_arg("points", 240, *MOVEMENT_POINTS)
    return jsonify(night_data.movement_view(svc.store, svc.effective.tz, day, svc.epochs, points))


@bp.post("/wakes/<wake_id>/label")
def label_wake(wake_id: str):
    """Confirm (``{"cramp": true}``) or deny (``false``) that a wake-up was a cramp."""
    svc = services()
    cramp = boolean(json_body(), "cramp")
    try:
        event = svc.actions.label_wake(wake_id, cramp, source="dashboard")
    except RateLimited:
        raise  # a 429 with Retry-After (dashboard.errors)
    except ActionRefused as exc:  # the one refusal left once cramp is a boolean: no such wake
        raise ApiError(exc.status, f"no wake-up {wake_id[:60]!r}", {"wake_id": "not found"}) from None
    return jsonify({"id": event.id, "wake_id": wake_id, "cramp": cramp})


@bp.post("/cramps")
def add_cramp():
    """Record a cramp the detector missed: ``{"t": unix}`` or ``{"night": date, "time": "HH:MM"}``.

    Rate-limited like every way of logging a cramp (``device.actions.RATE_LIMITS``): a 429
    with Retry-After when asked too often.
    """
    svc = services()
    tz = svc.effective.tz
    data = json_body()
    if "t" in data and ("night" in data or "time" in data):
        raise ApiError(400, "give either t, or night and time", {"t": "give either t, or night and time"})
    if "t" in data:
        t = float(number(data, "t", lo=0, hi=1e10))
    else:
        if not isinstance(data.get("night"), str):
            raise bad_field("night", "is required (a date like 2026-11-24), or give t")
        night = date_value("night", data["night"])
        raw = data.get("time")
        if not isinstance(raw, str) or not CLOCK.match(raw):
            raise bad_field("time", "must be a clock time like 03:40")
        when = time.fromisoformat(raw)
        day = night if when >= time(12) else night + timedelta(days=1)
        t = datetime.combine(day, when, tz).timestamp()
    field = "t" if "t" in data else "night"
    try:
        event, created = svc.actions.log_cramp(t, source="dashboard")
    except RateLimited:
        raise  # a 429 with Retry-After (dashboard.errors)
    except ActionRefused as exc:  # its age: named by the field the person gave
        raise bad_field(field, str(exc).split(": t ", 1)[-1]) from None
    t = event.t
    return jsonify({"id": event.id, "t": round(t, 3), "time": clock(t, tz), "night": night_of(t, tz).isoformat(),
                    "created": created}), 201 if created else 200
