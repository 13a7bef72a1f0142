"""Drinking against the goal: today's pace, daily totals, weekly and monthly views, streaks.

The goal, wake time, bedtime, cutoff and pace shape come from whichever configuration
section declares them (``goal_ml``, ``wake_time``, ``bedtime``, ``cutoff_h``,
``front_load``: today ``[hydration]``), else the reminder defaults (2000 mL, 07:00,
23:00, 2 h, even pace). A goal set by the ``goal`` command (MQTT or this dashboard)
is kept in the store's settings under the same dotted key and wins over the file.
The expected pace is the reminder policy's: ``x * (1 + front_load * (1 - x))`` of the
goal at fraction ``x`` of the drinking window. Past days are measured against
today's goal.

A day is crampwatch's one day (:func:`scheduler.policy.day_bounds`): from halfway
through the night before to halfway through the night after (03:00 to 03:00 with the
default wake time and bedtime), as the reminders, insights and the MQTT state count it.
A drink at 00:30 before going to bed counts to the evening's day.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import SimpleNamespace
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

from device.config import Config
from dashboard.localtime import DayIndex, at, clock

NAMES = {"goal_ml": ("goal_ml", "daily_goal_ml"), "wake": ("wake_time",), "bed": ("bedtime", "bed_time"),
         "cutoff_h": ("cutoff_h", "cutoff_hours"), "front_load": ("front_load",)}


def find_setting(config: Config, names: tuple[str, ...]) -> tuple[str | None, object]:
    """The first field named one of ``names`` in any section: (``section.key``, value)."""
    for section_name in type(config).model_fields:
        section = getattr(config, section_name)
        for name in names:
            if name in getattr(type(section), "model_fields", {}):
                return f"{section_name}.{name}", getattr(section, name)
    return None, None


def _as_time(value, default: time) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            return time.fromisoformat(value)
        except ValueError:
            pass
    return default


@dataclass(frozen=True)
class DayPlan:
    """The day's goal and its drinking window (wake time to bedtime minus the cutoff)."""

    goal_ml: float = 2000.0
    wake: time = time(7)
    bed: time = time(23)
    cutoff_h: float = 2.0
    goal_key: str | None = None
    front_load: float = 0.0

    @classmethod
    def from_config(cls, config: Config, store=None) -> DayPlan:
        goal_key, goal = find_setting(config, NAMES["goal_ml"])
        if goal_key and store is not None:
            goal = store.get_setting(goal_key, goal)
        _, wake = find_setting(config, NAMES["wake"])
        _, bed = find_setting(config, NAMES["bed"])
        _, cutoff = find_setting(config, NAMES["cutoff_h"])
        _, front = find_setting(config, NAMES["front_load"])
        return cls(float(goal) if goal else cls.goal_ml, _as_time(wake, cls.wake), _as_time(bed, cls.bed),
                   float(cutoff) if cutoff is not None else cls.cutoff_h, goal_key, float(front or 0.0))

    @property
    def clock_times(self) -> SimpleNamespace:
        """Wake time and bedtime as the policy reads them (``HH:MM``)."""
        return SimpleNamespace(wake_time=self.wake.strftime("%H:%M"), bedtime=self.bed.strftime("%H:%M"))

    def bounds(self, day: date, tz: ZoneInfo) -> tuple[float, float]:
        """Where the local ``day`` starts and ends (the reminder policy's day)."""
        from scheduler.policy import day_bounds

        return day_bounds(day, self.clock_times, tz)

    def day_of(self, t: float, tz: ZoneInfo) -> date:
        """The local day the instant ``t`` counts to (the reminder policy's day)."""
        from scheduler.policy import day_of

        return day_of(t, self.clock_times, tz)

    def window(self, day: date, tz: ZoneInfo) -> tuple[float, float]:
        start = at(day, self.wake, tz)
        end = at(day, self.bed, tz) - self.cutoff_h * 3600.0
        if end <= start:  # bedtime after midnight
            end += 86400.0
        return start, max(end, start + 3600.0)

    def pace_at(self, t: float, day: date, tz: ZoneInfo) -> float:
        """How much should have been drunk by ``t`` to meet the goal evenly."""
        start, end = self.window(day, tz)
        return self.goal_ml * self.fraction((t - start) / (end - start))

    def fraction(self, x: float) -> float:
        """The reminders' pace curve (one definition: scheduler.policy)."""
        from scheduler.policy import expected_fraction

        return expected_fraction(x, self.front_load)


def daily_totals(store, tz: ZoneInfo, first: date, last: date, plan: DayPlan | None = None) -> list[dict]:
    """Intake per local day from ``first`` to ``last``: drinks, refills, stretched or not.

    Days are ``plan``'s (:meth:`DayPlan.bounds`; the default wake time and bedtime without one).
    """
    index = DayIndex(first, last, (plan or DayPlan()).bounds, tz)
    rows = [{"date": d.isoformat(), "intake_ml": 0.0, "drinks": 0, "refills": 0, "stretched": False}
            for d in index.days]
    for e in store.events(types=["drink", "refill", "stretched"], since=index.edges[0], until=index.edges[-1]):
        k = index.index(e["t"])
        if k is not None:
            row = rows[k]
            if e["type"] == "drink":
                row["intake_ml"] += e["ml"]
                row["drinks"] += 1
            elif e["type"] == "refill":
                row["refills"] += 1
            else:
                row["stretched"] = True
    for row in rows:
        row["intake_ml"] = round(row["intake_ml"])
    return rows


class Totals:
    """:func:`daily_totals` with the finished days cached (a year of history is read once).

    Events stored in this process drop only their own day (the store tells us of each);
    when the store's event count shows a change we were not told of (another process
    wrote to the database), everything is read again. Today is always read afresh.
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

    def __call__(self, tz: ZoneInfo, first: date, last: date, today: date, plan: DayPlan | None = None) -> list[dict]:
        plan = plan or DayPlan()
        count = self.store.count_events()
        key = (str(tz), plan.wake, plan.bed)  # what decides where days begin
        with self._lock:
            if (key, count) != (self._tz_key, self._count):
                self._tz_key, self._count, self._days = key, count, {}
            for t in self._stale:
                self._days.pop(plan.day_of(t, tz).isoformat(), None)
            self._stale = []
            days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
            missing = [d for d in days if d >= today or d.isoformat() not in self._days]
            fresh = {}
            if missing:
                fresh = {r["date"]: r for r in daily_totals(self.store, tz, min(missing), max(missing), plan)}
                self._days.update({k: v for k, v in fresh.items() if date.fromisoformat(k) < today})
            return [dict(fresh.get(d.isoformat()) or self._days[d.isoformat()]) for d in days]


def today(store, tz: ZoneInfo, plan: DayPlan, now: float) -> dict:
    """Today's intake, pace, drinks and the cumulative curve for the chart."""
    day = plan.day_of(now, tz)
    start, end = plan.bounds(day, tz)
    midnight = at(day, time(0), tz)
    drinks, refills, total, curve = [], 0, 0.0, [[_hour(start, midnight), 0.0]]
    for e in store.events(types=["drink", "refill"], since=start, until=end):
        if e["type"] == "refill":
            refills += 1
            continue
        total += e["ml"]
        drinks.append({"id": e["id"], "t": e["t"], "time": clock(e["t"], tz), "ml": round(e["ml"])})
        curve.append([_hour(e["t"], midnight), round(total)])
    pace = plan.pace_at(now, day, tz)
    w0, w1 = plan.window(day, tz)
    curve.append([_hour(min(now, end - 1), midnight), round(total)])
    return {
        "date": day.isoformat(), "weekday": day.strftime("%A"), "now": clock(now, tz),
        "intake_ml": round(total), "goal_ml": round(plan.goal_ml), "goal_key": plan.goal_key,
        "progress": round(total / plan.goal_ml, 3) if plan.goal_ml else 0.0,
        "pace_ml": round(pace), "pace_delta_ml": round(total - pace),
        "window": {"start": clock(w0, tz), "end": clock(w1, tz)},
        "drinks": drinks[::-1], "refills": refills,
        "chart": {"intake": curve, "range": [_hour(start, midnight), _hour(end, midnight)],
                  "pace": [[_hour(w0 + k / 12 * (w1 - w0), midnight), round(plan.goal_ml * plan.fraction(k / 12))]
                           for k in range(13)]},
    }


def _hour(t: float, midnight: float) -> float:
    """Hours since the day's local midnight (past 24 after the next midnight, before the day ends)."""
    return round((t - midnight) / 3600.0, 3)


def history(totals: Totals, tz: ZoneInfo, plan: DayPlan, now: float, view: str, count: int) -> dict:
    """Daily totals, or per-day averages by ISO week or by month, for the last ``count``."""
    last = plan.day_of(now, tz)
    if view == "day":
        first = last - timedelta(days=count - 1)
    elif view == "week":
        first = last - timedelta(days=last.weekday() + 7 * (count - 1))
    else:
        month = last.year * 12 + last.month - 1 - (count - 1)
        first = date(month // 12, month % 12 + 1, 1)
    days = totals(tz, first, last, last, plan)
    goal = plan.goal_ml
    if view == "day":
        rows = [{"key": r["date"], "label": _label(r["date"], "%a %d"), "intake_ml": r["intake_ml"],
                 "days": 1, "met_days": int(r["intake_ml"] >= goal)} for r in days]
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
                         "met_days": sum(m["intake_ml"] >= goal for m in members)})
    return {"view": view, "goal_ml": round(goal), "rows": rows}


def _label(iso: str, fmt: str) -> str:
    return date.fromisoformat(iso).strftime(fmt)


def streaks(totals: Totals, tz: ZoneInfo, plan: DayPlan, now: float, days: int = 365) -> dict:
    """Current and best runs of days at the goal, and of evenings with stretching done."""
    last = plan.day_of(now, tz)
    rows = totals(tz, last - timedelta(days=days - 1), last, last, plan)
    return {"goal": _runs([r["intake_ml"] >= plan.goal_ml for r in rows]),
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
