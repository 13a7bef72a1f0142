"""Rate limits on the actions (security finding 6): a token bucket per action and surface.

2,000 MQTT ``cramp`` commands with distinct times once stored 1,095 cramps in 3 s, and
those feed the insights and the doctor note. Now each action has a limit
(device.actions.RATE_LIMITS); MQTT counts the refusals in health and logs them at a
bounded pace, and the dashboard answers 429 with Retry-After.
"""

import logging

import pytest

from device.actions import RATE_LIMITS, Actions, RateLimited
from device.guards.rate_limits import Limit, RateLimits
from device.mqtt.commands import LOG_LIMIT, CommandDispatcher, action_handlers
from tests.conftest import wait_for
from tests.test_dashboard_fixtures import (  # noqa: F401  (fixtures)
    NOW, app, client, health, post, reminders, scale, seeded, store,
)
from tests.test_mqtt_service import service_for


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def ticks():
    return Ticks()


def _actions(store, ticks, **parts):
    return Actions(store, clock=lambda: NOW, limits=RateLimits(RATE_LIMITS, clock=ticks), **parts)


def test_cramps_from_one_surface_come_a_burst_at_once_then_one_a_minute(store, ticks):
    actions = _actions(store, ticks)
    burst = RATE_LIMITS["cramp"].burst
    for i in range(burst):
        actions.log_cramp(NOW - 100 - i, source="mqtt")
    with pytest.raises(RateLimited) as refused:
        actions.log_cramp(NOW - 200, source="mqtt")
    assert refused.value.status == 429 and refused.value.retry_after == 60
    assert "cramp: asked too often from mqtt" in str(refused.value) and "try again in 60 s" in str(refused.value)
    ticks.now += 30
    with pytest.raises(RateLimited, match="try again in 30 s"):
        actions.log_cramp(NOW - 200, source="mqtt")
    ticks.now += 30
    actions.log_cramp(NOW - 200, source="mqtt")
    assert len(list(store.events(types=["cramp"]))) == burst + 1


def test_each_surface_has_its_own_bucket(store, ticks):
    actions = _actions(store, ticks)
    for i in range(RATE_LIMITS["cramp"].burst):
        actions.log_cramp(NOW - 100 - i, source="mqtt")
    with pytest.raises(RateLimited):
        actions.log_cramp(NOW - 300, source="mqtt")
    # a flood on MQTT does not stop the bedside button or the dashboard
    actions.log_cramp(NOW - 301, source="button")
    actions.log_cramp(NOW - 302, source="dashboard")


def test_a_refused_value_costs_no_turn(store, ticks):
    actions = _actions(store, ticks)
    for _ in range(50):
        with pytest.raises(Exception, match="in the future"):
            actions.log_cramp(NOW + 3600, source="mqtt")
    for i in range(RATE_LIMITS["cramp"].burst):
        actions.log_cramp(NOW - 100 - i, source="mqtt")


class Reminders:
    def __init__(self):
        self.calls = 0

    def ack(self, source):
        self.calls += 1
        return {"id": "r", "state": "acknowledged"}

    def snooze(self, minutes, source):
        self.calls += 1
        return {"id": "r", "state": "snoozed"}


class Scale:
    def tare(self):
        return "calibration"


@pytest.mark.parametrize("name", ["ack", "snooze", "goal", "tare", "label"])
def test_every_action_that_changes_something_is_limited(store, ticks, name):
    from vocabulary.events import Wake

    store.add_event(Wake(start=NOW - 9000, end=NOW - 8700, bed_exit=True, cramp=False, score=0.3))
    service, scale = Reminders(), Scale()
    actions = _actions(store, ticks, reminders=lambda: service, bottle=lambda: scale)
    run = {"ack": lambda: actions.ack(source="mqtt"), "snooze": lambda: actions.snooze(10, source="mqtt"),
           "goal": lambda: actions.set_goal(2100, source="mqtt"), "tare": lambda: actions.tare(source="mqtt"),
           "label": lambda: actions.label_wake(f"wake-{round((NOW - 9000) * 1000)}", True, source="mqtt")}[name]
    limit = RATE_LIMITS[name]
    for _ in range(limit.burst):
        run()
    with pytest.raises(RateLimited):
        run()
    ticks.now += limit.every_s
    run()


def test_limits_are_generous_for_a_person_and_tight_for_a_loop():
    per_day = {name: limit.burst + 86400 / limit.every_s for name, limit in RATE_LIMITS.items()}
    assert RATE_LIMITS["cramp"].every_s >= 60 and RATE_LIMITS["cramp"].burst <= 3  # a cramp at most once a minute
    assert all(limit.burst >= 3 for limit in RATE_LIMITS.values())  # a few presses in a row always work
    assert per_day["cramp"] <= 1500


def test_a_flood_of_mqtt_cramps_is_counted_and_logged_at_a_bounded_pace(store, ticks, caplog):
    counts = {}
    actions = _actions(store, ticks)
    d = CommandDispatcher(action_handlers(actions), on_refused=counts.update, clock=ticks)
    with caplog.at_level(logging.INFO, logger="device.mqtt.commands"):
        results = [d.dispatch("cramp", b'{"t": %.3f}' % (NOW - 1000 + i / 1000)) for i in range(2000)]
    burst = RATE_LIMITS["cramp"].burst
    assert sum(results) == burst and len(list(store.events(types=["cramp"]))) == burst
    assert counts == {"commands_refused": 2000 - burst, "commands_rate_limited": 2000 - burst}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == LOG_LIMIT.burst + 1, len(warnings)  # then one line: the rest are only counted
    assert "too many refusals to log each" in warnings[-1].getMessage()
    ticks.now += 60  # a minute later: one more cramp, and the log says how many it did not show
    caplog.clear()
    assert d.dispatch("cramp", b"") is True and d.dispatch("cramp", b"") is False
    assert f"{2000 - burst - LOG_LIMIT.burst} more cramp command(s) refused before this" in caplog.text


def test_a_flood_of_cramp_commands_through_the_broker_stores_a_burst(broker, listen, tmp_path):
    """The finding's reproduction: 2,000 cramp commands with distinct t, as fast as they go."""
    svc = service_for(broker, tmp_path, "flood")
    pub = listen(broker, []).client
    svc.start()
    try:
        assert svc.client.wait_subscribed(5)
        for i in range(2000):
            pub.publish("crampwatch/flood/cmd/cramp", b'{"t": %.3f}' % (svc.actions.clock() - 3600 + i), qos=0)
        assert wait_for(lambda: svc.dispatcher.refused + len(list(svc.store.events(types=["cramp"]))) >= 2000, 20)
        stored = list(svc.store.events(types=["cramp"]))
        assert len(stored) == RATE_LIMITS["cramp"].burst
        mqtt = svc.health.get("mqtt").to_dict()
        assert mqtt["commands_rate_limited"] == mqtt["commands_refused"] == 2000 - len(stored)
    finally:
        svc.stop()


def test_the_dashboard_answers_429_with_retry_after_when_cramps_come_too_fast(client, app, seeded):
    ticks = Ticks()
    app.extensions["crampwatch"].actions.limits = RateLimits(RATE_LIMITS, clock=ticks)
    before = len(list(seeded.events(types=["cramp"])))
    times = [NOW - 3600 * (i + 1) for i in range(RATE_LIMITS["cramp"].burst + 1)]
    for t in times[:-1]:
        assert post(client, "/api/v1/cramps", {"t": t}).status_code == 201
    r = post(client, "/api/v1/cramps", {"t": times[-1]})
    assert r.status_code == 429, r.get_json()
    assert r.headers["Retry-After"] == "60" and "try again in 60 s" in r.get_json()["error"]
    assert len(list(seeded.events(types=["cramp"]))) == before + len(times) - 1
    ticks.now += 60
    assert post(client, "/api/v1/cramps", {"t": times[-1]}).status_code == 201


def test_the_dashboard_limits_wake_labels_and_snoozes_too(client, app, reminders):
    ticks = Ticks()
    app.extensions["crampwatch"].actions.limits = RateLimits(
        {**RATE_LIMITS, "snooze": Limit(1, 60), "label": Limit(1, 5)}, clock=ticks)
    reminders.fire()
    assert post(client, "/api/v1/reminder/snooze", {"minutes": 10}).status_code == 200
    reminders.fire()
    r = post(client, "/api/v1/reminder/snooze", {"minutes": 10})
    assert r.status_code == 429 and r.headers["Retry-After"] == "60"
    assert reminders.calls == [("snooze", 10)]
    wake = next(w for n in client.get("/api/v1/nights?count=30").get_json()["nights"] for w in n["wakes"])
    assert post(client, f"/api/v1/wakes/{wake['id']}/label", {"cramp": True}).status_code == 200
    r = post(client, f"/api/v1/wakes/{wake['id']}/label", {"cramp": False})
    assert r.status_code == 429 and r.headers["Retry-After"] == "5"


def test_the_openapi_document_lists_the_429(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, method in [("/cramps", "post"), ("/wakes/{wake_id}/label", "post"), ("/reminder/ack", "post"),
                         ("/reminder/snooze", "post")]:
        assert "Retry-After" in paths[path][method]["responses"]["429"]["headers"]
