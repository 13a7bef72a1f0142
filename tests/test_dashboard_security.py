"""Who may see and change what: login sessions, CSRF tokens, login rate limit, security
headers, the Host check, the bind refusal, and set-password (more in test_dashboard_access)."""

import os
import stat
import subprocess
import sys

import pytest
from werkzeug.security import generate_password_hash

from dashboard import create_app
from dashboard.passwords import FILE_NAME, PasswordCheck
from dashboard.server import check_bind, is_loopback
from tests.test_dashboard_fixtures import (  # noqa: F401  (fixtures)
    CSRF, NOW, PASSWORD, FakeReminders, health, login, make_config, post, reminders, scale, seeded, store,
)
from vocabulary.errors import ConfigError

@pytest.fixture
def locked(seeded, reminders):
    """An app with a password."""
    return create_app(make_config(), store=seeded, reminders=reminders, clock=lambda: NOW,
                      test_config={"TESTING": True, "PASSWORD_HASH": generate_password_hash(PASSWORD), "LOGIN_LIMIT": 3})


def test_with_a_password_pages_redirect_to_login_and_the_api_says_401(locked):
    c = locked.test_client()
    r = c.get("/nights")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=/nights")
    r = c.get("/api/v1/today")
    assert r.status_code == 401 and r.get_json()["error"] == "log in first"
    assert c.get("/api/v1/openapi.json").status_code == 200  # the document is public
    with c.get("/static/app.css") as r:
        assert r.status_code == 200


def test_login_logout_round_trip(locked):
    c = locked.test_client()
    r = login(c, next_="/history")
    assert r.status_code == 302 and r.headers["Location"] == "/history"
    assert c.get("/api/v1/today").status_code == 200
    cookie = c.get_cookie("crampwatch_session")
    assert cookie.http_only and cookie.same_site == "Lax"
    with c.session_transaction() as s:
        token = s["csrf"]
    assert c.post("/logout", data={"csrf_token": token}).status_code == 302
    assert c.get("/api/v1/today").status_code == 401


def test_login_never_redirects_off_site(locked):
    r = login(locked.test_client(), next_="//evil.example/")
    assert r.headers["Location"] == "/"


def test_a_wrong_password_is_refused_and_logged_without_the_password(locked, caplog):
    c = locked.test_client()
    r = login(c, password="guess-1234")
    assert r.status_code == 401 and b"not right" in r.data
    assert c.get("/api/v1/today").status_code == 401
    assert "failed login" in caplog.text and "guess-1234" not in caplog.text


def test_login_attempts_are_rate_limited_per_client(locked):
    c = locked.test_client()
    c.environ_base["REMOTE_ADDR"] = "192.168.1.20"  # loopback is not limited
    for _ in range(3):
        assert login(c, password="wrong-password").status_code == 401
    r = login(c)  # even the right password waits now
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    other = locked.test_client()
    r = other.get("/login")  # another address is not blocked by this one
    with other.session_transaction() as s:
        token = s["csrf"]
    r = other.post("/login", data={"password": PASSWORD, "csrf_token": token},
                   environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert r.status_code == 302


def test_changing_the_password_logs_every_session_out(seeded, tmp_path):
    path = tmp_path / "pw"
    path.write_text(generate_password_hash(PASSWORD))
    app = create_app(make_config(dashboard={"password_file": str(path)}), store=seeded, clock=lambda: NOW)
    c = app.test_client()
    assert login(c).status_code == 302 and c.get("/api/v1/today").status_code == 200
    path.write_text(generate_password_hash("another password"))
    os.utime(path, ns=(1, 1))  # a different mtime even within the same clock tick
    assert c.get("/api/v1/today").status_code == 401


def test_a_damaged_password_file_lets_nobody_in(tmp_path):
    path = tmp_path / "pw"
    path.write_text("not a hash")
    check = PasswordCheck(path)
    assert check.is_set and not check.verify("not a hash") and not check.verify("")


@pytest.mark.parametrize("method,url,body", [("POST", "/api/v1/reminder/ack", None),
                                             ("POST", "/api/v1/cramps", {"night": "2026-11-23", "time": "03:40"}),
                                             ("PATCH", "/api/v1/settings", {"bottle": {"rate_hz": 80}}),
                                             ("POST", "/api/v1/calibration/tare", None)])
@pytest.mark.parametrize("token", [None, "wrong"])
def test_every_change_needs_the_csrf_token(seeded, reminders, scale, method, url, body, token):
    app = create_app(make_config(), store=seeded, reminders=reminders, scale=scale, clock=lambda: NOW)
    c = app.test_client()
    with c.session_transaction() as s:
        s["csrf"] = CSRF
    reminders.fire()
    r = post(c, url, body, method=method, token=token)
    assert r.status_code == 403 and "CSRF" in r.get_json()["error"]
    assert reminders.calls == [] and seeded.get_setting("config.overrides") is None
    assert not [e for e in seeded.events(types=["cramp"]) if e.get("source") == "dashboard" and e["t"] > NOW - 7 * 86400]


def test_a_foreign_origin_is_refused_even_with_the_token(seeded, reminders):
    c = create_app(make_config(), store=seeded, reminders=reminders, clock=lambda: NOW).test_client()
    with c.session_transaction() as s:
        s["csrf"] = CSRF
    reminders.fire()
    r = c.post("/api/v1/reminder/ack", headers={"X-CSRF-Token": CSRF, "Origin": "http://evil.example"})
    assert r.status_code == 403 and reminders.calls == []
    r = c.post("/api/v1/reminder/ack", headers={"X-CSRF-Token": CSRF, "Origin": "http://localhost"})
    assert r.status_code == 200


def test_the_login_form_needs_its_csrf_token_too(locked):
    c = locked.test_client()
    c.get("/login")
    assert c.post("/login", data={"password": PASSWORD}).status_code == 403


def test_without_a_password_only_loopback_host_names_are_answered(seeded):
    c = create_app(make_config(), store=seeded, clock=lambda: NOW).test_client()
    assert c.get("/api/v1/today", headers={"Host": "127.0.0.1:8080"}).status_code == 200
    assert c.get("/api/v1/today", headers={"Host": "[::1]:8080"}).status_code == 200
    r = c.get("/api/v1/today", headers={"Host": "rebind.evil.example:8080"})  # DNS rebinding
    assert r.status_code == 400 and "DNS rebinding" in r.get_json()["error"]


@pytest.mark.parametrize("url", ["/", "/history", "/api/v1/today", "/static/app.css", "/login"])
def test_security_headers_on_everything(seeded, url):
    with create_app(make_config(), store=seeded, clock=lambda: NOW).test_client().get(url) as r:
        h = r.headers
    assert "default-src 'self'" in h["Content-Security-Policy"] and "frame-ancestors 'none'" in h["Content-Security-Policy"]
    assert "'unsafe-inline'" not in h["Content-Security-Policy"]
    assert h["X-Content-Type-Options"] == "nosniff" and h["X-Frame-Options"] == "DENY"
    assert h["Referrer-Policy"] == "no-referrer"
    if not url.startswith("/static"):
        assert h["Cache-Control"] == "no-store"


@pytest.mark.parametrize("url", ["/", "/history", "/api/v1/today", "/static/app.css", "/login", "/no-such-page"])
def test_embedding_lets_only_the_configured_origins_frame_the_dashboard(seeded, url):
    config = make_config(dashboard={"embed_origins": ["http://homeassistant.local:8123", "HTTPS://HA.example.org/"]})
    with create_app(config, store=seeded, clock=lambda: NOW).test_client().get(url) as r:
        h = r.headers
    csp = h["Content-Security-Policy"]
    assert csp.endswith("; frame-ancestors http://homeassistant.local:8123 https://ha.example.org")
    assert "'none'" not in csp.split("frame-ancestors")[1] and "*" not in csp
    assert "X-Frame-Options" not in h  # DENY would win in some browsers; it cannot name an origin
    assert "default-src 'self'" in csp and h["X-Content-Type-Options"] == "nosniff"  # the rest unchanged


@pytest.mark.parametrize("origin", ["*", "https://*.example.org", "http://ha.local:8123/lovelace", "ftp://ha.local",
                                    "homeassistant.local:8123", "https://ha.local; script-src *", "'self'",
                                    "https://user:pw@ha.local"])
def test_embed_origins_are_http_origins_without_wildcards(origin):
    with pytest.raises(Exception, match="dashboard.embed_origins"):
        make_config(dashboard={"embed_origins": [origin]})


@pytest.mark.parametrize("host,ok", [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.1.1", True),
                                     ("0.0.0.0", False), ("192.168.1.20", False), ("::", False)])
def test_bind_refused_beyond_loopback_without_a_password(host, ok):
    assert is_loopback(host) is ok
    if ok:
        check_bind(host, password_set=False)
    else:
        with pytest.raises(ConfigError, match="set-password"):
            check_bind(host, password_set=False)
        check_bind(host, password_set=True)


def _cli(*args, stdin="", env=None):
    return subprocess.run([sys.executable, "-m", "device.cli", *args], input=stdin, capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


def test_daemon_refuses_to_start_on_the_network_without_a_password(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[device]\ndata_dir = "{tmp_path}"\n[dashboard]\nhost = "0.0.0.0"\nport = 18081\n')
    run = _cli("run", "--simulate", "--config", str(cfg), "--duration", "5")
    assert run.returncode == 2
    assert "no dashboard password is set" in run.stderr and "crampwatch set-password" in run.stderr


def test_set_password_stores_a_salted_hash_readable_by_its_owner_only(tmp_path):
    run = _cli("set-password", "--data-dir", str(tmp_path), stdin="s3cret-passphrase\n")
    assert run.returncode == 0, run.stderr
    path = tmp_path / FILE_NAME
    text = path.read_text()
    assert text.startswith("scrypt:") and "s3cret" not in text and "s3cret" not in run.stderr + run.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert PasswordCheck(path).verify("s3cret-passphrase") and not PasswordCheck(path).verify("s3cret")
    again = _cli("set-password", "--data-dir", str(tmp_path), stdin="s3cret-passphrase\n")
    assert path.read_text() != text  # a new salt each time
    assert again.returncode == 0


def test_set_password_refuses_a_short_one_and_can_remove_it(tmp_path):
    run = _cli("set-password", "--data-dir", str(tmp_path), stdin="short\n")
    assert run.returncode == 2 and "at least 8" in run.stderr
    assert not (tmp_path / FILE_NAME).exists()
    _cli("set-password", "--data-dir", str(tmp_path), stdin="long enough pass\n")
    run = _cli("set-password", "--data-dir", str(tmp_path), "--remove")
    assert run.returncode == 0 and not (tmp_path / FILE_NAME).exists()
