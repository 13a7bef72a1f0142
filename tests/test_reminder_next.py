"""The next planned reminder (issue 17, Today's "next reminder"): what the service says it will
do is what it then does, on a fake clock through a whole day."""

from __future__ import annotations

from datetime import timedelta

from scheduler.clock import EARLIEST_PLAUSIBLE, ClockSanity
from tests.test_reminder_days import DAY, at, hhmm, make_config, plan_of, start_day


def next_at(sim):
    planned = sim.service.next_planned()
    return None if planned is None else (hhmm(sim.config, planned["t"]), planned["kind"], planned["reason"])


def test_the_planned_reminder_fires_when_planned_snoozes_and_the_stretch_prompt_follow():
    config = make_config()
    sim = start_day(config)
    sim.run_until(at(config, DAY, "07:00"))
    assert next_at(sim) == ("08:40", "hydration", "behind")  # nothing drunk: the pace says so
    sim.run_until(at(config, DAY, "08:40"))
    fired = sim.fired("hydration")
    assert [hhmm(config, e["t"]) for e in fired] == ["08:40"]  # it came when it was planned
    sim.service.snooze(30)
    assert next_at(sim) == ("09:10", "hydration", "snoozed")
    sim.run_until(at(config, DAY, "09:10"))
    sim.service.ack()
    planned = next_at(sim)  # an idle hour after the reminder ended, still behind
    assert planned == ("10:10", "hydration", "behind")
    sim.run_until(at(config, DAY, "10:10"))
    assert [hhmm(config, e["t"]) for e in sim.fired("hydration")][-1] == "10:10"
    sim.service.ack()
    sim.run_until(at(config, DAY, "21:05"))  # the drinking window is over: the stretching prompt is next
    assert next_at(sim) == ("22:30", "stretch", "bedtime")
    sim.run_until(at(config, DAY, "22:30"))
    assert [hhmm(config, e["t"]) for e in sim.fired("stretch")] == ["22:30"]
    sim.service.ack()
    planned = sim.service.next_planned()  # tomorrow's first, with nothing drunk yet
    assert hhmm(config, planned["t"]) == "08:40" and planned["kind"] == "hydration"
    assert planned["t"] > plan_of(config, DAY + timedelta(days=1)).wake


def test_a_drink_moves_the_planned_reminder_on():
    config = make_config()
    sim = start_day(config)
    sim.run_until(at(config, DAY, "08:00"))
    assert next_at(sim) == ("08:40", "hydration", "behind")
    sim.drink(250.0)
    planned = next_at(sim)  # an idle hour after the drink, and 300 mL behind again
    assert planned == ("10:08", "hydration", "behind")
    sim.run_until(at(config, DAY, "10:08"))
    assert [hhmm(config, e["t"]) for e in sim.fired("hydration")] == ["10:08"]
    sim.drink(1500.0)
    assert next_at(sim) == ("22:30", "stretch", "bedtime")  # on pace for the rest of the day


def test_nothing_is_planned_from_an_untrusted_clock_or_with_reminders_off():
    config = make_config(hydration={"enabled": False}, stretch={"enabled": False})
    sim = start_day(config)
    sim.run_until(at(config, DAY, "09:00"))
    assert sim.service.next_planned() is None
    unset = start_day(make_config(), sanity=ClockSanity(floor=EARLIEST_PLAUSIBLE + 10 ** 10, ntp=lambda: None))
    unset.run_until(at(unset.config, DAY, "09:00"))
    assert unset.service.next_planned() is None
