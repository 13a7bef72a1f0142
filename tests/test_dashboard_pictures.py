"""Issue 17 part 4, the pictures' data through the JSON API and the pages: cramp nights on
the intake history, sleep and cramp hours by week, the calendar, a night's movement,
Today's last drink and next reminder. Each figure matches its owner's (device.insights.analysis,
dashboard.nights, the reminder service); bad query parameters are a 400 naming the
field; the output is bounded; the routes are behind the same login as the rest."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from werkzeug.security import generate_password_hash

from dashboard import create_app
from dashboard.server import _store_epochs
from device.insights import analysis
from device.storage.store import Store
from simulator.history import seed_history
from tests.test_dashboard_fixtures import (  # noqa: F401  (fixtures)
    NOW, PASSWORD, TZ, FakeReminders, app, client, health, make_config, reminders, scale, seeded, store,
)
from vocabulary.events import CrampLog, Drink

LAST_NIGHT = date(2026, 11, 24)  # NOW is Wednesday 25 November, 15:30 in Berlin


@pytest.fixture
def moving():
    """A month of history with each night's movement, and the dashboard over it."""
    with Store(":memory:", clock=lambda: NOW) as s:
        seed_history(s, 30, end=NOW, tz=TZ, seed=3, epochs=True)
        app = create_app(make_config(), store=s, clock=lambda: NOW, epochs=_store_epochs(s),
                         test_config={"TESTING": True})
        yield s, app.test_client()


def night_rows(store, first, last):
    return {r["night"]: r for r in analysis.nights(store, make_config(), first, last)}


def test_the_intake_history_carries_the_cramp_nights_after_each_day(client, seeded):
    rows = client.get("/api/v1/history?view=day&count=30").get_json()["rows"]
    nights = night_rows(seeded, date.fromisoformat(rows[0]["key"]), date.fromisoformat(rows[-1]["key"]))
    assert [r["cramp_nights"] for r in rows] == [int(nights[r["key"]]["cramp_night"]) for r in rows]
    assert sum(r["cramp_nights"] for r in rows) >= 3  # the seeded month has some to show
    assert rows[-1]["recorded_nights"] == 0  # tonight is still to come
    weeks = client.get("/api/v1/history?view=week&count=2").get_json()["rows"]
    first = date.fromisoformat(rows[-1]["key"]) - timedelta(days=date.fromisoformat(rows[-1]["key"]).weekday() + 7)
    days = [r for r in rows if date.fromisoformat(r["key"]) >= first]
    assert sum(w["cramp_nights"] for w in weeks) == sum(r["cramp_nights"] for r in days)


def test_sleep_trends_are_the_insights_nights_week_by_week(client, seeded):
    data = client.get("/api/v1/nights/trends?weeks=4").get_json()
    first, last = date.fromisoformat(data["first"]), date.fromisoformat(data["last"])
    assert last == LAST_NIGHT and first.weekday() == 0 and len(data["weeks"]) == 4
    nights = [r for r in night_rows(seeded, first, last).values() if r["recorded"]]
    assert sum(w["nights"] for w in data["weeks"]) == len(nights)
    assert sum(w["cramp_nights"] for w in data["weeks"]) == sum(r["cramp_night"] for r in nights)
    week = data["weeks"][-1]
    own = [r for r in nights if date.fromisoformat(r["night"]) >= date.fromisoformat(week["first"])]
    assert week["mean_asleep_h"] == pytest.approx(sum(r["asleep_h"] for r in own) / len(own), abs=0.01)
    assert week["mean_wakes"] == pytest.approx(sum(r["wakes"] for r in own) / len(own), abs=0.01)
    assert 5 < week["mean_asleep_h"] < 10


def test_the_cramp_hours_add_up_to_the_nights_cramps(client):
    data = client.get("/api/v1/nights/trends?weeks=8").get_json()
    hours = data["cramp_hours"]
    count = (date.fromisoformat(data["last"]) - date.fromisoformat(data["first"])).days + 1
    nights = client.get(f"/api/v1/nights?last={data['last']}&count={count}").get_json()["nights"]
    assert sum(hours["counts"]) == hours["cramps"] == sum(n["cramp_count"] for n in nights) > 0
    assert hours["hours"][0] == "20:00" and hours["hours"][-1] == "07:00" and len(hours["counts"]) == 12


def test_cramp_hours_are_the_configured_zones(store):
    """A cramp logged at 03:17 in Berlin (02:17 UTC) is in the 03:00 bar; one at 13:30 widens the axis."""
    for hh, mm in ((3, 17), (13, 30)):
        t = datetime(2026, 11, 24 if hh < 12 else 23, hh, mm, tzinfo=TZ).timestamp()
        store.add_event(CrampLog(t=t, confirmed=True, source="button"))
    app = create_app(make_config(), store=store, clock=lambda: NOW, test_config={"TESTING": True})
    hours = app.test_client().get("/api/v1/nights/trends?weeks=1").get_json()["cramp_hours"]
    by_hour = dict(zip(hours["hours"], hours["counts"]))
    assert by_hour["03:00"] == 1 and by_hour["02:00"] == 0 and by_hour["13:00"] == 1
    assert hours["hours"][0] == "13:00" and hours["cramps"] == 2


def test_the_calendar_marks_goal_days_and_cramp_nights(client, seeded):
    data = client.get("/api/v1/calendar?weeks=3").get_json()
    assert data["last"] == LAST_NIGHT.isoformat() and date.fromisoformat(data["first"]).weekday() == 0
    assert data["offset"] == 0 and len(data["days"]) == 14 + LAST_NIGHT.weekday() + 1
    nights = night_rows(seeded, date.fromisoformat(data["first"]), LAST_NIGHT)
    assert [d["cramp_night"] for d in data["days"]] == [nights[d["date"]]["cramp_night"] for d in data["days"]]
    assert data["cramp_nights"] == sum(r["cramp_night"] for r in nights.values())
    assert data["goal_days"] == sum(r["goal_met"] and r["intake_measured"] for r in nights.values())
    assert {d["level"] for d in data["days"] if d["goal_met"]} == {4}
    assert all(1 <= d["level"] <= 3 for d in data["days"] if d["measured"] and not d["goal_met"])


def test_a_nights_movement_is_downsampled_with_its_wake_ups(moving):
    store, c = moving
    night = (LAST_NIGHT - timedelta(days=2)).isoformat()
    full = c.get(f"/api/v1/nights?last={night}&count=1").get_json()["nights"][0]
    data = c.get(f"/api/v1/nights/{night}/movement?points=50").get_json()
    assert data["movement"] is True and 20 < len(data["points"]) <= 50
    epochs = store.epochs(data["start"], data["end"])
    assert len(epochs) > 10 * len(data["points"])  # downsampled
    assert max(v for _, v in data["points"]) == pytest.approx(max(e[1] for e in epochs), abs=1e-4)  # bursts kept
    assert all(data["start"] <= t < data["end"] for t, _ in data["points"])
    assert [w["id"] for w in data["wakes"]] == [w["id"] for w in full["wakes"]] and data["wakes"]
    assert data["sleep"]["start"] == full["sleep"]["start"] and data["tz"] == "Europe/Berlin"
    busiest = max(data["points"], key=lambda p: p[1])[0]  # the busiest slice is a wake-up
    assert any(w["start"] - 3600 <= busiest <= w["end"] + 3600 for w in data["wakes"])
    default = c.get(f"/api/v1/nights/{night}/movement").get_json()
    assert len(data["points"]) < len(default["points"]) <= 240


def test_without_kept_movement_a_night_still_has_its_wake_ups(client):
    data = client.get(f"/api/v1/nights/{LAST_NIGHT - timedelta(days=1)}/movement").get_json()
    assert data["movement"] is False and data["points"] == [] and data["end"] > data["start"]


@pytest.mark.parametrize("url,field", [
    ("/api/v1/nights/trends?weeks=0", "weeks"), ("/api/v1/nights/trends?weeks=105", "weeks"),
    ("/api/v1/nights/trends?weeks=twelve", "weeks"), ("/api/v1/calendar?weeks=54", "weeks"),
    ("/api/v1/calendar?weeks=-1", "weeks"), ("/api/v1/nights/2026-11-20/movement?points=9", "points"),
    ("/api/v1/nights/2026-11-20/movement?points=601", "points"),
    ("/api/v1/nights/2026-11-20/movement?points=1e3", "points"), ("/api/v1/nights/2026-13-01/movement", "night"),
    ("/api/v1/nights/yesterday/movement", "night"), ("/api/v1/nights/1999-12-31/movement", "night"),
    ("/api/v1/nights/2026-11-20T03:00/movement", "night")])
def test_bad_query_parameters_are_a_400_naming_the_field(client, url, field):
    r = client.get(url)
    assert r.status_code == 400 and field in r.get_json()["fields"], (r.status_code, r.get_data()[:200])


def test_the_most_weeks_stay_bounded(client):
    assert len(client.get("/api/v1/nights/trends?weeks=104").get_json()["weeks"]) == 104
    assert len(client.get("/api/v1/calendar?weeks=53").get_json()["days"]) <= 53 * 7


def test_the_new_routes_need_the_login(seeded):
    locked = create_app(make_config(), store=seeded, clock=lambda: NOW,
                        test_config={"TESTING": True, "PASSWORD_HASH": generate_password_hash(PASSWORD)})
    c = locked.test_client()
    for url in ("/api/v1/nights/trends", "/api/v1/calendar", "/api/v1/nights/2026-11-20/movement"):
        assert c.get(url).status_code == 401, url


def test_today_shows_the_last_drink_and_the_next_planned_reminder(store):
    reminders = FakeReminders(clock=lambda: NOW)
    app = create_app(make_config(), store=store, reminders=reminders, clock=lambda: NOW,
                     test_config={"TESTING": True})
    c = app.test_client()
    data = c.get("/api/v1/today").get_json()
    assert data["last_drink"] is None and data["next_reminder"] is None
    store.add_event(Drink(t=NOW - 86400 + 3600, ml=300.0))  # yesterday evening still counts as the last drink
    reminders.planned = {"t": NOW + 4 * 3600, "kind": "stretch", "reason": "bedtime"}
    data = c.get("/api/v1/today").get_json()
    assert data["last_drink"]["ago_s"] == 86400 - 3600 and data["last_drink"]["time"] == "16:30"
    assert data["next_reminder"] == {"t": NOW + 4 * 3600, "kind": "stretch", "reason": "bedtime", "time": "19:30",
                                     "tomorrow": False, "note": "the stretching prompt before bed"}
    assert c.get("/api/v1/reminder").get_json()["next"]["time"] == "19:30"
    store.add_event(Drink(t=NOW - 600, ml=200.0))
    reminders.planned = {"t": NOW + 18 * 3600, "kind": "hydration", "reason": "behind"}
    data = c.get("/api/v1/today").get_json()
    assert data["last_drink"]["ago_s"] == 600 and data["next_reminder"]["tomorrow"] is True
    page = c.get("/").get_data(as_text=True)
    assert 'id="since-drink"' in page and "A drink at 09:30 tomorrow" in page


def test_the_pages_hold_the_pictures(moving):
    store, c = moving
    history = c.get("/history").get_data(as_text=True)
    assert '"cramps": [' in history and 'id="history-cramps"' in history
    nights = c.get("/nights").get_data(as_text=True)
    assert 'id="sleep-data"' in nights and 'id="hours-data"' in nights and "details class=\"movement\"" in nights
    insights_page = c.get("/insights").get_data(as_text=True)
    assert insights_page.count('class="cal-day') >= 28 and 'id="cal-cramp-nights"' in insights_page
