"""The SQLite store: WAL, migrations, idempotent events, settings, fan-out."""

import sqlite3

import pytest

from device.storage.migrations import MIGRATIONS
from device.storage.store import Store
from vocabulary.errors import SchemaTooNew, StorageError
from vocabulary.events import Drink, Refill, Wake


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path) as s:
        yield s


def test_database_is_created_in_the_data_dir_with_wal_and_current_schema(tmp_path, store):
    assert (tmp_path / "crampwatch.sqlite3").exists()
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.schema_version == len(MIGRATIONS)


def test_same_event_twice_is_stored_once(store):
    assert store.add_event(Drink(t=100.0, ml=150.0)) is True
    assert store.add_event(Drink(t=100.0, ml=150.0)) is False
    assert store.count_events() == 1


def test_a_different_event_with_a_stored_id_keeps_the_first_and_is_logged(store, caplog):
    store.add_event(Drink(t=100.0, ml=150.0))
    with caplog.at_level("WARNING", logger="device.storage.store"):
        assert store.add_event(Drink(t=100.0, ml=150.0)) is False  # a retry: silent
        assert not caplog.records
        assert store.add_event(Drink(t=100.0, ml=90.0)) is False
    assert [e["ml"] for e in store.events()] == [150.0]
    assert len(caplog.records) == 1 and "drink-100000" in caplog.text and '"ml": 90.0' in caplog.text


def test_events_come_back_in_time_order_with_id_and_type(store):
    store.add_events([Refill(t=300.0, ml=500.0), Drink(t=100.0, ml=150.0),
                      Wake(start=200.0, end=260.0, bed_exit=False, cramp=True, score=0.9)])
    events = list(store.events())
    assert [e["type"] for e in events] == ["drink", "wake", "refill"]
    assert all(e["id"] and e["type"] for e in events)
    assert events[1]["cramp"] is True
    assert [e["type"] for e in store.events(types=["drink", "refill"], since=150)] == ["refill"]


def test_events_survive_reopening(tmp_path):
    with Store(tmp_path) as s:
        s.add_event(Drink(t=1.0, ml=20.0))
    with Store(tmp_path) as s:
        assert [e["id"] for e in s.events()] == ["drink-1000"]


def test_listeners_see_only_new_events_after_commit(store):
    seen = []
    store.subscribe(lambda e: seen.append((e["id"], store.count_events())))
    store.add_events([Drink(t=1.0, ml=20.0), Drink(t=1.0, ml=20.0), Drink(t=2.0, ml=30.0)])
    assert seen == [("drink-1000", 2), ("drink-2000", 2)]


def test_settings_round_trip(store):
    assert store.get_setting("calibration") is None
    store.set_setting("calibration", {"offset": 1.5})
    store.set_setting("calibration", {"offset": 2.5})
    assert store.get_setting("calibration") == {"offset": 2.5}


def test_a_database_from_a_newer_version_is_refused_untouched(tmp_path):
    path = tmp_path / "crampwatch.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    db.close()
    with pytest.raises(SchemaTooNew, match="upgrade crampwatch"):
        Store(tmp_path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 5


def test_a_failed_migration_leaves_the_old_schema(tmp_path, monkeypatch):
    Store(tmp_path).close()
    monkeypatch.setattr("device.storage.store.MIGRATIONS", MIGRATIONS + ["CREATE TABLE x (a); SELECT nonsense("])
    with pytest.raises(StorageError, match="cannot open database"):
        Store(tmp_path)
    monkeypatch.undo()
    with Store(tmp_path) as s:
        assert s.schema_version == len(MIGRATIONS)


def test_epochs_are_stored_replaced_and_read_by_range(store):
    from types import SimpleNamespace as E

    store.add_epochs([E(t=0.0, activity=1.0, presence=0.9), E(t=30.0, activity=5.0, presence=None)])
    store.add_epochs([E(t=30.0, activity=6.0, presence=0.8)])
    assert store.epochs(0, 60) == [(0.0, 1.0, 0.9), (30.0, 6.0, 0.8)]
    assert store.epochs(10, 60) == [(30.0, 6.0, 0.8)]
