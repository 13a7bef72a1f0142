"""The ADXL345 driver against the register-level fake, the fake against the data sheet,
and the fake I2C bus.

Everything runs on a fake clock shared by the chip and the driver (the driver's retry
``sleep`` advances it, so retries cost simulated time as they would real time): exact,
instant and deterministic. Times are chosen mid-period, so that float rounding at a
sample boundary cannot matter.
"""

import errno
import random
import time

import numpy as np
import pytest
import smbus2
from hypothesis import given, settings
from hypothesis import strategies as st

from device.errors import SensorBusError, SensorError, SensorNotFound
from sensors.adxl345 import ADXL345, LSB_G, RANGE_BITS, RATE_CODES
from simulator.adxl345_chip import FakeADXL345
from simulator.i2c_bus import FakeSMBus, array_source

ADDR = 0x53


class FakeClock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t

    def advance(self, dt):
        self.t += dt


class IndexSource:
    """Sample k (0 the first after measuring starts at *t0*) carries k in its x and y codes.

    x and y codes are ``k % 1000 - 500`` and ``k // 1000 % 1000 - 500`` (10-bit codes
    fit +-2 g in full resolution), z is 1 g: decode() gets k back, and a sample that
    is misread, repeated or invented shows.
    """

    def __init__(self, t0, rate_hz):
        self.t0, self.rate = t0, rate_hz

    def __call__(self, t):
        k = round((t - self.t0) * self.rate) - 1
        return ((k % 1000 - 500) * LSB_G, (k // 1000 % 1000 - 500) * LSB_G, 1.0)

    @staticmethod
    def decode(sample):
        x, y, z = (round(v / LSB_G) for v in sample)
        assert z == 256, sample
        return (y + 500) * 1000 + (x + 500)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def rig(clock):
    """make(rate_hz=100, range_g=2, source=IndexSource, **driver_kwargs) -> (bus, chip, accel)."""
    made = []

    def make(rate_hz=100, range_g=2, source=None, chip_kwargs=None, bus_kwargs=None,
             **driver_kwargs):
        bus = FakeSMBus(1, **(bus_kwargs or {}))
        source = IndexSource(clock(), rate_hz) if source is None else source
        chip = bus.attach(FakeADXL345(source=source, clock=clock, **(chip_kwargs or {})))
        driver_kwargs.setdefault("clock", clock)
        driver_kwargs.setdefault("sleep", clock.advance)
        accel = ADXL345(bus, rate_hz=rate_hz, range_g=range_g, **driver_kwargs)
        made.append((chip, accel))
        return bus, chip, accel

    yield make
    for chip, accel in made:
        accel.close()
        # The driver never writes read-only registers nor reads an empty FIFO.
        assert chip.violations == 0, list(chip.violation_log)


def indices(samples):
    return [IndexSource.decode(s) for s in samples]


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
    src = IndexSource(clock(), 100)
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
            got.append(IndexSource.decode(np.frombuffer(raw, "<i2") * LSB_G))
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


@pytest.mark.parametrize("range_g", sorted(RANGE_BITS))
@pytest.mark.parametrize("rate_hz", [25, 100, 400])
def test_exact_values_round_trip_from_a_recorded_array(rig, clock, rate_hz, range_g):
    full = 1 << (9 + RANGE_BITS[range_g])  # 512, 1024, 2048, 4096 codes a side
    rng = np.random.default_rng(rate_hz * range_g)
    codes = rng.integers(-full, full, size=(30, 3))
    codes[:4] = [[full - 1, -full, 0], [1, -1, 0], [-1, 1, 256], [0, 0, 0]]
    t0 = clock()
    # One row per sample, half a period before its time on the chip's grid.
    t = t0 + (np.arange(30) + 0.5) / rate_hz
    rows = np.column_stack([t, codes * LSB_G])
    bus, chip, accel = rig(rate_hz=rate_hz, range_g=range_g, source=rows)
    clock.advance(30.5 / rate_hz)
    got = accel.read()
    assert got == [tuple(float(c) * LSB_G for c in row) for row in codes]


@pytest.mark.parametrize("range_g", sorted(RANGE_BITS))
def test_values_beyond_full_scale_read_as_full_scale(rig, clock, range_g):
    bus, chip, accel = rig(range_g=range_g, source=lambda t: (99.0, -99.0, float("inf")))
    clock.advance(0.015)
    full = 1 << (9 + RANGE_BITS[range_g])
    assert accel.read() == [((full - 1) * LSB_G, -full * LSB_G, (full - 1) * LSB_G)]
    assert -full * LSB_G == -range_g


@settings(max_examples=200, deadline=None)
@given(g=st.tuples(*[st.floats(-20, 20, allow_nan=False)] * 3),
       range_g=st.sampled_from(sorted(RANGE_BITS)))
def test_any_acceleration_reads_as_its_nearest_code_at_3_9_mg(g, range_g):
    clock = FakeClock()
    bus = FakeSMBus()
    bus.attach(FakeADXL345(source=lambda t: g, clock=clock))
    with ADXL345(bus, range_g=range_g, clock=clock) as accel:
        clock.advance(0.015)
        full = 1 << (9 + RANGE_BITS[range_g])
        expected = tuple(min(max(round(v * 256), -full), full - 1) / 256 for v in g)
        assert accel.read() == [expected]


@pytest.mark.parametrize("seed", range(4))
def test_every_sample_once_in_order_across_reads_of_varied_timing(rig, clock, seed):
    rng = random.Random(seed)
    rate = rng.choice([25, 50, 100])
    bus, chip, accel = rig(rate_hz=rate)
    got = []
    for _ in range(150):
        # Anything from back-to-back reads to just under the 32 samples that fill the FIFO.
        clock.advance(rng.choice([0.0, 0.0001, rng.uniform(0, 31 / rate)]))
        got += accel.read()
    assert indices(got) == list(range(chip.samples_produced))
    assert accel.overflows == 0 and accel.samples_lost_estimate == 0
    assert accel.samples_read == len(got)


def test_overflow_returns_the_newest_33_aligned_and_counts_the_loss(rig, clock):
    bus, chip, accel = rig(rate_hz=100)
    clock.advance(0.205)
    assert indices(accel.read()) == list(range(20))
    clock.advance(10.0)  # 1000 more: the FIFO keeps the newest 33
    assert indices(accel.read()) == list(range(987, 1020))
    assert accel.overflows == 1
    assert chip.samples_lost == 967
    assert abs(accel.samples_lost_estimate - 967) <= 1
    clock.advance(0.1)
    assert indices(accel.read()) == list(range(1020, 1030))  # and on it goes
    assert accel.overflows == 1


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


def test_wrong_chip_id_raises_sensor_not_found_naming_it(clock):
    bus = FakeSMBus(1)
    bus.attach(FakeADXL345(clock=clock, chip_id=0x00))
    with pytest.raises(SensorNotFound, match=r"0x53.*DEVID \(register 0x00\) read 0x00, expected 0xE5"):
        ADXL345(bus, clock=clock)
    bus.detach(ADDR)
    bus.attach(FakeADXL345(clock=clock, chip_id=0x68))
    with pytest.raises(SensorNotFound, match="MPU-6050"):
        ADXL345(bus, clock=clock)


@pytest.mark.parametrize("absent_errno", [errno.EREMOTEIO, errno.ENXIO])
def test_no_chip_at_the_address_raises_sensor_not_found(clock, absent_errno):
    bus = FakeSMBus(1, absent_errno=absent_errno)
    bus.attach(FakeADXL345(clock=clock), address=0x1D)
    with pytest.raises(SensorNotFound, match=r"nothing answers.*0x1D with it high") as excinfo:
        ADXL345(bus, clock=clock, sleep=clock.advance)
    assert excinfo.value.__cause__.errno == absent_errno
    ADXL345(bus, address=0x1D, clock=clock).close()


def test_transient_nacks_are_retried_transparently(rig, clock):
    bus, chip, accel = rig()
    clock.advance(0.105)
    bus.fail_next(4)  # INT_SOURCE: four NACKs then fine
    bus.fail_next(3, after=6)  # and three more in the middle of the drain
    got = indices(accel.read())
    # The backoff took (simulated) time, and the chip went on sampling meanwhile.
    assert len(got) >= 10 and got == list(range(len(got)))
    assert accel.i2c_errors == 7 and accel.i2c_failures == 0
    assert chip.violations == 0


def test_a_flaky_bus_loses_nothing(rig, clock):
    bus, chip, accel = rig(rate_hz=100, bus_kwargs={"seed": 7})
    bus.fail_rate = 0.15
    got = []
    for _ in range(200):
        clock.advance(0.2)
        got += accel.read()
    assert indices(got) == list(range(len(got)))
    assert len(got) >= chip.samples_produced - 33
    assert accel.i2c_errors > 500 and accel.overflows == 0


def test_a_dead_bus_raises_sensor_bus_error_well_within_10_s(rig, clock):
    bus, chip, accel = rig()
    clock.advance(0.105)
    bus.stop_answering(ADDR)
    start, real = clock(), time.monotonic()
    with pytest.raises(SensorBusError, match=r"0x53.*failed 6 time\(s\).*Remote I/O") as excinfo:
        accel.read()
    assert clock() - start < 10  # simulated: the retries' backoff (about 0.16 s)
    assert time.monotonic() - real < 1
    assert isinstance(excinfo.value, SensorError) and isinstance(excinfo.value, OSError)
    assert accel.i2c_failures == 1
    bus.answer_again(ADDR)
    assert indices(accel.read()) == list(range(chip.samples_produced))


def test_a_dead_bus_on_the_real_clock(clock):
    bus = FakeSMBus()
    bus.attach(FakeADXL345())
    accel = ADXL345(bus)
    bus.stop_answering()
    start = time.monotonic()
    with pytest.raises(SensorBusError):
        accel.read()
    assert time.monotonic() - start < 10


def test_samples_popped_before_the_bus_died_come_with_the_next_read(rig, clock):
    bus, chip, accel = rig(rate_hz=25)
    clock.advance(0.5)  # 12 samples
    bus.fail_next(1000, after=8)  # dies after 6 samples were popped
    with pytest.raises(SensorBusError):
        accel.read()
    bus.clear_faults()
    clock.advance(0.05)
    assert indices(accel.read()) == list(range(chip.samples_produced))


@pytest.mark.parametrize("kwargs, allowed", [
    ({"rate_hz": 10}, "25, 50, 100, 200, 400"), ({"rate_hz": 800}, "25, 50, 100, 200, 400"),
    ({"rate_hz": "100"}, "25, 50"), ({"rate_hz": True}, "25, 50"),
    ({"range_g": 3}, "2, 4, 8, 16"), ({"range_g": 32}, "2, 4, 8, 16"), ({"range_g": None}, "2, 4")])
def test_unsupported_rate_or_range_is_a_value_error_naming_the_allowed_values(kwargs, allowed):
    bus = FakeSMBus()
    bus.attach(FakeADXL345())
    with pytest.raises(ValueError, match=allowed):
        ADXL345(bus, **kwargs)
    assert bus.transactions == 0


def test_close_leaves_an_injected_bus_open_is_idempotent_and_stops_reads(rig):
    bus, chip, accel = rig()
    accel.close()
    accel.close()
    assert accel.closed and not bus.closed
    with pytest.raises(ValueError, match="closed"):
        accel.read()
    with ADXL345(bus) as again:
        assert not again.closed
    assert again.closed and not bus.closed


def test_a_bus_number_opens_smbus2_and_close_closes_it(monkeypatch, clock):
    opened = []

    def smbus(number):
        bus = FakeSMBus(number, chips=[FakeADXL345(clock=clock)])
        opened.append(bus)
        return bus

    monkeypatch.setattr(smbus2, "SMBus", smbus)
    with ADXL345(1, clock=clock) as accel:
        assert [b.bus for b in opened] == [1] and not opened[0].closed
        clock.advance(0.015)
        assert accel.read() == [(0.0, 0.0, 1.0)]
    assert opened[0].closed
    # A failed constructor closes the bus it opened.
    monkeypatch.setattr(smbus2, "SMBus", lambda n: opened.append(FakeSMBus(n)) or opened[-1])
    with pytest.raises(SensorNotFound, match="bus 1"):
        ADXL345(1, clock=clock, sleep=clock.advance)
    assert opened[-1].closed


def test_a_bus_that_cannot_be_opened_says_why(monkeypatch):
    def smbus(number):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", f"/dev/i2c-{number}")

    monkeypatch.setattr(smbus2, "SMBus", smbus)
    with pytest.raises(SensorBusError, match="raspi-config"):
        ADXL345(1)


def test_a_bus_without_the_smbus_methods_is_a_type_error():
    with pytest.raises(TypeError, match="read_i2c_block_data"):
        ADXL345(object())
