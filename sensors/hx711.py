"""HX711 24-bit load-cell ADC, bit-banged through gpiozero's pin-factory layer.

The protocol (Avia HX711 datasheet): DOUT high means "converting", low means "a
conversion is ready". The host then gives 25 to 27 positive pulses on PD_SCK; each
rising edge shifts the next bit out on DOUT, MSB first, 24 bits of two's complement;
the 25th pulls DOUT high again, and the number of pulses selects the input for the
NEXT conversion: 25 = channel A gain 128, 26 = channel B gain 32, 27 = channel A gain
64. PD_SCK held high for more than 60 us powers the chip down; PD_SCK low again resets
it to A-128 with a settling time (400 ms at 10 SPS, 50 ms at 80 SPS) before the first
data. The RATE pin (10 or 80 SPS) is hardware: the driver just waits for DOUT.

Why it is written the way it is:

- Pins come from the factory (``factory.pin(n)``, reserved like a gpiozero device)
  rather than DigitalInputDevice/DigitalOutputDevice: one property access per edge,
  no value translation, and the same code on lgpio, RPi.GPIO and MockFactory.
- Waiting polls DOUT with short sleeps (``poll_interval``, 2 ms): no thread, no
  CPU spin, and a conversion stays readable for a whole period (12.5 ms at 80 SPS),
  so nothing is missed. Given the conversion rate (``rate_hz``, the RATE pin's
  setting), a read first sleeps through 80 % of a period after the previous read (and
  of the 4-period settling after a reset), since no conversion can be ready sooner: at
  10 SPS that is about 6 wake-ups a sample instead of 50, which was most of the
  daemon's CPU. Edge callbacks were not used: they fire on every data bit
  during a read too, and the mock chip updates lazily.
- Nothing sleeps while PD_SCK is high. Even ``time.sleep(1e-6)`` takes ~80 us, longer
  than the 60 us after which the chip powers down mid-read.
- The host can still be held up with the clock high (a context switch, another thread
  taking the GIL, a GC pause). Each pulse is bracketed with ``time.perf_counter_ns``
  from before the rising write to after the falling write, which bounds the real high
  time from above. Above ``power_down_after`` the chip *may* have powered down and
  reset, so its state is unknown: the driver resets it on purpose (PD_SCK high long
  enough, then low) and, if the 24 data bits were not all in, drops the value with a
  :class:`~vocabulary.errors.SensorGlitch` warning and reads again within the timeout.
  The bound can only over-estimate, so a chip that powered down is never missed; a
  false alarm costs one settling time. On slow pins (gpiozero's mock pins take
  microseconds to tens of microseconds per write) this stays correct: the emulator
  in ``simulator.hx711_chip`` times the same high phase from inside the writes, so
  whenever it powers down the driver's bracket is longer still. ``power_down_after``
  is a constructor argument for a slow pin layer paired with an equally lenient
  emulator; on a real HX711 leave it at 60 us.
- The chip's input mode survives a host restart (only a reset returns it to A-128),
  so the constructor resets it: after that the driver always knows which gain the
  next conversion has, and discards exactly the conversions made at another gain
  (one, after each reset, for gain 64 and channel B; none for gain 128).
- Values are returned unfiltered, saturation codes included (:func:`is_saturated`
  tells them apart); spikes are the detector's business.
"""

from __future__ import annotations

import threading
import time
import warnings

from gpiozero import Device
from gpiozero.exc import DeviceClosed

from vocabulary.errors import SensorError, SensorGlitch, SensorNotFound, SensorTimeout

__all__ = ["HX711", "is_saturated", "SATURATED_HIGH", "SATURATED_LOW", "GAINS"]

#: The largest and smallest codes; the chip reports them when the input is out of range.
SATURATED_HIGH = 0x7FFFFF
SATURATED_LOW = -0x800000
#: Gain -> PD_SCK pulses per read that select it (channel A for 128 and 64, B for 32).
GAINS = {128: 25, 64: 27, 32: 26}
#: Datasheet: PD_SCK high for longer than this powers the chip down.
POWER_DOWN_AFTER = 60e-6
# A real chip pulls DOUT high at the 25th pulse and keeps it high for at least most of
# a conversion period (>= 12.5 ms); DOUT low right after a read, this many times in a
# row (microseconds apart), means the line is stuck low, not that data is ready.
_DOUT_LOW_AFTER_READ_LIMIT = 3


def is_saturated(value):
    """True if *value* is one of the HX711's saturation codes (0x7FFFFF, 0x800000).

    Accepts the signed value :meth:`HX711.read_raw` returns, and the unsigned
    0x800000 too.
    """
    return value in (SATURATED_HIGH, SATURATED_LOW, 0x800000)


class HX711:
    """An HX711 load-cell amplifier on two GPIO pins.

    :param dout: GPIO of the chip's DOUT (data out, an input here).
    :param pd_sck: GPIO of PD_SCK (clock and power down, an output here).
    :param gain: 128 or 64 (channel A) or 32 (channel B).
    :param pin_factory: a gpiozero pin factory; ``None`` uses ``Device.pin_factory``,
        choosing gpiozero's default first, as gpiozero devices do.
    :param power_down_after: PD_SCK high time after which the chip powers down
        (datasheet: 60 us). :meth:`power_down` holds the clock high longer than this,
        and a read whose clock-high phase may have lasted longer is treated as
        interrupted by a power-down.
    :param poll_interval: seconds between looks at DOUT while waiting for data;
        ``None``: 2 ms, or a twentieth of a conversion period if the rate is known and
        that is longer (a conversion stays readable for a whole period).
    :param rate_hz: the chip's conversion rate (10 or 80 SPS, set by its RATE pin), or
        ``None`` if unknown. Known, the driver sleeps through most of a conversion
        before polling. Set too high it only polls more; set too low it would skip
        conversions, so leave it ``None`` when unsure.

    :raises ValueError: *gain* is not 128, 64 or 32.
    :raises gpiozero.GPIOPinInUse: a pin is used by another device.

    Example::

        from sensors.hx711 import HX711, is_saturated

        with HX711(dout=5, pd_sck=6, gain=128) as hx:
            raw = hx.read_raw(timeout=1.0)   # signed 24-bit, unfiltered
            if not is_saturated(raw):
                grams = (raw - offset) / counts_per_gram
    """

    def __init__(self, dout, pd_sck, *, gain=128, pin_factory=None,
                 power_down_after=POWER_DOWN_AFTER, poll_interval=None, rate_hz=None):
        # Attributes that close() and __del__ look at come first: a failed
        # constructor still gets closed.
        self._dout = self._sck = None
        self._factory = None
        self._closing = False
        if gain not in GAINS:
            raise ValueError(f"gain must be 128, 64 or 32 (channel A: 128 or 64, channel B: 32), not {gain!r}")
        if not 0 < power_down_after < 1:
            raise ValueError(f"power_down_after must be a positive number of seconds below 1, not {power_down_after!r}")
        if rate_hz is not None and not 0 < rate_hz <= 1000:
            raise ValueError(f"rate_hz must be a conversion rate in (0, 1000] Hz or None, not {rate_hz!r}")
        if poll_interval is None:
            poll_interval = 0.002 if rate_hz is None else max(0.002, 0.05 / rate_hz)
        if not 0 < poll_interval <= 1:
            raise ValueError(f"poll_interval must be in (0, 1] seconds, not {poll_interval!r}")
        if dout == pd_sck:
            raise ValueError(f"DOUT and PD_SCK must be different pins, both are {dout!r}")
        if pin_factory is None:
            Device.ensure_pin_factory()
            pin_factory = Device.pin_factory
        self._gain = gain
        self._pulses = GAINS[gain]
        self._power_down_after = float(power_down_after)
        self._limit_ns = int(power_down_after * 1e9)
        # Holding PD_SCK high this long surely powers the chip down; sleeping is fine
        # here, it is the point.
        self._hold = self._power_down_after + 100e-6
        self._poll_interval = float(poll_interval)
        # No conversion can be ready before this (time.monotonic()): 80 % of a period
        # after a read, 80 % of the 4-period settling after a reset or power-up.
        self._period = None if rate_hz is None else 1.0 / rate_hz
        self._quiet_until = None
        self._lock = threading.RLock()
        self._powered_down = False
        self._next_gain = None  # gain of the next conversion; None = unknown
        self._needs_reset = False  # chip state unknown (DOUT was stuck low)
        self._clock_stretches = 0

        # Reserve before creating the pins, as gpiozero's GPIODevice does.
        pin_factory.reserve_pins(self, dout, pd_sck)
        self._factory = pin_factory
        self._pin_names = (dout, pd_sck)
        try:
            self._dout = pin_factory.pin(dout)
            self._dout.function = "input"
            self._sck = pin_factory.pin(pd_sck)
            self._sck.function = "output"
            self._sck.state = False
            self._reset_chip()
        except BaseException:
            self.close()
            raise

    # --- properties --------------------------------------------------------------
    @property
    def gain(self):
        """The configured gain: 128, 64 (channel A) or 32 (channel B)."""
        return self._gain

    @property
    def closed(self):
        return self._sck is None

    @property
    def powered_down(self):
        """True between :meth:`power_down` and :meth:`power_up`."""
        return self._powered_down

    @property
    def clock_stretches(self):
        """Reads whose clock-high phase ran past ``power_down_after`` (the chip was reset)."""
        return self._clock_stretches

    # --- reading -----------------------------------------------------------------
    def read_raw(self, timeout=1.0):
        """Wait for the next conversion and return it: a signed 24-bit int.

        Exactly the code clocked out (two's complement, MSB first), unfiltered,
        at the configured gain; 0x7FFFFF and -0x800000 are saturation (see
        :func:`is_saturated`). Conversions made at another gain (after a reset the
        chip is at channel A gain 128) are discarded.

        :param timeout: seconds to wait in all, or ``None`` to wait for ever.
        :raises vocabulary.errors.SensorTimeout: DOUT did not go low in time (PD_SCK is
            left low; the next read works once the chip answers).
        :raises vocabulary.errors.SensorNotFound: DOUT stayed low after the 25th pulse
            several times in a row: no HX711 drives it (shorted, or floating low).
        :raises vocabulary.errors.SensorError: the chip is powered down.
        :raises gpiozero.DeviceClosed: the driver is closed.
        """
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        with self._lock:
            self._check_open()
            if self._powered_down:
                raise SensorError(f"{self!r} is powered down; call power_up() first")
            if self._needs_reset:
                self._reset_chip()
            low_after_read = 0
            stretched_here = 0
            while True:
                self._wait_ready(deadline, timeout, stretched_here)
                made_at = self._next_gain
                value, stretched_at = self._clock_out()
                if not stretched_at:
                    self._quiet_for(0.8)
                if stretched_at:
                    # The chip may have powered down and reset during that pulse;
                    # reset it for sure so that its state is known again.
                    self._clock_stretches += 1
                    stretched_here += 1
                    self._reset_chip()
                    if stretched_at <= 24:
                        warnings.warn(SensorGlitch(
                            f"HX711 clock held high past {self._power_down_after * 1e6:.0f} us "
                            f"at bit {stretched_at}; reading dropped and chip reset"), stacklevel=2)
                        continue
                    # All 24 bits were in before the stall: the value is good.
                    if made_at == self._gain:
                        return value
                    continue
                self._next_gain = self._gain
                if not self._dout.state:
                    # A real chip holds DOUT high after the 25th pulse until its next
                    # conversion. Low already: either a conversion just completed
                    # (rare; read it, it is fresher) or nothing drives the line.
                    low_after_read += 1
                    if low_after_read >= _DOUT_LOW_AFTER_READ_LIMIT:
                        self._needs_reset = True  # whatever answers next gets a reset
                        raise SensorNotFound(
                            f"HX711 DOUT ({self._dout.info.name}) stayed low after the 25th clock "
                            f"pulse {low_after_read} times in a row: no chip drives it "
                            f"(DOUT shorted to ground, chip unpowered or not connected?)")
                    continue
                low_after_read = 0
                if made_at == self._gain:
                    return value

    def _wait_ready(self, deadline, timeout, stretched=0):
        dout = self._dout
        if self._quiet_until is not None:
            # The chip is still converting (or settling): sleep through it, bounded by
            # the deadline, instead of polling.
            quiet_until = self._quiet_until if deadline is None else min(self._quiet_until, deadline)
            self._quiet_until = None
            pause = quiet_until - time.monotonic()
            if pause > 0 and not self._closing:
                time.sleep(pause)
        while dout.state:
            if self._closing:
                raise DeviceClosed(f"{type(self).__name__} was closed while waiting for data")
            if deadline is None:
                time.sleep(self._poll_interval)
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                # The chip may have browned out meanwhile and woken at A-128; at other
                # gains the next conversion cannot be trusted to have ours.
                if self._gain != 128:
                    self._next_gain = None
                if stretched:
                    # Every read was interrupted: a reset chip settles for 4 periods.
                    raise SensorTimeout(
                        f"HX711 read did not complete in {timeout} s: {stretched} read(s) had "
                        f"PD_SCK high for over {self._power_down_after * 1e6:.0f} us and the chip "
                        f"was reset each time (pin layer too slow, or the host too busy?)")
                raise SensorTimeout(
                    f"HX711 DOUT ({dout.info.name}) stayed high for {timeout} s: no conversion "
                    f"ready (chip unpowered, disconnected or wrong pins?)")
            time.sleep(min(self._poll_interval, remaining))

    def _clock_out(self):
        """Clock out one conversion and select the next one's input.

        Returns ``(value, stretched_at)``; *stretched_at* is the 1-based pulse whose
        high phase may have exceeded the power-down time (0 if none), after which no
        further pulse is given.
        """
        sck, dout = self._sck, self._dout
        now = time.perf_counter_ns
        limit = self._limit_ns
        value = 0
        stretched_at = 0
        try:
            # A redundant write of the idle level first: the first write after the
            # poll's sleep is the slowest (cold caches; ~2x on the mock pins), better
            # spent with the clock low than in the first high phase.
            sck.state = False
            for pulse in range(1, self._pulses + 1):
                start = now()
                sck.state = True
                sck.state = False
                if now() - start > limit:
                    stretched_at = pulse
                    break
                if pulse <= 24:
                    # Read in the low phase: the bit stays valid until the next rising
                    # edge, and the high phase stays as short as two writes.
                    value = (value << 1) | dout.state
        except BaseException:
            sck.state = False
            raise
        if value & 0x800000:  # two's complement (meaningful once all 24 bits are in)
            value -= 0x1000000
        return value, stretched_at

    # --- power -------------------------------------------------------------------
    def power_down(self):
        """Power the chip down: PD_SCK high, held past the power-down time. Idempotent."""
        with self._lock:
            self._check_open()
            if not self._powered_down:
                self._sck.state = True
                time.sleep(self._hold)
                self._powered_down = True

    def power_up(self):
        """Wake the chip: PD_SCK low. It resets to channel A gain 128 and settles
        (400 ms at 10 SPS, 50 ms at 80 SPS) before the next data. Idempotent."""
        with self._lock:
            self._check_open()
            if self._powered_down:
                self._sck.state = False
                self._powered_down = False
                self._next_gain = 128
                self._quiet_for(0.8 * 4)

    def _reset_chip(self):
        """Power-cycle the chip so that its state is known: A-128, settling."""
        self._sck.state = True
        time.sleep(self._hold)
        self._sck.state = False
        self._next_gain = 128
        self._needs_reset = False
        self._quiet_for(0.8 * 4)

    def _quiet_for(self, periods):
        """No conversion can be ready for *periods* conversion periods (if the rate is known)."""
        if self._period is not None:
            self._quiet_until = time.monotonic() + periods * self._period

    # --- lifetime ----------------------------------------------------------------
    def close(self):
        """Release both pins (PD_SCK is left low first). Idempotent."""
        self._closing = True  # a read waiting in another thread gives up
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            dout, sck, factory = self._dout, self._sck, self._factory
            self._dout = self._sck = self._factory = None
            try:
                if sck is not None:
                    try:
                        sck.state = False
                    except Exception:
                        pass  # best effort: the factory may be closed already
                    sck.close()
                if dout is not None:
                    dout.close()
            finally:
                # Whatever happened to the pins, the reservation goes.
                if factory is not None:
                    factory.release_pins(self, *self._pin_names)

    def _check_open(self):
        if self._sck is None:
            raise DeviceClosed(f"{type(self).__name__} is closed")

    def _conflicts_with(self, other):
        # Asked by Factory.reserve_pins: nothing may share the HX711's pins.
        return True

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        # Like gpiozero devices: a dropped driver gives its pins back.
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        if self.closed:
            return f"<{type(self).__name__} closed>"
        return (f"<{type(self).__name__} DOUT={self._dout.info.name} "
                f"PD_SCK={self._sck.info.name} gain={self._gain}>")
