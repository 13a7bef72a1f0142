"""A pin-level HX711 that answers a driver's clock pulses on gpiozero mock pins.

The emulator speaks the serial protocol of the Avia HX711 datasheet, nothing more:

- DOUT is high while a conversion runs and goes low when one is ready.
- Each PD_SCK rising edge shifts the next bit out on DOUT, MSB first (24 bits, two's
  complement). The 25th rising edge pulls DOUT high again; 25 / 26 / 27 pulses in all
  select channel A gain 128 / channel B gain 32 / channel A gain 64 for the NEXT
  conversion.
- PD_SCK held high for more than 60 us powers the chip down (DOUT high). PD_SCK low
  again resets it: channel A, gain 128, and no data until the output has settled.
- Output rate 10 or 80 samples per second (the RATE pin).

Datasheet facts and the choices made where it is silent (so tests can rely on them):

- Settling: the datasheet gives 400 ms at 10 SPS and 50 ms at 80 SPS "from power up,
  reset, input channel change and gain change to valid stable output data", i.e. four
  conversion periods. The emulator models it only after power-on and after a
  power-down reset: the first DOUT low comes four periods after PD_SCK went low.
  After a gain or channel change the very next conversion already has the new gain
  (an idealisation; the common practice of discarding one conversion works).
- Conversions run free on a fixed grid (every period after settling). A conversion
  that nobody reads is replaced by the next one. Conversions that complete while a
  read is shifting out bits are dropped: after the 25th pulse DOUT stays high until
  the next conversion on the grid completes.
- A rising edge while a conversion is ready always starts a new read (the chip has no
  other way to tell a 26th pulse from the first pulse of the next read). A host whose
  26th/27th pulse arrives after the next conversion completed therefore desynchronises
  for one read - the real protocol's race, kept visible on purpose.
- Pulses that start no read (DOUT high, no read in progress) and pulses beyond the
  27th are protocol violations: they are counted in :attr:`FakeHX711.violations`
  (the real chip's behaviour is unspecified) and otherwise ignored. A long pulse that
  powers the chip down is never a violation.

Time: every timing decision (conversion grid, settling, the 60 us power-down) reads
the injectable ``clock`` (seconds, float; default :func:`time.monotonic`). Nothing runs
in the background: the emulator brings itself up to date whenever DOUT is read or
PD_SCK changes. With a fake clock a test moves time explicitly and the emulator is
exact and fast; a ``when_changed`` callback on DOUT fires only when something reads
DOUT or clocks PD_SCK. A driver that times its clock pulses on the real clock (as
``sensors.hx711.HX711`` does) needs the real clock here too.

Values: ``source(t)`` returns the differential input on channel A expressed in raw
counts at gain 128 (what the chip would report at A-128), ``t`` being the completion
time of the conversion on the emulator's clock. It is called once for each conversion
that is seen ready (DOUT read, or PD_SCK moved, after it completed); a conversion
replaced by the next before anyone looked is never evaluated. Gain 64 reports half of it; channel B is ``source_b(t)``
(same units: counts at gain 128) divided by 4 for its fixed gain 32, and defaults to
``source`` (as if the bridge were wired to both inputs). Results are rounded to the
nearest integer (halves to even, :func:`round`) and clamped to the saturation codes
0x7FFFFF / 0x800000. For grams, pass e.g.
``source=lambda t: offset + counts_per_gram * grams(t)``.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque

from gpiozero.pins.mock import MockPin, PinState

__all__ = ["FakeHX711", "ClockPin", "DataPin", "FAULTS", "SETTLING_PERIODS"]

#: Conversion periods between a reset (power-on or power-down) and the first data.
SETTLING_PERIODS = 4
#: PD_SCK high for longer than this powers the chip down (datasheet: 60 us).
POWER_DOWN_AFTER = 60e-6
#: Injectable faults: ``None`` (healthy); ``"no_response"`` - DOUT stuck high (chip
#: unpowered or dead, or DOUT broken with a pull-up): every read times out;
#: ``"dout_low"`` - DOUT stuck low (shorted, or floating low with no chip): data looks
#: ready at once and every bit reads 0.
FAULTS = (None, "no_response", "dout_low")

_SATURATED_HIGH = 0x7FFFFF
_SATURATED_LOW = -0x800000
_MODES = {25: ("A", 128), 26: ("B", 32), 27: ("A", 64)}
# Bits a spike may flip: the upper half of the word, so a spike is an outlier of at
# least 2**12 counts, the size of the isolated jumps seen in the field.
_SPIKE_BITS = range(12, 24)


class _ShortHistoryPin(MockPin):
    """A MockPin whose ``states`` history is bounded.

    MockPin appends every change to a list forever; a scale read at 80 SPS makes about
    4,000 edges a second, so a simulated day would hold hundreds of millions of
    tuples. A deque keeps the last :attr:`history` changes, enough for
    ``assert_states`` in short tests.
    """

    history = 64

    def __init__(self, factory, info):
        self.chip = None  # the FakeHX711 attached to this pin, if any
        super().__init__(factory, info)

    def clear_states(self):
        self._last_change = time.monotonic()
        self.states = deque([PinState(0.0, self._state)], maxlen=self.history)


class ClockPin(_ShortHistoryPin):
    """PD_SCK: tells the attached chip about every edge the host drives."""

    def _change_state(self, value):
        changed = super()._change_state(value)
        chip = self.chip
        if changed and chip is not None:
            chip._on_clock_edge(bool(value))
        return changed


class DataPin(_ShortHistoryPin):
    """DOUT: driven by the attached chip, brought up to date whenever it is read.

    :attr:`looks` counts the host's reads of the pin, as a logic analyser on the
    line would show them: 24 data bits and one check a read, plus the polls.
    """

    looks = 0

    def _get_state(self):
        self.looks += 1
        chip = self.chip
        if chip is not None:
            chip._refresh()
        return self._state

    def _drive(self, level):
        # The chip drives DOUT only while the host listens; if the host made the pin
        # an output the two fight, and the host's level is what it reads back.
        if self._function != "input":
            return
        if level:
            self.drive_high()
        else:
            self.drive_low()


class FakeHX711:
    """An HX711 on two :class:`~gpiozero.pins.mock.MockFactory` pins.

    Create it *before* the driver: it creates the pins with its own pin classes, and
    MockFactory hands the same pin objects to the driver.

    :param factory: the :class:`~gpiozero.pins.mock.MockFactory` owning the pins.
    :param dout: GPIO number of DOUT.
    :param pd_sck: GPIO number of PD_SCK.
    :param source: ``source(t) -> float``, channel A input in counts at gain 128
        (default: always 0).
    :param source_b: the same for channel B (default: ``source``).
    :param rate_hz: output data rate, 10 or 80 on a real chip (any positive rate is
        accepted, as with an external crystal).
    :param clock: ``clock() -> float`` seconds; default :func:`time.monotonic`.
    :param sleep: how :meth:`stall` blocks; default :func:`time.sleep` (pass the fake
        clock's advance function when the clock is fake).
    :param power_down_after: PD_SCK high time that powers the chip down (60 us).
    :param spike_rate: probability, per conversion read, of a spike (one random bit
        among the top 12 flipped in the word shifted out).
    :param seed: seed for the spike generator.

    Example::

        factory = MockFactory()
        chip = FakeHX711(factory, 5, 6, source=lambda t: 1234, rate_hz=80)
        with HX711(5, 6, pin_factory=factory) as hx:
            assert hx.read_raw() == 1234
        chip.close()
    """

    def __init__(self, factory, dout=5, pd_sck=6, *, source=None, source_b=None,
                 rate_hz=10, clock=None, sleep=None, power_down_after=POWER_DOWN_AFTER,
                 spike_rate=0.0, seed=None):
        if not (isinstance(rate_hz, (int, float)) and math.isfinite(rate_hz) and rate_hz > 0):
            raise ValueError(f"rate_hz must be a positive number (10 or 80 on a real chip), not {rate_hz!r}")
        if not power_down_after > 0:
            raise ValueError(f"power_down_after must be positive, not {power_down_after!r}")
        if not 0.0 <= spike_rate <= 1.0:
            raise ValueError(f"spike_rate must be between 0 and 1, not {spike_rate!r}")
        self._lock = threading.RLock()
        self._clock = clock if clock is not None else time.monotonic
        self._sleep = sleep if sleep is not None else time.sleep
        self._source = source if source is not None else (lambda t: 0.0)
        self._source_b = source_b
        self._period = 1.0 / rate_hz
        self._settle = SETTLING_PERIODS * self._period
        self._power_down_after = float(power_down_after)
        self._rng = random.Random(seed)
        self.spike_rate = spike_rate
        self._fault = None
        self._stall = None  # [pulse number, seconds, reads left or None]
        self._stray = None  # why the current PD_SCK pulse is a violation, if it is
        #: Completed reads (25th pulse seen), power-down resets, spikes, violations.
        self.reads = 0
        self.resets = 0
        self.spikes = 0
        self.violations = 0
        #: The last few violations, described.
        self.violation_log = deque(maxlen=16)

        self.dout_pin = self._claim(factory, dout, DataPin)
        self.pd_sck_pin = self._claim(factory, pd_sck, ClockPin)
        now = self._clock()
        self._sck_high = bool(self.pd_sck_pin._state)
        self._t_rise = now
        self._reset(now)  # power-on
        self.dout_pin.chip = self
        self.pd_sck_pin.chip = self
        self._refresh()

    # --- public inspection and fault injection ---------------------------------
    @property
    def powered_down(self):
        """True while PD_SCK has been high for longer than the power-down time."""
        with self._lock:
            return self._sck_high and self._clock() - self._t_rise > self._power_down_after

    @property
    def next_input(self):
        """``(channel, gain)`` the next conversion uses, e.g. ``("A", 128)``."""
        return self._mode

    @property
    def rate_hz(self):
        return 1.0 / self._period

    @property
    def fault(self):
        """The injected fault, one of :data:`FAULTS`; set ``None`` to heal the chip.

        When healed the chip has been converting all along (no reset): its next data
        is the next conversion on its grid, at the input it had selected.
        """
        return self._fault

    @fault.setter
    def fault(self, value):
        if value not in FAULTS:
            raise ValueError(f"fault must be one of {FAULTS}, not {value!r}")
        with self._lock:
            now = self._clock()
            if self._fault is not None and value is None:
                self._consumed = self._latest(now)
                self._count = 0
            self._fault = value
            self._update_dout(now)

    def stall(self, pulse=1, seconds=1e-3, reads=1):
        """Hold the host on the rising edge of *pulse* (1-27) of the next *reads* reads.

        The host's write to PD_SCK does not return for *seconds* (``sleep``), as if the
        host had been preempted with the clock high; more than 60 us and the chip
        powers down mid-read, exactly as a real one would. ``reads=None`` stalls
        every read (a pin layer too slow for the chip); ``seconds=0`` cancels.
        """
        if not 1 <= pulse <= 27:
            raise ValueError("pulse must be between 1 and 27")
        with self._lock:
            self._stall = [pulse, seconds, reads] if seconds > 0 else None

    def close(self):
        """Detach from the pins (they stay in the factory). Idempotent."""
        with self._lock:
            for pin in (getattr(self, "dout_pin", None), getattr(self, "pd_sck_pin", None)):
                if pin is not None and pin.chip is self:
                    pin.chip = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        channel, gain = self._mode
        return (f"<FakeHX711 DOUT={self.dout_pin.info.name} PD_SCK={self.pd_sck_pin.info.name} "
                f"{self.rate_hz:g} SPS next={channel}-{gain} fault={self._fault}>")

    # --- pins --------------------------------------------------------------------
    def _claim(self, factory, number, pin_class):
        pin = factory.pin(number, pin_class=pin_class)
        if not isinstance(pin, pin_class):
            # MockFactory returns an existing pin whatever class is asked for.
            raise ValueError(
                f"{pin.info.name} already exists as a {type(pin).__name__}; create the "
                f"FakeHX711 before anything else uses the pin, or use a fresh MockFactory")
        if pin.chip is not None:
            raise ValueError(f"{pin.info.name} already belongs to {pin.chip!r}; close() it first")
        return pin

    # --- the chip ----------------------------------------------------------------
    def _reset(self, now):
        """Power-on or wake-up from power-down: A-128, no data until settled."""
        self._t_first = now + self._settle  # completion time of conversion 0
        self._consumed = -1  # index of the last conversion read (25th pulse)
        self._count = 0  # pulses in the read in progress (0: none)
        self._word = 0
        self._latched = -1  # index of the conversion in _word
        self._bit = 1
        self._mode = _MODES[25]

    def _latest(self, now):
        """Index of the latest completed conversion (-1: none yet)."""
        if now < self._t_first:
            return -1
        return int((now - self._t_first) // self._period)

    def _refresh(self):
        with self._lock:
            self._update_dout(self._clock())

    def _update_dout(self, now):
        self.dout_pin._drive(self._dout_level(now))

    def _dout_level(self, now):
        if self._fault == "no_response":
            return True
        if self._fault == "dout_low":
            return False
        if self._sck_high and now - self._t_rise > self._power_down_after:
            return True  # powered down
        if 0 < self._count <= 24:
            return bool(self._bit)
        latest = self._latest(now)
        if latest > self._consumed:
            # Ready. Make the word now, not at the first clock pulse: the pulse's high
            # phase then costs no more than any other (it must stay under 60 us).
            self._latch(latest)
            return False
        return True

    def _on_clock_edge(self, high):
        stall = 0.0
        with self._lock:
            now = self._clock()
            if high:
                self._sck_high = True
                self._t_rise = now
                self._stray = None
                if self._fault is None:
                    stall = self._rising_edge(now)
            else:
                self._sck_high = False
                if self._fault is None:
                    if now - self._t_rise > self._power_down_after:
                        # It powered down during this high phase; low again wakes it
                        # with a reset, whatever a read in progress had done.
                        self.resets += 1
                        self._reset(now)
                    elif self._stray:
                        self.violations += 1
                        self.violation_log.append(f"t={now:.6f}: {self._stray}")
            self._update_dout(now)
        if stall:
            # Outside the lock so that tests can still look at the chip meanwhile.
            self._sleep(stall)

    def _rising_edge(self, now):
        latest = self._latest(now)
        ready = latest > self._consumed
        if self._count == 0 or (self._count >= 25 and ready):
            if not ready:
                self._stray = "PD_SCK pulsed while DOUT was high (no conversion ready)"
                return 0.0
            self._latch(latest)  # normally done already, when DOUT went low
            self._count = 1
        elif self._count < 27:
            self._count += 1
        else:
            self._stray = "more than 27 PD_SCK pulses in one read"
            return 0.0
        count = self._count
        if count <= 24:
            self._bit = (self._word >> (24 - count)) & 1
        else:
            if count == 25:
                self._consumed = latest
                self.reads += 1
            self._mode = _MODES[count]
        stall = self._stall
        if stall is not None and stall[0] == count:
            if stall[2] is not None:
                stall[2] -= 1
                if stall[2] <= 0:
                    self._stall = None
            return stall[1]
        return 0.0

    def _latch(self, k):
        if self._latched != k:
            self._latched = k
            self._word = self._convert(k)

    def _convert(self, k):
        """The 24-bit word of conversion *k*, at the input selected for it."""
        t = self._t_first + k * self._period
        channel, gain = self._mode
        source = self._source if channel == "A" or self._source_b is None else self._source_b
        x = float(source(t)) * gain / 128
        if math.isnan(x):
            raise ValueError(f"FakeHX711 source returned NaN at t={t}")
        if x >= _SATURATED_HIGH:
            code = _SATURATED_HIGH
        elif x <= _SATURATED_LOW:
            code = _SATURATED_LOW
        else:
            code = round(x)
        word = code & 0xFFFFFF
        if self.spike_rate and self._rng.random() < self.spike_rate:
            self.spikes += 1
            word ^= 1 << self._rng.choice(_SPIKE_BITS)
        return word
