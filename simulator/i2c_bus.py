"""A fake I2C bus with smbus2's interface, the base of the register-level fake chips.

:class:`FakeSMBus` stands in for ``smbus2.SMBus``: ``read_byte_data``,
``write_byte_data``, ``read_i2c_block_data`` (32 bytes at most, ``ValueError``
beyond, as smbus2) and ``close``. Each transaction goes to the fake chip attached at
its address. Faults are injected at the bus, the way they show on a Pi: a NACK raises
``OSError(121)`` (EREMOTEIO) before the chip sees anything, so a failed transaction
has no effect on the chip.

- ``fail_next(n, after=k)``: the next *n* transactions (to one address, or any) fail,
  optionally after *k* more succeed.
- ``fail_rate``: each transaction fails with this probability (seeded).
- ``stop_answering(address)`` / ``answer_again(address)``: a chip (or, with no
  address, the whole bus) that fails every transaction, like a wire that came off.
- An address with no chip fails every transaction with ``absent_errno`` (121 here;
  some I2C adapters report 6, ENXIO).

:class:`FakeI2CChip` is the base of :class:`simulator.adxl345_chip.FakeADXL345` and
:class:`simulator.mpu6050_chip.FakeMPU6050`: registers behind ``read(register,
length)`` and ``write(register, value)`` (what the bus calls; writes to registers
that are not writable are ignored and counted as violations), an id register,
``peek`` and ``reset``, a sample source on an injectable clock, and a sample grid.
The chip makes samples at its configured rate on
its own grid (sample *i* at ``anchor + i / rate``, the anchor being the moment it
started measuring or its rate changed), lazily: whenever a transaction reaches it, it
produces every sample due since the last one. ``source(t) -> (x, y, z)`` in g is
called once for each sample that could still be read; samples certain to be
overwritten before anyone looks are never evaluated (a long gap costs nothing).
:func:`array_source` turns an array of ``(t, x, y, z)`` rows into a source.
"""

from __future__ import annotations

import errno as _errno
import math
import os
import random
import threading
import time
from collections import deque

import numpy as np

__all__ = ["FakeSMBus", "FakeI2CChip", "array_source", "as_source", "quantise", "BLOCK_MAX"]

BLOCK_MAX = 32


def array_source(samples, *, interpolate=False):
    """``source(t)`` playing back *samples*, rows of ``(t, x, y, z)`` sorted by ``t``.

    Each call returns the last row at or before ``t`` (the first row before it starts),
    or with ``interpolate=True`` the linear interpolation (held flat at both ends).

    >>> src = array_source([[0.0, 0, 0, 1], [1.0, 0.5, 0, 1]])
    >>> src(0.99), src(1.0)
    ((0.0, 0.0, 1.0), (0.5, 0.0, 1.0))
    """
    data = np.asarray(samples, dtype=float)
    if data.ndim != 2 or data.shape[1] != 4 or len(data) == 0:
        raise ValueError(f"samples must be rows of (t, x, y, z), got shape {data.shape}")
    t = np.ascontiguousarray(data[:, 0])
    if np.any(np.diff(t) < 0):
        raise ValueError("samples must be sorted by t")
    xyz = data[:, 1:]
    if interpolate:
        x, y, z = (np.ascontiguousarray(xyz[:, i]) for i in range(3))

        def source(when):
            return (float(np.interp(when, t, x)), float(np.interp(when, t, y)),
                    float(np.interp(when, t, z)))
    else:
        rows = [tuple(map(float, row)) for row in xyz]
        last = len(rows) - 1

        def source(when):
            i = int(np.searchsorted(t, when, side="right")) - 1
            return rows[0 if i < 0 else min(i, last)]
    return source


def as_source(source):
    """A ``source(t) -> (x, y, z)``: *source* itself, an array via :func:`array_source`,
    or for ``None`` a sensor lying still (0, 0, 1 g)."""
    if source is None:
        return lambda t: (0.0, 0.0, 1.0)
    if callable(source):
        return source
    return array_source(source)


class FakeSMBus:
    """A stand-in for ``smbus2.SMBus`` that routes transactions to fake chips by address.

    :param bus: the bus number (informative, like smbus2's constructor argument).
    :param chips: fake chips to attach at their default addresses.
    :param fail_rate: probability that any transaction fails with errno 121.
    :param seed: seed for ``fail_rate``.
    :param absent_errno: errno for an address where no chip answers (121 or 6).

    Example::

        bus = FakeSMBus(1)
        chip = bus.attach(FakeADXL345(source=lambda t: (0, 0, 1)))
        accel = ADXL345(bus)
        bus.fail_next(3)          # a loose wire: three NACKs, then fine
        samples = accel.read()
    """

    def __init__(self, bus=1, *, chips=(), fail_rate=0.0, seed=None,
                 absent_errno=_errno.EREMOTEIO):
        self.bus = bus
        self._lock = threading.RLock()
        self._chips = {}
        self._rng = random.Random(seed)
        self._fail_rate = 0.0
        self.fail_rate = fail_rate
        self.absent_errno = absent_errno
        self._fail_next = []  # [address or None, transactions left, errno, successes first]
        self._dead = set()  # addresses that never answer; None = the whole bus
        self.closed = False
        #: Transactions a chip answered, and transactions that failed.
        self.transactions = 0
        self.failures = 0
        for chip in chips:
            self.attach(chip)

    # --- wiring and faults -------------------------------------------------------
    def attach(self, chip, address=None):
        """Put *chip* at *address* (default: the chip's own ``address``); returns it."""
        address = chip.address if address is None else address
        with self._lock:
            if address in self._chips:
                raise ValueError(f"a chip is already attached at 0x{address:02X}")
            self._chips[address] = chip
        return chip

    def detach(self, address):
        """Remove the chip at *address* (from now on nothing answers there)."""
        with self._lock:
            return self._chips.pop(address)

    @property
    def fail_rate(self):
        return self._fail_rate

    @fail_rate.setter
    def fail_rate(self, value):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"fail_rate must be between 0 and 1, not {value!r}")
        self._fail_rate = float(value)

    def fail_next(self, n, *, address=None, errno=_errno.EREMOTEIO, after=0):
        """The next *n* transactions (to *address*, or to any) raise ``OSError(errno)``.

        With *after*, that many transactions succeed first (a wire coming loose in the
        middle of a drain).
        """
        with self._lock:
            self._fail_next.append([address, int(n), errno, int(after)])

    def stop_answering(self, address=None):
        """Every transaction to *address* (``None``: to any address) fails from now on."""
        with self._lock:
            self._dead.add(address)

    def answer_again(self, address=None):
        with self._lock:
            self._dead.discard(address)

    def clear_faults(self):
        """Cancel every injected fault: ``fail_next``, ``stop_answering``, ``fail_rate``."""
        with self._lock:
            self._fail_next.clear()
            self._dead.clear()
            self._fail_rate = 0.0

    # --- smbus2's interface ------------------------------------------------------
    def read_byte_data(self, i2c_addr, register, force=None):
        return self._chip(i2c_addr, register).read(register, 1)[0]

    def write_byte_data(self, i2c_addr, register, value, force=None):
        if not 0 <= value <= 0xFF:
            raise ValueError(f"value must be a byte, not {value!r}")
        self._chip(i2c_addr, register).write(register, value)

    def read_i2c_block_data(self, i2c_addr, register, length, force=None):
        if length > BLOCK_MAX:
            raise ValueError("Desired block length over %d bytes" % BLOCK_MAX)
        return self._chip(i2c_addr, register).read(register, length)

    def close(self):
        """Idempotent; transactions on a closed bus fail with EBADF."""
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        chips = ", ".join(f"0x{a:02X}: {type(c).__name__}" for a, c in sorted(self._chips.items()))
        return f"<FakeSMBus {self.bus} {{{chips}}}{' closed' if self.closed else ''}>"

    def _chip(self, address, register):
        if not 0 <= register <= 0xFF:
            raise ValueError(f"register must be a byte, not {register!r}")
        with self._lock:
            if self.closed:
                raise OSError(_errno.EBADF, "Bad file descriptor (the bus is closed)")
            chip = self._chips.get(address)
            code = None
            if chip is None:
                code = self.absent_errno
            elif None in self._dead or address in self._dead:
                code = _errno.EREMOTEIO
            else:
                for entry in self._fail_next:
                    if entry[0] is None or entry[0] == address:
                        if entry[3] > 0:
                            entry[3] -= 1
                            break
                        entry[1] -= 1
                        code = entry[2]
                        if entry[1] <= 0:
                            self._fail_next.remove(entry)
                        break
                if code is None and self._fail_rate and self._rng.random() < self._fail_rate:
                    code = _errno.EREMOTEIO
            if code is not None:
                self.failures += 1
                raise OSError(code, os.strerror(code))
            self.transactions += 1
            return chip


class FakeI2CChip:
    """Base of the register-level fake chips: clock, source, sample grid, register
    access, violations.

    :param source: ``source(t) -> (x, y, z)`` in g, an array of ``(t, x, y, z)`` rows,
        or ``None`` for a sensor lying still (0, 0, 1 g).
    :param clock: ``clock() -> seconds``; default :func:`time.monotonic`.
    :param chip_id: what the id register (``ID_REGISTER``) reads.
    :param address: where :meth:`FakeSMBus.attach` puts it by default.

    Every transaction first brings the chip up to date (makes every sample due). The
    base owns the locking, the catching up, the id register and write protection;
    subclasses set the class constants and implement:

    - ``_power_on()``: the base's (a register file of ``REGISTERS`` bytes holding
      ``RESET`` values and the chip id, not sampling), then the chip's own state
      (FIFO empty, flags clear).
    - ``_get(register)``: one register's value, without side effects (what
      :meth:`peek` shows, unless ``_peek`` says otherwise). A read transaction
      auto-increments the register address over ``_get``, except that at
      ``FIFO_PORT`` (if any) the rest of it is ``_pop(n)``; then
      ``_was_read(registers)`` applies the side effects of having read them.
    - ``_write(register, value, now)``: a write to a writable register.
    - ``_produce(first, last)``: make samples *first* to *last* of the grid, calling
      ``self._time(i)`` or ``self._sample_g(i)``; ``_survivors`` says which of them
      can still be read. ``_start_grid`` / ``_stop_grid`` when sampling starts, stops
      or changes rate.
    """

    address = None
    #: Size of the register file, reset values other than 0, the chip id's register.
    REGISTERS = 0x80
    RESET: dict = {}
    ID_REGISTER = 0x00
    #: Registers the host may write; writes to others are violations, described as to
    #: a "read-only" register (those in READ_ONLY) or else to an UNWRITABLE one.
    WRITABLE = frozenset()
    READ_ONLY = frozenset()
    UNWRITABLE = "unknown"
    #: A register a read burst stays on, each byte popping the FIFO; None: no such.
    FIFO_PORT = None

    def __init__(self, source=None, *, clock=None, chip_id=0x00, address=None):
        self._lock = threading.RLock()
        self._clock = clock if clock is not None else time.monotonic
        self._source = as_source(source)
        self._period = None  # None: not sampling
        self._anchor = 0.0
        self._done = 0  # grid index of the last sample produced
        self._produced = 0
        #: Protocol violations by the host (writes to read-only registers, reads of an
        #: empty FIFO, ...), and the last few described.
        self.violations = 0
        self.violation_log = deque(maxlen=16)
        self.address = address
        self._chip_id = chip_id
        self._power_on()

    @property
    def samples_produced(self):
        """Samples made since power-on (whatever became of them), brought up to date."""
        return self._current(lambda: self._produced)

    @property
    def chip_id(self):
        """What the id register reads; set it to fake another chip."""
        return self._chip_id

    @chip_id.setter
    def chip_id(self, value):
        self._chip_id = value
        self._regs[self.ID_REGISTER] = value

    @property
    def source(self):
        return self._source

    @source.setter
    def source(self, value):
        with self._lock:
            self._catch_up(self._clock())  # samples already due keep the old source
            self._source = as_source(value)

    def peek(self, register):
        """A register's value without a read's side effects (no pop, nothing cleared)."""
        return self._current(lambda: self._peek(register))

    def reset(self):
        """Power-cycle the chip: reset values, FIFO empty, not sampling."""
        with self._lock:
            self._power_on()

    # --- the bus side ------------------------------------------------------------
    def read(self, register, length):
        return self._current(lambda: self._read(register, length))

    def write(self, register, value):
        with self._lock:
            now = self._clock()
            self._catch_up(now)
            if register not in self.WRITABLE:
                kind = "read-only" if register in self.READ_ONLY else self.UNWRITABLE
                self._violation(f"write of 0x{value:02X} to {kind} register 0x{register:02X}")
                return
            self._write(register, value, now)

    def _current(self, look):
        """``look()`` once every sample due has been made."""
        with self._lock:
            self._catch_up(self._clock())
            return look()

    # --- registers (subclasses) --------------------------------------------------
    def _power_on(self):
        self._regs = bytearray(self.REGISTERS)
        for register, value in self.RESET.items():
            self._regs[register] = value
        self._regs[self.ID_REGISTER] = self._chip_id
        self._stop_grid()

    def _read(self, register, length):
        out, seen = [], []
        reg = register
        for k in range(length):
            if reg == self.FIFO_PORT:  # the rest of the burst stays there: pops
                out += self._pop(length - k)
                break
            out.append(self._get(reg))
            seen.append(reg)
            reg = (reg + 1) & 0xFF
        if seen:
            self._was_read(seen)
        return out

    def _was_read(self, registers):
        """Side effects of having read *registers* (a list, in order); default none."""

    def _pop(self, n):
        raise NotImplementedError

    def _write(self, register, value, now):
        raise NotImplementedError

    def _get(self, register):
        return self._plain(register)

    def _peek(self, register):
        return self._get(register)

    def _plain(self, register):
        """The register file's byte (0 beyond it)."""
        return self._regs[register] if register < len(self._regs) else 0

    # --- the grid ----------------------------------------------------------------
    def _start_grid(self, now, rate_hz):
        """(Re)start sampling at *rate_hz* from *now*; call after catching up."""
        self._period = 1.0 / rate_hz
        self._anchor = now
        self._done = 0

    def _stop_grid(self):
        self._period = None

    def _time(self, i):
        return self._anchor + i * self._period

    def _catch_up(self, now):
        if self._period is None:
            return
        last = math.floor((now - self._anchor) / self._period)
        if last > self._done:
            first = self._done + 1
            self._done = last
            self._produced += last - first + 1
            self._produce(first, last)

    def _produce(self, first, last):
        raise NotImplementedError

    @staticmethod
    def _survivors(first, last, keep):
        """``(first, skipped)``: of samples *first* to *last*, only the newest *keep*
        can still be read; the *skipped* older ones need never be evaluated."""
        skipped = max(0, last - first + 1 - keep)
        return first + skipped, skipped

    def _sample_g(self, i):
        """The source's (x, y, z) at sample *i*'s time, checked."""
        t = self._time(i)
        x, y, z = self._source(t)
        if math.isnan(x) or math.isnan(y) or math.isnan(z):
            raise ValueError(f"{type(self).__name__} source returned NaN at t={t}")
        return x, y, z

    def _violation(self, what):
        self.violations += 1
        self.violation_log.append(f"t={self._clock():.6f}: {what}")


def quantise(g, lsb_per_g, low, high):
    """Round *g* to the nearest code at *lsb_per_g* (halves to even), clamped to [low, high]."""
    code = g * lsb_per_g
    if code >= high:
        return high
    if code <= low:
        return low
    return round(code)
