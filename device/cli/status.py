"""``crampwatch status``: the daemon's health, its storage and MQTT, for a person.

The running daemon's live health is in its memory; it writes ``health.json`` every
few seconds (``device/runtime/health_file.py``: in the service's runtime directory, or beside
the database when run by hand). A snapshot older than :data:`STALE_S`, or
one whose process is gone, means the daemon is not running. The storage part is
read from the database itself (read-only), so it works with the daemon stopped.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from device.config import Config
from device.runtime.health_file import INTERVAL_S, find_health
from device.storage.store import DB_NAME

STALE_S = max(10.0, 5 * INTERVAL_S)


def _pid_alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user (the service's)
        return True
    return True


def db_file(config: Config) -> Path:
    path = config.data_path
    return path if path.suffix in (".sqlite3", ".db") and not path.is_dir() else path / DB_NAME


def storage_status(path: Path) -> dict:
    """Size, event counts, schema version and ``PRAGMA quick_check`` of the database."""
    out: dict = {"path": str(path), "exists": path.is_file()}
    if not out["exists"]:
        return out
    wal = Path(f"{path}-wal")
    out["size_bytes"] = path.stat().st_size
    out["wal_bytes"] = wal.stat().st_size if wal.is_file() else 0
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            out["schema_version"] = db.execute("PRAGMA user_version").fetchone()[0]
            out["events"] = db.execute("SELECT count(*) FROM events").fetchone()[0]
            out["events_by_type"] = dict(db.execute("SELECT type, count(*) FROM events GROUP BY type ORDER BY type"))
            out["outbox"] = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
            out["quick_check"] = "; ".join(r[0] for r in db.execute("PRAGMA quick_check").fetchall()[:5])
        finally:
            db.close()
    except sqlite3.Error as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


def daemon_status(config: Config, *, now: float | None = None) -> tuple[dict, dict]:
    """Whether a daemon runs on this data directory (``running``, ``pid``, ...), and the
    parts' health it last wrote."""
    now = time.time() if now is None else now
    path, snapshot = find_health(config.data_path, db_file(config))
    daemon: dict = {"running": False, "health_file": str(path)}
    if snapshot is None:
        return daemon, {}
    age = now - float(snapshot.get("written_at", 0))
    alive = _pid_alive(snapshot.get("pid"))
    daemon.update(health_age_s=round(age, 1), pid=snapshot.get("pid"), overall=snapshot.get("overall"),
                  pid_alive=alive, running=alive and -STALE_S < age < STALE_S)
    return daemon, snapshot.get("parts") or {}


def collect_status(config: Config, *, now: float | None = None) -> dict:
    """Everything ``crampwatch status`` shows, as one JSON-able dict."""
    daemon, parts = daemon_status(config, now=now)
    return {"daemon": daemon, "parts": parts, "storage": storage_status(db_file(config)),
            "mqtt": parts.get("mqtt") or {"state": "off" if config.mqtt.host is None else "unknown"},
            "mqtt_host": config.mqtt.host}


def _age(seconds) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.1f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def format_status(status: dict) -> str:
    """The text ``crampwatch status`` prints."""
    d = status["daemon"]
    lines = []
    if d["running"]:
        lines.append(f"daemon: running (pid {d['pid']}), overall {d['overall']}; "
                     f"health written {_age(d['health_age_s'])}")
    elif "health_age_s" in d:
        why = "its process is gone" if not d["pid_alive"] else "its health file is stale"
        lines.append(f"daemon: NOT RUNNING ({why}; last health {_age(d['health_age_s'])}); "
                     "the parts below are as it last saw them")
    else:
        lines.append(f"daemon: NOT RUNNING (no {d['health_file']}: never started with this data directory)")
    for name, part in status["parts"].items():
        sample = "" if part.get("last_sample_age_s") is None else f", last sample {_age(part['last_sample_age_s'])}"
        detail = f" - {part['detail']}" if part.get("detail") else ""
        lines.append(f"  {name:<15} {part['state']:<9}{detail} ({part.get('errors', 0)} errors, "
                     f"{part.get('glitches', 0)} glitches{sample})")
    s = status["storage"]
    if not s["exists"]:
        lines.append(f"storage: no database at {s['path']}")
    elif "error" in s:
        lines.append(f"storage: {s['path']}: cannot read: {s['error']}")
    else:
        by_type = ", ".join(f"{n} {t}" for t, n in s["events_by_type"].items()) or "none"
        lines.append(f"storage: {s['path']}, {_size(s['size_bytes'])} (+ {_size(s['wal_bytes'])} WAL), "
                     f"schema {s['schema_version']}, quick_check {s['quick_check']}")
        lines.append(f"  {s['events']} events ({by_type})")
    m = status["mqtt"]
    where = f" ({status['mqtt_host']})" if status["mqtt_host"] else ""
    outbox = f", {s['outbox']} events waiting in the outbox" if s.get("outbox") is not None else ""
    lines.append(f"mqtt: {m['state']}{where}{' - ' + m['detail'] if m.get('detail') else ''}{outbox}")
    return "\n".join(lines) + "\n"
