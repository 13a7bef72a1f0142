"""CPU and memory of the live daemon on simulated sensors at their real rates.

Starts ``crampwatch run --simulate`` for a while and reads its CPU time and resident
memory from /proc, after a warm-up so that imports do not count.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _log(tmp: str) -> str:
    return open(os.path.join(tmp, "log")).read()[-2000:]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure(seconds: float, rate_hz: int, bed_hz: int = 50, warmup: float = 10.0) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "config.toml")
        with open(config, "w") as f:
            f.write(f"[bottle]\nrate_hz = {rate_hz}\n[bed]\nrate_hz = {bed_hz}\n"
                    f"[dashboard]\nport = {_free_port()}\n[simulator]\ndrink_interval_s = 60\n")
        with subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--simulate", "--config", config,
                               "--data-dir", tmp], stderr=open(os.path.join(tmp, "log"), "w")) as proc:
            try:
                time.sleep(warmup)
                if proc.poll() is not None:
                    raise RuntimeError(f"the daemon exited early: {_log(tmp)}")
                cpu0, t0 = _cpu_s(proc.pid), time.monotonic()
                peak = 0.0
                while time.monotonic() - t0 < seconds:
                    time.sleep(1.0)
                    if proc.poll() is not None:
                        raise RuntimeError(f"the daemon exited: {_log(tmp)}")
                    peak = max(peak, _rss_mb(proc.pid))
                cpu = (_cpu_s(proc.pid) - cpu0) / (time.monotonic() - t0)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
    return {"rate": rate_hz, "bed": bed_hz, "seconds": seconds, "cpu_pct": 100 * cpu, "rss_mb": peak}


def table(rows: list[dict]) -> str:
    out = ["| simulated sensors (dashboard and reminders on, MQTT off) | measured for | CPU (% of one core) | peak RSS (MB) |",
           "|---|---|---|---|"]
    for r in rows:
        out.append(f"| HX711 {r['rate']} SPS + accelerometer {r['bed']} Hz | {r['seconds']:.0f} s | "
                   f"{r['cpu_pct']:.2f} | {r['rss_mb']:.1f} |")
    return "\n".join(out)


def main(seconds: float = 120.0) -> int:
    print(table([measure(seconds, 10, 50), measure(seconds, 80, 100)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 120.0))
