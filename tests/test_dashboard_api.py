"""The JSON API through the test client: what it answers, what it stores, and clear 4xx
errors naming the field for bad input (never a 500)."""

import logging

import pytest

from dashboard.api.openapi import document
from device.workers.calibration import load_calibration
from tests.test_dashboard_fixtures import (  # noqa: F401  (fixtures)
    CSRF, NOW, TZ, FakeScale, app, client, health, post, reminders, scale, seeded, store,
)


def test_today_has_intake_goal_pace_drinks_and_the_live_bottle(client, seeded):
    data = client.get("/api/v1/today").get_json()
    assert data["date"] == "2026-11-25"
    drunk = [e for e in seeded.events(types=["drink"], since=NOW - 15.5 * 3600, until=NOW)]
    assert data["intake_ml"] == round(sum(e["ml"] for e in drunk))
    assert [d["id"] for d in data["drinks"]] == [e["id"] for e in reversed(drunk)]
    assert all(len(d["time"]) == 5 for d in data["drinks"])  # HH:MM in Berlin time
    assert data["goal_ml"] == 2000 and 0 < data["pace_ml"] < 2000
    assert data["bottle"]["live"] is True and data["reminder"] is None


def test_times_are_shown_in_the_configured_zone(client, seeded):
    from datetime import datetime

    first = client.get("/api/v1/today").get_json()["drinks"][-1]
    assert first["time"] == datetime.fromtimestamp(first["t"], TZ).strftime("%H:%M")


@pytest.mark.parametrize("view,count,rows", [("day", 30, 30), ("week", 4, 4), ("month", 2, 2)])
def test_history_views(client, view, count, rows):
    data = client.get(f"/api/v1/history?view={view}&count={count}").get_json()
    assert data["view"] == view and len(data["rows"]) == rows and data["goal_ml"] == 2000
    assert all(r["met_days"] <= r["days"] for r in data["rows"])


def test_daily_totals_add_up_to_the_stored_drinks(client, seeded):
    rows = client.get("/api/v1/history?view=day&count=30").get_json()["rows"]
    total = sum(e["ml"] for e in seeded.events(types=["drink"]))
    assert abs(sum(r["intake_ml"] for r in rows) - total) <= 30  # each day rounded


@pytest.mark.parametrize("query,field", [("view=year", "view"), ("count=0", "count"), ("count=abc", "count"),
                                         ("count=367", "count")])
def test_history_bad_query_names_the_field(client, query, field):
    r = client.get(f"/api/v1/history?{query}")
    assert r.status_code == 400
    assert field in r.get_json()["fields"]


def test_streaks(client):
    data = client.get("/api/v1/streaks").get_json()
    for kind in ("goal", "stretch"):
        assert 0 <= data[kind]["current"] <= data[kind]["best"] or data[kind]["current"] <= 30


def test_reminder_acknowledge_and_snooze(client, reminders):
    assert client.get("/api/v1/reminder").get_json() == {"active": None, "next": None}  # nothing planned
    assert post(client, "/api/v1/reminder/ack").status_code == 409
    reminders.fire()
    active = client.get("/api/v1/reminder").get_json()["active"]
    assert active["kind"] == "hydration" and "behind pace" in active["message"]
    r = post(client, "/api/v1/reminder/snooze", {"minutes": 30})
    assert r.status_code == 200 and r.get_json() == {"active": None}
    reminders.fire()
    assert post(client, "/api/v1/reminder/ack").get_json() == {"active": None}
    assert reminders.calls == [("snooze", 30), ("ack",)]


@pytest.mark.parametrize("body,status", [({"minutes": 0}, 400), ({"minutes": 721}, 400), ({"minutes": 1e400}, 400), ({"minutes": "ten"}, 400), ({"minutes": 7.5}, 400),
                                         ({"minutes": True}, 400), ({}, 400), (None, 415)])
def test_snooze_bad_input(client, reminders, body, status):
    reminders.fire()
    r = post(client, "/api/v1/reminder/snooze", body)
    assert r.status_code == status
    assert "minutes" in r.get_json()["fields"] or "body" in r.get_json()["fields"]
    assert reminders.calls == []


def test_reminders_absent_is_a_503_not_a_500(seeded):
    from dashboard import create_app
    from tests.test_dashboard_fixtures import CSRF, make_config

    c = create_app(make_config(), store=seeded, clock=lambda: NOW).test_client()
    with c.session_transaction() as s:
        s["csrf"] = CSRF
    assert c.get("/api/v1/reminder").get_json() == {"active": None, "next": None}
    r = post(c, "/api/v1/reminder/ack")
    assert r.status_code == 503 and "not running" in r.get_json()["error"]


def test_nights_list_wakes_labels_and_cramps(client):
    data = client.get("/api/v1/nights?count=14").get_json()
    assert len(data["nights"]) == 14 and data["nights"][0]["date"] == "2026-11-24"
    recorded = [n for n in data["nights"] if n["sleep"]]
    assert len(recorded) >= 12
    for n in data["nights"]:
        assert n["cramp_count"] == sum(w["cramp"] for w in n["wakes"]) + len(n["cramps"])
        for w in n["wakes"]:
            assert w["cramp"] == (w["label"] if w["label"] is not None else w["detector"])


def test_a_night_says_how_sure_its_analysis_is(client, seeded):
    """Issue 13: evidence and signal quality from the analysis reach the API and the page."""
    from vocabulary.events import Sleep

    night = client.get("/api/v1/nights?count=1").get_json()["nights"][0]
    sleep = night["sleep"]
    seeded.add_event(  # a later analysis of the same night (the page shows the latest)
        Sleep(sleep["start"] + 0.5, sleep["end"], evidence="movement",
                           quality={"noise_mg": 8.1, "breathing": 1.7, "coverage": 0.9}))
    got = next(n for n in client.get(f"/api/v1/nights?last={night['date']}&count=1").get_json()["nights"])
    assert got["sleep"]["evidence"] == "movement"
    assert "movement alone" in got["sleep"]["sureness"] and "10 % of the night's readings were lost" in got["sleep"]["sureness"]
    page = client.get("/nights").get_data(as_text=True)
    assert "from movement alone (breathing did not reach the sensor)" in page


def _a_wake(client):
    for night in client.get("/api/v1/nights?count=30").get_json()["nights"]:
        for wake in night["wakes"]:
            if wake["label"] is None:
                return night, wake
    raise AssertionError("the simulated month has no unlabelled wake-up")


def test_confirm_then_deny_a_cramp_the_latest_label_wins(client, seeded):
    night, wake = _a_wake(client)
    r = post(client, f"/api/v1/wakes/{wake['id']}/label", {"cramp": True})
    assert r.status_code == 200
    stored = [e for e in seeded.events(types=["cramp"]) if e.get("wake_id") == wake["id"]]
    assert stored[-1]["confirmed"] is True and stored[-1]["source"] == "dashboard"
    find = lambda: next(w for n in client.get(f"/api/v1/nights?last={night['date']}&count=1").get_json()["nights"]
                        for w in n["wakes"] if w["id"] == wake["id"])
    assert find()["cramp"] is True and find()["label"] is True
    seeded._clock = lambda: NOW + 60  # a later label
    app_clock = client.application.extensions["crampwatch"]
    app_clock.clock = lambda: NOW + 60
    post(client, f"/api/v1/wakes/{wake['id']}/label", {"cramp": False})
    assert find()["cramp"] is False


@pytest.mark.parametrize("wake_id,body,status,field", [
    ("wake-123", {"cramp": True}, 404, "wake_id"),
    ("drink-1", {"cramp": True}, 404, "wake_id"),
    ("WAKE", {"cramp": "yes"}, 400, "cramp"),
])
def test_label_bad_input(client, wake_id, body, status, field):
    r = post(client, f"/api/v1/wakes/{wake_id}/label", body)
    assert r.status_code == status and field in r.get_json()["fields"]


def test_add_a_missed_cramp_by_night_and_clock_time(client, seeded):
    r = post(client, "/api/v1/cramps", {"night": "2026-11-23", "time": "03:40"})
    assert r.status_code == 201
    data = r.get_json()
    assert data["night"] == "2026-11-23" and data["time"] == "03:40" and data["created"] is True
    cramp = [e for e in seeded.events(types=["cramp"]) if e["id"] == data["id"]][0]
    assert cramp["confirmed"] is True and cramp["source"] == "dashboard" and "wake_id" not in cramp
    assert post(client, "/api/v1/cramps", {"night": "2026-11-23", "time": "03:40"}).status_code == 200  # once
    nights = client.get("/api/v1/nights?last=2026-11-23&count=1").get_json()["nights"][0]
    assert data["id"] in [c["id"] for c in nights["cramps"]] or nights["cramp_count"] >= 1


@pytest.mark.parametrize("body,field", [
    ({"night": "2026-11-23"}, "time"), ({"night": "2026-11-23", "time": "25:00"}, "time"),
    ({"night": "23.11.2026", "time": "03:40"}, "night"), ({"time": "03:40"}, "night"),
    ({"t": NOW + 3600}, "t"), ({"t": NOW - 400 * 86400}, "t"), ({"t": "now"}, "t"),
    ({"night": "2026-11-26", "time": "03:40"}, "night"), ({"night": "9999-12-31", "time": "03:40"}, "night"),
    ({"t": NOW - 60, "night": "2026-11-23", "time": "03:40"}, "t"), ([1, 2], "body"),
])
def test_add_cramp_bad_input_names_the_field(client, body, field):
    r = post(client, "/api/v1/cramps", body)
    assert r.status_code == 400, r.get_json()
    assert field in r.get_json()["fields"], r.get_json()


def test_settings_are_described_from_the_config_models(client):
    sections = {s["section"]: s for s in client.get("/api/v1/settings").get_json()["sections"]}
    assert {"device", "bottle", "mqtt", "dashboard"} <= set(sections)
    pin = next(f for f in sections["bottle"]["fields"] if f["key"] == "dout_pin")
    assert pin["schema"] == {"type": "integer", "minimum": 0, "maximum": 27} and pin["editable"]
    assert not any(f["editable"] for f in sections["dashboard"]["fields"])  # binding: file only
    assert not next(f for f in sections["device"]["fields"] if f["key"] == "data_dir")["editable"]
    storage = {f["key"]: f["editable"] for f in sections["storage"]["fields"]}
    assert storage["epoch_retention_days"] and not storage["integrity_check"]  # runs before overrides are read
    assert sections["bottle"]["status"]["state"] == "ok"  # health of the part, shown with its settings


def test_settings_change_is_validated_and_saved_durably(client, seeded):
    r = post(client, "/api/v1/settings", {"bottle": {"rate_hz": 80, "dout_pin": 23}}, method="PATCH")
    assert r.status_code == 200
    assert seeded.get_setting("config.overrides") == {"bottle": {"rate_hz": 80, "dout_pin": 23}}
    bottle = {f["key"]: f for f in next(s for s in r.get_json()["sections"] if s["section"] == "bottle")["fields"]}
    assert bottle["rate_hz"]["value"] == 80 and bottle["rate_hz"]["overridden"] and bottle["rate_hz"]["file_value"] == 10
    post(client, "/api/v1/settings", {"bottle": {"rate_hz": 10}}, method="PATCH")  # back to the file's value
    assert seeded.get_setting("config.overrides") == {"bottle": {"dout_pin": 23}}


def test_the_goal_setting_is_the_goal_action_with_its_rate_limit(client, seeded):
    """A PATCH of hydration.goal_ml goes through device.actions.Actions.set_goal (as the MQTT
    goal command does): over its allowance it is a 429 with Retry-After and nothing else of
    that PATCH is saved; a section saved with its goal unchanged does not use the allowance."""
    from device.actions import RATE_LIMITS

    for k in range(RATE_LIMITS["goal"].burst):
        r = post(client, "/api/v1/settings", {"hydration": {"goal_ml": 2100 + k}}, method="PATCH")
        assert r.status_code == 200
    assert seeded.get_setting("hydration.goal_ml") == 2100 + k
    same = post(client, "/api/v1/settings", {"hydration": {"goal_ml": 2100 + k, "behind_ml": 350}}, method="PATCH")
    assert same.status_code == 200  # the goal did not change: no action, no turn taken
    r = post(client, "/api/v1/settings", {"hydration": {"goal_ml": 3000, "idle_min": 50}}, method="PATCH")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "goal: asked too often from dashboard" in r.get_json()["error"]
    assert seeded.get_setting("hydration.goal_ml") == 2100 + k
    assert seeded.get_setting("config.overrides") == {"hydration": {"behind_ml": 350}}


@pytest.mark.parametrize("body,field,words", [
    ({"bottle": {"dout_pin": 40}}, "bottle.dout_pin", "less than or equal to 27"),
    ({"bottle": {"dout_pin": 6}}, "bottle", "must be different"),
    ({"bottle": {"rate_hz": 20}}, "bottle.rate_hz", "10 or 80"),
    ({"bottle": {"colour": "red"}}, "bottle.colour", "unknown setting"),
    ({"garden": {"x": 1}}, "garden", "unknown section"),
    ({"dashboard": {"host": "0.0.0.0"}}, "dashboard.host", "configuration file"),
    ({"device": {"data_dir": "/"}}, "device.data_dir", "configuration file"),
    ({"storage": {"integrity_check": "off"}}, "storage.integrity_check", "configuration file"),
    ({"device": {"timezone": "Mars/Olympus"}}, "device.timezone", "unknown time zone"),
    ({"bottle": 5}, "bottle", "object"),
    ({}, "settings", "send an object"),
])
def test_settings_bad_input_names_the_field(client, seeded, body, field, words):
    r = post(client, "/api/v1/settings", body, method="PATCH")
    assert r.status_code == 400
    fields = r.get_json()["fields"]
    assert field in fields and words in fields[field], fields
    assert seeded.get_setting("config.overrides") is None


def test_a_rule_across_sections_names_every_setting_it_involves(client, app):
    taken = app.extensions["crampwatch"].config.bed.button_pin
    r = post(client, "/api/v1/settings", {"bottle": {"dout_pin": taken}}, method="PATCH")
    assert r.status_code == 400
    assert {"bottle.dout_pin", "bed.button_pin"} <= set(r.get_json()["fields"])


def test_calibration_wizard_steps(client, scale, seeded):
    assert client.get("/api/v1/calibration").get_json()["step"] == "tare"
    assert post(client, "/api/v1/calibration/known", {"grams": 500}).status_code == 409  # tare first
    scale.load_g = 0.0
    assert post(client, "/api/v1/calibration/tare").get_json()["step"] == "known"
    scale.load_g = 500.0
    assert post(client, "/api/v1/calibration/known", {"grams": 500}).get_json()["step"] == "empty"
    scale.load_g = 287.0
    done = post(client, "/api/v1/calibration/empty", {"skip": False}).get_json()
    assert done["step"] == "done"
    cal = load_calibration(seeded)
    assert cal.counts_per_gram == pytest.approx(FakeScale.PER_GRAM) and cal.offset == pytest.approx(FakeScale.OFFSET)
    assert cal.empty_bottle_g == pytest.approx(287.0, abs=0.1)
    assert scale.used == [cal]  # the live reading converts with it at once


@pytest.mark.parametrize("body,status,field", [({"grams": 0}, 400, "grams"), ({"grams": "500"}, 400, "grams"),
                                                ({}, 400, "grams"), ({"grams": 60000}, 400, "grams")])
def test_calibration_known_weight_bad_input(client, body, status, field):
    post(client, "/api/v1/calibration/tare")
    r = post(client, "/api/v1/calibration/known", body)
    assert r.status_code == status and field in r.get_json()["fields"]


def test_calibration_refuses_a_weight_that_did_not_move_the_scale(client, scale):
    post(client, "/api/v1/calibration/tare")
    r = post(client, "/api/v1/calibration/known", {"grams": 500})  # nothing was put on it
    assert r.status_code == 422 and "grams" in r.get_json()["fields"]
    assert "wiring" in r.get_json()["error"]


def test_health(client):
    data = client.get("/api/v1/health").get_json()
    assert data["overall"] == "ok" and data["components"]["mqtt"]["state"] == "off"
    assert data["storage"]["events"] > 500 and data["version"]


def test_unknown_api_paths_and_methods_are_json(client):
    r = client.get("/api/v1/nope")
    assert r.status_code == 404 and "error" in r.get_json()
    r = client.delete("/api/v1/today", headers={"X-CSRF-Token": "x"})
    assert r.status_code in (403, 405) and "error" in r.get_json()


def test_a_huge_body_is_refused_cleanly(client):
    r = post(client, "/api/v1/settings", {"bottle": {"x": "a" * 100_000}}, method="PATCH")
    assert r.status_code == 413 and "error" in r.get_json()


HUGE = b"1" + b"0" * 400


@pytest.mark.parametrize("method,url,body,field", [
    ("POST", "/api/v1/cramps", b"[" * 30_000, "body"),  # nested deeper than Python's parser goes
    ("POST", "/api/v1/reminder/snooze", b'{"minutes": ' * 2_000 + b"1" + b"}" * 2_000, "body"),
    ("PATCH", "/api/v1/settings", b'{"bottle": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", "body"),
    ("POST", "/api/v1/reminder/snooze", b'{"minutes": 1e400}', "minutes"),  # parses as infinity
    ("POST", "/api/v1/reminder/snooze", b'{"minutes": -1e400}', "minutes"),
    ("POST", "/api/v1/reminder/snooze", b'{"minutes": ' + HUGE + b"}", "minutes"),  # too big for a float
    ("POST", "/api/v1/cramps", b'{"t": ' + HUGE + b"}", "t"),
    ("POST", "/api/v1/cramps", b'{"t": 1e400}', "t"),
    ("POST", "/api/v1/calibration/known", b'{"grams": ' + HUGE + b"}", "grams"),
    ("PATCH", "/api/v1/settings", b'{"hydration": {"goal_ml": ' + HUGE + b"}}", "hydration.goal_ml"),
    ("PATCH", "/api/v1/settings", b'{"bottle": {"rate_hz": 1e400}}', "bottle.rate_hz"),
    ("POST", "/api/v1/reminder/snooze", b'{"minutes": NaN}', "body"),  # not JSON
    ("POST", "/api/v1/cramps", b'{"t": Infinity}', "body"),
    ("POST", "/api/v1/cramps", b'{"t": ' + b"9" * 5000 + b"}", "body"),  # more digits than Python converts
    ("POST", "/api/v1/cramps", b'{"night": "\xff\xfe"}', "body"),  # not UTF-8
])
def test_oversized_numbers_and_deep_nesting_are_a_400_naming_the_field(client, reminders, caplog, method, url,
                                                                       body, field):
    """Security finding 7: these gave 500 and a traceback."""
    reminders.fire()
    r = client.open(url, method=method, data=body, headers={"X-CSRF-Token": CSRF, "Content-Type": "application/json"})
    assert r.status_code == 400, (r.status_code, r.get_data()[:300])
    assert field in r.get_json()["fields"], r.get_json()
    assert "Traceback" not in caplog.text and not [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert reminders.calls == []


def test_the_openapi_document_lists_exactly_the_api_routes(app):
    with app.test_request_context():
        doc = document()
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = rule.rule.removeprefix("/api/v1").replace("<", "{").replace(">", "}")
            routes |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routes


class SourcedReminders:
    """Like the reminder service: ack/snooze take a ``source``; the stretch prompt has a routine."""

    def __init__(self):
        self.calls = []
        self.current = {"id": "stretch-2026-11-25", "kind": "stretch", "state": "active", "title": "Stretch before bed",
                        "message": "Time to stretch before bed: calf stretch.",
                        "routine": [{"exercise": "calf", "name": "Calf stretch", "how": "Face a wall.", "hold_s": 30,
                                     "repeats": 3}]}

    def active(self):
        return self.current

    def ack(self, source="api"):
        self.calls.append(("ack", source))
        self.current = None

    def snooze(self, minutes=None, source="api"):
        self.calls.append(("snooze", minutes, source))


def test_the_reminder_service_is_told_the_dashboard_asked(seeded):
    from dashboard import create_app
    from tests.test_dashboard_fixtures import CSRF, make_config

    service = SourcedReminders()
    c = create_app(make_config(), store=seeded, reminders=service, clock=lambda: NOW).test_client()
    with c.session_transaction() as s:
        s["csrf"] = CSRF
    html = c.get("/").get_data(as_text=True)
    assert "Stretch before bed" in html and "Calf stretch" in html and "Hold 30 s, 3 times" in html
    post(c, "/api/v1/reminder/snooze", {"minutes": 10})
    post(c, "/api/v1/reminder/ack")
    assert service.calls == [("snooze", 10, "dashboard"), ("ack", "dashboard")]
