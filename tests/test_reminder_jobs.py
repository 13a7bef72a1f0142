"""APScheduler wiring: jobs from the configuration, wall-clock times across DST, one real run."""

import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from device.config import Config
from device.health import Health
from device.storage.store import Store
from scheduler import jobs
from scheduler.clock import EARLIEST_PLAUSIBLE, ClockSanity
from scheduler.service import ReminderService


def make_config(tz="Europe/Berlin", **sections):
    return Config.model_validate({"device": {"timezone": tz, "data_dir": ":memory:"}} | sections)


def cron_times(trigger, tz, start, count):
    """The next ``count`` fire times of a trigger from local ``start``, as local wall times."""
    out, previous, now = [], None, datetime.fromisoformat(start).replace(tzinfo=tz)
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        out.append(fire)
        previous, now = fire, fire + timedelta(seconds=1)
    return out


def test_the_jobs_follow_the_configuration():
    specs = {s.id: s for s in jobs.job_specs(make_config(hydration={"cutoff_h": 1.5, "bedtime": "22:45"}))}
    assert list(specs) == [jobs.TICK, jobs.MORNING, jobs.CUTOFF, jobs.STRETCH]
    assert str(specs[jobs.CUTOFF].trigger.fields[5]) == "21" and str(specs[jobs.CUTOFF].trigger.fields[6]) == "15"
    assert str(specs[jobs.STRETCH].trigger.fields[5]) == "22" and str(specs[jobs.STRETCH].trigger.fields[6]) == "15"
    assert specs[jobs.TICK].misfire_grace_time == 30 and specs[jobs.STRETCH].misfire_grace_time == 3600
    quiet = jobs.job_specs(make_config(hydration={"enabled": False}, stretch={"enabled": False}))
    assert [s.id for s in quiet] == [jobs.TICK, jobs.MORNING]
    late = {s.id: s for s in jobs.job_specs(make_config(hydration={"bedtime": "00:15", "cutoff_h": 1}))}
    assert str(late[jobs.STRETCH].trigger.fields[5]) == "23" and str(late[jobs.STRETCH].trigger.fields[6]) == "45"


@pytest.mark.parametrize("tz, eve, hours", [
    ("Europe/Berlin", "2026-03-28", 23), ("Europe/Berlin", "2026-10-24", 25),
    ("America/New_York", "2026-03-07", 23), ("America/New_York", "2026-10-31", 25)])
def test_daily_jobs_keep_their_wall_clock_time_when_the_clocks_change(tz, eve, hours):
    tz = ZoneInfo(tz)
    specs = {s.id: s for s in jobs.job_specs(make_config(tz.key))}
    stretch = cron_times(specs[jobs.STRETCH].trigger, tz, f"{eve} 12:00", 3)
    assert [t.strftime("%H:%M") for t in stretch] == ["22:30"] * 3
    # a day with a changed clock is 23 or 25 hours long between two 22:30 prompts
    assert [(b.timestamp() - a.timestamp()) / 3600 for a, b in zip(stretch, stretch[1:])] == [hours, 24]
    morning = cron_times(specs[jobs.MORNING].trigger, tz, f"{eve} 12:00", 2)
    assert [t.strftime("%H:%M") for t in morning] == ["07:00", "07:00"]
    # the minute tick keeps ticking every 60 real seconds through the change
    ticks = cron_times(specs[jobs.TICK].trigger, tz, f"{eve} 23:58", 6 * 60)
    assert {(b.timestamp() - a.timestamp()) for a, b in zip(ticks, ticks[1:])} == {60.0}


def test_installing_again_replaces_the_jobs_and_drops_the_unwanted_ones():
    scheduler = BackgroundScheduler(timezone=ZoneInfo("UTC"))
    scheduler.start(paused=True)  # the service installs jobs on a running scheduler
    try:
        ids = jobs.install_jobs(scheduler, jobs.job_specs(make_config("UTC")), lambda: None)
        jobs.install_jobs(scheduler, jobs.job_specs(make_config("UTC")), lambda: None)
        assert sorted(j.id for j in scheduler.get_jobs()) == sorted(ids)
        jobs.install_jobs(scheduler, jobs.job_specs(make_config("UTC", stretch={"enabled": False})), lambda: None)
        assert jobs.STRETCH not in {j.id for j in scheduler.get_jobs()}
        jobs.remove_jobs(scheduler)
        assert scheduler.get_jobs() == []
    finally:
        scheduler.shutdown(wait=False)


def test_the_service_on_a_real_background_scheduler(tmp_path):
    config = make_config("UTC")
    ran = threading.Event()
    service = ReminderService(config, Store(tmp_path), Health(), publish=lambda *a: None,
                              sanity=ClockSanity(floor=EARLIEST_PLAUSIBLE, ntp=lambda: None))
    service.start()
    try:
        scheduler = service._scheduler
        assert scheduler.running and service.planned
        by_id = {j.id: j for j in scheduler.get_jobs()}
        assert set(by_id) == {jobs.TICK, jobs.MORNING, jobs.CUTOFF, jobs.STRETCH}
        tick = by_id[jobs.TICK]
        assert (tick.coalesce, tick.max_instances, tick.misfire_grace_time) == (True, 1, 30)
        assert tick.next_run_time.tzinfo.key == "UTC" and 0 < tick.next_run_time.timestamp() - time.time() <= 61
        assert by_id[jobs.STRETCH].next_run_time.strftime("%H:%M") == "22:30"
        jobs.run_once_at(scheduler, time.time() + 0.2, config.tz, ran.set)
        assert ran.wait(3.0)  # a job really runs on the scheduler's worker thread
    finally:
        service.stop()
    assert not service._scheduler.running
    assert not any(t.name == "reminders-clock" for t in threading.enumerate())


def test_the_service_follows_settings_changed_on_the_dashboard_without_a_restart(tmp_path):
    """Settings saved on the dashboard reach the running reminders at their next tick
    or status: the day's times (and the jobs planned from them), the pace, the stretching."""
    from device.actions import GOAL_SETTING, Actions
    from device.settings import SettingsService

    config = make_config("UTC")
    store = Store(tmp_path)
    settings = SettingsService(config, store)
    actions = Actions(store)
    live = {GOAL_SETTING: lambda ml: actions.set_goal(ml, source="dashboard")}
    service = ReminderService(config, store, Health(), publish=lambda *a: None, settings=settings.effective,
                              sanity=ClockSanity(floor=EARLIEST_PLAUSIBLE, ntp=lambda: None))
    service.start()
    try:
        stretch = lambda: {j.id: j for j in service._scheduler.get_jobs()}.get(jobs.STRETCH)
        assert stretch().next_run_time.strftime("%H:%M") == "22:30"
        settings.update({"hydration": {"bedtime": "22:00", "goal_ml": 2600, "front_load": 0.0}}, live=live)
        pace = service.status()["pace"]
        assert stretch().next_run_time.strftime("%H:%M") == "21:30"  # the jobs were planned again
        assert pace["goal_ml"] == 2600
        wake, cutoff = (datetime.fromtimestamp(t, ZoneInfo("UTC")).strftime("%H:%M") for t in pace["window"])
        assert (wake, cutoff) == ("07:00", "20:00")
        settings.update({"stretch": {"enabled": False}}, live=live)
        service.tick()
        assert stretch() is None
    finally:
        service.stop()
        store.close()
