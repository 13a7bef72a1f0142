"""The pages people see: server-rendered HTML, a little JavaScript for live parts."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, render_template, request

from dashboard import intake, nights as night_data, state, trends
from dashboard.services import services
from device.drinks import KINDS

bp = Blueprint("pages", __name__)

# The navigation, in order; another blueprint (the coming Insights page) adds itself
# with ``register_nav(app, endpoint, label, after="pages.nights")``.
NAV = [("pages.today", "Today"), ("pages.history", "History"), ("pages.nights", "Nights"),
       ("pages.settings", "Settings"), ("pages.calibrate", "Calibrate"), ("pages.health", "Health")]
VIEWS = {"day": ("Days", 30), "week": ("Weeks", 12), "month": ("Months", 12)}
NIGHTS_PER_PAGE = 7
TREND_WEEKS = 12  # the Nights page's sleep and cramp-hour pictures
DRINK_PRESETS_ML = (150, 250, 330, 500)  # one tap logs a drink of the chosen kind


def _factors(svc) -> dict:
    """Today's daily factors for the factors card (Today and History)."""
    today = svc.actions.today()
    return {"factors": intake.day_factors(svc.store, svc.effective, today), "factors_today": today.isoformat()}


@bp.get("/")
def today():
    """Today: intake against the goal and pace, drinks (log, correct, delete), the bottle live,
    the reminder, the time since the last drink and the next reminder planned, the day's factors."""
    svc = services()
    data = intake.today(svc.store, svc.effective, svc.clock())
    return render_template("today.html", day=data, bottle=state.bottle(svc), reminder=state.reminder(svc),
                           next_reminder=state.next_reminder(svc), has_reminders=svc.reminders is not None,
                           has_scale=svc.scale is not None,
                           kinds=KINDS, presets=DRINK_PRESETS_ML, **_factors(svc))


@bp.get("/history")
def history():
    """History: daily totals with the goal line, weekly and monthly views, streaks; a past day's factors."""
    svc = services()
    view = request.args.get("view", "day")
    if view not in VIEWS:
        abort(404)
    config = svc.effective
    data = intake.history(svc.extras["totals"], config, svc.clock(), view, VIEWS[view][1])
    runs = intake.streaks(svc.extras["totals"], config, svc.clock())
    return render_template("history.html", data=data, views=VIEWS, streaks=runs, **_factors(svc))


@bp.get("/nights")
def nights():
    """Nights: sleep week by week and cramps by hour; one timeline per night (its movement on
    request); confirm, deny or add cramps."""
    svc = services()
    tz = svc.effective.tz
    newest = night_data.newest_night(svc.store, svc.clock(), tz)
    try:
        last = date.fromisoformat(request.args.get("last", "")) if request.args.get("last") else newest
    except ValueError:
        abort(404)
    last = min(max(last, newest - timedelta(days=3650)), newest)
    rows = night_data.nights(svc.store, tz, last, NIGHTS_PER_PAGE, epochs=svc.epochs)
    doctor = night_data.doctor_flag(svc.store, svc.effective, svc.clock())
    note = doctor["message"] if doctor["raised"] else None
    now, config = svc.clock(), svc.effective
    trend = {"weeks": trends.sleep_weeks(svc.store, config, now, TREND_WEEKS),
             "hours": trends.cramp_hours(svc.store, config, now, TREND_WEEKS)}
    return render_template("nights.html", nights=rows, note=note, trend=trend, trend_weeks=TREND_WEEKS,
                           older=(last - timedelta(days=NIGHTS_PER_PAGE)).isoformat(),
                           newer=(last + timedelta(days=NIGHTS_PER_PAGE)).isoformat() if last < newest else None)


@bp.get("/settings")
def settings():
    """Settings: every section of the configuration, validated like the file."""
    svc = services()
    return render_template("settings.html", sections=svc.settings.describe(svc.health))


@bp.get("/calibrate")
def calibrate():
    """Calibrate: the tare / known weight / empty bottle wizard with a live reading."""
    svc = services()
    return render_template("calibrate.html", wizard=svc.extras["wizard"].state(), bottle=state.bottle(svc))


@bp.get("/health")
def health():
    """Health: sensors, MQTT, storage and version."""
    return render_template("health.html", health=state.health(services()))
