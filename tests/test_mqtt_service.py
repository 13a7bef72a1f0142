"""The MQTT service against a real broker: availability and last will, retained state,
events with their stored ids, two devices on one broker, and the daemon's kill -9."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

from device.config import Config
from device.health import Health
from device.mqtt.service import STATE_KEYS, MqttService, event_message
from device.storage.store import Store
from tests.conftest import wait_for
from vocabulary.events import Drink, Wake


def config_for(broker, tmp_path, device_id, **mqtt):
    return Config.model_validate({
        "device": {"id": device_id, "data_dir": str(tmp_path / device_id)},
        "mqtt": {"host": broker.host, "port": broker.port, "reconnect_max_s": 1, **mqtt}})


def service_for(broker, tmp_path, device_id, *, state=None, handlers=None, **mqtt):
    config = config_for(broker, tmp_path, device_id, **mqtt)
    store = Store(config.data_path)
    provider = (lambda: dict(state)) if state is not None else None
    return MqttService(config, store, Health(), state_provider=provider, handlers=handlers, check_interval_s=0.1)


def test_off_without_a_host(tmp_path):
    health = Health()
    svc = MqttService(Config.model_validate({"device": {"data_dir": str(tmp_path)}}), Store(tmp_path), health)
    svc.start()
    svc.stop()
    assert health.get("mqtt").state == "off" and svc.client is None


def test_status_is_online_when_connected_and_offline_after_a_clean_stop(broker, listen, tmp_path):
    watch = listen(broker, ["crampwatch/avail/status"])
    svc = service_for(broker, tmp_path, "avail")
    svc.start()
    assert watch.wait("crampwatch/avail/status", lambda p: p and p[-1] == "online")
    assert svc.health.get("mqtt").state == "ok"
    svc.stop()
    assert watch.wait("crampwatch/avail/status", lambda p: p[-1] == "offline")
    late = listen(broker, ["crampwatch/avail/status"])  # retained: a newcomer sees it too
    assert late.wait("crampwatch/avail/status") and late.on("crampwatch/avail/status")[0].retain


WILL_SCRIPT = textwrap.dedent("""
    import sys, time
    from device.config import Config
    from device.health import Health
    from device.mqtt.service import MqttService
    from device.storage.store import Store
    config = Config.model_validate({"device": {"id": sys.argv[1], "data_dir": sys.argv[2]},
                                    "mqtt": {"host": "127.0.0.1", "port": int(sys.argv[3])}})
    MqttService(config, Store(config.data_path), Health()).start()
    time.sleep(60)
""")


def test_the_last_will_says_offline_when_the_process_dies(broker, listen, tmp_path):
    watch = listen(broker, ["crampwatch/will/status"])
    proc = subprocess.Popen([sys.executable, "-c", WILL_SCRIPT, "will", str(tmp_path), str(broker.port)])
    try:
        assert watch.wait("crampwatch/will/status", lambda p: p and p[-1] == "online", timeout=10)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert watch.wait("crampwatch/will/status", lambda p: p[-1] == "offline", timeout=5)
        assert watch.on("crampwatch/will/status")[-1].retain is False  # live delivery; the stored copy is retained
        late = listen(broker, ["crampwatch/will/status"])
        assert late.wait("crampwatch/will/status", lambda p: p == ["offline"])
    finally:
        proc.kill()
        proc.wait()


def test_state_is_retained_published_on_change_and_has_every_key(broker, listen, tmp_path):
    state = {"intake_today_ml": 0.0, "goal_ml": 2000, "bottle_present": True}
    svc = service_for(broker, tmp_path, "state", state=state)
    watch = listen(broker, ["crampwatch/state/state"])
    svc.start()
    try:
        assert watch.wait("crampwatch/state/state")
        first = watch.json("crampwatch/state/state")[-1]
        assert set(STATE_KEYS) <= set(first)
        assert first["intake_today_ml"] == 0.0 and first["bottle_contents_ml"] is None
        assert first["health"]["overall"] in ("ok", "starting")
        state["intake_today_ml"] = 250.0
        assert watch.wait("crampwatch/state/state",
                          lambda p: json.loads(p[-1])["intake_today_ml"] == 250.0, timeout=3)
        count = len(watch.on("crampwatch/state/state"))
        time.sleep(0.5)  # unchanged: not republished until state_refresh_s
        assert len(watch.on("crampwatch/state/state")) == count
        late = listen(broker, ["crampwatch/state/state"])
        assert late.wait("crampwatch/state/state")
        assert late.on("crampwatch/state/state")[0].retain
    finally:
        svc.stop()


def test_a_failing_state_provider_does_not_stop_mqtt(broker, listen, tmp_path):
    config = config_for(broker, tmp_path, "badstate")

    def broken():
        raise RuntimeError("no state yet")

    svc = MqttService(config, Store(config.data_path), Health(), state_provider=broken, check_interval_s=0.1)
    watch = listen(broker, ["crampwatch/badstate/#"])
    svc.start()
    try:
        assert watch.wait("crampwatch/badstate/state")
        assert watch.json("crampwatch/badstate/state")[-1]["intake_today_ml"] is None
        svc.store.add_event(Drink(t=1764060312.4, ml=100.0))
        assert watch.wait("crampwatch/badstate/event/drink")
    finally:
        svc.stop()


def test_events_carry_the_stored_id_the_device_and_a_numeric_t(broker, listen, tmp_path):
    svc = service_for(broker, tmp_path, "events")
    watch = listen(broker, ["crampwatch/events/event/+"])
    svc.start()
    try:
        assert svc.client.wait_connected(5)
        svc.store.add_events([Drink(t=1764060312.4, ml=152.0),
                              Wake(start=1764120100.0, end=1764120460.0, bed_exit=True, cramp=True, score=0.86)])
        assert watch.wait("crampwatch/events/event/+", lambda p: len(p) == 2)
        drink = watch.json("crampwatch/events/event/drink")[0]
        wake = watch.json("crampwatch/events/event/wake")[0]
        stored = {e["id"]: e for e in svc.store.events()}
        assert drink == {**stored["drink-1764060312400"], "device": "events"}
        assert wake["id"] == "wake-1764120100000" and wake["t"] == wake["start"] == 1764120100.0
        assert all(not m.retain for m in watch.on("crampwatch/events/event/+"))
        assert wait_for(lambda: svc.store.outbox_count() == 0, 5)  # removed on PUBACK
    finally:
        svc.stop()


def test_event_message_adds_t_only_for_events_keyed_by_start():
    topic, payload = event_message({"id": "drink-1", "type": "drink", "t": 5.0, "ml": 1.0}, "b", "d")
    assert (topic, json.loads(payload)) == ("b/event/drink", {"id": "drink-1", "type": "drink", "t": 5.0,
                                                             "ml": 1.0, "device": "d"})


def test_two_devices_share_a_broker_without_mixing(broker, listen, tmp_path):
    a = service_for(broker, tmp_path, "kitchen", state={"goal_ml": 1500})
    b = service_for(broker, tmp_path, "bedroom2", state={"goal_ml": 2500})
    watch = listen(broker, ["crampwatch/+/state", "crampwatch/+/event/+", "homeassistant/device/+/config"])
    a.start()
    b.start()
    try:
        a.store.add_event(Drink(t=1764060000.0, ml=100.0))
        b.store.add_event(Drink(t=1764060001.0, ml=200.0))
        assert watch.wait("crampwatch/+/event/drink", lambda p: len(p) == 2)
        assert [e["ml"] for e in watch.json("crampwatch/kitchen/event/drink")] == [100.0]
        assert [e["device"] for e in watch.json("crampwatch/bedroom2/event/drink")] == ["bedroom2"]
        assert watch.wait("crampwatch/bedroom2/state")
        assert watch.json("crampwatch/kitchen/state")[-1]["goal_ml"] == 1500
        assert watch.json("crampwatch/bedroom2/state")[-1]["goal_ml"] == 2500
        assert watch.wait("homeassistant/device/+/config", lambda p: len(p) >= 2)
        ids = {json.loads(p)["dev"]["ids"][0] for p in watch.payloads("homeassistant/device/+/config")}
        assert {"crampwatch_kitchen", "crampwatch_bedroom2"} <= ids  # (others are retained from other tests)
    finally:
        a.stop()
        b.stop()


def test_a_password_protected_broker(own_broker, listen, tmp_path):
    pwfile = tmp_path / "passwd"
    pwfile.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(pwfile), "cw", "s3cret"], check=True)
    b = own_broker(f"password_file {pwfile}\n")
    (tmp_path / "pw").write_text("s3cret\n")
    good = service_for(b, tmp_path, "authok", username="cw", password_file=str(tmp_path / "pw"))
    (tmp_path / "bad").write_text("wrong\n")
    bad = service_for(b, tmp_path, "authbad", username="cw", password_file=str(tmp_path / "bad"))
    good.start()
    bad.start()
    try:
        assert good.client.wait_connected(5)
        assert wait_for(lambda: "refused" in bad.health.get("mqtt").detail, 5)
        assert not bad.client.connected
    finally:
        good.stop()
        bad.stop()


def test_credentials_and_tls_files_that_cannot_be_read_are_configuration_errors(broker, tmp_path, monkeypatch):
    import pytest

    from device.mqtt.client import read_password
    from vocabulary.errors import ConfigError

    missing = str(tmp_path / "missing")
    with pytest.raises(ConfigError, match="mqtt.password_file"):
        service_for(broker, tmp_path, "nopw", username="u", password_file=missing).start()
    with pytest.raises(ConfigError, match="mqtt.tls"):
        service_for(broker, tmp_path, "notls", tls=True, ca_file=missing).start()
    monkeypatch.setenv("CRAMPWATCH_MQTT_PASSWORD", "from-env")
    assert read_password(config_for(broker, tmp_path, "env", username="u").mqtt) == "from-env"
