"""The daemon's current state as one dict: MQTT's retained ``<base>/state``.

Built on demand from the parts that own each figure (reminder service: pace and last
night; bottle detector: presence and contents; store: last drink; health), so there
is no second copy to drift.
"""

from __future__ import annotations

import time
from typing import Any

DAY_S = 86400.0


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
    drinks = list(daemon.store.events(types=["drink"], since=now - DAY_S))
    last = drinks[-1] if drinks else None
    intake = pace.get("intake_ml")
    if intake is None and daemon.reminders is None:
        intake = _intake_today(daemon, now)
    expected = pace.get("expected_ml")
    return {
        "intake_today_ml": intake,  # over crampwatch's day (scheduler.policy.day_bounds), as everywhere
        "goal_ml": pace.get("goal_ml"),
        "bottle_contents_ml": contents,
        "bottle_present": present,
        "pace_ml": None if intake is None or expected is None else round(intake - expected, 1),
        "last_drink": None if last is None else {"t": last["t"], "ml": last["ml"], "id": last["id"]},
        "last_night": status.get("last_night"),
        "reminder_active": bool(status.get("reminder")),
        "reminder": status.get("reminder"),
        "doctor_flag": _doctor_flag(daemon, now),  # cramp nights lately (device.insights), cached
        # "health" is left to the MQTT service: per-part states only, so that the
        # retained state changes when health does, not with every sample's age.
    }


def _intake_today(daemon, now: float) -> float:
    """Drunk so far today, when no reminder service counts it: the same day, from the store."""
    from scheduler.policy import day_bounds, day_of

    h, tz = daemon.config.hydration, daemon.config.tz
    start, end = day_bounds(day_of(now, h, tz), h, tz)
    return round(sum(e["ml"] for e in daemon.store.events(types=["drink"], since=start, until=end)), 1)


def _doctor_flag(daemon, now: float) -> dict[str, Any] | None:
    from device.insights import daemon_doctor_flag

    return daemon_doctor_flag(daemon, now)
