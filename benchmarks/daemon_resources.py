"""CPU and memory of the live daemon, both sensors simulated at their real rates.

Starts ``crampwatch run --simulate`` with MQTT (a private Mosquitto on a free loopback
port, with a subscriber taking every message) and the dashboard on, waits out a
warm-up so that imports do not count, then reads the process's CPU time and resident
memory from /proc once a second for the measured span.

With ``viewer`` a person also has the dashboard open: one live stream (SSE) held open
and the Today API fetched every 5 s, as the page does.

What the figure includes that a real Pi would not: the HX711 and the accelerometer are
pin- and register-level emulators running in the daemon's own threads, on gpiozero's
mock pins. :func:`emulated_read_cost` measures what one HX711 read costs through that
layer, so the table can say how much of the CPU is the emulator's.

    .venv/bin/python -m benchmarks.daemon_resources [--seconds 600]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Counter:
    """Home Assistant's side: subscribed to everything the daemon publishes."""

    def __init__(self, port: int):
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages = 0
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="resources-bench")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("#", qos=1)
        self.client.on_message = self._count
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _count(self, client, userdata, message) -> None:
        self.messages += 1

    def close(self) -> None:
        from device.mqtt.client import close_sockets

        self.client.disconnect()
        self.client.loop_stop()
        close_sockets(self.client)


class _Viewer:
    """A browser tab on the dashboard: the live stream open, Today fetched every 5 s."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.requests = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._stream, daemon=True),
                        threading.Thread(target=self._poll, daemon=True)]
        for t in self.threads:
            t.start()

    def _stream(self) -> None:
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen(f"{self.base}/api/v1/stream", timeout=30) as resp:
                    while not self.stop.is_set() and resp.readline():
                        pass
            except OSError:
                self.stop.wait(1.0)

    def _poll(self) -> None:
        while not self.stop.wait(5.0):
            try:
                urllib.request.urlopen(f"{self.base}/api/v1/today", timeout=10).read()
                self.requests += 1
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()


def measure(seconds: float, rate_hz: int = 10, bed_hz: int = 50, *, viewer: bool = False,
            warmup: float = 15.0) -> dict:
    from benchmarks.mqtt_latency import _Broker

    with tempfile.TemporaryDirectory() as tmp:
        broker = _Broker(Path(tmp))
        broker.start()
        sub = _Counter(broker.port)
        dash_port = _free_port()
        config = os.path.join(tmp, "config.toml")
        with open(config, "w") as f:
            f.write(f"[device]\nid = \"bench\"\n[bottle]\nrate_hz = {rate_hz}\n[bed]\nrate_hz = {bed_hz}\n"
                    f"[mqtt]\nhost = \"127.0.0.1\"\nport = {broker.port}\n"
                    f"[dashboard]\nport = {dash_port}\n[simulator]\ndrink_interval_s = 60\n")
        log_path = os.path.join(tmp, "log")
        look = None
        try:
            with subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--simulate", "--config", config,
                                   "--data-dir", tmp], stderr=open(log_path, "w")) as proc:
                try:
                    time.sleep(warmup)
                    if proc.poll() is not None:
                        raise RuntimeError(f"the daemon exited early: {open(log_path).read()[-2000:]}")
                    look = _Viewer(dash_port) if viewer else None
                    messages0 = sub.messages
                    cpu0, t0 = _cpu_s(proc.pid), time.monotonic()
                    peak = 0.0
                    while time.monotonic() - t0 < seconds:
                        time.sleep(1.0)
                        if proc.poll() is not None:
                            raise RuntimeError(f"the daemon exited: {open(log_path).read()[-2000:]}")
                        peak = max(peak, _rss_mb(proc.pid))
                    elapsed = time.monotonic() - t0
                    cpu = (_cpu_s(proc.pid) - cpu0) / elapsed
                    messages = sub.messages - messages0
                finally:
                    if look is not None:
                        look.close()
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(30)
        finally:
            sub.close()
            broker.stop()
    return {"rate": rate_hz, "bed": bed_hz, "seconds": elapsed, "cpu_pct": 100 * cpu, "rss_mb": peak,
            "mqtt_messages": messages, "viewer": viewer,
            "requests": look.requests if look is not None else 0}


def emulated_read_cost(reads: int = 400) -> float:
    """CPU seconds per HX711 read through the emulator on mock pins (driver + chip)."""
    import warnings

    from gpiozero.pins.mock import MockFactory

    from sensors.hx711 import HX711
    from simulator.hx711_chip import FakeHX711
    from vocabulary.errors import SensorGlitch

    factory = MockFactory()
    chip = FakeHX711(factory, 5, 6, source=lambda t: 1000, rate_hz=80)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SensorGlitch)
        with HX711(5, 6, pin_factory=factory, rate_hz=80) as hx:
            hx.read_raw()
            cpu = time.process_time()
            for _ in range(reads):
                hx.read_raw()
            cost = (time.process_time() - cpu) / reads
    chip.close()
    factory.close()
    return cost


def table(rows: list[dict], read_cost_s: float) -> str:
    out = ["| live daemon, simulated sensors, MQTT and dashboard on | measured for | CPU (% of one core) "
           "| of which HX711 reads on emulated pins | peak RSS (MB) | MQTT messages |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        who = " + a dashboard viewer (live stream, a request every 5 s)" if r["viewer"] else ""
        emulated = 100 * read_cost_s * r["rate"]
        out.append(f"| HX711 {r['rate']} SPS + accelerometer {r['bed']} Hz{who} | {r['seconds']:.0f} s | "
                   f"{r['cpu_pct']:.2f} | ~{emulated:.2f} | {r['rss_mb']:.1f} | {r['mqtt_messages']} |")
    out.append("")
    out.append(f"One HX711 read through the emulator and gpiozero's mock pins costs "
               f"{read_cost_s * 1e3:.2f} ms of CPU (driver and emulated chip together). Targets: "
               f"<= 2 % of one core, <= 80 MB.")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0, help="the headline run (default 10 minutes)")
    ap.add_argument("--other-seconds", type=float, default=120.0, help="the other rows")
    args = ap.parse_args(argv)
    rows = [measure(args.seconds, 10, 50),
            measure(args.other_seconds, 10, 50, viewer=True),
            measure(args.other_seconds, 80, 100)]
    print(table(rows, emulated_read_cost()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
