"""Dashboard latency on a year of simulated history: p50/p95 of every page and API call.

Serves the real app with waitress on loopback over an on-disk store holding 365 days
of :mod:`simulator.history`, and times requests from a client on one keep-alive
connection (server and client share this process, like a Pi's one core would).
Target: p95 <= 50 ms for each. Then runs ``crampwatch run --simulate`` on that year
and reads the daemon's CPU and RSS from /proc: idle, and while a phone keeps the Today
page's live stream open and someone opens a page every second.

    .venv/bin/python -m benchmarks.dashboard_latency [--days 365] [--requests 40] [--daemon-seconds 20]
"""

from __future__ import annotations

import argparse
import http.client
import json
import resource
import statistics
import tempfile
import time

TARGET_P95_MS = 50.0
PAGES = ["/", "/history", "/history?view=week", "/history?view=month", "/nights", "/settings", "/calibrate", "/health"]
API = ["/api/v1/today", "/api/v1/history", "/api/v1/history?view=week", "/api/v1/history?view=month&count=12",
       "/api/v1/streaks", "/api/v1/nights", "/api/v1/settings", "/api/v1/health", "/api/v1/calibration",
       "/api/v1/reminder", "/api/v1/bottle", "/api/v1/openapi.json"]
CHANGES = [("PATCH", "/api/v1/settings", {"logging": {"level": "INFO"}}),
           ("POST", "/api/v1/reminder/snooze", {"minutes": 15})]


class _Reminders:
    """Always one active reminder (so acknowledge/snooze do their work)."""

    def active(self):
        return {"id": "hydration-1", "kind": "hydration", "state": "active", "message": "Time for a drink"}

    def ack(self):
        pass

    def snooze(self, minutes):
        pass


def build(days: int, data_dir: str):
    from dashboard import create_app
    from device.config import Config
    from device.storage.store import Store
    from simulator.history import seed_history

    config = Config.model_validate({"device": {"data_dir": data_dir, "timezone": "Europe/Berlin"}})
    store = Store(config.data_path)
    now = time.time()
    seeded = seed_history(store, days, end=now, tz=config.tz, seed=7)
    epochs = None
    if hasattr(store, "add_epochs"):  # the bed's 30 s activity epochs, day and night, as the daemon keeps them
        import random
        from types import SimpleNamespace

        rng = random.Random(7)
        start = int(now - days * 86400)
        for day in range(days):
            t0 = start + day * 86400
            store.add_epochs([SimpleNamespace(t=float(t), activity=rng.expovariate(0.2), presence=1.0)
                              for t in range(t0, t0 + 86400, 30)])
        from dashboard.server import _store_epochs

        epochs = _store_epochs(store)
        seeded["epochs"] = days * 2880
    app = create_app(config, store=store, reminders=_Reminders(), epochs=epochs)
    return app, store, seeded


def measure(port: int, method: str, path: str, body, n: int, headers: dict, before=None) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = json.dumps(body) if body is not None else None
    times = []
    for k in range(n + 3):
        if before is not None:
            before(k)
        t0 = time.perf_counter()
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        r.read()
        if r.status >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {r.status}")
        if k >= 3:  # the first requests warm caches and templates
            times.append((time.perf_counter() - t0) * 1000.0)
    conn.close()
    return times


def session_headers(port: int) -> dict:
    """A session cookie and its CSRF token, as a browser would have them."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/settings")
    r = conn.getresponse()
    html = r.read().decode()
    cookie = r.getheader("Set-Cookie").split(";")[0]
    token = html.split('name="csrf-token" content="')[1].split('"')[0]
    conn.close()
    return {"Cookie": cookie, "X-CSRF-Token": token, "Content-Type": "application/json"}


def daemon_while_serving(data_dir: str, seconds: float) -> list[str]:
    """The daemon's CPU (% of one core) and peak RSS, idle and while serving a person."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    from benchmarks.daemon_resources import _cpu_s, _rss_mb

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = os.path.join(data_dir, "bench.toml")
    with open(config, "w") as f:
        f.write(f'[device]\ntimezone = "Europe/Berlin"\n[dashboard]\nport = {port}\n')
    log = open(os.path.join(data_dir, "daemon.log"), "w")
    proc = subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--simulate", "--config", config,
                             "--data-dir", data_dir], stderr=log)
    rows = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/health")
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the daemon's dashboard did not come up") from None
                time.sleep(0.3)
        time.sleep(5.0)  # imports and first page renders done

        def phase(name, work):
            cpu0, t0, peak = _cpu_s(proc.pid), time.monotonic(), 0.0
            while time.monotonic() - t0 < seconds:
                work()
                peak = max(peak, _rss_mb(proc.pid))
            cpu = (_cpu_s(proc.pid) - cpu0) / (time.monotonic() - t0)
            rows.append(f"| {name} | {seconds:.0f} s | {100 * cpu:.1f} | {peak:.0f} |")

        phase("idle (bottle sampling at 10 SPS, no browser)", lambda: time.sleep(1.0))
        stream = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        stream.request("GET", "/api/v1/stream")
        live = stream.getresponse()
        paths = PAGES + API
        state = {"k": 0}

        def browse():
            live.fp.read1(65536)  # the phone's live stream keeps flowing
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", paths[state["k"] % len(paths)])
            conn.getresponse().read()
            conn.close()
            state["k"] += 1
            time.sleep(1.0)

        phase("serving: live stream open, a page or API call every second", browse)
        stream.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--daemon-seconds", type=float, default=20.0, help="0 skips the daemon CPU/RSS part")
    args = ap.parse_args(argv)
    from dashboard.server import DashboardServer

    with tempfile.TemporaryDirectory(prefix="crampwatch-bench-") as tmp:
        t0 = time.perf_counter()
        app, store, seeded = build(args.days, tmp)
        print(f"{seeded['days']} days of simulated history, {seeded['events']:,} events"
              + (f" and {seeded['epochs']:,} bed activity epochs" if seeded.get("epochs") else "")
              + f" (stored in {time.perf_counter() - t0:.1f} s); {args.requests} requests each over HTTP on loopback\n")
        server = DashboardServer(app, "127.0.0.1", 0)
        server.start()
        try:
            headers = session_headers(server.port)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            rows, worst = [], 0.0
            from vocabulary.events import Drink

            def drink(k):  # a drink arrives before each request: the day's totals must be read again
                store.add_event(Drink(t=time.time() - 60 - k, ml=100.0))

            cases = [("GET", p, None, None) for p in PAGES + API] + [(m, p, b, None) for m, p, b in CHANGES]
            cases += [("GET", "/history?view=month", None, drink), ("GET", "/api/v1/today", None, drink)]
            for method, path, body, before in cases:
                times = sorted(measure(server.port, method, path, body, args.requests, headers, before))
                p50 = statistics.median(times)
                p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
                worst = max(worst, p95)
                kind = "page" if not path.startswith("/api/") else "API"
                note = " (a new drink before each)" if before else ""
                rows.append(f"| {kind} | `{method} {path}`{note} | {p50:.1f} | {p95:.1f} | "
                            f"{'yes' if p95 <= TARGET_P95_MS else '**no**'} |")
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        finally:
            server.stop()
            store.close()
        daemon_rows = daemon_while_serving(tmp, args.daemon_seconds) if args.daemon_seconds > 0 else []
    print("| kind | request | p50 ms | p95 ms | p95 <= 50 ms |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"\nWorst p95: {worst:.1f} ms (target {TARGET_P95_MS:.0f} ms). While serving: {cpu / wall * 100:.0f} % of one "
          f"core for client and server together ({len(cases) * (args.requests + 3)} requests back to back), "
          f"peak RSS {rss_mb:.0f} MB (history, app, server and client in one process).")
    if daemon_rows:
        print(f"\nThe daemon (`crampwatch run --simulate`) on the same {seeded['days']} days:\n")
        print("| daemon | measured for | CPU (% of one core) | peak RSS (MB) |")
        print("|---|---|---|---|")
        print("\n".join(daemon_rows))
    return 0 if worst <= TARGET_P95_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
