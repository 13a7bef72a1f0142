"""Drinks not from the bottle (issue 17 part 1): logged by hand over MQTT and the dashboard,
corrected and deleted as events of their own, counted as they stand by every reader, and
exported with their source and kind."""

from __future__ import annotations

import io
import json
from contextlib import contextmanager
from datetime import date

import pytest

from dashboard.intake import Totals, daily_totals, today
from device import drinks as drink_rules
from device.actions import RATE_LIMITS, ActionRefused, Actions, RateLimited
from device.guards.rate_limits import RateLimits
from device.mqtt.commands import CommandError, LogDrink, parse_command
from device.storage.export import write_csv, write_jsonl
from tests.conftest import wait_for
from tests.test_dashboard_fixtures import (  # noqa: F401  (fixtures)
    NOW, TZ, app, client, health, make_config, post, reminders, scale, seeded, store,
)
from tests.test_mqtt_service import service_for
from vocabulary.events import Drink

TODAY, YESTERDAY = date(2026, 11, 25), date(2026, 11, 24)  # of NOW


def _actions(store, **kw):
    return Actions(store, clock=lambda: NOW, config=make_config, **kw)


def _bottle_drink(store, t=NOW - 3600, ml=300.0):
    event = Drink(t=t, ml=ml)
    store.add_event(event)
    return event.id


# -- the action -------------------------------------------------------------------------------
def test_a_drink_by_hand_is_stored_as_manual_with_its_kind_and_surface(store):
    actions = _actions(store)
    event, created = actions.log_drink(250, "coffee", source="mqtt")
    assert created and event.id == f"drink-{round(NOW * 1000)}-manual"
    assert [(e["ml"], e["kind"], e["source"], e["via"]) for e in store.events(types=["drink"])] == [
        (250.0, "coffee", "manual", "mqtt")]
    bottle = Drink(t=NOW, ml=100.0)  # the bottle at the same millisecond: another drink
    assert store.add_event(bottle) and bottle.to_dict()["source"] == "bottle"


def test_the_same_moment_is_the_same_drink(store):
    actions = _actions(store)
    assert actions.log_drink(250, "water", NOW - 60, source="mqtt")[1] is True
    assert actions.log_drink(250, "water", NOW - 60, source="mqtt")[1] is False  # a redelivered command
    assert len(list(store.events(types=["drink"]))) == 1


@pytest.mark.parametrize("ml, kind, t, field, why", [
    (5, "water", None, "ml", "between 10 and 2000"),
    (2001, "water", None, "ml", "between 10 and 2000"),
    (True, "water", None, "ml", "must be a number"),
    ("250", "water", None, "ml", "must be a number"),
    (250, "beer", None, "kind", "must be one of water, tea, coffee, electrolyte, other"),
    (250, None, None, "kind", "must be one of"),
    (250, "water", NOW + 3600, "t", "in the future"),
    (250, "water", NOW - 8 * 86400, "t", "more than a week ago"),
    (250, "water", float("nan"), "t", "finite"),
])
def test_a_bad_drink_is_refused_naming_the_field(store, ml, kind, t, field, why):
    with pytest.raises(ActionRefused, match=why) as refused:
        _actions(store).log_drink(ml, kind, t)
    assert refused.value.field == field and refused.value.status == 400
    assert list(store.events(types=["drink"])) == []


def test_a_correction_and_a_deletion_are_events_and_the_drink_stays(store):
    ticks = iter(range(100))
    actions = Actions(store, clock=lambda: NOW + next(ticks))
    drink_id = _bottle_drink(store)
    drink, changed = actions.correct_drink(drink_id, ml=180, source="dashboard")
    assert changed and drink["corrected"]
    assert (drink["ml"], drink["kind"], drink["recorded_ml"]) == (180.0, "water", 300.0)
    assert actions.correct_drink(drink_id, ml=180)[1] is False  # nothing to change: nothing stored
    drink, changed = actions.correct_drink(drink_id, kind="tea")
    assert changed and (drink["ml"], drink["kind"], drink["recorded_ml"]) == (180.0, "tea", 300.0)
    assert drink_rules.find_drink(store, drink_id) == drink | {"deleted": False, "changed_at": [NOW, NOW + 1]}
    assert actions.delete_drink(drink_id, source="mqtt")[1] is True
    assert actions.delete_drink(drink_id)[1] is False  # deleted already
    with pytest.raises(ActionRefused, match="was deleted") as refused:
        actions.correct_drink(drink_id, ml=200)
    assert refused.value.status == 409
    changes = list(store.events(types=["drink_change"]))
    assert [(c.get("ml"), c.get("kind"), c["deleted"], c["source"]) for c in changes] == [
        (180.0, None, False, "dashboard"), (None, "tea", False, "api"), (None, None, True, "mqtt")]
    assert [e["id"] for e in store.events(types=["drink"])] == [drink_id]  # never rewritten, never removed
    assert drink_rules.drinks_between(store, NOW - 86400, NOW) == []


@pytest.mark.parametrize("drink_id, kwargs, status, field", [
    ("drink-1", {"ml": 100}, 404, "drink_id"),
    ("wake-1764120000000", {"ml": 100}, 404, "drink_id"),
    (None, {}, 400, "ml"),
    (None, {"ml": 5}, 400, "ml"),
    (None, {"kind": "juice"}, 400, "kind"),
])
def test_a_bad_correction_is_refused(store, drink_id, kwargs, status, field):
    drink_id = drink_id or _bottle_drink(store)
    with pytest.raises(ActionRefused) as refused:
        _actions(store).correct_drink(drink_id, **kwargs)
    assert (refused.value.status, refused.value.field) == (status, field)
    assert list(store.events(types=["drink_change"])) == []


@pytest.mark.parametrize("name, limit", [("drink", "drink"), ("correct", "drink_change"), ("delete", "drink_change")])
def test_drink_actions_are_rate_limited_per_surface(store, name, limit):
    ticks = [0.0]
    actions = Actions(store, clock=lambda: NOW, limits=RateLimits(RATE_LIMITS, clock=lambda: ticks[0]))
    ids = [_bottle_drink(store, t=NOW - 60 * k) for k in range(1, 40)]
    run = {"drink": lambda k, source: actions.log_drink(100, t=NOW - k, source=source),
           "correct": lambda k, source: actions.correct_drink(ids[k], ml=100 + k, source=source),
           "delete": lambda k, source: actions.delete_drink(ids[k], source=source)}[name]
    burst = RATE_LIMITS[limit].burst
    for k in range(burst):
        run(k, "mqtt")
    with pytest.raises(RateLimited):
        run(burst, "mqtt")
    run(burst, "dashboard")  # its own bucket
    ticks[0] += RATE_LIMITS[limit].every_s
    run(burst + 1, "mqtt")


# -- every reader counts the drinks as they stand ---------------------------------------------
def test_today_history_insights_and_the_mqtt_state_reflect_corrections(seeded):
    from types import SimpleNamespace

    from device.insights import analysis
    from device.mqtt.state import daemon_state

    config = make_config()
    actions = _actions(seeded)
    totals = Totals(seeded)
    before = today(seeded, config, NOW)
    yesterday = totals(config, YESTERDAY, YESTERDAY, TODAY)[0]  # now cached: a finished day
    last_night = analysis.analyse(seeded, config, NOW)["rows"][-1]
    assert last_night["night"] == "2026-11-24"
    assert last_night["intake_ml"] == pytest.approx(yesterday["intake_ml"], abs=1)

    actions.log_drink(500, "tea", NOW - 120, source="dashboard")
    gone = before["drinks"][0]  # the latest bottle drink
    actions.delete_drink(gone["id"])
    old = next(e for e in seeded.events(types=["drink"], since=NOW - 36 * 3600, until=NOW - 20 * 3600))
    actions.correct_drink(old["id"], ml=old["ml"] + 400, kind="coffee")  # yesterday's, cached by History

    after = today(seeded, config, NOW)
    assert after["intake_ml"] == pytest.approx(before["intake_ml"] + 500 - gone["ml"], abs=1)
    assert after["caffeine_ml"] == 500 and gone["id"] not in {d["id"] for d in after["drinks"]}
    assert after["drinks"][0]["source"] == "manual" and after["drinks"][0]["kind"] == "tea"
    again = totals(config, YESTERDAY, YESTERDAY, TODAY)[0]
    assert again["intake_ml"] == pytest.approx(yesterday["intake_ml"] + 400, abs=1)  # the cached day was dropped
    assert again == daily_totals(seeded, config, YESTERDAY, YESTERDAY)[0]
    assert again["caffeine_ml"] == round(old["ml"] + 400)
    row = analysis.analyse(seeded, config, NOW)["rows"][-1]
    assert row["intake_ml"] == pytest.approx(last_night["intake_ml"] + 400, abs=1)
    state = daemon_state(SimpleNamespace(store=seeded, config=config, reminders=None, bottle=None), NOW)
    assert state["intake_today_ml"] == pytest.approx(after["intake_ml"], abs=1)
    assert (state["last_drink"]["source"], state["last_drink"]["kind"]) == ("manual", "tea")


def test_a_drink_by_hand_ends_a_reminder_but_does_not_bring_the_bottle_back():
    """A coffee logged at work ends the hydration reminder as a drink from the bottle does, but
    the bottle is still out: its absence (no reminders while the person is away) goes on."""
    from tests.test_reminder_days import DAY, at, make_config as day_config, start_day

    config = day_config()
    sim = start_day(config)
    sim.run_until(at(config, DAY, "08:45"))
    assert sim.service.active() is not None
    sim.store.add_event(Drink(t=sim.clock.t, ml=200.0, source="manual", kind="coffee", via="mqtt"))
    assert sim.service.active() is None and sim.reminder_events("hydration")[-1]["reason"] == "drink"

    sim = start_day(config, away=[(at(config, DAY, "09:30"), None)])
    sim.run_until(at(config, DAY, "11:00"))
    away = sim.service._away_since
    assert away is not None
    sim.store.add_event(Drink(t=sim.clock.t, ml=200.0, source="manual", kind="coffee", via="mqtt"))
    assert sim.service._away_since == away
    sim.store.add_event(Drink(t=sim.clock.t + 1, ml=100.0))  # the bottle's own: it is back
    assert sim.service._away_since is None


# -- the export --------------------------------------------------------------------------------
def test_the_export_carries_source_and_kind_and_the_changes(store):
    store.add_event(Drink(t=NOW - 7200, ml=300.0))
    old = {"id": "drink-1000", "type": "drink", "t": 1.0, "ml": 120.0}  # stored before sources existed
    actions = _actions(store)
    event, _ = actions.log_drink(250, "electrolyte", NOW - 60, source="mqtt")
    actions.correct_drink(event.id, kind="tea")
    out = io.StringIO()
    write_jsonl([old, *store.events()], out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["type"], r.get("source"), r.get("kind")) for r in rows] == [
        ("drink", "bottle", "water"), ("drink", "bottle", "water"), ("drink", "manual", "electrolyte"),
        ("drink_change", "api", "tea")]
    assert list(rows[0]) == ["id", "type", "t", "ml", "source", "kind"] and rows[3]["drink_id"] == event.id
    out = io.StringIO()
    write_csv(store.events(types=["drink"]), out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "id,type,t,ml,kind,source,via"
    assert lines[2] == f"{event.id},drink,{NOW - 60},250.0,electrolyte,manual,mqtt"


# -- MQTT ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("payload, expected", [
    (b"250", LogDrink(250.0)),
    (b'{"ml": 250}', LogDrink(250.0)),
    (b'{"ml": 330, "kind": "electrolyte"}', LogDrink(330.0, "electrolyte")),
    (b'{"ml": 150.5, "kind": "coffee", "t": 1764119000.5}', LogDrink(150.5, "coffee", 1764119000.5)),
])
def test_valid_drink_commands(payload, expected):
    assert parse_command("drink", payload) == expected


@pytest.mark.parametrize("payload, why", [
    (b"", "ml is required"), (b"{}", "ml is required"), (b'{"ml": 9}', "between 10 and 2000"),
    (b'{"ml": 250, "kind": "beer"}', "kind must be one of"), (b'{"ml": 250, "kind": null}', "kind must be one of"),
    (b'{"ml": 250, "t": null}', "t must be a number"), (b'{"ml": 250, "t": "now"}', "t must be a number"),
    (b'{"ml": 250, "id": "x"}', "unknown key"), (b'"250"', "expected a number or a JSON object"),
    (b'{"ml": 1e400}', "finite"), (b"NaN", "not JSON"),
])
def test_invalid_drink_commands_are_refused_with_a_reason(payload, why):
    with pytest.raises(CommandError, match=why):
        parse_command("drink", payload)


@contextmanager
def commands_sent(broker, listen, tmp_path, name: str, payloads, done):
    """An MQTT service on the real broker, ``payloads(svc)`` published to its ``cmd/<name>``;
    yields it and a listener of its events once ``done(svc)``."""
    svc = service_for(broker, tmp_path, name)
    watch = listen(broker, [f"crampwatch/{name}/event/#"])
    pub = listen(broker, []).client
    svc.start()
    try:
        assert svc.client.wait_subscribed(5)
        for payload in payloads(svc):
            pub.publish(f"crampwatch/{name}/cmd/{name}", payload, qos=1).wait_for_publish(5)
        assert wait_for(lambda: done(svc), 5)
        yield svc, watch
    finally:
        svc.stop()


def test_drink_commands_through_the_broker_store_one_drink_each(broker, listen, tmp_path):
    def payloads(svc):
        t = round(svc.actions.clock() - 300, 3)
        return [b'{"ml": 250, "kind": "tea", "t": %.3f}' % t, b'{"ml": 250, "kind": "tea", "t": %.3f}' % t,
                b'{"ml": 250, "kind": "wine"}', b"330"]

    def done(svc):
        return len(list(svc.store.events(types=["drink"]))) == 2 and svc.dispatcher.refused == 1

    with commands_sent(broker, listen, tmp_path, "drink", payloads, done) as (svc, watch):
        stored = list(svc.store.events(types=["drink"]))
        assert [(e["ml"], e["kind"], e["source"], e["via"]) for e in stored] == [
            (250.0, "tea", "manual", "mqtt"), (330.0, "water", "manual", "mqtt")]
        assert watch.wait("crampwatch/drink/event/drink", lambda p: len(p) == 2)
        assert {json.loads(p)["source"] for p in watch.payloads("crampwatch/drink/event/drink")} == {"manual"}


# -- the dashboard's API ----------------------------------------------------------------------
def test_log_correct_and_delete_through_the_api(client, seeded):
    r = post(client, "/api/v1/drinks", {"ml": 250, "kind": "tea"})
    assert r.status_code == 201, r.get_json()
    logged = r.get_json()
    assert (logged["source"], logged["kind"], logged["ml"], logged["created"]) == ("manual", "tea", 250, True)
    again = post(client, "/api/v1/drinks", {"ml": 250, "kind": "tea", "t": logged["t"]})  # a retry with its t
    assert again.status_code == 200 and again.get_json()["created"] is False
    stored = [e for e in seeded.events(types=["drink"]) if e["source"] == "manual"]
    assert [(e["id"], e["via"]) for e in stored] == [(logged["id"], "dashboard")]

    day = client.get("/api/v1/today").get_json()
    bottle = next(x for x in day["drinks"] if x["source"] == "bottle")
    r = post(client, f"/api/v1/drinks/{bottle['id']}", {"ml": bottle["ml"] + 100, "kind": "coffee"}, method="PATCH")
    assert r.status_code == 200 and r.get_json()["changed"] and r.get_json()["kind"] == "coffee"
    r = post(client, f"/api/v1/drinks/{logged['id']}", method="DELETE")
    assert r.status_code == 200 and r.get_json()["deleted"] and r.get_json()["changed"]
    assert post(client, f"/api/v1/drinks/{logged['id']}", method="DELETE").get_json()["changed"] is False
    after = client.get("/api/v1/today").get_json()
    assert after["intake_ml"] == pytest.approx(day["intake_ml"] + 100 - 250, abs=1)  # each drink rounded
    assert after["caffeine_ml"] == bottle["ml"] + 100
    assert logged["id"] not in {x["id"] for x in after["drinks"]}
    fixed = next(x for x in after["drinks"] if x["id"] == bottle["id"])
    assert fixed["corrected"] and fixed["kind"] == "coffee"
    page = client.get("/").get_data(as_text=True)
    assert f'data-drink="{bottle["id"]}"' in page and ">corrected<" in page and 'id="log-drink-form"' in page


@pytest.mark.parametrize("method, url, body, status, field", [
    ("POST", "/api/v1/drinks", {}, 400, "ml"),
    ("POST", "/api/v1/drinks", {"ml": 0}, 400, "ml"),
    ("POST", "/api/v1/drinks", {"ml": 10**400}, 400, "ml"),
    ("POST", "/api/v1/drinks", {"ml": "250"}, 400, "ml"),
    ("POST", "/api/v1/drinks", {"ml": 250, "kind": "beer"}, 400, "kind"),
    ("POST", "/api/v1/drinks", {"ml": 250, "t": None}, 400, "t"),
    ("POST", "/api/v1/drinks", {"ml": 250, "t": NOW + 3600}, 400, "t"),
    ("POST", "/api/v1/drinks", {"ml": 250, "when": "now"}, 400, "when"),
    ("POST", "/api/v1/drinks", [250], 400, "body"),
    ("PATCH", "/api/v1/drinks/{bottle}", {}, 400, "ml"),
    ("PATCH", "/api/v1/drinks/{bottle}", {"ml": None}, 400, "ml"),
    ("PATCH", "/api/v1/drinks/{bottle}", {"ml": 99999}, 400, "ml"),
    ("PATCH", "/api/v1/drinks/{bottle}", {"kind": 3}, 400, "kind"),
    ("PATCH", "/api/v1/drinks/{bottle}", {"deleted": True}, 400, "deleted"),
    ("PATCH", "/api/v1/drinks/drink-1", {"ml": 100}, 404, "drink_id"),
    ("DELETE", "/api/v1/drinks/nonsense", None, 404, "drink_id"),
])
def test_bad_drink_requests_get_a_4xx_naming_the_field(client, seeded, method, url, body, status, field):
    bottle = next(e["id"] for e in seeded.events(types=["drink"]))
    before = seeded.count_events()
    r = post(client, url.format(bottle=bottle), body, method=method)
    assert r.status_code == status and field in r.get_json()["fields"], (r.status_code, r.get_json())
    assert seeded.count_events() == before


def test_the_dashboard_answers_429_when_drinks_come_too_fast(client, app):
    app.extensions["crampwatch"].actions.limits = RateLimits(RATE_LIMITS, clock=lambda: 0.0)
    for k in range(RATE_LIMITS["drink"].burst):
        assert post(client, "/api/v1/drinks", {"ml": 100, "t": NOW - k}).status_code == 201
    r = post(client, "/api/v1/drinks", {"ml": 100})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, method in [("/drinks", "post"), ("/drinks/{drink_id}", "patch"), ("/drinks/{drink_id}", "delete"),
                         ("/factors", "patch")]:
        assert "Retry-After" in paths[path][method]["responses"]["429"]["headers"]
