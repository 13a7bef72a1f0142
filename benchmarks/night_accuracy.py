"""Night analysis accuracy and speed on simulated nights with ground truth.

``score`` matches detected wakes to true ones (overlapping, or starting within
``tol_s`` = 2 min; one to one, largest overlap first) and reports wake recall, false
wakes, the cramp verdict's precision, recall and F1 over matched wakes, the bed-exit
agreement, and the sleep period's onset and offset errors. ``main`` runs it on held-out
seeds (1000 and up) at 25, 50 and 100 Hz for both chips and prints markdown tables::

    .venv/bin/python -m benchmarks.night_accuracy --seeds 20

Thresholds are tuned on seeds 0-29 only (``--first-seed 0 --seeds 30``).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from sensors.night_analysis import NightAnalyzer
from vocabulary.events import Sleep, Wake

__all__ = ["match_wakes", "score", "run_seed", "summary", "main"]

RATES = (25.0, 50.0, 100.0)
CHIPS = ("adxl345", "mpu6050")


def _overlap(a, b) -> float:
    return max(0.0, min(a.end, b.end) - max(a.start, b.start))


def match_wakes(truth: list[Wake], detected: list[Wake], tol_s: float = 120.0) -> list[tuple[int, int]]:
    """One-to-one pairs ``(i_truth, i_detected)``: overlapping or starting within ``tol_s``."""
    pairs = []
    for i, a in enumerate(truth):
        for j, b in enumerate(detected):
            ov = _overlap(a, b)
            dt = abs(a.start - b.start)
            if ov > 0 or dt <= tol_s:
                pairs.append((-ov, dt, i, j))
    pairs.sort()
    used_i, used_j, out = set(), set(), []
    for _, _, i, j in pairs:
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            out.append((i, j))
    return sorted(out)


def score(truth: list, detected: list, tol_s: float = 120.0) -> dict:
    """Wake, cramp, bed-exit and sleep-period figures of one trace."""
    t_sleep = [e for e in truth if isinstance(e, Sleep)]
    d_sleep = [e for e in detected if isinstance(e, Sleep)]
    t_wake = sorted((e for e in truth if isinstance(e, Wake)), key=lambda e: e.start)
    d_wake = sorted((e for e in detected if isinstance(e, Wake)), key=lambda e: e.start)
    pairs = match_wakes(t_wake, d_wake, tol_s)
    tp_c = sum(1 for i, j in pairs if t_wake[i].cramp and d_wake[j].cramp)
    fp_c = sum(1 for i, j in pairs if not t_wake[i].cramp and d_wake[j].cramp)
    fn_c = sum(1 for i, j in pairs if t_wake[i].cramp and not d_wake[j].cramp)
    exit_ok = sum(1 for i, j in pairs if t_wake[i].bed_exit == d_wake[j].bed_exit)
    onset, offset, missed_sleep = [], [], 0
    for s in t_sleep:
        best = max(d_sleep, key=lambda d: _overlap(s, d), default=None)
        if best is None or _overlap(s, best) <= 0:
            missed_sleep += 1
            continue
        onset.append(best.start - s.start)
        offset.append(best.end - s.end)
    matched_i = {i for i, _ in pairs}
    matched_j = {j for _, j in pairs}
    return {
        "nights": len(t_sleep),
        "wakes": len(t_wake),
        "tp": len(pairs),
        "fn": len(t_wake) - len(pairs),
        "fp": len(d_wake) - len(pairs),
        "cramp_tp": tp_c,
        "cramp_fp": fp_c,
        "cramp_fn": fn_c,
        "exit_ok": exit_ok,
        "onset_err_s": onset,
        "offset_err_s": offset,
        "missed_sleep": missed_sleep,
        "extra_sleep": max(0, len(d_sleep) - (len(t_sleep) - missed_sleep)),
        "start_err_s": [d_wake[j].start - t_wake[i].start for i, j in pairs],
        "end_err_s": [d_wake[j].end - t_wake[i].end for i, j in pairs],
        "missed": [t_wake[i] for i in range(len(t_wake)) if i not in matched_i],
        "false": [d_wake[j] for j in range(len(d_wake)) if j not in matched_j],
        "pairs": [(t_wake[i], d_wake[j]) for i, j in pairs],
    }


def detect(t: np.ndarray, xyz: np.ndarray, rate_hz: float, chunk_s: float | None = None) -> tuple[list, float]:
    """All events of one trace and the seconds the analyzer took."""
    t0 = time.perf_counter()
    an = NightAnalyzer(rate_hz)
    if chunk_s is None:
        events = an.feed(t, xyz)
    else:
        events = []
        step = max(1, int(chunk_s * rate_hz))
        for i in range(0, len(t), step):
            events += an.feed(t[i : i + step], xyz[i : i + step])
    events += an.finish()
    return events, time.perf_counter() - t0


def run_seed(seed: int, rate_hz: float, chip: str, *, nights: int = 1, partner: bool | None = None) -> dict:
    """Simulate, analyse, score one seed; adds the speed as ``x_real_time``."""
    from simulator.night_scenario import plan_night  # the benchmark needs the simulator

    plan = plan_night(seed, chip=chip, partner=partner, nights=nights)
    t, xyz = plan.render(rate_hz, seed=seed)
    events, secs = detect(t, xyz, rate_hz)
    out = score(plan.truth, events)
    out.update(seed=seed, rate=rate_hz, chip=chip, seconds=secs, samples=len(t),
               partner=plan.person.partner is not None, records=plan.truth_records, detected=events)
    out["x_real_time"] = (t[-1] - t[0]) / secs if secs > 0 else float("inf")
    return out


def _pct(x, q):
    return float(np.percentile(np.abs(x), q)) if len(x) else float("nan")


def summary(results: list[dict]) -> dict:
    s = {k: sum(r[k] for r in results) for k in ("nights", "wakes", "tp", "fn", "fp", "cramp_tp", "cramp_fp",
                                                 "cramp_fn", "exit_ok", "missed_sleep", "extra_sleep")}
    s["recall"] = s["tp"] / s["wakes"] if s["wakes"] else 1.0
    s["false_per_night"] = s["fp"] / s["nights"] if s["nights"] else 0.0
    tp, fp, fn = s["cramp_tp"], s["cramp_fp"], s["cramp_fn"]
    s["cramp_p"] = tp / (tp + fp) if tp + fp else 1.0
    s["cramp_r"] = tp / (tp + fn) if tp + fn else 1.0
    s["cramp_f1"] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    s["exit_acc"] = s["exit_ok"] / s["tp"] if s["tp"] else 1.0
    onset = np.concatenate([r["onset_err_s"] for r in results]) / 60.0
    offset = np.concatenate([r["offset_err_s"] for r in results]) / 60.0
    s["onset_med"], s["onset_p90"] = _pct(onset, 50), _pct(onset, 90)
    s["offset_med"], s["offset_p90"] = _pct(offset, 50), _pct(offset, 90)
    starts = np.concatenate([r["start_err_s"] for r in results])
    s["wake_start_med"] = _pct(starts, 50)
    speeds = [r["x_real_time"] for r in results]
    s["speed_med"], s["speed_min"] = float(np.median(speeds)), float(min(speeds))
    s["n"] = len(results)
    return s


def accuracy_table(rows: list[tuple[str, dict]]) -> str:
    head = (
        "| rate | chip | nights | wakes | wake recall | false wakes / night | cramp P | cramp R | cramp F1 "
        "| bed exit agree | onset err median / p90 (min) | offset err median / p90 (min) "
        "| wake start err median (s) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {name} | {s['nights']} | {s['wakes']} | {s['recall']:.3f} | {s['false_per_night']:.2f} "
        f"| {s['cramp_p']:.3f} | {s['cramp_r']:.3f} | {s['cramp_f1']:.3f} | {s['exit_acc']:.3f} "
        f"| {s['onset_med']:.1f} / {s['onset_p90']:.1f} | {s['offset_med']:.1f} / {s['offset_p90']:.1f} "
        f"| {s['wake_start_med']:.1f} |"
        for name, s in rows
    ]
    return head + "\n".join(lines)


def speed_table(rows: list[tuple[str, dict]]) -> str:
    head = "| rate | chip | nights | x real time (median) | x real time (slowest) |\n|---|---|---|---|---|\n"
    return head + "\n".join(f"| {name} | {s['n']} | {s['speed_med']:,.0f} | {s['speed_min']:,.0f} |"
                            for name, s in rows)


def _describe(e) -> str:
    if isinstance(e, Wake):
        extra = f" cramp={e.cramp} score={e.score:.2f}" if hasattr(e, "score") else ""
        return f"wake {e.start:.0f}-{e.end:.0f} ({e.end - e.start:.0f} s) exit={e.bed_exit}{extra}"
    return repr(e)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20, help="seeds per rate and chip")
    ap.add_argument("--first-seed", type=int, default=1000, help="held out: 1000 and up (tune on 0-29)")
    ap.add_argument("--nights", type=int, default=1, help="nights per seed (24 h apart)")
    ap.add_argument("--rates", type=float, nargs="*", default=list(RATES))
    ap.add_argument("--chips", nargs="*", default=list(CHIPS))
    ap.add_argument("--verbose", action="store_true", help="list every miss, false wake and wrong verdict")
    args = ap.parse_args(argv)
    rows = []
    everything = []
    for rate in args.rates:
        for chip in args.chips:
            results = []
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                r = run_seed(seed, rate, chip, nights=args.nights)
                results.append(r)
                if args.verbose:
                    tag = f"seed {seed} {rate:g} Hz {chip}{' partner' if r['partner'] else ''}"
                    for e in r["missed"]:
                        print(f"{tag} missed {_describe(e)}", file=sys.stderr)
                    for e in r["false"]:
                        print(f"{tag} false  {_describe(e)}", file=sys.stderr)
                    for a, b in r["pairs"]:
                        if a.cramp != b.cramp:
                            print(f"{tag} verdict true={_describe(a)} got {_describe(b)}", file=sys.stderr)
            s = summary(results)
            everything += results
            rows.append((f"{rate:g} Hz | {chip}", s))
    rows.append(("all | both", summary(everything)))
    print(accuracy_table(rows))
    print()
    print(speed_table(rows[:-1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
