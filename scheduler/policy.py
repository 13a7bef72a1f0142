"""The coaching policy: pure functions of the time, the settings and what was recorded.

Nothing here reads a clock, a database or a pin; the service passes ``now`` (Unix
seconds) and the facts, so whole days can be checked on a fake clock.

The day
    A local *day* runs from halfway through the night before it to halfway through the
    night after it (bedtime 23:00 and wake time 07:00: from 03:00 to 03:00), so a
    bedtime after midnight still belongs to the evening before. Local times are turned
    into instants with the configured zone on that date, so on the days clocks change
    07:00 is still 07:00 on the wall (a time that does not exist, 02:30 on a spring-
    forward night, is read as the same wall time in the old offset: 03:30).

Hydration
    The drinking window runs from wake time to bedtime less ``cutoff_h``. The expected
    intake at a fraction ``x`` of the window (elapsed seconds over its length) is::

        goal * x * (1 + a * (1 - x))       a = front_load (0.3 by default)

    which is 0 at wake time and the whole goal at the cutoff, with a rate of ``1 + a``
    times the even rate after waking falling steadily to ``1 - a`` at the cutoff: people
    rehydrate in the morning, and the evening stays light for the night's sake. A
    reminder is due inside the window, outside quiet hours, while the bottle has not been
    away for ``away_limit_min``, when intake is at least ``behind_ml`` behind that curve
    and nothing was drunk for ``idle_min`` (counting from wake time, the last drink, the
    bottle's return from a long absence, or the end of the last reminder).

Stretching
    A prompt from bedtime less ``lead_min`` until an hour after bedtime, once a day;
    it says so when last night had a cramp.

Last night
    The night before day D is the 24 hours from 18 h before D's wake time; its sleep and
    wake events (and the user's cramp labels) make the morning summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from device.config import HydrationSection, StretchSection, clock_minutes

STRETCH_EXPIRES_AFTER_BEDTIME_S = 3600.0
NIGHT_BEFORE_WAKE_S = 18 * 3600.0
NIGHT_AFTER_WAKE_S = 6 * 3600.0
HARD_BLOCKS = ("disabled", "before_wake", "after_cutoff", "quiet", "away")


# -- the day ---------------------------------------------------------------------------
def local_instant(day: date, hhmm: str, tz: ZoneInfo) -> float:
    """Unix time of the wall-clock time ``hhmm`` on ``day`` in ``tz``."""
    minutes = clock_minutes(hhmm)
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=tz).timestamp()


def local_date(t: float, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(t, tz).date()


@dataclass(frozen=True)
class DayPlan:
    """The instants of one local day's rhythm (Unix seconds)."""

    day: date
    start: float  # halfway through the night before
    wake: float
    cutoff: float  # end of the drinking window
    stretch_at: float
    bedtime: float
    end: float  # the next day's start
    night_start: float  # the night before this day, for the morning summary
    night_end: float

    @property
    def iso(self) -> str:
        return self.day.isoformat()


def _wake_and_bed(day: date, h: HydrationSection, tz: ZoneInfo) -> tuple[float, float]:
    wake = local_instant(day, h.wake_time, tz)
    after_midnight = clock_minutes(h.bedtime) <= clock_minutes(h.wake_time)
    bed = local_instant(day + timedelta(days=1) if after_midnight else day, h.bedtime, tz)
    return wake, bed


def _day_start(day: date, h: HydrationSection, tz: ZoneInfo) -> float:
    wake, _ = _wake_and_bed(day, h, tz)
    _, bed_before = _wake_and_bed(day - timedelta(days=1), h, tz)
    return bed_before + (wake - bed_before) / 2


def day_bounds(day: date, h: HydrationSection, tz: ZoneInfo) -> tuple[float, float]:
    """Where local day ``day`` starts and ends (Unix seconds): halfway through the nights around it.

    The one definition of crampwatch's *day*: reminders, insights, the dashboard's
    Today, History and streaks, its API and the MQTT state's intake all count a day
    with it, so a drink at 00:30 before going to bed counts to the evening's day
    everywhere. ``h`` is the hydration section (only ``wake_time`` and ``bedtime``
    matter); with 07:00 and 23:00 a day runs 03:00 to 03:00.

    >>> from device.config import HydrationSection
    >>> tz = ZoneInfo("Europe/Berlin")
    >>> a, b = day_bounds(date(2026, 11, 25), HydrationSection(), tz)
    >>> datetime.fromtimestamp(a, tz).strftime("%H:%M"), (b - a) / 3600
    ('03:00', 24.0)
    """
    return _day_start(day, h, tz), _day_start(day + timedelta(days=1), h, tz)


def day_of(t: float, h: HydrationSection, tz: ZoneInfo) -> date:
    """The local day (see :func:`day_bounds`) that the instant ``t`` belongs to.

    >>> from device.config import HydrationSection
    >>> tz = ZoneInfo("Europe/Berlin")
    >>> at = lambda d, hh, mm: datetime(2026, 11, d, hh, mm, tzinfo=tz).timestamp()
    >>> day_of(at(26, 0, 30), HydrationSection(), tz), day_of(at(26, 3, 30), HydrationSection(), tz)
    (datetime.date(2026, 11, 25), datetime.date(2026, 11, 26))
    """
    guess = local_date(t, tz)
    for day in (guess, guess - timedelta(days=1), guess + timedelta(days=1)):
        start, end = day_bounds(day, h, tz)
        if start <= t < end:
            return day
    raise AssertionError("unreachable: consecutive days tile time")  # pragma: no cover


def plan_for(day: date, h: HydrationSection, s: StretchSection, tz: ZoneInfo) -> DayPlan:
    """The rhythm of local date ``day``."""
    wake, bed = _wake_and_bed(day, h, tz)
    start, end = day_bounds(day, h, tz)
    return DayPlan(day=day, start=start, wake=wake, cutoff=bed - h.cutoff_h * 3600.0,
                   stretch_at=bed - s.lead_min * 60.0, bedtime=bed, end=end,
                   night_start=wake - NIGHT_BEFORE_WAKE_S, night_end=wake + NIGHT_AFTER_WAKE_S)


def day_plan(now: float, h: HydrationSection, s: StretchSection, tz: ZoneInfo) -> DayPlan:
    """The plan of the day that ``now`` belongs to."""
    return plan_for(day_of(now, h, tz), h, s, tz)


def in_quiet_hours(now: float, spans: list[str], tz: ZoneInfo) -> bool:
    """Whether the local wall-clock time of ``now`` is inside one of the 'HH:MM-HH:MM' spans."""
    if not spans:
        return False
    local = datetime.fromtimestamp(now, tz)
    minute = local.hour * 60 + local.minute
    for span in spans:
        a, b = (clock_minutes(x) for x in span.split("-"))
        if (a <= minute < b) if a <= b else (minute >= a or minute < b):
            return True
    return False


# -- hydration -------------------------------------------------------------------------
def expected_fraction(x: float, front_load: float) -> float:
    """Share of the goal expected at fraction ``x`` of the drinking window (see above)."""
    x = min(1.0, max(0.0, x))
    return x * (1.0 + front_load * (1.0 - x))


def expected_ml(now: float, plan: DayPlan, goal_ml: float, front_load: float) -> float:
    """What should have been drunk by ``now`` on this day's pace."""
    x = (now - plan.wake) / (plan.cutoff - plan.wake)
    return goal_ml * expected_fraction(x, front_load)


@dataclass(frozen=True)
class HydrationDecision:
    """Whether a hydration reminder is due now, and why (not)."""

    remind: bool
    reason: str  # due, or what prevents it: disabled, before_wake, after_cutoff, quiet, away,
    # on_pace (not far enough behind), idle (drank or was reminded recently)
    intake_ml: float
    expected_ml: float

    @property
    def behind_ml(self) -> float:
        return max(0.0, self.expected_ml - self.intake_ml)

    @property
    def ends_reminder(self) -> bool:
        """An open reminder should end now (out of the window, quiet, away, caught up)."""
        return self.reason in HARD_BLOCKS or self.reason == "on_pace"


def hydration_decision(now: float, plan: DayPlan, h: HydrationSection, tz: ZoneInfo, *, goal_ml: float,
                       intake_ml: float, last_drink_t: float | None = None, away_since: float | None = None,
                       returned_at: float | None = None, last_ended: float | None = None,
                       observed_from: float | None = None) -> HydrationDecision:
    """Decide on a hydration reminder at ``now``.

    ``away_since``: the bottle has been off the scale since then (None: it is on it);
    ``returned_at``: it came back from a long absence then; ``last_ended``: the last
    hydration reminder of the day was acknowledged or ended then; ``observed_from``:
    crampwatch first ran then (on that first day only the pace since then is expected,
    since earlier drinks were not seen).
    """
    expected = expected_ml(now, plan, goal_ml, h.front_load)
    if observed_from is not None and observed_from > plan.wake:
        expected -= expected_ml(min(now, observed_from), plan, goal_ml, h.front_load)

    def decide(remind: bool, reason: str) -> HydrationDecision:
        return HydrationDecision(remind, reason, float(intake_ml), expected)

    if not h.enabled:
        return decide(False, "disabled")
    if now < plan.wake:
        return decide(False, "before_wake")
    if now >= plan.cutoff:
        return decide(False, "after_cutoff")
    if in_quiet_hours(now, h.quiet_hours, tz):
        return decide(False, "quiet")
    if away_since is not None and now - away_since >= h.away_limit_min * 60.0:
        return decide(False, "away")
    if expected - intake_ml < h.behind_ml:
        return decide(False, "on_pace")
    calm_since = max(x for x in (plan.wake, last_drink_t, returned_at, last_ended, observed_from) if x is not None)
    if now - calm_since < h.idle_min * 60.0:
        return decide(False, "idle")
    return decide(True, "due")


def next_hydration_at(now: float, plan: DayPlan, h: HydrationSection, tz: ZoneInfo, *, step_s: float = 60.0,
                      **facts) -> float | None:
    """When :func:`hydration_decision` will next say "due" on ``plan``'s day if nothing is drunk
    before (``facts``: its keyword arguments), to the minute; None when no reminder is due
    before the drinking window closes (on pace all along, quiet, away, or disabled).

    The reminder service's tick asks every minute, so the first due minute is when it
    would fire.

    >>> from device.config import HydrationSection
    >>> tz = ZoneInfo("UTC")
    >>> plan = plan_for(date(2026, 11, 25), HydrationSection(), StretchSection(), tz)
    >>> t = next_hydration_at(plan.wake, plan, HydrationSection(), tz, goal_ml=2000.0, intake_ml=0.0)
    >>> datetime.fromtimestamp(t, tz).strftime("%H:%M")
    '08:40'
    """
    start = max(now, plan.wake)
    steps = int(max(0.0, plan.cutoff - start) // step_s) + 1
    for k in range(steps):
        t = start + k * step_s
        if hydration_decision(t, plan, h, tz, **facts).remind:
            return t
    return None


def hydration_message(decision: HydrationDecision, goal_ml: float) -> dict[str, Any]:
    """The reminder's words and figures."""
    behind = round(decision.behind_ml)
    return {"title": "Time for a drink",
            "message": f"You are about {behind} mL behind your pace: {round(decision.intake_ml)} of "
                       f"{round(decision.expected_ml)} mL expected by now (goal {round(goal_ml)} mL). "
                       "A glass of water now keeps the evening light.",
            "intake_ml": round(decision.intake_ml), "expected_ml": round(decision.expected_ml),
            "behind_ml": behind, "goal_ml": round(goal_ml)}


# -- stretching ------------------------------------------------------------------------
EXERCISES = {
    "calf": ("Calf stretch", "Face a wall, one foot well back with the heel down and the knee straight; "
                             "lean in until the calf pulls. Both legs."),
    "hamstring": ("Hamstring stretch", "Sit with one leg straight out, reach towards the toes with a long "
                                       "back until the back of the thigh pulls. Both legs."),
    "foot": ("Foot stretch", "Pull the toes up towards the shin with a hand, or roll the sole over a ball. "
                             "Both feet."),
}


def stretch_due(now: float, plan: DayPlan, s: StretchSection) -> bool:
    """Inside the evening's prompt window (from bedtime less the lead to an hour after bedtime)."""
    return s.enabled and plan.stretch_at <= now < plan.bedtime + STRETCH_EXPIRES_AFTER_BEDTIME_S


def stretch_expired(now: float, plan: DayPlan) -> bool:
    return now >= plan.bedtime + STRETCH_EXPIRES_AFTER_BEDTIME_S


def stretch_message(s: StretchSection, *, cramp_last_night: bool, cramp_nights_7: int = 0,
                    doctor_nights: int = 3, doctor_window: int = 7) -> dict[str, Any]:
    """The prompt: the routine, and a word about last night's cramp or frequent ones.

    ``cramp_nights_7`` counts cramp nights among the last ``doctor_window`` nights; the
    doctor thresholds are ``config.insights``' (the same flag the dashboard shows).
    """
    routine = [{"exercise": name, "name": EXERCISES[name][0], "how": EXERCISES[name][1],
                "hold_s": s.hold_s, "repeats": s.repeats} for name in s.exercises]
    names = ", ".join(r["name"].lower() for r in routine)
    text = f"Time to stretch before bed: {names}; hold each {s.hold_s} s, {s.repeats} times."
    if cramp_last_night:
        text = ("You had a cramp last night. " + text
                + " Stretching calves and hamstrings before sleep may make another one less likely.")
    if cramp_nights_7 >= doctor_nights:
        text += (f" Cramps woke you on {cramp_nights_7} of the last {doctor_window} nights: frequent cramps are worth "
                 "mentioning to a doctor, especially with weakness, swelling or numbness.")
    return {"title": "Stretch before bed", "message": text, "routine": routine,
            "after_cramp_night": cramp_last_night, "cramp_nights_7": cramp_nights_7}


# -- nights ----------------------------------------------------------------------------
def cramp_count(events: list[dict[str, Any]], night_start: float, night_end: float) -> int:
    """Cramps in a night: the user's label where there is one, else the detector's verdict.

    ``events`` are stored dicts (``wake`` with ``id``; ``cramp`` CrampLog events, which
    may have been entered after the night). Labels join wakes as
    :func:`device.labels.apply_labels` says; a confirmed CrampLog that matches no wake
    of the night but falls inside it counts on its own.
    """
    from device.labels import apply_labels

    wakes = [e for e in events if e["type"] == "wake" and night_start <= e["start"] < night_end]
    labelled, alone = apply_labels(wakes, [e for e in events if e["type"] == "cramp"])
    return sum(1 for w in labelled if w["cramp_final"]) + sum(1 for e in alone if night_start <= e["t"] < night_end)


def night_summary(plan: DayPlan, events: list[dict[str, Any]], now: float, *, intake_ml: float | None = None,
                  goal_ml: float | None = None) -> tuple[dict[str, Any], bool]:
    """Last night's summary for the morning of ``plan``, and whether it is final.

    It is final once a sleep period of the night is stored, or once the night's window
    is over (then perhaps with nothing recorded). ``events`` hold the night's ``sleep``,
    ``wake``, ``cramp`` and ``stretched`` events (any extra are ignored).
    """
    lo, hi = plan.night_start, plan.night_end
    sleeps = [e for e in events if e["type"] == "sleep" and lo <= e["start"] < hi]
    wakes = [e for e in events if e["type"] == "wake" and lo <= e["start"] < hi]
    main = max(sleeps, key=lambda e: e["end"] - e["start"], default=None)
    cramps = cramp_count(events, lo, hi)
    stretched = any(e["type"] == "stretched" and lo <= e["t"] < plan.wake for e in events)
    out: dict[str, Any] = {"t": plan.wake, "night": plan.iso, "recorded": main is not None,
                           "wakes": len(wakes), "bed_exits": sum(1 for w in wakes if w.get("bed_exit")),
                           "cramps": cramps, "cramp_night": cramps > 0, "stretched": stretched}
    if main is not None:
        awake_s = sum(min(w["end"], main["end"]) - max(w["start"], main["start"]) for w in wakes
                      if w["end"] > main["start"] and w["start"] < main["end"])
        out |= {"sleep_start": main["start"], "sleep_end": main["end"],
                "asleep_min": round(max(0.0, main["end"] - main["start"] - awake_s) / 60.0, 1)}
    if intake_ml is not None:
        out["intake_ml"] = round(float(intake_ml), 1)
    if goal_ml is not None:
        out["goal_ml"] = float(goal_ml)
    return out, main is not None or now >= hi
