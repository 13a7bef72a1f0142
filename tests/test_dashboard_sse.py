"""The live stream (Server-Sent Events) and the waitress server in the daemon."""

import http.client
import json
import socket
import time

import pytest

from dashboard import create_app
from dashboard.server import DashboardServer
from device.config import Config
from device.daemon import Daemon
from simulator.rigs import SimulatedBottle
from tests.test_dashboard_fixtures import (  # noqa: F401  (fixtures)
    NOW, FakeReminders, FakeScale, health, make_config, reminders, scale, seeded, store,
)
from vocabulary.events import Drink

FAST = {"keepalive_s": 0.3, "tick_s": 0.05, "max_streams": 2}


def messages(chunks, until, timeout=5.0):
    """Parse SSE chunks into (event, data) until ``until(list)`` holds."""
    out, deadline = [], time.monotonic() + timeout
    for chunk in chunks:
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        for block in text.split("\n\n"):
            if not block.strip():
                continue
            event, data = None, None
            for line in block.splitlines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                elif line.startswith(":"):
                    event = "comment"
                elif line.startswith("retry: "):
                    event = "retry"
            out.append((event, data))
        if until(out) or time.monotonic() > deadline:
            return out
    return out


@pytest.fixture
def live_app(store, reminders, scale, health):
    return create_app(make_config(), store=store, health=health, reminders=reminders, scale=scale,
                      clock=lambda: NOW, test_config={"LIVE": FAST})


def test_stream_sends_state_then_stored_events_and_keep_alives(live_app, store, reminders):
    client = live_app.test_client()
    r = client.get("/api/v1/stream", buffered=False)
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    chunks = iter(r.response)
    first = messages(chunks, lambda m: {"weight", "reminder", "health"} <= {e for e, _ in m})
    names = [e for e, _ in first]
    assert names[0] == "retry"
    weight = next(d for e, d in first if e == "weight")
    assert weight["live"] is True and weight["present"] is False  # nothing on the fake scale
    store.add_event(Drink(t=NOW - 5, ml=180.0, contents_ml=320.0))
    reminders.fire()
    later = messages(chunks, lambda m: any(e == "event" for e, _ in m) and any(e == "reminder" for e, _ in m))
    drink = next(d for e, d in later if e == "event")
    assert drink["type"] == "drink" and drink["ml"] == 180.0 and drink["id"].startswith("drink-") and drink["time"]
    assert next(d for e, d in later if e == "reminder")["active"]["kind"] == "hydration"
    quiet = messages(chunks, lambda m: any(e == "comment" for e, _ in m))
    assert ("comment", None) in quiet  # keep-alive while nothing changes
    hub = live_app.extensions["crampwatch"].extras["live"]
    assert hub.open_streams == 1
    r.close()
    assert hub.open_streams == 0


def test_too_many_streams_get_a_clear_503(live_app):
    client = live_app.test_client()
    open_ = [client.get("/api/v1/stream", buffered=False) for _ in range(FAST["max_streams"])]
    r = client.get("/api/v1/stream")
    assert r.status_code == 503 and "too many" in r.get_json()["error"] and r.headers["Retry-After"]
    for s in open_:
        s.close()
    ok = client.get("/api/v1/stream", buffered=False)
    assert ok.status_code == 200
    ok.close()


def test_waitress_streams_without_buffering_and_stops_with_open_streams(store, scale):
    app = create_app(make_config(), store=store, scale=scale, clock=lambda: NOW, test_config={"LIVE": FAST})
    server = DashboardServer(app, "127.0.0.1", 0)
    server.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request("GET", "/api/v1/today")
        r = conn.getresponse()
        assert r.status == 200 and json.loads(r.read())["goal_ml"] == 2000
        stream = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        stream.request("GET", "/api/v1/stream")
        sr = stream.getresponse()
        assert sr.status == 200
        started = time.monotonic()
        assert b"retry: 3000" in sr.fp.read1(4096)  # arrives at once, not when a buffer fills
        assert time.monotonic() - started < 2.0
        conn.close()
        hub = app.extensions["crampwatch"].extras["live"]
        assert hub.open_streams == 1
        sr.close()
        stream.close()  # the browser leaves: its thread is free again within a tick or two
        deadline = time.monotonic() + 3
        while hub.open_streams and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hub.open_streams == 0
        stream = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        stream.request("GET", "/api/v1/stream")
        sr = stream.getresponse()
        sr.fp.read1(4096)
    finally:
        t0 = time.monotonic()
        server.stop()
        assert time.monotonic() - t0 < 8.0
    assert not server._thread.is_alive()
    sr.close()
    stream.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


def test_stop_still_closes_the_port_when_the_loops_wake_up_pipe_is_gone(store, scale):
    """CI once saw stop() fail with EBADF writing to waitress's trigger pipe; stop must
    then close everything itself instead of raising."""
    import os

    app = create_app(make_config(), store=store, scale=scale, clock=lambda: NOW, test_config={"LIVE": FAST})
    server = DashboardServer(app, "127.0.0.1", 0)
    server.start()
    trigger = server._server.trigger
    for fd in trigger._fds:
        os.close(fd)
    trigger._fds = []
    server.stop(timeout=2)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_daemon_serves_the_dashboard_with_the_live_scale(tmp_path):
    port = _free_port()
    config = Config.model_validate({"device": {"data_dir": str(tmp_path)}, "dashboard": {"port": port}})
    hardware = SimulatedBottle(config, scripted=True)
    hardware.place(SimulatedBottle.empty_bottle_g + 400.0)
    daemon = Daemon(config, simulate=True, hardware=hardware)
    daemon.start()
    try:
        assert [name for name, _, _ in daemon.steps][-1] == "dashboard"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/bottle")
            bottle = json.loads(conn.getresponse().read())
            conn.close()
            if bottle["live"] and bottle["present"]:
                break
            time.sleep(0.2)
        assert bottle["present"] and abs(bottle["contents_ml"] - 400) < 5
        # one owner: the bottle detector's state, which the MQTT state shows too
        state = daemon.state()
        assert state["bottle_present"] is True and abs(state["bottle_contents_ml"] - bottle["contents_ml"]) < 1
        assert daemon.health.get("dashboard").state == "ok"
    finally:
        daemon.stop()
    assert daemon.dashboard._server is None


def test_a_taken_port_is_reported_and_the_daemon_keeps_recording(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = Config.model_validate({"device": {"data_dir": str(tmp_path)}, "dashboard": {"port": port}})
        daemon = Daemon(config, simulate=True, hardware=SimulatedBottle(config, scripted=True))
        daemon.start()
        try:
            dash = daemon.health.get("dashboard")
            assert dash.state == "failed" and str(port) in dash.detail
            assert daemon.bottle is not None
        finally:
            daemon.stop()


def test_the_dashboard_can_be_switched_off(tmp_path):
    config = Config.model_validate({"device": {"data_dir": str(tmp_path)}, "dashboard": {"enabled": False},
                                    "bottle": {"enabled": False}})
    daemon = Daemon(config, simulate=True)
    daemon.start()
    try:
        assert daemon.dashboard is None and daemon.health.get("dashboard").state == "off"
    finally:
        daemon.stop()
