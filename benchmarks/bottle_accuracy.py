"""Bottle detector accuracy and speed on simulated days with ground truth.

``score`` matches detected to true events (same type, within ``tol_s`` of ``t``, one to
one, nearest first) and reports precision, recall, F1, the volume error of matched events
and the error of the daily intake. ``main`` runs it on many held-out seeds at 10 and 80 Hz
and prints a markdown table::

    .venv/bin/python -m benchmarks.bottle_accuracy --seeds 40 --first-seed 100

Thresholds are tuned on seeds 0-19 only; the default report uses seeds 100 and up.

``restart_latency`` restarts a detector at random moments of a demo day (the simulator's
``drink_interval_s``), feeds it half a second at a time as the daemon's worker does, and
reports how long after its put-down the first drink comes out (``--restarts``).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from sensors.bottle_detector import BottleDetector
from vocabulary.events import Drink, Refill

__all__ = ["score", "run_seed", "restart_latency", "main"]


def _kind(e) -> str:
    return "drink" if isinstance(e, Drink) else "refill" if isinstance(e, Refill) else "?"


def match(truth, detected, tol_s: float = 10.0) -> list[tuple[int, int]]:
    """One-to-one pairs ``(i_truth, i_detected)`` of the same type within ``tol_s``,
    nearest pairs first."""
    pairs = []
    for i, a in enumerate(truth):
        for j, b in enumerate(detected):
            dt = abs(a.t - b.t)
            if dt <= tol_s and _kind(a) == _kind(b):
                pairs.append((dt, i, j))
    pairs.sort()
    used_i, used_j, out = set(), set(), []
    for _, i, j in pairs:
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            out.append((i, j))
    return sorted(out)


def score(truth, detected, tol_s: float = 10.0) -> dict:
    """Precision, recall, F1, volume errors and daily-total error of ``detected``."""
    truth = sorted(truth, key=lambda e: e.t)
    detected = sorted(detected, key=lambda e: e.t)
    pairs = match(truth, detected, tol_s)
    tp = len(pairs)
    fp = len(detected) - tp
    fn = len(truth) - tp
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    errors = np.array([abs(truth[i].ml - detected[j].ml) for i, j in pairs])
    drunk_true = sum(e.ml for e in truth if isinstance(e, Drink))
    drunk_det = sum(e.ml for e in detected if isinstance(e, Drink))
    total_err = abs(drunk_det - drunk_true) / drunk_true * 100 if drunk_true else 0.0
    matched_i = {i for i, _ in pairs}
    matched_j = {j for _, j in pairs}
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "errors_ml": errors,
        "vol_err_median_ml": float(np.median(errors)) if len(errors) else 0.0,
        "vol_err_p95_ml": float(np.percentile(errors, 95)) if len(errors) else 0.0,
        "drunk_true_ml": drunk_true,
        "drunk_detected_ml": drunk_det,
        "daily_total_err_pct": total_err,
        "missed": [truth[i] for i in range(len(truth)) if i not in matched_i],
        "false": [detected[j] for j in range(len(detected)) if j not in matched_j],
        "pairs": [(truth[i], detected[j]) for i, j in pairs],
    }


def detect(t: np.ndarray, g: np.ndarray, **kw) -> tuple[list, float]:
    """All events of one trace and the seconds the detector took."""
    t0 = time.perf_counter()
    det = BottleDetector(**kw)
    events = det.feed(t, g) + det.finish()
    return events, time.perf_counter() - t0


def run_seed(seed: int, rate_hz: float, hours: float = 24.0) -> dict:
    """Simulate one day, detect, score; adds the speed as ``x_real_time``."""
    from simulator.bottle_scenario import plan_day  # the benchmark needs the simulator

    plan = plan_day(hours, seed)
    t, g = plan.render(rate_hz, seed=seed)
    events, secs = detect(t, g)
    out = score(plan.truth, events)
    out["seed"] = seed
    out["seconds"] = secs
    out["x_real_time"] = (t[-1] - t[0]) / secs if secs > 0 else float("inf")
    return out


def restart_latency(interval_s: float, restarts: int, first_seed: int = 100, rate_hz: float = 10.0,
                    feed_s: float = 0.5) -> dict:
    """Restart the detector ``restarts`` times in demo days; time its first event.

    Returns the lags (s) from the first event's put-down (its ``t``) to its emission, from
    the restart to that emission, and how many first events were wrong (no true event of
    the type within 2 s and 3 mL) or never came (within 10 intervals).
    """
    import random

    from simulator.bottle_scenario import plan_day

    lags, waits, wrong, none = [], [], 0, 0
    seeds = range(first_seed, first_seed + max(1, restarts // 10))
    for k in range(restarts):
        seed = seeds[k % len(seeds)]
        plan = plan_day(1.0, seed, drink_interval_s=interval_s)
        t, g = plan.render(rate_hz, seed=seed)
        t0 = random.Random(f"{seed}.{k}").uniform(plan.start + 60.0, plan.end - 12 * interval_s - 120.0)
        i, step = int(np.searchsorted(t, t0)), max(1, round(feed_s * rate_hz))
        end = int(np.searchsorted(t, t0 + 10 * interval_s + 60.0))
        det = BottleDetector()
        for j in range(i, end, step):
            events = det.feed(t[j : j + step], g[j : j + step])
            if events:
                e, at = events[0], float(t[min(j + step, len(t)) - 1])
                if not any(_kind(x) == _kind(e) and abs(x.t - e.t) <= 2.0 and abs(x.ml - e.ml) <= 3.0
                           for x in plan.truth):
                    wrong += 1
                lags.append(at - e.t)
                waits.append(at - t0)
                break
        else:
            none += 1
    return {"interval": interval_s, "n": restarts, "lags": np.array(lags), "waits": np.array(waits),
            "wrong": wrong, "none": none}


def latency_table(rows: list[dict]) -> str:
    """A markdown table of :func:`restart_latency` results."""
    head = (
        "| drink interval (s) | restarts | put-down to stored: median / p95 / max (s) "
        "| restart to first drink stored: median / p95 (s) | wrong | none |\n"
        "|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        lag, wait = r["lags"], r["waits"]
        if len(lag):
            lags = f"{np.median(lag):.1f} / {np.percentile(lag, 95):.1f} / {lag.max():.1f}"
            waits = f"{np.median(wait):.1f} / {np.percentile(wait, 95):.1f}"
        else:
            lags = waits = "-"
        lines.append(f"| {r['interval']:g} | {r['n']} | {lags} | {waits} | {r['wrong']} | {r['none']} |")
    return head + "\n".join(lines)


def _summary(results: list[dict]) -> dict:
    tp = sum(r["tp"] for r in results)
    fp = sum(r["fp"] for r in results)
    fn = sum(r["fn"] for r in results)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    errs = np.concatenate([r["errors_ml"] for r in results]) if results else np.zeros(0)
    return {
        "events": tp + fn,
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "med": float(np.median(errs)) if len(errs) else 0.0,
        "p95": float(np.percentile(errs, 95)) if len(errs) else 0.0,
        "total_max": max(r["daily_total_err_pct"] for r in results),
        "speed": min(r["x_real_time"] for r in results),
        "speed_median": float(np.median([r["x_real_time"] for r in results])),
    }


def table(rows: list[tuple[str, dict]]) -> str:
    """A markdown table of summaries."""
    head = (
        "| rate | seeds | events | F1 | precision | recall | vol err median (mL) "
        "| vol err p95 (mL) | daily total err max (%) | speed x real time (median) "
        "| speed x real time (slowest) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {name} | {s['n']} | {s['events']} | {s['f1']:.4f} | {s['precision']:.4f} "
        f"| {s['recall']:.4f} | {s['med']:.2f} | {s['p95']:.2f} | {s['total_max']:.2f} "
        f"| {s['speed_median']:,.0f} | {s['speed']:,.0f} |"
        for name, s in rows
    ]
    return head + "\n".join(lines)


def _describe(e) -> str:
    return f"{_kind(e)} t={e.t:.1f} ml={e.ml:.1f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=40, help="seeds at 10 Hz")
    ap.add_argument("--seeds-80", type=int, default=10, help="seeds at 80 Hz")
    ap.add_argument("--first-seed", type=int, default=100, help="held out: 100 and up")
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--verbose", action="store_true", help="list every miss and false event")
    ap.add_argument("--restarts", type=int, default=60,
                    help="detector restarts per demo drink interval (5 s and 30 s) for the latency table; 0 skips it")
    args = ap.parse_args(argv)
    rows = []
    for rate, n in ((10.0, args.seeds), (80.0, args.seeds_80)):
        if n <= 0:
            continue
        results = []
        for seed in range(args.first_seed, args.first_seed + n):
            r = run_seed(seed, rate, args.hours)
            results.append(r)
            if args.verbose:
                for e in r["missed"]:
                    print(f"seed {seed} {rate:g} Hz missed {_describe(e)}", file=sys.stderr)
                for e in r["false"]:
                    print(f"seed {seed} {rate:g} Hz false  {_describe(e)}", file=sys.stderr)
                for a, b in r["pairs"]:
                    if abs(a.ml - b.ml) > 5:
                        print(
                            f"seed {seed} {rate:g} Hz volume {_describe(a)} got {b.ml:.1f}",
                            file=sys.stderr,
                        )
        s = _summary(results)
        s["n"] = n
        rows.append((f"{rate:g} Hz", s))
    if rows:
        print(table(rows) + "\n")
    if args.restarts > 0:
        print(latency_table([restart_latency(i, args.restarts, args.first_seed) for i in (5.0, 30.0)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
