"""Drinking against the goal: today's pace, daily totals, weekly and monthly views, streaks.

Everything about the day comes from the reminder policy, looked up by the real settings
keys (``[hydration]`` ``wake_time``, ``bedtime``, ``cutoff_h``, ``front_load``, in the
dashboard's effective configuration): a day's bounds (:func:`scheduler.policy.day_bounds`:
from halfway through the night before to halfway through the night after, 03:00 to 03:00
with the default wake time and bedtime, as the reminders, insights and the MQTT state
count it; a drink at 00:30 before going to bed counts to the evening's day), its drinking
window and the expected pace (:class:`scheduler.policy.DayPlan` and
:func:`scheduler.policy.expected_ml`). The goal is :func:`device.actions.goal_ml`: the
one last set by a person (the ``goal`` action, from MQTT or this dashboard), else the
configured ``hydration.goal_ml``. Past days are measured against today's goal.

Drinks are counted as they stand (:mod:`device.drinks`): bottle and hand-logged drinks
alike, with a person's corrections applied and deleted ones left out; tea and coffee
are also totalled apart (``caffeine_ml``).
"""

from __future__ import annotations

import threading
from datetime import date, time, timedelta

from dashboard.localtime import DayIndex, at, clock
from device import drinks as drink_rules, factors as factor_rules
from device.actions import GOAL_SETTING, goal_ml
from device.config import Config
from device.insights import analysis
from scheduler import policy


def goal(store, config: Config) -> float:
    """Today's goal (:func:`device.actions.goal_ml`)."""
    return goal_ml(store, config.hydration.goal_ml)


def _bounds(config: Config):
    """``bounds(day, tz)`` of the policy's days for :class:`dashboard.localtime.DayIndex`."""
    return lambda day, tz: policy.day_bounds(day, config.hydration, tz)


def daily_totals(store, config: Config, first: date, last: date) -> list[dict]:
    """Intake per local day from ``first`` to ``last``: drinks (as they stand), caffeinated
    drinks, refills, stretched or not.

    Days are the policy's (:func:`scheduler.policy.day_bounds`) with ``config``'s times.
    """
    index = DayIndex(first, last, _bounds(config), config.tz)
    rows = [{"date": d.isoformat(), "intake_ml": 0.0, "caffeine_ml": 0.0, "drinks": 0, "refills": 0,
             "stretched": False} for d in index.days]
    since, until = index.edges[0], index.edges[-1]
    for e in [*drink_rules.drinks_between(store, since, until),
              *store.events(types=["refill", "stretched"], since=since, until=until)]:
        k = index.index(e["t"])
        if k is not None:
            row = rows[k]
            if e["type"] == "drink":
                row["intake_ml"] += e["ml"]
                row["caffeine_ml"] += e["ml"] if e["kind"] in drink_rules.CAFFEINATED else 0.0
                row["drinks"] += 1
            elif e["type"] == "refill":
                row["refills"] += 1
            else:
                row["stretched"] = True
    for row in rows:
        row["intake_ml"] = round(row["intake_ml"])
        row["caffeine_ml"] = round(row["caffeine_ml"])
    return rows


class Totals:
    """:func:`daily_totals` with the finished days cached (a year of history is read once).

    Events stored in this process drop only their own day (the store tells us of each; a
    drink's correction drops the drink's day); when the store's event count shows a change
    we were not told of (another process wrote to the database), everything is read
    again. Today is always read afresh.
    """

    TYPES = ("drink", "refill", "stretched")

    def __init__(self, store):
        self.store = store
        self._lock = threading.Lock()
        self._tz_key, self._count = None, None
        self._days: dict[str, dict] = {}
        self._stale: list[float] = []
        store.subscribe(self._on_event)

    def _on_event(self, event: dict) -> None:
        with self._lock:
            if self._count is not None:
                self._count += 1
            if event.get("type") in self.TYPES:
                self._stale.append(event["t"])
            elif event.get("type") == drink_rules.CHANGE_TYPE:
                t = drink_rules.drink_time(event.get("drink_id"))
                if t is not None:
                    self._stale.append(t)

    def __call__(self, config: Config, first: date, last: date, today: date) -> list[dict]:
        h, tz = config.hydration, config.tz
        count = self.store.count_events()
        key = (str(tz), h.wake_time, h.bedtime)  # what decides where days begin
        with self._lock:
            if (key, count) != (self._tz_key, self._count):
                self._tz_key, self._count, self._days = key, count, {}
            for t in self._stale:
                self._days.pop(policy.day_of(t, h, tz).isoformat(), None)
            self._stale = []
            days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
            missing = [d for d in days if d >= today or d.isoformat() not in self._days]
            fresh = {}
            if missing:
                fresh = {r["date"]: r for r in daily_totals(self.store, config, min(missing), max(missing))}
                self._days.update({k: v for k, v in fresh.items() if date.fromisoformat(k) < today})
            return [dict(fresh.get(d.isoformat()) or self._days[d.isoformat()]) for d in days]


def today(store, config: Config, now: float) -> dict:
    """Today's intake, pace, drinks and the cumulative curve for the chart."""
    h, tz = config.hydration, config.tz
    plan = policy.day_plan(now, h, config.stretch, tz)
    target = goal(store, config)
    day, start, end = plan.day, plan.start, plan.end
    midnight = at(day, time(0), tz)
    refills = sum(1 for _ in store.events(types=["refill"], since=start, until=end))
    drinks, total, curve = [], 0.0, [[_hour(start, midnight), 0.0]]
    stood = drink_rules.drinks_between(store, start, end)
    for e in stood:
        total += e["ml"]
        drinks.append(drink_view(e, tz))
        curve.append([_hour(e["t"], midnight), round(total)])
    pace = policy.expected_ml(now, plan, target, h.front_load)
    w0, w1 = plan.wake, plan.cutoff
    curve.append([_hour(min(now, end - 1), midnight), round(total)])
    return {
        "date": day.isoformat(), "weekday": day.strftime("%A"), "now": clock(now, tz),
        "intake_ml": round(total), "caffeine_ml": round(drink_rules.totals(stood)["caffeine_ml"]),
        "goal_ml": round(target), "goal_key": GOAL_SETTING,
        "progress": round(total / target, 3) if target else 0.0,
        "pace_ml": round(pace), "pace_delta_ml": round(total - pace),
        "window": {"start": clock(w0, tz), "end": clock(w1, tz)},
        "drinks": drinks[::-1], "refills": refills, "last_drink": _last_drink(store, now, tz),
        "chart": {"intake": curve, "range": [_hour(start, midnight), _hour(end, midnight)],
                  "pace": [[_hour(w0 + k / 12 * (w1 - w0), midnight),
                            round(target * policy.expected_fraction(k / 12, h.front_load))] for k in range(13)]},
    }


def drink_view(drink: dict, tz) -> dict:
    """One drink (as it stands, :func:`device.drinks.apply_changes`) as Today and the API show it."""
    return {"id": drink["id"], "t": drink["t"], "time": clock(drink["t"], tz), "ml": round(drink["ml"]),
            "kind": drink["kind"], "source": drink["source"], "corrected": drink["corrected"]}


def _last_drink(store, now: float, tz) -> dict | None:
    """The latest drink (today's or yesterday's, :func:`device.drinks.last_drink`) and how long ago."""
    last = drink_rules.last_drink(store, now)
    return None if last is None else drink_view(last, tz) | {"ago_s": round(max(0.0, now - last["t"]))}


def day_factors(store, config: Config, day: date) -> dict:
    """A day's recorded factors (:mod:`device.factors`), with its electrolyte drinks (:mod:`device.drinks`)."""
    start, end = policy.day_bounds(day, config.hydration, config.tz)
    view = factor_rules.view(day, factor_rules.between(store, day, day).get(day.isoformat()))
    return view | {"electrolyte_ml": round(drink_rules.totals(drink_rules.drinks_between(store, start, end))
                                           ["electrolyte_ml"])}


def _hour(t: float, midnight: float) -> float:
    """Hours since the day's local midnight (past 24 after the next midnight, before the day ends)."""
    return round((t - midnight) / 3600.0, 3)


def history(totals: Totals, config: Config, now: float, view: str, count: int) -> dict:
    """Daily totals, or per-day averages by ISO week or by month, for the last ``count``; with the
    cramp nights after those days (:func:`device.insights.analysis.nights`) and the nights recorded."""
    last = policy.day_of(now, config.hydration, config.tz)
    if view == "day":
        first = last - timedelta(days=count - 1)
    elif view == "week":
        first = last - timedelta(days=last.weekday() + 7 * (count - 1))
    else:
        month = last.year * 12 + last.month - 1 - (count - 1)
        first = date(month // 12, month % 12 + 1, 1)
    days = totals(config, first, last, last)
    target = goal(totals.store, config)
    nights = {n["night"]: n for n in analysis.nights(totals.store, config, first, last, goal=target)}
    for r in days:  # the night after each day, as the insights count it (labels first, else the detector)
        night = nights[r["date"]]
        r["cramp_nights"], r["recorded_nights"] = int(night["cramp_night"]), int(night["recorded"])
    if view == "day":
        rows = [{"key": r["date"], "label": _label(r["date"], "%a %d"), "intake_ml": r["intake_ml"],
                 "caffeine_ml": r["caffeine_ml"], "days": 1, "met_days": int(r["intake_ml"] >= target),
                 "cramp_nights": r["cramp_nights"], "recorded_nights": r["recorded_nights"]}
                for r in days]
    else:
        groups: dict[str, list[dict]] = {}
        for r in days:
            d = date.fromisoformat(r["date"])
            key = f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}" if view == "week" else d.strftime("%Y-%m")
            groups.setdefault(key, []).append(r)
        rows = []
        for key, members in groups.items():
            label = _label(members[0]["date"], "%d %b") if view == "week" else _label(members[0]["date"], "%b %Y")
            rows.append({"key": key, "label": label, "days": len(members),
                         "intake_ml": round(sum(m["intake_ml"] for m in members) / len(members)),
                         "caffeine_ml": round(sum(m["caffeine_ml"] for m in members) / len(members)),
                         "met_days": sum(m["intake_ml"] >= target for m in members),
                         "cramp_nights": sum(m["cramp_nights"] for m in members),
                         "recorded_nights": sum(m["recorded_nights"] for m in members)})
    return {"view": view, "goal_ml": round(target), "rows": rows}


def _label(iso: str, fmt: str) -> str:
    return date.fromisoformat(iso).strftime(fmt)


def streaks(totals: Totals, config: Config, now: float, days: int = 365) -> dict:
    """Current and best runs of days at the goal, and of evenings with stretching done."""
    last = policy.day_of(now, config.hydration, config.tz)
    rows = totals(config, last - timedelta(days=days - 1), last, last)
    target = goal(totals.store, config)
    return {"goal": _runs([r["intake_ml"] >= target for r in rows]),
            "stretch": _runs([r["stretched"] for r in rows])}


def _runs(flags: list[bool]) -> dict:
    """Best run, and the current one (today counts once achieved, never against it)."""
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    current = 0
    for flag in reversed(flags[:-1]):
        if not flag:
            break
        current += 1
    if flags and flags[-1]:
        current += 1
    return {"current": current, "best": best}
