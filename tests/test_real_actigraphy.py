"""The night analysis on a real recording: a week of Actiwatch 2 data exported by Actiware.

The recording ships inside the PyPI wheel of pyActigraphy 1.2.2 (GPL-3.0) as test data;
we download the wheel at test time into a cache and read the CSV out of it. We never
import pyActigraphy and never commit the data. Without network the test fails in CI
(``CI=true``) and is skipped elsewhere.

Cache: ``$CRAMPWATCH_TEST_CACHE`` or ``~/.cache/crampwatch-test-data``.
"""

from __future__ import annotations

import os
import subprocess
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from benchmarks.actigraphy_rest import WHEEL, fetch
from sensors.actiware import load_actiware, read_actiware
from sensors.night_analysis import analyze_counts
from sensors.night_periods import score_counts, to_grid
from vocabulary.events import Sleep, Wake

MEMBER = "pyActigraphy/tests/data/test_sample_rpx_eng.csv"


def _fetch() -> Path:
    return fetch(Path(MEMBER).name)


@pytest.fixture(scope="module")
def rpx() -> Path:
    try:
        return _fetch()
    except (OSError, subprocess.SubprocessError, zipfile.BadZipFile, KeyError, IndexError) as exc:
        message = f"cannot fetch the Actiware sample recording ({WHEEL}): {exc}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)


def _utc(s: str) -> float:
    return datetime.strptime(s, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc).timestamp()


def test_reads_the_actiware_export(rpx):
    rec = load_actiware(rpx)
    t, counts, rest, scoring = read_actiware(rpx)
    assert len(t) == 20160 and rec.epoch_s == 30.0
    assert np.all(np.diff(t) == 30.0)
    # local times (UTC+01:00 in the header) come out in UTC
    assert t[0] == _utc("2015-07-04 08:45")
    assert rest.shape == (7, 2)
    assert rest[0, 0] == _utc("2015-07-04 20:05") and rest[0, 1] == _utc("2015-07-05 05:57")
    assert np.isfinite(counts).all() and counts.max() > 1000
    assert set(np.unique(scoring[np.isfinite(scoring)])) == {0.0, 1.0}


def test_epoch_scoring_reproduces_actiware(rpx):
    t, counts, rest, scoring = read_actiware(rpx)
    _, c, epoch = to_grid(t, counts)
    awake = score_counts(c, epoch, 40.0)
    ok = np.isfinite(scoring)
    agreement = np.mean(awake[ok] == (scoring[ok] == 1))
    print(f"epoch sleep/wake agreement with Actiware: {100 * agreement:.2f}% of {ok.sum()} epochs")
    assert agreement >= 0.99


def _match(periods, rest, tol_s=1800.0):
    """REST intervals matched by a sleep period within ``tol_s`` at both ends."""
    out = []
    for a, b in rest:
        errs = [(p.start - a, p.end - b) for p in periods if p.start < b and p.end > a]
        best = min(errs, key=lambda e: abs(e[0]) + abs(e[1]), default=None)
        out.append(best)
    hits = sum(1 for e in out if e is not None and abs(e[0]) <= tol_s and abs(e[1]) <= tol_s)
    return hits, out


def test_sleep_periods_match_the_rest_intervals(rpx):
    t, counts, rest, scoring = read_actiware(rpx)
    events = analyze_counts(t, counts)
    periods = [e for e in events if isinstance(e, Sleep)]
    wakes = [e for e in events if isinstance(e, Wake)]
    assert len(periods) == len(rest) == 7
    hits, errors = _match(periods, rest)
    for (a, b), e in zip(rest, errors):
        print(f"REST {datetime.fromtimestamp(a, timezone.utc):%m-%d %H:%M}: start {e[0] / 60:+.0f} min, end {e[1] / 60:+.0f} min")
    print(f"{hits} of {len(rest)} REST intervals matched within 30 min at both ends")
    # night 5's REST starts with 146 min of exact zero counts right after activity: a
    # watch taken off (Choi no-wear), so our sleep starts when it is worn again
    assert hits >= 6
    # every wake lies inside its sleep period, none is out of bed (a wrist cannot tell)
    for w in wakes:
        assert any(p.start <= w.start < w.end <= p.end for p in periods)
        assert w.bed_exit is False and 0.0 <= w.score <= 1.0


def test_night_labels_agree_with_actiware_inside_rest(rpx):
    """Asleep = inside our sleep period and not inside one of its wakes, epoch by epoch."""
    t, counts, rest, scoring = read_actiware(rpx)
    events = analyze_counts(t, counts)
    mid = t + 15.0
    ours = np.zeros(len(t), dtype=bool)
    for e in events:
        if isinstance(e, Sleep):
            ours |= (mid >= e.start) & (mid < e.end)
    for e in events:
        if isinstance(e, Wake):
            ours &= ~((mid >= e.start) & (mid < e.end))
    in_rest = np.zeros(len(t), dtype=bool)
    for a, b in rest:
        in_rest |= (mid >= a) & (mid < b)
    ok = np.isfinite(scoring)
    agreement = np.mean(ours[ok] == (scoring[ok] == 0))
    rest_agreement = np.mean(ours[ok & in_rest] == (scoring[ok & in_rest] == 0))
    print(f"night labels vs Actiware's epoch scores: {100 * agreement:.1f}% of all epochs, "
          f"{100 * rest_agreement:.1f}% inside REST intervals")
    assert agreement >= 0.85 and rest_agreement >= 0.80


@pytest.fixture(scope="module")
def other_exports() -> dict:
    """The French (60 s epochs) and German exports of the same wheel."""
    names = ("test_sample_rpx_fr.csv", "test_sample_rpx_ger_no_light.csv", "test_sample_rpx_ger_with_light.csv")
    try:
        return {name: load_actiware(fetch(name)) for name in names}
    except (OSError, subprocess.SubprocessError, zipfile.BadZipFile, KeyError, IndexError) as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"cannot fetch the Actiware sample recordings ({WHEEL}): {exc}")
        pytest.skip(f"cannot fetch the Actiware sample recordings ({WHEEL}): {exc}")


def test_rest_intervals_of_all_four_exports_match_actiwares(rpx, other_exports):
    """Issue 13's bar on real recordings, with the defaults: at least 70 % of Actiware's
    REST intervals matched within 30 min at both ends, at most one extra period a week
    (benchmarks/actigraphy_rest.py reports the same leaving one recording out)."""
    from benchmarks.actigraphy_rest import run
    from sensors.night_analysis import CountsParams

    recs = dict(other_exports, eng=load_actiware(rpx))
    results = [run(rec, CountsParams()) for rec in recs.values()]
    hits, rest = sum(r["hits"] for r in results), sum(r["rest"] for r in results)
    extra, weeks = sum(r["extra"] for r in results), sum(r["weeks"] for r in results)
    print(f"{hits} of {rest} REST intervals matched, {extra} extra periods in {weeks:.1f} weeks")
    assert hits >= 0.7 * rest and extra <= weeks


def test_a_still_sleeper_and_quiet_days_give_one_night_a_day_and_no_daytime_sleep(other_exports):
    """The French export: a still sleeper whose wrist gives zero counts for hours at night
    (no-wear by Choi's 90 min rule) and quiet days under the wake threshold."""
    from benchmarks.actigraphy_rest import rest_intervals, score

    for name, rec in other_exports.items():
        events = analyze_counts(rec.t, rec.counts, epoch_s=rec.epoch_s)
        sleeps = [e for e in events if isinstance(e, Sleep)]
        mids = sorted((e.start + e.end) / 2 for e in sleeps)
        assert all(b - a >= 16 * 3600 for a, b in zip(mids, mids[1:])), name  # one main sleep a day
        rest = rest_intervals(rec)
        result = score(sleeps, rest)
        weeks = (rec.t[-1] - rec.t[0]) / (7 * 86400)
        assert result["extra"] <= weeks, (name, result)  # at most one extra period a week
        for e in sleeps:
            assert e.evidence == "counts" and e.rest[0] <= e.start < e.end <= e.rest[1]
    fr = other_exports["test_sample_rpx_fr.csv"]
    sleeps = [e for e in analyze_counts(fr.t, fr.counts, epoch_s=fr.epoch_s) if isinstance(e, Sleep)]
    assert score(sleeps, rest_intervals(fr))["hits"] >= 4  # of 6 (none before: non-wear cut the nights)
