"""What the ADXL345 and MPU-6050 drivers share, checked on both against their register-level
fakes; and the rig both chips' own test modules use.

Everything runs on a fake clock shared by the chip and the driver (the driver's retry
``sleep`` advances it, so retries cost simulated time as they would real time): exact,
instant and deterministic. Times are chosen mid-period, so that float rounding at a
sample boundary cannot matter. Chip-specific behaviour (register values, overflow
semantics, the MPU-6050's realignment) is in ``test_adxl345.py`` and ``test_mpu6050.py``.
"""

import errno
import random
import time
from dataclasses import dataclass

import numpy as np
import pytest
import smbus2
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors.adxl345 import ADXL345, RANGE_BITS
from sensors.mpu6050 import LSB_PER_G, MPU6050
from simulator.adxl345_chip import FakeADXL345
from simulator.i2c_bus import FakeSMBus
from simulator.mpu6050_chip import FakeMPU6050
from vocabulary.errors import SensorBusError, SensorError, SensorNotFound


class FakeClock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t

    def advance(self, dt):
        self.t += dt


class IndexSource:
    """Sample k (0 the first after sampling starts at *t0*) carries k in its x and y codes.

    x and y codes are ``k % span - span // 2`` and ``k // span % span - span // 2`` at
    *lsb* g per code, z is 1 g: :meth:`decode` gets k back, and a sample that is
    misread, misaligned (bytes of two samples), repeated or invented shows.
    """

    def __init__(self, t0, rate_hz, *, lsb, span):
        self.t0, self.rate, self.lsb, self.span = t0, rate_hz, lsb, span

    def __call__(self, t):
        k = round((t - self.t0) * self.rate) - 1
        half, lsb = self.span // 2, self.lsb
        return ((k % self.span - half) * lsb, (k // self.span % self.span - half) * lsb, 1.0)

    def decode(self, sample):
        x, y, z = (round(v / self.lsb) for v in sample)
        assert z == round(1 / self.lsb), f"misaligned or corrupt sample {sample}"
        half = self.span // 2
        return (y + half) * self.span + (x + half)


@dataclass(frozen=True)
class Chip:
    """One accelerometer as the shared tests see it."""

    name: str
    driver: type
    fake: type
    address: int  # the default
    other_address: int  # the one the address pin selects instead
    address_hint: str  # what "nothing answers" says about the address pin (a regex)
    lsb_per_g: dict  # range_g -> codes per g
    bits: dict  # range_g -> bits of a code
    full_at: int  # samples in the FIFO at which the chip reports an overflow
    span: int  # of IndexSource's codes at +-2 g
    id_kwarg: str  # the fake's constructor argument for its id register
    wrong_ids: tuple  # (id another chip answers, what the error then says: a regex)
    bad_settings: tuple  # (constructor kwargs, allowed values the error names)

    def __repr__(self):
        return self.name

    def source(self, t0, rate_hz):
        return IndexSource(t0, rate_hz, lsb=1 / self.lsb_per_g[2], span=self.span)

    def indices(self, samples):
        return [self.source(0.0, 1.0).decode(s) for s in samples]

    def full(self, range_g):
        """Codes on each side of 0 at *range_g*: they run from -full to full - 1."""
        return 1 << (self.bits[range_g] - 1)


ADXL = Chip(
    "adxl345", ADXL345, FakeADXL345, 0x53, 0x1D, "0x1D with it high",
    lsb_per_g={g: 256 for g in RANGE_BITS}, bits={g: 10 + b for g, b in RANGE_BITS.items()},
    full_at=32, span=1000, id_kwarg="chip_id",
    wrong_ids=((0x00, r"0x53.*DEVID \(register 0x00\) read 0x00, expected 0xE5$"),
               (0x68, r"read 0x68, expected 0xE5 \(0x68 is what an MPU-6050 answers: use "
                      r"sensors\.mpu6050\.MPU6050\)")),
    bad_settings=(({"rate_hz": 10}, "25, 50, 100, 200, 400"),
                  ({"rate_hz": 800}, "25, 50, 100, 200, 400"),
                  ({"rate_hz": "100"}, "25, 50"), ({"rate_hz": True}, "25, 50"),
                  ({"range_g": 3}, "2, 4, 8, 16"), ({"range_g": 32}, "2, 4, 8, 16"),
                  ({"range_g": None}, "2, 4")))
MPU = Chip(
    "mpu6050", MPU6050, FakeMPU6050, 0x68, 0x69, "AD0 low, 0x69 with AD0 high",
    lsb_per_g=LSB_PER_G, bits={g: 16 for g in LSB_PER_G},
    full_at=170, span=20000, id_kwarg="who_am_i",
    wrong_ids=((0x70, r"0x68.*WHO_AM_I \(register 0x75\) read 0x70, expected 0x68 "
                      r"\(0x70 is what an MPU-6500 answers\)"),
               (0x00, r"read 0x00, expected 0x68$")),
    bad_settings=(({"rate_hz": 30}, "10, 20, 25, 40, 50, 100, 125, 200, 250, 500"),
                  ({"rate_hz": 1000}, "10, 20, 25"), ({"rate_hz": 100.5}, "10, 20, 25"),
                  ({"range_g": 1}, "2, 4, 8, 16"), ({"range_g": "2"}, "2, 4, 8, 16")))
CHIPS = (ADXL, MPU)


def chip_id(value):
    """Test ids: a chip by its name, anything else as pytest names it."""
    return value.name if isinstance(value, Chip) else None


class Rig:
    """``rig(rate_hz=100, range_g=2, source=IndexSource, **driver_kwargs) -> (bus, chip, accel)``.

    A fake bus, the fake *kind* of chip on it and a driver, all on *clock* (the
    driver's retries sleep on it). :meth:`close` (or leaving it as a context manager)
    closes the drivers and checks that none of them broke the chip's protocol.
    """

    def __init__(self, kind, clock):
        self.kind, self.clock, self.made = kind, clock, []

    def __call__(self, rate_hz=100, range_g=2, source=None, clock=None, chip_kwargs=None,
                 bus_kwargs=None, **driver_kwargs):
        clock = self.clock if clock is None else clock
        bus = FakeSMBus(1, **(bus_kwargs or {}))
        source = self.kind.source(clock.t, rate_hz) if source is None else source
        chip = bus.attach(self.kind.fake(source=source, clock=clock, **(chip_kwargs or {})))
        driver_kwargs.setdefault("clock", clock)
        driver_kwargs.setdefault("sleep", clock.advance)
        accel = self.kind.driver(bus, rate_hz=rate_hz, range_g=range_g, **driver_kwargs)
        self.made.append((chip, accel))
        return bus, chip, accel

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        for chip, accel in self.made:
            accel.close()
            # The driver never writes read-only registers nor reads an empty FIFO.
            assert chip.violations == 0, list(chip.violation_log)


def rig_fixture(kind):
    """A ``rig`` fixture for *kind* alone: the chips' own modules make theirs with it."""
    @pytest.fixture
    def rig(clock):
        with Rig(kind, clock) as made:
            yield made
    return rig


@pytest.fixture(params=CHIPS, ids=chip_id)
def kind(request):
    return request.param


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def rig(kind, clock):
    with Rig(kind, clock) as made:
        yield made


# --- values --------------------------------------------------------------------------
@pytest.mark.parametrize("range_g", [2, 4, 8, 16])
@pytest.mark.parametrize("kind, rate_hz", [(ADXL, 25), (ADXL, 100), (ADXL, 400),
                                           (MPU, 25), (MPU, 100), (MPU, 500)], ids=chip_id)
def test_exact_values_round_trip_from_a_recorded_array(rig, kind, clock, rate_hz, range_g):
    full, lsb = kind.full(range_g), 1 / kind.lsb_per_g[range_g]
    rng = np.random.default_rng(rate_hz * range_g)
    codes = rng.integers(-full, full, size=(30, 3))
    codes[:4] = [[full - 1, -full, 0], [1, -1, 0], [-1, 1, kind.lsb_per_g[range_g]], [0, 0, 0]]
    # One row per sample, half a period before its time on the chip's grid.
    t = clock() + (np.arange(30) + 0.5) / rate_hz
    rows = np.column_stack([t, codes * lsb])
    bus, chip, accel = rig(rate_hz=rate_hz, range_g=range_g, source=rows)
    clock.advance(30.5 / rate_hz)
    assert accel.read() == [tuple(float(c) * lsb for c in row) for row in codes]


@pytest.mark.parametrize("range_g", [2, 4, 8, 16])
def test_values_beyond_full_scale_read_as_full_scale(rig, kind, clock, range_g):
    bus, chip, accel = rig(range_g=range_g, source=lambda t: (99.0, -99.0, float("inf")))
    clock.advance(0.015)
    full, lsb = kind.full(range_g), 1 / kind.lsb_per_g[range_g]
    assert accel.read() == [((full - 1) * lsb, -full * lsb, (full - 1) * lsb)]
    assert -full * lsb == -range_g


@pytest.mark.parametrize("kind", CHIPS, ids=chip_id)
@settings(max_examples=200, deadline=None)
@given(g=st.tuples(*[st.floats(-40, 40, allow_nan=False)] * 3),
       range_g=st.sampled_from([2, 4, 8, 16]))
def test_any_acceleration_reads_as_its_nearest_code(kind, g, range_g):
    clock = FakeClock()
    bus = FakeSMBus()
    bus.attach(kind.fake(source=lambda t: g, clock=clock))
    with kind.driver(bus, range_g=range_g, clock=clock) as accel:
        clock.advance(0.015)
        full, per_g = kind.full(range_g), kind.lsb_per_g[range_g]
        expected = tuple(min(max(round(v * per_g), -full), full - 1) / per_g for v in g)
        assert accel.read() == [expected]


# --- the FIFO --------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
def test_every_sample_once_in_order_across_reads_of_varied_timing(rig, kind, clock, seed):
    rng = random.Random(seed)
    rate = rng.choice([25, 50, 100])
    bus, chip, accel = rig(rate_hz=rate)
    got = []
    for _ in range(150):
        # Anything from back-to-back reads to just under what the chip reports as full.
        clock.advance(rng.choice([0.0, 0.0001, rng.uniform(0, (kind.full_at - 1) / rate)]))
        got += accel.read()
    assert kind.indices(got) == list(range(chip.samples_produced))
    assert accel.overflows == 0 and accel.samples_lost_estimate == 0
    assert accel.samples_read == len(got)


def test_overflow_returns_the_newest_samples_aligned_and_counts_the_loss(rig, kind, clock):
    bus, chip, accel = rig(rate_hz=100)
    kept = kind.driver.FIFO_SAMPLES  # 33 or 170
    assert accel.fifo_seconds == pytest.approx(kept / 100)
    clock.advance(0.205)
    assert kind.indices(accel.read()) == list(range(20))
    clock.advance(10.0)  # 1000 more: the FIFO keeps the newest
    assert kind.indices(accel.read()) == list(range(1020 - kept, 1020))
    assert accel.overflows == 1 and accel.samples_discarded == 0
    assert 1000 - kept - 1 <= accel.samples_lost_estimate <= 1000 - kept  # floor: never more
    clock.advance(0.1)
    assert kind.indices(accel.read()) == list(range(1020, 1030))  # and on it goes
    assert accel.overflows == 1


# --- the chip and its address ------------------------------------------------------------
def test_the_default_address_is_the_chips_own(kind, clock):
    bus = FakeSMBus(1)
    bus.attach(kind.fake(clock=clock))
    for accel in (kind.driver(bus, clock=clock), kind.driver(bus, address=None, clock=clock)):
        assert accel.address == kind.address == kind.fake(clock=clock).address
        accel.close()


@pytest.mark.parametrize("case", [0, 1])
def test_wrong_chip_id_raises_sensor_not_found_naming_it(kind, clock, case):
    wrong, message = kind.wrong_ids[case]
    bus = FakeSMBus(1)
    chip = bus.attach(kind.fake(clock=clock, **{kind.id_kwarg: wrong}))
    with pytest.raises(SensorNotFound, match=message):
        kind.driver(bus, clock=clock)
    assert bus.transactions == 1  # the id register, nothing written
    chip.chip_id = kind.driver.CHIP_ID
    kind.driver(bus, clock=clock).close()


@pytest.mark.parametrize("absent_errno", [errno.EREMOTEIO, errno.ENXIO])
def test_no_chip_at_the_address_raises_sensor_not_found(kind, clock, absent_errno):
    bus = FakeSMBus(1, absent_errno=absent_errno)
    bus.attach(kind.fake(clock=clock), address=kind.other_address)
    with pytest.raises(SensorNotFound, match=f"0x{kind.address:02X}.*nothing answers.*"
                                             f"{kind.address_hint}") as excinfo:
        kind.driver(bus, clock=clock, sleep=clock.advance)
    assert excinfo.value.__cause__.errno == absent_errno
    kind.driver(bus, address=kind.other_address, clock=clock).close()


# --- bus faults --------------------------------------------------------------------------
def test_transient_nacks_are_retried_transparently(rig, kind, clock):
    bus, chip, accel = rig()
    clock.advance(0.105)
    bus.fail_next(4)  # the status register: four NACKs, then fine
    bus.fail_next(3, after=3)  # and three more in the middle of the drain
    got = kind.indices(accel.read())
    # The backoff took (simulated) time, and the chip went on sampling meanwhile.
    assert len(got) >= 10 and got == list(range(len(got)))
    assert accel.i2c_errors == 7 and accel.i2c_failures == 0
    assert accel.overflows == 0 and accel.samples_discarded == 0


def test_a_flaky_bus_loses_nothing(rig, kind, clock):
    bus, chip, accel = rig(rate_hz=100, bus_kwargs={"seed": 7})
    bus.fail_rate = 0.15
    got = []
    for _ in range(200):
        clock.advance(0.6 * accel.fifo_seconds)
        got += accel.read()
    assert kind.indices(got) == list(range(len(got)))
    assert len(got) >= chip.samples_produced - kind.driver.FIFO_SAMPLES
    assert accel.i2c_errors > 500 and accel.overflows == 0


def test_a_dead_bus_raises_sensor_bus_error_well_within_10_s(rig, kind, clock):
    bus, chip, accel = rig()
    clock.advance(0.105)
    bus.stop_answering(kind.address)
    start, real = clock(), time.monotonic()
    with pytest.raises(SensorBusError, match=rf"{kind.driver.CHIP} at I2C address "
                                             rf"0x{kind.address:02X}.*failed 6 time\(s\).*Remote I/O"
                       ) as excinfo:
        accel.read()
    assert clock() - start < 10  # simulated: the retries' backoff (about 0.16 s)
    assert time.monotonic() - real < 1
    assert isinstance(excinfo.value, SensorError) and isinstance(excinfo.value, OSError)
    assert accel.i2c_failures == 1
    bus.answer_again(kind.address)
    assert kind.indices(accel.read()) == list(range(chip.samples_produced))


def test_a_dead_bus_on_the_real_clock(kind):
    bus = FakeSMBus()
    bus.attach(kind.fake())
    accel = kind.driver(bus)
    bus.stop_answering()
    start = time.monotonic()
    with pytest.raises(SensorBusError):
        accel.read()
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("after", [3, 5])
def test_samples_popped_before_the_bus_died_come_with_the_next_read(rig, kind, clock, after):
    bus, chip, accel = rig(rate_hz=25)
    clock.advance(0.5)  # 12 samples
    bus.fail_next(1000, after=after)  # the wire comes off in the middle of the drain
    with pytest.raises(SensorBusError):
        accel.read()
    bus.clear_faults()
    clock.advance(0.05)
    # What was popped before it died comes first, nothing missing.
    assert kind.indices(accel.read()) == list(range(chip.samples_produced))


# --- construction and lifetime -----------------------------------------------------------
@pytest.mark.parametrize("kind, kwargs, allowed", [
    (kind, kwargs, allowed) for kind in CHIPS for kwargs, allowed in kind.bad_settings], ids=chip_id)
def test_unsupported_rate_or_range_is_a_value_error_naming_the_allowed_values(kind, kwargs, allowed):
    bus = FakeSMBus()
    bus.attach(kind.fake())
    with pytest.raises(ValueError, match=allowed):
        kind.driver(bus, **kwargs)
    assert bus.transactions == 0


def test_close_leaves_an_injected_bus_open_is_idempotent_and_stops_reads(rig, kind):
    bus, chip, accel = rig()
    accel.close()
    accel.close()
    assert accel.closed and not bus.closed
    with pytest.raises(ValueError, match="closed"):
        accel.read()
    with kind.driver(bus) as again:
        assert not again.closed
    assert again.closed and not bus.closed


def test_a_bus_number_opens_smbus2_and_close_closes_it(monkeypatch, kind, clock):
    opened = []

    def smbus(number):
        opened.append(FakeSMBus(number, chips=[kind.fake(clock=clock)]))
        return opened[-1]

    monkeypatch.setattr(smbus2, "SMBus", smbus)
    with kind.driver(3, clock=clock) as accel:
        assert [b.bus for b in opened] == [3] and not opened[0].closed
        clock.advance(0.015)
        assert accel.read() == [(0.0, 0.0, 1.0)]
    assert opened[0].closed
    accel.close()
    # A failed constructor closes the bus it opened.
    monkeypatch.setattr(smbus2, "SMBus", lambda n: opened.append(FakeSMBus(n)) or opened[-1])
    with pytest.raises(SensorNotFound, match="bus 1"):
        kind.driver(1, clock=clock, sleep=clock.advance)
    assert opened[-1].closed


def test_a_bus_that_cannot_be_opened_says_why(monkeypatch, kind):
    def smbus(number):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", f"/dev/i2c-{number}")

    monkeypatch.setattr(smbus2, "SMBus", smbus)
    with pytest.raises(SensorBusError, match="raspi-config"):
        kind.driver(1)


def test_a_bus_without_the_smbus_methods_is_a_type_error(kind):
    with pytest.raises(TypeError, match="read_i2c_block_data"):
        kind.driver(object())
