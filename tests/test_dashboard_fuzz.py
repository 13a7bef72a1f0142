"""Property-based fuzzing of the JSON API from its own OpenAPI document (schemathesis).

The app has a password, and the fuzzer's session is logged in (so requests without it
must be refused with 401) and carries the CSRF token.

Every generated request, valid or not, must get a documented status and a body that
matches the document; no input may cause a 500. The live stream is left out (it never
ends); its own tests are in test_dashboard_sse.py. Bounded: a few examples per operation.
"""

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from werkzeug.security import generate_password_hash

from dashboard import create_app
from device.storage import Store
from tests.test_dashboard_fixtures import CSRF, NOW, TZ, FakeReminders, FakeScale, make_config
from simulator.history import seed_history

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
# (two pins must differ; a cramp's night within the last year): those may be a 400.
STATEFUL = {"/settings", "/cramps"}


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_answers_every_request_as_documented(case):
    if _reminders.active() is None:  # keep a reminder to acknowledge now and then
        _reminders.fire()
    excluded = [positive_data_acceptance] if case.operation.path in STATEFUL else []
    case.call_and_validate(headers={"X-CSRF-Token": CSRF}, excluded_checks=excluded)
