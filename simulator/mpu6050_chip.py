"""A register-level fake MPU-6050 for :class:`simulator.i2c_bus.FakeSMBus`.

What it emulates (MPU-6000/6050 register map):

- Registers 0x0D-0x75 with their reset values: all 0 but PWR_MGMT_1 0x40 (asleep)
  and WHO_AM_I 0x68. Writes to read-only or unknown registers are ignored and
  counted as violations. PWR_MGMT_1 DEVICE_RESET (bit 7) restores the reset values.
- Awake (PWR_MGMT_1 SLEEP bit 6 clear) it samples at 1 kHz / (1 + SMPLRT_DIV), or
  8 kHz / (1 + SMPLRT_DIV) with DLPF_CFG 0 or 7, from the moment it wakes or the
  rate changes. Each sample updates ACCEL_*OUT (0x3B-0x40, big-endian), TEMP_OUT
  (25 degC) and GYRO_*OUT (0), and sets DATA_RDY_INT.
- ACCEL_CONFIG AFS_SEL (bits 4:3): 16384/8192/4096/2048 LSB/g, rounded (halves to
  even), clamped to int16. PWR_MGMT_2 STBY_XA/YA/ZA zero an axis.
- FIFO: with USER_CTRL FIFO_EN (bit 6) set, each sample appends the registers FIFO_EN
  selects, in register order: accel (bit 3, 6 bytes), temp (bit 7, 2), gyro x/y/z
  (bits 6/5/4, 2 each). 1024 bytes; beyond, the oldest bytes are dropped one by one
  (so after an overflow the FIFO starts inside a sample) and FIFO_OFLOW_INT is set.
  FIFO_COUNTH/L (0x72/0x73) count bytes; each byte read from FIFO_R_W (0x74) pops one
  and a block read from 0x74 stays on 0x74. Reading an empty FIFO returns the last
  byte read again (a violation). USER_CTRL FIFO_RESET (bit 2) empties it and clears
  itself; doing it with FIFO_EN set in the same write is counted as a violation (the
  register map says it acts while FIFO_EN is 0).
- INT_STATUS (0x3A): a bit is set only if its INT_ENABLE bit is (the conservative
  reading of the register map), and the whole register clears when read.
- Multi-byte reads auto-increment the register address (except on FIFO_R_W).

Not emulated: gyro and temperature signals, DMP, I2C master, motion interrupts,
cycle mode, self-test, start-up time after waking.
"""

from __future__ import annotations

import struct

from simulator.i2c_bus import FakeI2CChip, quantise

__all__ = ["FakeMPU6050", "WHO_AM_I", "FIFO_BYTES"]

WHO_AM_I = 0x68
FIFO_BYTES = 1024

_SMPLRT_DIV, _CONFIG, _ACCEL_CONFIG, _FIFO_EN = 0x19, 0x1A, 0x1C, 0x23
_INT_ENABLE, _INT_STATUS = 0x38, 0x3A
_ACCEL_OUT, _TEMP_OUT, _GYRO_OUT = 0x3B, 0x41, 0x43
_SIGNAL_PATH_RESET, _USER_CTRL, _PWR_MGMT_1, _PWR_MGMT_2 = 0x68, 0x6A, 0x6B, 0x6C
_FIFO_COUNTH, _FIFO_COUNTL, _FIFO_R_W, _WHO_AM_I = 0x72, 0x73, 0x74, 0x75
_WRITABLE = (frozenset(range(0x0D, 0x11)) | frozenset(range(0x19, 0x39))
             | frozenset(range(0x63, 0x6D)) | {_FIFO_R_W})
_READ_ONLY = frozenset(range(0x3A, 0x61)) | {_FIFO_COUNTH, _FIFO_COUNTL, _WHO_AM_I}
_DATA_RDY, _FIFO_OFLOW = 0x01, 0x10
_SLEEP = 0x40
_TEMP_25C = round((25 - 36.53) * 340)  # register map: degC = raw / 340 + 36.53
_ACCEL = struct.Struct(">hhh")
_INT16 = (-32768, 32767)


class FakeMPU6050(FakeI2CChip):
    """An MPU-6050 answering on a :class:`~simulator.i2c_bus.FakeSMBus`.

    *source* and *clock* as for :class:`~simulator.i2c_bus.FakeI2CChip`.

    :param who_am_i: what WHO_AM_I reads (0x68; 0x70 would be an MPU-6500).
    :param address: where :meth:`FakeSMBus.attach` puts it by default (0x68; 0x69
        with AD0 high).

    Example::

        clock = FakeClock()
        bus = FakeSMBus()
        chip = bus.attach(FakeMPU6050(source=lambda t: (0.0, 0.0, 1.0), clock=clock))
        accel = MPU6050(bus, rate_hz=100, clock=clock)
        clock.advance(1.005)
        assert len(accel.read()) == 100
        assert chip.peek(0x19) == 9   # SMPLRT_DIV: 1 kHz / (1 + 9)
    """

    RESET = {_PWR_MGMT_1: _SLEEP}
    ID_REGISTER = _WHO_AM_I
    WRITABLE = _WRITABLE
    READ_ONLY = _READ_ONLY
    FIFO_PORT = _FIFO_R_W

    def __init__(self, source=None, *, clock=None, who_am_i=WHO_AM_I, address=0x68):
        #: Bytes dropped from the full FIFO (1024 bytes) since power-on.
        self.bytes_dropped = 0
        super().__init__(source, clock=clock, chip_id=who_am_i, address=address)

    # --- inspection --------------------------------------------------------------
    #: What WHO_AM_I reads (the base's chip id, by its register's name).
    who_am_i = FakeI2CChip.chip_id

    @property
    def rate_hz(self):
        """The sample rate SMPLRT_DIV and CONFIG select."""
        base = 8000 if self._regs[_CONFIG] & 0x07 in (0, 7) else 1000
        return base / (1 + self._regs[_SMPLRT_DIV])

    @property
    def sleeping(self):
        return self._period is None

    @property
    def fifo_count(self):
        """Bytes in the FIFO, brought up to date."""
        return self._current(lambda: len(self._fifo))

    # --- the bus side ------------------------------------------------------------
    def _was_read(self, registers):
        if _INT_STATUS in registers:  # reading INT_STATUS clears it
            self._status = 0

    def _write(self, register, value, now):
        regs = self._regs
        if register == _PWR_MGMT_1:
            if value & 0x80:  # DEVICE_RESET
                self._power_on()
                return
            regs[register] = value
            if value & _SLEEP:
                self._stop_grid()
            elif self._period is None:
                self._start_grid(now, self.rate_hz)
        elif register in (_SMPLRT_DIV, _CONFIG):
            regs[register] = value
            if self._period is not None:
                self._start_grid(now, self.rate_hz)
        elif register == _USER_CTRL:
            if value & 0x04:  # FIFO_RESET
                if value & 0x40:
                    self._violation("USER_CTRL FIFO_RESET written with FIFO_EN set")
                self._fifo.clear()
            regs[register] = value & ~0x07  # the reset bits clear themselves
        elif register == _SIGNAL_PATH_RESET:
            regs[register] = 0
        elif register == _FIFO_R_W:
            self._push(bytes([value]))
        else:
            regs[register] = value

    # --- the chip ----------------------------------------------------------------
    def _power_on(self):
        super()._power_on()  # registers, WHO_AM_I, asleep
        self._fifo = bytearray()
        self._last_popped = 0
        self._status = 0

    def _peek(self, register):
        if register == _FIFO_R_W:
            return self._fifo[0] if self._fifo else self._last_popped
        return self._get(register)

    def _get(self, reg):
        if reg == _INT_STATUS:
            return self._status
        if reg == _FIFO_COUNTH:
            return len(self._fifo) >> 8
        if reg == _FIFO_COUNTL:
            return len(self._fifo) & 0xFF
        return self._plain(reg)

    def _pop(self, n):
        fifo = self._fifo
        data = list(fifo[:n])
        del fifo[:n]
        if data:
            self._last_popped = data[-1]
        if len(data) < n:
            self._violation(f"FIFO_R_W read {n - len(data)} byte(s) past the end of the FIFO")
            data += [self._last_popped] * (n - len(data))
        return data

    def _push(self, data):
        fifo = self._fifo
        fifo += data
        extra = len(fifo) - FIFO_BYTES
        if extra > 0:
            del fifo[:extra]
            self.bytes_dropped += extra
            if self._regs[_INT_ENABLE] & _FIFO_OFLOW:
                self._status |= _FIFO_OFLOW

    def _packet(self):
        """The bytes one sample adds to the FIFO, per FIFO_EN (register order)."""
        sel = self._regs[_FIFO_EN]
        regs = self._regs
        parts = []
        if sel & 0x08:
            parts.append(regs[_ACCEL_OUT:_ACCEL_OUT + 6])
        if sel & 0x80:
            parts.append(regs[_TEMP_OUT:_TEMP_OUT + 2])
        for bit, k in ((0x40, 0), (0x20, 1), (0x10, 2)):
            if sel & bit:
                parts.append(regs[_GYRO_OUT + 2 * k:_GYRO_OUT + 2 * k + 2])
        return b"".join(parts)

    def _packet_size(self):
        sel = self._regs[_FIFO_EN]
        return 6 * bool(sel & 0x08) + 2 * bool(sel & 0x80) + 2 * bin(sel & 0x70).count("1")

    def _produce(self, first, last):
        regs = self._regs
        fifo_on = bool(regs[_USER_CTRL] & 0x40) and self._packet_size() > 0
        keep = FIFO_BYTES // self._packet_size() + 2 if fifo_on else 1
        first, skipped = self._survivors(first, last, keep)
        if skipped:
            if fifo_on:  # these would all have been pushed out by the ones kept
                self.bytes_dropped += len(self._fifo) + skipped * self._packet_size()
                self._fifo.clear()
                if regs[_INT_ENABLE] & _FIFO_OFLOW:
                    self._status |= _FIFO_OFLOW
        lsb_per_g = 16384 >> ((regs[_ACCEL_CONFIG] >> 3) & 0x03)
        standby = regs[_PWR_MGMT_2]
        low, high = _INT16
        regs[_TEMP_OUT:_TEMP_OUT + 2] = struct.pack(">h", _TEMP_25C)
        for i in range(first, last + 1):
            x, y, z = self._sample_g(i)
            regs[_ACCEL_OUT:_ACCEL_OUT + 6] = _ACCEL.pack(
                0 if standby & 0x20 else quantise(x, lsb_per_g, low, high),
                0 if standby & 0x10 else quantise(y, lsb_per_g, low, high),
                0 if standby & 0x08 else quantise(z, lsb_per_g, low, high))
            if fifo_on:
                self._push(self._packet())
        if regs[_INT_ENABLE] & _DATA_RDY:
            self._status |= _DATA_RDY

    def __repr__(self):
        state = "asleep" if self.sleeping else f"{self.rate_hz:g} Hz"
        return f"<FakeMPU6050 0x{self.address:02X} {state} FIFO {len(self._fifo)} bytes>"
