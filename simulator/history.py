"""Weeks or months of plausible history for the dashboard, the demo and benchmarks.

:func:`seed_history` fills a store with ``days`` of one person's life, ending at ``end``:

- drinks and refills: the ground truth of :func:`simulator.bottle_scenario.plan_day`,
  one plan per local day (seed ``seed * 1000 + day``), moved onto the configured time
  zone's clock (the plans count "local" hours on a UTC clock);
- nights: a ``sleep`` period from the day's bedtime to the next wake time, 0-4 ``wake``
  events (half of them out of bed), some of them cramp wake-ups with the detector's
  verdict and score (it errs now and then); the person confirms most cramps with the
  bedside button, denies a few false alarms on the dashboard and logs one the detector
  missed now and then (``cramp`` events, :class:`vocabulary.events.CrampLog`);
- reminders: hydration reminders on days behind pace (acknowledged, snoozed then
  acknowledged, or ended by a drink) and the evening stretching prompt, acknowledged
  on about two evenings in three (:mod:`vocabulary.reminder_events` ``reminder`` and
  ``stretched`` events).

Cramp nights are likelier after a day well under the goal and after an evening without
stretching, so the insights have something to find. Deterministic for a given
``seed`` and ``end``.

>>> from device.storage.store import Store
>>> store = Store(":memory:")
>>> summary = seed_history(store, 3, end=1793602800.0, tz=ZoneInfo("Europe/Berlin"))
>>> summary["days"], summary["events"] == store.count_events()
(3, True)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from simulator.bottle_scenario import plan_day
from vocabulary.events import CrampLog, Drink, Refill, Sleep, Wake
from vocabulary.reminder_events import Reminder, Stretched

DAY_S = 86400.0


def seed_history(store, days: int, *, end: float, tz: ZoneInfo, seed: int = 1, goal_ml: float = 2000.0,
                 progress: Callable[[float], None] | None = None, epochs: bool = False) -> dict:
    """Store ``days`` local days of history up to ``end`` (Unix s); return counts by type.
    ``progress(fraction)`` after each day stored; with ``epochs`` each night's movement too
    (:func:`night_epochs`, counted as ``epochs``)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    last = datetime.fromtimestamp(end, tz).date()
    first = last - timedelta(days=days - 1)
    counts: dict[str, int] = {}
    stretched_before = True
    intake_before = goal_ml
    previous = None
    for number in range((last - first).days + 1):
        day = first + timedelta(days=number)
        plan_seed = seed * 1000 + day.toordinal() % 100_000
        events, info = _day(day, plan_seed, tz, end, goal_ml)
        if previous is not None:
            events += _night(previous, info, plan_seed, tz, end, intake_before, stretched_before, goal_ml)
        stretched_before = any(e.type == "stretched" for e in events)
        intake_before = info["intake"]
        previous = info
        for data in store.add_events(sorted(events, key=lambda e: e.time)):
            counts[data["type"]] = counts.get(data["type"], 0) + 1
        if epochs:
            counts["epochs"] = counts.get("epochs", 0) + store.add_epoch_rows(night_epochs(events, plan_seed))
        if progress is not None:
            progress((number + 1) / days)
    moved = counts.pop("epochs", 0)
    summary = {"days": days, "first": first.isoformat(), "last": last.isoformat(),
               "events": sum(counts.values()), "by_type": dict(sorted(counts.items()))}
    return summary | {"epochs": moved} if epochs else summary


def night_epochs(events: list, plan_seed: int, epoch_s: float = 30.0) -> list[tuple[float, float, None]]:
    """Bed activity ``(t, activity, presence)`` epochs for the night among ``events`` (its ``sleep``
    and ``wake`` events), as :class:`device.workers.epoch_writer.EpochWriter` stores them: settling in
    half an hour before sleep, small twitches and the odd turnover asleep, bursts through each
    wake-up, getting up after it; none without a night."""
    sleep = next((e for e in events if e.type == "sleep"), None)
    if sleep is None:
        return []
    wakes = [(w.start - epoch_s, w.end) for w in events if w.type == "wake"]
    rng = random.Random(f"crampwatch.history.epochs.{plan_seed}")
    rows, t = [], sleep.start - 1800.0
    while t < sleep.end + 600.0:
        if any(a < t < b for a, b in wakes):
            activity = rng.uniform(0.8, 3.0)
        elif not sleep.start <= t < sleep.end:
            activity = rng.uniform(0.2, 1.0)
        elif rng.random() < 0.03:
            activity = rng.uniform(0.1, 0.6)
        else:
            activity = rng.uniform(0.0, 0.04)
        rows.append((t, round(activity, 4), None))
        t += epoch_s
    return rows


def _real(naive_t: float, tz: ZoneInfo) -> float:
    """A plan's "local on a UTC clock" time as a real Unix time in ``tz``."""
    return datetime.fromtimestamp(naive_t, UTC).replace(tzinfo=tz).timestamp()


def _at(day: date, hours: float, tz: ZoneInfo) -> float:
    """Unix time of ``hours`` after local midnight of ``day`` (may pass into the next day)."""
    base = datetime.combine(day, time(0), tz)
    return (base + timedelta(hours=hours)).timestamp()


def _day(day: date, plan_seed: int, tz: ZoneInfo, end: float, goal_ml: float):
    """A day's drinks, refills, reminders and stretching; and facts the night needs."""
    naive_midnight = datetime.combine(day, time(0), UTC).timestamp()
    plan = plan_day(24.0, plan_seed, start=naive_midnight)
    person = plan.person
    rng = random.Random(f"crampwatch.history.day.{plan_seed}")
    events = []
    for e in plan.truth:
        if e.t >= naive_midnight + DAY_S:
            break
        t = _real(e.t, tz)
        if t <= end:
            cls = Drink if e.type == "drink" else Refill
            events.append(cls(t=t, ml=e.ml, contents_ml=e.contents_ml))
    intake = sum(e.ml for e in events if e.type == "drink")
    wake_t, bed_t = _at(day, person.wake_h, tz), _at(day, person.bed_h, tz)
    behind = max(0.0, 1.0 - intake / goal_ml)
    for _ in range(min(4, int(behind * 8 + rng.random()))):  # a few when behind, none when ahead
        t = rng.uniform(wake_t + 3 * 3600, bed_t - 2 * 3600)
        events += _hydration_reminder(rng, t, round(behind * goal_ml * 0.3))
    prompt = bed_t - 1800.0
    rid = f"stretch-{day.isoformat()}"
    events.append(Reminder(t=prompt, kind="stretch", state="active", reminder_id=rid))
    if rng.random() < 0.65:
        done = prompt + rng.uniform(60, 900)
        events.append(Reminder(t=done, kind="stretch", state="acknowledged", reminder_id=rid, source="button"))
        events.append(Stretched(t=done, day=day.isoformat(), source="button"))
    else:
        events.append(Reminder(t=bed_t + 3600, kind="stretch", state="done", reminder_id=rid, reason="expired"))
    events = [e for e in events if e.time <= end]
    return events, {"day": day, "wake_t": wake_t, "bed_t": bed_t, "intake": intake}


def _hydration_reminder(rng: random.Random, t: float, behind_ml: float) -> list:
    """A hydration reminder and how it ended: acknowledged, snoozed first, or a drink."""
    rid = f"hydration-{round(t * 1000)}"
    out = [Reminder(t=t, kind="hydration", state="active", reminder_id=rid, behind_ml=float(behind_ml))]
    outcome = rng.choices(["acknowledged", "snoozed", "drink"], [0.6, 0.25, 0.15])[0]
    t += rng.uniform(30, 900)
    if outcome == "snoozed":
        until = t + 1800.0
        out.append(Reminder(t=t, kind="hydration", state="snoozed", reminder_id=rid, snoozed_until=until,
                            source="dashboard"))
        out.append(Reminder(t=until, kind="hydration", state="active", reminder_id=rid, behind_ml=float(behind_ml)))
        t, outcome = until + rng.uniform(30, 600), "acknowledged"
    if outcome == "acknowledged":
        out.append(Reminder(t=t, kind="hydration", state="acknowledged", reminder_id=rid, source="button"))
    else:
        out.append(Reminder(t=t, kind="hydration", state="done", reminder_id=rid, reason="drink"))
    return out


def _night(evening: dict, morning: dict, plan_seed: int, tz: ZoneInfo, end: float,
           intake: float, stretched: bool, goal_ml: float) -> list:
    """The night between two days: sleep, wake-ups, cramps and the person's labels."""
    rng = random.Random(f"crampwatch.history.night.{plan_seed}")
    start = evening["bed_t"] + rng.uniform(5, 40) * 60.0
    stop = morning["wake_t"] - rng.uniform(0, 20) * 60.0
    if stop <= start + 3 * 3600 or stop > end:
        return []
    events: list = [Sleep(start=start, end=stop, evidence="breathing+movement")]
    p_cramp = 0.12 * (2.0 if intake < 0.8 * goal_ml else 1.0) * (1.0 if stretched else 1.5)
    cramp_night = rng.random() < p_cramp
    n_wakes = rng.choices([0, 1, 2, 3, 4], [0.25, 0.35, 0.25, 0.1, 0.05])[0]
    cramp_at = rng.randrange(max(n_wakes, 1)) if cramp_night else -1
    n_wakes = max(n_wakes, 1 if cramp_night else 0)
    slots = sorted(rng.uniform(start + 1800, stop - 1800) for _ in range(n_wakes))
    for k, t in enumerate(slots):
        cramp = k == cramp_at
        bed_exit = rng.random() < (0.7 if cramp else 0.4)
        length = rng.uniform(2, 10) * 60 if cramp else rng.uniform(1, 8) * 60
        verdict = cramp if rng.random() < 0.9 else not cramp  # the detector errs now and then
        score = rng.uniform(0.6, 0.98) if verdict else rng.uniform(0.02, 0.45)
        wake = Wake(start=t, end=t + length, bed_exit=bed_exit, cramp=verdict, score=round(score, 2))
        events.append(wake)
        if cramp and rng.random() < 0.8:  # the bedside button, pressed during the wake
            events.append(CrampLog(t=t + rng.uniform(20, 90), confirmed=True, wake_id=wake.id, source="button"))
        elif verdict and not cramp and rng.random() < 0.5:  # a false alarm denied next morning
            events.append(CrampLog(t=morning["wake_t"] + rng.uniform(600, 3600), confirmed=False,
                                   wake_id=wake.id, source="dashboard"))
    if rng.random() < 0.04:  # a cramp the person slept through detection of, logged next day
        t = rng.uniform(start + 3600, stop - 600)
        events.append(CrampLog(t=t, confirmed=True, source="dashboard"))
    return [e for e in events if e.time <= end]
