"""The Mosquitto examples in docs/mosquitto/, run as written with a real mosquitto.

- central.conf with crampwatch.acl: each device logs in as its device id and may write
  only under its own base topic and its discovery topic, and read only its own commands
  (and Home Assistant's status). A real crampwatch MQTT service works within it.
- pi-bridge.conf: a broker on the Pi bridges to the central one; events crampwatch
  publishes while the central broker is down reach it when it is back.

Only the listener, addresses, ports, file paths, the password, the bridge's retry timing
and where and when the Pi's broker saves its queue (on stop) are changed from the files;
everything else is used as the documentation shows it.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from device.actions import GOAL_SETTING
from device.config import Config
from device.health import Health
from device.mqtt.client import close_sockets
from device.mqtt.service import MqttService
from device.storage.store import Store
from scheduler.service import REMINDER_TOPIC
from tests.conftest import Broker, Listener, free_port, wait_for
from vocabulary.events import Drink

DOCS = Path(__file__).parent.parent / "docs" / "mosquitto"
PASSWORDS = {"bedroom": "bedroom-secret-1", "guest-room": "guest-secret-2", "homeassistant": "ha-secret-3"}


def example(doc: str, replace: dict[str, str]) -> str:
    """``docs/mosquitto/<doc>`` with ``replace`` applied (each must occur), as a broker's extra
    configuration (the test broker sets its own listener, user and log)."""
    text = (DOCS / doc).read_text()
    for old, new in replace.items():
        assert old in text, f"{doc} no longer has {old!r}"
        text = text.replace(old, new)
    return text


@pytest.fixture
def central(own_broker, tmp_path_factory):
    """central.conf and crampwatch.acl, with a password file made by mosquitto_passwd."""
    workdir = tmp_path_factory.mktemp("central")
    passwd, acl = workdir / "crampwatch.passwd", workdir / "crampwatch.acl"
    for k, (user, password) in enumerate(PASSWORDS.items()):
        subprocess.run(["mosquitto_passwd", "-b", *(["-c"] if k == 0 else []), str(passwd), user, password],
                       check=True, capture_output=True)
    acl.write_text((DOCS / "crampwatch.acl").read_text())
    conf = example("central.conf", {"listener 1883\n": "", "allow_anonymous false\n": "",  # the test broker's own
                                    "/etc/mosquitto/crampwatch.passwd": str(passwd),
                                    "/etc/mosquitto/crampwatch.acl": str(acl)})
    return lambda persistent=False: own_broker(extra=conf, persistent=persistent)


def login(user: str) -> tuple[str, str]:
    return user, PASSWORDS[user]


def publish(client: Listener, topic: str, payload: str, retain: bool = False) -> None:
    client.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)


def refused(broker: Broker, user: str | None, password: str | None) -> bool:
    """Whether the broker refuses this login."""
    answer: list = []
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"login-{free_port()}")
    if user is not None:
        client.username_pw_set(user, password)
    client.on_connect = lambda c, u, f, rc, p: answer.append(rc)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        assert wait_for(lambda: answer, 5), "no CONNACK"
        return answer[0].is_failure
    finally:
        client.disconnect()
        client.loop_stop()
        close_sockets(client)


def crampwatch(broker: Broker, tmp_path: Path, device: str, **mqtt) -> MqttService:
    config = Config.model_validate({"device": {"id": device, "data_dir": str(tmp_path / device)},
                                    "mqtt": {"host": broker.host, "port": broker.port, "reconnect_max_s": 1, **mqtt}})
    return MqttService(config, Store(config.data_path), Health(), state_provider=lambda: {"intake_today_ml": 640.0},
                       check_interval_s=0.1)


def password_file(tmp_path: Path, device: str) -> str:
    path = tmp_path / f"{device}.password"
    path.write_text(PASSWORDS[device] + "\n")
    return str(path)


# -- per-device credentials and the ACL ---------------------------------------------------------
def test_a_device_writes_only_its_own_topics_and_reads_only_its_own_commands(central, listen, tmp_path):
    broker = central()
    ha = listen(broker, ["crampwatch/#", "homeassistant/#"], auth=login("homeassistant"))
    svc = crampwatch(broker, tmp_path, "bedroom", username="bedroom", password_file=password_file(tmp_path, "bedroom"))
    svc.start()
    try:
        # everything crampwatch publishes arrives: status, state, discovery, an event, the reminder
        assert svc.client.wait_connected(10) and svc.client.wait_subscribed(5)
        svc.store.add_event(Drink(t=1764060000.0, ml=120.0))
        svc.publish_retained(REMINDER_TOPIC, {"id": "hydration-1", "kind": "hydration", "state": "active"})
        for topic in (svc.status_topic, svc.state_topic, "homeassistant/device/bedroom/config",
                      "crampwatch/bedroom/event/drink", f"crampwatch/bedroom/{REMINDER_TOPIC}"):
            assert ha.wait(topic, timeout=10), f"{topic} did not arrive"
        assert svc.health.get("mqtt").state == "ok"
        # its commands reach it
        publish(ha, "crampwatch/bedroom/cmd/goal", '{"ml": 2100}')
        assert wait_for(lambda: svc.store.get_setting(GOAL_SETTING) == 2100.0, 5)

        # the same user (another connection) trying everything else: nothing of it arrives
        rogue = listen(broker, ["crampwatch/#", "homeassistant/#"], auth=login("bedroom"))
        forbidden = ["crampwatch/guest-room/state", "crampwatch/guest-room/cmd/ack", "homeassistant/status",
                     "homeassistant/device/guest-room/config", "homeassistant/sensor/x/config"]
        for topic in forbidden:
            publish(rogue, topic, "forged")
        publish(rogue, "crampwatch/bedroom/event/marker", "1")  # allowed, sent after them on one connection
        assert ha.wait("crampwatch/bedroom/event/marker")
        assert not set(forbidden) & {m.topic for m in ha.on("#")}

        # it reads no other device's commands or state
        publish(ha, "crampwatch/guest-room/state", '{"intake_today_ml": 1}', retain=True)
        publish(ha, "crampwatch/guest-room/cmd/ack", "{}")
        publish(ha, "crampwatch/bedroom/cmd/ack", "{}")
        assert rogue.wait("crampwatch/bedroom/cmd/ack")
        assert [m.topic for m in rogue.on("#") if "guest-room" in m.topic] == []
        assert rogue.on("crampwatch/bedroom/state") == []  # not even its own state: not a command
    finally:
        svc.stop()


def test_without_the_right_password_nobody_gets_in(central):
    broker = central()
    assert not refused(broker, *login("bedroom"))
    assert all(refused(broker, user, password) for user, password in ((None, None), ("bedroom", "wrong"), ("nobody", "x")))


# -- the bridge -----------------------------------------------------------------------------------
def bridge_topics() -> list[tuple[str, str]]:
    """The bridge's ``topic PATTERN DIRECTION QOS`` lines."""
    text = (DOCS / "pi-bridge.conf").read_text()
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^topic (\S+) (in|out|both) 1$", text, re.M)]


def test_the_bridge_carries_every_topic_crampwatch_publishes_and_its_commands():
    from tests.test_ha_blueprints import published_topics

    config = Config.model_validate({"device": {"id": "bedroom", "data_dir": ":memory:"}, "mqtt": {"host": "x"}})
    svc = MqttService(config, Store(":memory:"), Health())
    out = [p for p, d in bridge_topics() if d in ("out", "both")]
    inward = [p for p, d in bridge_topics() if d in ("in", "both")]
    wanted = [*published_topics(svc).values(), "homeassistant/device/bedroom/config"]
    assert all(any(paho.topic_matches_sub(p, t) for p in out) for t in wanted), wanted
    assert svc.command_filter.replace("+", "#") in inward and "homeassistant/status" in inward


def test_events_sent_while_the_central_broker_is_down_arrive_when_it_is_back(central, own_broker, listen, tmp_path):
    hub = central(persistent=True)  # Home Assistant's session survives its restart
    ha = listen(hub, ["crampwatch/#", "homeassistant/#"], session="ha-persistent", auth=login("homeassistant"))
    pi = own_broker(persistent=True, extra=example("pi-bridge.conf", {
        # the test broker's own listener and persistence (saved when it stops)
        "listener 1883 127.0.0.1\n": "", "allow_anonymous true\n": "", "persistence true\n": "",
        "persistence_location /var/lib/mosquitto/\n": "", "autosave_interval 300\n": "",
        "address central.example.org:1883": f"address 127.0.0.1:{hub.port}",
        "remote_password CHANGE-ME": f"remote_password {PASSWORDS['bedroom']}", "restart_timeout 2 30": "restart_timeout 1 1"}))
    svc = crampwatch(pi, tmp_path, "bedroom")  # anonymous, on the Pi's loopback broker
    svc.start()
    try:
        assert ha.wait("crampwatch/bedroom/status", lambda p: p and p[-1] == "online", 15), "nothing came over the bridge"
        assert ha.wait("homeassistant/device/bedroom/config")
        assert ha.wait("crampwatch/bedroom/bridge", lambda p: p and p[-1] == "1")  # the link's state
        hub.stop()  # the link is down
        events = [Drink(t=1764060000.0 + 60 * k, ml=100.0 + k) for k in range(5)]
        svc.store.add_events(events)
        assert wait_for(lambda: svc.store.outbox_count() == 0, 10)  # the Pi's broker has them all now
        assert not ha.on("crampwatch/bedroom/event/#")
        hub.start()  # back
        assert ha.wait("crampwatch/bedroom/event/drink", lambda p: len({json.loads(x)["id"] for x in p}) == 5, 20)
        assert {e["id"] for e in ha.json("crampwatch/bedroom/event/drink")} == {e.id for e in events}
        # and commands go the other way
        publish(ha, "crampwatch/bedroom/cmd/goal", '{"ml": 2300}')
        assert wait_for(lambda: svc.store.get_setting(GOAL_SETTING) == 2300.0, 10)
    finally:
        svc.stop()
