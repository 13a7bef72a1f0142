"""Insights: the page and ``/api/v1/insights`` comparing cramp nights by intake and stretching.

The analysis is :func:`device.insights.analysis.analyse` (shared with the report and the MQTT
state); this blueprint caches its result until the store or the settings change, so
a year of history costs one analysis per new event, not one per request.
"""

from __future__ import annotations

import threading

from flask import Blueprint, Flask, abort, jsonify, render_template, request
from markupsafe import Markup

from dashboard import trends
from dashboard.api import int_arg
from dashboard.services import services
from device.insights import analysis, report

bp = Blueprint("insights", __name__)
PERIODS = {"4": ("4 weeks", 4), "12": ("12 weeks", 12), "26": ("26 weeks", 26), "all": ("All", None)}
CHART_NIGHTS = 56
MAX_WEEKS = 520


def init_app(app: Flask) -> None:
    """Register the blueprint, its result cache and its navigation entry (after Nights)."""
    from dashboard import register_nav

    app.register_blueprint(bp)
    app.extensions["crampwatch.insights"] = _Cache()
    register_nav(app, "insights.page", "Insights", after="pages.nights")


class _Cache:
    """The last few analyses, keyed by what they depend on."""

    def __init__(self, size: int = 8):
        self._lock = threading.Lock()
        self._items: dict[tuple, dict] = {}
        self._size = size

    def get(self, weeks: int | None) -> dict:
        svc = services()
        config, now = svc.effective, svc.clock()
        key = (weeks, analysis.last_night_day(now, config), svc.store.count_events(),
               analysis.goal_ml(svc.store, config), config.insights.model_dump_json(),
               config.hydration.model_dump_json(), config.stretch.model_dump_json(), config.device.timezone)
        with self._lock:
            hit = self._items.get(key)
        if hit is None:
            hit = analysis.analyse(svc.store, config, now, weeks=weeks)
            with self._lock:
                if len(self._items) >= self._size:
                    self._items.pop(next(iter(self._items)))
                self._items[key] = hit
        return hit


def _analysis(weeks: int | None) -> dict:
    from flask import current_app

    return current_app.extensions["crampwatch.insights"].get(weeks)


@bp.get("/insights")
def page():
    """Insights: cramp nights after days below or at the goal, with or without stretching."""
    period = request.args.get("weeks", "12")
    if period not in PERIODS:
        abort(404)
    weeks = PERIODS[period][1]
    result = _analysis(weeks)
    charts = {c["key"]: Markup(report.svg_group_rates(c)) for c in result["comparisons"]}
    return render_template("insights.html", r=result, charts=charts, periods=PERIODS, period=period,
                           calendar=trends.calendar(result["rows"]),
                           nights_chart=Markup(report.svg_nights(result["rows"][-CHART_NIGHTS:])),
                           legend=Markup(report.legend_html()), chart_nights=min(CHART_NIGHTS, len(result["rows"])))


@bp.get("/api/v1/insights")
def api():
    """The per-night table, the comparisons and the doctor flag (``weeks``: limit the period)."""
    weeks = int_arg("weeks", 0, 0, MAX_WEEKS) or None
    return jsonify(_analysis(weeks))
