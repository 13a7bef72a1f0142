"""End-to-end ``crampwatch replay`` speed, as a user runs it.

``replay bottle``: the whole command (process start, CSV parse, detection, JSON out)
and the parse and detection steps alone, for a 24 h day at 10 Hz and at 80 Hz.
``replay bed``: the same for simulated 100 Hz nights (issue 13 asks for 20,000x real
time end to end on a 9 h night), with each C reader (polars, the ``fast`` extra, and
numpy's) and the command's peak resident memory.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock


def measure(rate_hz: float, seed: int = 100, hours: float = 24.0) -> dict:
    from sensors.bottle_detector import BottleDetector
    from simulator.bottle_scenario import plan_day, write_trace
    from vocabulary.traces import read_trace

    with tempfile.TemporaryDirectory() as tmp:
        csv_path, _ = write_trace(plan_day(hours, seed), Path(tmp), rate_hz)
        t0 = time.perf_counter()
        data = read_trace(csv_path, "bottle")
        parse_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        detector = BottleDetector()
        detector.feed(data[:, 0], data[:, 1])
        detector.finish()
        detect_s = time.perf_counter() - t0
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            run = subprocess.run([sys.executable, "-m", "device.cli", "replay", "bottle", str(csv_path)],
                                 capture_output=True, text=True, check=True)
            best = min(best, time.perf_counter() - t0)
        span = data[-1, 0] - data[0, 0]
    return {"rate": rate_hz, "samples": len(data), "events": len(run.stdout.splitlines()),
            "parse_s": parse_s, "detect_s": detect_s, "cli_s": best,
            "x_detect": span / detect_s, "x_cli": span / best}


def measure_bed(seed: int, parser: str, rate_hz: float = 100.0, runs: int = 3) -> dict:
    """One simulated night at ``rate_hz`` through ``crampwatch replay bed`` (best of ``runs``)."""
    from sensors.night_analysis import analyze_bed
    from simulator.night_scenario import plan_night, write_night
    from vocabulary.traces import read_trace

    env = dict(os.environ, CRAMPWATCH_TRACE_PARSER=parser)
    with tempfile.TemporaryDirectory() as tmp:
        csv_path, _ = write_night(plan_night(seed), Path(tmp), rate_hz, seed=seed)
        with mock.patch.dict(os.environ, CRAMPWATCH_TRACE_PARSER=parser):
            t0 = time.perf_counter()
            data = read_trace(csv_path, "bed")
            parse_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        analyze_bed(data[:, 0], data[:, 1:4], rate_hz)
        analyze_s = time.perf_counter() - t0
        best = float("inf")
        for _ in range(runs):
            t0 = time.perf_counter()
            run = subprocess.run([sys.executable, "-m", "device.cli", "replay", "bed", str(csv_path)],
                                 capture_output=True, text=True, check=True, env=env)
            best = min(best, time.perf_counter() - t0)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far
        span = data[-1, 0] - data[0, 0]
        size_mb = csv_path.stat().st_size / 1e6
    return {"seed": seed, "parser": parser, "hours": span / 3600, "mb": size_mb, "events": len(run.stdout.splitlines()),
            "parse_s": parse_s, "analyze_s": analyze_s, "cli_s": best, "x_cli": span / best, "peak_mb": peak}


def bed_table(rows: list[dict]) -> str:
    out = ["| night (100 Hz) | CSV (MB) | reader | parse (s) | analysis (s) | whole CLI (s) | CLI x real time | peak RSS so far (MB) |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| seed {r['seed']}, {r['hours']:.2f} h | {r['mb']:.0f} | {r['parser']} | {r['parse_s']:.2f} | "
                   f"{r['analyze_s']:.2f} | {r['cli_s']:.2f} | {r['x_cli']:,.0f} | {r['peak_mb']:.0f} |")
    return "\n".join(out)


def table(rows: list[dict]) -> str:
    out = ["| trace | samples | events | parse (s) | detect (s) | whole CLI (s) | detector x real time | CLI x real time |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| 24 h at {r['rate']:g} Hz | {r['samples']:,} | {r['events']} | {r['parse_s']:.2f} | "
                   f"{r['detect_s']:.2f} | {r['cli_s']:.2f} | {r['x_detect']:,.0f} | {r['x_cli']:,.0f} |")
    return "\n".join(out)


def main() -> int:
    print(table([measure(10.0), measure(80.0)]))
    print()
    # numpy first: the peak-memory column is the largest child so far
    print(bed_table([measure_bed(seed, parser) for parser in ("numpy", "polars") for seed in (100, 101, 102)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
