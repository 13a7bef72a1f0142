"""What the I2C accelerometer drivers share: the bus, retried transactions, the drain's books.

:class:`I2CAccelerometer` is the base of :class:`sensors.adxl345.ADXL345` and
:class:`sensors.mpu6050.MPU6050`. It owns everything that is not chip-specific:

- The bus: an object with smbus2 ``SMBus``'s ``read_byte_data``, ``write_byte_data``
  and ``read_i2c_block_data`` (only those three are used), or an int bus number, in
  which case ``smbus2.SMBus(n)`` is opened here (smbus2 is imported only then, so the
  drivers import anywhere) and closed again by :meth:`~I2CAccelerometer.close`.
- Retries: every transaction that raises :class:`OSError` (errno 121, EREMOTEIO, is
  what a loose wire gives on a Pi) is tried again after a short, doubling backoff;
  after ``attempts`` tries, or once the next try would start more than
  ``retry_window`` seconds after the first failure, it raises
  :class:`~vocabulary.errors.SensorBusError`. With the defaults a dead bus raises after
  about 0.16 s plus the failing transactions themselves (the kernel bounds those; on a
  Pi a NACK fails in well under a millisecond). Retrying is safe because errno 121 /
  ENXIO is a NACK of the address or register byte: the chip did nothing, in
  particular popped no FIFO data.
- The drain's bookkeeping: the bytes a drain popped are kept until :meth:`read`
  returns them, so a drain that dies half-way on a bus error loses nothing: the next
  successful :meth:`read` returns them first. Overflows are counted and the samples
  they cost estimated from the time since the previous drain.
- Lifetime: :meth:`close` (idempotent) and the context-manager protocol.

- The chip's shape: the id check (``ID_REGISTER`` must read ``CHIP_ID``, with a hint
  from ``ID_HINTS`` for chips known to answer otherwise), configuration as a list of
  register writes followed by a read of the status register (which the driver
  cannot trust: it predates it), and the start of every drain, a read of the status
  register whose ``OVERFLOW_BIT`` marks an overflow.

Subclasses set the class constants, implement ``_setup`` (the configuration's
``(register, value)`` writes, in order) and ``_drain_fifo`` (which appends raw sample
bytes to ``self._buf`` and may set ``self._overflow_seen`` / ``self._discarded``),
and give ``_scale`` (g per LSB) and ``_sample`` (a ``struct.Struct`` for one x, y, z
sample).
"""

from __future__ import annotations

import errno
import math
import struct
import threading
import time

from vocabulary.errors import SensorBusError, SensorError, SensorNotFound

__all__ = ["I2CAccelerometer", "open_bus", "BLOCK_MAX", "NACK_ERRNOS"]

#: SMBus block reads carry at most this many bytes (smbus2 raises ValueError beyond).
BLOCK_MAX = 32
#: errnos meaning "nobody acknowledged": ENXIO (6) or EREMOTEIO (121), by adapter.
NACK_ERRNOS = frozenset({errno.ENXIO, errno.EREMOTEIO})
_BUS_METHODS = ("read_byte_data", "write_byte_data", "read_i2c_block_data")
# What each bus method was doing, for the error message: formatted with its arguments.
_WHAT = {"read_byte_data": "reading register 0x{0:02X}",
         "write_byte_data": "writing 0x{1:02X} to register 0x{0:02X}",
         "read_i2c_block_data": "reading {1} bytes from register 0x{0:02X}"}


def open_bus(bus):
    """``(bus object, owned)`` for *bus*: an int opens ``smbus2.SMBus(bus)`` (owned).

    :raises vocabulary.errors.SensorBusError: the bus device cannot be opened (I2C not
        enabled, no permission).
    :raises TypeError: *bus* is neither an int nor an object with the three methods.
    """
    if isinstance(bus, int) and not isinstance(bus, bool):
        import smbus2  # lazily: the drivers import on machines without it

        try:
            return smbus2.SMBus(bus), True
        except OSError as exc:
            raise SensorBusError(
                f"cannot open I2C bus {bus} (/dev/i2c-{bus}): {exc}; is I2C enabled "
                f"(raspi-config, dtparam=i2c_arm=on) and the user in the 'i2c' group?") from exc
    missing = [name for name in _BUS_METHODS if not callable(getattr(bus, name, None))]
    if missing:
        raise TypeError(f"bus must be an I2C bus number or an object with smbus2.SMBus's "
                        f"{', '.join(_BUS_METHODS)}; {bus!r} lacks {', '.join(missing)}")
    return bus, False


class I2CAccelerometer:
    """Base of the FIFO accelerometer drivers; see the module docstring.

    :param bus: an I2C bus number (``smbus2.SMBus(bus)`` is opened, and closed by
        :meth:`close`) or an object with smbus2 ``SMBus``'s ``read_byte_data``,
        ``write_byte_data`` and ``read_i2c_block_data`` (left open).
    :param address: the chip's 7-bit I2C address; ``None``: its default
        (``DEFAULT_ADDRESS``).
    :param rate_hz: output data rate, one of ``RATES``.
    :param range_g: full scale (+-g), one of ``RANGES``.
    :param clock: ``clock() -> seconds`` for retry windows and loss estimates.
    :param sleep: how retries wait (``sleep(seconds)``).
    :param attempts: tries per transaction before :class:`~vocabulary.errors.SensorBusError`.
    :param backoff: first wait between tries, doubled each time.
    :param retry_window: no new try starts later than this after the first failure.

    :raises ValueError: unsupported *rate_hz* or *range_g* (the message lists the
        allowed values); the bus is not touched.
    :raises vocabulary.errors.SensorNotFound: the id register does not read the chip's id,
        or nothing answers.
    :raises vocabulary.errors.SensorBusError: the bus cannot be opened or keeps failing.

    Health counters (plain ints, read them whenever; :attr:`counters` copies them):

    - ``samples_read``: samples :meth:`read` has returned.
    - ``overflows``: drains that found the FIFO had overflowed since the previous one
      (or was full at least: the drain came too late either way).
    - ``samples_lost_estimate``: samples lost to overflows, estimated from the time
      since the previous drain and the configured rate (low by at most one per
      overflow, and off by the chip's clock error over long gaps: the data sheets
      allow a few percent), plus samples discarded (exact).
    - ``samples_discarded``: samples popped but dropped because their alignment could
      not be trusted (MPU-6050 only, right after an overflow; see its module).
    - ``i2c_errors``: failed I2C transactions, retried or not.
    - ``i2c_failures``: operations that still failed after the retries (each raised
      :class:`~vocabulary.errors.SensorBusError`).
    """

    #: Chip name in messages, id register and its expected value, its name.
    CHIP = "chip"
    ID_REGISTER = 0x00
    ID_NAME = "ID"
    CHIP_ID = 0x00
    #: Ids other chips answer with -> what to tell the user (in parentheses).
    ID_HINTS: dict = {}
    #: The address used when none is given, and a hint when nothing answers there.
    DEFAULT_ADDRESS = 0x00
    ADDRESS_HINT = ""
    #: Read once after configuring and first by every drain; OVERFLOW_BIT set in it
    #: means the FIFO overflowed (or filled) since it was last read.
    STATUS_REGISTER = 0x00
    OVERFLOW_BIT = 0x00
    #: Supported rates (Hz) and ranges (+-g).
    RATES: tuple = ()
    RANGES: tuple = ()
    #: FIFO capacity in samples (with everything the chip keeps beyond the FIFO proper).
    FIFO_SAMPLES = 0

    _sample = struct.Struct("<hhh")
    _scale = 1.0

    def __init__(self, bus, *, address=None, rate_hz=100, range_g=2, clock=time.monotonic,
                 sleep=time.sleep, attempts=6, backoff=0.005, retry_window=2.0):
        # What close() and __del__ look at comes first: a failed constructor is closed.
        self._bus = None
        self._owned = False
        self._lock = threading.Lock()
        if address is None:
            address = self.DEFAULT_ADDRESS
        if rate_hz not in self.RATES or isinstance(rate_hz, bool):
            raise ValueError(f"{self.CHIP} rate_hz must be one of "
                             f"{', '.join(map(str, self.RATES))}, not {rate_hz!r}")
        if range_g not in self.RANGES or isinstance(range_g, bool):
            raise ValueError(f"{self.CHIP} range_g must be one of "
                             f"{', '.join(map(str, self.RANGES))}, not {range_g!r}")
        if not isinstance(address, int) or not 0x03 <= address <= 0x77:
            raise ValueError(f"address must be a 7-bit I2C address (0x03-0x77), not {address!r}")
        if not (isinstance(attempts, int) and attempts >= 1):
            raise ValueError(f"attempts must be an int >= 1, not {attempts!r}")
        if not (backoff >= 0 and retry_window > 0):
            raise ValueError("backoff must be >= 0 and retry_window > 0 seconds")
        self._address = address
        # The table's own value: 100.0 is accepted as 100, and registers get ints.
        self._rate = self.RATES[self.RATES.index(rate_hz)]
        self._range = self.RANGES[self.RANGES.index(range_g)]
        self._clock = clock
        self._sleep = sleep
        self._attempts = attempts
        self._backoff = float(backoff)
        self._retry_window = float(retry_window)
        self._where = (f"I2C address 0x{address:02X} on bus {bus}"
                       if isinstance(bus, int) else f"I2C address 0x{address:02X}")
        self._buf = bytearray()  # raw samples popped and not yet returned
        self._overflow_seen = False
        self._discarded = 0
        self.samples_read = 0
        self.overflows = 0
        self.samples_lost_estimate = 0
        self.samples_discarded = 0
        self.i2c_errors = 0
        self.i2c_failures = 0
        self._bus, self._owned = open_bus(bus)
        try:
            self._check_id()
            self._configure()
        except BaseException:
            self.close()
            raise
        self._last_drain = self._clock()

    # --- properties --------------------------------------------------------------
    @property
    def address(self):
        return self._address

    @property
    def rate_hz(self):
        """The configured output data rate in Hz."""
        return self._rate

    @property
    def range_g(self):
        """The configured full scale, +-g."""
        return self._range

    @property
    def fifo_seconds(self):
        """Seconds of data the FIFO holds at the configured rate: drain more often than this."""
        return self.FIFO_SAMPLES / self._rate

    @property
    def closed(self):
        return self._bus is None

    @property
    def counters(self):
        """A copy of the health counters as a dict (see the class docstring)."""
        return {name: getattr(self, name) for name in (
            "samples_read", "overflows", "samples_lost_estimate", "samples_discarded",
            "i2c_errors", "i2c_failures")}

    # --- reading -----------------------------------------------------------------
    def read(self):
        """Drain the FIFO: every sample since the previous call, oldest first, in g.

        Returns a list of ``(x, y, z)`` float tuples, possibly empty. Samples are never
        repeated or invented; after an overflow the surviving ones are returned,
        correctly aligned, and ``overflows`` / ``samples_lost_estimate`` grow.

        :raises vocabulary.errors.SensorBusError: the bus kept failing; samples already
            popped are kept and returned by the next successful call.
        :raises ValueError: the driver is closed.
        """
        with self._lock:
            if self._bus is None:
                raise ValueError(f"read() on a closed {self.CHIP} driver")
            self._drain()
            now = self._clock()
            buf = self._buf
            n = len(buf) // 6
            if self._overflow_seen:
                self.overflows += 1
                # Samples made since the last drain: floor or floor + 1 of this (by
                # the grid's phase); the floor never invents a loss.
                produced = math.floor((now - self._last_drain) * self._rate)
                self.samples_lost_estimate += max(self._discarded, produced - n)
            else:
                self.samples_lost_estimate += self._discarded
            self.samples_discarded += self._discarded
            self._overflow_seen = False
            self._discarded = 0
            self._last_drain = now
            self._buf = bytearray()
            self.samples_read += n
            s = self._scale
            return [(x * s, y * s, z * s) for x, y, z in self._sample.iter_unpack(buf)]

    # --- transactions ------------------------------------------------------------
    def _read_byte(self, register):
        return self._transact("read_byte_data", register)

    def _write_byte(self, register, value):
        return self._transact("write_byte_data", register, value)

    def _read_block(self, register, length):
        return self._transact("read_i2c_block_data", register, length)

    def _transact(self, method, *args):
        """``bus.<method>(address, *args)``, retried on OSError (see :meth:`_retry`)."""
        call = getattr(self._bus, method)
        try:
            return call(self._address, *args)
        except SensorError:
            raise
        except OSError as exc:
            return self._retry(call, args, exc, _WHAT[method].format(*args))

    def _retry(self, call, args, exc, what):
        start = self._clock()
        delay = self._backoff
        tries = 1
        while True:
            self.i2c_errors += 1
            elapsed = self._clock() - start
            if tries >= self._attempts or elapsed + delay > self._retry_window:
                self.i2c_failures += 1
                raise SensorBusError(
                    f"{self.CHIP} at {self._where}: {what} failed {tries} time(s) in "
                    f"{elapsed:.2f} s, last with {exc} (loose wire, or chip unpowered?)") from exc
            self._sleep(delay)
            delay *= 2
            tries += 1
            try:
                return call(self._address, *args)
            except SensorError:
                raise
            except OSError as again:
                exc = again

    def _check_id(self):
        try:
            got = self._read_byte(self.ID_REGISTER)
        except SensorBusError as exc:
            cause = exc.__cause__
            if getattr(cause, "errno", None) in NACK_ERRNOS:
                raise SensorNotFound(
                    f"no {self.CHIP} at {self._where}: nothing answers there ({cause}); "
                    f"check wiring, power and the address{self.ADDRESS_HINT}") from cause
            raise
        if got != self.CHIP_ID:
            raise SensorNotFound(
                f"no {self.CHIP} at {self._where}: {self.ID_NAME} (register "
                f"0x{self.ID_REGISTER:02X}) read 0x{got:02X}, expected 0x{self.CHIP_ID:02X}"
                f"{self._id_hint(got)}")

    def _id_hint(self, got):
        hint = self.ID_HINTS.get(got)
        return f" ({hint})" if hint else ""

    def _configure(self):
        for register, value in self._setup():
            self._write_byte(register, value)
        self._read_byte(self.STATUS_REGISTER)  # whatever it says predates this driver

    def _drain(self):
        if self._read_byte(self.STATUS_REGISTER) & self.OVERFLOW_BIT:
            self._overflow_seen = True
        self._drain_fifo()

    # Subclasses: (register, value) writes, in order, that set every register the
    # driver depends on and leave the FIFO empty and filling.
    def _setup(self):
        raise NotImplementedError

    # Subclasses: append the raw bytes of every sample in the FIFO to self._buf.
    def _drain_fifo(self):
        raise NotImplementedError

    def _fifo_time_bound(self, seconds):
        """Upper bound of samples the chip can make in *seconds* (chip clock up to 10% fast)."""
        return math.ceil(seconds * self._rate * 1.1) + 1

    # --- lifetime ----------------------------------------------------------------
    def close(self):
        """Close the bus if this driver opened it (an injected bus is left open). Idempotent.

        The chip is left measuring; a new driver reconfigures it and empties its FIFO.
        """
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            bus, owned = self._bus, self._owned
            self._bus = None
            self._owned = False
        if bus is not None and owned:
            bus.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        if self.closed:
            return f"<{type(self).__name__} closed>"
        return (f"<{type(self).__name__} {self._where} {self._rate} Hz "
                f"+-{self._range} g>")
