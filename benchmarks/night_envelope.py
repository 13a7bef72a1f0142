"""The night analysis over nights whose physics is drawn from wide ranges: the envelope.

Each seed's night gets its own physics (:mod:`simulator.night_physics`: noise 1-10 mg,
breathing coupling 0.2-5 mg, heartbeat, posture, frame tilt and resonance, movement
scale x0.3-x3, 0-2 % drop-outs in bursts, a partner, 25/50/100 Hz, either chip). The
nights are analysed as ``crampwatch replay bed`` would (the whole trace, missing samples
left out) and scored against the simulator's ground truth with
:func:`benchmarks.night_accuracy.score`. The report is by parameter bin, with the worst
bin last::

    .venv/bin/python -m benchmarks.night_envelope               # 240 held-out nights
    .venv/bin/python -m benchmarks.night_envelope --tune --seeds 120

Tune on ``--tune`` (seeds from 0); the figures reported are from the held-back seeds
(100000 and up), never looked at while tuning.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.night_accuracy import detect, score
from simulator.night_physics import REPORT_SEEDS, TUNE_SEEDS, draw, drop_samples

__all__ = ["run_night", "bins_of", "envelope", "main"]

# title: (physics key, [(label, low, high)]); a bin holds low <= value < high (== for labels of one value)
BINS = {
    "noise mg": ("noise_mg", [("1-2.5", 1.0, 2.5), ("2.5-5", 2.5, 5.0), ("5-10", 5.0, 10.01)]),
    "breathing mg": ("breath_mg", [("0.2-0.5", 0.2, 0.5), ("0.5-1.5", 0.5, 1.5), ("1.5-5", 1.5, 5.01)]),
    "rate Hz": ("rate_hz", [("25", 25.0, None), ("50", 50.0, None), ("100", 100.0, None)]),
    "drop-outs %": ("dropout", [("0", 0.0, None), ("0-1", 1e-9, 0.01), ("1-2", 0.01, 0.0201)]),
    "movement scale": ("move_scale", [("x0.3-0.7", 0.3, 0.7), ("x0.7-1.5", 0.7, 1.5), ("x1.5-3", 1.5, 3.01)]),
    "occupant tilt mg": ("occupant_mg", [("0.3-1", 0.3, 1.0), ("1-3", 1.0, 3.0), ("3-8", 3.0, 8.01)]),
    "partner": ("partner", [("no", False, None), ("yes", True, None)]),
    "chip": ("chip", [("ADXL345", "adxl345", None), ("MPU-6050", "mpu6050", None)]),
}


def run_night(seed: int) -> dict:
    """Simulate night ``seed`` with its drawn physics, analyse and score it."""
    from simulator.night_scenario import plan_night

    physics = draw(seed)
    plan = plan_night(seed, physics=physics)
    t, xyz = plan.render(physics.rate_hz, seed=seed)
    t, xyz = drop_samples(t, xyz, physics.dropout, seed)
    events, secs = detect(t, xyz, physics.rate_hz)
    out = score(plan.truth, events)
    kinds = [r.get("kind", "?") for r in plan.truth_records if r["type"] == "wake"]
    truth_wakes = sorted((e for e in plan.truth if e.type == "wake"), key=lambda e: e.start)
    missed = {id(e) for e in out["missed"]}
    out["kinds"] = [(k, id(w) not in missed) for k, w in zip(kinds, truth_wakes)]
    out["evidence"] = sorted({getattr(e, "evidence", None) or "?" for e in events if e.type == "sleep"})
    for key in ("missed", "false", "pairs"):
        out[key] = len(out[key])
    out.update(seed=seed, physics=physics.to_dict(), seconds=secs, x_real_time=(t[-1] - t[0]) / max(secs, 1e-9))
    return out


def _in(value, lo, hi) -> bool:
    return value == lo if hi is None else lo <= value < hi


def bins_of(result: dict) -> list[str]:
    """The names of the bins a night falls in (``noise mg 2.5-5``, ...)."""
    return [f"{title} {label}" for title, (key, ranges) in BINS.items()
            for label, lo, hi in ranges if _in(result["physics"][key], lo, hi)]


def envelope(results: list[dict]) -> dict:
    """Totals of a group of nights: recall, false wakes, onset/offset, cramp F1, no-sleep nights."""
    keys = ("nights", "wakes", "tp", "fp", "cramp_tp", "cramp_fp", "cramp_fn", "missed_sleep", "extra_sleep")
    s = {k: sum(r[k] for r in results) for k in keys}
    s["n"] = len(results)
    s["recall"] = s["tp"] / s["wakes"] if s["wakes"] else float("nan")
    s["false_per_night"] = s["fp"] / s["n"] if s["n"] else float("nan")
    tp, fp, fn = s["cramp_tp"], s["cramp_fp"], s["cramp_fn"]
    # cramp F1 over every true cramp: a missed cramp wake is a missed cramp
    missed_cramps = sum(1 for r in results for kind, found in r["kinds"] if kind == "cramp" and not found)
    s["cramp_f1"] = 2 * tp / (2 * tp + fp + fn + missed_cramps) if tp + fp + fn + missed_cramps else float("nan")
    onset = np.abs(np.concatenate([r["onset_err_s"] for r in results] + [np.zeros(0)])) / 60.0
    offset = np.abs(np.concatenate([r["offset_err_s"] for r in results] + [np.zeros(0)])) / 60.0
    s["onset_med"] = float(np.median(onset)) if len(onset) else float("nan")
    s["offset_med"] = float(np.median(offset)) if len(offset) else float("nan")
    s["onset_p90"] = float(np.percentile(onset, 90)) if len(onset) else float("nan")
    s["offset_p90"] = float(np.percentile(offset, 90)) if len(offset) else float("nan")
    by_kind = defaultdict(lambda: [0, 0])
    for r in results:
        for kind, found in r["kinds"]:
            by_kind[kind][0] += found
            by_kind[kind][1] += 1
    s["by_kind"] = dict(by_kind)
    return s


def _row(name: str, s: dict) -> str:
    return (f"| {name} | {s['n']} | {s['wakes']} | {s['recall']:.3f} | {s['false_per_night']:.2f} "
            f"| {s['onset_med']:.1f} / {s['offset_med']:.1f} | {s['onset_p90']:.0f} / {s['offset_p90']:.0f} "
            f"| {s['cramp_f1']:.3f} | {s['missed_sleep']} |")


HEAD = ("| nights | n | wakes | wake recall | false wakes / night | onset / offset error, median (min) "
        "| onset / offset error, p90 (min) | cramp F1 | nights with no sleep period |\n|---|---|---|---|---|---|---|---|---|")


def report(results: list[dict]) -> str:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        for name in bins_of(r):
            groups[name].append(r)
    overall = envelope(results)
    lines = [HEAD, _row("**all**", overall)]
    scored = []
    for title, (key, ranges) in BINS.items():
        for label, _lo, _hi in ranges:
            name = f"{title} {label}"
            if groups.get(name):
                s = envelope(groups[name])
                scored.append((s["recall"], name, s))
                lines.append(_row(name, s))
    worst = min(scored, key=lambda x: (x[0], x[1]))
    lines.append(_row(f"**worst bin: {worst[1]}**", worst[2]))
    kinds = ", ".join(f"{k} {found}/{total}" for k, (found, total) in sorted(overall["by_kind"].items()))
    speeds = [r["x_real_time"] for r in results]
    lines += ["", f"Recall by kind: {kinds}.",
              f"Analysis speed (in memory, no parsing): median {np.median(speeds):,.0f}x real time, "
              f"slowest {min(speeds):,.0f}x."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=240, help="nights to run (default 240)")
    ap.add_argument("--tune", action="store_true", help="use the tuning seeds (0 and up), not the held-back ones")
    ap.add_argument("--first-seed", type=int, default=None)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=None, help="also write the table to this file")
    ap.add_argument("--verbose", action="store_true", help="one line per night")
    args = ap.parse_args(argv)
    first = args.first_seed if args.first_seed is not None else (TUNE_SEEDS.start if args.tune else REPORT_SEEDS.start)
    seeds = list(range(first, first + args.seeds))
    t0 = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
        results = pool.map(run_night, seeds, chunksize=1)
    if args.verbose:
        for r in results:
            p = r["physics"]
            print(f"seed {r['seed']}: {r['tp']}/{r['wakes']} wakes, {r['fp']} false, no sleep {r['missed_sleep']} "
                  f"evidence {r['evidence']} | noise {p['noise_mg']:.1f} breath {p['breath_mg']:.2f} "
                  f"rate {p['rate_hz']:g} drop {100 * p['dropout']:.1f}% move x{p['move_scale']:.2f} "
                  f"occ {p['occupant_mg']:.1f} partner {p['partner']} {p['chip']}")
    seeds_text = f"seeds {first}-{first + args.seeds - 1} ({'tuning' if args.tune else 'held back'})"
    text = f"Night analysis envelope, {len(results)} nights, {seeds_text}:\n\n{report(results)}\n"
    text += f"\n({time.perf_counter() - t0:.0f} s to run)\n"
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
