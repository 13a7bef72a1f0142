"""The MPU-6050 driver against the register-level fake, and the fake against the register map.

As for the ADXL345: a fake clock shared by the chip and the driver (retries advance
it), times chosen mid-period. The overflow-alignment tests also use a clock that
ticks at every look, so that samples arrive between the driver's transactions the
way they do on a real bus.
"""

import random
import time

import numpy as np
import pytest
import smbus2
from hypothesis import given, settings
from hypothesis import strategies as st

from device.errors import SensorBusError, SensorNotFound
from sensors.mpu6050 import AFS_SEL, LSB_PER_G, MPU6050, RATES, dlpf_for
from simulator.i2c_bus import FakeSMBus
from simulator.mpu6050_chip import FakeMPU6050

ADDR = 0x68
LSB = 1 / 16384  # at +-2 g


class FakeClock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t

    def advance(self, dt):
        self.t += dt


class TickingClock(FakeClock):
    """Time moves on by *tick* at every look: each I2C transaction takes a while."""

    def __init__(self, tick, t=1000.0):
        super().__init__(t)
        self.tick = tick

    def __call__(self):
        self.t += self.tick
        return self.t


class IndexSource:
    """Sample k (0 the first after waking at *t0*) carries k in its x and y codes at +-2 g.

    x and y codes are ``k % 20000 - 10000`` and ``k // 20000 - 10000``, z is 1 g
    (16384): decode() gets k back, and a misaligned sample (bytes of two samples)
    fails the z check.
    """

    def __init__(self, t0, rate_hz):
        self.t0, self.rate = t0, rate_hz

    def __call__(self, t):
        k = round((t - self.t0) * self.rate) - 1
        return ((k % 20000 - 10000) * LSB, (k // 20000 - 10000) * LSB, 1.0)

    @staticmethod
    def decode(sample):
        x, y, z = (round(v / LSB) for v in sample)
        assert z == 16384, f"misaligned or corrupt sample {sample}"
        return (y + 10000) * 20000 + (x + 10000)


def indices(samples):
    return [IndexSource.decode(s) for s in samples]


def unpack(raw):
    return [tuple(v * LSB for v in row) for row in np.frombuffer(bytes(raw), ">i2").reshape(-1, 3)]


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def rig(clock):
    """make(rate_hz=100, range_g=2, source=IndexSource, **driver_kwargs) -> (bus, chip, accel)."""
    made = []

    def make(rate_hz=100, range_g=2, source=None, clock=clock, bus_kwargs=None, **driver_kwargs):
        bus = FakeSMBus(1, **(bus_kwargs or {}))
        source = IndexSource(clock.t, rate_hz) if source is None else source
        chip = bus.attach(FakeMPU6050(source=source, clock=clock))
        driver_kwargs.setdefault("clock", clock)
        driver_kwargs.setdefault("sleep", clock.advance)
        accel = MPU6050(bus, rate_hz=rate_hz, range_g=range_g, **driver_kwargs)
        made.append((chip, accel))
        return bus, chip, accel

    yield make
    for chip, accel in made:
        accel.close()
        # The driver never writes read-only registers nor reads past FIFO_COUNT.
        assert chip.violations == 0, list(chip.violation_log)


# --- the fake chip against the register map, driven by hand -------------------------
@pytest.fixture
def hand(clock):
    """A fake at 100 Hz with its FIFO collecting accelerometer samples, by hand."""
    bus = FakeSMBus(1)
    chip = bus.attach(FakeMPU6050(source=IndexSource(clock(), 100), clock=clock))

    def start(int_enable=0x10):
        bus.write_byte_data(ADDR, 0x19, 9)  # SMPLRT_DIV: 1 kHz / 10
        bus.write_byte_data(ADDR, 0x1A, 3)  # DLPF on
        bus.write_byte_data(ADDR, 0x38, int_enable)
        bus.write_byte_data(ADDR, 0x23, 0x08)  # accel into the FIFO
        bus.write_byte_data(ADDR, 0x6A, 0x40)  # FIFO on
        bus.write_byte_data(ADDR, 0x6B, 0x01)  # wake up

    return bus, chip, start


def fifo_count(bus):
    hi, lo = bus.read_i2c_block_data(ADDR, 0x72, 2)
    return hi << 8 | lo


def test_chip_reset_values_and_asleep(hand, clock):
    bus, chip, _ = hand
    assert bus.read_byte_data(ADDR, 0x75) == 0x68  # WHO_AM_I
    assert bus.read_byte_data(ADDR, 0x6B) == 0x40  # PWR_MGMT_1: SLEEP
    for register in (0x19, 0x1A, 0x1C, 0x23, 0x38, 0x6A, 0x72, 0x73):
        assert bus.read_byte_data(ADDR, register) == 0
    clock.advance(1.0)
    assert chip.sleeping and chip.samples_produced == 0


@pytest.mark.parametrize("div, dlpf, rate", [(9, 3, 100), (39, 5, 25), (0, 1, 1000), (9, 0, 800)])
def test_chip_sample_rate_is_gyro_rate_over_1_plus_div(hand, clock, div, dlpf, rate):
    bus, chip, _ = hand
    bus.write_byte_data(ADDR, 0x19, div)
    bus.write_byte_data(ADDR, 0x1A, dlpf)  # DLPF_CFG 0: 8 kHz gyro rate
    bus.write_byte_data(ADDR, 0x6B, 0x00)
    assert chip.rate_hz == rate
    clock.advance(10.5 / rate)
    assert chip.samples_produced == 10


@pytest.mark.parametrize("afs, lsb", [(0, 16384), (1, 8192), (2, 4096), (3, 2048)])
def test_chip_data_is_big_endian_at_each_range(clock, afs, lsb):
    bus = FakeSMBus()
    bus.attach(FakeMPU6050(source=lambda t: (1.0, -1.0, 0.5), clock=clock))
    bus.write_byte_data(ADDR, 0x1C, afs << 3)
    bus.write_byte_data(ADDR, 0x6B, 0x00)
    clock.advance(0.0015)  # 1 kHz with the DLPF off... 8 kHz / (1 + 0): a sample anyway
    raw = bus.read_i2c_block_data(ADDR, 0x3B, 6)
    assert raw == list(lsb.to_bytes(2, "big") + (-lsb).to_bytes(2, "big", signed=True)
                       + (lsb // 2).to_bytes(2, "big"))


def test_chip_clamps_to_int16(clock):
    bus = FakeSMBus()
    bus.attach(FakeMPU6050(source=lambda t: (2.5, -2.0, 1.99997), clock=clock))
    bus.write_byte_data(ADDR, 0x6B, 0x00)
    clock.advance(0.0015)
    raw = bytes(bus.read_i2c_block_data(ADDR, 0x3B, 6))
    assert list(np.frombuffer(raw, ">i2")) == [32767, -32768, 32767]


def test_chip_fifo_count_is_big_endian_and_fifo_r_w_pops_successive_bytes(hand, clock):
    bus, chip, start = hand
    start()
    clock.advance(0.505)  # 50 samples, 300 bytes
    assert bus.read_i2c_block_data(ADDR, 0x72, 2) == [0x01, 0x2C]
    assert indices(unpack(bus.read_i2c_block_data(ADDR, 0x74, 30))) == [0, 1, 2, 3, 4]
    assert fifo_count(bus) == 270
    one = [bus.read_byte_data(ADDR, 0x74) for _ in range(6)]
    assert indices(unpack(one)) == [5]
    assert fifo_count(bus) == 264
    assert chip.violations == 0


def test_chip_overflow_keeps_the_newest_1024_bytes_starting_inside_a_sample(hand, clock):
    bus, chip, start = hand
    start()
    clock.advance(2.005)  # 200 samples, 1200 bytes
    assert fifo_count(bus) == 1024
    assert chip.bytes_dropped == 176
    status = bus.read_byte_data(ADDR, 0x3A)
    assert status & 0x10  # FIFO_OFLOW_INT
    assert bus.read_byte_data(ADDR, 0x3A) & 0x10 == 0  # cleared by the read
    fragment = bus.read_i2c_block_data(ADDR, 0x74, 4)
    # The 4 oldest bytes are the y and z of sample 29 (1200 - 1024 = 176 = 29 * 6 + 2).
    assert fragment == list(((-10000) & 0xFFFF).to_bytes(2, "big") + (16384).to_bytes(2, "big"))
    rest = []
    for _ in range(34):
        rest += bus.read_i2c_block_data(ADDR, 0x74, 30)
    assert indices(unpack(rest)) == list(range(30, 200))
    assert fifo_count(bus) == 0 and chip.violations == 0


def test_chip_sets_interrupt_status_only_for_enabled_sources(hand, clock):
    bus, chip, start = hand
    start(int_enable=0x00)
    clock.advance(2.005)
    assert fifo_count(bus) == 1024
    assert bus.read_byte_data(ADDR, 0x3A) == 0
    bus.write_byte_data(ADDR, 0x38, 0x11)  # FIFO_OFLOW_EN, DATA_RDY_EN
    clock.advance(0.01)
    assert bus.read_byte_data(ADDR, 0x3A) == 0x11


def test_chip_fifo_reset_device_reset_and_violations(hand, clock):
    bus, chip, start = hand
    start()
    clock.advance(0.105)
    assert fifo_count(bus) == 60
    bus.write_byte_data(ADDR, 0x6A, 0x04)  # FIFO_RESET with FIFO_EN off: fine
    assert fifo_count(bus) == 0 and bus.read_byte_data(ADDR, 0x6A) == 0
    assert chip.violations == 0
    bus.write_byte_data(ADDR, 0x6A, 0x44)  # with FIFO_EN on: not as the register map says
    bus.write_byte_data(ADDR, 0x75, 0x00)  # WHO_AM_I is read-only
    bus.read_i2c_block_data(ADDR, 0x74, 6)  # past the end of the (empty) FIFO
    assert chip.violations == 3
    bus.write_byte_data(ADDR, 0x6B, 0x80)  # DEVICE_RESET
    assert bus.read_byte_data(ADDR, 0x6B) == 0x40 and bus.read_byte_data(ADDR, 0x6A) == 0
    assert chip.sleeping and bus.read_byte_data(ADDR, 0x75) == 0x68


def test_chip_evaluates_only_samples_that_can_still_be_read(clock):
    calls = []
    bus = FakeSMBus()
    chip = bus.attach(FakeMPU6050(source=lambda t: calls.append(t) or (0, 0, 1), clock=clock))
    bus.write_byte_data(ADDR, 0x1A, 1)
    bus.write_byte_data(ADDR, 0x23, 0x08)
    bus.write_byte_data(ADDR, 0x6A, 0x40)
    bus.write_byte_data(ADDR, 0x6B, 0x01)
    clock.advance(3600.0005)  # an hour at 1 kHz
    assert chip.fifo_count == 1024 and len(calls) < 200
    assert chip.samples_produced == 3600000


# --- the driver --------------------------------------------------------------------
def test_dlpf_is_the_widest_bandwidth_under_half_the_rate():
    assert [dlpf_for(r) for r in (500, 250, 200, 125, 100, 50, 40, 25, 20, 10)] == \
        [1, 2, 2, 3, 3, 4, 5, 5, 5, 6]


@pytest.mark.parametrize("range_g", sorted(AFS_SEL))
@pytest.mark.parametrize("rate_hz", RATES)
def test_configuration_is_written_exactly(rig, clock, rate_hz, range_g):
    bus, chip, accel = rig(rate_hz=rate_hz, range_g=range_g)
    assert chip.peek(0x6B) == 0x01  # awake, PLL clock
    assert chip.peek(0x6C) == 0x00
    assert chip.peek(0x19) == 1000 // rate_hz - 1  # SMPLRT_DIV
    assert chip.peek(0x1A) == dlpf_for(rate_hz)  # CONFIG: DLPF on, so 1 kHz / (1 + div)
    assert chip.peek(0x1C) == AFS_SEL[range_g] << 3  # ACCEL_CONFIG
    assert chip.peek(0x23) == 0x08  # FIFO_EN: accelerometer only, 6 bytes a sample
    assert chip.peek(0x6A) == 0x40  # USER_CTRL: FIFO on
    assert chip.peek(0x38) == 0x10  # INT_ENABLE: FIFO overflow
    assert chip.rate_hz == rate_hz
    clock.advance(20.5 / rate_hz)
    assert len(accel.read()) == 20


@pytest.mark.parametrize("range_g", sorted(AFS_SEL))
@pytest.mark.parametrize("rate_hz", [25, 100, 500])
def test_exact_values_round_trip_from_a_recorded_array(rig, clock, rate_hz, range_g):
    lsb = LSB_PER_G[range_g]
    rng = np.random.default_rng(rate_hz + range_g)
    codes = rng.integers(-32768, 32768, size=(40, 3))
    codes[:4] = [[32767, -32768, 0], [1, -1, 0], [-1, 1, lsb], [0, 0, 0]]
    t = clock() + (np.arange(40) + 0.5) / rate_hz
    rows = np.column_stack([t, codes / lsb])
    bus, chip, accel = rig(rate_hz=rate_hz, range_g=range_g, source=rows)
    clock.advance(40.5 / rate_hz)
    assert accel.read() == [tuple(float(c) / lsb for c in row) for row in codes]


@settings(max_examples=200, deadline=None)
@given(g=st.tuples(*[st.floats(-40, 40, allow_nan=False)] * 3),
       range_g=st.sampled_from(sorted(AFS_SEL)))
def test_any_acceleration_reads_as_its_nearest_code(g, range_g):
    clock = FakeClock()
    bus = FakeSMBus()
    bus.attach(FakeMPU6050(source=lambda t: g, clock=clock))
    with MPU6050(bus, range_g=range_g, clock=clock) as accel:
        clock.advance(0.015)
        lsb = LSB_PER_G[range_g]
        expected = tuple(min(max(round(v * lsb), -32768), 32767) / lsb for v in g)
        assert accel.read() == [expected]


@pytest.mark.parametrize("seed", range(4))
def test_every_sample_once_in_order_across_reads_of_varied_timing(rig, clock, seed):
    rng = random.Random(seed)
    rate = rng.choice([25, 50, 100])
    bus, chip, accel = rig(rate_hz=rate)
    got = []
    for _ in range(150):
        # Anything from back-to-back reads to just under the FIFO's 170 samples.
        clock.advance(rng.choice([0.0, 0.0001, rng.uniform(0, 169 / rate)]))
        got += accel.read()
    assert indices(got) == list(range(chip.samples_produced))
    assert accel.overflows == 0 and accel.samples_lost_estimate == 0
    assert accel.samples_read == len(got)


def test_overflow_returns_the_newest_170_aligned_and_counts_the_loss(rig, clock):
    bus, chip, accel = rig(rate_hz=100)
    assert accel.fifo_seconds == pytest.approx(1.7)
    clock.advance(0.205)
    assert indices(accel.read()) == list(range(20))
    clock.advance(5.0)  # 500 more: the FIFO keeps 1024 bytes, 170 samples and a fragment
    assert indices(accel.read()) == list(range(350, 520))
    assert accel.overflows == 1 and accel.samples_discarded == 0
    assert accel.samples_lost_estimate == 330
    clock.advance(0.1)
    assert indices(accel.read()) == list(range(520, 530))
    assert accel.overflows == 1


@pytest.mark.parametrize("seed", range(3))
def test_overflows_at_every_phase_never_return_a_misaligned_sample(seed):
    # Each transaction takes 0.7 ms, so samples (every 10 ms) land between any two of
    # the driver's transactions. Drains come about when the FIFO is exactly full (170
    # samples, 1020 bytes) or just over: a sample arriving between FIFO_COUNT and the
    # first pop then drops 2 bytes and shifts the FIFO under the driver, which must
    # notice at its next count and discard what it read.
    rng = random.Random(seed)
    clock = TickingClock(0.0007)
    bus = FakeSMBus()
    t0 = clock.t
    chip = bus.attach(FakeMPU6050(source=IndexSource(t0, 100), clock=clock))
    accel = MPU6050(bus, rate_hz=100, clock=clock, sleep=clock.advance)
    last = -1
    for _ in range(150):
        clock.advance(rng.uniform(1.66, 1.74))
        got = indices(accel.read())  # decode() checks every sample's alignment
        assert got == list(range(got[0], got[0] + len(got)))  # no gap inside a drain
        assert got[0] > last
        last = got[-1]
    assert accel.samples_discarded > 0  # the hazard did happen, and was caught
    left = chip.fifo_count // 6
    lost = chip.samples_produced - accel.samples_read - left
    assert lost - accel.overflows <= accel.samples_lost_estimate <= lost
    assert chip.violations == 0
    accel.close()


def test_a_fifo_left_misaligned_is_realigned(rig, clock):
    bus, chip, accel = rig()
    clock.advance(0.105)
    bus.read_i2c_block_data(ADDR, 0x74, 2)  # someone else popped 2 bytes of sample 0
    assert indices(accel.read()) == list(range(1, 10))
    assert accel.overflows == 1 and accel.samples_lost_estimate == 1


def test_wrong_chip_id_raises_sensor_not_found_naming_it(clock):
    bus = FakeSMBus(1)
    chip = bus.attach(FakeMPU6050(clock=clock, who_am_i=0x70))
    with pytest.raises(SensorNotFound, match=r"0x68.*WHO_AM_I \(register 0x75\) read 0x70, "
                                             r"expected 0x68 \(0x70 is what an MPU-6500"):
        MPU6050(bus, clock=clock)
    chip.who_am_i = 0x00
    with pytest.raises(SensorNotFound, match="read 0x00"):
        MPU6050(bus, clock=clock)


def test_no_chip_at_the_address_raises_sensor_not_found(clock):
    bus = FakeSMBus(1)
    bus.attach(FakeMPU6050(clock=clock), address=0x69)
    with pytest.raises(SensorNotFound, match=r"0x68.*nothing answers.*AD0"):
        MPU6050(bus, clock=clock, sleep=clock.advance)
    MPU6050(bus, address=0x69, clock=clock).close()


def test_transient_nacks_are_retried_transparently(rig, clock):
    bus, chip, accel = rig()
    clock.advance(0.505)
    bus.fail_next(5)  # INT_STATUS: five NACKs, the sixth try works
    bus.fail_next(2, after=4)  # and two in the middle of the drain
    got = indices(accel.read())
    assert len(got) >= 50 and got == list(range(len(got)))
    assert accel.i2c_errors == 7 and accel.i2c_failures == 0
    assert accel.overflows == 0 and accel.samples_discarded == 0


def test_a_flaky_bus_loses_nothing(rig, clock):
    bus, chip, accel = rig(rate_hz=100, bus_kwargs={"seed": 11})
    bus.fail_rate = 0.15
    got = []
    for _ in range(200):
        clock.advance(1.0)
        got += accel.read()
    assert indices(got) == list(range(len(got)))
    assert len(got) >= chip.samples_produced - 170
    assert accel.i2c_errors > 300 and accel.overflows == 0


def test_a_dead_bus_raises_sensor_bus_error_well_within_10_s(rig, clock):
    bus, chip, accel = rig()
    clock.advance(0.505)
    bus.fail_next(1000, after=5)  # the wire comes off during the drain
    start, real = clock(), time.monotonic()
    with pytest.raises(SensorBusError, match=r"MPU-6050 at I2C address 0x68.*failed 6 time"):
        accel.read()
    assert clock() - start < 10
    assert time.monotonic() - real < 1
    bus.clear_faults()
    clock.advance(0.05)
    # What was popped before it died comes first, nothing missing.
    assert indices(accel.read()) == list(range(chip.samples_produced))


@pytest.mark.parametrize("kwargs, allowed", [
    ({"rate_hz": 30}, "10, 20, 25, 40, 50, 100, 125, 200, 250, 500"),
    ({"rate_hz": 1000}, "10, 20, 25"), ({"rate_hz": 100.5}, "10, 20, 25"),
    ({"range_g": 1}, "2, 4, 8, 16"), ({"range_g": "2"}, "2, 4, 8, 16")])
def test_unsupported_rate_or_range_is_a_value_error_naming_the_allowed_values(kwargs, allowed):
    bus = FakeSMBus()
    bus.attach(FakeMPU6050())
    with pytest.raises(ValueError, match=allowed):
        MPU6050(bus, **kwargs)
    assert bus.transactions == 0


def test_a_whole_float_rate_is_taken_as_its_int(rig):
    bus, chip, accel = rig(rate_hz=50.0, range_g=4.0)
    assert accel.rate_hz == 50 and isinstance(accel.rate_hz, int)
    assert chip.peek(0x19) == 19 and chip.peek(0x1C) == 1 << 3


def test_close_leaves_an_injected_bus_open_and_a_bus_number_is_opened_and_closed(
        rig, monkeypatch, clock):
    bus, chip, accel = rig()
    with accel:
        pass
    accel.close()
    assert accel.closed and not bus.closed
    with pytest.raises(ValueError, match="closed"):
        accel.read()

    opened = []

    def smbus(number):
        opened.append(FakeSMBus(number, chips=[FakeMPU6050(clock=clock)]))
        return opened[-1]

    monkeypatch.setattr(smbus2, "SMBus", smbus)
    with MPU6050(3, clock=clock) as accel:
        clock.advance(0.015)
        assert accel.read() == [(0.0, 0.0, 1.0)]
        assert opened[0].bus == 3 and not opened[0].closed
    assert opened[0].closed
    accel.close()
