"""The key that signs the dashboard's session cookies: a file of its own, owner-only.

``dashboard-secret-key`` beside the database (in the data directory), mode 0600.
Whoever has the key can forge a logged-in session, so it is not kept in the database:
the database is the file that gets copied (backups, a support request). A key that an
earlier release kept in the database (the setting ``dashboard.secret_key``) moves to
the file once, so that open sessions stay valid, and is then wiped from the database.
An in-memory store keeps its key in memory, as long as the store lives.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from contextlib import closing
from pathlib import Path

from dashboard.passwords import replace_private_file
from device.storage.store import Store, private_file
from vocabulary.errors import StorageError

log = logging.getLogger(__name__)

FILE_NAME = "dashboard-secret-key"
SECRET_KEY_SETTING = "dashboard.secret_key"  # where releases before the key file kept it


def key_path(store: Store) -> Path | None:
    """The key file of ``store``'s database (None for an in-memory store)."""
    return None if store.path == ":memory:" else Path(store.path).with_name(FILE_NAME)


def secret_key(store: Store) -> str:
    """The dashboard's key for ``store``: read, moved out of the database, or made."""
    path = key_path(store)
    stored = store.get_setting(SECRET_KEY_SETTING)
    if path is None:
        if not stored:
            stored = secrets.token_hex(32)
            store.set_setting(SECRET_KEY_SETTING, stored)
        return stored
    key = _read(path)
    if key is None:
        key = stored if isinstance(stored, str) and stored else secrets.token_hex(32)
        try:
            replace_private_file(path, key + "\n")
        except OSError as exc:
            raise StorageError(f"{path}: cannot write the dashboard's secret key: {exc.strerror or exc}") from None
        if stored:
            log.info("dashboard secret key moved from the database to %s", path)
    if stored is not None:  # only once the file holds the key: a crash in between loses nothing
        _wipe_from_database(store)
    return key


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageError(f"{path}: cannot read the dashboard's secret key: {exc}") from None
    private_file(path)  # a key file copied in by hand with a looser mode
    return text or None  # an emptied file is no key: a new one is made


def _wipe_from_database(store: Store) -> None:
    """Delete the old setting with SQLite's secure_delete (its bytes are zeroed in the
    page, not just unlinked), then checkpoint, so that no copy of the database or its
    write-ahead log holds the key afterwards."""
    with store.transaction() as db:
        before = db.execute("PRAGMA secure_delete").fetchone()[0]
        db.execute("PRAGMA secure_delete = ON")
        try:
            db.execute("DELETE FROM settings WHERE key = ?", (SECRET_KEY_SETTING,))
        finally:
            db.execute(f"PRAGMA secure_delete = {int(before)}")
    try:
        with closing(sqlite3.connect(store.path, timeout=5)) as other:
            other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:  # busy readers: the log is overwritten by later commits
        log.debug("checkpoint after moving the secret key: %s", exc)
