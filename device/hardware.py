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
                     pin_factory=self._factory, rate_hz=self._config.rate_hz)

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
                     power_down_after=self.POWER_DOWN_AFTER_S, rate_hz=self._rate)

    def calibration(self, store: Store) -> Calibration:
        from device.calibrate import load_calibration

        return load_calibration(store, Calibration(self.OFFSET_COUNTS, self.COUNTS_PER_GRAM, self.empty_bottle_g))

    def place(self, grams: float) -> None:
        self._load_g = grams

    def close(self) -> None:
        self.chip.close()
        self.factory.close()


# -- the bed-frame accelerometer ------------------------------------------------------
def bed_hardware(config: Config, *, simulate: bool):
    """The bed accelerometer's hardware: real I2C, or a fake chip on a fake bus."""
    return SimulatedBed(config) if simulate else RealBed(config)


def _driver_class(chip: str):
    if chip == "mpu6050":
        from sensors.mpu6050 import MPU6050

        return MPU6050
    from sensors.adxl345 import ADXL345

    return ADXL345


class RealBed:
    """An ADXL345 or MPU-6050 on the Pi's I2C bus."""

    def __init__(self, config: Config):
        self._config = config.bed

    def open_driver(self):
        cfg = self._config
        kwargs = {"rate_hz": cfg.rate_hz, "range_g": cfg.range_g}
        if cfg.address is not None:
            kwargs["address"] = cfg.address
        return _driver_class(cfg.chip)(cfg.i2c_bus, **kwargs)

    def close(self) -> None:
        """Each driver opened its own bus and closes it."""


class SimulatedBed:
    """A simulated sleeper's demo nights on a register-level fake chip and fake bus.

    The fake chip runs on the monotonic clock; the night plan on Unix time. The
    offset between the two is fixed at start so every sample maps to its own moment.
    """

    def __init__(self, config: Config, *, plan=None, clock=time.time):
        from simulator.i2c_bus import FakeSMBus
        from simulator.night_scenario import plan_night

        cfg = config.bed
        self._rate = cfg.rate_hz
        self._offset = clock() - time.monotonic()
        self.plan = plan or plan_night(config.simulator.seed, start=clock(), chip=cfg.chip, demo=True)
        if cfg.chip == "mpu6050":
            from simulator.mpu6050_chip import FakeMPU6050 as Fake
        else:
            from simulator.adxl345_chip import FakeADXL345 as Fake
        kwargs = {} if cfg.address is None else {"address": cfg.address}
        self.chip = Fake(self._sample, **kwargs)
        self.bus = FakeSMBus(cfg.i2c_bus, chips=[self.chip])
        self._config = cfg

    def _sample(self, chip_t: float):
        return self.plan.sample_at(chip_t + self._offset, rate_hz=self._rate)

    def open_driver(self):
        cfg = self._config
        kwargs = {"rate_hz": cfg.rate_hz, "range_g": cfg.range_g}
        if cfg.address is not None:
            kwargs["address"] = cfg.address
        return _driver_class(cfg.chip)(self.bus, **kwargs)

    def close(self) -> None:
        self.bus.close()
