"""Choosing the GPIO backend (gpiozero pin factory) for real hardware.

gpiozero honours ``GPIOZERO_PIN_FACTORY``; without it we prefer lgpio, which works on
every Raspberry Pi and is the only backend that works on a Pi 5. RPi.GPIO is tried
only on older Pis, never imported on a Pi 5 (it cannot drive the Pi 5's RP1 chip).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from vocabulary.errors import ConfigError, PinFactoryFallback, SensorError

MODEL_FILE = Path("/proc/device-tree/model")
DEV = Path("/dev")
#: What ``crampwatch run`` says (exit status 2) on a machine with no GPIO at all.
NO_GPIO_CHIP = "no GPIO chip found (no /dev/gpiochip*): is this a Raspberry Pi? use --simulate to try it without one"


def board_model(model_file: Path = MODEL_FILE) -> str:
    """The board's model string, or '' when not on a device-tree board."""
    try:
        return model_file.read_bytes().rstrip(b"\x00").decode("ascii", "replace")
    except OSError:
        return ""


def is_pi5(model: str) -> bool:
    return model.startswith("Raspberry Pi 5") or model.startswith("Raspberry Pi Compute Module 5")


def make_pin_factory(model_file: Path = MODEL_FILE):
    """The pin factory for this board; SensorError with advice when none works."""
    if os.environ.get("GPIOZERO_PIN_FACTORY"):
        from gpiozero import Device

        return Device._default_pin_factory()
    errors = []
    try:
        from gpiozero.pins.lgpio import LGPIOFactory

        return LGPIOFactory()
    except Exception as exc:  # ImportError, or no /dev/gpiochip access
        errors.append(f"lgpio: {exc}")
    model = board_model(model_file)
    if model.startswith("Raspberry Pi") and not is_pi5(model):
        try:
            from gpiozero.pins.rpigpio import RPiGPIOFactory

            factory = RPiGPIOFactory()
            warnings.warn(f"lgpio unavailable ({errors[0]}); using RPi.GPIO", PinFactoryFallback, stacklevel=2)
            return factory
        except Exception as exc:
            errors.append(f"RPi.GPIO: {exc}")
    raise SensorError(
        "no GPIO backend works on this machine (" + "; ".join(errors) + "). On a Raspberry Pi install lgpio "
        "(64-bit Bookworm: `pip install '.[pi]'`; Trixie or 32-bit: `sudo apt install python3-lgpio` and a "
        "`python3 -m venv --system-site-packages` venv; see docs/raspberry-pi.md) and add the user to the gpio "
        "group; elsewhere use --simulate")


def gpio_devices(dev: Path = DEV) -> list[Path]:
    """The GPIO character devices here: ``/dev/gpiochip*`` (lgpio's; every Pi kernel since
    4.8) and ``/dev/gpiomem*`` (RPi.GPIO's)."""
    return sorted([*dev.glob("gpiochip*"), *dev.glob("gpiomem*")])


def gpio_pins(config) -> list[int]:
    """The BCM pins a configuration drives: the HX711, the bedside button, the outputs."""
    pins = [config.bottle.dout_pin, config.bottle.pd_sck_pin] if config.bottle.enabled else []
    pins += [config.bed.button_pin, config.outputs.led_pin, config.outputs.buzzer_pin, config.outputs.button_pin]
    return [p for p in pins if p is not None]


def check_gpio_present(config=None, *, dev: Path = DEV, model_file: Path = MODEL_FILE) -> None:
    """Raise :class:`~vocabulary.errors.ConfigError` (:data:`NO_GPIO_CHIP`) when ``config`` uses
    GPIO and this machine has none at all; ``config`` None: whether or not it does.

    Only a machine with no GPIO device, that is not a Raspberry Pi, and on which no
    gpiozero backend loads, is refused. Everything that can pass is left to the
    sensor threads, which retry: a chip that is busy or not yet accessible, a Pi whose
    GPIO driver has not created its device yet, or a backend chosen with
    ``GPIOZERO_PIN_FACTORY`` (pigpio can drive another machine's pins).
    """
    if config is not None and not gpio_pins(config):
        return
    if os.environ.get("GPIOZERO_PIN_FACTORY") or gpio_devices(dev):
        return
    if board_model(model_file).startswith("Raspberry Pi"):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PinFactoryFallback)
        try:
            factory = make_pin_factory(model_file)
        except SensorError:
            raise ConfigError(NO_GPIO_CHIP, [NO_GPIO_CHIP]) from None
    factory.close()
