"""`crampwatch status`: the running daemon's health from its health.json snapshot,
storage read from the database, and a clear NOT RUNNING when the snapshot is stale."""

import json
import os
import signal
import subprocess
import sys
import time

from device.cli.main import main
from device.health import Health
from device.runtime.health_file import HealthWriter, health_path, read_health, write_atomic
from device.storage.store import Store
from tests.conftest import free_port, wait_for
from vocabulary.events import Drink


def status(capsys, data_dir, *extra):
    code = main(["status", "--data-dir", str(data_dir), *extra])
    return code, capsys.readouterr().out


def test_the_health_writer_replaces_the_file_atomically_and_beats(tmp_path):
    health = Health()
    health.set("bottle", "ok", "reading")
    writer = HealthWriter(tmp_path / "health.json", lambda: {"written_at": time.time(), "parts": health.snapshot()},
                          interval=0.05)
    writer.start()
    try:
        assert writer.alive()
        first = read_health(tmp_path / "health.json")
        assert first["parts"]["bottle"]["state"] == "ok"
        health.set("bottle", "failed", "DOUT stuck high")
        assert wait_for(lambda: read_health(tmp_path / "health.json")["parts"]["bottle"]["state"] == "failed", 2)
    finally:
        writer.stop()
    assert not writer.alive()
    assert [p.name for p in tmp_path.iterdir()] == ["health.json"]  # no temp files left behind


def test_a_failing_snapshot_is_counted_not_raised(tmp_path):
    def broken():
        raise OSError(28, "No space left on device")

    writer = HealthWriter(tmp_path / "health.json", broken)
    writer.beat()
    assert writer.write_errors == 1 and writer.last_beat is not None


def test_health_path_sits_beside_the_database():
    from pathlib import Path

    assert health_path(Path("/var/lib/crampwatch")) == Path("/var/lib/crampwatch/health.json")
    assert health_path(Path("/srv/cw/main.sqlite3")) == Path("/srv/cw/health.json")


def test_status_of_a_running_daemon_shows_parts_storage_and_mqtt(tmp_path, capsys):
    data = tmp_path / "data"
    config = tmp_path / "config.toml"
    config.write_text(f'[device]\ndata_dir = "{data}"\n[dashboard]\nport = {free_port()}\n'
                      '[simulator]\ndrink_interval_s = 30\n')
    proc = subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--simulate", "--config", str(config)],
                            stderr=subprocess.DEVNULL)
    try:
        # wait until the sensors have reported samples in the snapshot
        def sampled():
            snap = read_health(data / "health.json")
            return snap and snap["parts"].get("bottle", {}).get("last_sample_age_s") is not None
        assert wait_for(sampled, 40)
        code, out = status(capsys, data)
        assert code == 0, out
        assert out.startswith(f"daemon: running (pid {proc.pid})")
        for part in ("bottle", "bed", "storage", "reminders", "dashboard"):
            assert f"  {part} " in out, out
        assert "last sample" in out and "errors" in out
        assert "quick_check ok" in out and "schema " in out
        assert "mqtt: off" in out
        code, out = status(capsys, data, "--json")
        got = json.loads(out)
        assert got["daemon"]["running"] and got["storage"]["quick_check"] == "ok"
        assert got["parts"]["bottle"]["state"] in ("ok", "starting")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    code, out = status(capsys, data)
    assert code == 3
    assert out.startswith("daemon: NOT RUNNING (its process is gone")


def test_a_stale_snapshot_means_not_running(tmp_path, capsys):
    with Store(tmp_path) as store:
        store.add_events([Drink(t=1764060000.0, ml=150.0), Drink(t=1764060600.0, ml=90.0)])
    write_atomic(tmp_path / "health.json", {"written_at": time.time() - 600, "pid": os.getpid(), "overall": "ok",
                                             "parts": {"bottle": {"state": "ok", "detail": "reading", "errors": 2,
                                                                  "glitches": 0, "last_sample_age_s": 0.1}}})
    code, out = status(capsys, tmp_path)
    assert code == 3
    assert "NOT RUNNING (its health file is stale; last health 10 min ago)" in out
    assert "2 events (2 drink)" in out and "2 errors" in out


def test_status_without_a_daemon_or_database(tmp_path, capsys):
    code, out = status(capsys, tmp_path / "nothing")
    assert code == 3
    assert "never started with this data directory" in out
    assert "storage: no database" in out
    assert not (tmp_path / "nothing").exists()  # status only reads


def test_status_shows_the_mqtt_connection_and_its_outbox(broker, tmp_path, capsys):
    data = tmp_path / "data"
    config = tmp_path / "config.toml"
    config.write_text(f'[device]\nid = "statusdev"\ndata_dir = "{data}"\n[dashboard]\nenabled = false\n'
                      f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nreconnect_max_s = 1\n'
                      '[simulator]\ndrink_interval_s = 30\n')
    proc = subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--simulate", "--config", str(config)],
                            stderr=subprocess.DEVNULL)
    try:
        def mqtt_state():
            snap = read_health(data / "health.json")
            return snap and snap["parts"].get("mqtt", {}).get("state")
        assert wait_for(lambda: mqtt_state() == "ok", 30)
        code = main(["status", "--config", str(config)])
        out = capsys.readouterr().out
        assert code == 0
        mqtt_line = next(line for line in out.splitlines() if line.startswith("mqtt:"))
        assert mqtt_line.startswith(f"mqtt: ok ({broker.host})") and "events waiting in the outbox" in mqtt_line
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_under_systemd_the_snapshot_is_in_the_runtime_directory_and_status_finds_it(tmp_path, capsys, monkeypatch):
    """The service's health.json goes to $RUNTIME_DIRECTORY (a tmpfs), not the SD card; a
    snapshot a run by hand left beside the database is removed; status reads the new one,
    and a snapshot there of another database is not taken for ours."""
    from device.config import Config
    from device.daemon import Daemon

    runtime = tmp_path / "run"
    runtime.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    write_atomic(data / "health.json", {"written_at": time.time() - 3600, "pid": 1, "overall": "ok", "parts": {}})
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(runtime))
    config = Config.model_validate({"device": {"data_dir": str(data)}, "dashboard": {"enabled": False},
                                    "bottle": {"enabled": False}, "bed": {"enabled": False}})
    daemon = Daemon(config, simulate=True)
    daemon.start()
    try:
        assert read_health(runtime / "health.json")["pid"] == os.getpid()
        assert not (data / "health.json").exists()
        code, out = status(capsys, data)
        assert code == 0 and out.startswith(f"daemon: running (pid {os.getpid()})"), out
        assert json.loads(status(capsys, data, "--json")[1])["daemon"]["health_file"] == str(runtime / "health.json")
    finally:
        daemon.stop()
    other = tmp_path / "other"
    code, out = status(capsys, other)
    assert code == 3 and "never started with this data directory" in out, out
