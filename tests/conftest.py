"""Shared fixtures: a real Mosquitto broker on a free loopback port, and an MQTT listener.

The broker comes from the system (``tools/run-tests`` installs the ``mosquitto``
package when it is missing). Without it the MQTT tests are skipped locally and fail
in CI (``CI=true``), where a missing broker means a broken test environment.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from device.mqtt.client import close_sockets


def _mosquitto_exe() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_daemon(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """SIGTERM a daemon started as a subprocess (if still running), then SIGKILL after ``timeout``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def zone_at_hour(hour: int) -> str:
    """An Etc/GMT time zone in which it is about ``hour`` o'clock now, whenever a test runs."""
    from datetime import datetime, timezone

    offset = (hour - datetime.now(timezone.utc).hour + 12) % 24 - 12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def wait_for(predicate, timeout: float, interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy (returned) or time runs out (None)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


class Broker:
    """One mosquitto process with its own config; can be stopped and started on the same port."""

    host = "127.0.0.1"

    def __init__(self, exe: str, workdir: Path, port: int | None = None, extra: str = "",
                 persistent: bool = False):
        self.exe = exe
        self.workdir = workdir
        self.port = port or free_port()
        self.conf = workdir / "mosquitto.conf"
        self.log = workdir / "mosquitto.log"
        lines = [
            f"listener {self.port} {self.host}",
            f"allow_anonymous {'false' if 'password_file' in extra else 'true'}",
            # as root, mosquitto would switch to user "mosquitto", who cannot read our temp files
            f"user {getpass.getuser()}",
            f"log_dest file {self.log}",
            "log_type error", "log_type warning", "log_type notice",
        ]
        if persistent:  # sessions and queued QoS 1 messages survive a restart (saved on SIGTERM)
            lines += ["persistence true", f"persistence_location {workdir}/", "autosave_interval 0"]
        else:
            lines += ["persistence false"]
        self.conf.write_text("\n".join(lines) + "\n" + extra)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                error = self.proc.stderr.read().decode(errors="replace")
                self.stop()
                raise RuntimeError(f"mosquitto exited: {error}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not listen on {self.port}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def mosquitto_exe() -> str:
    exe = _mosquitto_exe()
    if exe is None:
        message = "mosquitto is not installed (tools/run-tests installs it: apt-get install -y mosquitto)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return exe


@pytest.fixture(scope="session")
def broker(mosquitto_exe, tmp_path_factory) -> Broker:
    """A broker shared by the tests that do not stop it (use distinct device ids)."""
    b = Broker(mosquitto_exe, tmp_path_factory.mktemp("mosquitto"))
    b.start()
    yield b
    b.stop()


@pytest.fixture
def own_broker(mosquitto_exe, tmp_path_factory):
    """A factory of private brokers (for restarts); all are stopped after the test."""
    made: list[Broker] = []

    def make(extra: str = "", persistent: bool = False) -> Broker:
        b = Broker(mosquitto_exe, tmp_path_factory.mktemp("mosquitto"), extra=extra, persistent=persistent)
        b.start()
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop()


class Listener:
    """A plain paho subscriber that records every message it gets."""

    def __init__(self, broker: Broker, topics: list[str], session: str | None = None,
                 auth: tuple[str, str] | None = None):
        """``session``: a client id for a persistent session (QoS 1 messages wait for us);
        ``auth``: a user name and password."""
        self.messages: list[paho.MQTTMessage] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=session or f"listener-{free_port()}",
                                  clean_session=session is None)
        if auth is not None:
            self.client.username_pw_set(*auth)
        self.client.on_connect = (lambda c, u, f, rc, p: c.subscribe([(t, 1) for t in topics])) if topics \
            else (lambda *a: self._subscribed.set())
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self._subscribed.wait(5), "listener did not subscribe"

    def _on_message(self, client, userdata, message):
        with self._lock:
            self.messages.append(message)

    def on(self, topic: str, *, retained: bool | None = None) -> list[paho.MQTTMessage]:
        with self._lock:
            return [m for m in self.messages if paho.topic_matches_sub(topic, m.topic)
                    and (retained is None or bool(m.retain) == retained)]

    def payloads(self, topic: str) -> list[str]:
        return [m.payload.decode() for m in self.on(topic)]

    def json(self, topic: str) -> list[dict]:
        return [json.loads(m.payload) for m in self.on(topic) if m.payload]

    def last(self, topic: str) -> str | None:
        found = self.payloads(topic)
        return found[-1] if found else None

    def wait(self, topic: str, predicate=lambda payloads: bool(payloads), timeout: float = 5.0):
        return wait_for(lambda: predicate(self.payloads(topic)), timeout)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        close_sockets(self.client)


@pytest.fixture
def listen():
    """``listen(broker, ["topic/#"])`` -> a :class:`Listener`, closed after the test."""
    made: list[Listener] = []

    def make(broker: Broker, topics: list[str], session: str | None = None,
             auth: tuple[str, str] | None = None) -> Listener:
        listener = Listener(broker, topics, session, auth)
        made.append(listener)
        return listener

    yield make
    for listener in made:
        listener.close()
