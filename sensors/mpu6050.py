"""MPU-6050 accelerometer (its gyro unused) on I2C, read through its 1024-byte FIFO.

Register facts used (InvenSense MPU-6000/6050 Register Map and Descriptions, rev 4.2):

- WHO_AM_I 0x75 reads 0x68 at either address (0x68 with AD0 low, 0x69 with AD0 high).
- PWR_MGMT_1 0x6B resets to 0x40 (SLEEP). The driver writes 0x01: awake, clock from
  the X gyro's PLL (the register map recommends a gyro clock over the internal 8 MHz
  oscillator). PWR_MGMT_2 0x6C = 0: no axis in standby.
- CONFIG 0x1A DLPF_CFG bits 2:0 and SMPLRT_DIV 0x19: sample rate = 1 kHz / (1 + div)
  when the DLPF is on (DLPF_CFG 1-6; 0 and 7 make the gyro rate 8 kHz). The driver
  picks the widest accelerometer bandwidth at or below half the sample rate (184, 94,
  44, 21, 10, 5 Hz for DLPF_CFG 1-6), so the FIFO holds no aliased movement.
- ACCEL_CONFIG 0x1C AFS_SEL bits 4:3: +-2/4/8/16 g = 16384/8192/4096/2048 LSB/g; the
  self-test and high-pass bits are written 0.
- FIFO_EN 0x23: ACCEL_FIFO_EN bit 3 alone, so each sample is 6 bytes: XH XL YH YL ZH
  ZL, big-endian two's complement.
- USER_CTRL 0x6A: FIFO_EN bit 6, FIFO_RESET bit 2 (acts while FIFO_EN is 0, clears
  itself); I2C_MST_EN bit 5 written 0.
- INT_ENABLE 0x38 FIFO_OFLOW_EN bit 4; INT_STATUS 0x3A FIFO_OFLOW_INT bit 4, cleared
  by reading INT_STATUS.
- FIFO_COUNTH/L 0x72/0x73, big-endian, read together in one 2-byte block read.
- FIFO_R_W 0x74: each byte read pops the FIFO; a block read from 0x74 keeps reading
  it (no auto-increment), so one read of up to 32 bytes returns successive bytes. The
  driver reads 30 (5 samples) at a time.
- FIFO: 1024 bytes; when full, new data overwrites the oldest.

Overflow and alignment: 1024 is not a multiple of 6 (1024 = 170 * 6 + 4). The chip
writes whole samples, so the newest sample always ends at the end of the FIFO and the
FIFO always starts ``FIFO_COUNT % 6`` bytes before a sample boundary: after an
overflow the oldest 4 bytes are the tail of an overwritten sample. Each drain round
reads FIFO_COUNT, pops and drops those ``count % 6`` bytes, then pops whole samples.
A count that is not a multiple of 6 is read twice before it is believed (a count read
while the chip writes a sample might be caught between values).

One hazard remains: the FIFO can only become misaligned when a sample arrives while
it holds 1019-1023 bytes (from 1024 each new sample drops exactly 6 bytes, below 1019
nothing is dropped), i.e. while the driver pops the first bytes after an overflow, or
if the FIFO filled up during a round (a long retry stall). A round that could have met
that (its starting count plus what the chip can add in the round's duration comes
near 1019) is kept aside until the next FIFO_COUNT shows the FIFO still aligned;
otherwise it is discarded (``samples_discarded``) and the FIFO realigned. A round
starting near full reads only 4 samples, so that such a discard costs little.

Not sure of (no register map at hand while writing): whether INT_STATUS sets
FIFO_OFLOW_INT without FIFO_OFLOW_EN (the driver enables it; that may also pulse the
INT pin, harmless when unwired); what an empty FIFO returns (the driver never reads
past FIFO_COUNT); whether FIFO_COUNTH/L latch together (they are read in one burst,
and odd counts are read again); that the FIFO overwrites (rather than drops) on
overflow. The driver would still return only aligned samples if it dropped new data
instead: the count would stay a multiple of 6.
"""

from __future__ import annotations

import struct
import warnings

from sensors.i2c import I2CAccelerometer
from vocabulary.errors import SensorGlitch

__all__ = ["MPU6050", "RATES", "AFS_SEL", "LSB_PER_G", "WHO_AM_I", "FIFO_BYTES", "dlpf_for"]

WHO_AM_I = 0x68
FIFO_BYTES = 1024
#: Supported sample rates (Hz): 1 kHz divided by an integer.
RATES = (10, 20, 25, 40, 50, 100, 125, 200, 250, 500)
#: Full scale (+-g) -> AFS_SEL.
AFS_SEL = {2: 0, 4: 1, 8: 2, 16: 3}
#: Full scale (+-g) -> LSB per g.
LSB_PER_G = {2: 16384, 4: 8192, 8: 4096, 16: 2048}
# DLPF_CFG -> accelerometer bandwidth (Hz), register map table for CONFIG.
_DLPF_BANDWIDTH = {1: 184, 2: 94, 3: 44, 4: 21, 5: 10, 6: 5}

# Registers
_SMPLRT_DIV = 0x19
_CONFIG = 0x1A
_ACCEL_CONFIG = 0x1C
_FIFO_EN = 0x23
_INT_ENABLE = 0x38
_INT_STATUS = 0x3A
_USER_CTRL = 0x6A
_PWR_MGMT_1 = 0x6B
_PWR_MGMT_2 = 0x6C
_FIFO_COUNTH = 0x72
_FIFO_R_W = 0x74
_WHO_AM_I = 0x75
# Bits
_CLK_PLL_XGYRO = 0x01
_ACCEL_FIFO_EN = 0x08
_USER_FIFO_EN = 0x40
_USER_FIFO_RESET = 0x04
_FIFO_OFLOW = 0x10

_SAMPLE = 6
_CHUNK = 30  # bytes per FIFO block read: 5 samples, under the 32-byte SMBus cap
# Bytes beyond which a sample arriving misaligns the FIFO (1024 - 6 + 1 = 1019).
_HAZARD = FIFO_BYTES - _SAMPLE + 1
_MAX_ROUNDS = 4


def dlpf_for(rate_hz):
    """DLPF_CFG (1-6) with the widest accelerometer bandwidth <= *rate_hz* / 2."""
    for cfg, bandwidth in sorted(_DLPF_BANDWIDTH.items()):
        if bandwidth <= rate_hz / 2:
            return cfg
    return 6


class MPU6050(I2CAccelerometer):
    """An MPU-6050's accelerometer on I2C, sampling into its FIFO; :meth:`read` drains it.

    Parameters and errors as for :class:`~sensors.i2c.I2CAccelerometer`, with:

    :param address: 0x68 (AD0 low, the default) or 0x69 (AD0 high).
    :param rate_hz: sample rate, one of :data:`RATES` (1 kHz / integer; default 100).
    :param range_g: full scale, one of 2 (default), 4, 8, 16.
    :raises vocabulary.errors.SensorNotFound: WHO_AM_I is not 0x68, or nothing answers.

    Example::

        from sensors.mpu6050 import MPU6050

        with MPU6050(1, rate_hz=100, range_g=2) as accel:
            while running:
                samples = accel.read()   # [(x, y, z), ...] in g, oldest first
                time.sleep(1.0)          # the FIFO holds 1.7 s at 100 Hz
    """

    CHIP = "MPU-6050"
    ID_REGISTER = _WHO_AM_I
    ID_NAME = "WHO_AM_I"
    CHIP_ID = WHO_AM_I
    ID_HINTS = {got: f"0x{got:02X} is what {chip} answers" for got, chip in (
        (0x70, "an MPU-6500"), (0x71, "an MPU-9250"), (0x73, "an MPU-9255"),
        (0x98, "a clone that is not register-compatible"))}
    DEFAULT_ADDRESS = 0x68
    ADDRESS_HINT = " (0x68 with AD0 low, 0x69 with AD0 high)"
    STATUS_REGISTER = _INT_STATUS
    OVERFLOW_BIT = _FIFO_OFLOW
    RATES = RATES
    RANGES = tuple(AFS_SEL)
    FIFO_SAMPLES = FIFO_BYTES // _SAMPLE
    _sample = struct.Struct(">hhh")

    @property
    def _scale(self):
        return 1 / LSB_PER_G[self._range]

    def _setup(self):
        return [
            (_PWR_MGMT_1, _CLK_PLL_XGYRO),  # wake up (SLEEP = 0), PLL clock
            (_PWR_MGMT_2, 0x00),
            (_USER_CTRL, 0x00),  # FIFO off while configuring; I2C master off
            (_FIFO_EN, 0x00),
            (_SMPLRT_DIV, 1000 // self._rate - 1),
            (_CONFIG, dlpf_for(self._rate)),
            (_ACCEL_CONFIG, AFS_SEL[self._range] << 3),
            (_INT_ENABLE, _FIFO_OFLOW),
            (_USER_CTRL, _USER_FIFO_RESET),  # empties the FIFO (FIFO_EN is 0)
            (_FIFO_EN, _ACCEL_FIFO_EN),
            (_USER_CTRL, _USER_FIFO_EN),
        ]  # then INT_STATUS is read: that clears whatever predates this driver

    # --- the drain ---------------------------------------------------------------
    def _fifo_count(self):
        hi, lo = self._read_block(_FIFO_COUNTH, 2)
        count = hi << 8 | lo
        if count % _SAMPLE or count > FIFO_BYTES:
            hi, lo = self._read_block(_FIFO_COUNTH, 2)  # believe it when seen twice
            count = hi << 8 | lo
        return count

    def _pop(self, skip, samples, into):
        """Pop *skip* bytes (dropped) and then *samples* whole samples into *into*."""
        read_block = self._read_block
        if skip:
            first = skip + _SAMPLE * min(samples, (_CHUNK - _SAMPLE) // _SAMPLE)
            into += bytes(read_block(_FIFO_R_W, first))[skip:]
            samples -= (first - skip) // _SAMPLE
        left = samples * _SAMPLE
        while left:
            n = _CHUNK if left > _CHUNK else left
            into += bytes(read_block(_FIFO_R_W, n))
            left -= n

    def _drain_fifo(self):
        pending = None  # a round that may have met a full FIFO, awaiting the next count
        try:
            for rounds in range(_MAX_ROUNDS + 1):
                count = self._fifo_count()
                if count > FIFO_BYTES:
                    warnings.warn(SensorGlitch(
                        f"{self.CHIP} FIFO_COUNT read {count} twice (at most {FIFO_BYTES}); "
                        f"the FIFO is read at the next call"), stacklevel=4)
                    break
                skip = count % _SAMPLE
                if pending is not None:
                    if skip:  # the FIFO shifted under that round: its bytes are suspect
                        self._discarded += len(pending) // _SAMPLE
                    else:
                        self._buf += pending
                    pending = None
                if skip or count > FIFO_BYTES - _SAMPLE:  # overflowed, or full at least
                    self._overflow_seen = True
                samples = count // _SAMPLE
                if samples == 0 or rounds == _MAX_ROUNDS:
                    if skip and samples == 0:
                        self._pop(skip, 0, bytearray())  # a lone fragment: drop it
                    break
                # Near full, a short round: if it must be discarded, little is lost.
                near_full = count + 2 * _SAMPLE >= _HAZARD
                if near_full:
                    samples = min(samples, (_CHUNK - skip) // _SAMPLE)
                start = self._clock()
                got = bytearray()
                try:
                    self._pop(skip, samples, got)
                except BaseException:
                    # Keep what was read if the FIFO cannot have filled meanwhile.
                    if self._round_safe(count, start):
                        self._buf += got
                    else:
                        self._discarded += len(got) // _SAMPLE
                    raise
                if near_full or not self._round_safe(count, start):
                    pending = got
                else:
                    self._buf += got
        finally:
            if pending is not None:  # never confirmed
                self._discarded += len(pending) // _SAMPLE

    def _round_safe(self, count, start):
        """True if no sample can have met a FIFO of 1019-1023 bytes since *start*."""
        arrivals = self._fifo_time_bound(self._clock() - start)
        return count + _SAMPLE * arrivals < _HAZARD
