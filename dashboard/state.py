"""The live parts of the dashboard (bottle, reminder, health), for pages, API and SSE."""

from __future__ import annotations

import os
from datetime import datetime

from dashboard.localtime import clock
from dashboard.services import Services

STALE_S = 10.0  # a reading older than this is no live reading


def bottle(svc: Services) -> dict:
    """The scale's latest reading and the bottle on it, or ``live: false``.

    Whether the bottle is on the scale and what is in it are the bottle detector's
    (:class:`sensors.bottle_detector.BottleState`, kept by the daemon's bottle worker,
    which the MQTT state and the reminders read too); this only shows them. Without a
    running scale (a dashboard over history only) or a recent reading nothing is known.
    """
    reading = svc.scale.latest() if svc.scale is not None else None
    now = svc.clock()
    if reading is None or now - reading.t > STALE_S:
        return {"live": False, "grams": None, "present": None, "contents_ml": None}
    seen = svc.scale.state()
    present = None if seen is None else seen.present
    contents = None
    if present and seen.contents_g is not None:
        contents = max(0.0, seen.contents_g / svc.effective.bottle.density_g_per_ml)
    return {"live": True, "grams": round(reading.grams, 1), "present": present,
            "contents_ml": None if contents is None else round(contents), "t": round(reading.t, 2)}


def reminder(svc: Services) -> dict | None:
    """The active reminder as JSON, or None (also when there is no reminder service)."""
    if svc.reminders is None:
        return None
    active = svc.reminders.active()
    if active is None:
        return None
    data = active.to_dict() if hasattr(active, "to_dict") else dict(active)
    tz = svc.effective.tz
    for key in ("t", "snoozed_until"):
        if isinstance(data.get(key), (int, float)):
            data[f"{key}_time"] = clock(data[key], tz)
    data.setdefault("message", "Time for a drink" if data.get("kind") != "stretch" else "Time to stretch")
    return data


REASONS = {"snoozed": "a snoozed reminder comes back", "behind": "if nothing is drunk before then",
           "bedtime": "the stretching prompt before bed"}


def next_reminder(svc: Services) -> dict | None:
    """The reminder service's next planned reminder (``next_planned()``, its one owner) with its
    local clock time, or None (none planned, or no reminder service)."""
    planned = getattr(svc.reminders, "next_planned", None)
    data = planned() if planned is not None else None
    if data is None:
        return None
    tz = svc.effective.tz
    day = datetime.fromtimestamp(data["t"], tz).date()
    return data | {"time": clock(data["t"], tz), "tomorrow": day > datetime.fromtimestamp(svc.clock(), tz).date(),
                   "note": REASONS.get(data.get("reason"), "")}


def health(svc: Services) -> dict:
    """Each component's state, the overall state, storage and version."""
    try:
        size = sum(os.path.getsize(p) for p in (svc.store.path, svc.store.path + "-wal") if os.path.exists(p))
    except (OSError, TypeError):
        size = None
    return {"overall": svc.health.overall, "components": svc.health.snapshot(), "version": svc.version,
            "storage": {"path": svc.store.path, "events": svc.store.count_events(), "bytes": size,
                        "schema_version": svc.store.schema_version},
            "reminders": svc.reminders is not None, "scale": svc.scale is not None}


def live(svc: Services) -> dict:
    """What the SSE stream sends when it changes."""
    return {"weight": bottle(svc), "reminder": {"active": reminder(svc)},
            "health": {"overall": svc.health.overall,
                       "components": {k: v["state"] for k, v in svc.health.snapshot().items()}}}
