"""The counts path on real recordings: our sleep periods against Actiware's REST intervals.

The recordings are the Actiware exports that ship as test data inside the PyPI wheel of
pyActigraphy 1.2.2 (GPL-3.0; fetched into a cache, never committed, never imported):
English, French (60 s epochs), German, German with light. Actiware's REST intervals
come from each epoch's interval status (REST, REST-S and their French and German names),
which always belongs to the data; the statistics section of the German export with
light lists another recording's intervals (January 2020 for data of September 2019).

Scored: our rest interval around each sleep period (``rest`` of the sleep event: from
the evening's last activity to the morning's first) against Actiware's; a REST interval
is matched when one of ours overlaps it and starts and
ends within 30 min of it; every period of ours that matches no REST interval is an
extra one (reported per week of recording). Leave one recording out: the bed-time burst's
window and level (:class:`sensors.night_analysis.CountsParams` ``burst_s``, ``burst_x``)
are chosen on the other recordings (the most matches, then the fewest extras) and
reported on the one left out (the wake threshold itself stays Actiware's 40). The form
of the rule (a burst, then quiet; the rest starts after the burst's last active epoch)
was found by looking at these same four recordings: the held-out figure tests the two
settings, not the form, which our own held-out recordings must confirm::

    .venv/bin/python -m benchmarks.actigraphy_rest
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from sensors.actiware import load_actiware
from sensors.night_analysis import CountsParams, analyze_counts

__all__ = ["fetch", "rest_intervals", "score", "main"]

WHEEL = "pyActigraphy==1.2.2"
FILES = ("test_sample_rpx_eng.csv", "test_sample_rpx_fr.csv", "test_sample_rpx_ger_no_light.csv",
         "test_sample_rpx_ger_with_light.csv")
REST_STATUS = {"rest", "rest-s", "repos", "s-repos", "ruhe", "ruhe-s"}
# the settings chosen on the other recordings: (the bed-time burst's window in minutes,
# its level as a multiple of the wake threshold); see CountsParams
GRID = tuple((m, x) for m in (10.0, 15.0, 20.0) for x in (1.5, 2.0, 2.5))


def _cache() -> Path:
    return Path(os.environ.get("CRAMPWATCH_TEST_CACHE") or Path.home() / ".cache" / "crampwatch-test-data")


def fetch(name: str) -> Path:
    """One recording out of the pyActigraphy wheel, cached."""
    cache = _cache()
    target = cache / name
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("pyActigraphy-1.2.2-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", WHEEL,
                        "-d", str(cache)], check=True, capture_output=True, timeout=300)
        wheels = sorted(cache.glob("pyActigraphy-1.2.2-*.whl"))
    with zipfile.ZipFile(wheels[0]) as z:
        data = z.read(f"pyActigraphy/tests/data/{name}")
    tmp = target.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


def rest_intervals(rec) -> np.ndarray:
    """Actiware's REST intervals from the epochs' interval status, ``(n, 2)`` UTC seconds."""
    rest = np.array([s.strip().lower() in REST_STATUS for s in rec.status])
    d = np.diff(np.r_[0, rest.astype(np.int8), 0])
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return np.array([(rec.t[a], rec.t[b - 1] + rec.epoch_s) for a, b in zip(starts, ends)]).reshape(-1, 2)


def score(periods: list, rest: np.ndarray, tol_s: float = 1800.0) -> dict:
    """Matches within ``tol_s`` at both ends, extra periods, and the errors of each REST."""
    used, hits, errors = set(), 0, []
    for a, b in rest:
        best = None
        for i, p in enumerate(periods):
            if p.start < b and p.end > a and i not in used:
                e = (p.start - a, p.end - b)
                if best is None or abs(e[0]) + abs(e[1]) < abs(best[1][0]) + abs(best[1][1]):
                    best = (i, e)
        if best is not None and abs(best[1][0]) <= tol_s and abs(best[1][1]) <= tol_s:
            hits += 1
            used.add(best[0])
        errors.append(None if best is None else best[1])
    # a period that overlaps no REST interval at all is an extra one (a nap, a watch left still)
    extra = sum(1 for p in periods if not any(p.start < b and p.end > a for a, b in rest))
    return {"rest": len(rest), "hits": hits, "extra": extra, "errors": errors}


@dataclass(frozen=True)
class _Span:
    start: float
    end: float


def run(rec, params: CountsParams) -> dict:
    events = analyze_counts(rec.t, rec.counts, params, epoch_s=rec.epoch_s)
    periods = [_Span(*e.rest) if e.rest else e for e in events if e.type == "sleep"]
    out = score(periods, rest_intervals(rec))
    out["weeks"] = (rec.t[-1] - rec.t[0] + rec.epoch_s) / (7 * 86400)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.parse_args(argv)
    recs = {name: load_actiware(fetch(name)) for name in FILES}
    base = CountsParams()
    grid = {g: replace(base, burst_s=g[0] * 60.0, burst_x=g[1]) for g in GRID}
    default = (base.burst_s / 60.0, base.burst_x)
    results = {name: {s: run(rec, p) for s, p in grid.items()} for name, rec in recs.items()}
    print("| recording (held out) | epoch | REST intervals | matched within 30 min | extra periods | "
          "extra / week | setting chosen on the others (burst window min, burst level x threshold) |\n|---|---|---|---|---|---|---|")
    total = {"rest": 0, "hits": 0, "extra": 0, "weeks": 0.0}
    for name, rec in recs.items():
        others = [n for n in recs if n != name]
        chosen = max(GRID, key=lambda g: (sum(results[n][g]["hits"] for n in others),
                                          -sum(results[n][g]["extra"] for n in others), g == default))
        r = results[name][chosen]
        for k in total:
            total[k] += r[k]
        print(f"| {name} | {rec.epoch_s:.0f} s | {r['rest']} | {r['hits']} | {r['extra']} | "
              f"{r['extra'] / r['weeks']:.1f} | {chosen[0]:g}, {chosen[1]:g} |")
    print(f"| **all** | | {total['rest']} | {total['hits']} ({100 * total['hits'] / max(1, total['rest']):.0f} %) "
          f"| {total['extra']} | {total['extra'] / total['weeks']:.1f} | |")
    print("\nEvery setting on every recording (matched / REST, extra):\n")
    print("| recording | " + " | ".join(f"{q:g}, {r:g}" for q, r in GRID) + " |\n|---|" + "---|" * len(GRID))
    for name in recs:
        print(f"| {name} | " + " | ".join(f"{results[name][g]['hits']}/{results[name][g]['rest']}, "
                                         f"{results[name][g]['extra']}" for g in GRID) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
