"""Property-based fuzzing of MQTT commands, from the topic to the store (hypothesis).

Generated commands (known and unknown names; payloads with numbers at and past their
limits, huge ints, 1e400, NaN, wrong types, JSON nested 40,000 deep, bytes that are not
UTF-8) and floods of them go through :meth:`MqttService._on_command`, as paho hands them
over, to the real actions over a real store. Nothing may escape, nothing may log an
error or a traceback, every refusal is counted in health, and what is stored stays
bounded: the rate limits' clock is frozen, so no more cramps and labels can be stored
than one burst of each, however many commands arrive.
"""

import logging

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device.actions import RATE_LIMITS, Actions
from device.config import Config
from device.guards.rate_limits import RateLimits
from device.health import Health
from device.mqtt.commands import COMMANDS
from device.mqtt.service import MqttService
from device.storage.store import Store
from tests.fuzz_payloads import Records, bodies
from tests.test_dashboard_fixtures import NOW, FakeReminders, FakeScale
from vocabulary.events import Wake

WAKE_START = NOW - 9 * 3600.0
names = st.sampled_from(COMMANDS) | st.sampled_from(["", "reboot", "cramp/x", "GOAL", "ack "]) | st.text(max_size=20)
commands = st.tuples(names, bodies)
# Valid commands too, so that floods reach the actions and their limits; cramps at distinct
# times would each be a new row (the same time twice is stored once).
valid = st.sampled_from([("cramp", b""), ("goal", b"2100"), ("snooze", b"30"), ("ack", b""), ("tare", b""),
                         ("cramp", b'{"wake_id": "wake-%d", "confirmed": false}' % round(WAKE_START * 1000)),
                         ("drink", b'{"ml": 250, "kind": "tea"}'), ("factors", b'{"exercise": "hard"}')])
distinct_cramps = st.floats(min_value=NOW - 300 * 86400, max_value=NOW).map(lambda t: ("cramp", b'{"t": %.3f}' % t))
distinct_drinks = st.floats(min_value=NOW - 6 * 86400, max_value=NOW).map(
    lambda t: ("drink", b'{"ml": 90, "t": %.3f}' % t))


class Scale(FakeScale):
    def tare(self):
        return self.cal


class Rig:
    """The MQTT service as the daemon builds it, its actions over a real store, not connected."""

    def __init__(self):
        self.store = Store(":memory:", clock=lambda: NOW)
        self.store.add_event(Wake(start=WAKE_START, end=WAKE_START + 300, bed_exit=True, cramp=False, score=0.4))
        self.health = Health(clock=lambda: NOW)
        self.reminders = FakeReminders()
        self.reminders.fire()
        scale = Scale()
        actions = Actions(self.store, clock=lambda: NOW, reminders=lambda: self.reminders, bottle=lambda: scale,
                          limits=RateLimits(RATE_LIMITS, clock=lambda: 0.0))  # frozen: no bucket refills
        self.svc = MqttService(Config(), self.store, self.health, actions=actions)
        self.dispatched = 0

    def send(self, name: str, payload: bytes) -> None:
        self.dispatched += 1
        self.svc._on_command(f"{self.svc.base_topic}/cmd/{name}", payload, False)


RIG = Rig()


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.lists(commands | valid | distinct_cramps | distinct_drinks, min_size=1, max_size=30))
def test_no_command_escapes_logs_a_traceback_or_grows_the_store(flood):
    with Records() as log:
        for name, payload in flood:
            RIG.send(name, payload)  # raises nothing: a raise here would kill paho's network thread
        assert log.tracebacks() == []
    refused = RIG.svc.dispatcher.refused
    assert RIG.health.get("mqtt").to_dict().get("commands_refused", 0) == refused
    cramps = list(RIG.store.events(types=["cramp"]))
    labels = [c for c in cramps if c.get("wake_id")]
    assert len(cramps) - len(labels) <= RATE_LIMITS["cramp"].burst
    assert len(labels) <= RATE_LIMITS["label"].burst
    assert sum(1 for _ in RIG.store.events(types=["drink"])) <= RATE_LIMITS["drink"].burst
    assert sum(1 for _ in RIG.store.events(types=["factors"])) <= RATE_LIMITS["factors"].burst
    goal = RIG.store.get_setting("hydration.goal_ml")
    assert goal is None or 250 <= goal <= 10000


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(valid, st.integers(min_value=200, max_value=2000))
def test_a_flood_of_one_valid_command_runs_one_burst_and_is_logged_in_a_few_lines(command, count):
    rig = Rig()
    name, payload = command
    with Records() as log:
        for _ in range(count):
            rig.send(name, payload)
    warnings = [r for r in log.records if r.levelno == logging.WARNING and r.name == "device.mqtt.commands"]
    assert log.tracebacks() == [] and len(warnings) <= 12  # the first ten, then one line that the rest are counted
    limited = rig.health.get("mqtt").to_dict()["commands_rate_limited"]
    assert count - RATE_LIMITS[_action(name, payload)].burst <= limited <= count
    assert len(list(rig.store.events(types=["cramp"]))) <= RATE_LIMITS["label"].burst


def _action(name: str, payload: bytes) -> str:
    return "label" if b"wake_id" in payload else name
