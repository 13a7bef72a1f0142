"""Durable storage: one SQLite database in the data directory, WAL, versioned schema.

The store is the source of truth. An event is committed here before anything else
(MQTT, the dashboard, reminders) sees it, and its stable id makes a second insert of
the same event a no-op, so re-detection after a crash never duplicates it.

>>> store = Store(":memory:")
>>> store.add_event(Drink(t=1764060312.4, ml=152.0))
True
>>> store.add_event(Drink(t=1764060312.4, ml=152.0))
False
>>> [e["id"] for e in store.events()]
['drink-1764060312400']
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from device.storage.migrations import MIGRATIONS
from vocabulary.errors import SchemaTooNew, StorageError
from vocabulary.events import Drink, Event  # noqa: F401  (Drink is used by the doctest)

log = logging.getLogger(__name__)

DB_NAME = "crampwatch.sqlite3"
HOUR_S = 3600.0
# The database holds health data: the data directory and every file in it are the
# owner's only, whatever the umask (the service's unit sets UMask=0077; a run by hand
# usually has 022, which would leave them readable by every local user).
DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


class StorageCorrupt(StorageError):
    """The database failed its integrity check (or is not a database at all)."""


def is_disk_full(exc: BaseException) -> bool:
    """True for SQLite's "database or disk is full" (SQLITE_FULL) and ENOSPC."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return (code is not None and code & 0xFF == sqlite3.SQLITE_FULL) or "full" in str(exc)
    return isinstance(exc, OSError) and exc.errno == 28


class Store:
    """The SQLite database; safe to share between threads (one writer lock).

    ``path`` is a database file, a data directory (the file is created inside it) or
    ``":memory:"``.
    """

    def __init__(self, path: str | os.PathLike, *, clock: Callable[[], float] = time.time,
                 outbox: bool = False, check: str = "off"):
        path = str(path)
        if path != ":memory:" and (os.path.isdir(path) or not path.endswith((".sqlite3", ".db"))):
            private_dir(path)
            path = os.path.join(path, DB_NAME)
        if path != ":memory:":
            create_private(path)  # before SQLite creates it 0644; its -wal and -shm take its mode
            for name in (path, *(path + side for side in SQLITE_SIDE_FILES)):
                private_file(name)  # a database from before this release
        self.path = path
        self._clock = clock
        self._lock = threading.RLock()
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._db = None
        self._epoch_sources: list[Callable[[float, float], list]] = []
        self.outbox_enabled = outbox  # queue each new event for MQTT (see enable_outbox)
        # Write accounting (cheap: a deque append per commit), for health and benchmarks.
        # A "write" is a commit that changed rows: only those reach the disk (WAL frames
        # and an fsync); a transaction that changed nothing writes nothing.
        self.commits = 0  # committed transactions since open, with or without changes
        self.writes = 0  # commits that changed rows
        self.rows_written = 0  # rows inserted, replaced or deleted by them
        self.write_failures = 0
        self.last_write_error: str | None = None  # the last failed commit's error, None once one succeeds
        self.disk_full = False  # the last failed commit failed for want of space (cleared by a success)
        self._recent_commits: deque[float] = deque()  # time.monotonic() of commits in the last hour
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed event survives a power cut, not only a crash. Events are
            # rare (a few hundred a day), so the extra fsync costs nothing noticeable.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            if check != "off":  # before migrating: never write into a damaged file
                problems = self.integrity_problems(full=check == "full")
                if problems:
                    self.close()
                    raise StorageCorrupt(f"{path}: database failed its {check} integrity check: {'; '.join(problems[:3])}")
            self._migrate()
        except StorageCorrupt:
            raise
        except sqlite3.DatabaseError as exc:
            if self._db is not None:
                self._db.close()
            if type(exc) is sqlite3.DatabaseError:  # "file is not a database", "malformed": damage, not access
                raise StorageCorrupt(f"{path}: cannot open database: {exc}") from exc
            raise StorageError(f"{path}: cannot open database: {exc}") from exc

    # -- schema -------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        with self._lock:
            version = self.schema_version
            if version > len(MIGRATIONS):
                raise SchemaTooNew(
                    f"{self.path}: schema version {version} is newer than this crampwatch knows "
                    f"({len(MIGRATIONS)}); upgrade crampwatch")
            for number in range(version, len(MIGRATIONS)):
                with self.transaction() as db:
                    for statement in MIGRATIONS[number].split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version = {number + 1}")

    @contextmanager
    def transaction(self):
        """``with store.transaction() as db:`` one write transaction under the writer lock.

        Committed when the block ends, rolled back when it raises (unless SQLite already
        rolled back itself, as it does on a full disk, so the real error is what surfaces).
        """
        with self._lock:
            before = self._db.total_changes
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if isinstance(exc, (sqlite3.Error, OSError)):
                    self.write_failures += 1
                    self.disk_full = is_disk_full(exc)
                    self.last_write_error = f"{type(exc).__name__}: {exc}"
                raise
            self._count_commit(self._db.total_changes - before)

    def _count_commit(self, rows: int) -> None:
        self.commits += 1
        self.disk_full = False
        self.last_write_error = None
        if rows <= 0:
            return
        now = time.monotonic()
        self.writes += 1
        self.rows_written += rows
        recent = self._recent_commits
        recent.append(now)
        while recent and recent[0] < now - HOUR_S:
            recent.popleft()

    def writes_last_hour(self) -> int:
        """Commits that changed rows in the last hour (each is at least one fsync)."""
        with self._lock:
            recent = self._recent_commits
            while recent and recent[0] < time.monotonic() - HOUR_S:
                recent.popleft()
            return len(recent)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- events -------------------------------------------------------------
    def subscribe(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call ``listener(event_dict)`` after each newly committed event (fan-out)."""
        self._listeners.append(listener)

    def add_event(self, event: Event) -> bool:
        """Commit an event; True if it was new, False if its id was already stored."""
        return bool(self.add_events([event]))

    def add_events(self, events: Iterable[Event]) -> list[dict[str, Any]]:
        """Commit several events in one transaction; return the new ones as dicts."""
        rows = []
        now = self._clock()
        for event in events:
            data = {"id": event.id, **event.to_dict()}
            rows.append((event.id, event.type, event.time, json.dumps(data), now, data))
        new = []
        outbox = self.outbox_enabled
        with self.transaction() as db:
            for row in rows:
                cur = db.execute(
                    "INSERT OR IGNORE INTO events (id, type, t, payload, recorded_at) VALUES (?,?,?,?,?)", row[:5])
                if cur.rowcount:
                    new.append(row[5])
                    if outbox:  # same transaction: an event is never stored without its outbox row
                        db.execute("INSERT OR IGNORE INTO outbox (event_id, queued_at) VALUES (?,?)", (row[0], now))
                else:  # the same id again: a retry or a re-detection keeps the first; say so if they differ
                    (kept,) = db.execute("SELECT payload FROM events WHERE id = ?", (row[0],)).fetchone()
                    if kept != row[3]:
                        log.warning("event %s already stored with other values; kept %s, ignored %s",
                                    row[0], kept, row[3])
        for data in new:
            for listener in list(self._listeners):
                listener(data)
        return new

    def events(self, types: Iterable[str] | None = None, since: float | None = None,
               until: float | None = None) -> Iterator[dict[str, Any]]:
        """Stored events as dicts (with ``id`` and ``type``), in time order."""
        sql = "SELECT payload FROM events WHERE 1=1"
        args: list[Any] = []
        if types:
            types = list(types)
            sql += f" AND type IN ({','.join('?' * len(types))})"
            args += types
        if since is not None:
            sql += " AND t >= ?"
            args.append(since)
        if until is not None:
            sql += " AND t < ?"
            args.append(until)
        sql += " ORDER BY t, id"
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        for (payload,) in rows:
            yield json.loads(payload)

    def count_events(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM events").fetchone()[0]

    # -- MQTT outbox ----------------------------------------------------------
    # Events waiting for a broker's PUBACK. Rows are written by add_events in the
    # event's own transaction (when the outbox is enabled) and deleted on PUBACK.
    _DROPPED_KEY = "mqtt.outbox_dropped"

    def enable_outbox(self, enabled: bool = True) -> None:
        """Queue every event committed from now on for MQTT (the MQTT service turns this on)."""
        with self._lock:
            self.outbox_enabled = enabled

    def outbox_pending(self, limit: int | None = None, exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Queued events (stored dicts with ``id``), oldest first; ``exclude`` skips ids."""
        exclude = set(exclude)
        sql = ("SELECT e.payload FROM outbox o JOIN events e ON e.id = o.event_id ORDER BY o.seq")
        out = []
        with self._lock:
            cursor = self._db.execute(sql)
            for (payload,) in cursor:
                data = json.loads(payload)
                if data["id"] in exclude:
                    continue
                out.append(data)
                if limit is not None and len(out) >= limit:
                    break
        return out

    def outbox_count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def outbox_delete(self, event_ids: Iterable[str]) -> int:
        """Remove delivered events from the outbox (one transaction); return how many went."""
        ids = [(i,) for i in event_ids]
        if not ids:
            return 0
        with self._lock:
            before = self._db.total_changes
            with self.transaction() as db:
                db.executemany("DELETE FROM outbox WHERE event_id = ?", ids)
            return self._db.total_changes - before

    def outbox_prune(self, max_age_s: float, max_events: int) -> list[str]:
        """Drop queued events older than ``max_age_s`` and the oldest beyond ``max_events``.

        The dropped events stay in the store (only their delivery is given up); their
        number is added to :meth:`outbox_dropped`. Returns the dropped ids.
        """
        cutoff = self._clock() - max_age_s
        with self.transaction() as db:
            old = [r[0] for r in db.execute("SELECT event_id FROM outbox WHERE queued_at < ? ORDER BY seq", (cutoff,))]
            excess = [r[0] for r in db.execute(
                "SELECT event_id FROM outbox WHERE queued_at >= ? ORDER BY seq DESC LIMIT -1 OFFSET ?",
                (cutoff, max_events))]
            dropped = old + excess[::-1]
            if dropped:
                db.executemany("DELETE FROM outbox WHERE event_id = ?", [(i,) for i in dropped])
                row = db.execute("SELECT value FROM settings WHERE key = ?", (self._DROPPED_KEY,)).fetchone()
                total = (json.loads(row[0]) if row else 0) + len(dropped)
                db.execute(
                    "INSERT INTO settings (key, value, updated_at) VALUES (?,?,?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    (self._DROPPED_KEY, json.dumps(total), self._clock()))
        return dropped

    def outbox_dropped(self) -> int:
        """How many queued events were ever dropped undelivered (age or size bound)."""
        return int(self.get_setting(self._DROPPED_KEY, 0))

    # -- epochs -------------------------------------------------------------
    def add_epochs(self, epochs: Iterable[Any]) -> int:
        """Store per-epoch bed activity (objects with ``t``, ``activity``, ``presence``).

        An epoch already stored (same ``t``) is replaced: the analysis may refine the
        newest epoch once more samples arrive.
        """
        return self.add_epoch_rows([(float(e.t), float(e.activity), None if e.presence is None else float(e.presence))
                                    for e in epochs])

    def add_epoch_rows(self, rows: list[tuple[float, float, float | None]]) -> int:
        """:meth:`add_epochs` for ``(t, activity, presence)`` tuples: one transaction."""
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO epochs (t, activity, presence) VALUES (?,?,?)", rows)
        return len(rows)

    def epochs(self, since: float, until: float) -> list[tuple[float, float, float | None]]:
        """``(t, activity, presence)`` rows with ``since <= t < until``, in time order.

        Includes epochs still buffered for a batched write (see :meth:`add_epoch_source`),
        so readers see them at once.
        """
        with self._lock:
            rows = self._db.execute("SELECT t, activity, presence FROM epochs WHERE t >= ? AND t < ? ORDER BY t",
                                    (since, until)).fetchall()
        buffered = [row for source in list(self._epoch_sources) for row in source(since, until)]
        if not buffered:
            return rows
        merged = {row[0]: row for row in rows}
        merged.update((row[0], row) for row in buffered)  # a buffered epoch is the newer value
        return [merged[t] for t in sorted(merged)]

    def add_epoch_source(self, source: Callable[[float, float], list[tuple[float, float, float | None]]]) -> None:
        """Let :meth:`epochs` include rows not written yet: ``source(since, until)`` returns them."""
        self._epoch_sources.append(source)

    # -- settings -----------------------------------------------------------
    def get_setting(self, key: str, default: Any = None) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, key: str, value: Any) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES (?,?,?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (key, json.dumps(value), self._clock()))

    def delete_epochs_before(self, cutoff: float, batch: int = 500) -> int:
        """Delete epochs with ``t < cutoff``, ``batch`` rows per transaction; return how many.

        The writer lock is released between batches, so events are never held up long.
        """
        deleted = 0
        while True:
            with self.transaction() as db:
                cur = db.execute("DELETE FROM epochs WHERE t IN (SELECT t FROM epochs WHERE t < ? ORDER BY t LIMIT ?)",
                                 (cutoff, batch))
                n = cur.rowcount
            deleted += n
            if n < batch:
                return deleted

    def integrity_problems(self, full: bool = False) -> list[str]:
        """What ``PRAGMA quick_check`` (or ``integrity_check`` when ``full``) finds; [] when sound."""
        pragma = "integrity_check" if full else "quick_check"
        try:
            with self._lock:
                rows = [r[0] for r in self._db.execute(f"PRAGMA {pragma}(20)").fetchall()]
        except sqlite3.DatabaseError as exc:  # too broken even to check
            return [f"{type(exc).__name__}: {exc}"]
        return [] if rows == ["ok"] else rows

    def integrity_ok(self) -> bool:
        return not self.integrity_problems()



def copy_aside(path: str, suffix: str) -> str:
    """Copy a database file (and its WAL, if any) to ``<path>.<suffix>``; return the copy's path."""
    target = f"{path}.{suffix}"
    shutil.copy2(path, target)
    os.chmod(target, FILE_MODE)
    if os.path.exists(path + "-wal"):
        shutil.copy2(path + "-wal", target + "-wal")
        os.chmod(target + "-wal", FILE_MODE)
    return target


# -- file modes ------------------------------------------------------------------------
def private_dir(path: str | os.PathLike) -> None:
    """Create the data directory ``path`` with mode 0700 (parents as usual), or take
    group and other access away from an existing one that this user owns.

    Shared places are left as they are: a sticky directory (``/tmp``) or the home
    directory named as the data directory.
    """
    try:
        os.makedirs(path, mode=DIR_MODE)  # the mode applies to the last component only
        return
    except FileExistsError:
        if not os.path.isdir(path):
            raise
    _tighten(path, directory=True)


def private_file(path: str | os.PathLike) -> None:
    """Take group and other access away from ``path``, if it exists and this user owns it."""
    _tighten(path, directory=False)


def create_private(path: str | os.PathLike) -> None:
    """Create an empty ``path`` with mode 0600 unless it exists (SQLite takes an empty
    file for an empty database); SQLite reports a path it cannot use in its own words."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE))
    except OSError:
        pass


def private_opener(path, flags: int) -> int:
    """``open(..., opener=private_opener)``: a file it creates is the owner's only (exports)."""
    return os.open(path, flags | os.O_CLOEXEC, FILE_MODE)


def _tighten(path, *, directory: bool) -> None:
    try:
        st = os.stat(path)
    except OSError:
        return
    mode = stat.S_IMODE(st.st_mode)
    if not mode & 0o077 or st.st_uid != os.geteuid():
        return  # private already, or someone else's (root reading the service's data)
    if directory and (mode & stat.S_ISVTX or _is_home(st)):
        return
    try:
        os.chmod(path, mode & ~0o077)
    except OSError as exc:
        log.warning("cannot make %s private (mode %o): %s", path, mode & ~0o077, exc.strerror or exc)
        return
    log.info("%s was readable by other users (mode %o); now %o", path, mode, mode & ~0o077)


def _is_home(st: os.stat_result) -> bool:
    try:
        home = os.stat(os.path.expanduser("~"))
    except OSError:
        return False
    return (home.st_dev, home.st_ino) == (st.st_dev, st.st_ino)


def open_store(data_dir: str | os.PathLike) -> Store:
    """Open (creating if needed) the store in a data directory."""
    return Store(Path(data_dir))
