"""Sensor time: the sensor threads detect on a clock that never steps, and store on the wall clock.

The workers' ``_feed`` is driven here with the real detectors and a real store, on
scripted clocks; tests/test_faults_clock.py steps the wall clock under the whole
daemon (libfaketime).
"""

from __future__ import annotations

import numpy as np
import pytest

from device.health import Health
from device.storage.store import Store
from device.workers.bed_worker import BedWorker
from device.workers.bottle_worker import BottleWorker
from sensors.bottle_detector import BottleDetector
from sensors.calibration import Calibration
from sensors.night_analysis import NightAnalyzer
from sensors.sensor_time import SensorTime
from tests.test_bottle_detector import T0, Trace


class Clocks:
    """A wall clock and a monotonic clock the test moves; ``step`` moves only the wall."""

    def __init__(self):
        self.wall_t, self.mono_t = T0, 100.0

    def advance(self, seconds):
        self.wall_t += seconds
        self.mono_t += seconds

    def step(self, seconds):
        self.wall_t += seconds

    def sensor_time(self):
        return SensorTime(wall=lambda: self.wall_t, mono=lambda: self.mono_t)


def test_sensor_time_follows_the_monotonic_clock_and_notices_steps_not_drift():
    c = Clocks()
    st = c.sensor_time()
    c.advance(30.0)
    assert st.now() == pytest.approx(T0 + 30.0)
    c.step(0.4)  # NTP-sized drift is not a step
    assert st.check() == 0.0 and st.shift == 0.0
    c.step(-3600.0)
    assert st.check() == pytest.approx(-3599.6)
    assert st.now() == pytest.approx(T0 + 30.0)  # sensor time did not move
    assert st.to_wall(st.now()) == pytest.approx(c.wall_t)
    assert st.check() == 0.0 and st.steps == 1


def feed_bottle(tmp_path, step_s):
    """A drink (900 g -> 720 g) fed as the worker feeds it, the wall clock stepped by
    ``step_s`` while the bottle is away; the stored events and when they were stored."""
    trace = Trace(seed=4).rest(60).put(900).rest(60).lift().away(20).put(720).rest(150)
    t, g = trace.render()
    c = Clocks()
    store = Store(tmp_path / f"step{step_s:+.0f}")
    worker = BottleWorker(lambda: None, BottleDetector(), store, Health(),
                          calibration=Calibration(0.0, 1.0, 0.0), rate_hz=trace.rate, sensor_time=c.sensor_time())
    stored_at = None
    for i in range(0, len(t), 5):  # the worker feeds every half second at 10 SPS
        c.advance(0.5)
        if t[i] - T0 == 130.0:  # the bottle is away
            c.step(step_s)
        worker._feed(list(t[i:i + 5]), list(g[i:i + 5]))
        if stored_at is None and store.count_events():
            stored_at = t[i] - T0
    events = list(store.events())
    store.close()
    return trace.truth, events, stored_at


@pytest.mark.parametrize("step_s", [-3600.0, 7200.0])
def test_a_drink_across_a_wall_clock_step_is_stored_as_soon_and_on_the_new_clock(tmp_path, step_s):
    truth, events, stored_at = feed_bottle(tmp_path, step_s)
    _, steady, steady_at = feed_bottle(tmp_path, 0.0)
    (kind, truth_t, ml), = truth
    assert [e["type"] for e in events] == [e["type"] for e in steady] == [kind] == ["drink"]
    assert events[0]["ml"] == steady[0]["ml"] == pytest.approx(ml, abs=5)
    # the time the bottle was put back, on the wall clock as it is after the step
    assert steady[0]["t"] == pytest.approx(T0 + truth_t, abs=2.0)
    assert events[0]["t"] == pytest.approx(steady[0]["t"] + step_s, abs=0.01)
    assert events[0]["id"] == f"drink-{round(events[0]['t'] * 1000)}"
    # stored while sampling goes on, at the same sample as without the step
    assert steady_at is not None and stored_at == steady_at


def test_bed_epochs_after_a_step_move_with_the_wall_clock_and_none_is_lost(tmp_path):
    rate = 25.0
    c = Clocks()
    store = Store(tmp_path)
    worker = BedWorker(lambda: None, NightAnalyzer(rate), store, Health(), rate_hz=rate,
                       sensor_time=c.sensor_time())
    rng = np.random.default_rng(1)
    t = T0 + np.arange(0, 600, 1 / rate)
    xyz = np.tile([0.0, 0.0, 1.0], (len(t), 1)) + rng.normal(0, 0.002, (len(t), 3))
    per_s = int(rate)
    for i in range(0, len(t), per_s):
        c.advance(1.0)
        if i == 300 * per_s:
            c.step(7200.0)
        worker._feed(t[i:i + per_s], xyz[i:i + per_s])
    worker.epoch_writer.flush()
    starts = [row[0] - T0 for row in store.epochs(T0 - 10, T0 + 10_000)]
    before = [s for s in starts if s < 1000]
    after = [s - 7200 for s in starts if s >= 1000]
    # the last epoch is still open (the analyzer closes an epoch when the next one starts)
    assert before and after and before + after == [30.0 * k for k in range(len(starts))] and len(starts) >= 19
    store.close()


@pytest.mark.parametrize("step_s", [-3600.0, 7200.0])
def test_a_samples_age_is_a_duration_that_a_wall_clock_step_does_not_change(step_s):
    # the sensor threads stamp samples on sensor time and notice a step only at their next
    # feed: the age shown in health must not read -3600 s (or 2 h) in between
    wall, mono = [1_800_000_000.0], [50.0]
    health = Health(clock=lambda: wall[0], monotonic=lambda: mono[0])
    health.sample("bed", wall[0])
    mono[0] += 2.0
    wall[0] += 2.0 + step_s
    assert health.snapshot()["bed"]["last_sample_age_s"] == 2.0
    assert health.get("bed").to_dict(mono[0] + 1.0)["last_sample_age_s"] == 3.0
