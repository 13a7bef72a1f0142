"""Backups of the database while the daemon runs, and restores checked before anything is replaced.

A backup is SQLite's online backup API (:meth:`sqlite3.Connection.backup`) from a
read-only connection of its own, in one step: one read transaction, so the copy is the
database as it stood when the backup began (every event committed before it, nothing
half-written), while the daemon goes on writing (WAL: a reader never holds up a
writer). The copy is written beside its destination under a temporary name and renamed
into place, a single self-contained file (journal mode DELETE), the owner's only.

A restore checks the file first and changes nothing when it fails: it must exist, be an
SQLite database, pass ``PRAGMA integrity_check`` and be a crampwatch database whose
schema this code knows (an older one is migrated, in a copy; a newer one is refused).
Then the current database is kept as a safety copy beside it
(``crampwatch.sqlite3.before-restore-<UTC time>``) and the backup is written into the
live database through the backup API too, never by replacing the file: SQLite makes
that one atomic write for every other connection (a running daemon's included), which
sees the old database or the restored one, never a mix. Whether to restore under a
running daemon at all is the command line's choice (``crampwatch restore --force``).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from device.storage.migrations import MIGRATIONS
from device.storage.store import SQLITE_SIDE_FILES, Store, copy_aside, create_private, private_dir
from vocabulary.errors import RestoreRefused, StorageError

SQLITE_MAGIC = b"SQLite format 3\x00"
CRAMPWATCH_TABLES = {"events", "settings"}
BUSY_TIMEOUT_S = 30.0


def read_connection(path: str | os.PathLike) -> sqlite3.Connection:
    """A read-only connection to the database file at ``path`` (it never writes to it)."""
    return sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)


def snapshot(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Copy the database at ``source`` into the file ``target`` (empty or absent): a
    consistent snapshot through the online backup API, from a read-only connection."""
    with closing(read_connection(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)  # all pages in one step: one read transaction, never restarted by a writer
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it


def backup(source: str | os.PathLike, target: str | os.PathLike) -> dict:
    """Write a backup of the database ``source`` to ``target`` (replaced atomically; a
    failed backup leaves no file); return ``{"path", "bytes", "events"}``."""
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise StorageError(f"{source}: no database to back up (the daemon creates it at its first start)")
    if target.exists() and target.resolve() == source.resolve():
        raise StorageError(f"{target}: that is the database itself; name another file")
    try:
        tmp = _private_temp(target.parent, target.name)
    except OSError as exc:
        raise StorageError(f"{target}: cannot write there: {exc.strerror or exc}") from None
    try:
        snapshot(source, tmp)
        with closing(sqlite3.connect(tmp)) as db:
            events = db.execute("SELECT count(*) FROM events").fetchone()[0]
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException as exc:
        remove_database(tmp)
        if isinstance(exc, sqlite3.Error):
            raise StorageError(f"{source}: cannot back it up: {exc}") from None
        raise
    return {"path": str(target), "bytes": target.stat().st_size, "events": events}


def check_backup(path: str | os.PathLike) -> dict:
    """Check a file to restore; return ``{"path", "schema_version", "events"}``, or raise
    :class:`RestoreRefused` naming the file and what is wrong with it."""
    path = Path(path)
    if not path.exists():
        raise RestoreRefused(f"{path}: no such file")
    if not path.is_file():
        raise RestoreRefused(f"{path}: not a file")
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise RestoreRefused(f"{path}: cannot read: {exc.strerror or exc}") from None
    if head != SQLITE_MAGIC:
        raise RestoreRefused(f"{path}: not an SQLite database (`crampwatch backup FILE` writes one)")
    try:
        with closing(read_connection(path)) as db:
            problems = [row[0] for row in db.execute("PRAGMA integrity_check(3)")]
            if problems != ["ok"]:
                found = " ".join("; ".join(problems).split())  # one line
                raise RestoreRefused(f"{path}: damaged: it failed its integrity check: {found}")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if version < 1 or not CRAMPWATCH_TABLES <= tables:
                raise RestoreRefused(f"{path}: an SQLite database, but not crampwatch's (no events and settings "
                                     "tables)")
            if version > len(MIGRATIONS):
                raise RestoreRefused(f"{path}: written by a newer crampwatch (schema version {version}; this one "
                                     f"knows up to {len(MIGRATIONS)}): upgrade crampwatch before restoring it")
            events = db.execute("SELECT count(*) FROM events").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise RestoreRefused(f"{path}: damaged: {exc}") from None
    return {"path": str(path), "schema_version": version, "events": events}


def restore(source: str | os.PathLike, database: str | os.PathLike, *, replace_damaged: bool = False,
            clock: Callable[[], float] = time.time) -> dict:
    """Restore the backup ``source`` into the database file ``database`` (see the module
    docstring); return what :func:`check_backup` found plus ``database`` and
    ``safety_copy`` (None when there was no database before).

    A live database too damaged for SQLite to write into (not a database any more) is
    replaced as a file, only with ``replace_damaged`` (no daemon has it open).
    """
    info = check_backup(source)
    database = Path(database)
    private_dir(database.parent)
    staged = _private_temp(database.parent, database.name, suffix=".sqlite3")
    try:
        snapshot(source, staged)
        try:
            Store(staged).close()  # an older schema is migrated here, in the copy
        except (sqlite3.Error, StorageError) as exc:
            raise RestoreRefused(f"{source}: cannot be brought to this crampwatch's schema: {exc}") from None
        if not database.exists():
            os.replace(staged, database)  # nothing to keep, no one to share the file with
            return info | {"database": str(database), "safety_copy": None}
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(clock()))
        safety = _safety_copy(database, f"before-restore-{stamp}")
        try:
            with closing(sqlite3.connect(staged)) as src, \
                    closing(sqlite3.connect(database, timeout=BUSY_TIMEOUT_S)) as dst:
                _match_page_size(src, dst)
                src.backup(dst)  # one write transaction into the live file: atomic for other connections
        except sqlite3.DatabaseError as exc:
            if type(exc) is not sqlite3.DatabaseError or not replace_damaged:  # busy, read-only, ...: not damage
                raise StorageError(f"{database}: cannot write the restored data into it: {exc} (the database "
                                   f"before the restore is kept as {safety})") from None
            remove_database(str(database), sides_only=True)  # the damaged file's WAL must never meet the new file
            os.replace(staged, database)
    finally:
        remove_database(staged)
    return info | {"database": str(database), "safety_copy": safety}


def _safety_copy(database: Path, suffix: str) -> str:
    """Keep the current database as ``<database>.<suffix>``: a backup when SQLite can read
    it, else a plain copy of the file and its WAL (a damaged database is kept as it is)."""
    base, n = suffix, 1
    while os.path.lexists(f"{database}.{suffix}"):  # two restores within a second keep both copies
        n += 1
        suffix = f"{base}-{n}"
    target = f"{database}.{suffix}"
    create_private(target)
    try:
        snapshot(database, target)
    except sqlite3.DatabaseError:
        remove_database(target)
        copy_aside(str(database), suffix)
    return target


def _match_page_size(src: sqlite3.Connection, dst: sqlite3.Connection) -> None:
    """A database in WAL mode cannot change its page size, so the copy takes the live one's."""
    size = dst.execute("PRAGMA page_size").fetchone()[0]
    if src.execute("PRAGMA page_size").fetchone()[0] != size:
        src.execute("PRAGMA journal_mode=DELETE")
        src.execute(f"PRAGMA page_size={int(size)}")
        src.execute("VACUUM")


def _private_temp(directory: Path, name: str, suffix: str = ".tmp") -> str:
    """A new empty file beside ``name`` in ``directory``, the owner's only."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=suffix, dir=directory)
    os.close(fd)
    return tmp


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_database(path: str, *, sides_only: bool = False) -> None:
    """Delete ``path`` and its SQLite side files (-wal, -shm, -journal), or only those."""
    for name in (() if sides_only else (path,)) + tuple(path + side for side in SQLITE_SIDE_FILES):
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass
