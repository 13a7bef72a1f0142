"""Insights on simulated histories with a planted effect (and without one); the doctor flag."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from device.config import Config
from device.insights import analysis
from device.storage.store import Store
from vocabulary.events import CrampLog, Drink, Sleep, Wake
from vocabulary.reminder_events import Stretched

TZ_NAME = "Europe/Berlin"
TZ = ZoneInfo(TZ_NAME)
FIRST = date(2026, 3, 1)  # spans the spring clock change


def config(**insights_settings) -> Config:
    return Config.model_validate({"device": {"timezone": TZ_NAME}, "insights": insights_settings})


def at(day: date, hour: float) -> float:
    return (datetime.combine(day, time(0), TZ) + timedelta(hours=hour)).timestamp()


def plant(store: Store, nights: int, *, seed: int, effect: float = 2.0, base: float = 0.22,
          stretch_effect: float = 1.0) -> list[bool]:
    """``nights`` days and nights; cramps ``effect`` times as likely after a day below the goal.

    The detector errs on one cramp verdict in five and the person's label corrects it, so
    the analysis sees the truth only if confirmed labels win. Returns the planted cramp nights.
    """
    rng = random.Random(seed)
    truth = []
    for k in range(nights):
        day = FIRST + timedelta(days=k)
        low = rng.random() < 0.5
        intake = rng.uniform(900, 1900) if low else rng.uniform(2000, 2900)
        stretched = rng.random() < 0.6
        events: list = [Drink(t=at(day, h), ml=round(intake / 6, 1)) for h in (8, 10, 12.5, 15, 17.5, 21)]
        if stretched:
            events.append(Stretched(t=at(day, 22.6), day=day.isoformat(), source="button"))
        p = base * (effect if low else 1.0) * (1.0 if stretched else stretch_effect)
        cramp = rng.random() < p
        truth.append(cramp)
        start, end = at(day, 23.3 + rng.random() * 0.5), at(day, 30.8)
        events.append(Sleep(start=start, end=end))
        events.append(Wake(start=at(day, 25.0), end=at(day, 25.05), bed_exit=False, cramp=False, score=0.1))
        wrong = rng.random() < 0.2
        wake = Wake(start=at(day, 27.0), end=at(day, 27.1), bed_exit=True, cramp=cramp != wrong, score=0.7)
        events.append(wake)
        if wrong:  # the person corrects the detector the next morning
            events.append(CrampLog(t=at(day, 31.5), confirmed=cramp, wake_id=wake.id, source="dashboard"))
        store.add_events(events)
    return truth


def analyse_planted(nights: int, seed: int, **kw) -> dict:
    store = Store(":memory:")
    truth = plant(store, nights, seed=seed, **kw)
    now = at(FIRST + timedelta(days=nights), 12.0)
    result = analysis.analyse(store, config(), now)
    assert [r["cramp_night"] for r in result["rows"]] == truth  # labels first, then the detector
    return result


def by_key(result: dict, key: str) -> dict:
    return next(c for c in result["comparisons"] if c["key"] == key)


def test_a_planted_low_intake_effect_is_found_on_most_seeds():
    found = []
    for seed in range(20):
        goal = by_key(analyse_planted(200, seed), "goal")
        assert goal["groups"][0]["label"] == "Below the goal"
        found.append(goal["finding"] and goal["ci_low"] > 1.0 and goal["rate_ratio"] > 1.0)
    print(f"planted effect found on {sum(found)} of {len(found)} seeds")
    assert sum(found) >= 15


def test_no_effect_is_rarely_claimed():
    claims = []
    for seed in range(100, 140):
        result = analyse_planted(160, seed, effect=1.0)
        claims += [by_key(result, "goal")["finding"], by_key(result, "stretch")["finding"]]
    print(f"no-effect claims: {sum(claims)} of {len(claims)} comparisons")
    assert sum(claims) <= 0.08 * len(claims)  # Fisher's test is conservative: nominal 5%


def test_a_planted_stretching_effect_shows_in_the_stretching_comparison():
    result = analyse_planted(200, 7, effect=1.0, stretch_effect=2.5)
    stretch = by_key(result, "stretch")
    assert stretch["finding"] and stretch["rate_ratio"] > 1.5
    assert "Without stretching" == stretch["groups"][0]["label"]


def test_sentences_describe_associations_never_causes():
    result = analyse_planted(200, 3)
    text = " ".join(c["sentence"] for c in result["comparisons"]) + result["note"]
    for word in ("because", "causes your", "prevents", "diagnos", "due to", "leads to"):
        assert word not in text.replace("not what causes", "").replace("not a diagnosis", "")
    assert "not proof of a cause" in by_key(result, "goal")["sentence"]


def test_intake_quartiles_with_enough_nights():
    result = analyse_planted(200, 5)
    q = by_key(result, "quartiles")
    assert q["enough"] and len(q["groups"]) == 4 and sum(g["nights"] for g in q["groups"]) == 200
    assert q["rate_ratio"] is not None and q["p_value"] is not None
    few = analyse_planted(40, 5)
    assert not by_key(few, "quartiles")["enough"]


def test_not_enough_nights_yet_says_how_many_are_needed():
    store = Store(":memory:")
    plant(store, 10, seed=1)
    result = analysis.analyse(store, config(), at(FIRST + timedelta(days=10), 12.0))
    assert not result["enough"] and result["comparisons"] == []
    assert result["message"] == "Not enough nights yet: 10 recorded nights, 28 needed (18 more)."
    result = analysis.analyse(store, config(min_nights=10), at(FIRST + timedelta(days=10), 12.0))
    assert result["enough"]


def test_a_small_group_is_not_compared():
    rows = [{"recorded": True, "intake_measured": True, "goal_met": k < 3, "stretched": True,
             "cramp_night": k % 2 == 0, "intake_ml": 1000.0 + k} for k in range(30)]
    result = analysis.comparisons(rows, config())
    goal = by_key(result, "goal")
    assert not goal["enough"] and goal["p_value"] is None and "fewer than 5 nights" in goal["sentence"]


def test_rate_ratio_and_fisher_match_known_values():
    # 12/40 against 6/40: risk ratio 2; Fisher two-sided p for [[12, 28], [6, 34]] is about 0.18
    r = analysis.rate_ratio((12, 40), (6, 40))
    assert r["rate_ratio"] == 2.0 and r["ci_low"] < 1.0 < r["ci_high"]
    assert 0.15 < r["p_value"] < 0.2


def test_rate_ratio_with_a_group_without_cramp_nights():
    # no cramp night in the reference group: no ratio to show (it would be infinite), no interval
    r = analysis.rate_ratio((6, 20), (0, 20))
    assert (r["rate_ratio"], r["ci_low"], r["ci_high"]) == (None, None, None) and 0 < r["p_value"] < 0.05
    # none in the exposed group: the ratio is 0, still no interval (its upper end is undefined)
    r = analysis.rate_ratio((0, 20), (6, 20))
    assert (r["rate_ratio"], r["ci_low"], r["ci_high"]) == (0.0, None, None) and 0 < r["p_value"] < 0.05
    assert analysis.rate_ratio((3, 30), (3, 30))["p_value"] == 1.0  # the likeliest table


# -- the doctor flag -----------------------------------------------------------------------
def week(store: Store, cramp_nights: set[int], *, denied: set[int] = frozenset(),
         confirmed: set[int] = frozenset()) -> float:
    """Seven nights after FIRST..FIRST+6; detector cramps on ``cramp_nights``. Returns a 'now'."""
    for k in range(7):
        day = FIRST + timedelta(days=k)
        wake = Wake(start=at(day, 27.0), end=at(day, 27.1), bed_exit=True, cramp=k in cramp_nights, score=0.8)
        events = [Sleep(start=at(day, 23.5), end=at(day, 30.8)), wake]
        if k in denied:
            events.append(CrampLog(t=at(day, 31.2), confirmed=False, wake_id=wake.id, source="dashboard"))
        if k in confirmed:
            events.append(CrampLog(t=at(day, 27.05), confirmed=True, source="button"))  # pressed during it
        store.add_events(events)
    return at(FIRST + timedelta(days=7), 9.0)


def test_doctor_flag_two_of_seven_nights_is_not_raised():
    store = Store(":memory:")
    now = week(store, {1, 4})
    flag = analysis.doctor_flag_at(store, config(), now)
    assert flag == {"raised": False, "cramp_nights": 2, "nights": 7, "threshold": 3, "message": None}


def test_doctor_flag_three_of_seven_nights_is_raised_with_a_plain_message():
    store = Store(":memory:")
    now = week(store, {0, 3, 6})
    flag = analysis.doctor_flag_at(store, config(), now)
    assert flag["raised"] and flag["cramp_nights"] == 3
    assert flag["message"].startswith("Cramps woke you on 3 of the last 7 nights.")
    for words in ("frequent, severe or persistent", "weakness, swelling or numbness", "see a doctor"):
        assert words in flag["message"].lower()
    assert "diagnos" not in flag["message"]


def test_confirmed_labels_override_the_detector_for_the_doctor_flag():
    store = Store(":memory:")
    now = week(store, {0, 3, 6}, denied={6})  # the person said the last one was no cramp
    assert not analysis.doctor_flag_at(store, config(), now)["raised"]
    store = Store(":memory:")
    now = week(store, {0, 3}, confirmed={5})  # the detector missed one the person confirmed
    assert analysis.doctor_flag_at(store, config(), now)["raised"]


def test_doctor_flag_thresholds_are_configurable():
    store = Store(":memory:")
    now = week(store, {1, 4})
    assert analysis.doctor_flag_at(store, config(doctor_nights=2), now)["raised"]
    assert not analysis.doctor_flag_at(store, config(doctor_nights=2, doctor_window=3), now)["raised"]
    with pytest.raises(Exception, match="doctor_nights"):
        config(doctor_nights=8, doctor_window=7)


def test_the_cached_doctor_flag_follows_a_new_label():
    store = Store(":memory:")
    now = week(store, {0, 3, 6})
    cache = analysis.DoctorFlagCache()
    assert cache.get(store, config(), now)["raised"]
    assert cache.get(store, config(), now + 60) is cache.get(store, config(), now + 120)  # cached
    wake_id = next(e["id"] for e in store.events(types=["wake"]) if e["start"] > at(FIRST + timedelta(days=6), 20))
    store.add_event(CrampLog(t=now + 200, confirmed=False, wake_id=wake_id, source="dashboard"))
    assert not cache.get(store, config(), now + 300)["raised"]


def test_nightly_rows_hold_the_day_before():
    store = Store(":memory:")
    plant(store, 3, seed=2)
    rows = analysis.nights(store, config(), FIRST, FIRST + timedelta(days=2))
    assert [r["night"] for r in rows] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    first = rows[0]
    assert first["recorded"] and first["wakes"] == 2 and first["intake_measured"]
    drinks = [e["ml"] for e in store.events(types=["drink"], until=at(FIRST, 24))]
    assert first["intake_ml"] == pytest.approx(sum(drinks), abs=0.1)
    assert first["late_intake_ml"] == pytest.approx(drinks[-1], abs=0.1)  # 21:00 is within 3 h of 23:00
    assert 6.8 < first["asleep_h"] < 7.4  # 7.0-7.5 h asleep less two wake-ups (9 min)


# -- the dashboard's Insights page and API ---------------------------------------------------
from tests.test_dashboard_fixtures import (  # noqa: E402,F401  (fixtures)
    NOW, app, client, health, make_config, reminders, scale, seeded, store,
)


def test_the_insights_page_renders_with_charts_and_sentences(client):
    r = client.get("/insights")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert "<h1>Insights</h1>" in html and 'href="/insights"' in html  # in the navigation
    assert html.index('href="/nights"') < html.index('href="/insights"') < html.index('href="/settings"')
    assert '<svg class="insight-chart nights"' in html and "not a diagnosis" in html
    assert "<script>" not in html and ' style="' not in html  # the dashboard's CSP
    assert 'id="cmp-goal"' in html and 'id="cmp-stretch"' in html and 'id="not-enough"' not in html
    assert "No daily factors recorded for these days yet" in html and 'id="cmp-exercise"' in html  # none seeded
    for period in ("4", "26", "all"):
        assert client.get(f"/insights?weeks={period}").status_code == 200
    assert client.get("/insights?weeks=7").status_code == 404


def test_the_insights_page_says_when_there_are_not_enough_nights(seeded, health):
    from dashboard import create_app

    app = create_app(make_config(insights={"min_nights": 60}), store=seeded, health=health, clock=lambda: NOW,
                     test_config={"TESTING": True})
    html = app.test_client().get("/insights").get_data(as_text=True)
    assert "Not enough nights yet: 29 recorded nights, 60 needed (31 more)." in html
    assert 'id="cmp-goal"' not in html


def test_the_insights_api(client):
    data = client.get("/api/v1/insights").get_json()
    assert data["enough"] and {c["key"] for c in data["comparisons"]} == {
        "goal", "stretch", "quartiles", "supplement", "exercise", "alcohol", "medication", "electrolyte"}
    assert set(data["doctor"]) == {"raised", "cramp_nights", "nights", "threshold", "message"}
    assert len(data["rows"]) == data["summary"]["nights"] and data["rows"][-1]["night"] == "2026-11-24"
    assert client.get("/api/v1/insights?weeks=2").get_json()["message"].startswith("Not enough nights yet")
    bad = client.get("/api/v1/insights?weeks=x")
    assert bad.status_code == 400 and "weeks" in bad.get_json()["fields"]


def test_the_insights_page_shows_the_doctor_flag(app, client, store):
    from dashboard.insights import PERIODS  # noqa: F401
    day = date(2026, 11, 17)
    for k in range(3):
        d = day + timedelta(days=2 * k)
        store.add_event(CrampLog(t=datetime.combine(d + timedelta(days=1), time(3), TZ).timestamp(),
                                 confirmed=True, source="button"))
    html = client.get("/insights").get_data(as_text=True)
    assert 'id="doctor-flag"' in html and "weakness, swelling or numbness" in html


def test_cramp_nights_this_week_are_the_last_seven_whatever_the_doctor_window():
    store = Store(":memory:")
    now = week(store, {0, 3, 6}, denied={6})
    for cfg in (config(), config(doctor_nights=1, doctor_window=3)):
        recent = analysis.recent_nights_at(store, cfg, now)
        assert recent["cramp_nights_week"] == {"cramp_nights": 2, "nights": 7, "recorded": 7,
                                               "first": FIRST.isoformat(), "last": (FIRST + timedelta(days=6)).isoformat()}
        assert recent["doctor_flag"] == analysis.doctor_flag_at(store, cfg, now)  # one table, the same answer


def test_the_mqtt_state_carries_the_doctor_flag():
    from types import SimpleNamespace

    from device.mqtt.state import daemon_state

    store = Store(":memory:")
    now = week(store, {0, 3, 6})
    daemon = SimpleNamespace(store=store, config=config(), reminders=None, bottle=None)
    state = daemon_state(daemon, now)
    assert state["doctor_flag"]["raised"] and state["doctor_flag"]["cramp_nights"] == 3
    assert "see a doctor" in state["doctor_flag"]["message"]
    assert daemon_state(daemon, now + 60)["doctor_flag"] is state["doctor_flag"]  # cached, not recomputed


def test_a_failing_doctor_flag_leaves_the_state_publishable():
    from types import SimpleNamespace

    class Failing:
        def events(self, *args, **kwargs):
            raise OSError("disk I/O error")

    daemon = SimpleNamespace(store=Failing(), config=config())
    assert analysis.daemon_doctor_flag(daemon, at(FIRST, 12.0)) is None


# -- in headless Chromium (the dashboard's browser-test setup) -------------------------------
@pytest.fixture(scope="module")
def insights_site(tmp_path_factory):
    """The dashboard over 120 days of simulated history, served by waitress on a free port."""
    import time as clock

    from dashboard import create_app
    from dashboard.server import DashboardServer
    from simulator.history import seed_history

    store = Store(tmp_path_factory.mktemp("insights-e2e"))
    seed_history(store, 120, end=clock.time(), tz=TZ, seed=4)
    app = create_app(config(), store=store)
    server = DashboardServer(app, "127.0.0.1", 0)
    server.start()
    yield server.url.rstrip("/")
    server.stop()
    store.close()


@pytest.mark.parametrize("width,height", [(390, 844), (1280, 900)])
def test_the_insights_page_in_a_browser(insights_site, width, height):
    import os

    from tests.test_dashboard_browser import ARGS, CHROMIUM, _need

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "Playwright for Python is not installed")
    _need(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing")
    phone = width < 600
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=phone,
                                          has_touch=phone, device_scale_factor=2 if phone else 1)
            page = context.new_page()
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(insights_site + "/nights")
            page.get_by_role("link", name="Insights").click()
            page.wait_for_url("**/insights")
            assert page.locator("h1").inner_text() == "Insights"
            assert page.locator("#cmp-goal svg rect").count() >= 4 and page.locator("#cmp-goal svg.insight-chart").is_visible()
            assert "nights" in page.locator("#cmp-stretch .sentence").inner_text()
            assert page.locator("#nights-chart svg.insight-chart").bounding_box()["width"] > 200
            assert page.evaluate("document.documentElement.scrollWidth") <= width, "scrolls sideways"
            page.get_by_role("link", name="All").click()
            page.wait_for_url("**/insights?weeks=all")
            assert page.locator("#cmp-quartiles svg rect").count() >= 8
            shots = os.environ.get("CRAMPWATCH_SCREENSHOTS")
            if shots:
                page.screenshot(path=os.path.join(shots, f"insights{'-phone' if phone else ''}.png"), full_page=True)
            context.close()
        finally:
            browser.close()
    assert errors == []
