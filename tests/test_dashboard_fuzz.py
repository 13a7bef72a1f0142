"""Property-based fuzzing of the JSON API from its own OpenAPI document (schemathesis).

The app has a password, and the fuzzer's session is logged in (so requests without it
must be refused with 401) and carries the CSRF token.

Every generated request, valid or not, must get a documented status and a body that
matches the document; no input may cause a 500. The live stream is left out (it never
ends); its own tests are in test_dashboard_sse.py. Bounded: a few examples per operation.

Then hypothesis sends what a schema cannot describe (tests/fuzz_payloads.py): raw bodies
and query strings, floods of them.
"""

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from werkzeug.security import generate_password_hash

from dashboard import create_app
from device.actions import RATE_LIMITS
from device.guards.rate_limits import RateLimits
from device.storage.store import Store
from simulator.history import seed_history
from tests.fuzz_payloads import KEYS, Records, bodies
from tests.test_dashboard_fixtures import CSRF, NOW, TZ, FakeReminders, FakeScale, make_config

_store = Store(":memory:", clock=lambda: NOW)
seed_history(_store, 10, end=NOW, tz=TZ, seed=5)
_reminders = FakeReminders()
_reminders.fire()
app = create_app(make_config(), store=_store, reminders=_reminders, scale=FakeScale(), clock=lambda: NOW,
                 test_config={"TESTING": True, "PASSWORD_HASH": generate_password_hash("fuzz-password-1")})
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app).exclude(path="/stream")


def _session_cookie() -> str:
    client = app.test_client()
    with client.session_transaction() as session:
        session["csrf"] = CSRF
        session["auth"] = app.extensions["crampwatch.passwords"].fingerprint()
    return client.get_cookie("crampwatch_session").value


COOKIE = _session_cookie()


@schema.auth()
class LoggedIn:
    """The fuzzer's session cookie (schemathesis also tries requests without it)."""

    def get(self, case, context):
        return COOKIE

    def set(self, case, data, context):
        case.cookies = {**(case.cookies or {}), "crampwatch_session": data}


# Whether a schema-valid change is accepted depends on rules JSON Schema cannot state
# (two pins must differ; a cramp's night within the last year; a factors day not in the
# future and within the last year): those may be a 400.
STATEFUL = {"/settings", "/cramps", "/factors"}


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_answers_every_request_as_documented(case):
    if _reminders.active() is None:  # keep a reminder to acknowledge now and then
        _reminders.fire()
    excluded = [positive_data_acceptance] if case.operation.path in STATEFUL else []
    case.call_and_validate(headers={"X-CSRF-Token": CSRF}, excluded_checks=excluded)


# -- hostile bodies, as bytes (hypothesis) ------------------------------------------------
# The document-driven fuzzing above sends what JSON Schema can describe. These send what a
# hostile client can: numbers past every limit, huge ints, 1e400, NaN, JSON nested 40,000
# deep, bytes that are not UTF-8, wrong types, and floods of them, to every change. The
# rate limits' clock is frozen, so the cramps stored stay within one burst however many
# are sent; broker settings are never stored.
_raw_store = Store(":memory:", clock=lambda: NOW)
seed_history(_raw_store, 10, end=NOW, tz=TZ, seed=7)
_raw_reminders = FakeReminders()
raw_app = create_app(make_config(), store=_raw_store, reminders=_raw_reminders, scale=FakeScale(), clock=lambda: NOW,
                     test_config={"TESTING": True})
raw_app.extensions["crampwatch"].actions.limits = RateLimits(RATE_LIMITS, clock=lambda: 0.0)  # frozen
_raw_client = raw_app.test_client()
with _raw_client.session_transaction() as _session:
    _session["csrf"] = CSRF
_WAKE = next(e["id"] for e in _raw_store.events(types=["wake"]))
_SEEDED = {e["id"] for e in _raw_store.events(types=["cramp"])}
_DRINK = next(e["id"] for e in _raw_store.events(types=["drink"]))
_SEEDED_DRINKS = sum(1 for _ in _raw_store.events(types=["drink"]))
CHANGES = [("POST", "/api/v1/cramps"), ("POST", "/api/v1/reminder/snooze"), ("POST", "/api/v1/reminder/ack"),
           ("POST", f"/api/v1/wakes/{_WAKE}/label"), ("POST", "/api/v1/wakes/wake-1/label"),
           ("PATCH", "/api/v1/settings"), ("POST", "/api/v1/calibration/known"), ("POST", "/api/v1/calibration/empty"),
           ("POST", "/api/v1/drinks"), ("PATCH", f"/api/v1/drinks/{_DRINK}"), ("DELETE", f"/api/v1/drinks/{_DRINK}"),
           ("PATCH", "/api/v1/drinks/drink-1"), ("PATCH", "/api/v1/factors")]
QUERIES = [("/api/v1/history", "count"), ("/api/v1/history", "view"), ("/api/v1/nights", "count"),
           ("/api/v1/nights", "last"), ("/api/v1/insights", "weeks")]
raw_values = st.sampled_from(["1" + "0" * 400, "9" * 5000, "1e400", "nan", "-0", "", "2026-02-30", "\x00"]) | st.text()
# Valid changes too, so that floods reach the actions: cramps at distinct times (without
# the limit each would be a new row), labels, settings (the broker's among them).
valid_changes = (
    st.floats(min_value=NOW - 300 * 86400, max_value=NOW).map(lambda t: (CHANGES[0], b'{"t": %.3f}' % t))
    | st.sampled_from([(CHANGES[3], b'{"cramp": true}'), (CHANGES[3], b'{"cramp": false}'),
                       (CHANGES[1], b'{"minutes": 720}'), (CHANGES[5], b'{"bottle": {"rate_hz": 80}}'),
                       (CHANGES[5], b'{"mqtt": {"host": "evil.example"}}'), (CHANGES[5], b'{"mqtt": {"tls": false}}'),
                       (CHANGES[5], b'{"mqtt": {"keepalive": 30, "port": 1}}')])
    # drinks by hand at distinct times, corrections that each change something, a day's factors
    | st.floats(min_value=NOW - 6 * 86400, max_value=NOW).map(lambda t: (CHANGES[8], b'{"ml": 250, "t": %.3f}' % t))
    | st.integers(min_value=10, max_value=2000).map(lambda ml: (CHANGES[9], b'{"ml": %d}' % ml))
    | st.sampled_from(["none", "light", "hard"]).map(lambda x: (CHANGES[12], b'{"exercise": "%s"}' % x.encode())))


def _check(r) -> None:
    assert r.status_code < 500, (r.status_code, r.get_data()[:300])
    if r.status_code >= 400:
        assert "error" in r.get_json()
    if r.status_code == 429:
        assert int(r.headers["Retry-After"]) >= 1


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(CHANGES), bodies) | valid_changes, min_size=1, max_size=12))
def test_hostile_bodies_get_a_4xx_never_a_500_and_store_a_bounded_number_of_rows(requests):
    with Records() as log:
        for (method, url), body in requests:
            if _raw_reminders.active() is None:
                _raw_reminders.fire()
            _check(_raw_client.open(url, method=method, data=body,
                                    headers={"X-CSRF-Token": CSRF, "Content-Type": "application/json"}))
        assert log.tracebacks() == []
    added = [e for e in _raw_store.events(types=["cramp"]) if e["id"] not in _SEEDED]
    assert len([e for e in added if not e.get("wake_id")]) <= RATE_LIMITS["cramp"].burst
    assert len([e for e in added if e.get("wake_id")]) <= RATE_LIMITS["label"].burst
    assert sum(1 for _ in _raw_store.events(types=["drink"])) - _SEEDED_DRINKS <= RATE_LIMITS["drink"].burst
    assert sum(1 for _ in _raw_store.events(types=["drink_change"])) <= RATE_LIMITS["drink_change"].burst
    assert sum(1 for _ in _raw_store.events(types=["factors"])) <= RATE_LIMITS["factors"].burst
    overrides = _raw_store.get_setting("config.overrides") or {}
    assert not set(overrides.get("mqtt", {})) & {"host", "port", "username", "tls", "client_id"}


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.sampled_from(QUERIES), raw_values, st.sampled_from(KEYS))
def test_hostile_query_strings_get_a_4xx_never_a_500(query, value, other):
    url, name = query
    with Records() as log:
        _check(_raw_client.get(url, query_string={name: value, other: value}))
        assert log.tracebacks() == []
