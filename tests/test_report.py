"""The doctor's-visit report (self-contained HTML) and the CSV summaries, through the CLI too."""

from __future__ import annotations

import csv
import re
import time
from datetime import date, timedelta

import pytest

from device.cli.main import main
from device.insights import report
from device.storage.store import Store
from simulator.history import seed_history
from tests.test_insights import FIRST, TZ, at, config, plant, week


def read_csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def planted():
    store = Store(":memory:")
    plant(store, 70, seed=11)
    return store, at(FIRST + timedelta(days=70), 10.0)


def test_the_report_is_self_contained_and_has_every_section(planted):
    store, now = planted
    html = report.write_report(store, config(), 8, now=now)
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    assert not re.search(r"https?:", html) and "<script" not in html and "<link" not in html
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)""", html)  # nothing to fetch
    for section in ('id="doctor"', 'id="summary"', 'id="nights-chart"', 'id="comparisons"', 'id="weeks"',
                    'id="night-table"'):
        assert section in html
    assert html.count("<svg") >= 3  # nights chart and the comparisons' bars
    for words in ("Intake goal", "Stretching before bed", "Fisher's exact test", "not a diagnosis", "@media print",
                  "weakness, swelling or numbness"):
        assert words in html
    assert "Nights after 2026-03-15 to 2026-05-09 (8 weeks)" in html
    assert html.count("<tr><td>2026-") == 56 + 9  # 56 nights and the 9 ISO weeks they touch


def test_the_report_shows_a_raised_doctor_flag():
    store = Store(":memory:")
    now = week(store, {0, 2, 4})
    html = report.write_report(store, config(), 1, now=now)
    assert 'class="doctor"' in html and "Cramps woke you on 3 of the last 7 nights." in html
    assert "Not enough nights yet: 7 recorded nights, 28 needed (21 more)." in html


def test_summaries_csv(planted, tmp_path):
    store, now = planted
    daily, nightly = report.write_summaries(store, config(), tmp_path / "out", now=now)
    days, nights = read_csv(daily), read_csv(nightly)
    assert len(days) == len(nights) == 70
    assert list(days[0]) == report.DAY_COLUMNS and days[0]["date"] == FIRST.isoformat()
    assert nights[0]["night"] == FIRST.isoformat() and nights[0]["morning"] == (FIRST + timedelta(days=1)).isoformat()
    assert nights[0]["sleep_start"].startswith("2026-03-01T23:") and nights[0]["sleep_start"].endswith("+01:00")
    assert {n["cramp_night"] for n in nights} == {"true", "false"}
    assert float(days[0]["intake_ml"]) == pytest.approx(float(nights[0]["day_intake_ml"]))


def test_report_and_export_summaries_commands(tmp_path, capsys):
    data = tmp_path / "data"
    with Store(data) as store:
        seed_history(store, 20, end=time.time(), tz=TZ, seed=2)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[device]\ntimezone = "Europe/Berlin"\n')
    out = tmp_path / "r.html"
    assert main(["report", "--config", str(cfg), "--data-dir", str(data), "--weeks", "2", "--out", str(out)]) == 0
    html = out.read_text()
    assert "Night leg cramps" in html and "(2 weeks)" in html
    assert main(["report", "--config", str(cfg), "--data-dir", str(data), "--weeks", "0"]) == 2
    assert "--weeks must be between 1 and 520" in capsys.readouterr().err
    assert main(["export", "--config", str(cfg), "--data-dir", str(data), "--summaries", str(tmp_path / "s")]) == 0
    assert (tmp_path / "s" / "daily.csv").exists() and (tmp_path / "s" / "nightly.csv").exists()
    last = read_csv(tmp_path / "s" / "nightly.csv")[-1]
    assert date.fromisoformat(last["night"]) >= date.today() - timedelta(days=2)
