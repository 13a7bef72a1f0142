"""The device id without a configured one: chosen from the machine and the data directory,
kept there, and never the same for two devices (issue 17: two Pis with default settings
knocked each other off the broker with one client id)."""

import re
import stat

import pytest

from device.config import DEVICE_ID_PATTERN, Config
from device.identity import (
    FILE_NAME,
    chosen_id,
    device_id,
    id_file,
    machine_id,
    with_device_id,
)
from vocabulary.errors import ConfigError

MACHINE_A = "0123456789abcdef0123456789abcdef"
MACHINE_B = "fedcba9876543210fedcba9876543210"


def config(data_dir, **device) -> Config:
    return Config.model_validate({"device": {"data_dir": str(data_dir), **device}})


@pytest.fixture
def machine(tmp_path):
    """A machine-id file the test controls: ``machine("...")`` writes it, returns its paths."""
    path = tmp_path / "machine-id"

    def write(text: str) -> tuple[str, ...]:
        path.write_text(text)
        return (str(path),)

    return write


def test_a_chosen_id_is_readable_topic_safe_and_differs_per_machine_and_data_directory():
    a = chosen_id("/var/lib/crampwatch", machine=MACHINE_A, hostname="raspberrypi")
    assert re.fullmatch(DEVICE_ID_PATTERN, a) and a.startswith("raspberrypi-")
    assert a == chosen_id("/var/lib/crampwatch", machine=MACHINE_A, hostname="raspberrypi")  # a reinstall: the same
    assert a != chosen_id("/var/lib/crampwatch", machine=MACHINE_B, hostname="raspberrypi")  # another Pi, same name
    assert a != chosen_id("/var/lib/crampwatch2", machine=MACHINE_A, hostname="raspberrypi")  # 2nd daemon, shared machine id
    assert a != chosen_id("/var/lib/crampwatch", machine=MACHINE_A, hostname="4f2a9c1b7e0d")  # containers' own host names
    odd = chosen_id(":memory:", machine=None, hostname="Zimmer Ölberg_2.fritz.box")
    assert re.fullmatch(DEVICE_ID_PATTERN, odd) and odd.startswith("zimmer-lberg-2-")


def test_the_machine_id_is_read_only_when_it_is_one(machine, tmp_path):
    assert machine_id(machine(MACHINE_A.upper() + "\n")) == MACHINE_A
    assert machine_id(machine("uninitialized\n")) is None  # early boot (machine-id(5))
    assert machine_id((str(tmp_path / "absent"), *machine(MACHINE_B))) == MACHINE_B  # the dbus copy


def test_the_chosen_id_is_kept_in_the_data_directory_and_does_not_change(machine, tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    first = device_id(config(data), machine_id_files=machine(MACHINE_A), hostname="bedroom")
    kept = data / FILE_NAME
    assert kept.read_text() == first + "\n" and stat.S_IMODE(kept.stat().st_mode) == 0o600
    # the host renamed, the machine id regenerated: the device stays the same device
    assert device_id(config(data), machine_id_files=machine(MACHINE_B), hostname="renamed") == first
    assert id_file(config(data / "crampwatch.sqlite3")) == kept  # data_dir naming the database itself


def test_nothing_is_written_where_it_should_not_be(machine, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    device_id(config(data), keep=False, machine_id_files=machine(MACHINE_A), hostname="bedroom")  # report, status
    device_id(config(tmp_path / "not-yet"), machine_id_files=machine(MACHINE_A), hostname="bedroom")
    assert not (data / FILE_NAME).exists() and not (tmp_path / "not-yet").exists()
    assert id_file(config(":memory:")) is None


def test_a_configured_id_always_wins(machine, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / FILE_NAME).write_text("bedroom-0a0b0c0d\n")
    assert device_id(config(data, id="guest-room"), machine_id_files=machine(MACHINE_A)) == "guest-room"
    assert (data / FILE_NAME).read_text() == "bedroom-0a0b0c0d\n"  # kept for when the setting goes
    assert device_id(config(data), machine_id_files=machine(MACHINE_A)) == "bedroom-0a0b0c0d"


def test_a_kept_id_that_is_no_id_is_a_configuration_error_naming_the_file(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / FILE_NAME).write_text("bed room/1\n")
    with pytest.raises(ConfigError, match=re.escape(str(data / FILE_NAME))):
        device_id(config(data))


def test_the_daemon_chooses_keeps_and_uses_it(tmp_path):
    from device.daemon import Daemon

    settings = {"device": {"data_dir": str(tmp_path / "data")}, "bottle": {"enabled": False},
                "bed": {"enabled": False, "button_pin": None}, "dashboard": {"enabled": False}}
    ids = []
    for _ in range(2):  # a restart
        daemon = Daemon(Config.model_validate(settings), simulate=True)
        daemon.start()
        try:
            ids.append(daemon.config.device.id)
            assert daemon.mqtt.base_topic == f"crampwatch/{daemon.config.device.id}"
        finally:
            daemon.stop()
    assert ids[0] == ids[1] == (tmp_path / "data" / FILE_NAME).read_text().strip()
    assert with_device_id(Config.model_validate(settings)).device.id == ids[0]


def test_an_install_from_before_chosen_ids_keeps_its_old_id_and_entities(tmp_path):
    from device.daemon import Daemon
    from device.storage.store import Store

    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    Store(str(data)).close()  # the database of an earlier version: no device-id beside it
    settings = {"device": {"data_dir": str(data)}, "bottle": {"enabled": False},
                "bed": {"enabled": False, "button_pin": None}, "dashboard": {"enabled": False}}
    daemon = Daemon(Config.model_validate(settings), simulate=True)
    daemon.start()
    try:
        assert daemon.config.device.id == "crampwatch"
        assert daemon.mqtt.base_topic == "crampwatch/crampwatch"
        assert daemon.settings.effective().device.id == "crampwatch"  # every config given out carries it
    finally:
        daemon.stop()
    assert (data / FILE_NAME).read_text().strip() == "crampwatch"
