"""Many crampwatch devices on one broker (issue 17: a care home, a study, a couple with two
beds): ten daemons started as a user starts them (``crampwatch run --simulate``), all
with one configuration file and no device settings at all, each with its own data
directory (``$STATE_DIRECTORY``, as systemd gives it), against one real Mosquitto.

They share the machine id (one machine here, as containers often do), so their ids
differ by their data directories (device.identity). None may share an id, a client id,
a topic or an entity's unique_id, and none may knock another off the broker: the broker
log shows one connection per client id and no takeover, and each availability topic
says ``online`` once and nothing else.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest

from device.config import DEVICE_ID_PATTERN
from device.identity import FILE_NAME, host_part
from tests.conftest import stop_daemon, wait_for

DAEMONS = 10
TAKEOVER_WATCH_S = 5.0  # two daemons sharing a client id would knock each other off within a second or two


@pytest.mark.slow
def test_ten_daemons_with_default_device_settings_share_one_broker(own_broker, listen, tmp_path):
    broker = own_broker(extra="log_type information\n")  # takeovers ("already connected") are information
    config = tmp_path / "config.toml"  # one file for all: no [device] section
    config.write_text(f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nreconnect_max_s = 1\n'
                      "[dashboard]\nenabled = false\n")
    watch = listen(broker, ["crampwatch/+/status", "homeassistant/device/+/config"])
    data_dirs = [tmp_path / f"state{k}" for k in range(DAEMONS)]
    procs = []
    try:
        for data in data_dirs:
            env = {k: v for k, v in os.environ.items() if k not in ("RUNTIME_DIRECTORY", "CRAMPWATCH_CONFIG")}
            env["STATE_DIRECTORY"] = str(data)
            with open(tmp_path / f"{data.name}.log", "wb") as log:
                procs.append(subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--simulate", "--config",
                                               str(config)], env=env, stdout=subprocess.DEVNULL, stderr=log))

        def online():
            return {m.topic for m in watch.on("crampwatch/+/status") if m.payload == b"online"}

        assert wait_for(lambda: len(online()) == DAEMONS and len(watch.on("homeassistant/device/+/config")) >= DAEMONS,
                        timeout=90, interval=0.5), f"online: {sorted(online())}"
        time.sleep(TAKEOVER_WATCH_S)
        assert [p.poll() for p in procs] == [None] * DAEMONS, "a daemon stopped"

        # ten different ids, chosen and kept by each daemon, readable and topic-safe
        ids = [(data / FILE_NAME).read_text().strip() for data in data_dirs]
        assert len(set(ids)) == DAEMONS
        assert all(re.fullmatch(DEVICE_ID_PATTERN, i) and i.startswith(host_part(socket.gethostname()) + "-")
                   for i in ids)

        # each availability topic: online once, nothing else (a takeover would add offline/online)
        statuses = {f"crampwatch/{i}/status" for i in ids}
        assert {m.topic for m in watch.on("crampwatch/+/status")} == statuses
        assert all(watch.payloads(topic) == ["online"] for topic in statuses)

        # one discovery payload per device; no unique_id, entity id or device identifier shared
        payloads = {m.topic: json.loads(m.payload) for m in watch.on("homeassistant/device/+/config")}
        assert set(payloads) == {f"homeassistant/device/{i}/config" for i in ids}
        unique_ids = [c["uniq_id"] for p in payloads.values() for c in p["cmps"].values()]
        entity_ids = [c["def_ent_id"] for p in payloads.values() for c in p["cmps"].values()]
        assert len(set(unique_ids)) == len(unique_ids) and len(set(entity_ids)) == len(entity_ids)
        assert len({tuple(p["dev"]["ids"]) for p in payloads.values()}) == DAEMONS
        assert {p["avty_t"] for p in payloads.values()} == statuses

        # the broker's own account: one connection per client id, no client knocked off
        log = broker.log.read_text(errors="replace")
        connected = re.findall(r"New client connected from \S+ as (\S+) ", log)
        assert sorted(c for c in connected if c.startswith("crampwatch-")) == sorted(f"crampwatch-{i}" for i in ids)
        assert "already connected" not in log
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            stop_daemon(proc)
    assert wait_for(lambda: all(watch.payloads(t)[-1:] == ["offline"] for t in statuses), 10)  # each left cleanly
