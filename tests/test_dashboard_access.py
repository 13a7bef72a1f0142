"""Who may reach the dashboard at all: the peer check without a password, the Host
allow-list, the per-client login limit, one password check at a time, safe redirects
after login, and sessions that end for good on logout or a new password."""

import http.client
import os
import re
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from werkzeug.security import generate_password_hash

from dashboard import create_app
from dashboard.security import session_generation
from dashboard.server import DashboardServer
from device.storage.store import Store
from tests.test_dashboard_fixtures import (  # noqa: F401  (fixtures)
    CSRF, NOW, PASSWORD, login, make_config, post, seeded, store,
)

CHEAP_HASH = generate_password_hash(PASSWORD, method="scrypt:1024:8:1")  # fast: for tests of the flow
LAN, OTHER_LAN = "192.168.1.20", "192.168.1.66"


def _app(db, password_hash=CHEAP_HASH, **config):
    return create_app(make_config(**config), store=db, clock=lambda: NOW,
                      test_config={"TESTING": True, "PASSWORD_HASH": password_hash, "LOGIN_LIMIT": 3})


def _client(app, addr=LAN):
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = addr
    return c


def _token(client):
    with client.session_transaction() as s:
        return s["csrf"]


def _local_address():
    """A non-loopback address of this machine (None without one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the route
        except OSError:
            return None
        addr = s.getsockname()[0]
    return None if addr.startswith("127.") or addr == "0.0.0.0" else addr


# -- 1: without a password only this machine is answered --------------------------------

def test_without_a_password_a_lan_peer_is_refused_whatever_host_it_claims(seeded):
    app = create_app(make_config(), store=seeded, clock=lambda: NOW, test_config={"TESTING": True})
    lan = _client(app)
    with lan.session_transaction() as s:
        s["csrf"] = CSRF
    r = post(lan, "/api/v1/settings", {"bottle": {"rate_hz": 80}}, method="PATCH")
    assert r.status_code == 403 and "crampwatch set-password" in r.get_json()["error"]
    assert seeded.get_setting("config.overrides") is None
    r = lan.get("/", headers={"Host": "localhost"})
    assert r.status_code == 403 and b"set-password" in r.data
    for addr in ("127.0.0.1", "127.0.1.1", "::1", "::ffff:127.0.0.1"):
        assert _client(app, addr).get("/api/v1/today").status_code == 200, addr


def test_removing_the_password_file_while_running_closes_the_dashboard_to_the_lan(seeded, tmp_path):
    path = tmp_path / "pw"
    path.write_text(CHEAP_HASH)
    app = create_app(make_config(dashboard={"password_file": str(path)}), store=seeded, clock=lambda: NOW)
    lan = _client(app)
    assert login(lan).status_code == 302 and lan.get("/api/v1/today").status_code == 200
    path.write_text("")  # an empty file is no password
    os.utime(path, ns=(1, 1))
    assert lan.get("/api/v1/today").status_code == 403
    path.unlink()
    assert lan.get("/api/v1/today", headers={"Host": "localhost"}).status_code == 403
    assert _client(app, "127.0.0.1").get("/api/v1/today").status_code == 200


def test_a_running_server_refuses_lan_peers_once_the_password_is_removed(seeded, tmp_path):
    addr = _local_address()
    if addr is None:
        pytest.skip("this machine has no non-loopback address to test with")
    path = tmp_path / "pw"
    path.write_text(CHEAP_HASH)
    app = create_app(make_config(dashboard={"password_file": str(path)}), store=seeded, clock=lambda: NOW)
    server = DashboardServer(app, addr, 0)  # bound beyond loopback, as with a password
    server.start()
    try:
        path.unlink()  # crampwatch set-password --remove
        conn = http.client.HTTPConnection(addr, server.port, timeout=10, source_address=(addr, 0))
        try:
            conn.request("PATCH", "/api/v1/settings", body=b"{}",
                         headers={"Host": "localhost", "Content-Type": "application/json"})
            r = conn.getresponse()
            body = r.read()
        finally:
            conn.close()
        assert r.status == 403 and b"set-password" in body
    finally:
        server.stop()


def test_behind_a_proxy_on_this_machine_its_clients_are_not_loopback(seeded, tmp_path):
    """A TLS proxy on the Pi (docs/reverse-proxy.md) connects from loopback; the client it
    names in X-Forwarded-For is who the no-password rule and the login limit see."""
    lan_client = {"X-Forwarded-For": "192.168.1.77", "X-Forwarded-Proto": "https"}

    def ask(server, method, path, headers, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return r.status, r.read(), r.getheader("Set-Cookie") or ""
        finally:
            conn.close()

    def wrong_login(server):
        _, page, cookie = ask(server, "GET", "/login", lan_client)
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1)
        headers = {**lan_client, "Cookie": cookie.split(";")[0],
                   "Content-Type": "application/x-www-form-urlencoded"}
        return ask(server, "POST", "/login", headers, body=b"password=wrong&csrf_token=" + token)[0]

    server = DashboardServer(create_app(make_config(), store=seeded, clock=lambda: NOW), "127.0.0.1", 0)
    server.start()
    try:  # no password: the proxied LAN client is refused, this machine is answered
        assert ask(server, "GET", "/api/v1/today", lan_client)[0] == 403
        assert ask(server, "GET", "/api/v1/today", {})[0] == 200
    finally:
        server.stop()
    path = tmp_path / "pw"
    path.write_text(CHEAP_HASH)
    app = create_app(make_config(dashboard={"password_file": str(path)}), store=seeded, clock=lambda: NOW)
    server = DashboardServer(app, "127.0.0.1", 0)
    server.start()
    try:  # wrong passwords through the proxy run into the per-client limit (loopback has none)
        statuses = [wrong_login(server) for _ in range(7)]
        assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429], statuses
    finally:
        server.stop()


# -- 3: the Host allow-list always applies; attempts count before the check; one check at a time

def test_a_foreign_host_name_is_refused_with_a_password_too(seeded):
    app = _app(seeded)
    c = _client(app)
    r = c.get("/login", headers={"Host": "rebind.evil.example:8080"})
    assert r.status_code == 400 and b"DNS rebinding" in r.data
    r = c.get("/api/v1/today", headers={"Host": "203.0.113.9"})  # an address not of this machine
    assert r.status_code == 400 and "DNS rebinding" in r.get_json()["error"]
    assert c.get("/api/v1/today", headers={"Host": "[::1"}).status_code == 400  # malformed, not a 500


def test_this_machines_names_and_addresses_and_the_configured_host_are_answered(seeded):
    app = _app(seeded, dashboard={"host": "crampwatch.home"})
    c = _client(app)
    hosts = ["localhost", "127.0.0.1:8080", "[::1]:8080", "crampwatch.home:8080", socket.gethostname(),
             socket.gethostname().split(".")[0] + ".local"]
    if _local_address():
        hosts.append(f"{_local_address()}:8080")
    for host in hosts:
        assert c.get("/login", headers={"Host": host}).status_code == 200, host


def test_parallel_wrong_logins_cannot_pass_the_limit(seeded):
    app = _app(seeded, password_hash=generate_password_hash(PASSWORD))  # a real, slow check
    clients = [_client(app) for _ in range(10)]
    for c in clients:
        c.get("/login")
    start = threading.Barrier(len(clients))

    def attempt(c):
        start.wait()
        return c.post("/login", data={"password": "wrong-password", "csrf_token": _token(c)}).status_code

    with ThreadPoolExecutor(len(clients)) as pool:
        codes = sorted(pool.map(attempt, clients))
    assert codes == [401] * 3 + [429] * 7


SERVER = """
import sys
from werkzeug.security import generate_password_hash
from dashboard import create_app
from dashboard.server import DashboardServer
from device.storage.store import Store
app = create_app(store=Store(":memory:"),
                 test_config={"PASSWORD_HASH": generate_password_hash("right-password"), "LOGIN_LIMIT": 100})
server = DashboardServer(app, "127.0.0.1", 0)
server.start()
print(server.port, flush=True)
sys.stdin.readline()
server.stop()
"""


def _peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024


def _wrong_login(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/login")
        r = conn.getresponse()
        page = r.read().decode()
        cookie = r.getheader("Set-Cookie").split(";")[0]
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        conn.request("POST", "/login", body=f"password=wrong-password&csrf_token={token}",
                     headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_password_checks_run_one_at_a_time_so_parallel_logins_cannot_exhaust_memory():
    # Each scrypt check takes 32 MiB; eight at once would add about 224 MiB.
    proc = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        port = int(proc.stdout.readline())
        assert _wrong_login(port) == 401  # one check: the baseline includes its 32 MiB
        before = _peak_rss_mib(proc.pid)
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(_wrong_login, [port] * 8))
        assert codes == [401] * 8
        assert _peak_rss_mib(proc.pid) - before < 24
    finally:
        proc.stdin.close()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


# -- 4: after login, only a path on this dashboard -------------------------------------

@pytest.mark.parametrize("target", ["/\t/evil.example/x", "/\n/evil.example/x", "/\r\nSet-Cookie: a=b",
                                    "//evil.example/", "/\\evil.example", "https://evil.example/", " //evil.example",
                                    "\t//evil.example", "javascript:alert(1)", "/x\x00y", ""])
def test_login_redirects_only_to_a_local_path(seeded, target):
    c = _client(_app(seeded))
    assert c.get("/login", query_string={"next": target}).status_code == 200
    r = login(c, next_=target)
    assert r.status_code == 302 and r.headers["Location"] == "/"


def test_login_keeps_a_local_next_path(seeded):
    c = _client(_app(seeded))
    r = c.get("/history?view=week")
    assert r.status_code == 302 and r.headers["Location"] == "/login?next=/history?view%3Dweek"
    r = login(c, next_="/history?view=week")
    assert r.status_code == 302 and r.headers["Location"] == "/history?view=week"
    r = login(c, next_="/nights/caf\u00e9")
    assert r.headers["Location"] == "/nights/caf%C3%A9"


# -- 5: the login limit is per client; loopback and browsers that logged in before are exempt

def test_failures_from_many_addresses_never_lock_out_a_fresh_client(seeded):
    app = _app(seeded)
    for i in range(40):
        assert login(_client(app, f"192.168.7.{i + 1}"), password="wrong-password").status_code == 401
    assert login(_client(app)).status_code == 302


def test_loopback_is_not_rate_limited(seeded):
    c = _client(_app(seeded), "127.0.0.1")
    for _ in range(6):
        assert login(c, password="wrong-password").status_code == 401
    assert login(c).status_code == 302


def test_a_browser_that_logged_in_before_is_not_held_up_by_others_at_its_address(seeded):
    app = _app(seeded)
    owner = _client(app)
    assert login(owner).status_code == 302
    assert owner.post("/logout", data={"csrf_token": _token(owner)}).status_code == 302
    intruder = _client(app)  # the same address (a shared NAT, or a guest on the owner's Wi-Fi)
    for _ in range(3):
        assert login(intruder, password="wrong-password").status_code == 401
    assert login(intruder).status_code == 429
    assert login(owner).status_code == 302
    for _ in range(3):  # and the owner's browser has a budget of its own
        assert login(owner, password="wrong-password").status_code == 401
    assert login(owner).status_code == 429


# -- 8: sessions end for good ---------------------------------------------------------

def test_an_old_cookie_is_refused_after_logout(seeded):
    app = _app(seeded)
    c = _client(app)
    assert login(c).status_code == 302
    stolen = c.get_cookie("crampwatch_session").value
    other = _client(app, OTHER_LAN)
    assert login(other).status_code == 302
    assert c.post("/logout", data={"csrf_token": _token(c)}).status_code == 302
    replay = _client(app)
    replay.set_cookie("crampwatch_session", stolen)
    assert replay.get("/api/v1/today").status_code == 401
    assert other.get("/api/v1/today").status_code == 401  # logging out ends every session
    assert login(other).status_code == 302 and other.get("/api/v1/today").status_code == 200
    assert replay.get("/api/v1/today").status_code == 401  # and a new login does not revive old ones


def test_set_password_ends_open_sessions_through_the_store(tmp_path):
    data = tmp_path / "data"
    with Store(data) as st:
        before = session_generation(st)
    run = subprocess.run([sys.executable, "-m", "device.cli", "set-password", "--data-dir", str(data)],
                         input="long enough pass\n", capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    with Store(data) as st:
        assert session_generation(st) == before + 1
    run = subprocess.run([sys.executable, "-m", "device.cli", "set-password", "--data-dir", str(data), "--remove"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    with Store(data) as st:
        assert session_generation(st) == before + 2


def test_set_password_creates_no_database_where_there_is_none(tmp_path):
    run = subprocess.run([sys.executable, "-m", "device.cli", "set-password", "--data-dir", str(tmp_path)],
                         input="long enough pass\n", capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dashboard-password"]


def test_a_password_change_from_the_cli_logs_a_running_dashboard_out(tmp_path):
    data = tmp_path / "data"
    db = Store(data, clock=lambda: NOW)
    try:
        app = create_app(make_config(device={"data_dir": str(data), "timezone": "Europe/Berlin"}), store=db,
                         clock=lambda: NOW)
        subprocess.run([sys.executable, "-m", "device.cli", "set-password", "--data-dir", str(data)],
                       input=PASSWORD + "\n", capture_output=True, text=True, timeout=60, check=True)
        c = _client(app)
        assert login(c).status_code == 302 and c.get("/api/v1/today").status_code == 200
        subprocess.run([sys.executable, "-m", "device.cli", "set-password", "--data-dir", str(data)],
                       input=PASSWORD + "\n", capture_output=True, text=True, timeout=60, check=True)
        time.sleep(0.01)
        assert c.get("/api/v1/today").status_code == 401
    finally:
        db.close()
