"""Insights: do this person's cramp nights differ after low-intake days, without stretching, or
after days with a daily factor (a supplement, hard exercise, alcohol, medication, electrolyte drinks)?

Pure analysis of stored events; the dashboard's Insights page, ``crampwatch report``,
``crampwatch export --summaries`` and the MQTT state's ``doctor_flag`` all use it, so
they agree with each other and with the reminders.

Days and nights are the reminder policy's (:mod:`scheduler.policy`): the night *after*
local day D is the night before day D+1 (from 18 h before D+1's wake time to 6 h after
it); D's intake is what was drunk from D's start to its end (halfway through the nights
around it); "late intake" is what was drunk in ``late_intake_h`` before D's bedtime;
D was "stretched" when a ``stretched`` event names D. Cramps count the person's label
where there is one, else the detector's verdict (:func:`device.labels.apply_labels`).
Intake counts every drink as it stands (:mod:`device.drinks`: logged by hand too, corrected,
deleted ones left out). A daily factor is compared over the days it was recorded for
(:mod:`device.factors`), an electrolyte drink over the days with a measured intake.

The comparisons count *cramp nights* (nights with at least one cramp) among recorded
nights (a stored sleep period) in two groups, and give the risk ratio with a 95 %
confidence interval (Katz's log method) and a two-sided Fisher exact test, both from
:mod:`device.insights.stats` (plain Python: scipy would cost the daemon ~70 MB). They describe
associations in one person's nights, never causes, and are no diagnosis.

>>> from device.config import Config
>>> from device.storage.store import Store
>>> result = analyse(Store(":memory:"), Config(), now=1793602800.0)
>>> result["enough"], result["needed"]
(False, 28)
"""

from __future__ import annotations

import bisect
from datetime import date, timedelta
from typing import Any

from device import factors as factor_rules
from device.actions import goal_ml as live_goal
from device.config import Config
from device.drinks import drinks_between
from device.insights.stats import fisher_exact_p, relative_risk
from device.labels import apply_labels

NOTE = ("These comparisons describe your own recorded nights. They show which nights had cramps more or less "
        "often, not what causes cramps, and they are not a diagnosis.")
DOCTOR_TEXT = ("Frequent, severe or persistent cramps, or cramps that come with weakness, swelling or numbness, "
               "are a reason to see a doctor.")


def goal_ml(store, config: Config) -> float:
    """The daily goal: the one a person set (device.actions), else the configured one."""
    return live_goal(store, config.hydration.goal_ml)


# -- the per-night table ---------------------------------------------------------------------
def nights(store, config: Config, first: date, last: date, *, goal: float | None = None) -> list[dict[str, Any]]:
    """One row per night after the local days ``first`` to ``last`` (oldest first).

    Each row: ``night`` (the evening's date), ``morning``, ``recorded`` (a sleep period
    is stored), ``sleep_start``/``sleep_end``/``asleep_h``, ``wakes``, ``bed_exits``,
    ``cramps`` (labels first), ``confirmed`` (cramps the person confirmed),
    ``cramp_night``; and for the day before: ``intake_ml`` (every drink as it stands,
    :mod:`device.drinks`), ``intake_measured`` (any bottle event that day: drinks logged by
    hand alone do not make a day measured), ``goal_ml``, ``goal_met``, ``late_intake_ml``,
    ``stretched``, ``electrolyte`` (an electrolyte drink) and ``factors`` (the day's
    recorded factors, unset ones as no; None when nothing was recorded: :mod:`device.factors`).
    """
    from scheduler.policy import plan_for

    if last < first:
        return []
    goal = goal_ml(store, config) if goal is None else float(goal)
    h, s, tz, late_s = config.hydration, config.stretch, config.tz, config.insights.late_intake_h * 3600.0
    days = [first + timedelta(days=k) for k in range((last - first).days + 2)]
    plans = [plan_for(d, h, s, tz) for d in days]
    since, until = min(plans[0].start, plans[1].night_start), max(plans[-1].end, plans[-1].night_end)
    drinks = drinks_between(store, since, until)  # as they stand: corrections applied, bottle and by hand
    drink_t = [e["t"] for e in drinks]
    drink_ml, electrolyte_ml = [0.0], [0.0]
    for e in drinks:
        drink_ml.append(drink_ml[-1] + e["ml"])
        electrolyte_ml.append(electrolyte_ml[-1] + (e["ml"] if e["kind"] == "electrolyte" else 0.0))
    bottle_t = sorted([e["t"] for e in drinks if e["source"] == "bottle"]
                      + [e["t"] for e in store.events(types=["refill"], since=since, until=until)])
    factors = factor_rules.between(store, first, last)
    night_events = list(store.events(types=["sleep", "wake"], since=since, until=until))
    logs = list(store.events(types=["cramp"], since=since))  # labels may come long after the night
    wakes, alone = apply_labels([e for e in night_events if e["type"] == "wake"], logs)
    sleeps = [e for e in night_events if e["type"] == "sleep"]
    stretched_days = {e.get("day") for e in store.events(types=["stretched"], since=since - 86400.0,
                                                          until=until + 86400.0)}

    def drunk(a: float, b: float, sums: list[float] = drink_ml) -> float:
        return sums[bisect.bisect_left(drink_t, b)] - sums[bisect.bisect_left(drink_t, a)]

    rows = []
    for day, plan, morning in zip(days, plans, plans[1:]):
        lo, hi = morning.night_start, morning.night_end
        inside = [w for w in wakes if lo <= w["start"] < hi]
        main = max((e for e in sleeps if lo <= e["start"] < hi), key=lambda e: e["end"] - e["start"], default=None)
        extra = [e for e in alone if lo <= e["t"] < hi]
        cramps = sum(1 for w in inside if w["cramp_final"]) + len(extra)
        intake = drunk(plan.start, plan.end)
        measured = bisect.bisect_left(bottle_t, plan.end) > bisect.bisect_left(bottle_t, plan.start)
        row: dict[str, Any] = {
            "night": day.isoformat(), "morning": morning.iso, "recorded": main is not None,
            "sleep_start": None, "sleep_end": None, "asleep_h": None,
            "wakes": len(inside), "bed_exits": sum(1 for w in inside if w.get("bed_exit")),
            "cramps": cramps, "confirmed": sum(1 for w in inside if w["cramp_label"]) + len(extra),
            "cramp_night": cramps > 0,
            "intake_ml": round(intake, 1), "intake_measured": measured, "goal_ml": goal,
            "goal_met": intake >= goal, "late_intake_ml": round(drunk(plan.bedtime - late_s, plan.bedtime), 1),
            "stretched": day.isoformat() in stretched_days,
            "electrolyte": drunk(plan.start, plan.end, electrolyte_ml) > 0,
            "factors": factor_rules.as_recorded(factors.get(day.isoformat()))}
        if main is not None:
            awake = sum(min(w["end"], main["end"]) - max(w["start"], main["start"]) for w in inside
                        if w["end"] > main["start"] and w["start"] < main["end"])
            row |= {"sleep_start": main["start"], "sleep_end": main["end"],
                    "asleep_h": round(max(0.0, main["end"] - main["start"] - awake) / 3600.0, 2)}
        rows.append(row)
    return rows


# -- comparisons -----------------------------------------------------------------------------
def _pct(x: float) -> str:
    return f"{round(100 * x)}%"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}".rstrip("0").rstrip(".") if x < 10 else f"{x:.0f}"


def _lower(label: str) -> str:
    """A group's label inside a sentence ("Below the goal" -> "below the goal"; "Q1: ..." stays)."""
    return label if label[:1] == "Q" else label[:1].lower() + label[1:]


def _group(label: str, rows: list[dict]) -> dict[str, Any]:
    n = len(rows)
    k = sum(1 for r in rows if r["cramp_night"])
    return {"label": label, "nights": n, "cramp_nights": k, "rate": round(k / n, 4) if n else None}


def rate_ratio(exposed: tuple[int, int], reference: tuple[int, int], *, level: float = 0.95) -> dict[str, Any]:
    """Risk ratio of ``(cramp nights, nights)`` in two groups, its CI and Fisher's exact p.

    No ratio when the reference group had no cramp night; no interval unless both had some.
    """
    (a, n1), (b, n0) = exposed, reference
    p = fisher_exact_p([[a, n1 - a], [b, n0 - b]], alternative="two-sided")
    rr = relative_risk(a, n1, b, n0, level=level)
    shown = a > 0 and b > 0
    return {"rate_ratio": round(rr.ratio, 3) if b > 0 else None,
            "ci_low": round(rr.low, 3) if shown else None,
            "ci_high": round(rr.high, 3) if shown else None,
            "p_value": round(p, 4)}


def compare_groups(key: str, title: str, exposed: tuple[str, list[dict]], reference: tuple[str, list[dict]],
                   *, min_group: int, alpha: float, after: str) -> dict[str, Any]:
    """One comparison: the two groups, the rate ratio (exposed / reference) and a plain sentence."""
    a, b = _group(*exposed), _group(*reference)
    out: dict[str, Any] = {"key": key, "title": title, "groups": [a, b], "enough": True, "finding": False,
                           "rate_ratio": None, "ci_low": None, "ci_high": None, "p_value": None,
                           "test": "Fisher's exact test, two-sided",
                           "interval": "95% confidence interval of the rate ratio (Katz log method)"}
    small = [g for g in (a, b) if g["nights"] < min_group]
    if small:
        out["enough"] = False
        out["sentence"] = (f"Not enough nights yet to compare: {' and '.join(_lower(g['label']) for g in small)} "
                           f"had fewer than {min_group} nights ({', '.join(str(g['nights']) for g in small)}).")
        return out
    if a["cramp_nights"] + b["cramp_nights"] == 0:
        out["sentence"] = f"No cramp nights in either group, so there is nothing to compare ({title.lower()})."
        out["p_value"] = 1.0
        return out
    out |= rate_ratio((a["cramp_nights"], a["nights"]), (b["cramp_nights"], b["nights"]))
    out["finding"] = out["p_value"] < alpha
    facts = (f"Cramps came on {a['cramp_nights']} of {a['nights']} nights ({_pct(a['rate'])}) {after} "
             f"{_lower(a['label'])} and on {b['cramp_nights']} of {b['nights']} ({_pct(b['rate'])}) {after} "
             f"{_lower(b['label'])}")
    ratio = out["rate_ratio"]
    stats = (f"rate ratio {_num(ratio)}" + (f" (95% CI {_num(out['ci_low'])} to {_num(out['ci_high'])})"
                                             if out["ci_low"] is not None else "")
             + f", exact test p = {out['p_value']:.3g}")
    if out["finding"]:
        more = "more" if (ratio is None or ratio > 1) else "less"
        out["sentence"] = (f"{facts}: cramp nights were {more} common {after} {_lower(a['label'])} ({stats}). "
                           "A difference this large would be unusual by chance alone; it is an association in "
                           "your nights, not proof of a cause.")
    else:
        out["sentence"] = (f"{facts} ({stats}). No clear difference: a difference like this could easily "
                           "come about by chance.")
    return out


def comparisons(rows: list[dict], config: Config) -> dict[str, Any]:
    """The group comparisons over recorded nights, or how many more nights are needed."""
    ins = config.insights
    recorded = [r for r in rows if r["recorded"]]
    out: dict[str, Any] = {"nights": len(recorded), "needed": ins.min_nights, "enough": len(recorded) >= ins.min_nights,
                           "alpha": ins.alpha, "comparisons": []}
    if not out["enough"]:
        more = ins.min_nights - len(recorded)
        out["message"] = (f"Not enough nights yet: {len(recorded)} recorded night{'s' if len(recorded) != 1 else ''}, "
                          f"{ins.min_nights} needed ({more} more).")
        return out
    out["message"] = None
    measured = [r for r in recorded if r["intake_measured"]]
    kw = {"min_group": ins.min_group_nights, "alpha": ins.alpha, "after": "after days"}
    out["comparisons"].append(compare_groups(
        "goal", "Intake goal", ("Below the goal", [r for r in measured if not r["goal_met"]]),
        ("At the goal", [r for r in measured if r["goal_met"]]), **kw))
    out["comparisons"].append(compare_groups(
        "stretch", "Stretching before bed", ("Without stretching", [r for r in recorded if not r["stretched"]]),
        ("With stretching", [r for r in recorded if r["stretched"]]), **kw))
    out["comparisons"].append(quartiles(measured, ins.quartile_min_nights, ins.min_group_nights, ins.alpha))
    out["comparisons"] += factor_comparisons(recorded, kw)
    return out


# Each daily factor as two groups of the days it was recorded for: (key, title, exposed, reference, test).
FACTOR_GROUPS = [
    ("supplement", "Supplement (magnesium or other)", "With a supplement", "Without a supplement",
     lambda f: f["supplement"]),
    ("exercise", "Hard exercise", "With hard exercise", "With light or no exercise",
     lambda f: f["exercise"] == "hard"),
    ("alcohol", "Alcohol", "With alcohol", "Without alcohol", lambda f: bool(f["alcohol"])),
    ("medication", "Medication", "With medication noted", "Without medication noted",
     lambda f: bool(f["medication"])),
]


def factor_comparisons(recorded: list[dict], kw: dict[str, Any]) -> list[dict[str, Any]]:
    """The daily factors' comparisons, each over the recorded nights after a day it was recorded
    for; electrolyte drinks over the nights after a measured day (:mod:`device.drinks`)."""
    out = []
    with_factors = [r for r in recorded if r.get("factors") is not None]
    for key, title, yes, no, test in FACTOR_GROUPS:
        exposed = [r for r in with_factors if test(r["factors"])]
        reference = [r for r in with_factors if not test(r["factors"])]
        out.append(compare_groups(key, title, (yes, exposed), (no, reference), **kw) | {"factor": True})
    measured = [r for r in recorded if r["intake_measured"]]
    salts = [r for r in measured if r.get("electrolyte")]
    out.append(compare_groups(
        "electrolyte", "Electrolyte drinks", ("With an electrolyte drink", salts),
        ("Without an electrolyte drink", [r for r in measured if not r.get("electrolyte")]), **kw) | {"factor": True})
    return out


def quartiles(rows: list[dict], min_nights: int, min_group: int, alpha: float) -> dict[str, Any]:
    """Cramp-night rate by intake quartile; the lowest quartile against the highest."""
    if len(rows) < min_nights:
        return {"key": "quartiles", "title": "Intake quartiles", "enough": False, "finding": False,
                "groups": [], "rate_ratio": None, "ci_low": None, "ci_high": None, "p_value": None,
                "sentence": f"Intake quartiles need {min_nights} nights with a measured intake ({len(rows)} so far)."}
    ordered = sorted(rows, key=lambda r: r["intake_ml"])
    n = len(ordered)
    cuts = [round(n * q / 4) for q in range(5)]
    parts = [ordered[cuts[q]:cuts[q + 1]] for q in range(4)]

    def label(q: int) -> str:
        part = parts[q]
        return f"Q{q + 1}: {round(part[0]['intake_ml'])}–{round(part[-1]['intake_ml'])} mL" if part else f"Q{q + 1}"

    out = compare_groups("quartiles", "Intake quartiles", (label(0), parts[0]), (label(3), parts[3]),
                         min_group=min_group, alpha=alpha, after="after days in")
    out["groups"] = [_group(label(q), parts[q]) for q in range(4)]
    out["compared"] = "lowest against highest quartile"
    return out


# -- the doctor flag -------------------------------------------------------------------------
def doctor_flag(rows: list[dict], config: Config) -> dict[str, Any]:
    """Cramp nights among the last ``doctor_window`` nights of ``rows`` (oldest first)."""
    ins = config.insights
    recent = rows[-ins.doctor_window:]
    count = sum(1 for r in recent if r["cramp_night"])
    raised = count >= ins.doctor_nights
    message = (f"Cramps woke you on {count} of the last {len(recent)} nights. {DOCTOR_TEXT}" if raised else None)
    return {"raised": raised, "cramp_nights": count, "nights": len(recent), "threshold": ins.doctor_nights,
            "message": message}


def last_night_day(now: float, config: Config) -> date:
    """The evening date of the latest night that has begun: the day before today's day."""
    from scheduler.policy import day_plan

    return day_plan(now, config.hydration, config.stretch, config.tz).day - timedelta(days=1)


def doctor_flag_at(store, config: Config, now: float) -> dict[str, Any]:
    """The doctor flag for the nights up to last night."""
    last = last_night_day(now, config)
    rows = nights(store, config, last - timedelta(days=config.insights.doctor_window - 1), last)
    return doctor_flag(rows, config)


WEEK_NIGHTS = 7  # "cramp nights this week": the last seven nights, up to last night


def week_cramp_nights(rows: list[dict]) -> dict[str, Any]:
    """Cramp nights among the last seven nights of ``rows`` (oldest first)."""
    week = rows[-WEEK_NIGHTS:]
    return {"cramp_nights": sum(1 for r in week if r["cramp_night"]), "nights": len(week),
            "recorded": sum(1 for r in week if r["recorded"]),
            "first": week[0]["night"] if week else None, "last": week[-1]["night"] if week else None}


def recent_nights_at(store, config: Config, now: float) -> dict[str, Any]:
    """The doctor flag and last week's cramp nights, from one table of the nights up to last night."""
    last = last_night_day(now, config)
    rows = nights(store, config, last - timedelta(days=max(config.insights.doctor_window, WEEK_NIGHTS) - 1), last)
    return {"doctor_flag": doctor_flag(rows, config), "cramp_nights_week": week_cramp_nights(rows)}


class DoctorFlagCache:
    """The doctor flag and last week's cramp nights, recomputed only when the day or the
    recent wake and cramp events change."""

    def __init__(self):
        self._key = None
        self._value: dict[str, Any] | None = None

    def recent(self, store, config: Config, now: float) -> dict[str, Any]:
        """``{"doctor_flag": ..., "cramp_nights_week": ...}`` (see :func:`recent_nights_at`)."""
        day = last_night_day(now, config)
        since = now - (max(config.insights.doctor_window, WEEK_NIGHTS) + 2) * 86400.0
        # a label confirmed this morning changes last night: count the evidence, cheaply
        key = (day, sum(1 for _ in store.events(types=["wake", "cramp"], since=since)))
        if key != self._key or self._value is None:
            self._value, self._key = recent_nights_at(store, config, now), key
        return self._value

    def get(self, store, config: Config, now: float) -> dict[str, Any]:
        return self.recent(store, config, now)["doctor_flag"]


def daemon_recent_nights(daemon, now: float) -> dict[str, Any]:
    """The doctor flag and last week's cramp nights for the MQTT state of a running daemon,
    cached on it (each None on a glitch)."""
    cache = daemon.__dict__.setdefault("doctor_flag_cache", DoctorFlagCache())
    try:
        return cache.recent(daemon.store, daemon.config, now)
    except Exception:  # the state must publish even if this part fails
        import logging

        logging.getLogger(__name__).warning("doctor flag not computed", exc_info=True)
        return {"doctor_flag": None, "cramp_nights_week": None}


def daemon_doctor_flag(daemon, now: float) -> dict[str, Any] | None:
    """The doctor flag for the MQTT state of a running daemon (None on a glitch)."""
    return daemon_recent_nights(daemon, now)["doctor_flag"]


# -- everything at once ----------------------------------------------------------------------
def analyse(store, config: Config, now: float, *, weeks: int | None = None) -> dict[str, Any]:
    """The per-night table, the comparisons and the doctor flag up to last night.

    ``weeks`` limits the table to that many weeks; without it all stored nights count.
    """
    last = last_night_day(now, config)
    if weeks is not None:
        first = last - timedelta(days=7 * weeks - 1)
    else:
        first_sleep = next(iter(store.events(types=["sleep"])), None)
        first_drink = next(iter(store.events(types=["drink"])), None)
        starts = [e.get("start", e.get("t")) for e in (first_sleep, first_drink) if e is not None]
        from scheduler.policy import day_plan

        first = (day_plan(min(starts), config.hydration, config.stretch, config.tz).day if starts else last)
        first = min(first, last)
    rows = nights(store, config, first, last)
    recent = rows if len(rows) >= config.insights.doctor_window else nights(
        store, config, last - timedelta(days=config.insights.doctor_window - 1), last)
    result = comparisons(rows, config)
    recorded = [r for r in rows if r["recorded"]]
    measured = [r for r in rows if r["intake_measured"]]
    result |= {
        "first": first.isoformat(), "last": last.isoformat(), "goal_ml": goal_ml(store, config),
        "late_intake_h": config.insights.late_intake_h, "rows": rows, "note": NOTE,
        "doctor": doctor_flag(recent, config),
        "summary": {
            "nights": len(rows), "recorded_nights": len(recorded),
            "cramp_nights": sum(1 for r in recorded if r["cramp_night"]),
            "cramps": sum(r["cramps"] for r in recorded),
            "wakes": sum(r["wakes"] for r in recorded),
            "measured_days": len(measured),
            "mean_intake_ml": round(sum(r["intake_ml"] for r in measured) / len(measured)) if measured else None,
            "goal_met_days": sum(1 for r in measured if r["goal_met"]),
            "stretched_days": sum(1 for r in rows if r["stretched"]),
            "factor_days": sum(1 for r in rows if r["factors"] is not None)}}
    return result
