"""One day everywhere: a drink at 00:30 before bed counts to the evening's day, one at 03:30 to the new day.

crampwatch's day runs from halfway through one night to halfway through the next
(:func:`scheduler.policy.day_bounds`; 03:00 with the default 07:00 wake time and 23:00
bedtime). The dashboard's Today, History and streaks (pages and API), the MQTT state's
intake, the reminders' pace and the insights' nightly table all count with it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest

from dashboard import create_app
from dashboard.intake import daily_totals, today
from device.health import Health
from device.insights import analysis
from device.mqtt.state import daemon_state
from device.storage.store import Store
from scheduler import policy
from scheduler.service import ReminderService
from tests.test_dashboard_fixtures import TZ, make_config
from vocabulary.events import Drink

EVENING = date(2026, 11, 24)  # a Tuesday
MORNING = EVENING + timedelta(days=1)


def at(day: date, hour: int, minute: int = 0) -> float:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ).timestamp()


DRINKS = [(at(EVENING, 20), 300.0), (at(MORNING, 0, 30), 200.0),  # the evening's day: 500 mL
          (at(MORNING, 3, 30), 150.0), (at(MORNING, 10), 100.0)]  # the next day: 250 mL


@pytest.fixture
def world():
    """A store with the drinks above, the dashboard and the reminder service on one settable clock."""
    now = [at(MORNING, 1)]
    config = make_config()
    store = Store(":memory:", clock=lambda: now[0])
    store.add_events([Drink(t=t, ml=ml) for t, ml in DRINKS])
    health = Health(clock=lambda: now[0])
    reminders = ReminderService(config, store, health, clock=lambda: now[0])
    app = create_app(config, store=store, health=health, clock=lambda: now[0], test_config={"TESTING": True})
    yield SimpleNamespace(now=now, config=config, store=store, reminders=reminders, client=app.test_client())
    store.close()


def test_the_policy_puts_0030_on_the_evening_and_0330_on_the_morning():
    h = make_config().hydration
    assert policy.day_of(at(MORNING, 0, 30), h, TZ) == EVENING
    assert policy.day_of(at(MORNING, 3, 30), h, TZ) == MORNING
    start, end = policy.day_bounds(MORNING, h, TZ)
    assert (start, end) == (at(MORNING, 3), at(MORNING + timedelta(days=1), 3))
    with Store(":memory:") as store:  # the dashboard's Today is that day
        assert today(store, make_config(), at(MORNING, 3, 30))["chart"]["range"] == [3.0, 27.0]


def test_the_day_follows_wake_time_and_bedtime():
    h = make_config(hydration={"wake_time": "09:00", "bedtime": "01:00"}).hydration
    assert policy.day_bounds(MORNING, h, TZ)[0] == at(MORNING, 5)  # halfway through 01:00-09:00
    assert policy.day_of(at(MORNING, 3, 30), h, TZ) == EVENING


def test_at_0100_every_view_is_still_on_the_evenings_day(world):
    today = world.client.get("/api/v1/today").get_json()
    assert (today["date"], today["intake_ml"]) == (EVENING.isoformat(), 500)
    assert [d["time"] for d in today["drinks"]] == ["00:30", "20:00"]
    assert "500" in world.client.get("/").get_data(as_text=True)
    history = world.client.get("/api/v1/history?view=day&count=2").get_json()["rows"]
    assert [(r["key"], r["intake_ml"]) for r in history] == [("2026-11-23", 0), (EVENING.isoformat(), 500)]
    pace = world.reminders.status()["pace"]
    assert (pace["day"], pace["intake_ml"]) == (EVENING.isoformat(), 500.0)
    daemon = SimpleNamespace(store=world.store, config=world.config, reminders=world.reminders, bottle=None)
    assert daemon_state(daemon, world.now[0])["intake_today_ml"] == 500.0
    without = SimpleNamespace(store=world.store, config=world.config, reminders=None, bottle=None)
    assert daemon_state(without, world.now[0])["intake_today_ml"] == 500.0


def test_after_0300_every_view_is_on_the_new_day(world):
    world.now[0] = at(MORNING, 15, 30)
    today = world.client.get("/api/v1/today").get_json()
    assert (today["date"], today["intake_ml"]) == (MORNING.isoformat(), 250)
    assert [d["time"] for d in today["drinks"]] == ["10:00", "03:30"]
    history = world.client.get("/api/v1/history?view=day&count=2").get_json()["rows"]
    assert [(r["key"], r["intake_ml"]) for r in history] == [(EVENING.isoformat(), 500), (MORNING.isoformat(), 250)]
    assert world.reminders.status()["pace"]["intake_ml"] == 250.0
    daemon = SimpleNamespace(store=world.store, config=world.config, reminders=world.reminders, bottle=None)
    assert daemon_state(daemon, world.now[0])["intake_today_ml"] == 250.0
    rows = analysis.nights(world.store, world.config, EVENING, EVENING)
    assert rows[0]["night"] == EVENING.isoformat() and rows[0]["intake_ml"] == 500.0
    assert daily_totals(world.store, world.config, EVENING, MORNING) == [
        {"date": EVENING.isoformat(), "intake_ml": 500, "caffeine_ml": 0, "drinks": 2, "refills": 0,
         "stretched": False},
        {"date": MORNING.isoformat(), "intake_ml": 250, "caffeine_ml": 0, "drinks": 2, "refills": 0,
         "stretched": False}]


def test_the_today_chart_spans_the_day_from_0300(world):
    chart = world.client.get("/api/v1/today").get_json()["chart"]
    assert chart["range"] == [3.0, 27.0]
    assert chart["intake"][0] == [3.0, 0.0] and [20.0, 300] in chart["intake"] and [24.5, 500] in chart["intake"]


def test_history_cache_files_a_late_drink_under_the_evening(world):
    world.now[0] = at(MORNING, 15, 30)
    assert world.client.get("/api/v1/history?view=day&count=2").get_json()["rows"][0]["intake_ml"] == 500
    world.store.add_event(Drink(t=at(MORNING, 1, 15), ml=50.0))  # stored in this process: drops its day only
    rows = world.client.get("/api/v1/history?view=day&count=2").get_json()["rows"]
    assert [r["intake_ml"] for r in rows] == [550, 250]


def test_a_day_is_25_hours_when_the_clocks_go_back():
    h = make_config().hydration
    day = date(2026, 10, 25)  # Berlin leaves summer time in the night before it
    start, end = policy.day_bounds(day, h, TZ)
    prev_start, _ = policy.day_bounds(day - timedelta(days=1), h, TZ)
    assert (start - prev_start) + (end - start) == pytest.approx(49 * 3600)  # the two days around it share the hour
    rows = daily_totals(Store(":memory:"), make_config(), day - timedelta(days=1), day + timedelta(days=1))
    assert [r["date"] for r in rows] == ["2026-10-24", "2026-10-25", "2026-10-26"]
