"""The surfaces matrix (issue 14): every action from every surface that offers it, in the
real daemon, seen on every surface that shows it.

The daemon runs as a user starts it (``python -m device.cli run --simulate --config``),
with a real Mosquitto and its dashboard on a loopback port. Each action is triggered
from MQTT (``<base>/cmd/<name>``) and from the dashboard's JSON API, and its effect is
asserted in the MQTT state and events, the dashboard API, its live stream (Server-Sent
Events) and the stored rows. A failure names the action and the surface.

The GPIO buttons live on simulated pins inside the daemon's process, out of reach of a
test outside it (the simulated sleeper presses the bedside button only minutes into a
demo night, and there is no test hook on MQTT or HTTP, on purpose). So the bedside
button's row of the matrix runs the real :class:`device.daemon.Daemon` in this process
(real Mosquitto, real HTTP) and presses its gpiozero mock pin; the bottle-side button is
in tests/test_daemon.py.

This is the test that would have caught the dead ``goal``, ``ack``, ``snooze`` and
``tare`` commands: the daemon registered their handlers after MQTT had copied its table.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import json
import re
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from device.actions import RATE_LIMITS
from device.runtime.health_file import read_health
from device.storage.store import Store
from tests.conftest import free_port, stop_daemon, wait_for, zone_at_hour

LOCAL_HOUR = 13  # the test's local time of day: inside the drinking window, far from the day's edges


class Dashboard:
    """The dashboard as a browser sees it: a session cookie and the page's CSRF token."""

    def __init__(self, url: str):
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self._csrf: str | None = None

    def _open(self, request, timeout=10.0):
        try:
            with self.opener.open(request, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def get(self, path: str) -> dict:
        status, body = self._open(self.url + path)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)

    def csrf(self) -> str:
        if self._csrf is None:
            _, page = self._open(self.url + "/")
            self._csrf = re.search(rb'name="csrf-token" content="([^"]+)"', page).group(1).decode()
        return self._csrf

    def send(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body if body is not None else {}).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Content-Type": "application/json", "X-CSRF-Token": self.csrf(), "Origin": self.url})
        status, raw = self._open(request)
        return status, json.loads(raw) if raw else {}


class LiveStream:
    """The dashboard's ``/api/v1/stream`` as a page reads it: every (event, data) received."""

    def __init__(self, url: str):
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=30)
        self.conn.request("GET", "/api/v1/stream")
        response = self.conn.getresponse()
        assert response.status == 200, f"the live stream: {response.status}"
        self.received: list[tuple[str | None, object]] = []
        self._thread = threading.Thread(target=self._read, args=(response,), daemon=True)
        self._thread.start()

    def _read(self, response) -> None:
        event = None
        try:
            for raw in response:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    self.received.append((event, json.loads(line[6:])))
                elif not line:
                    event = None
        except (OSError, ValueError, http.client.HTTPException):
            pass  # closed

    def events(self, kind: str) -> list[dict]:
        return [d for e, d in list(self.received) if e == "event" and d.get("type") == kind]

    def close(self) -> None:
        try:
            self.conn.sock.shutdown(2)
        except (OSError, AttributeError):
            pass
        self.conn.close()
        self._thread.join(5)


class RunningDaemon:
    """One ``crampwatch run --simulate`` with its broker listener, dashboard and database."""

    def __init__(self, tmp_path, broker, listen, name: str, *, bottle: bool = False, drink_interval_s: int = 3600):
        self.device = name
        self.base = f"crampwatch/{name}"
        self.data = tmp_path / name
        self.db = self.data / "crampwatch.sqlite3"
        self.log_path = tmp_path / f"{name}.log"
        port = free_port()
        zone = zone_at_hour(LOCAL_HOUR)
        config = tmp_path / f"{name}.toml"
        config.write_text(
            f'[device]\nid = "{name}"\ndata_dir = "{self.data}"\ntimezone = "{zone}"\n'
            f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nreconnect_max_s = 1\nstate_refresh_s = 5\n'
            f'[dashboard]\nport = {port}\n'
            f'[bottle]\nenabled = {str(bottle).lower()}\n[bed]\nenabled = false\n'
            # a day far behind a big goal: a hydration reminder is due at once
            '[hydration]\ngoal_ml = 10000\nwake_time = "08:00"\nbedtime = "23:00"\nbehind_ml = 50\n'
            'idle_min = 10\nquiet_hours = []\n[stretch]\nenabled = false\n'
            f'[simulator]\ndrink_interval_s = {drink_interval_s}\n[logging]\nlevel = "INFO"\n')
        # The daemon has been watching since hours ago (a fresh install is not nagged at once).
        self.data.mkdir()
        with Store(self.db) as store:
            store.set_setting("reminders.first_run", time.time() - 5 * 3600)
        self.watch = listen(broker, [f"{self.base}/#"])
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--simulate", "--config", str(config)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.dash = Dashboard(f"http://127.0.0.1:{port}")
        self.pub = listen(broker, []).client

    def ready(self) -> None:
        up = lambda: ((read_health(self.data / "health.json") or {}).get("parts") or {})  # noqa: E731
        assert wait_for(lambda: up().get("mqtt", {}).get("state") == "ok"
                        and up().get("dashboard", {}).get("state") == "ok", 40), (up(), self.log_text()[-2000:])
        assert self.watch.wait(f"{self.base}/state", timeout=10)

    def command(self, name: str, payload) -> None:
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.pub.publish(f"{self.base}/cmd/{name}", raw, qos=1).wait_for_publish(5)

    def state(self) -> dict:
        return json.loads(self.watch.payloads(f"{self.base}/state")[-1])

    def reminder_topic(self) -> str | None:
        payloads = self.watch.payloads(f"{self.base}/reminder")
        return payloads[-1] if payloads else None

    def events(self, kind: str) -> list[dict]:
        return self.watch.json(f"{self.base}/event/{kind}")

    def stored(self, kind: str) -> list[dict]:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT payload FROM events WHERE type = ? ORDER BY t", (kind,)).fetchall()
        finally:
            conn.close()
        return [json.loads(r[0]) for r in rows]

    def setting(self, key: str):
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        finally:
            conn.close()
        return None if row is None else json.loads(row[0])

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text()

    def stop(self) -> None:
        stop_daemon(self.proc)
        self.log.close()


@pytest.fixture
def run_daemon(broker, listen, tmp_path):
    started: list[RunningDaemon] = []

    def start(name: str, **kwargs) -> RunningDaemon:
        d = RunningDaemon(tmp_path, broker, listen, name, **kwargs)
        started.append(d)
        d.ready()
        return d

    yield start
    for d in started:
        d.stop()
    for d in started:
        text = d.log_path.read_text()
        assert d.proc.returncode == 0, f"{d.device}: exit {d.proc.returncode}\n{text[-3000:]}"
        assert "Traceback" not in text, f"{d.device}: a traceback in the log\n{text[-3000:]}"


def expect(what: str, predicate, timeout: float = 10.0):
    """Wait for ``predicate``; fail naming the action and the surface."""
    value = wait_for(predicate, timeout)
    assert value, f"{what}: not seen within {timeout:g} s"
    return value


def active_reminder(d: RunningDaemon) -> dict:
    return expect(f"{d.device}: a hydration reminder before the test", lambda: d.dash.get("/api/v1/reminder")["active"],
                  timeout=75)  # the reminder service ticks once a minute


def _stored_change(d: RunningDaemon, state: str, source: str):
    return [e for e in d.stored("reminder") if e["state"] == state and e.get("source") == source]


def _published_change(d: RunningDaemon, state: str, source: str):
    return [e for e in d.events("reminder") if e["state"] == state and e.get("source") == source]


@pytest.mark.slow
@pytest.mark.parametrize("snooze_from, ack_from", [("mqtt", "dashboard"), ("dashboard", "mqtt")])
def test_snooze_and_ack_from_each_surface(run_daemon, snooze_from, ack_from):
    d = run_daemon(f"rem-{snooze_from}")
    reminder = active_reminder(d)
    assert reminder["kind"] == "hydration"
    expect("reminder on MQTT <base>/reminder", lambda: d.reminder_topic() and json.loads(d.reminder_topic()))

    # -- snooze ----------------------------------------------------------------------------
    if snooze_from == "mqtt":
        d.command("snooze", {"minutes": 30})
    else:
        status, body = d.dash.send("POST", "/api/v1/reminder/snooze", {"minutes": 30})
        assert status == 200, f"snooze from the dashboard: {status} {body}"
    what = f"snooze from {snooze_from}"
    expect(f"{what}, seen in the stored rows", lambda: _stored_change(d, "snoozed", snooze_from))
    expect(f"{what}, seen on MQTT event/reminder", lambda: _published_change(d, "snoozed", snooze_from))
    expect(f"{what}, seen on the dashboard API", lambda: d.dash.get("/api/v1/reminder")["active"] is None)
    expect(f"{what}, seen on MQTT <base>/reminder (cleared)", lambda: d.reminder_topic() == "")
    expect(f"{what}, seen in the MQTT state (reminder)", lambda: d.state().get("reminder") is None)
    snoozed = _stored_change(d, "snoozed", snooze_from)[-1]
    assert 29 * 60 <= snoozed["snoozed_until"] - snoozed["t"] <= 30 * 60 + 1, snoozed

    # -- acknowledge (the latest snoozed reminder) -----------------------------------------
    if ack_from == "mqtt":
        d.command("ack", b"")
    else:
        status, body = d.dash.send("POST", "/api/v1/reminder/ack")
        assert status == 200, f"ack from the dashboard: {status} {body}"
    what = f"ack from {ack_from}"
    expect(f"{what}, seen in the stored rows", lambda: _stored_change(d, "acknowledged", ack_from))
    expect(f"{what}, seen on MQTT event/reminder", lambda: _published_change(d, "acknowledged", ack_from))
    assert len(_stored_change(d, "acknowledged", ack_from)) == 1, "stored twice"

    # nothing is left to acknowledge: a second ack is refused, on each surface in its way
    status, body = d.dash.send("POST", "/api/v1/reminder/ack")
    assert status == 409 and "no reminder" in body["error"], (status, body)
    d.command("ack", b"")
    expect("a refused MQTT ack, logged as one line", lambda: "MQTT command ignored: ack: no reminder is active"
           in d.log_text())
    expect("a refused MQTT command, counted in health", lambda: d.state()["health"] and _refused(d) >= 1)


def _refused(d: RunningDaemon) -> int:
    parts = (read_health(d.data / "health.json") or {}).get("parts") or {}
    return int(parts.get("mqtt", {}).get("commands_refused") or 0)


@pytest.mark.slow
def test_goal_cramp_and_tare_from_each_surface(run_daemon):
    d = run_daemon("acts", bottle=True, drink_interval_s=30)
    live = LiveStream(d.dash.url)  # a dashboard page open all along
    try:
        _goal_cramp_tare_and_drink(d, live)
    finally:
        live.close()


def _goal_cramp_tare_and_drink(d: RunningDaemon, live: LiveStream) -> None:
    # -- the daily goal ---------------------------------------------------------------------
    d.command("goal", {"ml": 2345})
    expect("goal from mqtt, seen in the MQTT state", lambda: d.state().get("goal_ml") == 2345)
    expect("goal from mqtt, seen on the dashboard API", lambda: d.dash.get("/api/v1/today")["goal_ml"] == 2345)
    assert d.setting("hydration.goal_ml") == 2345, "goal from mqtt, stored"
    status, body = d.dash.send("PATCH", "/api/v1/settings", {"hydration": {"goal_ml": 3100}})
    assert status == 200, f"goal from the dashboard: {status} {body}"
    expect("goal from the dashboard, seen in the MQTT state", lambda: d.state().get("goal_ml") == 3100)
    expect("goal from the dashboard, seen on the dashboard API", lambda: d.dash.get("/api/v1/today")["goal_ml"] == 3100)
    assert d.setting("hydration.goal_ml") == 3100, "goal from the dashboard, stored"
    d.command("goal", {"ml": 20})  # refused, changes nothing
    expect("a refused goal from mqtt, logged", lambda: "goal: ml must be between 250 and 10000" in d.log_text())
    assert d.state().get("goal_ml") == 3100
    # the dashboard's goal is the same action: its log line names the surface, and its rate limit applies
    expect("goal from the dashboard, through the goal action",
           lambda: "daily goal set to 3100 mL (dashboard)" in d.log_text())
    for ml in range(3200, 3200 + 20 * 10, 10):  # more than the goal's burst, at once
        status, body = d.dash.send("PATCH", "/api/v1/settings", {"hydration": {"goal_ml": ml}})
        if status == 429:
            break
    assert status == 429 and "goal: asked too often from dashboard" in body["error"], \
        f"goal from the dashboard, rate-limited: {status} {body}"

    # -- "I had a cramp" ----------------------------------------------------------------------
    d.command("cramp", b"")
    expect("cramp from mqtt, stored", lambda: [e for e in d.stored("cramp") if e["source"] == "mqtt"])
    expect("cramp from mqtt, seen on MQTT event/cramp", lambda: [e for e in d.events("cramp") if e["source"] == "mqtt"])
    t = round(time.time() - 3600, 3)
    status, body = d.dash.send("POST", "/api/v1/cramps", {"t": t})
    assert status == 201, f"cramp from the dashboard: {status} {body}"
    expect("cramp from the dashboard, stored", lambda: [e for e in d.stored("cramp") if e["source"] == "dashboard"])
    expect("cramp from the dashboard, seen on MQTT event/cramp",
           lambda: [e for e in d.events("cramp") if e["source"] == "dashboard" and e["t"] == t])
    status, _ = d.dash.send("POST", "/api/v1/cramps", {"t": t})  # the same entry again
    assert status == 200 and len([e for e in d.stored("cramp") if e["source"] == "dashboard"]) == 1, "stored twice"
    for source in ("mqtt", "dashboard"):
        expect(f"cramp from {source}, seen on the dashboard's live stream (SSE)",
               lambda source=source: [e for e in live.events("cramp") if e["source"] == source])

    # -- tare: refused while the simulated bottle stands on the scale -------------------------
    expect("the simulated bottle on the scale", lambda: d.state().get("bottle_present") is True, timeout=60)
    d.command("tare", b"")
    expect("tare from mqtt with the bottle on the scale, refused in one line",
           lambda: "MQTT command ignored: tare: take the bottle off the scale before taring" in d.log_text())

    # -- a drink: from the HX711's pins to the store, MQTT and the dashboard ------------------
    drink = expect("a simulated drink, stored", lambda: d.stored("drink"), timeout=120)[0]
    expect("the drink on MQTT event/drink", lambda: [e for e in d.events("drink") if e["id"] == drink["id"]])
    expect("the drink on the dashboard's today", lambda: d.dash.get("/api/v1/today")["intake_ml"] >= drink["ml"] - 1)
    expect("the drink on the dashboard's live stream (SSE)", lambda: [e for e in live.events("drink")
                                                                      if e["id"] == drink["id"]])
    weight = [data for event, data in list(live.received) if event == "weight" and data["live"]]
    assert weight, "the bottle on the dashboard's live stream (SSE): no live weight"
    # bottle presence has one owner, the bottle detector: the dashboard shows what MQTT shows
    expect("bottle presence, the same on the dashboard API and in the MQTT state",
           lambda: d.dash.get("/api/v1/bottle")["present"] == d.state().get("bottle_present"), timeout=20)


@pytest.mark.slow
def test_the_bedside_button_logs_a_cramp_through_the_action_seen_on_every_surface(broker, listen, tmp_path):
    """The bedside button is the ``cramp`` action from the ``button`` surface: stored with
    that source, published on MQTT, shown on the dashboard's Nights and its live stream;
    and, being the action, it has its own rate-limit allowance: a flood of MQTT cramps
    does not block it."""
    from device.config import Config
    from device.daemon import Daemon

    name, pin_number, port = "bedside", 21, free_port()
    zone = zone_at_hour(3)  # a cramp in the night
    base = f"crampwatch/{name}"
    config = Config.model_validate({
        "device": {"id": name, "data_dir": str(tmp_path / name), "timezone": zone},
        "mqtt": {"host": broker.host, "port": broker.port, "reconnect_max_s": 1},
        "dashboard": {"port": port}, "bottle": {"enabled": False},
        "bed": {"enabled": False, "button_pin": pin_number}})
    watch = listen(broker, [f"{base}/#"])
    pub = listen(broker, []).client
    daemon = Daemon(config, simulate=True)
    daemon.start()
    live = None
    try:
        assert daemon.bedside is not None, "the bedside button: not set up"
        expect("the daemon on MQTT", lambda: daemon.health.get("mqtt").state == "ok", 20)
        assert watch.wait(f"{base}/state", timeout=10), "the daemon's MQTT state"  # its commands are subscribed
        dash = Dashboard(f"http://127.0.0.1:{port}")
        live = LiveStream(dash.url)

        # a program floods the cramp command on MQTT: refused beyond the MQTT allowance ...
        for _ in range(6):
            pub.publish(f"{base}/cmd/cramp", b"", qos=1).wait_for_publish(5)
        expect("cramp flood from mqtt, rate-limited", lambda: daemon.health.get("mqtt").to_dict().get(
            "commands_rate_limited", 0) >= 1)
        # ... and the person's press still counts: the button's allowance is its own
        pin = daemon.pin_factory().pin(pin_number)
        pressed = time.time()
        pin.drive_low()  # wired to ground
        time.sleep(0.2)
        pin.drive_high()

        what = "cramp from the bedside button"
        stored = expect(f"{what}, stored", lambda: [e for e in daemon.store.events(types=["cramp"])
                                                    if e["source"] == "button"])
        assert len(stored) == 1 and abs(stored[0]["t"] - pressed) < 5 and stored[0]["confirmed"] is True, stored
        cramp_id = stored[0]["id"]
        expect(f"{what}, seen on MQTT event/cramp", lambda: [e for e in watch.json(f"{base}/event/cramp")
                                                             if e["id"] == cramp_id and e["source"] == "button"])
        expect(f"{what}, seen on the dashboard's live stream (SSE)",
               lambda: [e for e in live.events("cramp") if e["id"] == cramp_id])
        night = (datetime.fromtimestamp(pressed, ZoneInfo(zone)) - timedelta(hours=12)).date().isoformat()
        rows = dash.get(f"/api/v1/nights?last={night}&count=1")["nights"]
        assert [c["source"] for c in rows[0]["cramps"] if c["id"] == cramp_id] == ["button"], \
            f"{what}, seen on the dashboard's Nights: {rows[0]['cramps']}"
        # (two commands handled in one millisecond are one cramp: "one moment, one cramp")
        assert 1 <= len([e for e in daemon.store.events(types=["cramp"]) if e["source"] == "mqtt"]) \
            <= RATE_LIMITS["cramp"].burst, "cramp flood from mqtt: not held to its burst"
    finally:
        if live is not None:
            live.close()
        daemon.stop()


def _today_drink(d: RunningDaemon, drink_id: str) -> dict | None:
    return next((x for x in d.dash.get("/api/v1/today")["drinks"] if x["id"] == drink_id), None)


def _intake(d: RunningDaemon) -> float | None:
    return d.state().get("intake_today_ml")


@pytest.mark.slow
def test_drinks_by_hand_corrections_and_factors_from_each_surface(run_daemon):
    """Issue 17: a drink logged by hand (MQTT and dashboard), corrected and deleted (dashboard),
    and the day's factors (MQTT and dashboard): stored, published, and shown by the dashboard,
    its live stream and the MQTT state."""
    d = run_daemon("manual")
    live = LiveStream(d.dash.url)
    try:
        _drinks_and_factors(d, live)
    finally:
        live.close()


def _drinks_and_factors(d: RunningDaemon, live: LiveStream) -> None:
    # -- a drink by hand from MQTT, with its t: a redelivered command is the same drink ----------
    t = round(time.time() - 600, 3)
    d.command("drink", {"ml": 250, "kind": "tea", "t": t})
    what = "drink from mqtt"
    tea = expect(f"{what}, stored", lambda: [e for e in d.stored("drink") if e.get("via") == "mqtt"])[0]
    assert (tea["source"], tea["kind"], tea["ml"], tea["t"]) == ("manual", "tea", 250.0, t), tea
    expect(f"{what}, seen on MQTT event/drink", lambda: [e for e in d.events("drink")
                                                         if e["id"] == tea["id"] and e["source"] == "manual"])
    expect(f"{what}, seen on the dashboard's today", lambda: (_today_drink(d, tea["id"]) or {}).get("kind") == "tea")
    expect(f"{what}, seen in the MQTT state", lambda: _intake(d) == 250 and d.state()["last_drink"]["id"] == tea["id"])
    expect(f"{what}, seen on the dashboard's live stream (SSE)", lambda: [e for e in live.events("drink")
                                                                          if e["id"] == tea["id"]])
    d.command("drink", {"ml": 250, "kind": "tea", "t": t})  # redelivered
    d.command("drink", {"ml": 5})  # refused; its log line marks that both were handled
    expect("a refused drink from mqtt, logged", lambda: "drink: ml must be between 10 and 2000" in d.log_text())
    assert len([e for e in d.stored("drink") if e.get("via") == "mqtt"]) == 1, "stored twice"

    # -- a drink by hand from the dashboard ---------------------------------------------------------
    status, body = d.dash.send("POST", "/api/v1/drinks", {"ml": 330, "kind": "electrolyte"})
    assert status == 201 and body["source"] == "manual", f"drink from the dashboard: {status} {body}"
    what = "drink from the dashboard"
    salts = expect(f"{what}, stored", lambda: [e for e in d.stored("drink") if e.get("via") == "dashboard"])[0]
    assert (salts["id"], salts["source"], salts["kind"]) == (body["id"], "manual", "electrolyte")
    expect(f"{what}, seen on MQTT event/drink", lambda: [e for e in d.events("drink") if e["id"] == salts["id"]])
    expect(f"{what}, seen in the MQTT state", lambda: _intake(d) == 580)
    expect(f"{what}, seen on the dashboard's factors (electrolyte)",
           lambda: d.dash.get("/api/v1/factors")["electrolyte_ml"] == 330)
    status, body = d.dash.send("POST", "/api/v1/drinks", {"ml": 250, "kind": "beer"})
    assert status == 400 and "kind" in body["fields"], (status, body)

    # -- corrected and deleted from the dashboard: stored as changes, the drinks stay ------------
    status, body = d.dash.send("PATCH", f"/api/v1/drinks/{tea['id']}", {"ml": 200, "kind": "coffee"})
    assert status == 200 and body["changed"] and body["corrected"], f"a correction from the dashboard: {status} {body}"
    what = "a correction from the dashboard"
    expect(f"{what}, stored", lambda: [c for c in d.stored("drink_change") if c["drink_id"] == tea["id"]])
    expect(f"{what}, seen on MQTT event/drink_change", lambda: [c for c in d.events("drink_change")
                                                                if c["drink_id"] == tea["id"] and c["ml"] == 200])
    expect(f"{what}, seen in the MQTT state", lambda: _intake(d) == 530)
    today = d.dash.get("/api/v1/today")
    assert today["intake_ml"] == 530 and today["caffeine_ml"] == 200, today
    assert d.dash.get("/api/v1/history?count=1")["rows"][-1]["intake_ml"] == 530, "a correction, on History"
    status, body = d.dash.send("DELETE", f"/api/v1/drinks/{salts['id']}")
    assert status == 200 and body["deleted"], f"a deletion from the dashboard: {status} {body}"
    what = "a deletion from the dashboard"
    expect(f"{what}, seen on MQTT event/drink_change", lambda: [c for c in d.events("drink_change")
                                                                if c["drink_id"] == salts["id"] and c["deleted"]])
    expect(f"{what}, seen in the MQTT state", lambda: _intake(d) == 200)
    assert _today_drink(d, salts["id"]) is None and salts["id"] in {e["id"] for e in d.stored("drink")}
    expect(f"{what}, seen on the dashboard's live stream (SSE)",
           lambda: [c for c in live.events("drink_change") if c["drink_id"] == salts["id"]])

    # -- the day's factors from MQTT and from the dashboard ------------------------------------
    d.command("factors", {"exercise": "hard", "supplement": True})
    what = "factors from mqtt"
    expect(f"{what}, stored", lambda: [e for e in d.stored("factors") if e["source"] == "mqtt"])
    expect(f"{what}, seen on MQTT event/factors", lambda: [e for e in d.events("factors") if e["source"] == "mqtt"])
    expect(f"{what}, seen on the dashboard", lambda: d.dash.get("/api/v1/factors")["exercise"] == "hard")
    today_day = d.dash.get("/api/v1/factors")["day"]
    status, body = d.dash.send("PATCH", "/api/v1/factors", {"alcohol": 2})
    assert status == 200 and body["changed"], f"factors from the dashboard: {status} {body}"
    assert (body["day"], body["exercise"], body["supplement"], body["alcohol"]) == (today_day, "hard", True, 2), body
    expect("factors from the dashboard, seen on MQTT event/factors",
           lambda: [e for e in d.events("factors") if e["source"] == "dashboard" and e["alcohol"] == 2])
    d.command("factors", {"day": "2020-01-01", "alcohol": True})  # more than a year ago: refused
    expect("refused factors from mqtt, logged", lambda: "factors: day 2020-01-01 is more than a year ago"
           in d.log_text())
    status, body = d.dash.send("PATCH", "/api/v1/factors", {"exercise": "extreme"})
    assert status == 400 and "exercise" in body["fields"], (status, body)
    assert [e["day"] for e in d.stored("factors")] == [today_day, today_day]
