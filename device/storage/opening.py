"""Opening the database at daemon start, with the integrity check of ``storage.integrity_check``.

A database that fails the check (or is not a database at all) is not written to: a
copy is kept beside it (``crampwatch.sqlite3.corrupt-<UTC time>``), health ``storage``
turns ``failed`` with the reason, and :class:`StorageCorrupt` stops the start, which
``crampwatch run`` reports with exit status 2, so systemd does not restart it in a loop
(``RestartPreventExitStatus=2``). Starting afresh on an empty database would hide the
person's history behind a device that looks fine; the message says how to do either.
"""

from __future__ import annotations

import logging
import os
import time

from device.health import Health
from device.storage.store import Store, StorageCorrupt, copy_aside

log = logging.getLogger(__name__)


def open_checked(path, mode: str, health: Health) -> Store:
    """The store at ``path``, checked per ``mode`` ("quick", "full", "off") before any write."""
    try:
        return Store(path, check="off" if str(path) == ":memory:" else mode)
    except StorageCorrupt as exc:
        db = _db_file(path)
        suffix = "corrupt-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        try:
            copy = copy_aside(db, suffix)
            kept = (f"a copy was kept as {copy} (what is readable in it can be salvaged with "
                    f"'sqlite3 {copy} .recover | sqlite3 recovered.sqlite3')")
        except OSError as copy_exc:
            kept = f"no copy could be made ({copy_exc})"
        message = (f"{exc}. crampwatch will not write to a damaged database; {kept}. "
                   f"To go on, restore a backup to {db} (crampwatch restore FILE), or move that file away to start "
                   f"with an empty database")
        log.error("%s", message)
        health.set("storage", "failed", message)
        raise StorageCorrupt(message) from exc


def _db_file(path) -> str:
    from device.storage.store import DB_NAME

    path = str(path)
    if os.path.isdir(path) or not path.endswith((".sqlite3", ".db")):
        return os.path.join(path, DB_NAME)
    return path
