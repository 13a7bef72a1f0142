"""Nights: the timeline data, labelling a wake-up as a cramp or not, adding a missed cramp."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from flask import jsonify

from dashboard import nights as night_data
from dashboard.api import FIRST_DATE, LAST_DATE, boolean, bp, date_arg, int_arg, json_body, number
from dashboard.errors import ApiError, bad_field
from dashboard.localtime import clock, night_of
from dashboard.services import services
from device.events import CrampLog

WAKE_ID = re.compile(r"^wake-(\d{1,16})$")
CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
FUTURE_SLACK_S = 300.0
MAX_AGE_S = 366 * 86400.0


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


@bp.post("/wakes/<wake_id>/label")
def label_wake(wake_id: str):
    """Confirm (``{"cramp": true}``) or deny (``false``) that a wake-up was a cramp."""
    svc = services()
    cramp = boolean(json_body(), "cramp")
    match = WAKE_ID.match(wake_id)
    wake = None
    if match:
        t = int(match.group(1)) / 1000.0
        wake = next((e for e in svc.store.events(types=["wake"], since=t - 0.001, until=t + 0.001)
                     if e["id"] == wake_id), None)
    if wake is None:
        raise ApiError(404, f"no wake-up {wake_id!r}", {"wake_id": "not found"})
    event = CrampLog(t=round(svc.clock(), 3), confirmed=cramp, wake_id=wake_id, source="dashboard")
    svc.store.add_event(event)
    return jsonify({"id": event.id, "wake_id": wake_id, "cramp": cramp})


@bp.post("/cramps")
def add_cramp():
    """Record a cramp the detector missed: ``{"t": unix}`` or ``{"night": date, "time": "HH:MM"}``."""
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
        try:
            night = date.fromisoformat(data["night"])
        except ValueError:
            raise bad_field("night", "must be a date like 2026-11-24") from None
        if not FIRST_DATE <= night <= LAST_DATE:
            raise bad_field("night", f"must be from {FIRST_DATE} to {LAST_DATE}")
        raw = data.get("time")
        if not isinstance(raw, str) or not CLOCK.match(raw):
            raise bad_field("time", "must be a clock time like 03:40")
        when = time.fromisoformat(raw)
        day = night if when >= time(12) else night + timedelta(days=1)
        t = datetime.combine(day, when, tz).timestamp()
    field = "t" if "t" in data else "night"
    if t > svc.clock() + FUTURE_SLACK_S:
        raise bad_field(field, "is in the future")
    if t < svc.clock() - MAX_AGE_S:
        raise bad_field(field, "is more than a year ago")
    event = CrampLog(t=t, confirmed=True, source="dashboard")
    created = svc.store.add_event(event)
    return jsonify({"id": event.id, "t": round(t, 3), "time": clock(t, tz), "night": night_of(t, tz).isoformat(),
                    "created": created}), 201 if created else 200
