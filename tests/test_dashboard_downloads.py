"""The Health page's downloads: the doctor's report, the events as CSV and JSON lines,
and a backup of the database; attachments named with the date, never cached, behind
the login, limited per client."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from werkzeug.security import generate_password_hash

from dashboard import create_app
from device.storage.store import Store
from simulator.history import seed_history
from tests.test_dashboard_fixtures import NOW, PASSWORD, TZ, login, make_config, store  # noqa: F401  (fixture)

DAY = "2026-11-25"  # the fixtures' clock, in Berlin
DOWNLOADS = {
    "/data/report.html": (f"crampwatch-report-{DAY}.html", "text/html"),
    "/data/events.csv": (f"crampwatch-events-{DAY}.csv", "text/csv"),
    "/data/events.jsonl": (f"crampwatch-events-{DAY}.jsonl", "application/x-ndjson"),
    "/data/backup.sqlite3": (f"crampwatch-backup-{DAY}.sqlite3", "application/vnd.sqlite3"),
}
CHEAP_HASH = generate_password_hash(PASSWORD, method="scrypt:1024:8:1")
LAN, OTHER_LAN = "192.168.1.20", "192.168.1.66"


@pytest.fixture
def file_store(tmp_path):
    """A database file (a backup needs one) with 30 days of history."""
    with Store(tmp_path / "data", clock=lambda: NOW) as db:
        seed_history(db, 30, end=NOW, tz=TZ, seed=3)
        yield db


def make_app(db, **test_config):
    return create_app(make_config(device={"data_dir": str(db.path), "timezone": "Europe/Berlin"}), store=db,
                      clock=lambda: NOW, test_config={"TESTING": True, **test_config})


def get(client, url):
    with client.get(url) as response:  # closes the spooled file
        response.get_data()
        return response


@pytest.mark.parametrize("url", DOWNLOADS)
def test_each_download_is_an_attachment_named_with_the_date_and_never_cached(file_store, url):
    response = get(make_app(file_store).test_client(), url)
    name, mimetype = DOWNLOADS[url]
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Disposition"] == f"attachment; filename={name}"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == mimetype
    assert int(response.headers["Content-Length"]) == len(response.get_data()) > 0
    assert not [p for p in Path(file_store.path).parent.iterdir() if p.name.startswith(".download-")]  # spool gone


def test_the_csv_and_jsonl_downloads_hold_every_stored_event(file_store):
    client = make_app(file_store).test_client()
    ids = [e["id"] for e in file_store.events()]
    rows = list(csv.DictReader(io.StringIO(get(client, "/data/events.csv").get_data(as_text=True))))
    lines = [json.loads(line) for line in get(client, "/data/events.jsonl").get_data(as_text=True).splitlines()]
    assert [r["id"] for r in rows] == [e["id"] for e in lines] == ids and len(ids) > 300
    drink = next(e for e in lines if e["type"] == "drink")
    assert drink["source"] == "bottle" and drink["kind"] == "water"
    assert {r["type"] for r in rows} >= {"drink", "refill", "sleep", "wake"}


def test_the_report_download_is_the_doctors_report_for_the_weeks_asked(file_store):
    client = make_app(file_store).test_client()
    html = get(client, "/data/report.html?weeks=2").get_data(as_text=True)
    assert html.startswith("<!doctype html>") and "(2 weeks)" in html and 'id="doctor"' in html
    assert "(4 weeks)" in get(client, "/data/report.html").get_data(as_text=True)
    assert get(client, "/data/report.html?weeks=0").status_code == 400


def test_the_backup_download_is_a_sound_copy_of_the_database(file_store, tmp_path):
    response = get(make_app(file_store).test_client(), "/data/backup.sqlite3")
    copy = tmp_path / "downloaded.sqlite3"
    copy.write_bytes(response.get_data())
    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM events").fetchone()[0] == file_store.count_events()
        assert db.execute("PRAGMA user_version").fetchone()[0] == file_store.schema_version


def test_a_backup_of_an_in_memory_store_is_a_clear_409(store):  # noqa: F811  (the fixture)
    app = create_app(make_config(), store=store, clock=lambda: NOW, test_config={"TESTING": True})
    response = get(app.test_client(), "/data/backup.sqlite3")
    assert response.status_code == 409 and "in memory" in response.get_data(as_text=True)
    assert "Content-Disposition" not in response.headers


def test_the_health_page_links_every_download(file_store):
    html = get(make_app(file_store).test_client(), "/health").get_data(as_text=True)
    assert 'id="data"' in html
    for url in DOWNLOADS:
        assert f'href="{url}' in html


@pytest.mark.parametrize("url", DOWNLOADS)
def test_downloads_need_a_login_when_a_password_is_set(file_store, url):
    app = make_app(file_store, PASSWORD_HASH=CHEAP_HASH)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = LAN
    response = get(client, url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "Content-Disposition" not in response.headers
    assert login(client).status_code == 302
    response = get(client, url)
    assert response.status_code == 200 and response.headers["Content-Disposition"].startswith("attachment")


def test_downloads_from_the_network_are_refused_without_a_password(file_store):
    client = make_app(file_store).test_client()
    client.environ_base["REMOTE_ADDR"] = LAN
    response = get(client, "/data/backup.sqlite3")
    assert response.status_code == 403 and "Content-Disposition" not in response.headers


def test_downloads_are_limited_per_client(file_store):
    app = make_app(file_store, DOWNLOAD_LIMIT=2)
    client = app.test_client()
    assert [get(client, url).status_code for url in ("/data/events.csv", "/data/backup.sqlite3")] == [200, 200]
    refused = get(client, "/data/backup.sqlite3")
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 300
    assert "Content-Disposition" not in refused.headers and "Too many downloads" in refused.get_data(as_text=True)
    assert refused.headers["Cache-Control"] == "no-store"
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "::1"  # another client has its own budget
    assert get(other, "/data/events.csv").status_code == 200
