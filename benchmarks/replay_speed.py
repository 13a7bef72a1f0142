"""End-to-end ``crampwatch replay bottle`` speed on a simulated day, as a user runs it.

Times the whole command (process start, CSV parse, detection, JSON out) and the
parse and detection steps alone, for a 24 h day at 10 Hz and at 80 Hz.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(rate_hz: float, seed: int = 100, hours: float = 24.0) -> dict:
    from device.traces import read_trace
    from sensors.bottle_detector import BottleDetector
    from simulator.bottle_scenario import plan_day, write_trace

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


def table(rows: list[dict]) -> str:
    out = ["| trace | samples | events | parse (s) | detect (s) | whole CLI (s) | detector x real time | CLI x real time |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| 24 h at {r['rate']:g} Hz | {r['samples']:,} | {r['events']} | {r['parse_s']:.2f} | "
                   f"{r['detect_s']:.2f} | {r['cli_s']:.2f} | {r['x_detect']:,.0f} | {r['x_cli']:,.0f} |")
    return "\n".join(out)


def main() -> int:
    print(table([measure(10.0), measure(80.0)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
