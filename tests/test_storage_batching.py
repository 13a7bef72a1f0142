"""Fewer SD card writes: batched epoch commits, write accounting, retention of old epochs,
and the storage section of the configuration. Real SQLite files throughout."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

import pytest

from device.config import Config
from device.config import validate_config
from device.daemon import Daemon
from device.health import Health
from device.storage.monitor import DAY_S, StorageMonitor
from device.storage.store import Store
from device.workers.epoch_writer import EpochWriter
from vocabulary.errors import ConfigError
from vocabulary.events import Drink


def epoch(t, activity=1.0, presence=0.5):
    return SimpleNamespace(t=float(t), activity=float(activity), presence=presence)


class Clock:
    def __init__(self, t=0.0):
        self.t = t

    def __call__(self):
        return self.t


def test_epochs_are_buffered_and_written_in_one_commit_per_flush_interval(tmp_path):
    store = Store(tmp_path)
    clock = Clock()
    writer = EpochWriter(store, flush_s=300, clock=clock)
    writes = store.writes
    for k in range(10):  # ten 30 s epochs: 300 s
        clock.t = 30.0 * k
        writer.add([epoch(1000 + 30 * k, activity=k)])
    assert store.writes == writes and writer.pending == 10
    assert len(store.epochs(0, 1e9)) == 10  # readers see buffered epochs at once
    clock.t = 300.0
    writer.add([epoch(1300, activity=10)])
    assert store.writes == writes + 1 and writer.pending == 0
    assert [r[1] for r in store.epochs(0, 1e9)] == list(map(float, range(11)))


def test_a_refined_epoch_keeps_its_newest_value_and_a_clean_stop_flushes(tmp_path):
    store = Store(tmp_path)
    writer = EpochWriter(store, flush_s=300, clock=Clock())
    writer.add([epoch(60, activity=1.0)])
    writer.add([epoch(60, activity=3.0), epoch(90, activity=2.0)])
    assert writer.flush()
    store.close()
    with Store(tmp_path) as again:
        assert again.epochs(0, 1e9) == [(60.0, 3.0, 0.5), (90.0, 2.0, 0.5)]


def test_a_failed_flush_keeps_the_epochs_for_the_next_one(tmp_path):
    store = Store(tmp_path)
    writer = EpochWriter(store, flush_s=0, clock=Clock())
    blocker = sqlite3.connect(store.path, timeout=0)  # another writer holds the lock
    blocker.execute("BEGIN IMMEDIATE")
    store._db.execute("PRAGMA busy_timeout = 0")
    writer.add([epoch(30)])
    assert writer.pending == 1 and store.write_failures == 1 and store.last_write_error
    blocker.rollback()
    blocker.close()
    writer.add([epoch(60)])
    assert writer.pending == 0 and len(store.epochs(0, 1e9)) == 2 and store.last_write_error is None


def test_writes_and_rows_are_counted_for_the_last_hour(tmp_path):
    store = Store(tmp_path)
    writes, rows = store.writes, store.rows_written
    store.add_events([Drink(t=1764060000.0 + i, ml=100.0) for i in range(3)])
    store.add_epochs([epoch(t) for t in (30, 60)])
    store.set_setting("x", 1)
    assert store.writes == writes + 3
    before = store.commits
    assert not store.add_event(Drink(t=1764060000.0, ml=100.0))  # already stored: a commit that writes nothing
    assert store.commits == before + 1 and store.writes == writes + 3
    assert store.rows_written == rows + 3 + 2 + 1
    assert store.writes_last_hour() >= 3


def test_retention_deletes_old_epochs_in_batches_and_never_events(tmp_path):
    now = 1764060000.0
    store = Store(tmp_path)
    old = [epoch(now - 500 * DAY_S + 30 * i) for i in range(1200)]
    recent = [epoch(now - 10 * DAY_S + 30 * i) for i in range(50)]
    store.add_epochs(old + recent)
    store.add_events([Drink(t=now - 600 * DAY_S, ml=100.0)])
    writes = store.writes
    health = Health()
    monitor = StorageMonitor(store, health, min_free_mb=0, retention_days=400, clock=lambda: now)
    monitor.check()
    assert monitor.epochs_deleted == 1200
    assert store.writes - writes == 3  # 500 + 500 + 200: the writer lock is let go in between
    assert len(store.epochs(0, 2e10)) == 50
    assert store.count_events() == 1
    monitor.check()  # not again until a day later
    assert store.writes - writes == 3


def test_retention_zero_keeps_epochs_for_ever(tmp_path):
    store = Store(tmp_path)
    store.add_epochs([epoch(30)])
    StorageMonitor(store, Health(), min_free_mb=0, retention_days=0, clock=lambda: 1e10).check()
    assert len(store.epochs(0, 2e10)) == 1


def test_health_shows_writes_per_hour_and_low_space(tmp_path):
    store = Store(tmp_path)
    health = Health()
    monitor = StorageMonitor(store, health, min_free_mb=0, retention_days=0)
    store.add_event(Drink(t=1764060000.0, ml=100.0))
    monitor.check()
    part = health.snapshot()["storage"]
    assert part["state"] == "ok" and part["writes_per_hour"] >= 1 and "writes in the last hour" in part["detail"]
    assert part["free_mb"] > 0
    monitor.min_free_mb = 10 ** 9  # more than any disk here has
    monitor.check()
    part = health.snapshot()["storage"]
    assert part["state"] == "degraded" and "low disk space" in part["detail"] and "storage.min_free_mb" in part["detail"]


def test_the_daemon_writes_bed_epochs_in_batches_and_at_stop(tmp_path):
    from simulator.rigs import SimulatedBottle

    config = Config.model_validate({"device": {"data_dir": str(tmp_path)}, "dashboard": {"enabled": False},
                                    "bottle": {"enabled": False},
                                    "bed": {"rate_hz": 25, "epoch_s": 10, "button_pin": None},
                                    "storage": {"epoch_flush_s": 3600}})
    daemon = Daemon(config, simulate=True, hardware=SimulatedBottle(config, scripted=True))
    daemon.start()
    try:
        from tests.conftest import wait_for

        assert wait_for(lambda: daemon.bed.epoch_writer.pending >= 2, 60)
        pending = daemon.bed.epoch_writer.pending
        from device.cli.status import collect_status, format_status

        daemon.health_writer.beat()  # health.json now, as `crampwatch status` reads it
        status = collect_status(config)
        assert status["parts"]["storage"]["writes_per_hour"] >= 1  # at least the start's settings and events
        assert "writes in the last hour" in format_status(status)
        assert len(daemon.store.epochs(0, 2e10)) >= pending  # the live views see them...
        on_disk = sqlite3.connect(daemon.store.path)
        try:  # ...but nothing was written yet
            assert on_disk.execute("SELECT count(*) FROM epochs").fetchone()[0] == 0
        finally:
            on_disk.close()
    finally:
        daemon.stop()
    with Store(tmp_path) as store:
        assert len(store.epochs(0, 2e10)) >= pending


@pytest.mark.parametrize("key,value", [("epoch_flush_s", -1), ("integrity_check", "thorough"),
                                       ("epoch_retention_days", 1.5), ("min_free_mb", -5), ("flush", 1)])
def test_bad_storage_settings_name_their_key(key, value):
    with pytest.raises(ConfigError, match=f"storage.{key}"):
        validate_config({"storage": {key: value}})
