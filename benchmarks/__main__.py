"""Run every benchmark and print (and save) the results tables.

    .venv/bin/python -m benchmarks            # the full set (about 25 minutes)
    .venv/bin/python -m benchmarks --quick    # fewer seeds, shorter runs

Results go to stdout and to benchmarks/out/results.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import platform
import time
from pathlib import Path

from benchmarks import (actigraphy_rest, bottle_accuracy, daemon_memory, daemon_resources, dashboard_latency,
                        mqtt_latency, night_accuracy, night_envelope, replay_speed, storage_writes)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sections = []

    def section(title, fn):
        buf = io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(buf):
            fn()
        text = f"### {title}\n\n{buf.getvalue().strip()}\n\n({time.perf_counter() - t0:.0f} s to run)\n"
        print(text, flush=True)
        sections.append(text)

    seeds = ["--seeds", "10", "--seeds-80", "3"] if args.quick else ["--seeds", "60", "--seeds-80", "15"]
    section("Bottle detection on held-out simulated days (seeds 100+)", lambda: bottle_accuracy.main(seeds))
    section("Night analysis on held-out simulated nights (seeds 1000+)",
            lambda: night_accuracy.main(["--seeds", "4" if args.quick else "12"]))
    section("Night analysis envelope: domain-randomized physics, held-back seeds (100000+)",
            lambda: night_envelope.main(["--seeds", "60" if args.quick else "240"]))
    section("Real actigraphy: rest intervals against Actiware's, leave one recording out", actigraphy_rest.main)
    section("Replay speed (bottle and bed)", replay_speed.main)
    section("MQTT delivery on loopback (real Mosquitto)",
            lambda: mqtt_latency.main(["--events", "300" if args.quick else "1000"]))
    section("Dashboard latency on a year of history",
            lambda: dashboard_latency.main(["--requests", "20" if args.quick else "40"]))
    section("Live daemon resources (simulated sensors, MQTT and dashboard on)",
            lambda: daemon_resources.main(["--seconds", "60", "--other-seconds", "30"] if args.quick else []))
    section("Live daemon memory page by page over 90 days of history; start-up; CPU (MQTT and dashboard on)",
            lambda: daemon_memory.main(["--cpu-seconds", "60"] if args.quick else []))
    section("SD card writes per hour (simulated hour, real SQLite on disk)", lambda: storage_writes.main([]))
    header = f"Machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, {time.strftime('%Y-%m-%d')}\n\n"
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "results.md").write_text(header + "\n".join(sections))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
