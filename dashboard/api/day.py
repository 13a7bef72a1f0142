"""Today, history and streaks."""

from __future__ import annotations

from flask import jsonify, request

from dashboard import intake, state
from dashboard.api import bp, int_arg
from dashboard.errors import bad_field
from dashboard.services import services

LIMITS = {"day": 30, "week": 12, "month": 12}  # default counts; at most 366 of any


@bp.get("/today")
def today():
    """Today's intake against the goal and pace, every drink, the bottle and the reminder."""
    svc = services()
    data = intake.today(svc.store, svc.effective, svc.clock())
    data["bottle"] = state.bottle(svc)
    data["reminder"] = state.reminder(svc)
    data["next_reminder"] = state.next_reminder(svc)
    return jsonify(data)


@bp.get("/history")
def history():
    """Daily totals, or per-day averages by week or month, with the goal."""
    svc = services()
    view = request.args.get("view", "day")
    if view not in LIMITS:
        raise bad_field("view", "must be one of day, week, month")
    count = int_arg("count", LIMITS[view], 1, 366)
    return jsonify(intake.history(svc.extras["totals"], svc.effective, svc.clock(), view, count))


@bp.get("/streaks")
def streaks():
    """Current and best runs of days at the goal and of evenings with stretching."""
    svc = services()
    return jsonify(intake.streaks(svc.extras["totals"], svc.effective, svc.clock()))


@bp.get("/bottle")
def bottle():
    """The scale's live reading and the bottle's contents."""
    return jsonify(state.bottle(services()))
