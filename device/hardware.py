"""Where the sensors come from: real GPIO, or the simulator's pin-level chips.

Both kinds give the daemon the same things: ``open_driver()`` returning an
:class:`sensors.hx711.HX711`, the calibration to use, ``place(grams)`` for the
calibration wizard, and ``close()``. In simulation the real driver runs unchanged on
gpiozero ``MockFactory`` pins that a :class:`simulator.hx711_chip.FakeHX711` answers.
"""

from __future__ import annotations

import random
import time

from device.config import Config
from device.storage import Store
from sensors.calibration import Calibration


def bottle_hardware(config: Config, *, simulate: bool, scripted: bool = False):
    """The bottle scale's hardware; ``scripted`` simulation holds what ``place`` puts on it."""
    if simulate:
        return SimulatedBottle(config, scripted=scripted)
    return RealBottle(config)


class RealBottle:
    """An HX711 on the Pi's GPIO."""

    empty_bottle_g = None

    def __init__(self, config: Config):
        self._config = config.bottle
        self._factory = None

    def open_driver(self):
        from device.pins import make_pin_factory
        from sensors.hx711 import HX711

        if self._factory is None:
            self._factory = make_pin_factory()
        return HX711(self._config.dout_pin, self._config.pd_sck_pin, gain=self._config.gain,
                     pin_factory=self._factory)

    def calibration(self, store: Store) -> Calibration:
        from device.calibrate import load_calibration

        return load_calibration(store)

    def place(self, grams: float) -> None:
        """The person puts things on a real scale; nothing to do."""

    def close(self) -> None:
        if self._factory is not None:
            self._factory.close()
            self._factory = None


class SimulatedBottle:
    """A simulated person's day on a pin-level fake HX711.

    The fake load cell has a fixed zero and scale factor, like a real one; the
    daemon converts with the stored calibration, or with the cell's true factors when
    the simulated scale was never calibrated.
    """

    OFFSET_COUNTS = 8_500.0  # a load cell's zero is never exactly 0 counts
    COUNTS_PER_GRAM = 430.0  # a 5 kg, 1 mV/V bar cell at gain 128
    empty_bottle_g = 310.0
    # Python writes to mock pins take tens of microseconds, and a busy machine can
    # pause a thread for milliseconds, so a clock-high phase here would often pass
    # the real chip's 60 us power-down time. The simulated chip and the driver both
    # use 5 ms instead: the protocol is the same, only slower. Tests of the 60 us
    # behaviour itself run the emulator on a fake clock.
    POWER_DOWN_AFTER_S = 5e-3

    def __init__(self, config: Config, *, scripted: bool = False, clock=time.time, plan=None):
        from gpiozero.pins.mock import MockFactory

        from simulator.bottle_scenario import plan_day
        from simulator.hx711_chip import FakeHX711

        self._clock = clock
        self._rate = config.bottle.rate_hz
        self._load_g = 0.0
        self._noise = random.Random(config.simulator.seed)
        self.plan = plan
        if plan is None and not scripted:
            self.plan = plan_day(1.0, config.simulator.seed, start=clock(),
                                 drink_interval_s=config.simulator.drink_interval_s)
        self.factory = MockFactory()
        self._pins = (config.bottle.dout_pin, config.bottle.pd_sck_pin)
        self.chip = FakeHX711(self.factory, *self._pins, source=self._counts, rate_hz=self._rate,
                              power_down_after=self.POWER_DOWN_AFTER_S)

    def _counts(self, _chip_t: float) -> float:
        # The plan runs on wall-clock Unix time; the chip on its own monotonic clock.
        if self.plan is None:  # what place() put on it, with a load cell's noise
            grams = self._load_g + self._noise.gauss(0.0, 0.5)
        else:
            grams = self.plan.weight_at(self._clock(), rate_hz=self._rate)
        return self.OFFSET_COUNTS + self.COUNTS_PER_GRAM * grams

    def open_driver(self):
        from sensors.hx711 import HX711

        return HX711(*self._pins, gain=128, pin_factory=self.factory,
                     power_down_after=self.POWER_DOWN_AFTER_S)

    def calibration(self, store: Store) -> Calibration:
        from device.calibrate import load_calibration

        return load_calibration(store, Calibration(self.OFFSET_COUNTS, self.COUNTS_PER_GRAM, self.empty_bottle_g))

    def place(self, grams: float) -> None:
        self._load_g = grams

    def close(self) -> None:
        self.chip.close()
        self.factory.close()
