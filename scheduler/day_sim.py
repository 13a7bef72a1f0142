"""Whole days of reminders on a fake clock: for tests, and for the figures of a typical day.

:class:`SimulatedDay` runs the real :class:`~scheduler.service.ReminderService` on an
in-memory store with a fake wall and monotonic clock, ticking every minute as the
scheduler would, and stores the person's drinks at their exact times (so a drink
clears a reminder as it would live). :func:`typical_day` feeds it one simulated
person's day from :func:`simulator.bottle_scenario.plan_day` (drinks from the ground
truth, the bottle's absences from the plan's lifts) and sums up what the reminders did.

>>> summary = typical_day(seed=1)
>>> summary["fired_in_quiet_hours"], summary["fired_after_cutoff"]
(0, 0)
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from device.config import Config
from device.health import Health
from device.storage.store import Store
from scheduler import policy
from scheduler.clock import EARLIEST_PLAUSIBLE, ClockSanity
from scheduler.service import ReminderService
from vocabulary.events import Drink


class FakeClock:
    """Wall and monotonic time that move only when told; ``step`` moves the wall clock alone."""

    def __init__(self, t: float, mono: float = 1000.0):
        self.t, self.mono = float(t), float(mono)

    def __call__(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.t += seconds
        self.mono += seconds

    def step(self, seconds: float) -> None:
        """The wall clock is set (NTP, a user): monotonic time does not move."""
        self.t += seconds


class SimulatedDay:
    """The reminder service driven by a fake clock, with scripted drinks and bottle absences.

    ``away`` lists ``(t_off, t_back)`` spans with the bottle off the scale (``t_back``
    None: not back yet). ``publish`` calls are kept in :attr:`published` as
    ``(t, suffix, payload)``.
    """

    def __init__(self, config: Config, start: float, *, drinks: Iterable[tuple[float, float]] = (),
                 away: Iterable[tuple[float, float | None]] = (), store: Store | None = None,
                 sanity: ClockSanity | None = None, pin_factory=None, clock: FakeClock | None = None,
                 scheduler=None):
        self.config = config
        self.clock = clock or FakeClock(start)
        self.store = store or Store(":memory:", clock=self.clock)
        self.published: list[tuple[float, str, Any]] = []
        self._drinks = sorted(drinks)
        self._next_drink = bisect.bisect_right([t for t, _ in self._drinks], self.clock.t)
        self._away = sorted(away)
        self.service = ReminderService(
            config, self.store, Health(clock=self.clock, monotonic=self.clock.monotonic), clock=self.clock,
            monotonic=self.clock.monotonic,
            sanity=sanity or ClockSanity(floor=EARLIEST_PLAUSIBLE, ntp=lambda: None), pin_factory=pin_factory,
            publish=lambda suffix, payload: self.published.append((self.clock.t, suffix, payload)),
            bottle_present=self.bottle_present, scheduler=scheduler)
        self.store.subscribe(self.service.on_event)

    def bottle_present(self) -> bool:
        t = self.clock.t
        return not any(t0 <= t and (t1 is None or t < t1) for t0, t1 in self._away)

    def drink(self, ml: float) -> None:
        """The person drinks now (the bottle's drink event is stored)."""
        self.store.add_event(Drink(t=self.clock.t, ml=ml))

    def run_until(self, t: float, *, step_s: float = 60.0, each: Callable[[SimulatedDay], None] | None = None) -> None:
        """Tick every ``step_s`` until ``t``, storing the scripted drinks at their times."""
        while self.clock.t < t:
            target = min(t, self.clock.t + step_s)
            while self._next_drink < len(self._drinks) and self._drinks[self._next_drink][0] <= target:
                when, ml = self._drinks[self._next_drink]
                self._next_drink += 1
                self.clock.advance(max(0.0, when - self.clock.t))
                self.drink(ml)
            self.clock.advance(target - self.clock.t)
            self.service.tick()
            if each is not None:
                each(self)

    def reminder_events(self, kind: str | None = None) -> list[dict]:
        return [e for e in self.store.events(types=["reminder"]) if kind is None or e["kind"] == kind]

    def fired(self, kind: str | None = None) -> list[dict]:
        """Reminder events of a reminder becoming active for the first time."""
        return [e for e in self.reminder_events(kind) if e["state"] == "active" and not e.get("escalated")
                and e["t"] == self.service.states.get(e["reminder_id"]).created_at]


def person_config(plan, *, goal_ml: float | None = None, quiet_hours: tuple[str, ...] = ("13:00-14:00",),
                  hydration: dict[str, Any] | None = None) -> Config:
    """The settings a simulated person would choose: their usual times (to 15 min) and goal."""
    def hhmm(hours: float) -> str:
        minutes = round(hours * 4) * 15 % 1440
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    person = plan.person
    goal = goal_ml if goal_ml is not None else round(person.daily_ml, -1)
    return Config.model_validate({
        "device": {"timezone": "UTC", "data_dir": ":memory:"},  # the simulated person lives at UTC+0
        "hydration": {"goal_ml": int(goal), "wake_time": hhmm(person.wake_h), "bedtime": hhmm(person.bed_h),
                      "quiet_hours": list(quiet_hours)} | (hydration or {})})


def _absences(plan) -> list[tuple[float, float | None]]:
    spans = [(a["t"], a.get("t_down")) for a in plan.annotations if a["type"] == "lift"]
    if not plan.on_scale_at_start:
        first = min((a["t"] for a in plan.annotations if a["type"] == "place"), default=None)
        spans.append((plan.start, first))
    return spans


def typical_day(seed: int = 1, *, goal_ml: float | None = None, quiet_hours: tuple[str, ...] = ("13:00-14:00",),
                hydration: dict[str, Any] | None = None) -> dict[str, Any]:
    """One simulated person's day through the reminder service; what fired, and when.

    The person drinks as :func:`~simulator.bottle_scenario.plan_day` says (they do not
    react to reminders, so this counts the reminders an unchanged habit would get).
    Times in the result are local ``HH:MM``; ``behind_min`` is the time inside the
    drinking window spent behind the expected pace at all, ``behind_threshold_min``
    the time at least ``behind_ml`` behind (when a reminder may fire).
    """
    from simulator.bottle_scenario import plan_day

    day0 = datetime(2026, 11, 2, tzinfo=timezone.utc).timestamp()  # a Monday in November, as the simulator's
    plan = plan_day(30.0, seed, start=day0)
    config = person_config(plan, goal_ml=goal_ml, quiet_hours=quiet_hours, hydration=hydration)
    h, tz = config.hydration, config.tz
    day = policy.plan_for(datetime.fromtimestamp(day0, tz).date(), h, config.stretch, tz)
    drinks = [(e.t, e.ml) for e in plan.truth if e.type == "drink"]
    sim = SimulatedDay(config, day.start, drinks=drinks, away=_absences(plan))
    pace = {"behind": 0, "threshold": 0, "max": 0.0}

    def watch(s: SimulatedDay) -> None:
        now = s.clock.t
        if day.wake <= now < day.cutoff:
            intake = sum(ml for t, ml in drinks if day.start <= t <= now)
            gap = policy.expected_ml(now, day, s.service.goal_ml, h.front_load) - intake
            pace["behind"] += gap > 0
            pace["threshold"] += gap >= h.behind_ml
            pace["max"] = max(pace["max"], gap)

    sim.run_until(day.end, each=watch)

    def local(t: float) -> str:
        return datetime.fromtimestamp(t, tz).strftime("%H:%M")

    events = sim.reminder_events()
    fired = sim.fired("hydration")
    ends = {e["reminder_id"]: e for e in events if e["state"] in ("done", "acknowledged")}
    escalated = [e for e in events if e.get("escalated")]
    stretch = sim.fired("stretch")
    return {
        "seed": seed, "date": day.iso, "wake_time": h.wake_time, "bedtime": h.bedtime,
        "cutoff": local(day.cutoff), "quiet_hours": list(h.quiet_hours), "goal_ml": h.goal_ml,
        "drunk_ml": round(sum(ml for t, ml in drinks if day.start <= t < day.end)),
        "drinks": sum(1 for t, _ in drinks if day.start <= t < day.end),
        "hydration_reminders": [
            {"at": local(e["t"]), "behind_ml": round(e.get("behind_ml", 0)),
             "ended": local(ends[e["reminder_id"]]["t"]) if e["reminder_id"] in ends else None,
             "why": ends[e["reminder_id"]].get("reason") if e["reminder_id"] in ends else None}
            for e in fired],
        "escalations": {kind: sum(e["kind"] == kind for e in escalated) for kind in ("hydration", "stretch")},
        "stretch_prompt": local(stretch[0]["t"]) if stretch else None,
        "behind_min": pace["behind"], "behind_threshold_min": pace["threshold"],
        "max_behind_ml": round(pace["max"]),
        "fired_in_quiet_hours": sum(policy.in_quiet_hours(e["t"], h.quiet_hours, tz) for e in fired),
        "fired_after_cutoff": sum(e["t"] >= day.cutoff for e in fired),
        "fired_before_wake": sum(e["t"] < day.wake for e in fired),
    }


def _main() -> None:  # python -m scheduler.day_sim [seed ...]
    import json
    import sys

    for seed in [int(a) for a in sys.argv[1:]] or [1]:
        print(json.dumps(typical_day(seed)))


if __name__ == "__main__":
    _main()
