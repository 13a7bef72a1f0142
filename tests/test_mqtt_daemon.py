"""`crampwatch run --simulate` with an [mqtt] section: after a kill -9 the next start
sends what the outbox still holds, the last will says offline, and export works."""

import json
import os
import signal
import subprocess
import sys

from device.storage.store import Store
from tests.conftest import wait_for
from vocabulary.events import Drink, Wake


def write_config(tmp_path, broker, device_id):
    path = tmp_path / "config.toml"
    path.write_text(f'[device]\nid = "{device_id}"\ndata_dir = "{tmp_path / "data"}"\n'
                    f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nreconnect_max_s = 1\n'
                    '[simulator]\ndrink_interval_s = 30\n')
    return path


def crampwatch(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "device.cli", *args], **kwargs)


def test_a_killed_daemon_restarts_and_sends_what_its_outbox_held(broker, listen, tmp_path):
    # What a daemon killed with -9 while the broker was away leaves behind: stored events
    # whose outbox rows were never acknowledged.
    left = [Drink(t=1764060000.0, ml=150.0), Drink(t=1764060300.0, ml=90.0),
            Wake(start=1764100000.0, end=1764100400.0, bed_exit=True, cramp=True, score=0.9)]
    with Store(tmp_path / "data", outbox=True) as store:
        store.add_events(left)
    config = write_config(tmp_path, broker, "daemon9")
    watch = listen(broker, ["crampwatch/daemon9/#", "homeassistant/device/daemon9/config"])
    daemon = crampwatch("run", "--simulate", "--config", str(config), stderr=subprocess.DEVNULL)
    try:
        assert watch.wait("crampwatch/daemon9/event/+", lambda p: len(p) >= 3, timeout=15)
        got = watch.json("crampwatch/daemon9/event/+")
        assert {e["id"] for e in got} >= {e.id for e in left}
        assert all(e["device"] == "daemon9" and isinstance(e["t"], float) for e in got)
        assert watch.wait("crampwatch/daemon9/status", lambda p: p and p[-1] == "online")
        assert watch.wait("homeassistant/device/daemon9/config")
        assert watch.wait("crampwatch/daemon9/state")
        with Store(tmp_path / "data") as store:  # a second reader while the daemon runs (WAL)
            assert wait_for(lambda: store.outbox_count() == 0, 5)  # PUBACKs removed the rows
        os.kill(daemon.pid, signal.SIGKILL)
        daemon.wait()
        assert watch.wait("crampwatch/daemon9/status", lambda p: p[-1] == "offline", timeout=5)  # the will
    finally:
        daemon.kill()
        daemon.wait()
    out = subprocess.run([sys.executable, "-m", "device.cli", "export", "--config", str(config),
                          "--format", "jsonl"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    exported = [json.loads(line) for line in out.stdout.splitlines()]
    assert {e["id"] for e in exported} >= {e.id for e in left}
