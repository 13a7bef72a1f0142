"""The bottle detector on small synthetic traces, one hard case each."""

from __future__ import annotations

import numpy as np
import pytest

from sensors.bottle_detector import BottleDetector, BottleParams, BottleState
from vocabulary.events import Drink, Refill

T0 = 1_764_000_000.0


class Trace:
    """A tiny scripted bottle trace: the scale reading with noise, spikes, creep, drift.

    ``truth`` collects the events the script implies: ``(type, t, ml)`` with ``t`` the
    moment the bottle came to rest after a put-down.
    """

    def __init__(self, rate=10.0, seed=0, noise=0.5, spikes=0.01, drift_g_per_h=0.0):
        self.rate = rate
        self.rng = np.random.default_rng(seed)
        self.noise, self.spikes, self.drift = noise, spikes, drift_g_per_h
        self.parts: list[np.ndarray] = []
        self.n = 0
        self.weight = 0.0  # what the bottle weighs now
        self.on = False
        self.creep = (0.0, 0.0, 1.0)  # amplitude, start (s), time constant
        self.truth: list[tuple[str, float, float]] = []
        self._before = None

    @property
    def now(self) -> float:
        return self.n / self.rate

    def _add(self, g):
        g = np.asarray(g, float)
        self.parts.append(g)
        self.n += len(g)

    def _times(self, seconds):
        return self.now + np.arange(round(seconds * self.rate)) / self.rate

    def _load(self, tt):
        if not self.on:
            return np.zeros_like(tt)
        amp, start, tau = self.creep
        return self.weight + amp * np.exp(-(tt - start) / tau)

    def rest(self, seconds):
        self._add(self._load(self._times(seconds)))
        return self

    def lift(self, press_g=60.0):
        """Grab (pressing down a little), lift off: the scale goes to zero."""
        tt = self._times(0.8)
        x = np.linspace(0, 1, len(tt))
        g = self._load(tt) + press_g * np.sin(np.pi * np.clip(x * 1.6, 0, 1))
        g[x > 0.62] = self.rng.uniform(0, 30, (x > 0.62).sum())
        self._add(g)
        self.on = False
        self._before = self.weight
        return self

    def away(self, seconds):
        return self.rest(seconds)

    def put(self, weight, *, creep=2.0, tau=15.0, handling_s=1.5, hand_press=(0.0, 0.0)):
        """Put the bottle down (ringing for ``handling_s``); optionally a hand keeps
        pressing ``hand_press = (grams, seconds)`` before letting go."""
        self.weight = weight
        tt = self._times(handling_s)
        x = (tt - self.now) / max(handling_s, 1e-9)
        g = weight * np.clip(x * 4, 0, 1) + 80 * np.exp(-3 * x) * np.sin(25 * x) * (x > 0.25)
        self._add(g)
        self.on = True
        press_g, press_s = hand_press
        if press_s:
            tt = self._times(press_s)
            self._add(weight + press_g + 3 * np.sin(tt))
        self.creep = (creep, self.now, tau)
        if self._before is not None:
            net = self._before - weight
            if abs(net) >= 10:
                self.truth.append(("drink" if net > 0 else "refill", self.now, abs(net)))
        return self

    def knock(self, grams=150.0):
        tt = self._times(1.0)
        x = (tt - self.now)
        self._add(self._load(tt) + grams * np.exp(-4 * x) * np.sin(30 * x))
        return self

    def object_on(self, grams, seconds):
        """Something (a phone, keys) rests on the bottle for a while."""
        tt = self._times(0.5)
        self._add(self._load(tt) + grams * np.linspace(0, 1, len(tt)) + 20 * np.sin(40 * (tt - tt[0])))
        tt = self._times(seconds)
        self._add(self._load(tt) + grams)
        tt = self._times(0.5)
        self._add(self._load(tt) + grams * np.linspace(1, 0, len(tt)))
        return self

    def item_on_scale(self, grams, seconds):
        """Keys or a phone set on the empty scale while the bottle is away."""
        assert not self.on
        tt = self._times(0.4)
        self._add(grams * np.linspace(0, 1, len(tt)) + 15 * np.sin(30 * (tt - tt[0])))
        self._add(np.full(round(seconds * self.rate), grams))
        self._add(grams * np.linspace(1, 0, round(0.4 * self.rate)))
        return self

    def render(self):
        g = np.concatenate(self.parts) if self.parts else np.zeros(0)
        t = np.arange(len(g)) / self.rate
        g = g + self.drift * t / 3600 + self.rng.normal(0, self.noise, len(g))
        hit = np.flatnonzero(self.rng.random(len(g)) < self.spikes)
        g[hit] = self.rng.choice([-1, 1], len(hit)) * self.rng.uniform(50, 8000, len(hit))
        double = hit[self.rng.random(len(hit)) < 0.3] + 1
        double = double[double < len(g)]
        g[double] = self.rng.uniform(-3000, 8000, len(double))
        return T0 + t, g


def detect(t, g, chunk=None, **kw):
    det = BottleDetector(**kw)
    events = []
    if chunk is None:
        events += det.feed(t, g)
    else:
        for i in range(0, len(t), chunk):
            events += det.feed(t[i : i + chunk], g[i : i + chunk])
    return events + det.finish()


def as_tuples(events):
    return [("drink" if isinstance(e, Drink) else "refill", e.t - T0, e.ml) for e in events]


def assert_matches(events, truth, *, t_tol=4.0, ml_tol=2.0):
    got = as_tuples(events)
    assert len(got) == len(truth), f"detected {got}\nexpected {truth}"
    for (kind, t, ml), (k2, t2, ml2) in zip(got, truth):
        assert kind == k2, (got, truth)
        assert abs(t - t2) <= t_tol, (got, truth)
        assert abs(ml - ml2) <= ml_tol, (got, truth)


def day_of_sips(rate=10.0, seed=0, **kw):
    tr = Trace(rate=rate, seed=seed, **kw)
    tr.put(950.0).rest(300)
    for w in (800.0, 760.0, 741.0, 600.0):
        tr.lift().away(6).put(w).rest(240)
    tr.lift().away(150).put(1050.0).rest(300)  # refill
    tr.lift().away(4).put(1000.0).rest(200)
    return tr


# -- basic behaviour ---------------------------------------------------------------


def test_drinks_and_refill_are_reported_with_their_volume_and_rest_time():
    tr = day_of_sips()
    assert_matches(detect(*tr.render()), tr.truth)


@pytest.mark.parametrize("rate", [1.0, 5.0, 10.0, 80.0])
def test_any_sample_rate_from_1_to_80_hz(rate):
    tr = day_of_sips(rate=rate, seed=3)
    t_tol = 4.0 + 5.0 / rate  # the spike median spans 5 samples
    assert_matches(detect(*tr.render()), tr.truth, t_tol=t_tol)


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_chunking_does_not_change_the_events(chunk):
    tr = day_of_sips(seed=5)
    t, g = tr.render()
    assert detect(t, g, chunk=chunk) == detect(t, g)


def test_random_chunk_sizes_give_identical_events():
    tr = day_of_sips(seed=6, rate=80.0)
    t, g = tr.render()
    whole = detect(t, g)
    rng = np.random.default_rng(0)
    det, events, i = BottleDetector(), [], 0
    while i < len(t):
        n = int(rng.integers(1, 500))
        events += det.feed(t[i : i + n], g[i : i + n])
        i += n
    assert events + det.finish() == whole


def test_density_converts_grams_to_millilitres():
    tr = day_of_sips(seed=2)
    events = detect(*tr.render(), density_g_per_ml=1.25)
    truth = [(k, t, ml / 1.25) for k, t, ml in tr.truth]
    assert_matches(events, truth)


# -- the hard cases ----------------------------------------------------------------


def test_heavy_noise_and_spikes_make_no_events_on_a_resting_bottle():
    tr = Trace(noise=1.0, spikes=0.02, seed=11).put(700.0).rest(4 * 3600)
    assert detect(*tr.render()) == []


def test_zero_drift_during_long_empty_periods_is_tracked():
    tr = Trace(seed=12, drift_g_per_h=4.0)
    tr.away(3 * 3600).put(900.0).rest(600)  # starts empty; drift of 12 g meanwhile
    tr.lift().away(8).put(870.0).rest(600)
    tr.lift().away(4 * 3600).put(700.0).rest(600)  # a long empty period with drift
    events = detect(*tr.render())
    assert_matches(events, tr.truth, ml_tol=2.0)
    assert all(e.ml > 20 for e in events)


def test_creep_after_placing_is_left_to_settle():
    tr = Trace(seed=13, noise=0.3)
    tr.put(800.0, creep=3.0, tau=20.0).rest(400)
    for w in (785.0, 772.0, 740.0):
        tr.lift().away(5).put(w, creep=3.0, tau=20.0).rest(300)
    assert_matches(detect(*tr.render()), tr.truth, ml_tol=1.0)


def test_negative_creep_is_also_settled():
    tr = Trace(seed=14, noise=0.3)
    tr.put(800.0, creep=-3.0, tau=25.0).rest(400)
    for w in (785.0, 772.0):
        tr.lift().away(5).put(w, creep=-3.0, tau=25.0).rest(300)
    assert_matches(detect(*tr.render()), tr.truth, ml_tol=1.0)


def test_hand_still_pressing_after_put_down_is_not_the_rest():
    tr = Trace(seed=15).put(900.0).rest(300)
    tr.lift().away(5)
    tr.put(820.0, hand_press=(250.0, 4.0)).rest(300)  # truth t: when the hand let go
    tr.lift().away(5)
    tr.put(800.0, hand_press=(-200.0, 3.0)).rest(300)  # lifting a little before letting go
    assert_matches(detect(*tr.render()), tr.truth)


def test_a_hand_pressing_on_a_resting_bottle_is_no_event():
    tr = Trace(seed=16).put(900.0).rest(100)
    tr.object_on(400.0, 2.0).rest(100).object_on(120.0, 8.0).rest(100)
    assert detect(*tr.render()) == []


def test_a_knock_is_no_event():
    tr = Trace(seed=17).put(900.0).rest(100).knock(300).rest(100).knock(900).rest(100)
    assert detect(*tr.render()) == []


def test_a_lift_without_drinking_is_no_event():
    tr = Trace(seed=18).put(900.0).rest(300)
    tr.lift().away(8).put(897.0).rest(300)  # net 3 g: evaporation, a drop
    tr.lift().away(20).put(900.0).rest(300)
    tr.lift().away(3).put(894.0).rest(300)  # 6 g: still under the 8 mL floor
    assert_matches(detect(*tr.render()), tr.truth)
    assert tr.truth == []


def test_a_long_carry_with_several_sips_is_one_event_at_the_return():
    tr = Trace(seed=19, drift_g_per_h=3.0).put(1000.0).rest(600)
    tr.lift().away(75 * 60).put(640.0).rest(600)
    events = detect(*tr.render())
    assert_matches(events, tr.truth, ml_tol=1.5)
    assert len(events) == 1 and isinstance(events[0], Drink)


def test_a_refill_is_reported_as_a_refill():
    tr = Trace(seed=20).put(300.0).rest(300).lift().away(180).put(950.0).rest(300)
    events = detect(*tr.render())
    assert_matches(events, tr.truth)
    assert isinstance(events[0], Refill)


@pytest.mark.parametrize("grams,seconds", [(180.0, 5.0), (60.0, 30.0), (220.0, 60.0)])
def test_an_object_resting_on_the_bottle_is_no_event(grams, seconds):
    tr = Trace(seed=21).put(800.0).rest(200).object_on(grams, seconds).rest(200)
    tr.lift().away(5).put(750.0).rest(20).object_on(grams, seconds).rest(200)
    tr.lift().away(5).put(700.0).rest(200)
    assert_matches(detect(*tr.render()), tr.truth)


def test_a_phone_left_on_the_bottle_for_minutes_then_taken_off():
    tr = Trace(seed=33).put(900.0).rest(300).object_on(180.0, 200.0).rest(60)
    tr.lift().away(6).put(800.0).rest(300)
    assert_matches(detect(*tr.render()), tr.truth)


def test_a_phone_put_on_the_bottle_just_after_the_return_and_left_there():
    tr = Trace(seed=34).put(900.0).rest(300).lift().away(6).put(820.0).rest(12)
    tr.object_on(180.0, 400.0).rest(300)
    assert_matches(detect(*tr.render()), tr.truth)


@pytest.mark.parametrize("sip", [10.0, 12.0, 15.0, 20.0, 25.0])
def test_small_sips_are_reported(sip):
    tr = Trace(seed=int(sip), noise=1.0).put(700.0).rest(300)
    tr.lift().away(4).put(700.0 - sip).rest(300)
    tr.lift().away(4).put(700.0 - 2 * sip).rest(300)
    assert_matches(detect(*tr.render()), tr.truth, ml_tol=1.0)


def test_trace_starting_with_the_bottle_on_the_scale():
    tr = Trace(seed=22).put(850.0, handling_s=0.0, creep=0.0).rest(600)
    tr.lift().away(5).put(800.0).rest(300)
    assert_matches(detect(*tr.render()), tr.truth)


def test_trace_starting_with_the_scale_empty():
    tr = Trace(seed=23).away(1800).put(850.0).rest(600)  # first put-down: no event
    tr.lift().away(5).put(800.0).rest(300)
    events = detect(*tr.render())
    assert_matches(events, tr.truth)


def test_quick_sip_lifted_for_two_seconds():
    tr = Trace(seed=24).put(850.0).rest(300).lift().away(1.2).put(820.0).rest(300)
    assert_matches(detect(*tr.render()), tr.truth)


def test_lift_right_after_put_down_still_measures_both_drinks():
    tr = Trace(seed=25, noise=0.3).put(850.0, creep=1.0).rest(300)
    tr.lift().away(5).put(800.0, creep=1.0).rest(8)
    tr.lift().away(5).put(760.0, creep=1.0).rest(300)
    assert_matches(detect(*tr.render()), tr.truth, ml_tol=2.0)


def test_event_is_emitted_once_settled_not_only_at_finish():
    tr = Trace(seed=26).put(850.0).rest(300).lift().away(5).put(800.0).rest(300)
    t, g = tr.render()
    det = BottleDetector()
    events = det.feed(t, g)
    assert len(events) == 1
    assert det.finish() == []


def test_a_drink_is_emitted_as_the_bottle_leaves_again_not_once_the_scale_is_at_rest():
    # fed a reading at a time, as the live scale does: the drink before a lift is certain
    # as soon as the scale reads its zero, while the bottle is still in the air
    tr = Trace(seed=28, spikes=0.0).put(850.0).rest(30).lift().away(5).put(800.0).rest(10)
    lifted = tr.now
    tr.lift().away(20)
    t, g = tr.render()
    det = BottleDetector()
    emitted_at = None
    for i in range(len(t)):
        if det.feed(t[i : i + 1], g[i : i + 1]):
            emitted_at = t[i] - T0
            break
    assert emitted_at is not None
    # the lift's readings reach the zero at 0.5 s and the median lags two readings;
    # waiting for the empty scale to be at rest would take another second and more
    assert lifted < emitted_at <= lifted + 1.0
    assert_matches(detect(t, g, chunk=1), tr.truth)


def test_missing_readings_and_data_gaps_are_survived():
    tr = Trace(seed=27).put(850.0).rest(300).lift().away(5).put(800.0).rest(300)
    t, g = tr.render()
    g[1000:1003] = np.nan
    keep = (t - T0 < 100) | (t - T0 > 130)  # 30 s of no data while the bottle rests
    assert_matches(detect(t[keep], g[keep]), tr.truth)


def test_keys_set_on_the_empty_scale_during_a_carry_are_not_the_bottle():
    tr = Trace(seed=29).put(900.0).rest(300).lift().away(200)
    tr.item_on_scale(110.0, 40.0).away(120).item_on_scale(230.0, 8.0).away(300)
    tr.put(650.0).rest(300)
    events = detect(*tr.render())
    assert_matches(events, tr.truth)
    assert len(events) == 1


def test_picked_up_again_soon_after_a_big_drink_gives_two_drinks():
    # the bottle comes back much lighter than ever, rests 15 s, and is lifted again: it
    # looks like keys on the empty scale until it comes back again
    for second in (260.0, 300.0, 330.0):
        tr = Trace(seed=30).put(900.0).rest(300)
        tr.lift().away(25).put(330.0).rest(15)
        tr.lift().away(6).put(second).rest(300)
        assert_matches(detect(*tr.render()), tr.truth)


def test_a_burst_of_three_spikes_at_a_low_rate_is_not_a_rest():
    for rate in (1.0, 2.0):
        tr = Trace(rate=rate, seed=31, spikes=0.0).put(700.0).rest(600)
        tr.lift().away(30).put(600.0).rest(600)
        t, g = tr.render()
        i = round(200 * rate)
        g[i : i + 3] = [-1296.3, -557.7, -3781.2]  # three in a row: three equal medians
        g[i + 300 : i + 303] = [18.0, 9.0, 14.0]  # and a burst that reads like an empty scale
        assert_matches(detect(t, g), tr.truth, t_tol=10.0)


def test_zero_drift_while_the_bottle_stands_still_does_not_hide_a_lift():
    tr = Trace(seed=32, drift_g_per_h=8.0).put(900.0).rest(5 * 3600)  # 40 g of drift
    tr.lift().away(30).put(700.0).rest(300)
    tr.lift().away(600).put(650.0).rest(300)
    assert_matches(detect(*tr.render()), tr.truth)


def test_a_simulated_day_is_scored_well():
    from simulator.bottle_scenario import plan_day

    plan = plan_day(8.0, seed=3)
    t, g = plan.render(10.0, seed=3)
    det = BottleDetector()
    events = det.feed(t, g) + det.finish()
    truth = plan.truth
    assert truth
    hits = 0
    for e in truth:
        near = [d for d in events if type(d) is type(e) and abs(d.t - e.t) <= 10]
        hits += bool(near) and abs(near[0].ml - e.ml) <= 5
    assert hits >= 0.9 * len(truth)
    assert len(events) <= len(truth) + 1


# -- state ---------------------------------------------------------------------------


def test_state_follows_the_bottle():
    tr = Trace(seed=28, noise=0.3, spikes=0.0).put(850.0, creep=0.0).rest(300)
    t, g = tr.render()
    det = BottleDetector(params=BottleParams(tare_g=350.0))
    det.feed(t, g)
    s = det.state
    assert isinstance(s, BottleState)
    assert s.present and s.settled
    assert s.bottle_g == pytest.approx(850.0, abs=1.0)
    assert s.contents_g == pytest.approx(500.0, abs=1.0)
    assert s.last_t == t[-1]
    det.feed(t[-1] + np.arange(1, 101) / 10, np.full(100, 0.4))
    s = det.state
    assert not s.present and s.zero_g == pytest.approx(0.4, abs=0.5)


def test_empty_feed_and_finish_twice_are_harmless():
    det = BottleDetector()
    assert det.feed([], []) == []
    assert det.finish() == []
    assert det.finish() == []


# -- the accuracy benchmark's scoring ------------------------------------------------


def test_score_matches_same_type_within_tolerance_one_to_one():
    from benchmarks.bottle_accuracy import score

    truth = [Drink(100.0, 50.0), Refill(500.0, 400.0), Drink(900.0, 20.0)]
    detected = [Drink(104.0, 51.0), Drink(106.0, 50.0), Drink(502.0, 400.0), Drink(911.0, 20.0)]
    s = score(truth, detected, tol_s=10)
    assert (s["tp"], s["fp"], s["fn"]) == (1, 3, 2)
    assert s["precision"] == pytest.approx(0.25) and s["recall"] == pytest.approx(1 / 3)
    assert s["vol_err_median_ml"] == pytest.approx(1.0)
    assert s["daily_total_err_pct"] == pytest.approx((521.0 - 70.0) / 70.0 * 100)
