"""Commands on <base>/cmd/<name>: strict validation, routing to handlers, and payloads
that must neither crash the MQTT thread nor change anything."""

import json
import sys

import pytest

from device.actions import Actions, ActionRefused
from device.mqtt.commands import (Ack, CommandDispatcher, CommandError, Cramp, Goal, Snooze, Tare, action_handlers,
                             parse_command)
from device.storage.store import Store
from tests.conftest import wait_for
from tests.test_mqtt_service import service_for
from vocabulary.events import Wake

NOW = 1764120000.0


@pytest.mark.parametrize("name, payload, expected", [
    ("ack", b"", Ack()),
    ("ack", b"{}", Ack()),
    ("tare", b"  ", Tare()),
    ("snooze", b"", Snooze(None)),  # the outputs.snooze_min setting, as the button
    ("snooze", b"30", Snooze(30)),
    ("snooze", b'{"minutes": 45}', Snooze(45)),
    ("goal", b"2000", Goal(2000.0)),
    ("goal", b"2000.0", Goal(2000.0)),  # what Home Assistant's number entity may send
    ("goal", b'{"ml": 1800}', Goal(1800.0)),
    ("cramp", b"", Cramp()),
    ("cramp", b'{"t": 1764119000.5}', Cramp(t=1764119000.5)),
    ("cramp", b'{"wake_id": "wake-1764110000000"}', Cramp(wake_id="wake-1764110000000")),
    ("cramp", b'{"wake_id": "wake-1764110000000", "confirmed": false}',
     Cramp(wake_id="wake-1764110000000", confirmed=False)),
])
def test_valid_payloads(name, payload, expected):
    assert parse_command(name, payload) == expected


@pytest.mark.parametrize("name, payload, why", [
    ("reboot", b"", "unknown command"),
    ("ack", b'{"now": 1}', "unknown key"),
    ("ack", b"1", "expected a JSON object"),
    ("snooze", b"0", "between 1 and 720"),
    ("snooze", b"1.5", "whole number"),
    ("snooze", b'"15"', "expected a number or a JSON object"),
    ("snooze", b"true", "must be a number"),
    ("goal", b"", "ml is required"),
    ("goal", b"20", "between 250 and 10000"),
    ("goal", b"NaN", "not JSON"),
    ("goal", b"1e999", "must be a finite number"),
    ("goal", b'{"ml": null}', "must be a number"),
    ("goal", b"[2000]", "expected a number or a JSON object"),
    ("cramp", b'{"t": 1e11}', "between"),
    ("goal", b"1" + b"0" * 400, "between 250 and 10000"),  # too big for a float: no OverflowError
    ("cramp", b'{"wake_id": "drink-1"}', "wake_id must look like"),
    ("cramp", b'{"wake_id": "wake-1", "t": 1764119000.0}', "not both"),
    ("cramp", b'{"confirmed": true}', "needs a wake_id"),
    ("cramp", b'{"wake_id": "wake-1", "confirmed": "yes"}', "true or false"),
    ("goal", b"{", "not JSON"),
    ("goal", b"\xff\xfe2000", "not valid UTF-8"),
    ("goal", b"1" * 4097, "at most 4096"),
    ("goal", b"[" * 4000, "nested too deeply"),
])
def test_invalid_payloads_are_refused_with_a_reason(name, payload, why):
    with pytest.raises(CommandError, match=why):
        parse_command(name, payload)


def test_nesting_deeper_than_the_recursion_limit_is_refused_not_raised():
    depth = sys.getrecursionlimit() + 10  # still under 4 KiB
    with pytest.raises(CommandError, match="nested too deeply"):
        parse_command("goal", b"[" * depth + b"]" * depth)


def test_the_dispatcher_routes_logs_and_never_raises(caplog):
    seen = []

    def broken(command):
        raise RuntimeError("handler bug")

    d = CommandDispatcher({"goal": seen.append, "tare": broken})
    assert d.dispatch("goal", b"1500") is True
    assert d.dispatch("goal", b"15") is False
    assert d.dispatch("tare", b"") is False  # the handler failed; logged
    assert d.dispatch("ack", b"") is False  # no handler registered
    assert seen == [Goal(1500.0)]
    assert "handler bug" in caplog.text and "between 250 and 10000" in caplog.text
    with pytest.raises(ValueError):
        d.register("reboot", print)


@pytest.mark.parametrize("name, payload", [
    ("goal", b"1" + b"0" * 400), ("goal", b'{"ml": -1' + b"0" * 400 + b"}"), ("snooze", b"1e400"),
    ("cramp", b'{"t": 1' + b"0" * 400 + b"}"), ("goal", b"9" * 4097), ("goal", b"[" * 4000),
    ("snooze", b'{"minutes": ' * 800 + b"1" + b"}" * 800), ("goal", b"NaN"), ("goal", b"-Infinity"),
])
def test_huge_numbers_and_deep_nesting_are_refused_counted_and_logged_as_one_line(tmp_path, caplog, name, payload):
    """Security finding 7: a goal of 1 and 400 zeros logged an OverflowError traceback, uncounted."""
    from device.health import Health

    health = Health()
    store = Store(tmp_path)
    d = CommandDispatcher(action_handlers(Actions(store, clock=lambda: NOW)),
                          on_refused=lambda counts: health.measure("mqtt", **counts))
    assert d.dispatch(name, payload) is False
    assert health.get("mqtt").to_dict()["commands_refused"] == 1
    assert len(caplog.records) == 1 and caplog.records[0].levelname == "WARNING" and not caplog.records[0].exc_info
    assert "Traceback" not in caplog.text and store.get_setting("hydration.goal_ml") is None


@pytest.mark.parametrize("error", [OverflowError("int too large to convert to float"),
                                   RecursionError("maximum recursion depth exceeded")])
def test_an_overflow_or_recursion_in_a_handler_is_a_refusal_not_a_traceback(caplog, error):
    counts = {}

    def handler(command):
        raise error

    d = CommandDispatcher({"goal": handler}, on_refused=counts.update)
    assert d.dispatch("goal", b"2000") is False
    assert counts == {"commands_refused": 1, "commands_rate_limited": 0}
    assert len(caplog.records) == 1 and not caplog.records[0].exc_info
    assert f"goal: {type(error).__name__}" in caplog.text


def test_the_cramp_command_stores_a_cramp_log_through_the_action(tmp_path):
    store = Store(tmp_path)
    store.add_event(Wake(start=1764110000.0, end=1764110300.0, bed_exit=True, cramp=False, score=0.2))
    ticks = iter(range(100))
    handle = action_handlers(Actions(store, clock=lambda: NOW + next(ticks)))["cramp"]
    handle(Cramp())
    handle(Cramp(wake_id="wake-1764110000000", confirmed=True))
    with pytest.raises(ActionRefused, match="no stored wake"):
        handle(Cramp(wake_id="wake-1764110000001"))
    with pytest.raises(ActionRefused, match="in the future"):
        handle(Cramp(t=NOW + 3600))
    with pytest.raises(ActionRefused, match="more than a year ago"):
        handle(Cramp(t=NOW - 400 * 86400))
    logs = list(store.events(types=["cramp"]))
    assert [(e["t"], e.get("wake_id"), e["confirmed"], e["source"]) for e in logs] == [
        (NOW, None, True, "mqtt"), (NOW + 1, "wake-1764110000000", True, "mqtt")]


# -- on a real broker ---------------------------------------------------------------------
def test_commands_from_the_broker_reach_their_handlers_and_bad_ones_change_nothing(broker, listen, tmp_path):
    goals = []
    state = {"goal_ml": 2000}

    def set_goal(command):
        goals.append(command.ml)
        state["goal_ml"] = command.ml

    svc = service_for(broker, tmp_path, "cmds", state=state, handlers={"goal": set_goal})
    watch = listen(broker, ["crampwatch/cmds/state"])
    pub = listen(broker, []).client
    # A retained command would run again at every reconnect: it is ignored.
    pub.publish("crampwatch/cmds/cmd/goal", b"1750", qos=1, retain=True).wait_for_publish(5)
    svc.start()
    try:
        assert svc.client.wait_subscribed(5)
        bad = [b"x" * (1 << 20), b"\xff\xfe\xfd", b"[" * 100_000 + b"]" * 100_000, b'{"ml": ' * 3000,
               b"20", b'{"ml": "2000"}', b"-1e308"]
        for payload in bad:
            pub.publish("crampwatch/cmds/cmd/goal", payload, qos=1).wait_for_publish(5)
        pub.publish("crampwatch/cmds/cmd/nonsense", b"{}", qos=1).wait_for_publish(5)
        assert wait_for(lambda: svc.dispatcher.refused == len(bad) + 1, 5), svc.dispatcher.refused
        assert goals == []
        assert all(json.loads(p)["goal_ml"] == 2000 for p in watch.payloads("crampwatch/cmds/state"))
        # The MQTT thread survived all of that: a good command still works.
        pub.publish("crampwatch/cmds/cmd/goal", b'{"ml": 2500}', qos=1)
        assert wait_for(lambda: goals == [2500.0], 5)
        assert watch.wait("crampwatch/cmds/state", lambda p: json.loads(p[-1])["goal_ml"] == 2500.0, timeout=3)
        pub.publish("crampwatch/cmds/cmd/cramp", b"", qos=1)
        assert wait_for(lambda: list(svc.store.events(types=["cramp"])), 5)
        assert svc.client.connected
    finally:
        svc.stop()
        pub.publish("crampwatch/cmds/cmd/goal", b"", qos=1, retain=True).wait_for_publish(5)
