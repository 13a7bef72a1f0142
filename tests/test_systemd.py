"""systemd integration: the daemon says READY, pings the watchdog while its health
loop runs and says STOPPING on SIGTERM; the shipped unit is complete and installs."""

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid

import pytest

from device.cli.install_service import UNIT_NAME, packaged_unit, render_unit
from device.cli.main import main
from device.runtime.sdnotify import Notifier, Watchdog
from tests.conftest import free_port


def parse_unit(text):
    """{section: {key: [values]}}: systemd keys may repeat (DeviceAllow=)."""
    sections, current = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            assert line.endswith("]"), line
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None and "=" in line, line
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture
def notify_socket():
    """A datagram socket in the abstract namespace, as systemd's would be."""
    name = f"@crampwatch-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name[1:])
    sock.settimeout(0.5)
    yield name, sock
    sock.close()


def receive_until(sock, wanted, timeout):
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
        if wanted(got):
            break
    return got


def test_the_daemon_notifies_ready_watchdog_and_stopping(tmp_path, notify_socket):
    name, sock = notify_socket
    config = tmp_path / "config.toml"
    config.write_text(f'[device]\ndata_dir = "{tmp_path / "data"}"\n[dashboard]\nport = {free_port()}\n'
                      '[simulator]\ndrink_interval_s = 30\n')
    env = {**os.environ, "NOTIFY_SOCKET": name, "WATCHDOG_USEC": "1000000"}
    proc = subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--simulate", "--config", str(config)],
                            env=env, stderr=subprocess.DEVNULL)
    try:
        got = receive_until(sock, lambda g: sum("WATCHDOG=1" in m for m in g) >= 2, timeout=40)
        ready = [m for m in got if "READY=1" in m]
        assert ready, got
        assert "STATUS=running" in ready[0]
        # READY comes first; the pings (with a status line) follow at half the watchdog period
        assert got.index(ready[0]) < min(i for i, m in enumerate(got) if "WATCHDOG=1" in m)
        assert any("STATUS=health:" in m for m in got if "WATCHDOG=1" in m)
        proc.send_signal(signal.SIGTERM)
        got = receive_until(sock, lambda g: any("STOPPING=1" in m for m in g), timeout=15)
        assert any("STOPPING=1" in m for m in got), got
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_without_notify_socket_nothing_is_sent():
    notifier = Notifier(environ={"WATCHDOG_USEC": "1000000"})
    assert not notifier.enabled and notifier.ready() is False and notifier.watchdog() is False


def test_a_path_socket_receives_and_watchdog_pid_of_another_process_is_ignored(tmp_path):
    short = tmp_path / "n.sock"
    if len(str(short)) > 100:  # AF_UNIX paths are limited to 108 bytes
        pytest.skip("temporary path too long for an AF_UNIX socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(short))
        notifier = Notifier(environ={"NOTIFY_SOCKET": str(short), "WATCHDOG_USEC": "20000000"})
        assert notifier.watchdog_s == 20.0
        assert notifier.notify(READY=1, STATUS="fine")
        assert sock.recv(100) == b"READY=1\nSTATUS=fine"
    other = Notifier(environ={"NOTIFY_SOCKET": str(short), "WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"})
    assert other.watchdog_s is None or os.getpid() == 1


def test_the_watchdog_pings_only_while_the_health_loop_is_alive(notify_socket):
    name, sock = notify_socket
    alive = [True]
    dog = Watchdog(Notifier(environ={"NOTIFY_SOCKET": name, "WATCHDOG_USEC": "200000"}), lambda: alive[0])
    dog.start()
    try:
        assert "WATCHDOG=1" in sock.recv(100).decode()
        alive[0] = False
        time.sleep(0.15)  # a ping may have been in flight
        late = receive_until(sock, lambda g: False, timeout=0.2)  # drain it
        # with the loop dead for many periods (0.1 s each), systemd hears nothing and restarts us
        assert receive_until(sock, lambda g: False, timeout=1.0) == [], late
        alive[0] = True
        assert "WATCHDOG=1" in sock.recv(100).decode()
    finally:
        dog.stop()


def test_the_shipped_unit_has_what_the_appliance_needs():
    unit = parse_unit(packaged_unit())
    service = unit["Service"]
    assert service["Type"] == ["notify"]
    assert service["Restart"] == ["on-failure"]
    assert int(service["WatchdogSec"][0]) >= 10
    assert service["User"] == ["crampwatch"]
    assert set(service["SupplementaryGroups"][0].split()) == {"gpio", "i2c"}
    assert service["StateDirectory"] == ["crampwatch"]
    assert service["ProtectSystem"] == ["strict"]
    assert service["PrivateTmp"] == ["yes"] and service["NoNewPrivileges"] == ["yes"]
    assert service["DevicePolicy"] == ["closed"]
    allowed = " ".join(service["DeviceAllow"])
    for device in ("char-gpiochip", "char-i2c", "/dev/gpiomem"):
        assert device in allowed
    assert "PrivateDevices" not in service  # it would hide /dev/gpiochip* and /dev/i2c-*
    # health data: files the daemon creates and its state directory are its own only
    assert service["UMask"] == ["0077"] and service["StateDirectoryMode"] == ["0700"]
    assert service["ProtectProc"] == ["invisible"] and service["RemoveIPC"] == ["yes"]
    assert "ProcSubset" not in service  # gpiozero reads the board from /proc/device-tree or /proc/cpuinfo
    # an allow list first, then the groups taken out of it
    assert service["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]
    assert service["SystemCallErrorNumber"] == ["EPERM"]
    assert "time-sync.target" in unit["Unit"]["After"][0] and unit["Unit"]["Wants"] == ["time-sync.target"]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_render_fills_in_the_command_and_drops_missing_groups():
    text, notes = render_unit("/opt/cw/bin/crampwatch", group_exists=lambda g: g == "gpio")
    service = parse_unit(text)["Service"]
    assert service["ExecStart"] == ["/opt/cw/bin/crampwatch run"]
    assert service["SupplementaryGroups"] == ["gpio"]
    assert len(notes) == 1 and "'i2c'" in notes[0]


def test_install_service_writes_the_unit_and_prints_the_next_steps(tmp_path, capsys):
    assert main(["install-service", "--dest", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    written = (tmp_path / UNIT_NAME).read_text()
    exec_start = parse_unit(written)["Service"]["ExecStart"][0]
    program = exec_start.split()[0]
    assert os.access(program, os.X_OK), exec_start
    assert "systemctl daemon-reload" in out and "systemctl enable --now crampwatch" in out
    if shutil.which("systemd-analyze"):
        check = subprocess.run(["systemd-analyze", "verify", str(tmp_path / UNIT_NAME)],
                               capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert check.returncode == 0, check.stderr
        assert "crampwatch.service" not in check.stderr, check.stderr  # no warnings about our unit


def test_the_sandbox_scores_better_than_before_the_hardening(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / UNIT_NAME
    unit.write_text(render_unit("/usr/bin/crampwatch")[0])
    check = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False)
    exposure = float(check.stdout.rsplit("Overall exposure level for", 1)[1].split(":")[1].split()[0])
    assert exposure <= 1.8, check.stdout  # 2.2 before ProtectProc, RemoveIPC, ~@privileged @resources, UMask=0077


def test_install_service_never_writes_through_a_planted_symlink(tmp_path, capsys):
    dest = tmp_path / "units"  # --dest: a directory someone else can write to
    dest.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    os.chmod(victim, 0o600)
    (dest / f".{UNIT_NAME}.tmp").symlink_to(victim)  # where the unit used to be staged
    old = os.umask(0o077)
    try:
        assert main(["install-service", "--dest", str(dest)]) == 0
    finally:
        os.umask(old)
    capsys.readouterr()
    assert victim.read_text() == "precious\n" and stat.S_IMODE(victim.stat().st_mode) == 0o600
    unit = dest / UNIT_NAME
    assert not unit.is_symlink() and stat.S_IMODE(unit.stat().st_mode) == 0o644  # systemd must read it
    assert parse_unit(unit.read_text())["Service"]["User"] == ["crampwatch"]
    assert sorted(os.listdir(dest)) == sorted([f".{UNIT_NAME}.tmp", UNIT_NAME])  # no temporary file left


def test_install_service_into_an_unwritable_place_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["install-service", "--dest", str(blocker / "sub")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_create_user_makes_a_system_user_in_the_groups_that_exist(monkeypatch):
    import device.cli.install_service as service

    calls = []
    monkeypatch.setattr(service, "_group_exists", lambda g: g == "i2c")
    said = service.create_user("crampwatch-test-nobody", run=lambda argv, check: calls.append(argv))
    assert calls[0][0] == "useradd" and "--system" in calls[0] and calls[0][-1] == "crampwatch-test-nobody"
    assert "/usr/sbin/nologin" in calls[0]
    assert calls[1] == ["usermod", "--append", "--groups", "i2c", "crampwatch-test-nobody"]
    assert said == "created user 'crampwatch-test-nobody', member of i2c"
