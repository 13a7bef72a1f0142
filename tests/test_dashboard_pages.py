"""The pages (server-rendered), the day and night arithmetic behind them, and the
simulated history that fills them."""

import subprocess
import sys
from datetime import date, datetime

import pytest
from pydantic import Field

from dashboard import create_app, register_nav
from dashboard.intake import _runs, daily_totals, today
from dashboard.nights import nights
from device.config import Config, Section
from device.storage.store import Store
from simulator.history import seed_history
from tests.test_dashboard_fixtures import (  # noqa: F401  (fixtures)
    NOW, TZ, app, client, health, make_config, post, reminders, scale, seeded, store,
)
from vocabulary.events import CrampLog, Drink, Sleep, Wake

PAGES = {"/": "Water today", "/history": "Goal streak", "/history?view=week": "by week",
         "/history?view=month": "by month", "/nights": "Add a cramp the detector missed", "/settings": "Save bottle",
         "/calibrate": "Empty the scale", "/health": "Storage"}


@pytest.mark.parametrize("url,text", PAGES.items())
def test_every_page_renders(client, url, text):
    r = client.get(url)
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert text in html
    assert 'name="csrf-token"' in html and "<script>" not in html  # no inline scripts (CSP)
    assert ' style="' not in html  # no inline styles either


def test_today_shows_the_active_reminder_and_the_bottle(client, reminders, scale):
    reminders.fire(message="Time for a glass of water")
    scale.load_g = 300.0 + 450.0  # empty bottle 300 g (fake calibration) and 450 mL
    html = client.get("/").get_data(as_text=True)
    assert "Time for a glass of water" in html and "450\u202fmL" in html


def test_nav_has_a_slot_for_more_pages(app):
    app.add_url_rule("/insights", "insights", lambda: "insights")
    register_nav(app, "insights", "Insights", after="pages.nights")
    html = app.test_client().get("/").get_data(as_text=True)
    assert html.index(">Nights<") < html.index(">Insights<") < html.index(">Settings<")


def test_an_unknown_history_view_is_a_404_page(client):
    r = client.get("/history?view=year")
    assert r.status_code == 404 and b"<html" in r.data


class GardenSection(Section):
    water_ml: int = Field(500, ge=0, le=5000, description="Water for the plants.")


class BiggerConfig(Config):
    garden: GardenSection = Field(default_factory=GardenSection, description="The garden.")


def test_settings_page_is_built_from_the_config_models(store):
    config = BiggerConfig.model_validate({"device": {"data_dir": ":memory:", "timezone": "Europe/Berlin"}})
    c = create_app(config, store=store, clock=lambda: NOW).test_client()
    html = c.get("/settings").get_data(as_text=True)
    assert 'id="section-garden"' in html and 'id="garden-water_ml"' in html and 'max="5000"' in html
    with c.session_transaction() as s:
        s["csrf"] = "t"
    r = post(c, "/api/v1/settings", {"garden": {"water_ml": 800}}, method="PATCH", token="t")
    assert r.status_code == 200
    assert c.application.extensions["crampwatch"].effective.garden.water_ml == 800


def test_the_goal_is_shared_with_the_reminder_service(client, seeded):
    seeded.set_setting("hydration.goal_ml", 2500.0)  # the MQTT 'goal' command
    assert client.get("/api/v1/today").get_json()["goal_ml"] == 2500
    assert post(client, "/api/v1/settings", {"hydration": {"goal_ml": 1800}}, method="PATCH").status_code == 200
    assert seeded.get_setting("hydration.goal_ml") == 1800
    assert "hydration" not in (seeded.get_setting("config.overrides") or {})
    assert client.get("/api/v1/today").get_json()["goal_ml"] == 1800
    html = client.get("/settings").get_data(as_text=True)
    assert 'id="hydration-goal_ml"' in html and 'value="1800"' in html


def test_pace_follows_the_reminder_policy_shape(store):
    """Today's pace is the reminders' own: 0 at wake time, the whole goal at the cutoff,
    front-loaded in between (scheduler.policy, read by the real settings keys)."""
    config = make_config(hydration={"goal_ml": 2000, "wake_time": "07:00", "bedtime": "23:00",
                                    "cutoff_h": 2.0, "front_load": 0.3})
    wake, cutoff = (datetime(2026, 11, 25, hh, tzinfo=TZ).timestamp() for hh in (7, 21))
    assert today(store, config, wake - 60)["pace_ml"] == 0 and today(store, config, cutoff + 60)["pace_ml"] == 2000
    middle = today(store, config, (wake + cutoff) / 2)
    assert middle["pace_ml"] == round(2000 * 0.5 * 1.15) and middle["window"] == {"start": "07:00", "end": "21:00"}
    store.set_setting("hydration.goal_ml", 3000)  # set by a person (the goal action): it wins over the file
    assert today(store, config, (wake + cutoff) / 2)["goal_ml"] == 3000


def test_a_day_runs_from_halfway_through_one_night_to_the_next_also_on_dst_days(store):
    # the reminders' day (03:00 to 03:00 with 07:00 and 23:00): 00:30 counts to the evening before;
    # on 2026-10-25 Berlin's clocks go back, and 00:30 on the 26th still counts to the 25th
    def local(d, hh, mm):
        return datetime(2026, 10, d, hh, mm, tzinfo=TZ).timestamp()

    store.add_events([Drink(t=local(25, 0, 30), ml=100.0), Drink(t=local(25, 9, 0), ml=400.0),
                      Drink(t=local(25, 23, 30), ml=200.0), Drink(t=local(26, 0, 30), ml=50.0),
                      Drink(t=local(26, 3, 30), ml=25.0)])
    rows = daily_totals(store, make_config(), date(2026, 10, 24), date(2026, 10, 26))
    assert [r["intake_ml"] for r in rows] == [100, 650, 25]


@pytest.mark.parametrize("flags,current,best", [
    ([True, True, False, True, True, True, False], 0 + 3, 3),  # today not done yet: yesterday's run counts
    ([True, True, True], 3, 3), ([False, False], 0, 0), ([True, False, True, True, True], 3, 3), ([], 0, 0),
])
def test_streaks(flags, current, best):
    assert _runs(flags) == {"current": current, "best": best}


def _night(store, *events):
    store.add_events(list(events))


def test_nights_labels_win_over_the_detector_and_stray_presses_attach(store):
    n = datetime(2026, 11, 20, 23, 0, tzinfo=TZ).timestamp()
    w1 = Wake(start=n + 3600, end=n + 3900, bed_exit=True, cramp=False, score=0.2)
    w2 = Wake(start=n + 7200, end=n + 7300, bed_exit=False, cramp=True, score=0.9)
    w3 = Wake(start=n + 14400, end=n + 14500, bed_exit=False, cramp=False, score=0.1)
    _night(store, Sleep(start=n, end=n + 8 * 3600), w1, w2, w3,
           CrampLog(t=n + 36000, confirmed=True, wake_id=w1.id, source="dashboard"),   # missed, confirmed next day
           CrampLog(t=n + 36100, confirmed=False, wake_id=w2.id, source="dashboard"),  # false alarm
           CrampLog(t=n + 14500 + 120, confirmed=True, source="button"),               # pressed just after w3
           CrampLog(t=n + 20000, confirmed=True, source="button"))                     # no wake-up around
    night = nights(store, TZ, date(2026, 11, 20), 1)[0]
    assert [w["cramp"] for w in night["wakes"]] == [True, False, True]
    assert [w["label"] for w in night["wakes"]] == [True, False, True]
    assert len(night["cramps"]) == 1 and night["cramp_count"] == 3
    assert night["sleep"]["from"] == "23:00" and night["sleep"]["hours"] == 8.0
    tl = night["timeline"]
    assert tl["ticks"][0] == "20" and tl["ticks"][-1] == "10" and tl["sleep"][0] == pytest.approx(3 / 14 * 1000, abs=1)


def test_movement_is_drawn_when_an_epochs_provider_is_given(store):
    n = datetime(2026, 11, 20, 23, 0, tzinfo=TZ).timestamp()
    _night(store, Sleep(start=n, end=n + 8 * 3600))
    epochs = lambda a, b: [(t, (t // 30) % 7) for t in range(int(a), int(b), 30)]  # noqa: E731
    night = nights(store, TZ, date(2026, 11, 20), 1, epochs=epochs)[0]
    assert night["timeline"]["movement"].count(",") == 280  # binned: small pages on a Pi
    assert nights(store, TZ, date(2026, 11, 20), 1)[0]["timeline"]["movement"] is None


def test_simulated_history_is_plausible_and_repeatable():
    a, b = Store(":memory:"), Store(":memory:")
    sa = seed_history(a, 21, end=NOW, tz=TZ, seed=9)
    sb = seed_history(b, 21, end=NOW, tz=TZ, seed=9)
    assert sa == sb and [e["id"] for e in a.events()] == [e["id"] for e in b.events()]
    kinds = sa["by_type"]
    assert {"drink", "refill", "sleep", "wake", "reminder", "stretched"} <= set(kinds)
    assert 20 <= kinds["sleep"] <= 21 and kinds["drink"] >= 21 * 5
    assert all(e["t"] <= NOW for e in a.events(types=["drink", "cramp", "reminder"]))
    for s in a.events(types=["sleep"]):
        start = datetime.fromtimestamp(s["start"], TZ)
        assert start.hour >= 21 or start.hour <= 1 and 5 <= (s["end"] - s["start"]) / 3600 <= 11
    totals = daily_totals(a, make_config(), date(2026, 11, 5), date(2026, 11, 24))
    assert all(300 <= r["intake_ml"] <= 4500 for r in totals)
    for w in a.events(types=["wake"]):  # every wake-up lies inside its night's sleep
        assert any(s["start"] <= w["start"] <= s["end"] for s in a.events(types=["sleep"]))


def test_simulate_history_command_fills_a_data_dir(tmp_path):
    run = subprocess.run([sys.executable, "-m", "device.cli", "simulate", "history", "--days", "5",
                          "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "stored" in run.stderr and "of 5 days" in run.stderr
    with Store(tmp_path) as store:
        assert store.count_events() > 40
    bad = subprocess.run([sys.executable, "-m", "device.cli", "simulate", "history", "--days", "0", "--out",
                          str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--days" in bad.stderr


def test_tonight_shows_from_the_evening_or_once_it_has_a_sleep_period(store):
    """At 15:30 the newest night is last night; a sleep period since noon (a nap, a demo's
    ten-minute night) makes it tonight's, on the page and in the API."""
    c = create_app(make_config(), store=store, clock=lambda: NOW).test_client()
    assert c.get("/api/v1/nights?count=1").get_json()["nights"][0]["date"] == "2026-11-24"
    nap = datetime(2026, 11, 25, 13, 0, tzinfo=TZ).timestamp()
    _night(store, Sleep(start=nap, end=nap + 40 * 60))
    assert c.get("/api/v1/nights?count=1").get_json()["nights"][0]["date"] == "2026-11-25"
    assert "13:00" in c.get("/nights").get_data(as_text=True)
