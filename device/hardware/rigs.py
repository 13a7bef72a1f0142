"""Where the daemon's hardware comes from: the Pi's GPIO and I2C, or the simulator's rig.

:func:`rig` is the one seam: with ``simulate`` it is the simulator's
:class:`simulator.rigs.SimulatedRig`, otherwise :class:`RealRig`. Both give the same
parts: ``pin_factory()`` for the buttons and outputs, ``bottle()`` (``open_driver()``
returning an :class:`sensors.hx711.HX711`, ``default_calibration``, ``place(grams)`` for
the calibration wizard, ``close()``) and ``bed()`` (``open_driver()``,
``analyzer_params``, ``close()``).
"""

from __future__ import annotations

from device.config import Config
from sensors.accelerometers import open_accelerometer


def rig(config: Config, *, simulate: bool):
    """The hardware the daemon runs on: the simulator's, or this Pi's."""
    if simulate:
        from simulator.rigs import SimulatedRig

        return SimulatedRig(config)
    return RealRig(config)


class RealRig:
    """This Pi's GPIO (through :func:`device.hardware.pins.make_pin_factory`) and I2C."""

    default_calibration = None  # a real load cell's factors are only known by calibrating it

    def __init__(self, config: Config):
        self._config = config

    def pin_factory(self):
        from device.hardware.pins import make_pin_factory

        return make_pin_factory()

    def bottle(self, *, scripted: bool = False) -> RealBottle:
        """The HX711 (``scripted`` means nothing here: a person puts things on a real scale)."""
        return RealBottle(self._config)

    def bed(self, *, pin_factory=None) -> RealBed:
        """The accelerometer (a real sleeper presses the bedside button themselves)."""
        return RealBed(self._config)


class RealBottle:
    """An HX711 on the Pi's GPIO."""

    empty_bottle_g = None
    default_calibration = None  # a real load cell's factors are only known by calibrating it

    def __init__(self, config: Config):
        self._config = config.bottle
        self._factory = None

    def open_driver(self):
        from device.hardware.pins import make_pin_factory
        from sensors.hx711 import HX711

        if self._factory is None:
            self._factory = make_pin_factory()
        return HX711(self._config.dout_pin, self._config.pd_sck_pin, gain=self._config.gain,
                     pin_factory=self._factory, rate_hz=self._config.rate_hz)

    def place(self, grams: float) -> None:
        """The person puts things on a real scale; nothing to do."""

    def close(self) -> None:
        if self._factory is not None:
            self._factory.close()
            self._factory = None


# -- the bed-frame accelerometer ------------------------------------------------------
class RealBed:
    """An ADXL345 or MPU-6050 on the Pi's I2C bus."""

    def __init__(self, config: Config):
        from sensors.night_analysis import BedParams

        self._config = config.bed
        self.analyzer_params = BedParams()  # real nights: the tuned, validated defaults

    def open_driver(self):
        cfg = self._config
        return open_accelerometer(cfg.chip, cfg.i2c_bus, rate_hz=cfg.rate_hz, range_g=cfg.range_g,
                                  address=cfg.address)

    def close(self) -> None:
        """Each driver opened its own bus and closes it."""
