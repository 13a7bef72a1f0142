"""The daemon's current state as one dict: MQTT's retained ``<base>/state``.

Built on demand from the parts that own each figure (reminder service: pace and last
night; bottle detector: presence and contents; store: last drink; bed worker: in bed;
insights: the doctor flag and last week's cramp nights; health), so there is no second
copy to drift.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from device.drinks import drinks_between, last_drink


def daemon_state(daemon, now: float | None = None) -> dict[str, Any]:
    """The state JSON of DESIGN.md for a running :class:`device.daemon.Daemon`."""
    now = time.time() if now is None else now
    status = daemon.reminders.status() if daemon.reminders is not None else {}
    pace = status.get("pace") or {}
    present = contents = None
    if daemon.bottle is not None:
        bottle = daemon.bottle.detector.state
        present = bottle.present
        if bottle.contents_g is not None:
            contents = round(bottle.contents_g / daemon.config.bottle.density_g_per_ml, 1)
    last = last_drink(daemon.store, now)  # as it stands (device.drinks)
    intake = pace.get("intake_ml")
    if intake is None and daemon.reminders is None:
        intake = _intake_today(daemon, now)
    expected = pace.get("expected_ml")
    recent = _recent_nights(daemon, now)
    return {
        "intake_today_ml": intake,  # over crampwatch's day (scheduler.policy.day_bounds), as everywhere
        "goal_ml": pace.get("goal_ml"),
        "bottle_contents_ml": contents,
        "bottle_present": present,
        "pace_ml": None if intake is None or expected is None else round(intake - expected, 1),
        "last_drink": None if last is None else {"t": last["t"], "ml": last["ml"], "id": last["id"],
                                                 "kind": last["kind"], "source": last["source"],
                                                 "at": iso_utc(last["t"])},
        "last_night": status.get("last_night"),
        "reminder_active": bool(status.get("reminder")),
        "reminder": status.get("reminder"),
        "doctor_flag": recent["doctor_flag"],  # cramp nights lately (device.insights.analysis), cached
        "cramp_nights_week": recent["cramp_nights_week"],  # of the last seven nights, from the same table
        "in_bed": daemon.bed.in_bed() if getattr(daemon, "bed", None) is not None else None,
        # "health" is left to the MQTT service: per-part states only, so that the
        # retained state changes when health does, not with every sample's age.
    }


def _intake_today(daemon, now: float) -> float:
    """Drunk so far today, when no reminder service counts it: the same day, from the store."""
    from scheduler.policy import day_bounds, day_of

    h, tz = daemon.config.hydration, daemon.config.tz
    start, end = day_bounds(day_of(now, h, tz), h, tz)
    return round(sum(e["ml"] for e in drinks_between(daemon.store, start, end)), 1)


def _recent_nights(daemon, now: float) -> dict[str, Any]:
    from device.insights.analysis import daemon_recent_nights

    return daemon_recent_nights(daemon, now)


def iso_utc(t: float) -> str:
    """A Unix time as ISO 8601 in UTC, as Home Assistant's timestamp sensors read it.

    >>> iso_utc(1764060312.4)
    '2025-11-25T08:45:12+00:00'
    """
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds")
