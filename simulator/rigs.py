"""Simulated hardware for the daemon, behind one seam: :class:`SimulatedRig`.

The daemon gets its parts from a rig (:func:`device.hardware.rigs.rig`): with
``--simulate`` this one, otherwise the Pi's own (:class:`device.hardware.rigs.RealRig`).
Both give the same parts: ``pin_factory()`` for the buttons and outputs, ``bottle()``
(``open_driver()`` returning an :class:`sensors.hx711.HX711`, ``default_calibration``,
``place(grams)`` for the calibration wizard, ``close()``) and ``bed()`` (``open_driver()``,
``analyzer_params``, ``close()``). The real drivers run unchanged on gpiozero
``MockFactory`` pins that a :class:`simulator.hx711_chip.FakeHX711` answers, and on a
:class:`simulator.i2c_bus.FakeSMBus` with a register-level fake accelerometer.

A rig reads its settings from the daemon's configuration (sections ``bottle``, ``bed``
and ``simulator`` of :class:`device.config.Config`) by attribute only: the simulator
sits below the daemon and imports none of it.
"""

from __future__ import annotations

import random
import time

from sensors.accelerometers import open_accelerometer
from sensors.calibration import Calibration


def simulated_pin_factory():
    """A gpiozero MockFactory whose pins can do PWM (for simulate mode and tests)."""
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    return MockFactory(pin_class=MockPWMPin)


class SimulatedBottle:
    """A simulated person's day on a pin-level fake HX711.

    The fake load cell has a fixed zero and scale factor, like a real one; the
    daemon converts with the stored calibration, or with the cell's true factors when
    the simulated scale was never calibrated.
    """

    OFFSET_COUNTS = 8_500.0  # a load cell's zero is never exactly 0 counts
    COUNTS_PER_GRAM = 430.0  # a 5 kg, 1 mV/V bar cell at gain 128
    empty_bottle_g = 310.0
    # what the daemon converts with until the simulated scale is calibrated: the cell's own
    default_calibration = Calibration(OFFSET_COUNTS, COUNTS_PER_GRAM, empty_bottle_g)
    # Python writes to mock pins take tens of microseconds, and a busy machine can
    # pause a thread for milliseconds, so a clock-high phase here would often pass
    # the real chip's 60 us power-down time. The simulated chip and the driver both
    # use 5 ms instead: the protocol is the same, only slower. Tests of the 60 us
    # behaviour itself run the emulator on a fake clock.
    POWER_DOWN_AFTER_S = 5e-3

    def __init__(self, config, *, scripted: bool = False, clock=None, plan=None):
        from gpiozero.pins.mock import MockFactory

        from sensors.sensor_time import SensorTime
        from simulator.bottle_scenario import plan_day
        from simulator.hx711_chip import FakeHX711

        # the person lives on real time: a step of the wall clock does not move them
        clock = clock or SensorTime().now
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
        # The plan runs on Unix time from the start on (monotonic); the chip on its own clock.
        if self.plan is None:  # what place() put on it, with a load cell's noise
            grams = self._load_g + self._noise.gauss(0.0, 0.5)
        else:
            grams = self.plan.weight_at(self._clock(), rate_hz=self._rate)
        return self.OFFSET_COUNTS + self.COUNTS_PER_GRAM * grams

    def open_driver(self):
        from sensors.hx711 import HX711

        return HX711(*self._pins, gain=128, pin_factory=self.factory,
                     power_down_after=self.POWER_DOWN_AFTER_S, rate_hz=self._rate)

    def place(self, grams: float) -> None:
        self._load_g = grams

    def close(self) -> None:
        self.chip.close()
        self.factory.close()


# -- the bed-frame accelerometer ------------------------------------------------------
def fake_accelerometer(bed, source):
    """The register-level fake of ``bed.chip`` at ``bed.address``, reading ``source(t)``."""
    kwargs = {} if bed.address is None else {"address": bed.address}
    if bed.chip == "mpu6050":
        from simulator.mpu6050_chip import FakeMPU6050

        return FakeMPU6050(source, **kwargs)
    from simulator.adxl345_chip import FakeADXL345

    return FakeADXL345(source, **kwargs)


class SimulatedBed:
    """A simulated sleeper's demo nights on a register-level fake chip and fake bus.

    The fake chip runs on the monotonic clock; the night plan on Unix time. The
    offset between the two is fixed at start so every sample maps to its own moment.

    Time-compressed demo nights, in real time. A real night is 8 h and the analyzer
    reports it when it is over; a demo has to show a night in minutes. Two ways were
    possible: play a full-length night faster than real time, or tell a night's story
    in ten minutes of real time and have the analyzer use parameters made for such
    nights. The second is what this does: every sample is still stamped with the wall
    clock when it is read, so epochs, events, the bedside button's presses, reminders
    and the dashboard's "last night" all live in the present, never in the future, and
    the chip, its FIFO, the driver and the worker run exactly as on a real bed. A night
    played faster would give the analyzer samples that are not at the chip's rate or
    times that are not now, which the rest of the daemon (sample clock, stored epochs,
    label matching against wall-clock button presses) would have to undo.

    So the plan is a demo plan fitted to ``[simulator] night_minutes``
    (:func:`simulator.night_scenario.fit_demo_night`), and :attr:`analyzer_params` is
    :meth:`sensors.night_analysis.BedParams.demo` for it (the daemon passes it to the
    analyzer; a real bed gives the defaults). With a ``pin_factory`` the sleeper
    presses the bedside button (``[bed] button_pin``, on that gpiozero factory: the
    real path, through a mock pin) 5-25 s after each cramp wake has ended.
    """

    PRESS_S = 0.2  # how long the finger stays on the button

    def __init__(self, config, *, plan=None, clock=time.time, pin_factory=None):
        from sensors.night_analysis import BedParams
        from simulator.i2c_bus import FakeSMBus
        from simulator.night_scenario import plan_night

        cfg = config.bed
        self._rate = cfg.rate_hz
        self._offset = clock() - time.monotonic()
        self.plan = plan or plan_night(config.simulator.seed, start=clock(), chip=cfg.chip, demo=True,
                                       night_minutes=config.simulator.night_minutes)
        self.analyzer_params = BedParams.demo() if self.plan.person.demo else BedParams()
        self.chip = fake_accelerometer(cfg, self._sample)
        self.bus = FakeSMBus(cfg.i2c_bus, chips=[self.chip])
        self._config = cfg
        self._pin_factory = pin_factory
        self._presses_from = self.plan.start  # presses before this were made (or skipped)
        self._next_check = 0.0
        self.presses: list[float] = []  # Unix times the simulated sleeper pressed the button

    def _sample(self, chip_t: float):
        t = chip_t + self._offset
        if self._pin_factory is not None and t >= self._next_check:
            self._next_check = t + 0.5
            self._press_due(t)
        return self.plan.sample_at(t, rate_hz=self._rate)

    def press_times(self, until: float) -> list[float]:
        """When the sleeper presses the bedside button, up to ``until``: after each cramp.

        Deterministic per seed and night: 5-25 s after the cramp wake's end (people
        press once they can, often after walking the cramp off).
        """
        out = []
        for night in self.plan.nights:
            for wake, _extra in night.wakes:
                if wake.cramp:
                    r = random.Random(f"crampwatch.demo.press.{self.plan.seed}.{night.index}.{wake.start}")
                    at = wake.end + r.uniform(5.0, 25.0)
                    if at <= until:
                        out.append(at)
        return out

    def _press_due(self, t: float) -> None:
        due = [p for p in self.press_times(t) if p > self._presses_from]
        if not due:
            return
        self._presses_from = max(due)
        import threading

        # not on the sensor thread: the press runs the button's callback (a store write)
        threading.Thread(target=self._press, name="bedside-press", daemon=True).start()

    def _press(self) -> None:
        try:
            pin = self._pin_factory.pin(self._config.button_pin)
            if getattr(pin, "function", None) != "input":
                return  # nobody listens on that pin (no bedside button configured)
            pin.drive_low()
            time.sleep(self.PRESS_S)
            pin.drive_high()
            self.presses.append(time.time())
        except Exception:  # a simulated finger must never take the daemon down
            import logging

            logging.getLogger(__name__).exception("simulated bedside button press failed")

    def open_driver(self):
        cfg = self._config
        return open_accelerometer(cfg.chip, self.bus, rate_hz=cfg.rate_hz, range_g=cfg.range_g, address=cfg.address)

    def close(self) -> None:
        self._pin_factory = None
        self.bus.close()


class SimulatedRig:
    """The simulator's pins, scale and bed for the daemon, the ``crampwatch calibrate``
    wizard and ``crampwatch doctor``, on one configuration."""

    default_calibration = SimulatedBottle.default_calibration  # the simulated load cell's own factors

    def __init__(self, config):
        self._config = config

    def pin_factory(self):
        return simulated_pin_factory()

    def bottle(self, *, scripted: bool = False) -> SimulatedBottle:
        """A simulated person's day on the scale; ``scripted``: it holds what ``place`` puts on it."""
        return SimulatedBottle(self._config, scripted=scripted)

    def bed(self, *, pin_factory=None) -> SimulatedBed:
        """Demo nights on a fake accelerometer; ``pin_factory``: where the sleeper presses the bedside button."""
        return SimulatedBed(self._config, pin_factory=pin_factory)

    def still_bed_bus(self):
        """``(bus, chip)``: the configured fake accelerometer, lying still, alone on a fake bus."""
        from simulator.i2c_bus import FakeSMBus

        chip = fake_accelerometer(self._config.bed, lambda t: (0.0, 0.0, 1.0))
        return FakeSMBus(self._config.bed.i2c_bus, chips=[chip]), chip
