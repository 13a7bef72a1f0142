"""The night analysis on small scripted nights, one hard case each, at every rate and chip.

:class:`Bed` scripts what a bed-frame accelerometer feels: gravity, the chip's noise and
steps, the breathing and weight (frame tilt) of whoever lies on the bed, and movements
(tapered sines; sharp ones ring the frame). It is deliberately simpler than
:mod:`simulator.night_scenario` (which the accuracy benchmark uses): each test reads
like the night it describes.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sensors.night_analysis import NightAnalyzer, NightWake, analyze_bed, analyze_counts
from sensors.night_features import EpochFeatures, NightFeatures
from sensors.night_periods import PeriodParams, sleep_periods, wake_episodes
from vocabulary.events import Event, Wake

T0 = 1_793_655_000.0  # 21:30 UTC, a multiple of 30 s
MIN = 60.0
CHIPS = {"adxl345": (0.0027, 0.0039), "mpu6050": (0.0026, 1.0 / 16384)}  # noise at 100 Hz, step (g)


class Bed:
    """A scripted night on the bed frame; methods advance the clock and return self."""

    def __init__(self, rate: float = 25.0, chip: str = "adxl345", seed: int = 0):
        self.rate, self.chip = rate, chip
        self.rng = np.random.default_rng(seed)
        self.now = T0
        self.people: dict[str, dict] = {}  # who -> breathing (mg, Hz, direction), tilt
        self.segments: list[tuple[float, float, dict]] = []  # who is on the bed when
        self.moves: list[tuple] = []  # (t0, t1, mg, rise, f, direction, sharp)
        self.marks: dict[str, float] = {}

    # -- occupants -----------------------------------------------------------------
    def _unit(self):
        v = self.rng.normal(size=3)
        return v / np.linalg.norm(v)

    def _occupy(self):
        self.segments.append((self.now, math.inf, {k: dict(v) for k, v in self.people.items()}))
        if len(self.segments) > 1:
            prev = self.segments[-2]
            self.segments[-2] = (prev[0], self.now, prev[2])

    def get_in(self, who="sleeper", breath_mg=2.0, hz=0.22, tilt_mg=4.0, gain=1.0):
        self.move(100 * gain, 3.0, rise=1.0)
        self.people[who] = {"mg": breath_mg * gain, "hz": hz, "dir": self._unit(),
                            "tilt": self._unit() * tilt_mg * gain}
        self._occupy()
        return self.move(80 * gain, 3.0, rise=0.8, gap=2.0)

    def get_out(self, who="sleeper"):
        gain = 0.3 if who == "partner" else 1.0
        self.move(120 * gain, 3.0, rise=0.8)
        self.people.pop(who)
        self._occupy()
        return self.wait(2.0)

    # -- movements -----------------------------------------------------------------
    def move(self, mg, dur, *, rise=0.8, f=None, gap=0.0, sharp=False):
        self.now += gap
        f = f if f is not None else self.rng.uniform(1.0, 4.0)
        self.moves.append((self.now, self.now + dur, mg, rise, f, self._unit(), sharp))
        self.now += dur
        return self

    def wait(self, seconds):
        self.now += seconds
        return self

    def turnover(self, mg=120.0):
        self.move(mg, 5.0, rise=1.2)
        if "sleeper" in self.people:  # a new posture: breathing changes direction
            self.people["sleeper"]["dir"] = self._unit()
            self._occupy()
        return self

    def read(self, minutes):
        end = self.now + minutes * MIN
        while self.now < end:
            self.wait(self.rng.uniform(20, 100)).move(self.rng.uniform(15, 30), 1.0, rise=0.3)
        return self

    def sleep(self, minutes, turn_every=20.0):
        end = self.now + minutes * MIN
        while self.now < end:
            self.wait(min(end - self.now, self.rng.uniform(0.6, 1.4) * turn_every * MIN))
            if self.now < end - 2 * MIN:
                self.turnover(self.rng.uniform(60, 200))
        return self

    def cramp(self, in_bed_s=180.0, out_s=0.0):
        self.marks["wake"] = self.now
        self.move(450, 2.0, rise=0.08, f=4.0, sharp=True)  # the kick
        for _ in range(4):
            self.move(self.rng.uniform(80, 250), 1.0, rise=0.1, f=5.0, gap=self.rng.uniform(0.5, 3), sharp=True)
        end = self.now + in_bed_s
        while self.now < end:  # stretching and flexing the foot without pause
            self.move(self.rng.uniform(30, 100), self.rng.uniform(4, 12), rise=1.0, f=0.8, gap=self.rng.uniform(0.2, 5))
        if out_s:
            self.get_out().wait(out_s).get_in(**self._back())
        self.move(60, 3.0, gap=10.0)  # settling
        self.marks["wake_end"] = self.now
        return self

    def bathroom(self, out_s=300.0):
        self.marks["wake"] = self.now
        self.turnover(60).wait(15).move(50, 2.0, rise=1.0)
        self.get_out().wait(out_s).get_in(**self._back())
        self.move(50, 3.0, gap=15.0)
        self.marks["wake_end"] = self.now
        return self

    def restless(self, minutes=8.0):
        self.marks["wake"] = self.now
        end = self.now + minutes * MIN
        gap = 0.0
        while self.now < end:  # turns and adjustments every 5-35 s
            self.move(self.rng.uniform(40, 150), self.rng.uniform(2, 6), rise=1.0, gap=gap)
            gap = self.rng.uniform(5, 35)
        self.marks["wake_end"] = self.now
        return self

    def _back(self):
        p = self._last_sleeper
        return {"breath_mg": p["mg"], "hz": p["hz"], "tilt_mg": float(np.linalg.norm(p["tilt"]))}

    @property
    def _last_sleeper(self):
        for _, _, people in reversed(self.segments):
            if "sleeper" in people:
                return people["sleeper"]
        return {"mg": 2.0, "hz": 0.22, "tilt": np.ones(3)}

    # -- samples -------------------------------------------------------------------
    def render(self):
        n = int(round((self.now - T0) * self.rate))
        t = T0 + np.arange(n) / self.rate
        mg = np.zeros((n, 3))
        for a, b, people in self.segments:
            i, j = np.searchsorted(t, [a, b])
            tt = t[i:j]
            for who in people.values():
                mg[i:j] += np.outer(who["mg"] * np.sin(2 * np.pi * who["hz"] * tt), who["dir"]) + who["tilt"]
        for a, b, amp, rise, f, d, sharp in self.moves:
            i, j = np.searchsorted(t, [a, b])
            u = t[i:j] - a
            env = np.where(u < rise, 0.5 - 0.5 * np.cos(np.pi * u / rise), 1.0)
            rel = 0.3 * (b - a)
            env *= np.where(b - t[i:j] < rel, 0.5 - 0.5 * np.cos(np.pi * (b - t[i:j]) / rel), 1.0)
            wave = np.sin(2 * np.pi * f * u + np.pi / 2 - 2 * np.pi * f * rise)
            if sharp:
                wave = wave + 0.3 * np.exp(-np.maximum(u - rise, 0) / 0.1) * np.sin(2 * np.pi * 14 * u) * (u > rise)
            mg[i:j] += np.outer(amp * env * wave, d)
        sd100, lsb = CHIPS[self.chip]
        g = np.array([0.05, -0.03, 0.998]) + mg / 1000.0
        g += self.rng.normal(0, sd100 * math.sqrt(self.rate / 100.0), g.shape)
        return t, np.round(g / lsb) * lsb


def night(rate=25.0, chip="adxl345", seed=0, *, middle=None, read_min=0.0, partner=None):
    """Empty bed, in bed, (reading), asleep ~2.5 h with turnovers, ``middle`` (a wake)
    between two halves, the final awakening, out of bed, empty bed."""
    bed = Bed(rate, chip, seed)
    bed.wait(10 * MIN)
    if partner is not None:
        bed.get_in("partner", gain=partner, hz=0.3).wait(5 * MIN)
    bed.get_in(breath_mg=2.0, hz=0.2).wait(30)
    if read_min:
        bed.read(read_min)
    bed.turnover()
    bed.marks["sleep"] = bed.now  # the end of the last movement before sleep
    bed.wait(40).sleep(80)
    if middle is not None:
        bed.wait(6 * MIN)
        middle(bed)
        bed.wait(6 * MIN)
    bed.sleep(80)
    bed.wait(10 * MIN)
    bed.marks["sleep_end"] = bed.now
    for _ in range(5):
        bed.turnover(80).wait(40)
    bed.get_out()
    if partner is not None:
        bed.wait(5 * MIN).get_out("partner")
    bed.wait(40 * MIN)
    return bed


def run(bed, chunk_s=None):
    t, xyz = bed.render()
    if chunk_s is None:
        return analyze_bed(t, xyz, bed.rate)
    an = NightAnalyzer(bed.rate)
    out = []
    step = max(1, int(chunk_s * bed.rate))
    for i in range(0, len(t), step):
        out += an.feed(t[i : i + step], xyz[i : i + step])
    return out + an.finish()


def kinds(events):
    return [e.type for e in events]


RATES_CHIPS = [(r, c) for r in (25.0, 50.0, 100.0) for c in CHIPS]


# -- whole nights ---------------------------------------------------------------------
def test_empty_bed_gives_nothing():
    bed = Bed(50.0).wait(3 * 3600)
    t, xyz = bed.render()
    an = NightAnalyzer(50.0)
    assert an.feed(t, xyz) + an.finish() == []
    records = an.pop_epochs()
    assert len(records) == 360 and an.pop_epochs() == []
    assert all(r.moving_s == 0 and r.activity == 0 for r in records)
    assert np.nanmax([r.presence for r in records]) < 4.5


def test_in_bed_follows_the_bed_as_samples_arrive():
    # what the "In bed" entity shows: the presence of the latest epoch the analyzer decided
    bed = Bed(25.0).wait(10 * MIN)
    got_in = bed.now
    bed.get_in(breath_mg=2.0, hz=0.2).wait(30).turnover().wait(40).sleep(40)
    got_out = bed.now
    bed.get_out().wait(15 * MIN)
    t, xyz = bed.render()
    an = NightAnalyzer(bed.rate)
    assert an.in_bed is None  # nothing decided yet
    seen = []  # (the last sample fed, in_bed then)
    step = int(10 * bed.rate)
    for i in range(0, len(t), step):
        an.feed(t[i : i + step], xyz[i : i + step])
        seen.append((t[min(i + step, len(t)) - 1], an.in_bed))

    def during(a, b):
        return {value for when, value in seen if a <= when < b}

    assert during(T0 + 2 * MIN, got_in) == {False}
    assert during(got_in + 2 * MIN, got_out) == {True}  # about a minute behind
    assert during(got_out + 3 * MIN, bed.now) == {False}  # out: after 90 s without breathing


def test_the_bed_workers_in_bed_is_unknown_once_the_sensor_goes_quiet(tmp_path):
    from device.health import Health
    from device.storage.store import Store
    from device.workers.bed_worker import IN_BED_STALE_S, BedWorker
    from sensors.sensor_time import SensorTime

    mono = [0.0]
    t, xyz = Bed(25.0).wait(2 * MIN).get_in().wait(4 * MIN).render()
    with Store(tmp_path) as store:
        worker = BedWorker(lambda: None, NightAnalyzer(25.0), store, Health(), rate_hz=25.0,
                           sensor_time=SensorTime(wall=lambda: T0 + mono[0], mono=lambda: mono[0]))
        assert worker.in_bed() is None
        for i in range(0, len(t), 25):  # the worker feeds about a second at a time
            mono[0] += 1.0
            worker._feed(t[i : i + 25], xyz[i : i + 25])
        assert worker.in_bed() is True
        mono[0] += IN_BED_STALE_S + 1.0  # a loose wire: no sample since
        assert worker.in_bed() is None


@pytest.mark.parametrize("rate, chip", RATES_CHIPS)
def test_quiet_night_turnovers_are_no_wakes(rate, chip):
    bed = night(rate, chip)
    events = run(bed)
    assert kinds(events) == ["sleep"]
    sleep = events[0]
    assert abs(sleep.start - bed.marks["sleep"]) <= 5.0  # the end of the last movement
    assert abs(sleep.end - bed.marks["sleep_end"]) <= 5.0  # the first movement of the final awakening


def test_reading_in_bed_is_not_sleep():
    bed = night(25.0, read_min=40)
    (sleep,) = run(bed)
    assert abs(sleep.start - bed.marks["sleep"]) <= 5.0


@pytest.mark.parametrize("rate, chip", RATES_CHIPS)
def test_cramp_in_bed(rate, chip):
    bed = night(rate, chip, seed=1, middle=lambda b: b.cramp(in_bed_s=150))
    sleep, wake = run(bed)
    assert isinstance(wake, NightWake) and wake.cramp and wake.score > 0.8
    assert not wake.bed_exit
    assert abs(wake.start - bed.marks["wake"]) <= 1.0  # the kick
    assert abs(wake.end - bed.marks["wake_end"]) <= 2.0  # settled back
    assert sleep.start < wake.start < wake.end < sleep.end
    f = wake.features
    assert f["moving_first_min"] > 0.5 and f["max_jump_mg"] > 200


def test_cramp_walked_off_out_of_bed():
    bed = night(50.0, seed=2, middle=lambda b: b.cramp(in_bed_s=40, out_s=240))
    _, wake = run(bed)
    assert wake.cramp and wake.bed_exit
    assert abs(wake.start - bed.marks["wake"]) <= 1.0


@pytest.mark.parametrize("rate, chip", [(25.0, "adxl345"), (100.0, "mpu6050")])
def test_bathroom_trip_is_a_bed_exit_not_a_cramp(rate, chip):
    bed = night(rate, chip, seed=3, middle=lambda b: b.bathroom(out_s=300))
    _, wake = run(bed)
    assert wake.bed_exit and not wake.cramp and wake.score < 0.2
    assert abs(wake.start - bed.marks["wake"]) <= 1.0
    assert abs(wake.end - bed.marks["wake_end"]) <= 2.0


def test_restless_spell_is_a_wake_not_a_cramp():
    bed = night(50.0, "mpu6050", seed=4, middle=lambda b: b.restless(8))
    _, wake = run(bed)
    assert not wake.cramp and not wake.bed_exit
    assert abs(wake.start - bed.marks["wake"]) <= 1.0


def test_partner_movements_are_no_wakes():
    bed = night(25.0, seed=5, partner=0.35)
    # the partner turns over now and then (attenuated on the sleeper's side)
    for k in range(6):
        t = bed.marks["sleep"] + (25 + 25 * k) * MIN
        bed.moves.append((t, t + 5.0, 50.0, 1.0, 2.0, np.array([0.6, 0.0, 0.8]), False))
    events = run(bed)
    assert kinds(events) == ["sleep"]
    assert abs(events[0].start - bed.marks["sleep"]) <= 5.0


def test_bathroom_trip_with_a_partner_in_bed():
    bed = night(50.0, seed=6, partner=0.3, middle=lambda b: b.bathroom(out_s=240))
    events = run(bed)
    assert kinds(events) == ["sleep", "wake"]
    assert events[1].bed_exit and not events[1].cramp


def _night_without_breathing(seed, middle):
    """A bed that feels no breathing (0.05 mg): the night is found from movement alone."""
    bed = Bed(50.0, "adxl345", seed)
    bed.wait(10 * MIN).get_in(breath_mg=0.05, hz=0.2, tilt_mg=6.0).wait(30).turnover()
    bed.wait(40).sleep(90)
    bed.wait(6 * MIN)
    middle(bed)
    bed.wait(6 * MIN).sleep(90).wait(10 * MIN)
    for _ in range(5):
        bed.turnover(80).wait(40)
    bed.get_out().wait(40 * MIN)
    return bed


def _up_and_back(b):
    b.marks["wake"] = b.now
    b.move(400, 3.0, rise=0.5)  # sitting up and standing: a big movement
    b.get_out().wait(300)
    b.get_in(breath_mg=0.05, hz=0.2, tilt_mg=6.0)  # lying down again, a little elsewhere
    b.move(300, 3.0, rise=0.5)
    b.marks["wake_end"] = b.now


def _two_jolts(b):
    b.move(400, 3.0, rise=0.5).wait(300).move(300, 3.0, rise=0.5)  # the same, staying in bed


def test_without_breathing_time_out_of_bed_shows_in_the_frames_tilt():
    """Movement-only nights: the still minutes out of bed between getting up and lying
    down again look like sleep, but the frame's tilt moves while the weight is off it."""
    events = run(_night_without_breathing(11, _up_and_back))
    assert kinds(events) == ["sleep", "wake"] and events[0].evidence == "movement"
    assert events[1].bed_exit


def test_without_breathing_two_jolts_in_bed_are_no_wake():
    events = run(_night_without_breathing(11, _two_jolts))
    assert kinds(events) == ["sleep"] and events[0].evidence == "movement"


def test_chunking_does_not_change_events():
    bed = night(50.0, seed=7, middle=lambda b: b.cramp(in_bed_s=100, out_s=120))
    t, xyz = bed.render()
    whole = analyze_bed(t, xyz, 50.0)
    rng = np.random.default_rng(0)
    an = NightAnalyzer(50.0)
    pieces, i, records = [], 0, []
    while i < len(t):
        n = int(rng.choice([1, 7, 50, 999, 20_000, 150_000]))
        pieces += an.feed(t[i : i + n], xyz[i : i + n])
        records += an.pop_epochs()
        i += n
    pieces += an.finish()
    records += an.pop_epochs()
    assert pieces == whole and len(whole) == 2
    assert [r.t for r in records] == sorted({r.t for r in records})


def test_a_night_is_emitted_once_the_sleeper_is_up():
    bed = night(25.0, seed=8)
    t, xyz = bed.render()
    an = NightAnalyzer(25.0)
    up = bed.marks["sleep_end"] + 10 * MIN  # out of bed by then
    emitted_at = None
    for i in range(0, len(t), 25 * 60):  # a minute at a time, like the daemon
        if an.feed(t[i : i + 1500], xyz[i : i + 1500]):
            emitted_at = t[min(i + 1499, len(t) - 1)]
            break
    assert emitted_at is not None and up < emitted_at <= up + 35 * MIN


def test_two_nights_two_sleeps():
    a, b = night(25.0, seed=9), night(25.0, seed=10)
    ta, xa = a.render()
    tb, xb = b.render()
    tb = tb - tb[0] + ta[-1] + 6 * 3600  # the next evening
    events = analyze_bed(np.r_[ta, tb], np.r_[xa, xb], 25.0)
    assert kinds(events) == ["sleep", "sleep"]


def test_wake_json_carries_the_features():
    bed = night(25.0, seed=11, middle=lambda b: b.cramp(in_bed_s=120))
    _, wake = run(bed)
    data = json.loads(json.dumps({**wake.to_dict(), "id": wake.id}))
    assert data["type"] == "wake" and data["id"] == f"wake-{round(wake.start * 1000)}"
    assert set(data) >= {"start", "end", "bed_exit", "cramp", "score", "features"}
    assert data["features"]["moving_first_min"] == wake.features["moving_first_min"]
    assert type(Event.from_dict(data)) is Wake  # stored and read back: a plain wake


# -- layers ---------------------------------------------------------------------------
@pytest.mark.parametrize("rate, chip", RATES_CHIPS)
def test_features_empty_and_occupied_bed(rate, chip):
    bed = Bed(rate, chip, seed=12).wait(10 * MIN).get_in(breath_mg=1.5, hz=0.25).wait(10 * MIN)
    t, xyz = bed.render()
    f = NightFeatures(rate)
    ep = EpochFeatures.concat([f.push(t, xyz), f.flush()], 30)
    empty = ep.presence[:19]
    occupied = ep.presence[22:-1]
    assert np.nanmax(empty) < 4.5 < np.nanmin(occupied)
    assert np.all(np.nan_to_num(ep.motion[:19]) < 4)  # noise is no movement
    assert np.nanmedian(ep.breath[22:-1]) == pytest.approx(0.0015, rel=0.5)


def test_wake_episode_rules():
    p = PeriodParams()
    period = (0.0, 10_000.0)
    none = np.zeros(0, bool)
    # a turnover (8 s) and another 70 s later: no wake
    assert wake_episodes(np.array([1000.0, 1078.0]), np.array([1008.0, 1085.0]), np.zeros(2, bool), period, p) == []
    # movements every 30 s for 3 min: one wake from the first movement to the last
    s = np.arange(2000.0, 2180.0, 30.0)
    (ep,) = wake_episodes(s, s + 5, np.zeros(len(s), bool), period, p)
    assert (ep.start, ep.end, ep.bed_exit) == (2000.0, 2155.0, False)
    # getting up, 4 min out of bed, back: one wake with bed exit
    (ep,) = wake_episodes(np.array([3000.0, 3010.0, 3250.0]), np.array([3008.0, 3250.0, 3260.0]),
                          np.array([False, True, False]), period, p)
    assert ep.bed_exit and (ep.start, ep.end) == (3000.0, 3260.0)
    # an empty-bed flicker without movement is nothing
    assert wake_episodes(np.array([4000.0]), np.array([4100.0]), np.array([True]), period, p) == []
    assert wake_episodes(np.zeros(0), np.zeros(0), none, period, p) == []


def test_sleep_period_rules():
    t = T0 + 30.0 * np.arange(600)  # 5 h of epochs
    asleep = np.zeros(600, bool)
    asleep[60:300] = True  # 2 h asleep ...
    asleep[330:480] = True  # ... a 15 min awakening, 75 min more
    assert sleep_periods(t, asleep, 30.0) == [(60, 480)]
    asleep[300:330] = False
    nap = np.zeros(600, bool)
    nap[100:200] = True  # 50 min: a nap, no main sleep period
    assert sleep_periods(t, nap, 30.0) == []


# -- actigraph counts -------------------------------------------------------------------
def test_counts_night_with_gaps_and_a_wake():
    rng = np.random.default_rng(0)
    t = T0 + 30.0 * np.arange(2 * 12 * 60)  # 12 h of 30 s epochs
    c = rng.integers(100, 600, len(t)).astype(float)  # awake
    asleep = slice(120, 1320)  # 10 h asleep
    c[asleep] = rng.choice([0, 0, 0, 0, 2, 5, 12], 1200)
    c[700:706] = [300, 250, 400, 350, 200, 150]  # 3 min of movement: a wake
    c[500:510] = np.nan  # a missing stretch
    keep = np.ones(len(t), bool)
    keep[900:905] = False  # missing rows
    events = analyze_counts(t[keep], c[keep])
    assert kinds(events) == ["sleep", "wake"]
    sleep, wake = events
    assert abs(sleep.start - t[120]) <= 150 and abs(sleep.end - t[1320]) <= 150
    assert wake.start == t[700] and wake.end == t[706]
    assert wake.bed_exit is False and 0 <= wake.score <= 1 and "features" in wake.to_dict()


def _evening_then_night(rng, sofa_min: int):
    """30 s epochs: 3 h of evening activity, ``sofa_min`` still on a sofa, 10 min of
    getting ready for bed (the burst), then 9 h of sleep."""
    sofa, burst = 2 * sofa_min, 20
    c = np.r_[rng.integers(60, 250, 360), rng.choice([0, 0, 3, 8], sofa), rng.integers(200, 500, burst),
              rng.choice([0, 0, 0, 0, 2, 5, 12], 2 * 9 * 60)].astype(float)
    t = T0 + 30.0 * np.arange(len(c))
    return t, c, t[360 + sofa + burst]


@pytest.mark.parametrize("sofa_min", [0, 90])
def test_the_rest_starts_when_the_walk_to_bed_ends(sofa_min):
    """Actiware's REST intervals start after the evening's last burst of activity; a
    still hour on the sofa before it scores as sleep by counts, but the night starts
    after the walk to bed, and the sleep inside its rest."""
    t, c, lie_down = _evening_then_night(np.random.default_rng(sofa_min), sofa_min)
    sleeps = [e for e in analyze_counts(t, c) if e.type == "sleep"]
    assert len(sleeps) == 1
    sleep = sleeps[0]
    assert sleep.rest[0] == lie_down
    assert lie_down <= sleep.start <= lie_down + 15 * 60
    assert sleep.rest[0] <= sleep.start < sleep.end <= sleep.rest[1]


# -- a simulated night (simulator.night_scenario, tuning seeds) --------------------------
@pytest.mark.parametrize("seed", [3, 5])  # 5: a partner shares the bed; two wakes leave it
def test_simulated_night_matches_its_truth(seed):
    from simulator.night_scenario import plan_night

    plan = plan_night(seed)
    t, xyz = plan.render(25.0, seed=1)
    events = analyze_bed(t, xyz, 25.0)
    assert kinds(events) == kinds(plan.truth)
    for got, want in zip(events, plan.truth):
        assert abs(got.start - want.start) <= 2.0 and abs(got.end - want.end) <= 2.0
        if isinstance(want, Wake):
            assert (got.bed_exit, got.cramp) == (want.bed_exit, want.cramp)


@pytest.mark.parametrize("epoch_s", [10, 15, 20, 60])
def test_stored_epochs_of_any_length_leave_the_analysis_alone(epoch_s):
    bed = night(25.0, seed=13, middle=lambda b: b.cramp(in_bed_s=90))
    t, xyz = bed.render()
    base = NightAnalyzer(25.0)
    other = NightAnalyzer(25.0, epoch_s=epoch_s)
    step = 25 * 45
    events = {30: [], epoch_s: []}
    for i in range(0, len(t), step):
        events[30] += base.feed(t[i : i + step], xyz[i : i + step])
        events[epoch_s] += other.feed(t[i : i + step], xyz[i : i + step])
    events[30] += base.finish()
    events[epoch_s] += other.finish()
    assert events[epoch_s] == events[30] and len(events[30]) == 2
    r30, rn = base.pop_epochs(), other.pop_epochs()
    # one record per epoch with data (the last second, a single sample, has too little)
    last_full_second = math.floor(t[-1] - T0) - 1
    assert len(rn) == last_full_second // epoch_s + 1
    assert all(r.t % epoch_s == 0 for r in rn)
    assert sum(r.moving_s for r in rn) == sum(r.moving_s for r in r30)
    assert sum(r.activity for r in rn) == pytest.approx(sum(r.activity for r in r30), abs=1e-4 * len(rn))


def test_the_floors_row_quartiles_are_numpys_quantiles_of_the_finite_values():
    """The still-bed floor takes every epoch's lower quartile at once; it must be what
    np.quantile gives for each row's finite values (rows with gaps and NaN included)."""
    from sensors.night_features import _lower_quartiles

    rng = np.random.default_rng(7)
    for _ in range(300):
        rows = rng.lognormal(size=(6, int(rng.integers(1, 40))))
        rows[rng.random(rows.shape) < 0.3] = np.nan
        counted = np.isfinite(rows).sum(axis=1)
        got = _lower_quartiles(rows, counted)
        for row, value in zip(rows, got):
            finite = row[np.isfinite(row)]
            if len(finite):
                assert value == np.quantile(finite, 0.25)
            else:
                assert np.isnan(value)


def _seconds(seed: int, breath_g: float, *, n: int = 300, twitch_every: int | None = None):
    """``n`` seconds' means (epochs, 30, 3): 0.7 mg of noise per axis, breathing at 0.25 Hz
    along one direction, and a 50 mg twitch every ``twitch_every`` s (not still)."""
    r = np.random.default_rng(seed)
    t = np.arange(n)
    x = r.normal(0, 0.0007, (n, 3)) + breath_g * np.outer(np.sin(2 * np.pi * 0.25 * t + r.uniform(0, 6)),
                                                          [0.2, 0.3, 0.93])
    still = np.ones(n, bool)
    if twitch_every:
        x[::twitch_every] += 0.05
        still[::twitch_every] = False
    return x.reshape(-1, 30, 3), still.reshape(-1, 30)


def test_the_breathing_line_stands_out_of_minutes_of_seconds_and_noise_alone_does_not():
    # the still-gap exit rule of a movement-only night (BedParams.still_exit_*): the
    # sleeper's breathing, too weak for a 30 s epoch, shows in a few minutes' spectrum;
    # an empty bed's noise stays under still_exit_quiet, moving seconds left out
    from sensors.night_analysis import BedParams, _breath_peak

    p = BedParams()
    empty = [_breath_peak(*_seconds(s, 0.0)) for s in range(20)]
    empty_twitching = [_breath_peak(*_seconds(s, 0.0, twitch_every=37)) for s in range(20)]
    breathing = [_breath_peak(*_seconds(s, 0.001)) for s in range(20)]
    breathing_twitching = [_breath_peak(*_seconds(s, 0.001, twitch_every=37)) for s in range(20)]
    assert np.median(empty) < p.still_exit_quiet and np.median(empty_twitching) < p.still_exit_quiet
    assert min(breathing) > 2 * p.still_exit_breath and min(breathing_twitching) > p.still_exit_breath
    assert min(breathing) > p.still_exit_contrast * max(empty)
    assert np.isnan(_breath_peak(*_seconds(0, 0.001, n=30)))  # under a minute: no verdict


def test_the_line_at_the_sleepers_own_rate_tells_weak_breathing_from_an_empty_bed():
    # the second still-gap rule (BedParams.still_exit_line_*): at the rate the whole night
    # gives, 3 min of breathing at 0.5 mg in 0.7 mg of noise stand out; an empty bed's
    # noise, or the line looked for at another rate, does not
    from sensors.night_analysis import BedParams, _line_peak

    p = BedParams()
    w = p.still_exit_line_w
    empty = [_line_peak(*_seconds(s, 0.0, n=180), 0.25, w) for s in range(40)]
    breathing = [_line_peak(*_seconds(s, 0.0005, n=180), 0.25, w) for s in range(40)]
    rate_off = [_line_peak(*_seconds(s, 0.0005, n=180), 0.26, w) for s in range(40)]  # the night's rate 4 % off
    elsewhere = [_line_peak(*_seconds(s, 0.0005, n=180), 0.4, w) for s in range(40)]
    assert np.median(empty) < p.still_exit_line_quiet
    assert np.median(breathing) > p.still_exit_line_contrast * np.median(empty) > p.still_exit_line_clear
    assert np.median(rate_off) > p.still_exit_line_clear
    assert np.median(elsewhere) < p.still_exit_line_quiet
    assert np.isnan(_line_peak(*_seconds(0, 0.0005, n=30), 0.25, w))  # under a minute: no verdict
