"""The MPU-6050 driver against the register-level fake, and the fake against the register map.

What both accelerometer drivers share is checked on both in ``test_accelerometers.py``,
whose rig and fake clock these tests use; here is what is the MPU-6050's own, above
all its realignment after an overflow. The overflow-alignment tests also use a clock
that ticks at every look, so that samples arrive between the driver's transactions
the way they do on a real bus.
"""

import random

import numpy as np
import pytest

from sensors.mpu6050 import AFS_SEL, MPU6050, RATES, dlpf_for
from simulator.i2c_bus import FakeSMBus
from simulator.mpu6050_chip import FakeMPU6050
from tests.test_accelerometers import MPU, FakeClock, rig_fixture
from tests.test_accelerometers import clock as clock_fixture
from vocabulary.errors import SensorGlitch

ADDR = 0x68
LSB = 1 / 16384  # at +-2 g
indices = MPU.indices


class TickingClock(FakeClock):
    """Time moves on by *tick* at every look: each I2C transaction takes a while."""

    def __init__(self, tick, t=1000.0):
        super().__init__(t)
        self.tick = tick

    def __call__(self):
        self.t += self.tick
        return self.t


def unpack(raw):
    return [tuple(v * LSB for v in row) for row in np.frombuffer(bytes(raw), ">i2").reshape(-1, 3)]

clock = clock_fixture  # a FakeClock
#: rig(rate_hz=100, range_g=2, source=IndexSource, **driver_kwargs) -> (bus, chip, accel)
rig = rig_fixture(MPU)


# --- the fake chip against the register map, driven by hand -------------------------
@pytest.fixture
def hand(clock):
    """A fake at 100 Hz with its FIFO collecting accelerometer samples, by hand."""
    bus = FakeSMBus(1)
    chip = bus.attach(FakeMPU6050(source=MPU.source(clock(), 100), clock=clock))

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
    chip = bus.attach(FakeMPU6050(source=MPU.source(t0, 100), clock=clock))
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


def test_a_whole_float_rate_is_taken_as_its_int(rig):
    bus, chip, accel = rig(rate_hz=50.0, range_g=4.0)
    assert accel.rate_hz == 50 and isinstance(accel.rate_hz, int)
    assert chip.peek(0x19) == 19 and chip.peek(0x1C) == 1 << 3



def test_an_impossible_fifo_count_warns_and_the_fifo_is_read_at_the_next_call(rig, clock, monkeypatch):
    bus, chip, accel = rig()
    clock.advance(0.105)
    get = chip._get
    monkeypatch.setattr(chip, "_get", lambda reg: 0xFF if reg == 0x72 else get(reg))  # FIFO_COUNTH
    with pytest.warns(SensorGlitch, match=r"FIFO_COUNT read \d+ twice \(at most 1024\)") as record:
        assert accel.read() == []
    assert record[0].filename == __file__  # blamed on whoever called read()
    monkeypatch.undo()
    assert indices(accel.read()) == list(range(10))
    assert accel.overflows == 0
