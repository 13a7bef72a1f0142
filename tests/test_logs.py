"""Logging: journald lines under systemd, and no secret in the log even at DEBUG.

The daemon runs as ``crampwatch run --simulate`` at DEBUG against a broker that wants a
password (given by file), with a dashboard password set, and ``JOURNAL_STREAM`` set as
systemd sets it: every line carries a syslog priority and no timestamp, and neither
password appears anywhere in what it wrote, nor a wrong password's refusal leaks it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from device.runtime.logs import redact
from tests.conftest import free_port, stop_daemon, wait_for

MQTT_SECRET = "mq-Pw-8e1f44"
DASHBOARD_SECRET = "dash-Pw-77c0"


def test_redact_hides_values_that_look_secret():
    assert redact("connect password=hunter2 user=cw") == "connect password=*** user=cw"
    assert "abc123" not in redact('{"token": "abc123"}') and "token" in redact('{"token": "abc123"}')
    assert redact("Authorization: Bearer eyJhbGc.x") == "Authorization: ***"
    assert redact("authorization=Basic Y3c6czNjcmV0 next") == "authorization=*** next"
    assert redact("drink 150 mL") == "drink 150 mL"


def run_daemon(tmp_path, broker, password: str):
    (tmp_path / "mqtt.pw").write_text(password + "\n")
    config = tmp_path / "config.toml"
    config.write_text(f'[device]\nid = "logs"\ndata_dir = "{tmp_path / "data"}"\n'
                      f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nusername = "cw"\n'
                      f'password_file = "{tmp_path / "mqtt.pw"}"\nreconnect_max_s = 1\n'
                      f'[dashboard]\nport = {free_port()}\n[logging]\nlevel = "DEBUG"\n')
    subprocess.run([sys.executable, "-m", "device.cli", "set-password", "--config", str(config)],
                   input=DASHBOARD_SECRET + "\n", text=True, check=True, capture_output=True)
    log = tmp_path / "daemon.log"
    env = {**os.environ, "JOURNAL_STREAM": "8:12345"}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--simulate", "--config", str(config)],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    return proc, log


def test_journald_lines_and_no_secret_at_debug(own_broker, tmp_path):
    pwfile = tmp_path / "passwd"
    pwfile.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(pwfile), "cw", MQTT_SECRET], check=True)
    broker = own_broker(f"password_file {pwfile}\n")
    for password, connected in ((MQTT_SECRET, True), ("wrong-" + MQTT_SECRET, False)):
        run_dir = tmp_path / ("good" if connected else "bad")
        run_dir.mkdir()
        proc, log = run_daemon(run_dir, broker, password)
        try:
            want = "MQTT connected" if connected else "refused"
            assert wait_for(lambda: want in log.read_text(), 30), log.read_text()[-3000:]
            time.sleep(3.0)  # sensors, reminders and the dashboard log their start too
        finally:
            stop_daemon(proc)
        text = log.read_text()
        lines = [line for line in text.splitlines() if line.strip()]
        assert len(lines) > 10, text
        assert MQTT_SECRET not in text and DASHBOARD_SECRET not in text
        # journald: a priority, no timestamp (journald adds its own); warnings' source lines aside
        logged = [line for line in lines if line.startswith("<")]
        assert len(logged) >= 0.8 * len(lines), text[-3000:]
        assert all(re.match(r"^<[2-7]>[\w.]+: ", line) for line in logged), text[-3000:]
        assert not any(re.match(r"^<\d>\d{4}-\d\d-\d\d", line) for line in logged)
        assert any(line.startswith("<7>") for line in logged), "DEBUG lines are there"
