"""Choosing the GPIO backend (gpiozero pin factory) for real hardware.

gpiozero honours ``GPIOZERO_PIN_FACTORY``; without it we prefer lgpio, which works on
every Raspberry Pi and is the only backend that works on a Pi 5. RPi.GPIO is tried
only on older Pis, never imported on a Pi 5 (it cannot drive the Pi 5's RP1 chip).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from device.errors import PinFactoryFallback, SensorError

MODEL_FILE = Path("/proc/device-tree/model")


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
        "no GPIO backend works on this machine (" + "; ".join(errors) + "). On a Raspberry Pi run "
        "`pip install 'crampwatch[pi]'` and add the user to the gpio group; elsewhere use --simulate")
