"""`crampwatch backup` and `restore` as a user runs them (the real console script): a
consistent snapshot while events are being written, a checked restore that keeps the
database before it, and clear refusals that change nothing."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from device.storage.migrations import MIGRATIONS
from device.storage.store import DB_NAME, Store
from tests.conftest import free_port, stop_daemon, wait_for
from vocabulary.events import Drink

CRAMPWATCH = str(Path(sys.executable).with_name("crampwatch"))  # the installed console script


def crampwatch(*args, timeout=120):
    return subprocess.run([CRAMPWATCH, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def event_ids(path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT id FROM events")}


def integrity(path) -> str:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def data(tmp_path) -> Path:
    """A data directory whose database holds 50 drinks."""
    data = tmp_path / "data"
    with Store(data) as store:
        store.add_events([Drink(t=1764060000.0 + 60 * k, ml=100.0 + k) for k in range(50)])
    return data


class Writer(threading.Thread):
    """Adds a drink every few milliseconds through its own store, as the daemon's threads do."""

    def __init__(self, data: Path):
        super().__init__(daemon=True)
        self.store = Store(data)
        self.stop = threading.Event()
        self.committed: list[str] = []
        self._lock = threading.Lock()

    def run(self) -> None:
        t = 1765000000.0
        while not self.stop.is_set():
            t += 1.0
            drink = Drink(t=t, ml=200.0)
            self.store.add_event(drink)
            with self._lock:
                self.committed.append(drink.id)
            time.sleep(0.002)
        self.store.close()

    def committed_so_far(self) -> set[str]:
        with self._lock:
            return set(self.committed)


# -- backup ------------------------------------------------------------------------------

def test_a_backup_while_events_are_written_holds_every_event_committed_before_it(data, tmp_path):
    writer = Writer(data)
    writer.start()
    try:
        assert wait_for(lambda: len(writer.committed_so_far()) >= 50, 20)
        before = writer.committed_so_far() | event_ids(data / DB_NAME)
        run = crampwatch("backup", "--data-dir", data, tmp_path / "backup.sqlite3")
        after = writer.committed_so_far()
    finally:
        writer.stop.set()
        writer.join(10)
    assert run.returncode == 0, run.stderr
    copy = tmp_path / "backup.sqlite3"
    assert integrity(copy) == "ok"
    held = event_ids(copy)
    assert before <= held, f"{len(before - held)} events committed before the backup are missing"
    assert held <= after | before  # nothing that was never committed
    assert f"backed up {len(held)} events to {copy}" in run.stderr
    assert oct(copy.stat().st_mode & 0o777) == "0o600"  # health data: the owner's only
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left
    with sqlite3.connect(copy) as db:  # one self-contained file
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_a_backup_into_a_directory_is_named_with_the_date(data, tmp_path):
    run = crampwatch("backup", "--data-dir", data, tmp_path)
    assert run.returncode == 0, run.stderr
    (copy,) = tmp_path.glob("crampwatch-backup-*.sqlite3")
    assert len(event_ids(copy)) == 50


@pytest.mark.parametrize("target", ["missing-dir/b.sqlite3", "data/" + DB_NAME])
def test_a_backup_that_cannot_be_written_exits_2_naming_the_file(data, tmp_path, target):
    run = crampwatch("backup", "--data-dir", data, tmp_path / target)
    assert run.returncode == 2 and str(tmp_path / target) in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and len(event_ids(data / DB_NAME)) == 50


# -- restore -----------------------------------------------------------------------------

def test_restore_round_trip_keeps_the_database_before_it(data, tmp_path):
    copy = tmp_path / "backup.sqlite3"
    assert crampwatch("backup", "--data-dir", data, copy).returncode == 0
    with Store(data) as store:  # life goes on after the backup
        store.add_event(Drink(t=1766000000.0, ml=330.0))
        store.set_setting("hydration.goal_ml", 2500)
    run = crampwatch("restore", "--data-dir", data, copy)
    assert run.returncode == 0, run.stderr
    db = data / DB_NAME
    assert event_ids(db) == event_ids(copy) and "drink-1766000000000" not in event_ids(db)
    assert integrity(db) == "ok"
    (safety,) = data.glob(f"{DB_NAME}.before-restore-*")
    assert "drink-1766000000000" in event_ids(safety) and integrity(safety) == "ok"
    assert f"the database before the restore is kept as {safety}" in run.stderr
    assert oct(safety.stat().st_mode & 0o777) == "0o600"
    with Store(data) as store:  # the daemon's own way in: opens, the schema current
        assert store.schema_version == len(MIGRATIONS) and store.get_setting("hydration.goal_ml") is None
    assert not [p for p in data.iterdir() if p.name.startswith(".")]  # the staged copy is gone


def test_restore_of_an_older_schema_migrates_it(tmp_path):
    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(old) as db:
        for number, migration in enumerate(MIGRATIONS[:2], start=1):
            db.executescript(migration)
            db.execute(f"PRAGMA user_version = {number}")
        payload = json.dumps({"id": "drink-1", "type": "drink", "t": 1.0, "ml": 150.0})
        db.execute("INSERT INTO events VALUES ('drink-1', 'drink', 1.0, ?, 1.0)", (payload,))
    data = tmp_path / "data"
    run = crampwatch("restore", "--data-dir", data, old)  # no database yet: it is created
    assert run.returncode == 0, run.stderr
    with Store(data) as store:
        assert store.schema_version == len(MIGRATIONS) and [e["id"] for e in store.events()] == ["drink-1"]
        assert store.epochs(0.0, 10.0) == []  # the tables of later migrations exist


def _not_a_database(path: Path) -> None:
    path.write_text("t,grams\n1,2\n")


def _corrupt(path: Path, good: Path) -> None:
    raw = bytearray(good.read_bytes())
    raw[4096 * 2:] = os.urandom(len(raw) - 4096 * 2)  # the header intact, the tables' pages garbage
    path.write_bytes(bytes(raw))


def _newer(path: Path, good: Path) -> None:
    path.write_bytes(good.read_bytes())
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")


def _foreign(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE photos (name TEXT)")
        db.execute("PRAGMA user_version = 3")


@pytest.mark.parametrize("kind, words", [
    ("missing", "no such file"),
    ("not-a-database", "not an SQLite database"),
    ("corrupt", "damaged"),
    ("newer", f"schema version {len(MIGRATIONS) + 1}; this one knows up to {len(MIGRATIONS)}"),
    ("foreign", "not crampwatch's"),
])
def test_a_refused_restore_exits_2_naming_the_file_and_changes_nothing(data, tmp_path, kind, words):
    good = tmp_path / "good.sqlite3"
    assert crampwatch("backup", "--data-dir", data, good).returncode == 0
    bad = tmp_path / f"{kind}.sqlite3"
    {"missing": lambda: None, "not-a-database": lambda: _not_a_database(bad), "corrupt": lambda: _corrupt(bad, good),
     "newer": lambda: _newer(bad, good), "foreign": lambda: _foreign(bad)}[kind]()
    db = data / DB_NAME
    before, files = digest(db), sorted(p.name for p in data.iterdir())
    run = crampwatch("restore", "--data-dir", data, bad)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and f"crampwatch restore: {bad}: " in lines[0] and words in lines[0], run.stderr
    assert digest(db) == before and sorted(p.name for p in data.iterdir()) == files  # no safety copy, no temp file
    if kind == "newer":
        assert "upgrade crampwatch" in lines[0]


def test_restore_replaces_a_live_database_too_damaged_to_open(data, tmp_path):
    """The case the daemon refuses to start on: the file is kept aside as it was, then replaced."""
    copy = tmp_path / "backup.sqlite3"
    assert crampwatch("backup", "--data-dir", data, copy).returncode == 0
    db = data / DB_NAME
    db.write_bytes(os.urandom(8192))
    damaged = digest(db)
    run = crampwatch("restore", "--data-dir", data, copy)
    assert run.returncode == 0, run.stderr
    assert integrity(db) == "ok" and event_ids(db) == event_ids(copy)
    (safety,) = [p for p in data.glob(f"{DB_NAME}.before-restore-*") if not p.name.endswith("-wal")]
    assert digest(safety) == damaged  # kept as it was (with its WAL, if any)


def test_restore_refuses_while_the_daemon_runs_unless_forced(data, tmp_path):
    copy = tmp_path / "backup.sqlite3"
    assert crampwatch("backup", "--data-dir", data, copy).returncode == 0
    with Store(data) as store:
        store.add_event(Drink(t=1766000000.0, ml=330.0))
    # what a running daemon leaves: a fresh health file naming a live process (this one)
    (data / "health.json").write_text(json.dumps({"written_at": time.time(), "pid": os.getpid(), "parts": {}}))
    before = digest(data / DB_NAME)
    run = crampwatch("restore", "--data-dir", data, copy)
    assert run.returncode == 2 and "the daemon is running" in run.stderr and "--force" in run.stderr
    assert digest(data / DB_NAME) == before and not list(data.glob("*.before-restore-*"))
    run = crampwatch("restore", "--data-dir", data, copy, "--force")
    assert run.returncode == 0, run.stderr
    assert "restart it" in run.stderr and event_ids(data / DB_NAME) == event_ids(copy)


@pytest.mark.slow
def test_backup_and_forced_restore_under_the_real_daemon(tmp_path):
    """The daemon writes (simulated drinks, its health) while a backup is taken, a restore
    is refused, then forced: the daemon goes on, on a sound database holding the backup."""
    data = tmp_path / "data"
    config = tmp_path / "config.toml"
    config.write_text(f'[device]\ndata_dir = "{data}"\n[dashboard]\nport = {free_port()}\n'
                      '[simulator]\ndrink_interval_s = 20\n')
    proc = subprocess.Popen([CRAMPWATCH, "run", "--simulate", "--config", str(config)], stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: (data / "health.json").exists(), 40), "the daemon did not start"
        writer = Writer(data)  # more writes beside the daemon's own
        writer.start()
        try:
            assert wait_for(lambda: len(writer.committed_so_far()) >= 20, 20)
            before = writer.committed_so_far()
            copy = tmp_path / "backup.sqlite3"
            run = crampwatch("backup", "--config", config, copy)
            assert run.returncode == 0, run.stderr
            assert integrity(copy) == "ok" and before <= event_ids(copy)
            run = crampwatch("restore", "--config", config, copy)
            assert run.returncode == 2 and f"pid {proc.pid}" in run.stderr
            run = crampwatch("restore", "--config", config, copy, "--force")
            assert run.returncode == 0, run.stderr
        finally:
            writer.stop.set()
            writer.join(10)
        assert proc.poll() is None, "the daemon stopped"
        later = Drink(t=1767000000.0, ml=250.0)
        with Store(data) as store:  # the database is sound and writable after the restore
            assert store.integrity_problems(full=True) == [] and store.add_event(later)
        assert before <= event_ids(data / DB_NAME)
        run = crampwatch("status", "--config", config)
        assert run.returncode == 0 and "quick_check ok" in run.stdout, run.stdout
    finally:
        stop_daemon(proc)
    assert proc.returncode == 0
