"""ADXL345 3-axis accelerometer on I2C, read through its 32-level FIFO in stream mode.

Register facts used (Analog Devices ADXL345 data sheet, Rev. E, register map):

- DEVID 0x00 reads 0xE5. I2C address 0x53 with SDO/ALT ADDRESS low, 0x1D with it high.
- BW_RATE 0x2C: rate code in bits 3:0 (0x08 25 Hz, 0x09 50, 0x0A 100, 0x0B 200,
  0x0C 400), LOW_POWER bit 4 left 0 (normal power: less noise).
- POWER_CTL 0x2D: Measure bit 3. Configured in standby (0x00), as the data sheet
  advises, then 0x08: measuring, no link, no auto-sleep, no sleep.
- DATA_FORMAT 0x31: FULL_RES bit 3 (3.9 mg/LSB at every range), range bits 1:0
  (00 2 g, 01 4 g, 10 8 g, 11 16 g), right-justified with sign extension (bit 2 = 0).
- OFSX/OFSY/OFSZ 0x1E-0x20: zeroed, so that values are the sensor's own.
- DATAX0..DATAZ1 0x32-0x37: x, y, z, each little-endian two's complement.
- FIFO_CTL 0x38: mode bits 7:6 (00 bypass, 01 FIFO, 10 stream, 11 trigger). The driver
  writes bypass first (which empties the FIFO) and then stream (0x80), in which the
  oldest samples are overwritten when it is full.
- FIFO_STATUS 0x39: entries in bits 5:0, at most 32; the output registers hold one
  more (33 samples in all).
- INT_SOURCE 0x30: Overrun bit 0. In the FIFO modes the data sheet says it is set
  "when FIFO is filled" and cleared when FIFO contents are read; it is set whatever
  INT_ENABLE says.

How the FIFO is drained: INT_SOURCE first (the overrun bit is cleared by the reads
that follow), then FIFO_STATUS, then exactly ``entries`` 6-byte block reads of 0x32,
each of which pops one FIFO level; then FIFO_STATUS again for what arrived meanwhile.
One block read per sample is the only correct way: a longer read runs on into 0x38
and 0x39, not into the next sample. Reading more than ``entries`` is never done (the
registers would repeat a sample). The data sheet asks for 5 us between the end of a
data read and the next FIFO or FIFO_STATUS read; any two I2C transactions from
Python are further apart than that.

Capacity: 33 samples is only 0.33 s at 100 Hz and 1.3 s at 25 Hz
(:attr:`~sensors.i2c.I2CAccelerometer.fifo_seconds`); drain more often than that
or lose samples (counted in ``overflows``).

Not sure of (no datasheet at hand while writing): whether FIFO_STATUS ever shows 33
(the driver reads whatever it shows, up to 32 a round, and looks again); the exact
overrun semantics in stream mode (the driver counts a drain that found it set as an
overflow, and estimates losses from the time since the previous drain, so a FIFO
that was exactly full but lost nothing shows an overflow with an estimate near 0).
Scale: the data sheet gives 3.9 mg/LSB typical (256 LSB/g); the driver uses exactly
1/256 g, which is that figure unrounded (3.906 mg).
"""

from __future__ import annotations

import struct

from sensors.i2c import I2CAccelerometer

__all__ = ["ADXL345", "RATE_CODES", "RANGE_BITS", "LSB_G", "DEVID"]

DEVID = 0xE5
#: Output data rate (Hz) -> BW_RATE code.
RATE_CODES = {25: 0x08, 50: 0x09, 100: 0x0A, 200: 0x0B, 400: 0x0C}
#: Full scale (+-g) -> DATA_FORMAT range bits.
RANGE_BITS = {2: 0b00, 4: 0b01, 8: 0b10, 16: 0b11}
#: g per LSB in full-resolution mode, at every range (data sheet: 3.9 mg/LSB typical).
LSB_G = 1 / 256

# Registers
_DEVID = 0x00
_OFSX, _OFSY, _OFSZ = 0x1E, 0x1F, 0x20
_BW_RATE = 0x2C
_POWER_CTL = 0x2D
_INT_ENABLE = 0x2E
_INT_SOURCE = 0x30
_DATA_FORMAT = 0x31
_DATAX0 = 0x32
_FIFO_CTL = 0x38
_FIFO_STATUS = 0x39
# Bits
_MEASURE = 0x08
_FULL_RES = 0x08
_OVERRUN = 0x01
_FIFO_BYPASS = 0x00
_FIFO_STREAM = 0x80
_ENTRIES = 0x3F
_FIFO_LEVELS = 32
# Rounds of "FIFO_STATUS, then pop that many" per read(); more arrive only if the bus
# is slower than the chip, and they wait for the next read().
_MAX_ROUNDS = 4


class ADXL345(I2CAccelerometer):
    """An ADXL345 on I2C, sampling into its FIFO; :meth:`read` drains it.

    Parameters and errors as for :class:`~sensors.i2c.I2CAccelerometer`, with:

    :param address: 0x53 (SDO low, the default) or 0x1D (SDO high).
    :param rate_hz: output data rate, one of 25, 50, 100 (default), 200, 400.
    :param range_g: full scale, one of 2 (default), 4, 8, 16 (resolution is 3.9 mg at
        each).
    :raises vocabulary.errors.SensorNotFound: DEVID is not 0xE5, or nothing answers.

    Example::

        from sensors.adxl345 import ADXL345

        with ADXL345(1, rate_hz=50, range_g=2) as accel:
            while running:
                for x, y, z in accel.read():   # g, oldest first
                    ...
                time.sleep(0.25)               # the FIFO holds 0.66 s at 50 Hz
    """

    CHIP = "ADXL345"
    ID_REGISTER = _DEVID
    ID_NAME = "DEVID"
    CHIP_ID = DEVID
    ID_HINTS = {0x68: "0x68 is what an MPU-6050 answers: use sensors.mpu6050.MPU6050"}
    DEFAULT_ADDRESS = 0x53
    ADDRESS_HINT = " (0x53 with SDO/ALT ADDRESS low, 0x1D with it high)"
    STATUS_REGISTER = _INT_SOURCE
    OVERFLOW_BIT = _OVERRUN
    RATES = tuple(RATE_CODES)
    RANGES = tuple(RANGE_BITS)
    FIFO_SAMPLES = _FIFO_LEVELS + 1
    _sample = struct.Struct("<hhh")
    _scale = LSB_G

    def _setup(self):
        return [
            (_POWER_CTL, 0x00),  # standby while configuring
            (_INT_ENABLE, 0x00),  # polled: no interrupt pins
            (_OFSX, 0x00), (_OFSY, 0x00), (_OFSZ, 0x00),
            (_BW_RATE, RATE_CODES[self._rate]),
            (_DATA_FORMAT, _FULL_RES | RANGE_BITS[self._range]),
            (_FIFO_CTL, _FIFO_BYPASS),  # empties the FIFO
            (_FIFO_CTL, _FIFO_STREAM),
            (_POWER_CTL, _MEASURE),
        ]

    def _drain_fifo(self):
        read_block = self._read_block
        buf = self._buf
        for _ in range(_MAX_ROUNDS):
            entries = min(self._read_byte(_FIFO_STATUS) & _ENTRIES, _FIFO_LEVELS)
            if not entries:
                break
            for _ in range(entries):
                # 6 bytes from 0x32 pop exactly one level; appended at once, so a bus
                # error on the next one loses nothing already read.
                buf += bytes(read_block(_DATAX0, 6))
