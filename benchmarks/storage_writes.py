"""SD card writes per hour: the daemon's storage path over a simulated hour.

The real bed worker path (``BedWorker._feed``: night analyzer -> epoch writer -> store)
gets an hour of 25 Hz accelerometer samples, one second at a time as the thread feeds
them, on a clock that runs the hour in seconds; alongside, a busy drinking hour (8 drinks
committed with their MQTT outbox rows, each then deleted on PUBACK). Measured on a real
SQLite file (WAL, synchronous=FULL) on the disk under ``--dir``: commits that changed
rows (each one fsync or more; ``Store.writes``), rows, and the bytes this process wrote (``/proc/self/io`` ``write_bytes``: WAL
frames and checkpoints; the file system's own journal comes on top), for
``storage.epoch_flush_s`` = 0 (one commit per epoch: before batching) and batched.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from types import SimpleNamespace

import numpy as np

RATE_HZ = 25
DRINKS_PER_HOUR = 8


def write_bytes() -> int | None:
    try:
        with open("/proc/self/io") as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def simulated_hour(flush_s: float, *, drinks: int, epoch_s: int = 30, directory: str | None = None) -> dict:
    from device.health import Health
    from device.storage.store import Store
    from device.workers.bed_worker import BedWorker
    from device.workers.epoch_writer import EpochWriter
    from sensors.night_analysis import NightAnalyzer
    from vocabulary.events import Drink

    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        store = Store(tmp, outbox=True)
        clock = SimpleNamespace(t=0.0)
        worker = BedWorker(lambda: None, NightAnalyzer(RATE_HZ, epoch_s=epoch_s), store, Health(), rate_hz=RATE_HZ)
        worker.epoch_writer = EpochWriter(store, flush_s=flush_s, clock=lambda: clock.t)
        t0 = 1764050000.0
        drink_at = {int(3600 * (k + 0.5) / drinks) for k in range(drinks)} if drinks else set()
        commits, rows, written = store.writes, store.rows_written, write_bytes()
        for second in range(3600):
            clock.t = float(second)
            t = t0 + second + np.arange(RATE_HZ) / RATE_HZ
            xyz = rng.normal(0.0, 0.004, (RATE_HZ, 3)) + (0.0, 0.0, 1.0)
            worker._feed(t, xyz)
            if second in drink_at:
                new = store.add_events([Drink(t=t0 + second, ml=150.0)])
                store.outbox_delete(e["id"] for e in new)  # the broker's PUBACK
        worker.stop()  # the last flush, as at a clean stop
        after = write_bytes()
        epochs = len(store.epochs(0, 2e10))
        result = {"flush_s": flush_s, "drinks": drinks, "epochs": epochs,
                  "commits": store.writes - commits, "rows": store.rows_written - rows,
                  "bytes": None if written is None or after is None else after - written}
        store.close()
    return result


def live_daemon(seconds: float, flush_s: float, directory: str | None = None) -> dict:
    """A whole simulated daemon (bottle, bed, reminders, health) for ``seconds``: its commits, scaled to an hour."""
    from device.config import Config
    from device.daemon import Daemon

    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        config = Config.model_validate({"device": {"data_dir": tmp}, "dashboard": {"enabled": False},
                                        "bed": {"button_pin": None}, "storage": {"epoch_flush_s": flush_s}})
        daemon = Daemon(config, simulate=True)
        daemon.start()
        store = daemon.store
        commits, rows, written = store.writes, store.rows_written, write_bytes()
        daemon.wait(seconds)
        c, r, w = store.writes - commits, store.rows_written - rows, write_bytes()
        daemon.stop()
    scale = 3600.0 / seconds
    return {"flush_s": flush_s, "seconds": seconds, "commits_h": c * scale, "rows_h": r * scale,
            "bytes_h": None if written is None or w is None else (w - written) * scale}


def live_table(rows: list[dict]) -> str:
    out = ["| storage.epoch_flush_s | live run | writes/h (commits) | rows/h | bytes written/h (whole process) |",
           "|---|---|---|---|---|"]
    for r in rows:
        written = "n/a" if r["bytes_h"] is None else f"{r['bytes_h'] / 1024:,.0f} KiB"
        out.append(f"| {r['flush_s']:g} | {r['seconds']:g} s, scaled to 1 h | {r['commits_h']:,.0f} | "
                   f"{r['rows_h']:,.0f} | {written} |")
    return "\n".join(out)


def table(rows: list[dict]) -> str:
    out = ["| storage.epoch_flush_s | hour | epochs stored | writes/h (commits) | rows/h | bytes written/h |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        hour = "night (bed epochs only)" if not r["drinks"] else f"day (bed epochs + {r['drinks']} drinks via MQTT)"
        flush = "0 (before: one commit per epoch)" if r["flush_s"] == 0 else f"{r['flush_s']:g}"
        written = "n/a" if r["bytes"] is None else f"{r['bytes'] / 1024:,.0f} KiB"
        out.append(f"| {flush} | {hour} | {r['epochs']} | {r['commits']} | {r['rows']} | {written} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flush", type=float, nargs="+", default=[0.0, 300.0, 900.0], help="epoch_flush_s values")
    ap.add_argument("--dir", default="/var/tmp" if os.path.isdir("/var/tmp") else None,
                    help="where the database goes: a disk, not a tmpfs, so that bytes are counted (default /var/tmp)")
    ap.add_argument("--live", type=float, default=0.0,
                    help="also run the whole simulated daemon this many seconds per flush value")
    args = ap.parse_args(argv)
    rows = [simulated_hour(f, drinks=d, directory=args.dir) for d in (0, DRINKS_PER_HOUR) for f in args.flush]
    print(table(rows))
    print("\nWhole-hour figures from one simulated hour at 25 Hz, 30 s epochs; each commit is at least one fsync "
          "(synchronous=FULL). Drinks are committed at once in every row.")
    if args.live:
        print()
        print(live_table([live_daemon(args.live, f, args.dir) for f in args.flush]))
        print("\nThe live daemon's simulated person drinks every minute or so (simulator.drink_interval_s), "
              "far more than a real one; bytes include health.json rewrites.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
