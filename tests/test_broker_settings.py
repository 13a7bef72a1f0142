"""The broker connection is set only in the configuration file (security finding 2).

The daemon sends the broker password (read from its 0600 file) to ``mqtt.host``. When
the dashboard could edit mqtt.host, port, username, tls and client_id, a logged-in page
could send that password to any listener after a restart, or switch TLS off. Now a
PATCH naming one of them is a 400 naming the key, and overrides saved by an older
version are ignored at start with one log line.
"""

import logging
import socket
import subprocess
import sys
import threading

import pytest

from device.config import Config
from device.settings import OVERRIDES_KEY, SettingsService
from device.storage.store import Store
from tests.conftest import free_port, stop_daemon, wait_for
from tests.test_dashboard_fixtures import (  # noqa: F401  (fixtures)
    NOW, app, client, health, make_config, post, reminders, scale, seeded, store,
)

BROKER_KEYS = {"host": "evil.example", "port": 1884, "username": "mallory", "tls": True, "client_id": "spy"}


@pytest.mark.parametrize("key,value", BROKER_KEYS.items())
def test_a_patch_of_the_broker_connection_is_refused_naming_the_key(client, seeded, key, value):
    r = post(client, "/api/v1/settings", {"mqtt": {key: value}}, method="PATCH")
    assert r.status_code == 400, r.get_json()
    why = r.get_json()["fields"][f"mqtt.{key}"]
    assert "configuration file" in why and "broker" in why
    assert seeded.get_setting(OVERRIDES_KEY) is None


def test_the_settings_page_shows_the_broker_connection_read_only(client):
    mqtt = next(s for s in client.get("/api/v1/settings").get_json()["sections"] if s["section"] == "mqtt")
    editable = {f["key"]: f["editable"] for f in mqtt["fields"]}
    assert not any(editable[k] for k in BROKER_KEYS)
    assert editable["keepalive"] and editable["base_topic"]  # the rest of the section still is
    r = post(client, "/api/v1/settings", {"mqtt": {"keepalive": 30}}, method="PATCH")
    assert r.status_code == 200


def test_broker_overrides_saved_before_are_ignored_at_start_with_one_log_line(caplog):
    config = Config.model_validate({"device": {"data_dir": ":memory:"},
                                    "mqtt": {"host": "broker.home", "port": 8883, "tls": True, "username": "cw"}})
    with Store(":memory:") as store:
        store.set_setting(OVERRIDES_KEY, {"mqtt": {"host": "evil.example", "port": 1883, "tls": False,
                                                   "keepalive": 30}, "bottle": {"rate_hz": 80}})
        with caplog.at_level(logging.WARNING, logger="device.settings"):
            daemon_config = SettingsService(config, store).effective()  # as the daemon starts
            dashboard_config = SettingsService(config, store).effective()  # and then its dashboard
        for effective in (daemon_config, dashboard_config):
            assert (effective.mqtt.host, effective.mqtt.port, effective.mqtt.tls) == ("broker.home", 8883, True)
            assert effective.mqtt.keepalive == 30 and effective.bottle.rate_hz == 80  # editable ones still apply
        lines = [r.getMessage() for r in caplog.records if "ignoring dashboard overrides" in r.getMessage()]
        assert len(lines) == 1, lines
        assert "mqtt.host='evil.example'" in lines[0] and "mqtt.tls=False" in lines[0]
        assert store.get_setting(OVERRIDES_KEY) == {"mqtt": {"keepalive": 30}, "bottle": {"rate_hz": 80}}


class Decoy:
    """A TCP listener that records every connection and what it was sent."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(1.0)
                try:
                    self.received += conn.recv(4096)
                except OSError:
                    pass

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.mark.slow
def test_after_a_restart_the_password_goes_only_to_the_broker_of_the_file(broker, listen, tmp_path):
    data = tmp_path / "data"
    secret = tmp_path / "mqtt-password"
    secret.write_text("hunter2-broker\n")
    secret.chmod(0o600)
    decoy = Decoy()
    with Store(data) as store:  # what a page saved before: the broker moved to a listener of its choice
        store.set_setting(OVERRIDES_KEY, {"mqtt": {"host": "127.0.0.1", "port": decoy.port, "client_id": "spy"}})
    config = tmp_path / "config.toml"
    config.write_text(f'[device]\nid = "brokerfile"\ndata_dir = "{data}"\n'
                      f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nreconnect_max_s = 1\n'
                      f'username = "crampwatch"\npassword_file = "{secret}"\n'
                      f'[dashboard]\nenabled = false\nport = {free_port()}\n')
    watch = listen(broker, ["crampwatch/brokerfile/status"])
    log = tmp_path / "daemon.log"
    with open(log, "wb") as err:
        daemon = subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--simulate", "--config", str(config)],
                                  stdout=subprocess.DEVNULL, stderr=err)
    online = lambda: watch.payloads("crampwatch/brokerfile/status")[-1:] == ["online"]  # noqa: E731
    try:
        wait_for(lambda: decoy.connections or online(), 20)
        wait_for(lambda: decoy.received, 1.0)
        assert decoy.connections == 0, f"the daemon connected to the decoy and sent {decoy.received!r}"
        assert online(), log.read_text()[-2000:]
        assert not wait_for(lambda: decoy.connections, 1.0)  # nor later
    finally:
        stop_daemon(daemon)
        decoy.close()
    assert b"hunter2" not in decoy.received
    text = log.read_text()
    assert text.count("ignoring dashboard overrides") == 1, text[-2000:]
    assert "mqtt.host='127.0.0.1'" in text and "mqtt.client_id='spy'" in text
