"""The ADXL345 driver against the register-level fake, the fake against the data sheet,
and the fake I2C bus.

What both accelerometer drivers share (values, FIFO order, faults, ids, lifetime) is
checked on both in ``test_accelerometers.py``, whose rig and fake clock these tests
use; here is what is the ADXL345's own. Everything runs on a fake clock shared by the
chip and the driver, with times chosen mid-period.
"""

import errno

import numpy as np
import pytest

from sensors.adxl345 import LSB_G, RANGE_BITS, RATE_CODES
from simulator.adxl345_chip import FakeADXL345
from simulator.i2c_bus import FakeSMBus, array_source
from tests.test_accelerometers import ADXL, rig_fixture
from tests.test_accelerometers import clock as clock_fixture

ADDR = 0x53
indices = ADXL.indices

clock = clock_fixture  # a FakeClock
#: rig(rate_hz=100, range_g=2, source=IndexSource, **driver_kwargs) -> (bus, chip, accel)
rig = rig_fixture(ADXL)


# --- the fake chip against the data sheet, driven by hand ---------------------------
@pytest.fixture
def hand(clock):
    bus = FakeSMBus(1)
    chip = bus.attach(FakeADXL345(source=lambda t: (1.0, -1.0, 0.5), clock=clock))
    return bus, chip


def test_chip_reset_values_and_standby(hand, clock):
    bus, chip = hand
    assert bus.read_byte_data(ADDR, 0x00) == 0xE5  # DEVID
    assert bus.read_byte_data(ADDR, 0x2C) == 0x0A  # BW_RATE: 100 Hz
    assert bus.read_byte_data(ADDR, 0x30) == 0x02  # INT_SOURCE: watermark (samples = 0)
    for register in (0x2D, 0x31, 0x38, 0x39):  # POWER_CTL, DATA_FORMAT, FIFO_CTL, FIFO_STATUS
        assert bus.read_byte_data(ADDR, register) == 0
    clock.advance(1.0)
    assert not chip.measuring and chip.samples_produced == 0


def test_chip_data_is_little_endian_twos_complement_full_res_and_10_bit(hand, clock):
    bus, chip = hand
    bus.write_byte_data(ADDR, 0x31, 0x08 | 0b11)  # FULL_RES, 16 g: still 256 LSB/g
    bus.write_byte_data(ADDR, 0x2D, 0x08)  # measure (bypass mode)
    clock.advance(0.015)
    # x = 1 g = 256 = 0x0100, y = -256 = 0xFF00, z = 128 = 0x0080, low byte first
    assert bus.read_i2c_block_data(ADDR, 0x32, 6) == [0x00, 0x01, 0x00, 0xFF, 0x80, 0x00]
    bus.write_byte_data(ADDR, 0x31, 0b11)  # 10-bit at 16 g: 32 LSB/g
    clock.advance(0.01)
    assert bus.read_i2c_block_data(ADDR, 0x32, 6) == [32, 0, 0xE0, 0xFF, 16, 0]
    bus.write_byte_data(ADDR, 0x31, 0x08 | 0x04)  # FULL_RES, 2 g, left-justified (10 bits)
    clock.advance(0.01)
    assert bus.read_i2c_block_data(ADDR, 0x32, 6)[:2] == list((256 << 6).to_bytes(2, "little"))


def test_chip_clamps_at_full_scale_and_applies_offsets(clock):
    bus = FakeSMBus()
    chip = bus.attach(FakeADXL345(source=lambda t: (5.0, -5.0, 0.0), clock=clock))
    bus.write_byte_data(ADDR, 0x31, 0x08)  # FULL_RES, 2 g: 10 bits
    bus.write_byte_data(ADDR, 0x20, 0xFE)  # OFSZ = -2: -31.25 mg = -8 LSB
    bus.write_byte_data(ADDR, 0x2D, 0x08)
    clock.advance(0.015)
    x, y, z = np.frombuffer(bytes(bus.read_i2c_block_data(ADDR, 0x32, 6)), "<i2")
    assert (x, y, z) == (511, -512, -8)
    assert chip.violations == 0


def test_chip_rate_codes_set_the_sample_grid(hand, clock):
    bus, chip = hand
    bus.write_byte_data(ADDR, 0x38, 0x80)  # stream
    for code, rate in ((0x08, 25), (0x09, 50), (0x0A, 100), (0x0B, 200), (0x0C, 400)):
        bus.write_byte_data(ADDR, 0x38, 0x00)  # bypass empties the FIFO
        bus.write_byte_data(ADDR, 0x38, 0x80)
        bus.write_byte_data(ADDR, 0x2C, code)
        bus.write_byte_data(ADDR, 0x2D, 0x08)
        assert chip.rate_hz == rate
        clock.advance(10.5 / rate)
        assert bus.read_byte_data(ADDR, 0x39) == 10  # FIFO_STATUS entries
        bus.write_byte_data(ADDR, 0x2D, 0x00)  # standby


def test_chip_six_byte_read_pops_one_entry_and_longer_reads_run_into_fifo_registers(hand, clock):
    bus, chip = hand
    bus.write_byte_data(ADDR, 0x38, 0x80)
    bus.write_byte_data(ADDR, 0x2D, 0x08)
    clock.advance(0.055)
    assert bus.read_byte_data(ADDR, 0x39) == 5
    assert len(bus.read_i2c_block_data(ADDR, 0x32, 6)) == 6
    assert bus.read_byte_data(ADDR, 0x39) == 4
    # 8 bytes: one sample, then FIFO_CTL and FIFO_STATUS (from before the pop), not
    # the next sample; and still only one entry popped.
    assert bus.read_i2c_block_data(ADDR, 0x32, 8)[6:] == [0x80, 4]
    assert bus.read_byte_data(ADDR, 0x39) == 3
    bus.read_byte_data(ADDR, 0x33)  # any read of the data registers pops an entry
    assert bus.read_byte_data(ADDR, 0x39) == 2
    assert chip.violations == 0


@pytest.mark.parametrize("mode, kept", [(0x80, "newest"), (0x40, "oldest")])
def test_chip_full_fifo_stream_overwrites_fifo_mode_stops_and_both_set_overrun(clock, mode, kept):
    bus = FakeSMBus()
    src = ADXL.source(clock(), 100)
    chip = bus.attach(FakeADXL345(source=src, clock=clock))
    bus.write_byte_data(ADDR, 0x31, 0x08)
    bus.write_byte_data(ADDR, 0x38, mode)
    bus.write_byte_data(ADDR, 0x2D, 0x08)
    clock.advance(0.315)  # 31 samples: not full yet
    assert bus.read_byte_data(ADDR, 0x30) & 1 == 0
    clock.advance(0.01)
    assert bus.read_byte_data(ADDR, 0x30) & 1 == 1  # 32 levels: filled
    assert bus.read_byte_data(ADDR, 0x30) & 1 == 1  # reading INT_SOURCE does not clear it
    clock.advance(0.1)  # 42 made: 32 levels + the output registers hold 33
    assert bus.read_byte_data(ADDR, 0x39) == 32
    got = []
    while entries := bus.read_byte_data(ADDR, 0x39):
        for _ in range(entries):
            raw = bytes(bus.read_i2c_block_data(ADDR, 0x32, 6))
            got.append(src.decode(np.frombuffer(raw, "<i2") * LSB_G))
    assert got == (list(range(9, 42)) if kept == "newest" else list(range(33)))
    assert chip.samples_lost == 9
    assert bus.read_byte_data(ADDR, 0x30) & 1 == 0  # cleared by reading the FIFO
    assert chip.violations == 0


def test_chip_counts_host_violations(hand):
    bus, chip = hand
    bus.write_byte_data(ADDR, 0x00, 0x12)  # DEVID is read-only
    bus.write_byte_data(ADDR, 0x05, 0x12)  # reserved
    bus.write_byte_data(ADDR, 0x38, 0x80)
    bus.read_i2c_block_data(ADDR, 0x32, 6)  # FIFO empty: a repeated sample
    assert chip.violations == 3
    assert bus.read_byte_data(ADDR, 0x00) == 0xE5
    assert "empty" in chip.violation_log[-1]


def test_chip_evaluates_only_samples_that_can_still_be_read(clock):
    calls = []
    bus = FakeSMBus()
    chip = bus.attach(FakeADXL345(source=lambda t: calls.append(t) or (0, 0, 1), clock=clock))
    bus.write_byte_data(ADDR, 0x38, 0x80)
    bus.write_byte_data(ADDR, 0x2D, 0x08)
    clock.advance(3600.005)  # an hour at 100 Hz
    assert chip.fifo_entries == 33 and len(calls) == 33
    assert chip.samples_produced == 360000 and chip.samples_lost == 360000 - 33


# --- the fake bus ------------------------------------------------------------------
def test_bus_caps_block_reads_at_32_bytes_like_smbus2(hand):
    bus, _ = hand
    assert len(bus.read_i2c_block_data(ADDR, 0x00, 32)) == 32
    with pytest.raises(ValueError, match="over 32"):
        bus.read_i2c_block_data(ADDR, 0x00, 33)


def test_bus_faults(hand):
    bus, chip = hand
    with pytest.raises(OSError) as excinfo:
        bus.read_byte_data(0x1D, 0x00)  # nothing there
    assert excinfo.value.errno == errno.EREMOTEIO
    bus.absent_errno = errno.ENXIO
    with pytest.raises(OSError, match="No such device") as excinfo:
        bus.read_byte_data(0x1D, 0x00)
    bus.fail_next(2, after=1)
    assert bus.read_byte_data(ADDR, 0x00) == 0xE5
    for _ in range(2):
        with pytest.raises(OSError):
            bus.write_byte_data(ADDR, 0x2D, 0x08)
    assert not chip.measuring  # a NACKed write did nothing
    bus.stop_answering(ADDR)
    for _ in range(5):
        with pytest.raises(OSError):
            bus.read_byte_data(ADDR, 0x00)
    bus.answer_again(ADDR)
    bus.stop_answering()  # the whole bus
    with pytest.raises(OSError):
        bus.read_byte_data(ADDR, 0x00)
    bus.clear_faults()
    assert bus.read_byte_data(ADDR, 0x00) == 0xE5
    bus.close()
    with pytest.raises(OSError) as excinfo:
        bus.read_byte_data(ADDR, 0x00)
    assert excinfo.value.errno == errno.EBADF


def test_bus_fail_rate_is_seeded_and_failures_do_nothing(clock):
    outcomes = []
    for _ in range(2):
        bus = FakeSMBus(fail_rate=0.5, seed=3)
        chip = bus.attach(FakeADXL345(clock=clock))
        failed = []
        for _ in range(400):
            try:
                bus.write_byte_data(ADDR, 0x2D, 0x08)
            except OSError as exc:
                failed.append(exc.errno)
            else:
                assert chip.measuring
                chip.reset()
        outcomes.append(len(failed))
        assert set(failed) == {errno.EREMOTEIO}
        assert bus.failures == len(failed) and bus.transactions == 400 - len(failed)
    assert outcomes[0] == outcomes[1] and 150 < outcomes[0] < 250
    assert chip.violations == 0


def test_array_source_holds_or_interpolates():
    rows = np.array([[10.0, 0.0, 0.0, 1.0], [11.0, 1.0, -1.0, 0.0]])
    hold = array_source(rows)
    assert hold(9.0) == (0.0, 0.0, 1.0) and hold(10.9) == (0.0, 0.0, 1.0)
    assert hold(11.0) == (1.0, -1.0, 0.0) and hold(99.0) == (1.0, -1.0, 0.0)
    lerp = array_source(rows, interpolate=True)
    assert lerp(10.25) == (0.25, -0.25, 0.75)
    with pytest.raises(ValueError, match="sorted"):
        array_source(rows[::-1])
    with pytest.raises(ValueError, match=r"\(t, x, y, z\)"):
        array_source(rows[:, :3])


# --- the driver --------------------------------------------------------------------
@pytest.mark.parametrize("range_g", sorted(RANGE_BITS))
@pytest.mark.parametrize("rate_hz", sorted(RATE_CODES))
def test_configuration_is_written_exactly(rig, clock, rate_hz, range_g):
    bus, chip, accel = rig(rate_hz=rate_hz, range_g=range_g)
    assert chip.peek(0x2C) == RATE_CODES[rate_hz]  # BW_RATE, normal power
    assert chip.peek(0x31) == 0x08 | RANGE_BITS[range_g]  # FULL_RES, right-justified
    assert chip.peek(0x2D) == 0x08  # measuring, no sleep
    assert chip.peek(0x38) >> 6 == 0b10  # stream mode
    assert [chip.peek(r) for r in (0x1E, 0x1F, 0x20)] == [0, 0, 0]
    assert (accel.rate_hz, accel.range_g) == (rate_hz, range_g)
    clock.advance(20.5 / rate_hz)
    assert indices(accel.read()) == list(range(20))  # made at the configured rate


def test_a_fifo_found_full_counts_as_an_overflow_though_nothing_was_lost(rig, clock):
    # The data sheet sets Overrun when the FIFO fills (32 levels), before anything is
    # overwritten: the drain came too late to be safe, so it counts.
    bus, chip, accel = rig(rate_hz=100)
    clock.advance(0.335)  # 33 samples: 32 levels and the output registers
    assert indices(accel.read()) == list(range(33))
    assert accel.overflows == 1 and accel.samples_lost_estimate == 0


def test_a_fifo_drained_in_time_never_counts_an_overflow(rig, clock):
    bus, chip, accel = rig(rate_hz=25)
    assert accel.fifo_seconds == pytest.approx(33 / 25)
    for _ in range(20):
        clock.advance(1.0)  # 25 samples: under the 32 levels at which overrun is set
        assert len(accel.read()) == 25
    assert accel.overflows == 0

