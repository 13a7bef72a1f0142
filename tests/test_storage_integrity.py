"""The startup integrity check on a real database file with garbage written over some
of its pages: the daemon refuses to start (exit status 2), says which file and why,
keeps a copy, and never writes to the damaged file."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from device.config import Config
from device.daemon import Daemon
from device.storage.store import DB_NAME, Store, StorageCorrupt
from vocabulary.events import Drink


def damaged_database(data_dir, *, at=0.5) -> str:
    """A real store with a few thousand events, then random bytes over pages in its middle."""
    with Store(data_dir) as store:
        store.add_events([Drink(t=1764060000.0 + 60 * i, ml=100.0 + i % 50) for i in range(3000)])
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path = os.path.join(data_dir, DB_NAME)
    size = os.path.getsize(path)
    page = 4096
    with open(path, "r+b") as f:
        f.seek(int(size * at) // page * page)
        f.write(os.urandom(3 * page))
    return path


def config_for(data_dir, check="quick"):
    return Config.model_validate({"device": {"data_dir": str(data_dir)}, "dashboard": {"enabled": False},
                                  "bottle": {"enabled": False}, "bed": {"enabled": False, "button_pin": None},
                                  "storage": {"integrity_check": check}})


def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.mark.parametrize("check", ["quick", "full"])
def test_a_damaged_database_stops_the_start_and_a_copy_is_kept(tmp_path, check):
    path = damaged_database(tmp_path)
    before = digest(path)
    daemon = Daemon(config_for(tmp_path, check))
    with pytest.raises(StorageCorrupt) as err:
        daemon.start()
    message = str(err.value)
    assert path in message and "integrity check" in message and "copy was kept" in message
    copies = [p for p in os.listdir(tmp_path) if p.startswith(DB_NAME + ".corrupt-")]
    assert len(copies) == 1 and copies[0] in message
    assert digest(tmp_path / copies[0]) == before
    assert digest(path) == before  # nothing was written to the damaged file
    storage = daemon.health.get("storage")
    assert storage.state == "failed" and path in storage.detail


def test_a_file_that_is_not_a_database_is_treated_the_same(tmp_path):
    path = tmp_path / DB_NAME
    path.write_bytes(os.urandom(8192))
    with pytest.raises(StorageCorrupt, match="copy was kept"):
        Daemon(config_for(tmp_path)).start()


def test_crampwatch_run_exits_with_status_2_and_names_the_file(tmp_path):
    path = damaged_database(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(f'[device]\ndata_dir = {json.dumps(str(tmp_path))}\n[dashboard]\nenabled = false\n'
                      '[bottle]\nenabled = false\n[bed]\nenabled = false\n')
    done = subprocess.run([sys.executable, "-m", "device.cli", "run", "--simulate", "--config", str(config),
                           "--duration", "1"], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parent.parent)
    assert done.returncode == 2  # systemd's RestartPreventExitStatus=2: no restart loop
    assert f"crampwatch run: {path}" in done.stderr and "corrupt-" in done.stderr


def test_with_the_check_off_a_sound_database_opens_and_a_sound_one_passes_the_check(tmp_path):
    with Store(tmp_path) as store:
        store.add_event(Drink(t=1764060000.0, ml=100.0))
    for check in ("off", "quick", "full"):
        daemon = Daemon(config_for(tmp_path, check))
        daemon.start()
        try:
            assert len(list(daemon.store.events(types=["drink"]))) == 1 and daemon.health.get("storage").state == "ok"
        finally:
            daemon.stop()
    assert not [p for p in os.listdir(tmp_path) if ".corrupt-" in p]
