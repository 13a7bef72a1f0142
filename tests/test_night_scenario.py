"""The night generator: deterministic, realistic, and its ground truth exactly right."""

from __future__ import annotations

import collections
import json
import re

import numpy as np
import pytest

from simulator.night_scenario import (
    CHIPS, DEFAULT_START, DEMO_EMPTY_S, DEMO_ONSET_S, DEMO_PAD_S, plan_night, write_night,
)
from vocabulary.events import Sleep, Wake
from vocabulary.traces import read_trace

SEEDS = range(16)


@pytest.fixture(scope="module")
def solo():
    return [plan_night(seed, partner=False) for seed in SEEDS]


@pytest.fixture(scope="module")
def shared():
    return [plan_night(seed, partner=True) for seed in SEEDS]


@pytest.fixture(scope="module")
def demo():
    return [plan_night(seed, demo=True, nights=3) for seed in range(6)]


@pytest.fixture(scope="module")
def fitted():
    """Demo nights fitted to ``[simulator] night_minutes`` (what ``crampwatch demo`` plays)."""
    return [plan_night(seed, demo=True, nights=3, night_minutes=minutes)
            for seed, minutes in zip(range(8), (10, 12, 12, 15, 20, 30, 45, 60))]


def sleeper_moves(night):
    return [m for m in night.moves if m.who == "sleeper"]


def overlapping(moves, a, b):
    return [m for m in moves if m.t < b and m.t_end > a]


def deviation_mg(plan, a, b, rate=100, reference=None):
    """Largest distance of the clean reading in [a, b) from ``reference`` (default: its median), mg."""
    t, clean = plan.render(rate, clean=True, span=(a, b))
    ref = np.median(clean, axis=0) if reference is None else reference
    return 1000.0 * np.linalg.norm(clean - ref, axis=1).max()


def breathing_peak(xyz, rate):
    """Peak-to-median of the power spectrum in the breathing band (0.12-0.45 Hz), axes summed."""
    x = xyz - xyz.mean(axis=0)
    n = np.arange(len(x))
    for j in range(3):
        x[:, j] -= np.polyval(np.polyfit(n, x[:, j], 1), n)
    power = (np.abs(np.fft.rfft(x, axis=0)) ** 2).sum(axis=1)
    f = np.fft.rfftfreq(len(x), 1.0 / rate)
    band = (f >= 0.12) & (f <= 0.45)
    return np.convolve(power, np.ones(5) / 5, "same")[band].max() / np.median(power[band])


# ---- determinism ---------------------------------------------------------------------

def test_the_same_seed_gives_the_same_night_and_trace():
    a, b = plan_night(11), plan_night(11)
    assert a.truth_records == b.truth_records and a.annotations == b.annotations
    span = (a.truth[0].start - 600, a.truth[0].start + 600)
    ta, xa = a.render(50, span=span)
    tb, xb = b.render(50, span=span)
    assert np.array_equal(ta, tb) and np.array_equal(xa, xb)


def test_different_seeds_give_different_nights():
    truths = {json.dumps(plan_night(seed).truth_records) for seed in range(6)}
    assert len(truths) == 6
    span = (DEFAULT_START, DEFAULT_START + 60)
    assert not np.array_equal(plan_night(1).render(25, span=span)[1], plan_night(2).render(25, span=span)[1])


def test_a_sample_is_the_same_whatever_span_renders_it(solo):
    plan = solo[2]
    t, whole = plan.render(100, span=(plan.start, plan.start + 7000))
    for a, b in [(0, 1000), (262000, 263000), (262143, 262145), (400001, 700000)]:
        tp, part = plan.render(100, span=(plan.start + a / 100, plan.start + b / 100))
        assert np.array_equal(tp, t[a:b]) and np.array_equal(part, whole[a:b])
    live = np.concatenate([plan.render_span(plan.start + i / 100, plan.start + (i + 32) / 100, 100)[1]
                           for i in range(300000, 300320, 32)])
    assert np.array_equal(live, whole[300000:300320])


def test_a_render_seed_varies_only_the_noise(solo):
    plan = solo[0]
    span = (plan.truth[0].start, plan.truth[0].start + 120)
    _, x1 = plan.render(50, seed=1, span=span)
    _, x2 = plan.render(50, seed=2, span=span)
    assert not np.array_equal(x1, x2)
    assert np.abs(x1.mean(axis=0) - x2.mean(axis=0)).max() < 0.001


# ---- the truth -------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["solo", "shared", "demo", "fitted"])
def test_truth_is_sorted_and_every_wake_lies_inside_its_sleep_period(which, request):
    for plan in request.getfixturevalue(which):
        truth = plan.truth
        assert [e.start for e in truth] == sorted(e.start for e in truth)
        for night in plan.nights:
            sleep, wakes = night.sleep, [w for w, _ in night.wakes]
            assert isinstance(sleep, Sleep) and all(isinstance(w, Wake) for w in wakes)
            assert night.start < night.t_in < sleep.start < sleep.end < night.t_out < night.end
            assert plan.truth_records[0]["in_bed"] == [round(night.t_in, 3), round(night.t_out, 3)] or night.index
            assert len(wakes) <= 4
            previous = sleep.start
            for w in wakes:
                assert previous < w.start < w.end < sleep.end  # inside, no overlaps
                assert w.end - w.start >= plan.rules.min_wake >= 60.0
                assert w.score == (1.0 if w.cramp else 0.0)
                previous = w.end
            if not plan.person.demo:
                assert 6 * 3600 <= sleep.end - sleep.start <= 9.5 * 3600
                assert all(sleep.start + 1800 <= w.start and w.end <= sleep.end - 1800 for w in wakes)


@pytest.mark.parametrize("which", ["solo", "shared", "demo", "fitted"])
def test_wakes_start_at_their_first_movement_and_end_when_the_sleeper_settles(which, request):
    for plan in request.getfixturevalue(which):
        rules = plan.rules
        for night in plan.nights:
            moves = sleeper_moves(night)
            for wake, extra in night.wakes:
                inside = [m for m in moves if wake.start <= m.t and m.t_end <= wake.end]
                assert inside[0].t == wake.start and inside[-1].t_end == wake.end
                assert not any(m.t < wake.start < m.t_end or m.t < wake.end < m.t_end for m in moves)
                assert not overlapping(moves, wake.start - rules.quiet_before, wake.start)  # asleep before
                assert not overlapping(moves, wake.end, wake.end + rules.quiet_after)  # and after
                out = extra.get("out_of_bed")
                assert wake.bed_exit == (out is not None)
                if extra["kind"] == "bathroom":  # always up, and for a while
                    assert out and out[1] - out[0] >= (30.0 if plan.person.demo else 110.0)
                if extra["kind"] == "restless":
                    assert not out
                for a, b in zip(inside, inside[1:]):  # awake in bed: moving at least every 45 s
                    if not (a.bed == -1 and b.bed == 1):
                        assert b.t - a.t_end <= rules.max_awake_gap
                if out:
                    assert [m.bed for m in inside if m.bed] == [-1, 1]
                    assert not overlapping(moves, out[0] + 0.001, out[1] - 0.001)
                others = [m for m in night.moves if m.who != "sleeper" and m.kind != "steps"]
                assert not overlapping(others, wake.start - rules.partner_clear, wake.start)
                assert not overlapping(others, wake.end, wake.end + rules.partner_clear)


@pytest.mark.parametrize("which", ["solo", "shared", "demo", "fitted"])
def test_sleep_runs_from_the_last_movement_before_sleep_to_the_first_of_the_final_awakening(which, request):
    for plan in request.getfixturevalue(which):
        rules = plan.rules
        for night in plan.nights:
            moves, sleep = sleeper_moves(night), night.sleep
            assert any(m.t_end == sleep.start for m in moves) and any(m.t == sleep.end for m in moves)
            assert not overlapping(moves, sleep.start, sleep.start + rules.onset_quiet)
            assert not overlapping(moves, sleep.end - rules.final_quiet, sleep.end)
            before = [m for m in moves if m.t_end <= sleep.start]
            assert before[0].bed == 1  # in bed, awake (reading or not), before falling asleep
            assert all(b.t - a.t_end <= 150.0 for a, b in zip(before, before[1:]))
            after = [m for m in moves if m.t >= sleep.end]
            assert after[-1].bed == -1 and all(b.t - a.t_end <= 120.0 for a, b in zip(after, after[1:]))
            others = [m for m in night.moves if m.who != "sleeper" and m.kind != "steps"]
            for edge in (sleep.start, sleep.end):
                assert not overlapping(others, edge - rules.partner_clear_sleep, edge + rules.partner_clear_sleep)
            assert not overlapping(others, sleep.start, sleep.start + rules.onset_quiet)  # still for everyone
            assert not overlapping(others, sleep.end - rules.final_quiet, sleep.end)


@pytest.mark.parametrize("which", ["solo", "shared", "demo", "fitted"])
def test_movements_while_asleep_are_brief_and_spaced_whoever_makes_them(which, request):
    for plan in request.getfixturevalue(which):
        rules = plan.rules
        for night in plan.nights:
            wakes = [w for w, _ in night.wakes]
            asleep = [m for m in night.moves if night.sleep.start < m.t < night.sleep.end and m.kind != "steps"
                      and not any(w.start <= m.t <= w.end for w in wakes)]
            clusters = []
            for m in asleep:
                if clusters and m.t - clusters[-1][1] < rules.cluster_gap:
                    clusters[-1][1] = max(clusters[-1][1], m.t_end)
                else:
                    clusters.append([m.t, m.t_end])
            assert all(b - a <= rules.max_brief < 60.0 for a, b in clusters)
            if not plan.person.demo:
                assert len(clusters) >= 8  # turnovers every 12-35 min
            if plan.person.partner is not None:
                assert any(m.who == "partner" for m in asleep)


def test_everyone_gets_into_bed_and_out_of_it_again(shared):
    for plan in shared:
        for night in plan.nights:
            for who in ("sleeper", "partner"):
                changes = [m.bed for m in night.moves if m.who == who and m.bed]
                assert changes[0] == 1 and sum(changes) == 0
                assert all(x != y for x, y in zip(changes, changes[1:]))


# ---- the signal ------------------------------------------------------------------------

def test_the_signal_is_quiet_around_wakes_and_a_cramp_strikes_in_its_first_seconds(solo):
    seen = collections.Counter()
    for plan in solo:
        for wake, extra in plan.nights[0].wakes:
            before = deviation_mg(plan, wake.start - 150, wake.start)
            after = deviation_mg(plan, wake.end, wake.end + 150)
            assert before < 12.0 and after < 12.0  # breathing and heartbeat only
            _, still = plan.render(100, clean=True, span=(wake.start - 10, wake.start))
            onset = deviation_mg(plan, wake.start, wake.start + 5, reference=np.median(still, axis=0))
            assert onset >= 0.6 * extra["onset_mg"]
            if wake.cramp:
                assert onset > 30.0
            if wake.cramp and extra["onset"] == "violent":
                assert deviation_mg(plan, wake.start, wake.start + 0.5, reference=np.median(still, axis=0)) > 90.0
            seen[extra["kind"], extra["onset"]] += 1
    assert seen["cramp", "violent"] and seen["bathroom", "gradual"] and seen["restless", "gradual"]


def test_out_of_bed_the_bed_is_empty_and_in_bed_it_breathes(solo):
    checked = 0
    for plan in solo:
        for wake, extra in plan.nights[0].wakes:
            if not wake.bed_exit:
                continue
            a, b = extra["out_of_bed"]
            a, b = a + 15.0, b - 15.0  # past the footsteps
            if b - a < 90.0 or overlapping(plan.nights[0].moves, a, b):
                continue
            assert deviation_mg(plan, a, b, rate=25) < 0.01  # nothing at all on the bed
            _, empty = plan.render(25, span=(a, b))
            _, lying = plan.render(25, span=(wake.end + 10.0, wake.end + 190.0))
            assert breathing_peak(empty, 25) < 4.0 < 6.0 < breathing_peak(lying, 25)
            checked += 1
    assert checked >= 3


@pytest.mark.parametrize("chip", ["adxl345", "mpu6050"])
@pytest.mark.parametrize("rate", [25, 100])
def test_breathing_shows_in_the_spectrum_of_the_occupied_bed_only(chip, rate):
    for seed in range(4):
        plan = plan_night(seed, chip=chip, partner=False)
        moves = plan.nights[0].moves
        asleep = (plan.truth[0].start + 20.0, plan.truth[0].start + 260.0)
        empty = (plan.start + 10.0, plan.start + 250.0)
        assert not overlapping(moves, *asleep) and not overlapping(moves, *empty)
        assert breathing_peak(plan.render(rate, span=asleep)[1], rate) > 8.0
        assert breathing_peak(plan.render(rate, span=empty)[1], rate) < 4.0


def test_a_partner_breathes_on_while_the_sleeper_is_up_and_moves_more_weakly(shared):
    checked = 0
    for plan in shared:
        night, gain = plan.nights[0], plan.person.partner.gain
        assert 0.2 <= gain <= 0.5
        mate = [m for m in night.moves if m.who == "partner"]
        assert mate and max(m.mg for m in mate) <= 0.5 * 300.0 * 1.0001
        p_in = [n for n in night.notes if n["type"] == "in_bed" and n["who"] == "partner"][0]
        for wake, extra in night.wakes:
            if wake.bed_exit:
                a, b = extra["out_of_bed"]
                a, b = a + 15.0, b - 15.0
                if p_in["t"] < a and b < p_in["t_end"] and not overlapping(night.moves, a, b):
                    t, clean = plan.render(25, clean=True, span=(a, b))
                    assert 1000.0 * clean.std(axis=0).max() > 0.05  # not an empty bed
                    checked += 1
    assert checked >= 2


def test_quantisation_step_matches_the_chip():
    for chip, lsb in (("adxl345", 0.0039), ("mpu6050", 1.0 / 16384.0)):
        plan = plan_night(3, chip=chip)
        assert plan.lsb_g == CHIPS[chip].lsb_g == lsb
        t, xyz = plan.render(100, span=(plan.truth[0].start, plan.truth[0].start + 60))
        steps = xyz / lsb
        assert np.allclose(steps, np.rint(steps), atol=1e-6)
        assert np.abs(xyz).max() < 2.0
        assert abs(np.linalg.norm(np.median(xyz, axis=0)) - 1.0) < 0.12  # gravity, offsets, gain


@pytest.mark.parametrize("rate", [25, 50, 100])
def test_renders_at_25_50_and_100_hz_with_chip_noise(rate):
    for chip in CHIPS:
        plan = plan_night(8, chip=chip)
        span = (plan.start + 10.0, plan.start + 130.0)  # the bed still empty
        t, xyz = plan.render(rate, span=span)
        assert len(t) == 120 * rate and xyz.shape == (120 * rate, 3)
        assert t[0] == span[0] and np.allclose(np.diff(t), 1.0 / rate, rtol=0, atol=1e-6)
        _, clean = plan.render(rate, clean=True, span=span)
        noise = 1000.0 * (xyz - clean - (xyz - clean).mean(axis=0)).std(axis=0)
        expected = np.sqrt(plan.noise_mg(rate) ** 2 + 1e6 * plan.lsb_g ** 2 / 12.0)
        assert np.allclose(noise, expected, rtol=0.15)
        assert np.all((plan.noise_mg(rate) >= 1.0) & (plan.noise_mg(rate) <= 4.2))


def test_rejects_an_unknown_chip_and_no_nights():
    with pytest.raises(ValueError, match="chip"):
        plan_night(1, chip="bmi160")
    with pytest.raises(ValueError):
        plan_night(1, nights=0)
    assert plan_night(1, chip="MPU-6050").chip.name == "mpu6050"


# ---- live use, chaining, demo ----------------------------------------------------------

def test_sample_at_follows_the_render(shared):
    plan = shared[1]
    wake = next(e for e in plan.truth if e.type == "wake")
    t, clean = plan.render(50, clean=True, span=(wake.start - 5, wake.start + 25))
    live = np.array([plan.sample_at(float(x), rate_hz=50, noise=False) for x in t])
    assert np.abs(live - clean).max() < 1e-9
    noisy = np.array([plan.sample_at(float(x), rate_hz=50) for x in t[:1500]])
    assert 0.5 < 1000 * (noisy - live[:1500]).std(axis=0).min() < 5.0


def test_nights_chain_a_day_apart_and_extend_plans_the_same_nights():
    whole, pieces = plan_night(5, nights=2), plan_night(5).extend(1)
    assert whole.truth_records == pieces.truth_records
    first, second = [e for e in whole.truth if e.type == "sleep"]
    assert 20 * 3600 < second.start - first.start < 28 * 3600
    day = (whole.nights[0].end, whole.nights[1].start + 60)
    assert deviation_mg(whole, *day, rate=1) < 0.01  # the bed stands empty all day


def test_sample_at_goes_on_for_ever_and_forgets_old_nights():
    plan = plan_night(2, start=1_000_000_000.0, demo=True)
    for i in range(0, 8 * 3600, 5):
        plan.sample_at(1_000_000_000.0 + i, rate_hz=25)
    assert plan.end > 1_000_000_000.0 + 8 * 3600
    assert len(plan.nights) <= 10 and len(plan._grains[0]) < 8000  # a few hours kept, not eight
    assert plan.truth[0].start >= plan.history_start - 3600
    with pytest.raises(ValueError):
        plan.render(25, span=(plan.start, plan.start + 10))


def test_demo_nights_fall_asleep_fast_and_wake_every_few_minutes(demo):
    for plan in demo:
        first = plan.nights[0]
        assert first.sleep.start - plan.start <= 120.0
        wakes = [w for w, _ in first.wakes]
        assert len(wakes) == 4 and wakes[0].cramp and wakes[0].start - plan.start <= 300.0
        assert first.wakes[0][1]["onset"] == "violent"
        starts = [first.sleep.start] + [w.start for w in wakes] + [first.sleep.end]
        assert max(np.diff(starts)) <= 9 * 60
        assert all(w.end - w.start <= 240.0 for w in wakes)
        for a, b in zip(plan.nights, plan.nights[1:]):
            assert 60.0 <= b.t_in - a.t_out <= 200.0
        assert plan.end - plan.start < 3 * 45 * 60


def test_fitted_demo_nights_last_night_minutes_and_keep_the_cramp_first(fitted):
    for plan in fitted:
        length = plan.night_s
        for night in plan.nights:
            wakes = [w for w, _ in night.wakes]
            assert 1 <= len(wakes) <= 4 and wakes[0].cramp and night.wakes[0][1]["onset"] == "violent"
            assert night.end - night.start >= length - 1e-6 and night.end - night.t_out >= DEMO_EMPTY_S - 1e-6
            # as long as asked, or longer only as much as one wake needs
            assert night.end - night.start == pytest.approx(length) or \
                (len(wakes) == 1 and night.end - night.t_out == pytest.approx(DEMO_EMPTY_S))
            assert wakes[0].start - night.sleep.start <= DEMO_ONSET_S + 1e-6
            assert night.sleep.end - wakes[-1].end >= DEMO_PAD_S - 1e-6
            assert night.notes[-1]["type"] in ("morning", "in_bed") and \
                {n["type"] for n in night.notes} >= {"in_bed", "morning"}
            in_bed = next(n for n in night.notes if n["type"] == "in_bed")
            assert abs(in_bed["t_end"] - night.t_out) < 2e-3  # notes are rounded to the millisecond
            assert night.awake[-1][1:] == (night.sleep.end, night.t_out)
            assert len(night.awake) == len(wakes) + 2  # before sleep, each wake, the morning
        for a, b in zip(plan.nights, plan.nights[1:]):
            assert b.start == a.end
    by_minutes = {p.night_s: p for p in fitted}
    assert max(len(n.wakes) for n in by_minutes[60 * 60.0].nights) == 4
    assert all(len(n.wakes) == 1 for n in by_minutes[12 * 60.0].nights)
    assert all(n.end - n.start < 14 * 60 for p in fitted for n in p.nights if p.night_s <= 12 * 60)
    whole = plan_night(3, demo=True, nights=2, night_minutes=12)
    assert whole.truth_records == plan_night(3, demo=True, night_minutes=12).extend(1).truth_records
    with pytest.raises(ValueError, match="demo"):
        plan_night(3, night_minutes=12)


# ---- files -----------------------------------------------------------------------------

def test_write_night_csv_truth_and_annotations(tmp_path):
    plan = plan_night(4, demo=True)
    csv_path, truth_path = write_night(plan, tmp_path / "out", 25)
    assert csv_path.name == "bed.csv" and truth_path.name == "bed.truth.jsonl"
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "t,x,y,z"
    row = re.compile(r"^\d+\.\d{3}(,-?\d\.\d{4}){3}$")
    assert all(row.match(line) for line in lines[1:])
    data = read_trace(csv_path, "bed")
    t, xyz = plan.render(25)
    assert len(data) == len(t)
    assert np.allclose(data[:, 0], t, atol=1e-3) and np.allclose(data[:, 1:], xyz, atol=6e-5)
    truth = [json.loads(line) for line in truth_path.read_text().splitlines()]
    assert truth == plan.truth_records
    assert [r["type"] for r in truth] == ["sleep"] + ["wake"] * 4
    for r in truth[1:]:
        assert set(r) >= {"start", "end", "bed_exit", "cramp", "score", "kind"}
        assert isinstance(r["bed_exit"], bool) and isinstance(r["cramp"], bool)
        assert r["cramp"] == (r["kind"] == "cramp")
    notes = [json.loads(line) for line in (tmp_path / "out" / "bed.annotations.jsonl").read_text().splitlines()]
    assert notes[0]["type"] == "scenario" and notes[0]["chip"] == "adxl345" and notes[0]["rate_hz"] == 25
    assert {"in_bed", "morning"} <= {n["type"] for n in notes}
    assert truth[0]["in_bed"][0] < truth[0]["start"] < truth[0]["end"] < truth[0]["in_bed"][1]


@pytest.mark.parametrize("rate, decimals", [(100, 3), (30, 4)])
def test_time_has_three_or_four_decimals(tmp_path, rate, decimals):
    plan = plan_night(6, demo=True)
    write_night(plan, tmp_path, rate)
    with open(tmp_path / "bed.csv") as fh:
        fh.readline()
        line = fh.readline().strip()
    assert re.match(rf"^\d+\.\d{{{decimals}}},", line)


# ---- many nights -----------------------------------------------------------------------

def test_many_seeds_give_realistic_counts_of_wakes_and_cramps():
    plans = [plan_night(seed) for seed in range(100, 180)]
    per_night = collections.Counter()
    kinds, onsets, cramp_nights, exits = collections.Counter(), collections.Counter(), 0, collections.Counter()
    for plan in plans:
        wakes = plan.truth_records[1:]
        per_night[len(wakes)] += 1
        cramp_nights += any(w["cramp"] for w in wakes)
        for w in wakes:
            kinds[w["kind"]] += 1
            onsets[w["kind"], w["onset"]] += 1
            exits[w["kind"], w["bed_exit"]] += 1
    summary = (f"wakes a night {sorted(per_night.items())}, nights with a cramp {cramp_nights}/80, "
               f"kinds {dict(kinds)}, onsets {dict(onsets)}, bed exits {dict(exits)}")
    print(summary)
    assert 0.25 * 80 <= cramp_nights <= 0.55 * 80, summary
    mean = sum(k * v for k, v in per_night.items()) / 80
    assert 1.0 <= mean <= 2.2 and max(per_night) <= 4 and per_night[0] >= 4, summary
    assert exits["bathroom", True] == kinds["bathroom"] and exits["restless", True] == 0, summary
    assert exits["cramp", True] >= 5 and exits["cramp", False] >= 5, summary  # cramps with and without getting up
    assert onsets["cramp", "gentle"] >= 2 and onsets["bathroom", "sharp"] + onsets["restless", "sharp"] >= 2, summary
    assert sum(p.person.partner is not None for p in plans) >= 15
