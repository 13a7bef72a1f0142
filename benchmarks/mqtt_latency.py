"""MQTT event delivery: latency on loopback and events lost across a broker restart.

Starts a private Mosquitto on a free loopback port (it must be installed), runs the
real :class:`~device.mqtt.service.MqttService` on a real store, and a subscriber.

- Latency: from ``store.add_event`` (the detector's hand-off, so the SQLite commit with
  its fsync is included) to the subscriber's callback, one event every 20 ms.
- Restart: events stored steadily (50/s) while the broker is stopped for 3 s and started
  again on the same port; a subscriber with a persistent session counts what arrives.
  Lost must be 0; duplicates are allowed (at-least-once) and reported.

    .venv/bin/python -m benchmarks.mqtt_latency [--events 1000]
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from device.config import Config
from device.health import Health
from device.mqtt.client import close_sockets
from device.mqtt.service import MqttService
from device.storage.store import Store
from vocabulary.events import Drink


class _Broker:
    def __init__(self, workdir: Path):
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        conf = workdir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n"
                        f"persistence true\npersistence_location {workdir}/\nautosave_interval 0\n"
                        f"log_dest file {workdir}/mosquitto.log\n")
        self.cmd = [exe, "-c", str(conf)]
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


class _Subscriber:
    def __init__(self, port: int, topic: str, client_id: str):
        self.arrivals: list[tuple[str, float]] = []
        self._lock = threading.Lock()
        ready = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not ready.wait(5):
            raise RuntimeError("subscriber did not subscribe")

    def _on_message(self, client, userdata, message) -> None:
        now = time.perf_counter()
        with self._lock:
            self.arrivals.append((json.loads(message.payload)["id"], now))

    def ids(self) -> list[str]:
        with self._lock:
            return [i for i, _ in self.arrivals]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        close_sockets(self.client)


def _service(tmp: Path, port: int, device_id: str) -> MqttService:
    config = Config.model_validate({"device": {"id": device_id, "data_dir": str(tmp / device_id)},
                                    "mqtt": {"host": "127.0.0.1", "port": port, "reconnect_max_s": 2}})
    svc = MqttService(config, Store(config.data_path), Health())
    svc.start()
    if not svc.client.wait_connected(10):
        raise RuntimeError("service did not connect")
    return svc


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def measure_latency(tmp: Path, broker: _Broker, events: int) -> dict:
    sub = _Subscriber(broker.port, "crampwatch/lat/event/#", "bench-latency")
    svc = _service(tmp, broker.port, "lat")
    sent: dict[str, float] = {}
    try:
        for i in range(events):
            event = Drink(t=1764060000.0 + i, ml=100.0)
            sent[event.id] = time.perf_counter()
            svc.store.add_event(event)
            time.sleep(0.02)
        _wait(lambda: len(set(sub.ids())) >= events, 10)
    finally:
        svc.stop()
        sub.close()
    first = {}
    for event_id, at in sub.arrivals:
        first.setdefault(event_id, at)
    ms = sorted((first[i] - sent[i]) * 1000 for i in first if i in sent)
    return {"events": events, "received": len(ms), "p50_ms": statistics.median(ms),
            "p99_ms": ms[min(len(ms) - 1, int(0.99 * len(ms)))], "max_ms": ms[-1]}


def measure_restart(tmp: Path, broker: _Broker, seconds: float = 8.0, down_s: float = 3.0) -> dict:
    sub = _Subscriber(broker.port, "crampwatch/rst/event/#", "bench-restart")
    svc = _service(tmp, broker.port, "rst")
    stored: list[str] = []
    stop = threading.Event()

    def produce():
        t = 1764070000.0
        while not stop.is_set():
            event = Drink(t=t, ml=50.0)
            svc.store.add_event(event)
            stored.append(event.id)
            t += 1
            time.sleep(0.02)

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        time.sleep((seconds - down_s) / 2)
        broker.stop()
        time.sleep(down_s)
        broker.start()
        t0 = time.monotonic()
        svc.client.wait_connected(30)
        reconnect_s = time.monotonic() - t0
        time.sleep((seconds - down_s) / 2)
    finally:
        stop.set()
        producer.join()
    try:
        _wait(lambda: svc.store.outbox_count() == 0 and set(stored) <= set(sub.ids()), 20)
        received = sub.ids()
    finally:
        svc.stop()
        sub.close()
    return {"stored": len(stored), "lost": len(set(stored) - set(received)),
            "duplicates": len(received) - len(set(received)), "reconnect_s": reconnect_s,
            "outbox_left": svc.store.outbox_count()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1000)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the restart's expected reconnect warnings are not results
    with tempfile.TemporaryDirectory(prefix="crampwatch-mqtt-bench-") as tmp:
        broker = _Broker(Path(tmp))
        broker.start()
        try:
            lat = measure_latency(Path(tmp), broker, args.events)
            rst = measure_restart(Path(tmp), broker)
        finally:
            broker.stop()
    print("| measure | value |")
    print("|---|---|")
    print(f"| event delivery latency, loopback, p50 | {lat['p50_ms']:.1f} ms |")
    print(f"| event delivery latency, loopback, p99 (target <= 100 ms) | {lat['p99_ms']:.1f} ms |")
    print(f"| event delivery latency, max | {lat['max_ms']:.1f} ms |")
    print(f"| events received / sent (latency run) | {lat['received']} / {lat['events']} |")
    print(f"| broker restart (down 3 s): events stored / lost (must be 0) | {rst['stored']} / {rst['lost']} |")
    print(f"| broker restart: duplicates delivered (at-least-once) | {rst['duplicates']} |")
    print(f"| broker restart: reconnected after broker start (cap 2 s here, 10 s default) | {rst['reconnect_s']:.1f} s |")
    print(f"| outbox rows left after the run | {rst['outbox_left']} |")
    return 0 if rst["lost"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
