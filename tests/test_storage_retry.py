"""Events a sensor worker could not commit are kept (bounded) and retried, never doubled.
The database refuses writes because another connection holds its write lock: a real
SQLite refusal, as a full disk gives (tests/test_storage_disk.py has the full disk)."""

from __future__ import annotations

import sqlite3

import pytest

import device.storage.pending_events as pending_events
from device.health import Health
from device.storage.store import Store
from device.workers.sensor_worker import SensorWorker
from tests.conftest import wait_for
from vocabulary.events import Drink


@pytest.fixture
def locked(tmp_path):
    """A store whose writes fail until the returned release() is called."""
    store = Store(tmp_path)
    store._db.execute("PRAGMA busy_timeout = 0")
    blocker = sqlite3.connect(store.path, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")

    def release():
        if blocker.in_transaction:
            blocker.rollback()

    yield store, release
    release()
    blocker.close()
    store.close()


def drink(i: int) -> Drink:
    return Drink(t=1764060000.0 + 60 * i, ml=100.0 + i)


def test_unwritten_events_are_kept_and_written_with_the_next_ones(locked):
    store, release = locked
    worker = SensorWorker("bottle", lambda: None, store, Health())
    assert worker._store_detected([drink(0), drink(1)]) == []
    assert [e.id for e in worker.pending.events] == [drink(0).id, drink(1).id]
    assert worker._store_detected([]) == []  # too soon to retry on its own
    release()
    new = worker._store_detected([drink(2)])
    assert [d["id"] for d in new] == [drink(i).id for i in range(3)] and worker.pending.events == []
    assert worker._store_detected([drink(2)]) == []  # a second detection is not a second drink
    assert store.count_events() == 3


def test_the_retry_list_is_bounded_and_what_falls_off_is_counted(locked, monkeypatch):
    store, release = locked
    monkeypatch.setattr(pending_events, "MAX_KEPT", 5)
    worker = SensorWorker("bottle", lambda: None, store, Health())
    for i in range(8):
        worker._store_detected([drink(i)])
    assert len(worker.pending.events) == 5 and worker.pending.lost == 3
    release()
    worker._store_detected([])
    worker.pending.next_retry = 0.0
    worker._store_detected([])
    assert [e["id"] for e in store.events()] == [drink(i).id for i in range(3, 8)]


def test_a_bedside_press_the_database_refuses_is_kept_and_written_by_the_storage_round(locked):
    """The press goes through the cramp action (source "button"), which keeps what the
    database refuses and writes it once, on the storage monitor's next round."""
    from gpiozero.pins.mock import MockFactory

    from device.actions import Actions
    from device.hardware.bedside import BedsideButton
    from device.storage.monitor import StorageMonitor

    store, release = locked
    factory = MockFactory()
    clock = [1764060000.0]
    actions = Actions(store, clock=lambda: clock[0])
    button = BedsideButton(17, actions, pin_factory=factory)
    monitor = StorageMonitor(store, Health(), min_free_mb=0, retention_days=0,
                             unwritten=lambda: len(actions.pending), retry=actions.retry)
    try:
        pin = factory.pin(17)
        pin.drive_low()
        pin.drive_high()
        assert wait_for(lambda: len(actions.pending) == 1, 5)
        assert store.count_events() == 0
        release()
        actions.pending.next_retry = 0.0  # due (RETRY_S after the failure)
        monitor.check()
        assert len(actions.pending) == 0
        monitor.check()  # a second round writes nothing more
        assert [(e["type"], e["t"], e["source"]) for e in store.events()] == [("cramp", clock[0], "button")]
    finally:
        button.close()
        actions.close()
        factory.close()


def test_a_cramp_from_any_surface_the_database_refuses_is_accepted_and_stored_once(locked):
    """The action path keeps the entry: the caller hears it is created, and the next
    entry (or the retry round) writes both, each once."""
    from device.actions import Actions

    store, release = locked
    clock = [1764060000.0]
    actions = Actions(store, clock=lambda: clock[0])
    first, created = actions.log_cramp(source="mqtt")
    assert created and [e.id for e in actions.pending.events] == [first.id] and store.count_events() == 0
    release()
    clock[0] += 120
    second, created = actions.log_cramp(source="dashboard")
    assert created and len(actions.pending) == 0
    assert [(e["id"], e["source"]) for e in store.events()] == [(first.id, "mqtt"), (second.id, "dashboard")]
    assert actions.log_cramp(first.t, source="dashboard")[1] is False  # the same entry again: not new
