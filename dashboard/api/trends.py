"""The pictures' data: sleep week by week and cramps by hour of the night, the calendar of
goal days and cramp nights (:mod:`dashboard.trends`)."""

from __future__ import annotations

from flask import jsonify

from dashboard import trends
from dashboard.api import bp, int_arg
from dashboard.services import services

DEFAULT_WEEKS = 12


@bp.get("/nights/trends")
def night_trends():
    """Per ISO week (``weeks``, 1-104, default 12): hours asleep, wake-ups and cramp nights; and
    the cramps of those weeks by hour of the night (in the configured time zone)."""
    svc = services()
    weeks = int_arg("weeks", DEFAULT_WEEKS, 1, trends.MAX_WEEKS)
    config, now = svc.effective, svc.clock()
    first, last = trends.period(now, config, weeks)
    return jsonify({"first": first.isoformat(), "last": last.isoformat(),
                    "weeks": trends.sleep_weeks(svc.store, config, now, weeks),
                    "cramp_hours": trends.cramp_hours(svc.store, config, now, weeks)})


@bp.get("/calendar")
def calendar():
    """Each day of the last ``weeks`` weeks (1-53, default 12): intake against the goal and the
    cramps of the night after it."""
    svc = services()
    weeks = int_arg("weeks", DEFAULT_WEEKS, 1, trends.CALENDAR_WEEKS)
    return jsonify(trends.calendar_between(svc.store, svc.effective, svc.clock(), weeks))
