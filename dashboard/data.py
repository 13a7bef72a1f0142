"""Your data as files: the doctor's report, every event as CSV or JSON lines, a backup.

Each is a download (``Content-Disposition: attachment`` with a dated file name), never
cached (``Cache-Control: no-store``: it is health data), behind the same login as every
page, and limited per client (``DOWNLOAD_LIMIT`` downloads per 5 minutes, the login
limit's kind of budget): a backup reads the whole database. Files are spooled to an
unnamed temporary file beside the database (on the SD card, not in memory: a Pi Zero
2 W has 512 MB) and streamed from there. The backup is SQLite's online backup API from
a read-only connection (:mod:`device.storage.backup`), so the daemon goes on writing meanwhile.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from datetime import datetime

from flask import Blueprint, Flask, Response, current_app, request, session
from werkzeug.wsgi import wrap_file

from dashboard.api import int_arg
from dashboard.errors import ApiError
from dashboard.insights import MAX_WEEKS
from dashboard.ratelimit import AttemptLimit
from dashboard.services import services
from device.insights import report
from device.storage import export
from device.storage import backup

bp = Blueprint("data", __name__, url_prefix="/data")
DOWNLOADS_PER_CLIENT = 10
WINDOW_S = 300.0
REPORT_WEEKS = 4


def init_app(app: Flask) -> None:
    """Register the downloads and their per-client limit (``DOWNLOAD_LIMIT`` in the app's config)."""
    app.register_blueprint(bp)
    limit = app.config.get("DOWNLOAD_LIMIT", DOWNLOADS_PER_CLIENT)
    app.extensions["crampwatch.download_limit"] = AttemptLimit(per_client=limit, window_s=WINDOW_S)


@bp.get("/report.html")
def report_file():
    """The printable report for a doctor's visit (``weeks``, 1-520, default 4)."""
    weeks = int_arg("weeks", REPORT_WEEKS, 1, MAX_WEEKS)
    svc = _allowed()
    html = report.write_report(svc.store, svc.effective, weeks, now=svc.clock())
    return _download(lambda f: f.write(html.encode("utf-8")), "report", "html", "text/html; charset=utf-8")


@bp.get("/events.csv")
def events_csv():
    """Every stored event, one CSV row each (as ``crampwatch export --format csv``)."""
    svc = _allowed()
    return _download(_text(lambda out: export.write_csv(svc.store.events(), out)), "events", "csv",
                     "text/csv; charset=utf-8")


@bp.get("/events.jsonl")
def events_jsonl():
    """Every stored event, one JSON object a line (as ``crampwatch export``)."""
    svc = _allowed()
    return _download(_text(lambda out: export.write_jsonl(svc.store.events(), out)), "events", "jsonl",
                     "application/x-ndjson; charset=utf-8")


@bp.get("/backup.sqlite3")
def backup_file():
    """A consistent copy of the database, to keep or to restore with ``crampwatch restore``."""
    svc = _allowed()
    if svc.store.path == ":memory:":
        raise ApiError(409, "this dashboard's database is in memory: there is no file to back up")
    return _download(None, "backup", "sqlite3", "application/vnd.sqlite3", snapshot_of=svc.store.path)


def _allowed():
    """The services, once this client may download again (429 with Retry-After otherwise)."""
    browser = session.get("browser")
    key = f"browser:{browser}" if isinstance(browser, str) else f"addr:{request.remote_addr or '?'}"
    wait = current_app.extensions["crampwatch.download_limit"].begin(key)
    if wait:
        raise ApiError(429, f"Too many downloads. Try again in {wait} s.", headers={"Retry-After": str(wait)})
    return services()


def _text(write: Callable) -> Callable:
    """A binary file writer from a text one (UTF-8, no newline translation)."""
    def fill(f) -> None:
        out = io.TextIOWrapper(f, encoding="utf-8", newline="")
        write(out)
        out.flush()
        out.detach()
    return fill


def _download(fill: Callable | None, what: str, ext: str, content_type: str, *, snapshot_of: str | None = None):
    """Spool a file (``fill(binary_file)``, or a database snapshot) and send it as an attachment."""
    svc = services()
    spool = None if svc.store.path == ":memory:" else os.path.dirname(os.path.abspath(svc.store.path))
    fd, path = tempfile.mkstemp(prefix=".download-", suffix=f".{ext}", dir=spool)  # 0600, on disk
    f = os.fdopen(fd, "w+b")
    try:
        if snapshot_of is not None:
            backup.snapshot(snapshot_of, path)
        else:
            fill(f)
        f.seek(0)
    except BaseException:
        f.close()
        raise
    finally:
        backup.remove_database(path)  # the open file stays readable; nothing is left behind
    day = datetime.fromtimestamp(svc.clock(), svc.effective.tz).date().isoformat()
    response = Response(wrap_file(request.environ, f), content_type=content_type, direct_passthrough=True)
    response.content_length = os.fstat(f.fileno()).st_size
    response.headers.set("Content-Disposition", "attachment", filename=f"crampwatch-{what}-{day}.{ext}")
    response.headers["Cache-Control"] = "no-store"
    return response
