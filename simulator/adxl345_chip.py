"""A register-level fake ADXL345 for :class:`simulator.i2c_bus.FakeSMBus`.

What it emulates (ADXL345 data sheet, register map and FIFO section):

- Registers 0x00-0x39 with their reset values: DEVID 0xE5, BW_RATE 0x0A (100 Hz),
  INT_SOURCE 0x02, everything else 0 (standby, bypass, 10-bit +-2 g). Writes to
  read-only or reserved registers are ignored and counted as violations.
- Measuring (POWER_CTL Measure bit 3, Sleep bit 2 clear) makes samples at the BW_RATE
  rate (code c: 3200 / 2**(15 - c) Hz), the first one period after measuring starts.
- DATA_FORMAT: FULL_RES (bit 3) gives 256 LSB/g (3.9 mg/LSB) at every range, with
  10, 11, 12, 13 bits at 2, 4, 8, 16 g; without it 10 bits at every range
  (256 >> range LSB/g). Values are rounded (halves to even) and clamped at full
  scale; Justify (bit 2) left-aligns them. OFSX/Y/Z add 15.6 mg/LSB.
- DATAX0..DATAZ1 0x32-0x37 little-endian two's complement; multi-byte reads
  auto-increment (past 0x37 into FIFO_CTL, FIFO_STATUS, then zeros).
- FIFO_CTL modes: bypass (the data registers hold the newest sample; entering bypass
  empties the FIFO), FIFO (fills to 32 levels plus the output registers, then drops
  new samples), stream (overwrites the oldest), trigger (treated as stream).
  FIFO_STATUS entries = levels stored, at most 32; the output registers hold one more.
  Any read transaction that touches 0x32-0x37 pops one level at its end, however
  many of those bytes it read. A FIFO_STATUS read in that same transaction shows the
  count from before the pop (the data sheet wants 5 us between them).
- INT_SOURCE: DATA_READY (bit 7), Watermark (bit 1), Overrun (bit 0) always set as
  the events occur, whatever INT_ENABLE says. In the FIFO modes Overrun is set when
  the FIFO fills (32 levels) and cleared by a FIFO read; in bypass, when a sample
  replaces one never read. Reading INT_SOURCE does not clear those three.

Not emulated: tap, activity, free-fall, self-test, sleep/low-power noise, SPI.
"""

from __future__ import annotations

import struct
from collections import deque

from simulator.i2c_bus import FakeI2CChip, quantise

__all__ = ["FakeADXL345", "DEVID", "FIFO_LEVELS"]

DEVID = 0xE5
FIFO_LEVELS = 32

_BW_RATE, _POWER_CTL, _INT_ENABLE = 0x2C, 0x2D, 0x2E
_INT_SOURCE, _DATA_FORMAT, _DATAX0, _DATAZ1 = 0x30, 0x31, 0x32, 0x37
_FIFO_CTL, _FIFO_STATUS = 0x38, 0x39
_OFSX = 0x1E
_WRITABLE = frozenset(range(0x1D, 0x2B)) | {0x2C, 0x2D, 0x2E, 0x2F, 0x31, 0x38}
_READ_ONLY = frozenset({0x00, 0x2B, 0x30, 0x39}) | frozenset(range(0x32, 0x38))
_RESET = {_BW_RATE: 0x0A, _INT_SOURCE: 0x02}  # and DEVID at 0x00
_BYPASS, _FIFO, _STREAM, _TRIGGER = 0, 1, 2, 3
_PACK = struct.Struct("<hhh")
_ZERO = bytes(6)


class FakeADXL345(FakeI2CChip):
    """An ADXL345 answering on a :class:`~simulator.i2c_bus.FakeSMBus`.

    *source* and *clock* as for :class:`~simulator.i2c_bus.FakeI2CChip`.

    :param chip_id: what DEVID reads (0xE5; set another to fake a wrong chip).
    :param address: where :meth:`FakeSMBus.attach` puts it by default.

    Example::

        clock = FakeClock()
        bus = FakeSMBus()
        chip = bus.attach(FakeADXL345(source=lambda t: (0.0, 0.0, 1.0), clock=clock))
        accel = ADXL345(bus, rate_hz=100, clock=clock)
        clock.advance(0.105)
        assert accel.read() == [(0.0, 0.0, 1.0)] * 10
        assert chip.peek(0x2C) == 0x0A
    """

    REGISTERS = 0x40
    RESET = _RESET
    ID_REGISTER = 0x00
    WRITABLE = _WRITABLE
    READ_ONLY = _READ_ONLY
    UNWRITABLE = "reserved"

    def __init__(self, source=None, *, clock=None, chip_id=DEVID, address=0x53):
        #: Samples lost: overwritten in stream mode, refused by a full FIFO in FIFO
        #: mode, or replaced unread in bypass.
        self.samples_lost = 0
        super().__init__(source, clock=clock, chip_id=chip_id, address=address)

    # --- inspection --------------------------------------------------------------
    @property
    def rate_hz(self):
        """The output data rate BW_RATE selects."""
        return 3200 / 2 ** (15 - (self._regs[_BW_RATE] & 0x0F))

    @property
    def measuring(self):
        return self._period is not None

    @property
    def fifo_entries(self):
        """Samples waiting in the FIFO and output registers (up to 33), brought up to date."""
        return self._current(lambda: len(self._fifo))

    # --- the bus side ------------------------------------------------------------
    def _was_read(self, registers):
        if any(_DATAX0 <= reg <= _DATAZ1 for reg in registers):  # pops one FIFO level
            self._data_read()

    def _write(self, register, value, now):
        old = self._regs[register]
        self._regs[register] = value
        if register in (_BW_RATE, _POWER_CTL):
            self._update_grid(now, restart=register == _BW_RATE or not old & 0x08)
        elif register == _FIFO_CTL and value >> 6 == _BYPASS:
            self._fifo.clear()
            self._overrun = False

    # --- the chip ----------------------------------------------------------------
    def _power_on(self):
        super()._power_on()  # registers, DEVID, standby
        self._fifo = deque()  # 6-byte samples; the first is in the output registers
        self._output = _ZERO  # output registers once the FIFO is empty (and in bypass)
        self._unread = False  # bypass: the output registers hold an unread sample
        self._overrun = False

    def _update_grid(self, now, restart):
        power = self._regs[_POWER_CTL]
        if power & 0x08 and not power & 0x04:
            if restart or self._period is None:
                self._start_grid(now, self.rate_hz)
        else:
            self._stop_grid()

    def _mode(self):
        return self._regs[_FIFO_CTL] >> 6

    def _get(self, reg):
        if _DATAX0 <= reg <= _DATAZ1:
            sample = self._fifo[0] if self._mode() != _BYPASS and self._fifo else self._output
            return sample[reg - _DATAX0]
        if reg == _FIFO_STATUS:
            return min(len(self._fifo), FIFO_LEVELS)
        if reg == _INT_SOURCE:
            mode = self._mode()
            fifo_mode = mode != _BYPASS
            ready = bool(self._fifo) if fifo_mode else self._unread
            # Samples bits 0 set the watermark "regardless of FIFO mode" (data sheet).
            watermark = len(self._fifo) >= (self._regs[_FIFO_CTL] & 0x1F)
            return ready << 7 | watermark << 1 | self._overrun
        return self._plain(reg)

    def _data_read(self):
        if self._mode() == _BYPASS:
            self._unread = False
            return
        if not self._fifo:
            self._violation("data registers read with the FIFO empty (a repeated sample)")
            return
        self._output = self._fifo.popleft()
        self._overrun = False

    def _produce(self, first, last):
        mode = self._mode()
        capacity = FIFO_LEVELS + 1
        if mode == _BYPASS:
            self.samples_lost += (last - first) + self._unread
            self._output = self._encode(last)
            self._overrun = self._overrun or last > first or self._unread
            self._unread = True
            return
        fifo = self._fifo
        if mode == _FIFO:
            room = capacity - len(fifo)
            take = min(room, last - first + 1)
            self.samples_lost += (last - first + 1) - take
            for i in range(first, first + take):
                fifo.append(self._encode(i))
        else:
            # Stream: only the newest `capacity` can survive; older are never evaluated.
            first, skipped = self._survivors(first, last, capacity)
            self.samples_lost += skipped
            for i in range(first, last + 1):
                if len(fifo) == capacity:
                    fifo.popleft()
                    self.samples_lost += 1
                fifo.append(self._encode(i))
        if len(fifo) >= FIFO_LEVELS:
            self._overrun = True

    def _encode(self, i):
        x, y, z = self._sample_g(i)
        fmt = self._regs[_DATA_FORMAT]
        rng = fmt & 0x03
        if fmt & 0x08:  # FULL_RES
            bits, lsb_per_g = 10 + rng, 256
        else:
            bits, lsb_per_g = 10, 256 >> rng
        high = (1 << (bits - 1)) - 1
        low = -(1 << (bits - 1))
        shift = 16 - bits if fmt & 0x04 else 0  # Justify: MSB-aligned
        ofs = self._regs[_OFSX:_OFSX + 3]
        if any(ofs):  # signed, 15.6 mg (1/64 g) per LSB
            x, y, z = (g + ((o ^ 0x80) - 0x80) / 64 for g, o in zip((x, y, z), ofs))
        return _PACK.pack(quantise(x, lsb_per_g, low, high) << shift,
                          quantise(y, lsb_per_g, low, high) << shift,
                          quantise(z, lsb_per_g, low, high) << shift)

    def __repr__(self):
        state = f"{self.rate_hz:g} Hz" if self.measuring else "standby"
        return (f"<FakeADXL345 0x{self.address:02X} {state} FIFO mode {self._mode()} "
                f"{len(self._fifo)} queued>")
