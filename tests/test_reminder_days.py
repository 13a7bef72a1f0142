"""Whole days of reminders on a fake clock: when they fire, escalate, clear and stay quiet."""

from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest

from device.actions import ActionRefused, Actions

from device.config import Config
from device.storage.store import Store
from scheduler import jobs, policy
from scheduler.clock import EARLIEST_PLAUSIBLE, ClockSanity
from scheduler.day_sim import FakeClock, SimulatedDay, typical_day
from vocabulary.events import CrampLog, Sleep, Wake

DAY = date(2026, 11, 4)  # an ordinary Wednesday


def make_config(tz="Europe/Berlin", **sections):
    return Config.model_validate({"device": {"timezone": tz, "data_dir": ":memory:"}} | sections)


def plan_of(config, day=DAY):
    return policy.plan_for(day, config.hydration, config.stretch, config.tz)


def at(config, day, hhmm):
    return policy.local_instant(day, hhmm, config.tz)


def hhmm(config, t):
    return datetime.fromtimestamp(t, config.tz).strftime("%H:%M")


def start_day(config, day=DAY, **kwargs):
    return SimulatedDay(config, plan_of(config, day).start, **kwargs)


def story(sim, kind=None):
    """Reminder events as readable (time, kind, state[, reason|escalated]) tuples."""
    out = []
    for e in sim.reminder_events(kind):
        extra = ("escalated",) if e.get("escalated") else ((e["reason"],) if e.get("reason") else ())
        out.append((hhmm(sim.config, e["t"]), e["kind"], e["state"], *extra))
    return out


def published(sim):
    return [(hhmm(sim.config, t), p and p["kind"], p and p["escalated"]) for t, _, p in sim.published]


class FakeScheduler:
    """Enough of APScheduler's interface to see which jobs the service installs."""

    def __init__(self):
        self.jobs, self.added, self.running = {}, [], False

    def start(self):
        self.running = True

    def shutdown(self, wait=True):
        self.running = False

    def get_jobs(self):
        return list(self.jobs.values())

    def add_job(self, func, trigger, id, replace_existing=False, **kwargs):
        assert replace_existing
        self.jobs[id] = SimpleNamespace(id=id, func=func, trigger=trigger, **kwargs)
        self.added.append(id)

    def remove_job(self, job_id):
        del self.jobs[job_id]


def test_a_day_without_a_drink_reminds_once_escalates_once_and_stops_at_the_cutoff():
    config = make_config()
    plan = plan_of(config)
    sim = start_day(config)
    sim.run_until(plan.end)
    # the first minute at least 300 mL behind and an hour after waking
    due = next(t for t in range(int(plan.wake), int(plan.cutoff), 60)
               if policy.expected_ml(t, plan, 2000, 0.3) >= 300 and t - plan.wake >= 3600)
    assert hhmm(config, due) == "08:40"
    assert story(sim) == [
        ("08:40", "hydration", "active"), ("08:50", "hydration", "active", "escalated"),
        ("21:00", "hydration", "done", "after_cutoff"),
        ("22:30", "stretch", "active"), ("22:40", "stretch", "active", "escalated"),
        ("00:00", "stretch", "done", "expired")]
    assert published(sim) == [("03:01", None, None), ("08:40", "hydration", False), ("08:50", "hydration", True),
                              ("21:00", None, None), ("22:30", "stretch", False), ("22:40", "stretch", True),
                              ("00:00", None, None)]
    assert sim.service.active() is None


def test_a_drink_clears_the_reminder_at_once_and_the_next_waits_an_idle_hour():
    config = make_config()
    sim = start_day(config, drinks=[(at(config, DAY, "09:00") + 17.5, 150.0)])
    sim.run_until(at(config, DAY, "09:00"))
    assert sim.service.active()["behind_ml"] == 301
    sim.run_until(at(config, DAY, "12:00"))
    drink_t = at(config, DAY, "09:00") + 17.5
    done = [e for e in sim.reminder_events() if e["state"] == "done"]
    assert [(e["t"], e["reason"]) for e in done] == [(drink_t, "drink")]  # the drink's own moment
    assert (drink_t, "reminder", None) in sim.published
    # still far behind (150 of ~650 mL), so the next comes an hour after the drink
    assert story(sim)[-2:] == [("10:01", "hydration", "active"), ("10:11", "hydration", "active", "escalated")]


def test_quiet_hours_end_a_reminder_and_none_starts_inside_them():
    config = make_config(hydration={"quiet_hours": ["12:00-14:00"]})
    plan = plan_of(config)
    sim = start_day(config, drinks=[(at(config, DAY, "10:30"), 100.0)])
    sim.run_until(plan.cutoff)
    assert story(sim, "hydration") == [
        ("08:40", "hydration", "active"), ("08:50", "hydration", "active", "escalated"),
        ("10:30", "hydration", "done", "drink"),
        ("11:30", "hydration", "active"), ("11:40", "hydration", "active", "escalated"),
        ("12:00", "hydration", "done", "quiet"),
        ("14:00", "hydration", "active"), ("14:10", "hydration", "active", "escalated"),
        ("21:00", "hydration", "done", "after_cutoff")]


def test_no_reminders_while_the_bottle_is_out_and_an_hour_of_grace_after_it_is_back():
    config = make_config()
    away = (at(config, DAY, "09:30"), at(config, DAY, "13:00"))
    sim = start_day(config, away=[away])
    sim.run_until(at(config, DAY, "15:00"))
    assert story(sim) == [
        ("08:40", "hydration", "active"), ("08:50", "hydration", "active", "escalated"),
        ("10:00", "hydration", "done", "away"),
        ("14:00", "hydration", "active"), ("14:10", "hydration", "active", "escalated")]


def test_snooze_brings_the_reminder_back_and_acknowledging_ends_it():
    config = make_config()
    sim = start_day(config)
    sim.run_until(at(config, DAY, "08:40"))
    first = sim.service.active()
    snoozed = sim.service.snooze(20, source="mqtt")
    assert snoozed["state"] == "snoozed" and snoozed["snoozed_until"] == sim.clock.t + 1200
    assert sim.service.active() is None and sim.published[-1][2] is None
    sim.run_until(at(config, DAY, "09:00"))
    again = sim.service.active()
    assert again["id"] == first["id"] and again["since"] == at(config, DAY, "09:00")
    assert again["behind_ml"] > first["behind_ml"]  # the figures are brought up to date
    assert sim.service.ack(source="dashboard")["state"] == "acknowledged"
    assert sim.service.ack() is None and sim.service.snooze() is None  # nothing left to answer
    sim.run_until(at(config, DAY, "10:30"))
    assert story(sim) == [
        ("08:40", "hydration", "active"), ("08:40", "hydration", "snoozed"),
        ("09:00", "hydration", "acknowledged"), ("09:00", "hydration", "active"),  # same second: by id
        ("10:00", "hydration", "active"),
        ("10:10", "hydration", "active", "escalated")]
    with pytest.raises(ValueError):
        sim.service.snooze(0)


@pytest.mark.parametrize("tz, day", [
    ("Europe/Berlin", date(2026, 3, 29)), ("Europe/Berlin", date(2026, 10, 25)),
    ("America/New_York", date(2026, 3, 8)), ("America/New_York", date(2026, 11, 1))], ids=str)
def test_on_the_days_clocks_change_everything_happens_at_its_wall_clock_time(tz, day):
    config = make_config(tz)
    plan = plan_of(config, day)
    sim = start_day(config, day, scheduler=FakeScheduler())
    sim.run_until(plan.end)
    assert story(sim) == [
        ("08:40", "hydration", "active"), ("08:50", "hydration", "active", "escalated"),
        ("21:00", "hydration", "done", "after_cutoff"),
        ("22:30", "stretch", "active"), ("22:40", "stretch", "active", "escalated"),
        ("00:00", "stretch", "done", "expired")]
    summary = next(sim.store.events(types=["night_summary"]))
    assert (summary["night"], hhmm(config, summary["t"]), summary["recorded"]) == (day.isoformat(), "07:00", False)
    # and the cron jobs agree with the policy on that day
    scheduler = sim.service._scheduler
    first = {j.id: j.trigger.get_next_fire_time(None, datetime.fromtimestamp(plan.start, config.tz))
             for j in scheduler.get_jobs() if j.id != jobs.TICK}
    assert {k: v.strftime("%H:%M") for k, v in first.items()} == {
        jobs.MORNING: "07:00", jobs.CUTOFF: "21:00", jobs.STRETCH: "22:30"}
    assert first[jobs.STRETCH].timestamp() == plan.stretch_at


def test_the_evening_after_a_cramp_night_says_so_and_acknowledging_records_the_stretch():
    config = make_config()
    store = Store(":memory:")
    cramp = Wake(start=at(config, DAY, "03:40"), end=at(config, DAY, "03:48"), bed_exit=True, cramp=True,
                 score=0.9)
    store.add_events([Sleep(start=at(config, DAY - timedelta(days=1), "23:20"), end=at(config, DAY, "06:45")),
                      cramp])
    sim = start_day(config, store=store)
    sim.run_until(at(config, DAY, "22:31"))
    prompt = sim.service.active()
    assert prompt["kind"] == "stretch" and prompt["after_cramp_night"]
    assert prompt["message"].startswith("You had a cramp last night.")
    assert [r["exercise"] for r in prompt["routine"]] == ["calf", "hamstring", "foot"]
    assert sim.service.ack(source="button")["state"] == "acknowledged"
    stretched = list(store.events(types=["stretched"]))
    assert [(s["day"], s["after_cramp_night"], s["source"]) for s in stretched] == [("2026-11-04", True, "button")]
    # the next morning's summary knows about the stretch; no second prompt that evening
    sim.run_until(at(config, DAY + timedelta(days=1), "07:01"))
    assert sim.service.last_night["stretched"] and sim.service.last_night["night"] == "2026-11-05"
    assert [e["state"] for e in sim.reminder_events("stretch")] == ["active", "acknowledged"]


def test_a_denied_cramp_is_no_cramp_night():
    config = make_config()
    store = Store(":memory:")
    cramp = Wake(start=at(config, DAY, "03:40"), end=at(config, DAY, "03:48"), bed_exit=True, cramp=True,
                 score=0.6)
    store.add_events([cramp, CrampLog(t=at(config, DAY, "07:30"), confirmed=False, wake_id=cramp.id)])
    sim = start_day(config, store=store)
    sim.run_until(at(config, DAY, "22:31"))
    assert not sim.service.active()["after_cramp_night"]


def test_last_nights_summary_waits_for_the_sleep_period_and_is_stored_once():
    config = make_config()
    sim = start_day(config)
    sim.run_until(at(config, DAY, "07:00"))
    assert sim.service.last_night["recorded"] is False
    assert list(sim.store.events(types=["night_summary"])) == []  # the night analysis may still come
    sim.store.add_events([Sleep(start=at(config, DAY - timedelta(days=1), "23:10"), end=at(config, DAY, "06:55")),
                          Wake(start=at(config, DAY, "02:00"), end=at(config, DAY, "02:06"), bed_exit=False,
                               cramp=False, score=0.1)])
    sim.run_until(at(config, DAY, "07:30"))
    stored = list(sim.store.events(types=["night_summary"]))
    assert len(stored) == 1
    assert {k: stored[0][k] for k in ("night", "recorded", "wakes", "cramps", "asleep_min")} == {
        "night": "2026-11-04", "recorded": True, "wakes": 1, "cramps": 0, "asleep_min": 459.0}
    sim.run_until(at(config, DAY, "14:00"))
    assert len(list(sim.store.events(types=["night_summary"]))) == 1


def test_a_restart_mid_reminder_neither_repeats_nor_forgets_it(tmp_path):
    from simulator.rigs import simulated_pin_factory

    config = make_config(outputs={"led_pin": 12, "buzzer_pin": 16})
    clock = FakeClock(plan_of(config).start)
    first = start_day(config, store=Store(tmp_path, clock=clock), clock=clock)
    first.run_until(at(config, DAY, "09:00"))  # active since 08:40, buzzer sounded at 08:50
    before = first.service.active()
    first.store.close()  # the daemon dies without a word

    factory = simulated_pin_factory()
    clock.advance(300)
    second = SimulatedDay(config, clock.t, store=Store(tmp_path, clock=clock), clock=clock, pin_factory=factory,
                          scheduler=FakeScheduler())
    second.service.start()
    try:
        assert second.service.active() == before  # not forgotten: same reminder, same state
        assert second.published == [(clock.t, "reminder", before)]  # the retained message is re-sent
        assert second.service.outputs.glowing
        buzzer = factory.pin(16)
        second.run_until(at(config, DAY, "09:30"))
        assert [s.state for s in buzzer.states] == [False]  # not repeated: no second buzzer pattern
        assert len([e for e in second.reminder_events() if e["state"] == "active"]) == 2  # fired, escalated
        second.drink(200.0)
        assert second.service.active() is None and not second.service.outputs.glowing
    finally:
        second.service.stop()


def test_a_snooze_survives_a_restart(tmp_path):
    config = make_config()
    clock = FakeClock(plan_of(config).start)
    first = start_day(config, store=Store(tmp_path, clock=clock), clock=clock)
    first.run_until(at(config, DAY, "08:40"))
    first.service.snooze(30)
    first.store.close()
    second = SimulatedDay(config, clock.t, store=Store(tmp_path, clock=clock), clock=clock)
    second.run_until(at(config, DAY, "09:09"))
    assert second.service.active() is None
    second.run_until(at(config, DAY, "09:10"))
    assert second.service.active()["since"] == at(config, DAY, "09:10")


def test_a_clock_step_replans_the_jobs_keeps_snoozes_their_length_and_repeats_nothing():
    config = make_config()
    plan = plan_of(config)
    scheduler = FakeScheduler()
    sim = start_day(config, scheduler=scheduler, drinks=[(at(config, DAY, "12:30"), 250.0)])
    sim.run_until(at(config, DAY, "08:40"))
    assert scheduler.added.count(jobs.TICK) == 1
    sim.service.snooze(15)
    # NTP steps the clock forward by 2 h: the snooze still lasts its 15 minutes
    sim.clock.step(7200)
    sim.run_until(at(config, DAY, "10:50"))
    assert scheduler.added.count(jobs.TICK) == 2 and scheduler.jobs[jobs.SNOOZE]
    assert sim.service.states.current()[0].snoozed_until == at(config, DAY, "10:55")
    sim.run_until(at(config, DAY, "13:00"))
    # and back by 3 h, after the 12:30 drink: the drink still counts, nothing fires twice
    sim.clock.step(-3 * 3600)
    sim.run_until(plan.end)
    assert scheduler.added.count(jobs.TICK) == 3
    hydration = [e for e in sim.fired("hydration")]
    assert [hhmm(config, e["t"]) for e in hydration] == ["08:40", "13:30"]  # an hour after the drink, once
    assert story(sim, "stretch")[:1] == [("22:30", "stretch", "active")]
    assert len(sim.fired("stretch")) == 1
    assert all(plan.wake <= e["t"] < plan.cutoff for e in hydration)


def test_nothing_is_planned_from_an_unset_clock_until_it_is_set():
    config = make_config()
    sanity = ClockSanity(floor=EARLIEST_PLAUSIBLE, ntp=lambda: None)
    scheduler = FakeScheduler()
    sim = SimulatedDay(config, 30.0, sanity=sanity, scheduler=scheduler)  # a Pi booting in 1970
    sim.store.set_setting("reminders.first_run", at(config, DAY - timedelta(days=1), "12:00"))  # not new
    sim.service.start()
    try:
        sim.run_until(3600.0)
        assert scheduler.get_jobs() == [] and not sim.service.planned
        assert sim.service._health.get("reminders").state == "degraded"
        assert "1970" in sim.service.status()["clock"]["detail"]
        assert sim.reminder_events() == [] and list(sim.store.events()) == []
        sim.clock.step(at(config, DAY, "10:00") - sim.clock.t)  # NTP sets the time
        sim.run_until(at(config, DAY, "10:01"))
        assert sim.service.planned and {j.id for j in scheduler.get_jobs()} >= {jobs.TICK, jobs.STRETCH}
        assert sim.service._health.get("reminders").state == "ok"
        assert story(sim) == [("10:01", "hydration", "active")]  # the first tick after the clock was set
        sim.clock.step(-at(config, DAY, "10:01"))  # and a bad RTC throws it back: stop planning
        sim.service.tick()
        assert scheduler.get_jobs() == [] and not sim.service.planned
    finally:
        sim.service.stop()


def test_on_its_first_afternoon_a_new_device_only_expects_the_pace_since_it_started():
    config = make_config()
    sim = SimulatedDay(config, at(config, DAY, "15:00"))  # unboxed at three: earlier drinks were not seen
    sim.run_until(at(config, DAY, "21:00"))
    # only the ~710 mL the pace asks for from 15:00 to 21:00 are expected: a reminder once 300 mL of it lag
    assert [hhmm(config, e["t"]) for e in sim.fired("hydration")] == ["17:20"]
    assert sim.fired("hydration")[0]["behind_ml"] == 300
    sim.run_until(at(config, DAY + timedelta(days=1), "09:00"))  # the next day is a whole day
    assert [hhmm(config, e["t"]) for e in sim.fired("hydration")] == ["17:20", "08:40"]


def test_the_goal_command_changes_the_pace():
    config = make_config()
    sim = start_day(config)
    actions = Actions(sim.store, clock=sim.clock)
    actions.set_goal(1000)
    sim.run_until(at(config, DAY, "12:00"))
    assert story(sim)[0] == ("10:26", "hydration", "active")
    assert sim.service.status()["pace"]["goal_ml"] == 1000
    with pytest.raises(ActionRefused):
        actions.set_goal(100)
    assert sim.service.status()["pace"]["goal_ml"] == 1000


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_typical_simulated_days_never_remind_in_quiet_hours_or_outside_the_window(seed):
    summary = typical_day(seed)
    assert (summary["fired_in_quiet_hours"], summary["fired_after_cutoff"], summary["fired_before_wake"]) == (0, 0, 0)
    assert 0 < len(summary["hydration_reminders"]) <= 6
    assert summary["stretch_prompt"] is not None
    for reminder in summary["hydration_reminders"]:
        assert reminder["behind_ml"] >= 300 and reminder["why"] in ("drink", "quiet", "away", "after_cutoff")


def test_a_store_without_reminders_yet_gives_a_calm_status():
    config = make_config()
    sim = start_day(config)
    status = sim.service.status()
    assert status["reminder"] is None and status["last_night"] is None
    assert status["pace"]["intake_ml"] == 0 and status["pace"]["reminders"] == "before_wake"
    assert status["clock"]["planned"] is False  # not started yet
