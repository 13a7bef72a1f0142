"""The HX711 driver against the pin-level emulator, and the emulator against the datasheet.

Emulator-only tests drive its pins by hand on a fake clock: exact and instant. Driver
tests run the pair on the real clock at 80 SPS (a conversion every 12.5 ms) and check
behaviour - values, gains, timing, pins - never timing to the millisecond.
"""

import threading
import time

import pytest
from gpiozero import LED, Device, DeviceClosed, GPIOPinInUse
from gpiozero.pins.mock import MockFactory, MockPin
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors.hx711 import GAINS, HX711, SATURATED_HIGH, SATURATED_LOW, is_saturated
from simulator.hx711_chip import ClockPin, DataPin, FakeHX711
from vocabulary.errors import SensorError, SensorGlitch, SensorNotFound, SensorTimeout

# A loaded machine may preempt the driver with PD_SCK high for more than 60 us. The
# emulator then really powers down, the driver notices, warns SensorGlitch and reads
# again, so the values these tests check still come back. The warning itself is
# checked in test_a_stalled_clock_is_detected_and_the_read_retried (pytest.warns sees
# warnings whatever the filters say).
pytestmark = pytest.mark.filterwarnings("ignore::vocabulary.errors.SensorGlitch")

DOUT, PD_SCK = 5, 6
SPS = 80
PERIOD = 1 / SPS


class Input:
    """The emulator's input, in counts at gain 128, set by the test."""

    def __init__(self, value=0):
        self.value = value

    def __call__(self, t):
        return self.value


class FakeClock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t

    def advance(self, dt):
        self.t += dt


@pytest.fixture
def factory():
    factory = MockFactory()
    yield factory
    factory.close()


@pytest.fixture
def rig(factory):
    """make(gain=..., **chip_kwargs) -> (chip, hx, input) on the real clock."""
    made = []

    def make(gain=128, value=1000, **chip_kwargs):
        chip_kwargs.setdefault("rate_hz", SPS)
        inp = Input(value)
        chip = FakeHX711(factory, DOUT, PD_SCK, source=inp, **chip_kwargs)
        hx = HX711(DOUT, PD_SCK, gain=gain, pin_factory=factory)
        made.append((chip, hx))
        return chip, hx, inp

    yield make
    for chip, hx in made:
        hx.close()
        chip.close()
        # The driver never pulses PD_SCK while DOUT is high (outside a read's pulses
        # 25-27), nor more than 27 times.
        assert chip.violations == 0, list(chip.violation_log)


# --- the emulator, by hand, on a fake clock ----------------------------------------
@pytest.fixture
def hand(factory):
    """A FakeHX711 on a fake clock whose PD_SCK the test drives itself.

    10 SPS: data from t0+0.4 s, then every 0.1 s. Tests look at it mid-period
    (t0+0.45, 0.55, ...) so that float rounding at a period boundary cannot matter.
    """
    clock = FakeClock()
    inp = Input(0)
    chip = FakeHX711(factory, DOUT, PD_SCK, source=inp, rate_hz=10, clock=clock,
                     sleep=clock.advance)
    chip.pd_sck_pin.function = "output"
    chip.pd_sck_pin.state = False
    yield chip, clock, inp
    chip.close()


def pulse(chip, n=1):
    """n short clock pulses (no fake time passes); the DOUT level after each."""
    levels = []
    for _ in range(n):
        chip.pd_sck_pin.state = True
        chip.pd_sck_pin.state = False
        levels.append(int(chip.dout_pin.state))
    return levels


def test_chip_settles_four_periods_after_power_on(hand):
    chip, clock, _ = hand
    clock.advance(0.399)
    assert chip.dout_pin.state  # still settling (datasheet: 400 ms at 10 SPS)
    clock.advance(0.002)
    assert not chip.dout_pin.state


def test_chip_shifts_msb_first_in_twos_complement_and_25th_pulse_pulls_dout_high(hand):
    chip, clock, inp = hand
    clock.advance(0.45)
    for value in (0x123456, -2, SATURATED_LOW):
        inp.value = value
        assert not chip.dout_pin.state
        bits = pulse(chip, 25)
        assert bits[:24] == [int(b) for b in format(value & 0xFFFFFF, "024b")]
        assert bits[24] == 1  # DOUT back high until the next conversion
        clock.advance(0.1)
    assert chip.violations == 0


@pytest.mark.parametrize("pulses, mode, expected", [
    (25, ("A", 128), 4000), (26, ("B", 32), -250), (27, ("A", 64), 2000)])
def test_chip_pulse_count_selects_the_input_of_the_next_conversion(factory, pulses, mode, expected):
    clock = FakeClock()
    chip = FakeHX711(factory, DOUT, PD_SCK, source=Input(4000), source_b=Input(-1000),
                     rate_hz=80, clock=clock)
    chip.pd_sck_pin.function = "output"
    clock.advance(0.051)
    pulse(chip, pulses)  # this conversion was made at A-128 after power-on
    assert chip.next_input == mode
    clock.advance(PERIOD)
    word = int("".join(map(str, pulse(chip, 25)[:24])), 2)
    assert word - (word >> 23 << 24) == expected
    assert chip.violations == 0


def test_chip_powers_down_after_60_us_high_and_wakes_at_a128_after_settling(hand):
    chip, clock, _ = hand
    clock.advance(0.45)
    pulse(chip, 27)  # select A-64
    assert chip.next_input == ("A", 64)
    chip.pd_sck_pin.state = True
    clock.advance(59e-6)
    assert not chip.powered_down
    clock.advance(2e-6)
    assert chip.powered_down
    assert chip.dout_pin.state
    clock.advance(1.0)  # conversions would have completed, but it is powered down
    assert chip.dout_pin.state
    chip.pd_sck_pin.state = False
    assert chip.resets == 1 and chip.next_input == ("A", 128)
    clock.advance(0.399)
    assert chip.dout_pin.state
    clock.advance(0.002)
    assert not chip.dout_pin.state
    assert chip.violations == 0


def test_chip_powered_down_mid_read_drops_the_read(hand):
    chip, clock, inp = hand
    inp.value = 77
    clock.advance(0.45)
    pulse(chip, 10)
    chip.stall(pulse=11, seconds=100e-6)  # sleep=clock.advance: the host is "preempted"
    pulse(chip, 1)
    assert chip.resets == 1 and chip.dout_pin.state
    clock.advance(0.401)
    bits = pulse(chip, 25)
    assert int("".join(map(str, bits[:24])), 2) == 77


def test_chip_counts_protocol_violations(hand):
    chip, clock, _ = hand
    pulse(chip)  # DOUT high: nothing to read
    assert chip.violations == 1
    clock.advance(0.45)
    pulse(chip, 28)  # one too many
    assert chip.violations == 2
    assert "no conversion ready" in chip.violation_log[0]


def test_chip_faults_stick_dout_and_healing_resumes_conversions(hand):
    chip, clock, inp = hand
    inp.value = 0x5A5A5
    chip.fault = "no_response"
    clock.advance(0.95)
    assert chip.dout_pin.state
    chip.fault = "dout_low"
    assert pulse(chip, 25) == [0] * 25
    chip.fault = None
    assert chip.dout_pin.state  # healed: the next conversion on its grid
    clock.advance(0.1)
    assert int("".join(map(str, pulse(chip, 25)[:24])), 2) == 0x5A5A5
    assert chip.violations == 0
    with pytest.raises(ValueError, match="fault"):
        chip.fault = "smoke"


def test_chip_spikes_flip_one_high_bit(factory):
    clock = FakeClock()
    chip = FakeHX711(factory, DOUT, PD_SCK, source=Input(1000), rate_hz=80, clock=clock,
                     spike_rate=1.0, seed=1)
    chip.pd_sck_pin.function = "output"
    clock.advance(0.051)
    for _ in range(20):
        word = int("".join(map(str, pulse(chip, 25)[:24])), 2)
        flipped = word ^ 1000
        assert bin(flipped).count("1") == 1 and flipped >= 1 << 12
        clock.advance(PERIOD)
    assert chip.spikes == 20


def test_pin_histories_stay_bounded_over_many_edges(hand):
    chip, clock, _ = hand
    clock.advance(0.45)
    for _ in range(4000):  # 100,000 PD_SCK edges: 2,000 reads
        pulse(chip, 25)
        clock.advance(0.1)
    assert chip.reads == 4000
    assert len(chip.pd_sck_pin.states) <= ClockPin.history
    assert len(chip.dout_pin.states) <= DataPin.history


def test_emulator_refuses_pins_that_already_exist_as_plain_mock_pins(factory):
    factory.pin(DOUT)
    with pytest.raises(ValueError, match="before"):
        FakeHX711(factory, DOUT, PD_SCK)
    assert isinstance(factory.pin(DOUT), MockPin)


# --- the driver against the emulator, real clock ------------------------------------
@pytest.fixture(scope="module")
def shared_rig():
    """One pair for the many examples of the property test (module scope: fast)."""
    factory = MockFactory()
    inp = Input(0)
    chip = FakeHX711(factory, DOUT, PD_SCK, source=inp, rate_hz=SPS)
    hx = HX711(DOUT, PD_SCK, pin_factory=factory)
    yield chip, hx, inp
    hx.close()
    chip.close()
    factory.close()
    assert chip.violations == 0, list(chip.violation_log)


@settings(max_examples=60, deadline=None)
@given(value=st.integers(min_value=SATURATED_LOW, max_value=SATURATED_HIGH))
def test_read_raw_returns_exactly_the_code_clocked_out(shared_rig, value):
    chip, hx, inp = shared_rig
    inp.value = value
    assert hx.read_raw() == value


@pytest.mark.parametrize("value", [
    0, 1, -1, 2, -2, 0x000100, 0x123456, -0x123456, 0x400000, -0x400000,
    SATURATED_HIGH - 1, SATURATED_LOW + 1, SATURATED_HIGH, SATURATED_LOW])
def test_read_raw_extremes_and_bit_patterns(shared_rig, value):
    chip, hx, inp = shared_rig
    inp.value = value
    assert hx.read_raw() == value


def test_out_of_range_input_reads_as_saturation_codes(shared_rig):
    chip, hx, inp = shared_rig
    inp.value = 1e12
    high = hx.read_raw()
    inp.value = float("-inf")
    low = hx.read_raw()
    assert (high, low) == (0x7FFFFF, -0x800000)
    assert is_saturated(high) and is_saturated(low)


def test_is_saturated():
    assert is_saturated(0x7FFFFF) and is_saturated(-0x800000) and is_saturated(0x800000)
    assert not any(is_saturated(v) for v in (0, 1, -1, 0x7FFFFE, -0x7FFFFF))


# A-128 reads the input, A-64 half of it, B-32 a quarter of channel B's input.
EXPECTED = {128: 1000, 64: 500, 32: -300}


@pytest.mark.parametrize("gain", sorted(GAINS))
def test_each_gain_from_the_first_read_and_after_power_up(rig, gain):
    chip, hx, _ = rig(gain=gain, value=1000, source_b=Input(-1200))
    # The chip wakes at A-128: other gains cost exactly one discarded conversion.
    wasted = 0 if gain == 128 else 1
    for _ in range(2):
        reads, stretches = chip.reads, hx.clock_stretches
        assert hx.read_raw() == EXPECTED[gain]
        assert hx.read_raw() == EXPECTED[gain]
        if hx.clock_stretches == stretches:  # a preempted read legitimately costs more
            assert chip.reads - reads == 2 + wasted
        hx.power_down()
        assert chip.powered_down
        hx.power_up()
        assert chip.next_input == ("A", 128)


def test_power_down_holds_pd_sck_high_until_power_up(rig):
    chip, hx, _ = rig()
    hx.power_down()
    hx.power_down()  # idempotent
    assert hx.powered_down and chip.pd_sck_pin.state
    time.sleep(0.05)
    assert chip.powered_down and chip.pd_sck_pin.state
    with pytest.raises(SensorError, match="power_up") as excinfo:
        hx.read_raw()
    assert not isinstance(excinfo.value, SensorTimeout)
    hx.power_up()
    assert not chip.pd_sck_pin.state and not chip.powered_down
    assert hx.read_raw() == 1000


@pytest.mark.parametrize("gain", [128, 64])
def test_timeout_raises_not_early_leaves_clock_low_and_next_read_works(rig, gain):
    chip, hx, inp = rig(gain=gain, value=2468)
    hx.read_raw()
    chip.fault = "no_response"
    start = time.monotonic()
    with pytest.raises(TimeoutError) as excinfo:
        hx.read_raw(timeout=0.3)
    assert time.monotonic() - start >= 0.3
    assert isinstance(excinfo.value, SensorTimeout)
    assert chip.pd_sck_pin.state is False
    chip.fault = None
    assert hx.read_raw() == (2468 if gain == 128 else 1234)


def test_waiting_does_not_spin_the_cpu(rig):
    chip, hx, _ = rig()
    chip.fault = "no_response"
    cpu = time.process_time()
    with pytest.raises(SensorTimeout):
        hx.read_raw(timeout=0.5)
    # Polling every 2 ms costs a few percent; a busy loop would cost ~0.5 s.
    assert time.process_time() - cpu < 0.25


def test_stuck_low_dout_is_reported_and_a_healed_chip_reads_again(rig):
    chip, hx, _ = rig(value=-4321)
    chip.fault = "dout_low"
    with pytest.raises(SensorNotFound, match="stayed low"):
        hx.read_raw(timeout=0.5)
    chip.fault = None
    assert hx.read_raw() == -4321


def test_a_stalled_clock_is_detected_and_the_read_retried(rig):
    chip, hx, _ = rig(value=31337)
    hx.read_raw()
    resets, stretches = chip.resets, hx.clock_stretches
    chip.stall(pulse=5, seconds=0.002)  # the host "preempted" with PD_SCK high
    with pytest.warns(SensorGlitch, match="bit 5"):
        assert hx.read_raw() == 31337
    assert hx.clock_stretches > stretches
    assert chip.resets > resets  # the emulated chip really powered down


def test_a_stall_after_the_data_bits_keeps_the_value_and_the_gain(rig):
    chip, hx, _ = rig(gain=64, value=-800)
    assert hx.read_raw() == -400
    chip.stall(pulse=26, seconds=0.002)
    assert hx.read_raw() == -400  # all 24 bits were in
    assert hx.read_raw() == -400  # the chip reset to A-128: the driver discarded one


@pytest.mark.parametrize("rate", [10, 80])
def test_readings_arrive_at_about_the_chip_rate(rig, rate):
    chip, hx, _ = rig(rate_hz=rate)
    hx.read_raw()
    n = 5 if rate == 10 else 12
    start = time.monotonic()
    values = [hx.read_raw() for _ in range(n)]
    elapsed = time.monotonic() - start
    assert values == [1000] * n
    # Each read waits for a new conversion, so n reads span at least n-1 periods.
    assert (n - 1) / rate * 0.9 <= elapsed < n / rate * 3 + 1.0


def test_a_driver_told_the_rate_sleeps_through_conversions_and_skips_none(factory):
    chip = FakeHX711(factory, DOUT, PD_SCK, source=lambda t: round(t * SPS), rate_hz=SPS)
    with HX711(DOUT, PD_SCK, pin_factory=factory, rate_hz=SPS) as hx:
        hx.read_raw()
        looks = chip.dout_pin.looks
        values = [hx.read_raw() for _ in range(24)]
        polls = chip.dout_pin.looks - looks - 25 * len(values)  # minus 24 bits and 1 check a read
        stretches = hx.clock_stretches
    chip.close()
    # Every conversion in turn (the source counts them), none skipped, except where a
    # loaded host stalled the clock and the driver reset the chip (it then settles).
    steps = [b - a for a, b in zip(values, values[1:])]
    assert sum(step != 1 for step in steps) <= stretches, steps
    # ... and DOUT looked at about twice a conversion instead of every 2 ms of it
    # (a 12.5 ms period: six looks or more without the rate). A slow host looks less;
    # a reset chip settles for about 5 periods, of which the driver sleeps through 3.2.
    assert polls <= 3 * len(values) + 20 * stretches
    assert chip.violations == 0


@pytest.mark.parametrize("rate_hz", [0, -10, 5000])
def test_rate_must_be_a_conversion_rate(factory, rate_hz):
    with pytest.raises(ValueError, match="rate_hz"):
        HX711(DOUT, PD_SCK, pin_factory=factory, rate_hz=rate_hz)


def test_close_is_idempotent_releases_pins_and_a_new_driver_works(factory, rig):
    chip, hx, _ = rig(value=555)
    with pytest.raises(GPIOPinInUse):
        HX711(DOUT, PD_SCK, pin_factory=factory)
    with pytest.raises(GPIOPinInUse):
        LED(PD_SCK, pin_factory=factory)
    hx.close()
    hx.close()
    assert hx.closed
    with pytest.raises(DeviceClosed):
        hx.read_raw()
    with pytest.raises(DeviceClosed):
        hx.power_down()
    with HX711(DOUT, PD_SCK, pin_factory=factory) as again:
        assert again.read_raw() == 555


def test_context_manager_returns_the_driver_and_closes_it(factory):
    chip = FakeHX711(factory, DOUT, PD_SCK, source=Input(42), rate_hz=SPS)
    with HX711(DOUT, PD_SCK, gain=32, pin_factory=factory) as hx:
        assert isinstance(hx, HX711) and hx.gain == 32
        assert hx.read_raw() == 10  # channel B defaults to channel A's input: 42 / 4
    assert hx.closed
    assert chip.violations == 0
    chip.close()


def test_close_wakes_a_read_waiting_in_another_thread(rig):
    chip, hx, _ = rig()
    chip.fault = "no_response"
    errors = []

    def reader():
        try:
            hx.read_raw(timeout=10)
        except Exception as e:  # noqa: BLE001 - the test inspects it
            errors.append(e)

    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(0.05)
    hx.close()
    thread.join(5)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], DeviceClosed)


def test_default_pin_factory_is_gpiozeros(factory, monkeypatch):
    monkeypatch.setattr(Device, "pin_factory", factory)
    chip = FakeHX711(factory, DOUT, PD_SCK, source=Input(-7), rate_hz=SPS)
    with HX711(DOUT, PD_SCK) as hx:
        assert hx.read_raw() == -7
    chip.close()


@pytest.mark.parametrize("gain", [0, 1, 16, 100, "128", None])
def test_invalid_gain_names_the_allowed_values(factory, gain):
    with pytest.raises(ValueError, match="128, 64 or 32"):
        HX711(DOUT, PD_SCK, gain=gain, pin_factory=factory)
    # and the pins were not taken
    HX711(DOUT, PD_SCK, pin_factory=factory).close()


def test_dout_and_pd_sck_must_differ(factory):
    with pytest.raises(ValueError, match="different"):
        HX711(DOUT, DOUT, pin_factory=factory)


def test_closing_after_the_factory_still_releases_the_reservation():
    factory = MockFactory()
    hx = HX711(DOUT, PD_SCK, pin_factory=factory)
    factory.close()  # pins closed under the driver's feet
    hx.close()
    assert hx.closed
    LED(PD_SCK, pin_factory=factory).close()  # the pin is free again


def test_a_pin_layer_too_slow_for_the_chip_times_out_and_says_why(rig):
    chip, hx, _ = rig()
    hx.read_raw()
    chip.stall(pulse=3, seconds=1e-3, reads=None)  # every read: nothing can be trusted
    with pytest.raises(SensorTimeout, match="reset each time"):
        hx.read_raw(timeout=0.3)
    chip.stall(seconds=0)
    assert hx.read_raw() == 1000
