"""Health data stays the owner's: the data directory is 0700 and every file crampwatch
writes there 0600 whatever the umask (a run by hand usually has 022); the dashboard's
session key lives in its own 0600 file, not in the database; and root writing the
password file into the service user's directory cannot be tricked by a symlink."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from dashboard import SECRET_KEY_SETTING, create_app
from dashboard.passwords import write_hash
from dashboard.secret_key import FILE_NAME as KEY_FILE
from device.cli.main import main
from device.health import Health
from device.storage.opening import open_checked
from device.storage.store import DB_NAME, StorageCorrupt, Store
from tests.conftest import free_port, stop_daemon, wait_for
from vocabulary.events import Drink


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def modes(directory) -> dict[str, str]:
    """``{name: octal mode}`` of the files in ``directory`` (one removed meanwhile is left out)."""
    out = {}
    for name in os.listdir(directory):
        try:
            out[name] = oct(mode(Path(directory) / name))
        except FileNotFoundError:  # a temporary file, renamed over its target since
            pass
    return out


@pytest.fixture
def umask_022():
    """The usual umask of a login shell, which makes new files readable by everyone."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_daemon_run_by_hand_keeps_its_data_directory_private(tmp_path):
    data = tmp_path / "home" / "state" / "crampwatch"
    config = tmp_path / "config.toml"
    config.write_text(f'[device]\ndata_dir = "{data}"\n[dashboard]\nport = {free_port()}\n'
                      '[simulator]\ndrink_interval_s = 30\n')
    env = {k: v for k, v in os.environ.items() if k not in ("RUNTIME_DIRECTORY", "STATE_DIRECTORY")}
    proc = subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--simulate", "--config", str(config)],
                            env=env, umask=0o022, stderr=subprocess.DEVNULL)
    # the database and its log, the dashboard's session key and the health snapshot
    wanted = {DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", KEY_FILE, "health.json"}
    try:
        found = wait_for(lambda: data.is_dir() and wanted <= set(os.listdir(data)) and modes(data), 60)
        assert found, os.listdir(data) if data.is_dir() else "no data directory"
        assert mode(data) == 0o700
        assert found == {name: "0o600" for name in found}
        assert mode(data.parent) == 0o755  # the directories above are not crampwatch's to change
    finally:
        stop_daemon(proc)
    assert proc.returncode == 0


def test_an_existing_readable_database_is_made_private_and_keeps_its_data(tmp_path, umask_022):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    with Store(data) as store:
        store.add_events([Drink(t=1764060000.0 + 60 * i, ml=100.0) for i in range(50)])
    for name in os.listdir(data):  # as an earlier release left them
        os.chmod(data / name, 0o644)
    os.chmod(data, 0o755)
    with Store(data) as store:
        assert store.count_events() == 50
        store.add_event(Drink(t=1764070000.0, ml=120.0))
        assert store.count_events() == 51
        assert mode(data) == 0o700
        assert modes(data) == {n: "0o600" for n in os.listdir(data)}


def test_a_database_named_directly_is_private_and_its_directory_left_alone(tmp_path, umask_022):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    with Store(shared / "mine.sqlite3") as store:
        store.add_event(Drink(t=1764060000.0, ml=100.0))
        assert mode(shared / "mine.sqlite3") == 0o600
        assert mode(shared / "mine.sqlite3-wal") == 0o600 and mode(shared / "mine.sqlite3-shm") == 0o600
    assert mode(shared) == 0o755


def test_a_sticky_shared_directory_is_not_tightened(tmp_path, umask_022):
    shared = tmp_path / "tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    with Store(shared):
        pass
    assert mode(shared) == 0o1777 and mode(shared / DB_NAME) == 0o600


def test_the_copy_of_a_damaged_database_is_private(tmp_path, umask_022):
    (tmp_path / DB_NAME).write_bytes(b"not a database at all " * 400)
    os.chmod(tmp_path / DB_NAME, 0o644)
    with pytest.raises(StorageCorrupt):
        open_checked(tmp_path, "quick", Health())
    copies = [n for n in os.listdir(tmp_path) if ".corrupt-" in n]
    assert copies and all(mode(tmp_path / n) == 0o600 for n in copies)


def test_exports_and_reports_are_private(tmp_path, umask_022, capsys):
    data = tmp_path / "data"
    with Store(data) as store:
        store.add_events([Drink(t=1764060000.0 + 3600 * i, ml=200.0) for i in range(24)])
    assert main(["export", "--data-dir", str(data), "--summaries", str(tmp_path / "out")]) == 0
    assert main(["report", "--data-dir", str(data), "--out", str(tmp_path / "report.html")]) == 0
    capsys.readouterr()
    for path in (tmp_path / "out" / "daily.csv", tmp_path / "out" / "nightly.csv", tmp_path / "report.html"):
        assert path.stat().st_size > 0 and mode(path) == 0o600, path


# -- the dashboard's session key ----------------------------------------------------------------
def test_a_new_session_key_is_a_private_file_and_never_in_the_database(tmp_path, umask_022):
    with Store(tmp_path / "data") as store:
        key = create_app(store=store).secret_key
        path = tmp_path / "data" / KEY_FILE
        assert path.read_text().strip() == key and len(key) >= 64 and mode(path) == 0o600
        assert store.get_setting(SECRET_KEY_SETTING) is None
        assert create_app(store=store).secret_key == key  # read back: sessions survive a restart
    with Store(tmp_path / "data") as store:
        assert create_app(store=store).secret_key == key


def test_a_key_kept_in_the_database_moves_to_the_file_once_and_leaves_no_trace(tmp_path):
    data = tmp_path / "data"
    old_key = "5e55" * 16
    with Store(data) as store:  # as an earlier release kept it
        store.set_setting(SECRET_KEY_SETTING, old_key)
        store.add_event(Drink(t=1764060000.0, ml=100.0))
    assert any(old_key.encode() in (data / n).read_bytes() for n in os.listdir(data))
    with Store(data) as store:
        with store.transaction() as db:  # as where SQLite is built without SECURE_DELETE (Debian's has it)
            db.execute("PRAGMA secure_delete = OFF")
        app = create_app(store=store)
        assert app.secret_key == old_key  # so the cookies already out there stay valid
        assert (data / KEY_FILE).read_text().strip() == old_key and mode(data / KEY_FILE) == 0o600
        assert store.get_setting(SECRET_KEY_SETTING) is None and store.count_events() == 1
        # neither the database nor its write-ahead log holds the key's bytes any more
        for name in os.listdir(data):
            if name.startswith(DB_NAME):
                assert old_key.encode() not in (data / name).read_bytes(), name
        assert create_app(store=store).secret_key == old_key


def test_an_in_memory_store_keeps_its_key_in_memory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = Store(":memory:")
    assert create_app(store=store).secret_key == create_app(store=store).secret_key
    assert os.listdir(tmp_path) == []


# -- the password file, written by root into the service user's directory ---------------------
class Attacker:
    """The service user, swapping a temporary file in its directory for a symlink.

    It strikes at the first change of mode, owner or name that write_hash makes (an
    audit hook runs just before each), the moment a symlink race is won. An audit hook
    cannot be removed, so it stays installed, disarmed, for the rest of the run.
    """

    installed = False
    armed: tuple[Path, Path] | None = None
    swapped: ClassVar[list[str]] = []

    @classmethod
    def arm(cls, directory: Path, victim: Path) -> None:
        if not cls.installed:
            sys.addaudithook(cls._hook)
            cls.installed = True
        cls.armed, cls.swapped = (directory, victim), []

    @classmethod
    def _hook(cls, event, args) -> None:
        if cls.armed is None or event not in ("os.chmod", "os.chown", "os.rename"):
            return
        directory, victim = cls.armed
        cls.armed = None  # once; the swap below raises audit events of its own
        for tmp in directory.iterdir():
            if tmp.name.startswith(".") and not tmp.is_symlink():
                tmp.unlink()
                tmp.symlink_to(victim)
                cls.swapped.append(tmp.name)


@pytest.fixture
def victim(tmp_path):
    """A file the service user must not get: root's, readable by all, like /etc/passwd."""
    path = tmp_path / "victim"
    path.write_text("root:x:0:0\n")
    os.chmod(path, 0o644)
    yield path
    Attacker.armed = None


def test_set_password_changes_nothing_through_a_symlink_swapped_in_midway(tmp_path, victim):
    service_dir = tmp_path / "var-lib-crampwatch"
    service_dir.mkdir()
    if os.geteuid() == 0:  # as on a Pi: root runs set-password in the service user's directory
        os.chown(service_dir, 4321, 4321)
    before = os.stat(victim)
    Attacker.arm(service_dir, victim)
    write_hash(service_dir / "dashboard-password", "scrypt:32768:8:1$salt$hash")
    assert Attacker.swapped, "the race was never run"
    after = os.stat(victim)
    assert (stat.S_IMODE(after.st_mode), after.st_uid, after.st_gid) == \
           (stat.S_IMODE(before.st_mode), before.st_uid, before.st_gid)
    assert victim.read_text() == "root:x:0:0\n"


def test_the_hash_file_is_private_owned_like_its_directory_and_replaces_a_symlink(tmp_path, victim, umask_022):
    service_dir = tmp_path / "service"
    service_dir.mkdir()
    owner = (4321, 4321) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    if os.geteuid() == 0:
        os.chown(service_dir, *owner)
    path = service_dir / "dashboard-password"
    path.symlink_to(victim)  # planted: the rename replaces it, nothing follows it
    write_hash(path, "scrypt:32768:8:1$salt$hash")
    assert not path.is_symlink() and path.read_text() == "scrypt:32768:8:1$salt$hash\n"
    st = path.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600 and (st.st_uid, st.st_gid) == owner
    assert victim.read_text() == "root:x:0:0\n" and mode(victim) == 0o644
    assert os.listdir(service_dir) == ["dashboard-password"]  # no temporary file left
