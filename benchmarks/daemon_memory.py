"""Memory of the live daemon page by page over months of history; start-up time; CPU.

Starts the daemon as a person does (``python -m device.cli run --simulate --config``) on
a data directory seeded with ``--days`` (default 90) of simulated history
(:func:`simulator.history.seed_history`), with MQTT (a private Mosquitto on a free
loopback port, a subscriber taking every message) and the dashboard on. It times the
start-up to the dashboard's first answer, then opens over HTTP every page in the
dashboard's navigation (with the views each page links to: History's weeks and
months, Insights' periods, older Nights) and every GET in the API's OpenAPI document
(the live stream until its first event), reading the daemon's peak resident memory
(VmHWM in /proc/<pid>/status) after each. Then it measures the CPU the daemon uses
over ``--cpu-seconds`` (default 600) with MQTT and the dashboard on and nobody looking.

Which heavy libraries the daemon has loaded is read from /proc/<pid>/maps (their
compiled modules are mapped). ``crampwatch report`` (the doctor's report) runs in its
own process, not the daemon's; its peak is measured apart (``wait4``).

    .venv/bin/python -m benchmarks.daemon_memory [--days 90] [--cpu-seconds 600]

The table goes to stdout and to benchmarks/out/daemon_resources.md (``--out``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.daemon_resources import _Counter, _cpu_s, _free_port

OUT = Path(__file__).parent / "out" / "daemon_resources.md"
TIMEZONE = "Europe/Berlin"
HEAVY = ("scipy", "pandas", "matplotlib")  # what must never be loaded in the daemon (numpy is expected)
TARGET_MB, TARGET_CPU = 80, 2.0


def status_mb(pid: int) -> dict[str, float]:
    """VmHWM (peak) and VmRSS (now) of ``pid`` in MB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = int(value.split()[0]) / 1024
    return out


def heavy_loaded(pid: int) -> list[str]:
    """Which of :data:`HEAVY` have a file mapped into ``pid`` (their extension modules)."""
    found = set()
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            for name in HEAVY:
                if f"/{name}/" in line or f"/{name}.libs/" in line:
                    found.add(name)
    return sorted(found)


def get(url: str, timeout: float = 120.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def first_sse_event(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """Open a Server-Sent Events stream, read until its first event ends, close it."""
    lines = []
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        status = resp.status
        while True:
            line = resp.readline()
            lines.append(line)
            if not line or (line.strip() == b"" and any(x.startswith(b"data:") for x in lines)):
                break
    return status, b"".join(lines)


def nav_links(html: str) -> list[str]:
    """The hrefs in the page's main navigation, in order."""
    nav = re.search(r'<nav class="nav"[^>]*>(.*?)</nav>', html, re.DOTALL)
    return re.findall(r'href="([^"]+)"', nav.group(1)) if nav else []


def views_of(path: str, html: str) -> list[str]:
    """Links from a page to the same page with a query (its views, periods, older pages)."""
    seen = []
    for href in re.findall(r'href="([^"#]+)"', html):
        href = href.replace("&amp;", "&")
        if urlsplit(href).path == path and urlsplit(href).query and href not in seen:
            seen.append(href)
    return seen


def api_gets(document: dict, base: str) -> list[str]:
    """Every GET path of the OpenAPI document that needs no path parameter."""
    prefix = document.get("servers", [{"url": ""}])[0]["url"]
    return [base + prefix + path for path, ops in document["paths"].items() if "get" in ops and "{" not in path]


def write_config(tmp: Path, broker_port: int, dash_port: int) -> Path:
    config = tmp / "config.toml"
    config.write_text(f'[device]\nid = "membench"\ndata_dir = "{tmp / "data"}"\ntimezone = "{TIMEZONE}"\n'
                      f'[mqtt]\nhost = "127.0.0.1"\nport = {broker_port}\n'
                      f'[dashboard]\nport = {dash_port}\n[logging]\nlevel = "WARNING"\n')
    return config


def seed(data_dir: Path, days: int) -> int:
    from zoneinfo import ZoneInfo

    from device.storage.store import Store
    from simulator.history import seed_history

    with Store(data_dir) as store:
        return seed_history(store, days, end=time.time(), tz=ZoneInfo(TIMEZONE), seed=1)["events"]


def report_peak_mb(config: Path, weeks: int, out: Path) -> dict:
    """``crampwatch report --weeks N`` in its own process: its peak RSS (wait4's ru_maxrss)."""
    log = out.with_suffix(".log")
    t0 = time.perf_counter()
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "device.cli", "report", "--config", str(config),
                                 "--weeks", str(weeks), "--out", str(out)], stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
    if proc.returncode != 0:
        raise RuntimeError(f"crampwatch report failed: {log.read_text()[-2000:]}")
    return {"peak_mb": usage.ru_maxrss / 1024, "seconds": time.perf_counter() - t0, "weeks": weeks}


def open_everything(pid: int, base: str, alive) -> list[dict]:
    """GET every page and API GET; one row per request with the daemon's memory after it."""
    rows = []

    def visit(url: str, fetch=get) -> str:
        t0 = time.perf_counter()
        status, body = fetch(url)
        ms = 1000 * (time.perf_counter() - t0)
        alive()
        if status != 200:
            raise RuntimeError(f"GET {url} answered {status}: {body[:300]!r}")
        rows.append({"what": "GET " + url[len(base):], "ms": ms, "kb": len(body) / 1024, **status_mb(pid),
                     "heavy": heavy_loaded(pid)})
        return body.decode(errors="replace")

    home = visit(base + "/")
    done = {"/"}
    for page in dict.fromkeys(["/"] + nav_links(home)):
        html = home if page == "/" else visit(base + page)
        done.add(page)
        for view in views_of(page, html):
            if view not in done:
                visit(base + view)
                done.add(view)
    document = json.loads(visit(base + "/api/v1/openapi.json"))
    for url in api_gets(document, base):
        if url.endswith("/openapi.json"):
            continue
        visit(url, first_sse_event if url.endswith("/stream") else get)
    return rows


def measure(days: int, cpu_seconds: float) -> dict:
    from benchmarks.mqtt_latency import _Broker

    with tempfile.TemporaryDirectory(prefix="crampwatch-membench-") as name:
        tmp = Path(name)
        events = seed(tmp / "data", days)
        broker = _Broker(tmp)
        broker.start()
        sub = _Counter(broker.port)
        dash_port = _free_port()
        config = write_config(tmp, broker.port, dash_port)
        base = f"http://127.0.0.1:{dash_port}"
        log_path = tmp / "daemon.log"
        try:
            report = report_peak_mb(config, math.ceil(days / 7), tmp / "report.html")
            with open(log_path, "w") as log, subprocess.Popen(
                    [sys.executable, "-m", "device.cli", "run", "--simulate", "--config", str(config)],
                    stdout=log, stderr=subprocess.STDOUT) as proc:

                def alive() -> None:
                    if proc.poll() is not None:
                        raise RuntimeError(f"the daemon exited: {log_path.read_text()[-2000:]}")

                try:
                    t0 = time.perf_counter()
                    while True:
                        alive()
                        try:
                            if get(base + "/", timeout=5)[0] == 200:
                                break
                        except OSError:
                            pass
                        if time.perf_counter() - t0 > 120:
                            raise RuntimeError("the dashboard did not answer within 120 s")
                        time.sleep(0.05)
                    startup_s = time.perf_counter() - t0
                    rows = [{"what": "start-up (the dashboard's first answer)", "ms": 1000 * startup_s, "kb": None,
                             **status_mb(proc.pid), "heavy": heavy_loaded(proc.pid)}]
                    rows += open_everything(proc.pid, base, alive)
                    messages0, cpu0, c0 = sub.messages, _cpu_s(proc.pid), time.monotonic()
                    while time.monotonic() - c0 < cpu_seconds:
                        time.sleep(min(1.0, max(0.0, cpu_seconds - (time.monotonic() - c0))))
                        alive()
                    elapsed = time.monotonic() - c0
                    cpu_pct = 100 * (_cpu_s(proc.pid) - cpu0) / elapsed
                    after = {**status_mb(proc.pid), "heavy": heavy_loaded(proc.pid)}
                    messages = sub.messages - messages0
                finally:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
        finally:
            sub.close()
            broker.stop()
    return {"days": days, "events": events, "startup_s": startup_s, "rows": rows, "cpu_seconds": elapsed,
            "cpu_pct": cpu_pct, "after": after, "mqtt_messages": messages, "report": report}


def table(r: dict) -> str:
    def heavy(names: list[str]) -> str:
        return ", ".join(names) if names else "none"

    pages = r["rows"]
    peak = max(row["VmHWM"] for row in pages[1:])
    out = [f"Live daemon (`crampwatch run --simulate`, HX711 10 SPS and accelerometer 50 Hz emulated, MQTT to a "
           f"local Mosquitto, dashboard on) over {r['days']} days of simulated history ({r['events']} events):",
           "",
           "| measure | value | target |", "|---|---|---|",
           f"| start-up to the dashboard's first answer | {r['startup_s']:.1f} s | - |",
           f"| peak RSS after every page and API GET (VmHWM) | {peak:.1f} MB | <= {TARGET_MB} MB |",
           f"| CPU over {r['cpu_seconds']:.0f} s, dashboard idle | {r['cpu_pct']:.2f} % of one core "
           f"| <= {TARGET_CPU:g} % |",
           f"| peak RSS at the end of the CPU window | {r['after']['VmHWM']:.1f} MB | <= {TARGET_MB} MB |",
           f"| MQTT messages in the CPU window | {r['mqtt_messages']} | - |",
           f"| heavy libraries loaded in the daemon ({', '.join(HEAVY)}) | {heavy(r['after']['heavy'])} | none |",
           f"| `crampwatch report --weeks {r['report']['weeks']}` (its own process): peak RSS | "
           f"{r['report']['peak_mb']:.1f} MB in {r['report']['seconds']:.1f} s | - |",
           "",
           "| after | answer (ms) | body (kB) | peak RSS, VmHWM (MB) | RSS now (MB) | heavy libraries loaded |",
           "|---|---|---|---|---|---|"]
    for row in pages:
        kb = "-" if row["kb"] is None else f"{row['kb']:.0f}"
        out.append(f"| {row['what']} | {row['ms']:.0f} | {kb} | {row['VmHWM']:.1f} | {row['VmRSS']:.1f} | "
                   f"{heavy(row['heavy'])} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=90, help="days of simulated history (default 90)")
    ap.add_argument("--cpu-seconds", type=float, default=600.0,
                    help="the CPU window after the pages (default 600 s)")
    ap.add_argument("--out", default=str(OUT), help=f"also write the table here (default {OUT})")
    args = ap.parse_args(argv)
    text = table(measure(args.days, args.cpu_seconds))
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
