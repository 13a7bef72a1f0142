"""Shared fixtures and fakes of the dashboard tests (imported by the other test_dashboard_* files).

The app runs on a fixed clock (a Wednesday afternoon in Berlin) over an in-memory store,
with a fake reminder service and a fake scale whose load the test sets (its bottle
detector is the real one).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dashboard import create_app
from device.config import Config
from device.health import Health
from device.storage.store import Store
from sensors.calibration import Calibration
from simulator.history import seed_history

TZ_NAME = "Europe/Berlin"
TZ = ZoneInfo(TZ_NAME)
NOW = datetime(2026, 11, 25, 15, 30, tzinfo=TZ).timestamp()
CSRF = "test-csrf-token"
PASSWORD = "correct horse battery"  # the dashboard password of the login tests


class FakeReminders:
    """The reminder service's dashboard surface: active(), ack(), snooze(minutes), next_planned()."""

    def __init__(self, clock=lambda: NOW):
        self._clock = clock
        self.current: dict | None = None
        self.planned: dict | None = None  # what next_planned() says
        self.calls: list[tuple] = []
        self._lock = threading.Lock()

    def fire(self, kind="hydration", message="Time for a glass of water: 350 mL behind pace"):
        with self._lock:
            self.current = {"id": f"{kind}-1", "kind": kind, "state": "active", "message": message, "since": self._clock()}

    def active(self):
        with self._lock:
            return dict(self.current) if self.current and self.current["state"] == "active" else None

    def ack(self, source="api"):
        with self._lock:
            if self.current is None:
                return None
            self.calls.append(("ack",))
            done, self.current = dict(self.current, state="acknowledged"), None
            return done

    def next_planned(self):
        return self.planned

    def snooze(self, minutes, source="api"):
        with self._lock:
            if self.current is None or self.current["state"] != "active":
                return None
            self.calls.append(("snooze", minutes))
            self.current = dict(self.current, state="snoozed", snoozed_until=self._clock() + minutes * 60)
            return dict(self.current)


@dataclass
class FakeReading:
    t: float
    grams: float


class FakeScale:
    """A load cell with fixed true factors; ``load_g`` is what lies on it.

    Presence and contents come from a real :class:`sensors.bottle_detector.BottleDetector`
    (the one owner of them, as in the daemon's bottle worker): each ``state()`` feeds it
    a few seconds of the current load first.
    """

    OFFSET, PER_GRAM = 8500.0, 430.0
    FEED_S, RATE_HZ = 6.0, 10.0

    def __init__(self, clock=lambda: NOW, calibration: Calibration | None = None):
        from sensors.bottle_detector import BottleDetector, BottleParams

        self._clock = clock
        self.load_g = 0.0
        self.cal = calibration or Calibration(self.OFFSET, self.PER_GRAM, 300.0)
        self.used: list[Calibration] = []
        self.detector = BottleDetector(params=BottleParams(tare_g=self.cal.empty_bottle_g))
        self._sensor_t = 0.0

    def latest(self):
        raw = self.OFFSET + self.PER_GRAM * self.load_g
        return FakeReading(self._clock(), self.cal.to_grams(raw))

    def state(self):
        import numpy as np

        t = self._sensor_t + np.arange(0.0, self.FEED_S, 1.0 / self.RATE_HZ)
        self._sensor_t = float(t[-1]) + 1.0 / self.RATE_HZ
        self.detector.feed(t, np.full(len(t), self.latest().grams))
        return self.detector.state

    def level(self):
        return self.OFFSET + self.PER_GRAM * self.load_g

    def calibration(self):
        return self.cal

    def use(self, calibration):
        self.cal = calibration
        self.used.append(calibration)
        self.detector.set_empty_bottle(calibration.empty_bottle_g)


def make_config(**sections) -> Config:
    data = {"device": {"data_dir": ":memory:", "timezone": TZ_NAME}}
    data.update(sections)
    return Config.model_validate(data)


@pytest.fixture
def store():
    with Store(":memory:", clock=lambda: NOW) as s:
        yield s


@pytest.fixture
def seeded(store):
    seed_history(store, 30, end=NOW, tz=TZ, seed=3)
    return store


@pytest.fixture
def reminders():
    return FakeReminders()


@pytest.fixture
def scale():
    return FakeScale()


@pytest.fixture
def health():
    h = Health(clock=lambda: NOW)
    h.set("storage", "ok", ":memory:")
    h.set("bottle", "ok", "reading")
    h.set("mqtt", "off", "no mqtt.host configured")
    return h


@pytest.fixture
def app(seeded, reminders, scale, health):
    return create_app(make_config(), store=seeded, health=health, reminders=reminders, scale=scale,
                      clock=lambda: NOW, test_config={"TESTING": True})


@pytest.fixture
def client(app):
    """A test client whose session holds a known CSRF token (send it as X-CSRF-Token)."""
    c = app.test_client()
    with c.session_transaction() as session:
        session["csrf"] = CSRF
    return c


def post(client, url, body=None, *, method="POST", token=CSRF):
    """A JSON change with the CSRF header."""
    headers = {"X-CSRF-Token": token} if token else {}
    kwargs = {"json": body} if body is not None else {}
    return client.open(url, method=method, headers=headers, **kwargs)


def login(client, password=PASSWORD, next_="/"):
    """The login form as a browser sends it: the page first (for its CSRF token), then the post."""
    client.get("/login")
    with client.session_transaction() as s:
        token = s["csrf"]
    return client.post("/login", data={"password": password, "csrf_token": token, "next": next_})
