"""``crampwatch doctor``: one line per part, ``ok`` or what to do; exit 0 when all is well.

The simulated runs use the simulator's pin-level HX711 and register-level accelerometers
and a real Mosquitto; the hardware run is this machine, which has no GPIO and no I2C.
"""

from __future__ import annotations

import glob
import os
import socket
import subprocess
import sys

import pytest

from dashboard import create_app
from dashboard.server import DashboardServer
from device.cli.doctor import BottleCheck, check_accelerometer, run_doctor
from device.config import Config
from device.storage.store import Store
from simulator.adxl345_chip import FakeADXL345
from simulator.i2c_bus import FakeSMBus
from simulator.mpu6050_chip import FakeMPU6050
from tests.conftest import free_port, stop_daemon, wait_for

MQTT_SECRET = "doctor-s3cret-never-shown"
ON_A_PI = bool(glob.glob("/dev/gpiochip*") or glob.glob("/dev/i2c-*"))


def crampwatch(*args, env=None):
    env = {k: v for k, v in (env or os.environ).items() if k != "GPIOZERO_PIN_FACTORY"}
    return subprocess.run([sys.executable, "-m", "device.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=120, env=env)


def write_config(tmp_path, body: str = "", *, dashboard_port: int | None = None,
                 dashboard_host: str = "127.0.0.1") -> str:
    path = tmp_path / "config.toml"
    port = dashboard_port or free_port()
    path.write_text(f'[device]\ndata_dir = "{tmp_path / "data"}"\n'
                    f'[dashboard]\nhost = "{dashboard_host}"\nport = {port}\n' + body)
    return str(path)


def lines_by_part(stdout: str) -> dict[str, str]:
    """'ok   MQTT: connected ...' -> {'MQTT': 'ok   MQTT: connected ...'}."""
    return {line[5:].split(":", 1)[0]: line for line in stdout.splitlines()}


def test_simulated_everything_ok_with_a_real_broker_and_credentials(own_broker, tmp_path):
    pwfile = tmp_path / "mosquitto.pw"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(pwfile), "cw", MQTT_SECRET], check=True)
    broker = own_broker(f"password_file {pwfile}\n")
    secret = tmp_path / "mqtt-password"
    secret.write_text(MQTT_SECRET + "\n")
    config = write_config(tmp_path, f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\n'
                                    f'username = "cw"\npassword_file = "{secret}"\n')
    run = crampwatch("doctor", "--simulate", "--config", config)
    assert run.returncode == 0, run.stdout + run.stderr
    parts = lines_by_part(run.stdout)
    assert list(parts) == ["GPIO", "I2C", "accelerometer", "bottle scale", "calibration", "MQTT", "dashboard"]
    assert all(line.startswith("ok ") for line in parts.values()), run.stdout
    assert "ADXL345 answers at 0x53" in parts["accelerometer"]
    assert "gives data" in parts["bottle scale"]
    assert f"connected to 127.0.0.1:{broker.port} as cw" in parts["MQTT"]
    assert MQTT_SECRET not in run.stdout + run.stderr
    assert run.stderr == ""


def test_a_wrong_mqtt_password_is_named_without_showing_it(own_broker, tmp_path):
    pwfile = tmp_path / "mosquitto.pw"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(pwfile), "cw", MQTT_SECRET], check=True)
    broker = own_broker(f"password_file {pwfile}\n")
    secret = tmp_path / "mqtt-password"
    secret.write_text("not-the-password\n")
    config = write_config(tmp_path, f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\n'
                                    f'username = "cw"\npassword_file = "{secret}"\n')
    run = crampwatch("doctor", "--simulate", "--config", config)
    assert run.returncode == 1
    mqtt = lines_by_part(run.stdout)["MQTT"]
    assert mqtt.startswith("FIX ") and "refused" in mqtt and "mqtt.password_file" in mqtt, mqtt
    assert "not-the-password" not in run.stdout + run.stderr


def test_a_broker_that_is_not_reachable_is_named_by_host_and_port(tmp_path):
    port = free_port()  # nothing listens there
    config = write_config(tmp_path, f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\n')
    run = crampwatch("doctor", "--simulate", "--config", config)
    assert run.returncode == 1
    parts = lines_by_part(run.stdout)
    assert parts["MQTT"].startswith("FIX ") and f"cannot reach 127.0.0.1:{port}" in parts["MQTT"]
    assert [p for p, line in parts.items() if line.startswith("FIX ")] == ["MQTT"]  # the rest is fine


@pytest.mark.parametrize("chip, address", [("adxl345", None), ("adxl345", 0x1D), ("mpu6050", 0x69)])
def test_a_missing_accelerometer_names_the_address(chip, address):
    bus = FakeSMBus(1)  # the wires are there, the chip is not
    finding = check_accelerometer(bus, 1, chip, address)
    expected = address or 0x53
    assert finding.ok is False
    assert f"answers at 0x{expected:02X} on I2C bus 1" in finding.text and "i2cdetect -y 1" in finding.text


def test_a_missing_accelerometer_fails_the_whole_run(tmp_path):
    config = Config.model_validate({"device": {"data_dir": str(tmp_path)}, "dashboard": {"port": free_port()}})
    lines = []
    assert run_doctor(config, simulate=True, bus=FakeSMBus(1), out=lines.append) == 1
    parts = lines_by_part("\n".join(lines))
    assert parts["accelerometer"].startswith("FIX ") and "no ADXL345 answers at 0x53" in parts["accelerometer"]


def test_an_accelerometer_at_its_other_address_or_the_other_chip_is_pointed_out():
    at_1d = FakeSMBus(1, chips=[FakeADXL345(address=0x1D)])
    assert "set bed.address = 0x1D" in check_accelerometer(at_1d, 1, "adxl345", None).text
    mpu = FakeSMBus(1, chips=[FakeMPU6050()])
    found = check_accelerometer(mpu, 1, "adxl345", None)
    assert found.ok is False and 'MPU-6050 answers at 0x68: set bed.chip = "mpu6050"' in found.text


def test_a_loose_wire_that_nacks_now_and_then_is_not_a_missing_chip():
    bus = FakeSMBus(1, chips=[FakeADXL345()])
    bus.fail_next(2)
    assert check_accelerometer(bus, 1, "adxl345", None).ok is True


@pytest.mark.parametrize("fault, says", [
    ("no_response", "DOUT never went low"),
    ("dout_low", "DOUT stays low"),
    ("saturated", "5 of 5 readings are saturated"),
])
def test_an_hx711_that_gives_no_usable_data_says_what_to_check(tmp_path, fault, says):
    config = Config.model_validate({"device": {"data_dir": str(tmp_path)}, "bottle": {"rate_hz": 80}})
    check = BottleCheck(config, simulate=True)
    try:
        assert check.gpio().ok is True
        chip = check.simulated.chip
        if fault == "saturated":
            check.simulated.place(30_000.0)  # far beyond the cell: the ADC clips
        else:
            chip.fault = fault
        finding, _ = check.read()
    finally:
        check.close()
    assert finding.ok is False and says in finding.text and "GPIO5" in finding.text, finding.text


def test_a_stored_calibration_is_checked_against_the_scale(tmp_path):
    from device.workers.calibration import save_calibration
    from sensors.calibration import Calibration

    with Store(tmp_path / "data") as store:  # a tare 2 kg heavier than the simulated empty scale
        save_calibration(store, Calibration(8500.0 + 430.0 * 2000, 430.0))
    run = crampwatch("doctor", "--simulate", "--config", write_config(tmp_path))
    calibration = lines_by_part(run.stdout)["calibration"]
    assert run.returncode == 1 and calibration.startswith("FIX ") and "-2000 g" in calibration, run.stdout


def test_the_dashboard_of_the_running_daemon_answers_where_it_is_configured(tmp_path):
    port = free_port()
    config = write_config(tmp_path, dashboard_port=port)
    daemon = subprocess.Popen([sys.executable, "-m", "device.cli", "run", "--simulate", "--config", config],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: _answers(port), timeout=60), "the daemon's dashboard never answered"
        run = crampwatch("doctor", "--simulate", "--config", config)
    finally:
        stop_daemon(daemon)
    dashboard = lines_by_part(run.stdout)["dashboard"]
    assert dashboard.startswith("ok ") and f"http://127.0.0.1:{port}/ answers (HTTP/1.0 200 OK)" in dashboard, run.stdout
    assert "this machine only" in dashboard


def test_another_program_on_the_dashboard_port_is_pointed_out(tmp_path):
    server = DashboardServer(create_app(store=Store(":memory:")), "127.0.0.1", 0)  # not crampwatch's daemon
    server.start()
    try:
        port = int(server.url.rsplit(":", 1)[1].strip("/"))
        run = crampwatch("doctor", "--simulate", "--config", write_config(tmp_path, dashboard_port=port))
    finally:
        server.stop()
    dashboard = lines_by_part(run.stdout)["dashboard"]
    assert run.returncode == 1 and dashboard.startswith("FIX ") and f"127.0.0.1:{port}" in dashboard, run.stdout


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def test_a_dashboard_on_the_network_without_a_password_needs_one(tmp_path):
    run = crampwatch("doctor", "--simulate", "--config", write_config(tmp_path, dashboard_host="0.0.0.0"))
    dashboard = lines_by_part(run.stdout)["dashboard"]
    assert run.returncode == 1 and dashboard.startswith("FIX ") and "crampwatch set-password" in dashboard


@pytest.mark.skipif(ON_A_PI, reason="this machine has GPIO or I2C: the hardware checks would find them")
def test_hardware_mode_here_says_i2c_is_not_enabled_and_gpio_is_missing(tmp_path):
    run = crampwatch("doctor", "--config", write_config(tmp_path))
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    parts = lines_by_part(run.stdout)
    assert parts["GPIO"] == ("FIX  GPIO: no GPIO chip found (no /dev/gpiochip*): is this a Raspberry Pi? "
                             "use --simulate to try it without one")
    assert parts["I2C"].startswith("FIX  I2C: not enabled: no /dev/i2c-1;")
    assert sum(line.startswith("FIX  GPIO") for line in run.stdout.splitlines()) == 1
    # what depends on them is not checked, and says why in one line each
    assert parts["accelerometer"].startswith("--") and parts["bottle scale"].startswith("--")
