"""The pictures' figures: sleep week by week, when in the night cramps come, and the calendar
of goal days and cramp nights.

Each comes from its owner and is only arranged here: the per-night table of
:func:`device.insights.analysis.nights` (sleep, wake-ups, cramp nights, the day's intake against
the goal), its weeks as :func:`device.insights.report.weekly` groups them, and the nights with
their cramps of :func:`dashboard.nights.nights` (labels first, else the detector's
verdict: :func:`device.labels.apply_labels`). Nothing here decides what a cramp is.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dashboard import nights as night_data
from device.config import Config
from device.insights import analysis, report

MAX_WEEKS = 104  # two years of weeks at most, in one answer
CALENDAR_WEEKS = 53  # a year of days at most on the calendar
NIGHT_HOURS = (20, 7)  # the cramp hours shown at least: 20:00 to 07:59


def period(now: float, config: Config, weeks: int) -> tuple[date, date]:
    """The evenings of the last ``weeks`` whole ISO weeks up to last night (Monday to last night)."""
    last = analysis.last_night_day(now, config)
    return last - timedelta(days=last.weekday() + 7 * (weeks - 1)), last


def sleep_weeks(store, config: Config, now: float, weeks: int) -> list[dict]:
    """Per ISO week: nights recorded, mean hours asleep and wake-ups per recorded night, cramp nights."""
    first, last = period(now, config, weeks)
    return [{"week": w["week"], "first": w["first"], "label": date.fromisoformat(w["first"]).strftime("%d %b"),
             "nights": w["nights"], "mean_asleep_h": w["mean_asleep_h"],
             "mean_wakes": w["mean_wakes"], "cramp_nights": w["cramp_nights"]}
            for w in report.weekly(analysis.nights(store, config, first, last))]


def _night_hour(t: float, tz: ZoneInfo) -> int:
    """Hours since the evening's noon (0-23) of the local hour ``t`` falls in: 20:xx is 8."""
    return (datetime.fromtimestamp(t, tz).hour - 12) % 24


def cramp_hours(store, config: Config, now: float, weeks: int) -> dict:
    """Cramps by local hour of the night over the last ``weeks`` weeks (each cramp once, at the
    start of its wake-up or when it was logged); the hours shown run at least 20:00-07:59."""
    first, last = period(now, config, weeks)
    tz = config.tz
    times = []
    for n in night_data.nights(store, tz, last, (last - first).days + 1, timeline=False):
        times += [w["start"] for w in n["wakes"] if w["cramp"]] + [c["t"] for c in n["cramps"]]
    counts = [0] * 24
    for t in times:
        counts[_night_hour(t, tz)] += 1
    used = [k for k, c in enumerate(counts) if c]
    lo = min([(NIGHT_HOURS[0] - 12) % 24, *used])
    hi = max([(NIGHT_HOURS[1] - 12) % 24, *used])
    return {"hours": [f"{(k + 12) % 24:02d}:00" for k in range(lo, hi + 1)], "counts": counts[lo:hi + 1],
            "cramps": len(times), "first": first.isoformat(), "last": last.isoformat()}


def calendar(rows: list[dict]) -> dict:
    """The per-night rows (:func:`device.insights.analysis.nights`, oldest first) as calendar days: each
    day's intake against the goal and the cramps of the night after it, the last
    :data:`CALENDAR_WEEKS` weeks at most; ``offset`` is the first day's weekday (Monday 0)."""
    rows = rows[-7 * CALENDAR_WEEKS:]
    days = []
    for r in rows:
        d = date.fromisoformat(r["night"])
        share = r["intake_ml"] / r["goal_ml"] if r["goal_ml"] else 0.0
        days.append({"date": r["night"], "label": d.strftime("%a %d %b"), "intake_ml": round(r["intake_ml"]),
                     "measured": r["intake_measured"], "goal_met": r["intake_measured"] and r["goal_met"],
                     "level": 0 if not r["intake_measured"] else 4 if r["goal_met"] else 1 + min(2, int(share * 3)),
                     "recorded": r["recorded"], "cramps": r["cramps"], "cramp_night": r["cramp_night"]})
    return {"first": days[0]["date"] if days else None, "last": days[-1]["date"] if days else None,
            "offset": date.fromisoformat(days[0]["date"]).weekday() if days else 0,
            "goal_ml": round(rows[-1]["goal_ml"]) if rows else None, "days": days,
            "cramp_nights": sum(d["cramp_night"] for d in days), "goal_days": sum(d["goal_met"] for d in days)}


def calendar_between(store, config: Config, now: float, weeks: int) -> dict:
    """:func:`calendar` of the last ``weeks`` weeks of nights up to last night."""
    first, last = period(now, config, weeks)
    return calendar(analysis.nights(store, config, first, last))
