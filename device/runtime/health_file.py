"""The daemon's health loop: a ``health.json`` snapshot for ``crampwatch status``.

The live health lives in the daemon's memory; ``crampwatch status`` (another
process) reads this file instead. It is replaced atomically (temp file, fsync-free
``os.replace``) every few seconds, so a reader never sees half a file, and its
``written_at`` tells how old it is: a stale file means the daemon is not running.
The loop's heartbeat is also what the systemd watchdog checks.

Where: under systemd, in the service's ``RuntimeDirectory`` (``$RUNTIME_DIRECTORY``,
``/run/crampwatch``, a tmpfs). Rewritten every 2 s, the file would otherwise be the SD
card's busiest writer (about 7 MiB an hour of data and journal blocks, several times
what the database writes). Run by hand, the daemon writes it beside the database.
``crampwatch status`` looks in both places and takes the newest snapshot of its
database.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from device.storage.files import replace_file

log = logging.getLogger(__name__)

FILE_NAME = "health.json"
INTERVAL_S = 2.0
SERVICE_RUNTIME_DIR = Path("/run/crampwatch")  # the unit's RuntimeDirectory=crampwatch


class HealthWriter:
    """Writes ``snapshot()`` to ``path`` every ``interval`` seconds on a thread.

    ``path`` None runs the loop (the heartbeat) without writing (an in-memory store).
    """

    def __init__(self, path: Path | None, snapshot: Callable[[], dict], *, interval: float = INTERVAL_S):
        self.path = path
        self._snapshot = snapshot
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_beat: float | None = None  # time.monotonic() of the last completed round
        self.write_errors = 0

    def start(self) -> None:
        self.beat()  # the first file is there when start() returns
        self._thread = threading.Thread(target=self._run, name="health-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def beat(self) -> None:
        """Take one snapshot and write it; a failed write (disk full) is logged, not raised."""
        try:
            data = self._snapshot()
            if self.path is not None:
                write_atomic(self.path, data)
        except Exception as exc:  # noqa: BLE001 - health must never take the daemon down
            self.write_errors += 1
            if self.write_errors == 1 or self.write_errors % 100 == 0:
                log.warning("cannot write %s: %s: %s", self.path, type(exc).__name__, exc)
        self.last_beat = time.monotonic()

    def alive(self) -> bool:
        """True while the loop runs and has beaten recently (what the watchdog checks)."""
        if self._thread is None or not self._thread.is_alive() or self.last_beat is None:
            return False
        return time.monotonic() - self.last_beat < max(3 * self.interval, 10.0)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def write_atomic(path: Path, data: dict) -> None:
    """Replace ``path`` with ``data`` as JSON; readers see the old or the new file, never
    half. The owner's only, like the database beside it; rewritten every few seconds, so
    not fsynced."""
    replace_file(path, json.dumps(data, indent=1, sort_keys=True), mode=0o600, fsync=False)


def daemon_snapshot(daemon) -> dict:
    """What the daemon writes: overall state, every part's health, pid and time."""
    store = daemon.store
    return {
        "written_at": time.time(),
        "pid": os.getpid(),
        "simulate": daemon.simulate,
        "overall": daemon.health.overall,
        "parts": daemon.health.snapshot(),
        "db_path": None if store is None else store.path,
    }


def health_path(data_path: Path) -> Path:
    """Where the snapshot lives: beside the database (``data_dir`` may name the file itself)."""
    data_path = Path(data_path)
    if data_path.suffix in (".sqlite3", ".db") and not data_path.is_dir():
        return data_path.with_name(FILE_NAME)
    return data_path / FILE_NAME


def runtime_health_path() -> Path | None:
    """The snapshot's place in the service's runtime directory, when systemd gave one."""
    env = os.environ.get("RUNTIME_DIRECTORY", "")
    return Path(env.split(":")[0]) / FILE_NAME if env else None


def daemon_health_path(data_path: Path) -> Path:
    """Where this daemon writes its snapshot: the runtime directory, or beside the database."""
    return runtime_health_path() or health_path(data_path)


def find_health(data_path: Path, db_path: Path) -> tuple[Path, dict | None]:
    """The newest snapshot of the daemon using ``db_path``: (its file, its contents).

    Looks beside the database and in the runtime directory (``$RUNTIME_DIRECTORY`` or
    the service's ``/run/crampwatch``); a snapshot naming another database is not ours.
    With none, the file beside the database and None.
    """
    beside = health_path(data_path)
    found: list[tuple[float, Path, dict]] = []
    for path in dict.fromkeys([beside, runtime_health_path() or SERVICE_RUNTIME_DIR / FILE_NAME]):
        data = read_health(path)
        if data is None:
            continue
        named = data.get("db_path")
        if named and _resolved(named) != _resolved(db_path):
            continue
        found.append((float(data.get("written_at") or 0.0), path, data))
    if not found:
        return beside, None
    _, path, data = max(found, key=lambda f: f[0])
    return path, data


def _resolved(path) -> Path:
    try:
        return Path(path).resolve()
    except OSError:
        return Path(path)


def read_health(path: Path) -> dict | None:
    """The snapshot at ``path``, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
