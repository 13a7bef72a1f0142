"""Events a sensor worker could not commit are kept (bounded) and retried, never doubled.
The database refuses writes because another connection holds its write lock: a real
SQLite refusal, as a full disk gives (tests/test_storage_disk.py has the full disk)."""

from __future__ import annotations

import sqlite3

import pytest

import device.sensor_worker as sensor_worker
from device.events import Drink
from device.health import Health
from device.sensor_worker import SensorWorker
from device.storage import Store


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
    worker = SensorWorker("bottle", lambda: None, Health())
    assert worker._store_events(store, [drink(0), drink(1)]) == []
    assert [e.id for e in worker.unwritten] == [drink(0).id, drink(1).id]
    assert worker._store_events(store, []) == []  # too soon to retry on its own
    release()
    new = worker._store_events(store, [drink(2)])
    assert [d["id"] for d in new] == [drink(i).id for i in range(3)] and worker.unwritten == []
    assert worker._store_events(store, [drink(2)]) == []  # a second detection is not a second drink
    assert store.count_events() == 3


def test_the_retry_list_is_bounded_and_what_falls_off_is_counted(locked, monkeypatch):
    store, release = locked
    monkeypatch.setattr(sensor_worker, "MAX_UNWRITTEN", 5)
    worker = SensorWorker("bottle", lambda: None, Health())
    for i in range(8):
        worker._store_events(store, [drink(i)])
    assert len(worker.unwritten) == 5 and worker.events_lost == 3
    release()
    worker._store_events(store, [])
    worker._next_retry = 0.0
    worker._store_events(store, [])
    assert [e["id"] for e in store.events()] == [drink(i).id for i in range(3, 8)]
