"""``crampwatch run`` on a machine with no GPIO at all: exit 2 with one line, not endless retries.

Only "this machine has no GPIO chip" is refused at start; a chip that is there but busy,
or a Pi whose GPIO device has not appeared yet, is left to the sensor threads' retries.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest

from device.config import Config
from device.hardware.pins import NO_GPIO_CHIP, check_gpio_present
from tests.conftest import free_port
from vocabulary.errors import ConfigError

HAS_GPIO = bool(glob.glob("/dev/gpiochip*") or glob.glob("/dev/gpiomem*"))


def crampwatch(*args):
    env = {k: v for k, v in os.environ.items() if k != "GPIOZERO_PIN_FACTORY"}
    return subprocess.run([sys.executable, "-m", "device.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=120, env=env)


def config_file(tmp_path, body: str = "") -> str:
    path = tmp_path / "config.toml"
    path.write_text(f'[device]\ndata_dir = "{tmp_path / "data"}"\n[dashboard]\nport = {free_port()}\n' + body)
    return str(path)


@pytest.mark.skipif(HAS_GPIO, reason="this machine has a GPIO chip")
def test_run_with_hardware_here_exits_2_with_one_line(tmp_path):
    run = crampwatch("run", "--config", config_file(tmp_path), "--duration", "30")
    assert run.returncode == 2, run.stderr
    assert run.stderr == f"crampwatch run: {NO_GPIO_CHIP}\n"
    assert not (tmp_path / "data").exists()  # refused before anything started


def test_simulate_still_runs(tmp_path):
    run = crampwatch("run", "--simulate", "--config", config_file(tmp_path), "--duration", "2")
    assert run.returncode == 0, run.stderr
    assert "no GPIO chip" not in run.stderr


def test_a_configuration_without_gpio_parts_is_not_refused(tmp_path):
    config = Config.model_validate({"bottle": {"enabled": False}, "bed": {"enabled": False, "button_pin": None}})
    check_gpio_present(config, dev=tmp_path, model_file=tmp_path / "model")  # nothing to drive: no check


def test_a_gpio_chip_or_a_pi_is_never_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    (tmp_path / "gpiochip0").touch()
    check_gpio_present(dev=tmp_path, model_file=tmp_path / "model")  # a chip (busy or not): retried later
    (tmp_path / "gpiochip0").unlink()
    (tmp_path / "model").write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\x00")
    check_gpio_present(dev=tmp_path, model_file=tmp_path / "model")  # a Pi whose chip has not appeared yet


def test_a_backend_chosen_by_the_environment_is_trusted(tmp_path, monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "pigpio")  # pigpio may drive another machine's pins
    check_gpio_present(dev=tmp_path, model_file=tmp_path / "model")


@pytest.mark.skipif(HAS_GPIO, reason="a backend would open this machine's real GPIO chip")
def test_no_chip_no_pi_and_no_backend_is_a_configuration_error(tmp_path, monkeypatch):
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    with pytest.raises(ConfigError) as raised:
        check_gpio_present(Config(), dev=tmp_path, model_file=tmp_path / "model")
    assert str(raised.value) == NO_GPIO_CHIP
