"""Daily factors (issue 17 part 2): a supplement, exercise, alcohol and medication for a day,
recorded over MQTT and the dashboard through the one action, the latest value winning."""

from __future__ import annotations

import json
from datetime import date

import pytest

from device import factors as factor_rules
from device.actions import RATE_LIMITS, ActionRefused, Actions, RateLimited
from device.guards.rate_limits import RateLimits
from device.mqtt.commands import CommandError, SetFactors, parse_command
from tests.test_dashboard_fixtures import (  # noqa: F401  (fixtures)
    NOW, app, client, health, make_config, post, reminders, scale, seeded, store,
)
from tests.test_drinks import commands_sent

TODAY = "2026-11-25"  # the local day of NOW (Berlin, 15:30)


def _actions(store, **kw):
    return Actions(store, clock=lambda: NOW, config=make_config, **kw)


def test_factors_are_set_one_at_a_time_and_the_latest_wins(store):
    actions = _actions(store)
    view, changed = actions.set_factors({"exercise": "hard", "supplement": True}, source="mqtt")
    assert changed and view == {"day": TODAY, "recorded": True, "supplement": True, "exercise": "hard",
                                "alcohol": None, "medication": None}
    assert actions.set_factors({"exercise": "hard"})[1] is False  # already so: nothing stored
    view, changed = actions.set_factors({"exercise": "light", "alcohol": 2, "medication": "  ibuprofen\n400 mg "})
    assert changed and (view["exercise"], view["alcohol"], view["supplement"], view["medication"]) == (
        "light", 2, True, "ibuprofen 400 mg")
    assert actions.set_factors({"alcohol": True})[1] is True  # true is not the number 1
    assert actions.set_factors({"medication": ""})[0]["medication"] == ""  # cleared
    stored = list(store.events(types=["factors"]))
    assert len(stored) == 4 and {e["day"] for e in stored} == {TODAY}
    assert [e["source"] for e in stored] == ["mqtt", "api", "api", "api"]
    assert factor_rules.between(store, date(2026, 11, 25), date(2026, 11, 25))[TODAY] == {
        "exercise": "light", "supplement": True, "alcohol": True, "medication": ""}
    assert factor_rules.as_recorded({"alcohol": 0}) == {"supplement": False, "exercise": "none", "alcohol": 0,
                                                        "medication": ""}


def test_a_past_day_and_the_day_of_the_configured_zone(store):
    actions = _actions(store)
    assert actions.set_factors({"supplement": True}, "2026-11-20")[0]["day"] == "2026-11-20"
    # 01:30 in Berlin on the 26th is still the 25th's day (days run to halfway through the night)
    late = Actions(store, clock=lambda: NOW + 10 * 3600, config=make_config)
    assert late.today().isoformat() == TODAY and late.set_factors({"alcohol": 1})[0]["day"] == TODAY
    tokyo = Actions(store, clock=lambda: NOW, config=lambda: make_config(device={"timezone": "Asia/Tokyo"}))
    assert tokyo.today().isoformat() == "2026-11-25"  # 23:30 in Tokyo
    assert Actions(store, clock=lambda: NOW + 4 * 3600, config=lambda: make_config(
        device={"timezone": "Asia/Tokyo"})).today().isoformat() == "2026-11-26"  # 03:30 in Tokyo


@pytest.mark.parametrize("values, day, field, why", [
    ({}, None, "supplement", "give at least one"),
    ({"magnesium": True}, None, "magnesium", "unknown factor"),
    ({"supplement": "yes"}, None, "supplement", "true or false"),
    ({"supplement": None}, None, "supplement", "true or false"),
    ({"exercise": "extreme"}, None, "exercise", "must be one of none, light, hard"),
    ({"exercise": 2}, None, "exercise", "must be one of"),
    ({"alcohol": -1}, None, "alcohol", "between 0 and 30"),
    ({"alcohol": 1.5}, None, "alcohol", "whole number"),
    ({"alcohol": "2"}, None, "alcohol", "must be a number"),
    ({"alcohol": 10**400}, None, "alcohol", "between 0 and 30"),
    ({"medication": 3}, None, "medication", "must be text"),
    ({"medication": "x" * 201}, None, "medication", "at most 200"),
    ({"medication": "a\x00b"}, None, "medication", "no control characters"),
    ({"supplement": True}, "2026-11-26", "day", "in the future"),
    ({"supplement": True}, "2025-11-01", "day", "more than a year ago"),
    ({"supplement": True}, "20261125", "day", "a date like"),
    ({"supplement": True}, "2026-02-30", "day", "a date like"),
    ({"supplement": True}, 20261125, "day", "a date like"),
])
def test_bad_factors_are_refused_naming_the_field(store, values, day, field, why):
    with pytest.raises(ActionRefused, match=why) as refused:
        _actions(store).set_factors(values, day)
    assert refused.value.field == field and refused.value.status == 400
    assert list(store.events(types=["factors"])) == []


def test_factors_are_rate_limited_per_surface(store):
    ticks = [0.0]
    actions = _actions(store, limits=RateLimits(RATE_LIMITS, clock=lambda: ticks[0]))
    burst = RATE_LIMITS["factors"].burst
    for k in range(burst):
        actions.set_factors({"alcohol": k}, source="mqtt")
    with pytest.raises(RateLimited):
        actions.set_factors({"alcohol": 20}, source="mqtt")
    actions.set_factors({"alcohol": 20}, source="dashboard")
    ticks[0] += RATE_LIMITS["factors"].every_s
    actions.set_factors({"alcohol": 21}, source="mqtt")


# -- MQTT ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("payload, expected", [
    (b'{"exercise": "hard"}', SetFactors((("exercise", "hard"),))),
    (b'{"day": "2026-12-07", "exercise": "hard", "supplement": true, "alcohol": 2, "medication": "x"}',
     SetFactors((("exercise", "hard"), ("supplement", True), ("alcohol", 2), ("medication", "x")), "2026-12-07")),
    (b'{"alcohol": false}', SetFactors((("alcohol", False),))),
])
def test_valid_factors_commands(payload, expected):
    assert parse_command("factors", payload) == expected


@pytest.mark.parametrize("payload, why", [
    (b"", "give at least one"), (b'{"day": "2026-12-07"}', "give at least one"),
    (b'{"sleep": "bad"}', "unknown key"), (b'{"exercise": "extreme"}', "must be one of"),
    (b'{"day": null, "exercise": "hard"}', "day must be a date"), (b'{"day": 3, "alcohol": 1}', "day must be a date"),
    (b'{"alcohol": 2.5}', "whole number"), (b"true", "expected a JSON object"), (b'["hard"]', "expected a JSON object"),
])
def test_invalid_factors_commands_are_refused_with_a_reason(payload, why):
    with pytest.raises(CommandError, match=why):
        parse_command("factors", payload)


def test_factors_commands_through_the_broker(broker, listen, tmp_path):
    def payloads(svc):
        return [b'{"exercise": "hard", "supplement": true}', b'{"exercise": "hard"}',  # the second: no change
                b'{"day": "%s", "alcohol": 3}' % svc.actions.today().isoformat().encode(),
                b'{"day": "3000-01-01", "alcohol": 1}']

    def done(svc):
        return svc.dispatcher.refused == 1 and len(list(svc.store.events(types=["factors"]))) == 2

    with commands_sent(broker, listen, tmp_path, "factors", payloads, done) as (svc, watch):
        today = svc.actions.today()
        assert factor_rules.between(svc.store, today, today)[today.isoformat()] == {
            "exercise": "hard", "supplement": True, "alcohol": 3}
        assert watch.wait("crampwatch/factors/event/factors", lambda p: len(p) == 2)
        assert {json.loads(p)["source"] for p in watch.payloads("crampwatch/factors/event/factors")} == {"mqtt"}


# -- the dashboard's API and pages --------------------------------------------------------------
def test_get_and_set_factors_through_the_api(client, seeded):
    got = client.get("/api/v1/factors").get_json()
    assert got == {"day": TODAY, "today": TODAY, "recorded": False, "supplement": None, "exercise": None,
                   "alcohol": None, "medication": None, "electrolyte_ml": 0}
    r = post(client, "/api/v1/factors", {"exercise": "hard", "supplement": True}, method="PATCH")
    assert r.status_code == 200 and r.get_json()["changed"] and r.get_json()["recorded"]
    assert post(client, "/api/v1/factors", {"exercise": "hard"}, method="PATCH").get_json()["changed"] is False
    r = post(client, "/api/v1/factors", {"day": "2026-11-20", "alcohol": 2}, method="PATCH")
    assert r.get_json()["day"] == "2026-11-20" and r.get_json()["alcohol"] == 2
    assert client.get("/api/v1/factors?day=2026-11-20").get_json()["alcohol"] == 2
    post(client, "/api/v1/drinks", {"ml": 330, "kind": "electrolyte"})
    assert client.get("/api/v1/factors").get_json()["electrolyte_ml"] == 330  # from the drinks logged by hand
    assert [e["source"] for e in seeded.events(types=["factors"])] == ["dashboard", "dashboard"]
    today = client.get("/").get_data(as_text=True)
    assert 'id="factors"' in today and 'id="f-supplement" checked' in today
    assert 'class="small exercise chosen" data-exercise="hard"' in today
    history = client.get("/history").get_data(as_text=True)
    assert 'id="factors-day"' in history and f'max="{TODAY}"' in history


@pytest.mark.parametrize("body, status, field", [
    ({}, 400, "supplement"),
    ({"day": TODAY}, 400, "supplement"),
    ({"exercise": "extreme"}, 400, "exercise"),
    ({"exercise": None}, 400, "exercise"),
    ({"alcohol": 31}, 400, "alcohol"),
    ({"medication": "x" * 500}, 400, "medication"),
    ({"magnesium": True}, 400, "magnesium"),
    ({"day": "2026-11-26", "supplement": True}, 400, "day"),
    ({"day": "yesterday", "supplement": True}, 400, "day"),
    (["hard"], 400, "body"),
])
def test_bad_factor_requests_get_a_400_naming_the_field(client, seeded, body, status, field):
    r = post(client, "/api/v1/factors", body, method="PATCH")
    assert r.status_code == status and field in r.get_json()["fields"], (r.status_code, r.get_json())
    assert list(seeded.events(types=["factors"])) == []
    assert client.get("/api/v1/factors?day=2026-02-30").status_code == 400
