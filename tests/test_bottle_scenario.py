"""The bottle-day generator: deterministic, realistic, and its ground truth exactly right."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.bottle_actions import MAX_NOEVENT_ML, MIN_EVENT_ML
from simulator.bottle_scenario import DEFAULT_START, plan_day, write_trace
from vocabulary.events import Drink, Refill
from vocabulary.traces import read_trace

SEEDS = range(12)


@pytest.fixture(scope="module")
def days():
    return [plan_day(24, seed) for seed in SEEDS]


def lifts(plan):
    return [a for a in plan.annotations if a["type"] == "lift" and a["t_down"] is not None]


def test_the_same_seed_gives_the_same_day_and_trace():
    a, b = plan_day(3, 11), plan_day(3, 11)
    assert [e.to_dict() for e in a.truth] == [e.to_dict() for e in b.truth]
    assert a.annotations == b.annotations
    ta, ga = a.render(10)
    tb, gb = b.render(10)
    assert np.array_equal(ta, tb) and np.array_equal(ga, gb)


def test_different_seeds_give_different_days():
    truths = {json.dumps(plan_day(24, seed).truth_records) for seed in range(5)}
    assert len(truths) == 5
    assert not np.array_equal(plan_day(1, 1).render(10)[1], plan_day(1, 2).render(10)[1])


def test_a_render_seed_varies_only_the_noise():
    plan = plan_day(1, 3)
    _, g1 = plan.render(10, seed=1)
    _, g2 = plan.render(10, seed=2)
    assert not np.array_equal(g1, g2)
    assert np.median(np.abs(g1 - g2)) < 3.0


def test_truth_volume_is_the_true_change_of_what_is_on_the_scale(days):
    for plan in days:
        events = {e.t: e for e in plan.truth}
        for lift in lifts(plan):
            net = plan.settled_at(lift["t_end"]) - plan.settled_at(lift["t"] - 0.01)
            assert net == pytest.approx(lift["net_ml"], abs=1e-6)
            if lift["event"]:
                event = events[lift["t_end"]]
                assert event.ml == pytest.approx(abs(net), abs=1e-6)
                assert isinstance(event, Refill if net > 0 else Drink)
                assert event.contents_ml == pytest.approx(plan.settled_at(lift["t_end"]) - plan.person.empty_g)


def test_after_coming_to_rest_the_reading_is_the_settled_load_plus_creep(days):
    for plan in days[:4]:
        starts = [note["t"] for note in plan.annotations] + [plan.end]
        for lift in lifts(plan):
            before_next = min(t for t in starts if t > lift["t_end"]) - 0.05
            t, clean = plan.render(80, clean=True, span=(lift["t_down"] - 0.5, before_next))
            settled = plan.settled_at(lift["t_end"]) + lift["offset_g"]
            after = t >= lift["t_end"]
            creep = clean[after] - settled
            assert np.abs(creep).max() <= 3.0 + 1e-9  # no handling left: creep only
            assert abs(creep[-1]) <= abs(creep[0]) + 1e-9  # and it relaxes
            if before_next - lift["t_end"] > 600:
                assert abs(creep[-1]) < 0.05
            handling = clean[(t >= lift["t_down"]) & ~after] - settled
            assert np.abs(handling).max() > 3.0  # the put-down itself is visible


def test_every_lift_gets_the_event_its_net_change_calls_for(days):
    kinds = set()
    for plan in days:
        records = {r["t"]: r for r in plan.truth_records}
        for lift in lifts(plan):
            net = abs(lift["net_ml"])
            assert net <= MAX_NOEVENT_ML or net >= MIN_EVENT_ML  # never ambiguous
            assert lift["event"] == (net >= MIN_EVENT_ML)
            if lift["event"]:
                record = records[round(lift["t_end"], 3)]
                assert record["kind"] == lift["kind"]
                assert record["type"] == ("refill" if lift["net_ml"] > 0 else "drink")
            if lift["kind"] == "nodrink":
                assert not lift["event"]
            kinds.add(lift["kind"])
            assert 0.8 <= lift["t_end"] - lift["t_down"] <= 3.3  # came to rest 1-3 s after put-down
        assert len(records) == len(plan.truth)
    assert {"sip", "resip", "carry", "refill", "refill+drink", "nodrink"} <= kinds


def test_a_quick_second_sip_follows_a_short_but_clear_rest(days):
    for plan in days:
        previous = None
        for lift in lifts(plan):
            if lift["kind"] == "resip":
                assert previous["kind"] == "sip" and 8.0 <= lift["t"] - previous["t_end"] <= 30.0
            previous = lift


def test_no_event_is_smaller_than_ten_ml_and_truth_is_sorted(days):
    for plan in days:
        assert all(e.ml >= 10.0 for e in plan.truth)
        times = [e.t for e in plan.truth]
        assert times == sorted(times)
        assert all(plan.start < t <= plan.end - 60.0 for t in times)


def test_carries_keep_the_bottle_away_and_report_one_drink(days):
    carries = [x for plan in days for x in lifts(plan) if x["kind"] == "carry"]
    assert carries
    for lift in carries:
        assert 600.0 <= lift["t_down"] - lift["t"] <= 5400.0 + 5.0
        assert lift["net_ml"] <= -MIN_EVENT_ML


def test_objects_and_bumps_leave_the_load_unchanged(days):
    seen = set()
    for plan in days:
        for note in plan.annotations:
            if note["type"] in ("object", "bump"):
                seen.add((note["type"], note.get("on")))
                assert plan.settled_at(note["t"] - 0.01) == plan.settled_at(note["t_end"])
                assert not any(note["t"] <= e.t <= note["t_end"] + 1.0 for e in plan.truth)
            if note["type"] == "object":
                assert 5.0 <= note["t_off"] - note["t"] <= 61.0
    assert {("object", "bottle"), ("object", "scale"), ("bump", None)} <= seen


def test_daily_totals_are_realistic():
    totals = np.array([sum(e.ml for e in plan_day(24, seed).truth if e.type == "drink") for seed in range(100, 180)])
    assert 1000 <= np.percentile(totals, 5) and np.percentile(totals, 95) <= 3000
    assert totals.min() >= 600 and totals.max() <= 3500


def test_the_day_has_rhythm_more_events_by_day_than_at_night(days):
    hours = np.array([((e.t % 86400) / 3600) for plan in days for e in plan.truth])
    night = ((hours >= 0) & (hours < 5)).sum()
    assert night <= 0.05 * len(hours)


@pytest.mark.parametrize("interval", [5.0, 6.0, 10.0, 60.0, 75.0])
@pytest.mark.parametrize("on_scale", [True, False, None])
def test_demo_mode_drinks_in_the_first_minute_and_then_every_interval(interval, on_scale):
    for seed in range(4):
        plan = plan_day(2, seed, drink_interval_s=interval, start_on_scale=on_scale)
        times = [plan.start] + [e.t for e in plan.truth]
        assert plan.truth[0].type == "drink" and times[1] - plan.start <= 60.0
        assert max(np.diff(times[1:])) <= interval
        assert len(plan.truth) >= 2 * 3600 / interval - 2
        for lift in lifts(plan):  # short handling
            assert lift["t_down"] - lift["t"] <= 17.0


def test_demo_mode_rejects_an_interval_too_short_to_act_in():
    with pytest.raises(ValueError, match="at least 5 s"):
        plan_day(1, 0, drink_interval_s=4.9)


def test_at_5_s_each_drink_is_a_lift_a_sip_a_put_down_and_a_rest():
    plan = plan_day(0.25, 3, drink_interval_s=5)
    ms = 1e-3  # times are Unix seconds, rounded to the millisecond
    for a, b in zip(lifts(plan), lifts(plan)[1:]):
        assert 1.0 - ms <= a["t_off"] - a["t"] <= 1.2 + ms  # lifted clear of the scale
        assert 0.8 - ms <= a["t_down"] - a["t_off"] <= 1.0 + ms  # a sip
        assert 0.8 - ms <= a["t_end"] - a["t_down"] <= 1.15 + ms  # set down, no hand left on it
        assert b["t"] - a["t_end"] >= 1.6 - ms  # at rest long enough to be weighed


@pytest.mark.parametrize("rate", [10.0, 80.0])
def test_the_detector_finds_every_drink_of_a_5_s_drinker(rate):
    from benchmarks.bottle_accuracy import score
    from sensors.bottle_detector import BottleDetector

    for seed in range(2):
        plan = plan_day(0.25, seed, drink_interval_s=5)
        t, g = plan.render(rate, seed=seed)
        det = BottleDetector()
        result = score(plan.truth, det.feed(t, g) + det.finish(), tol_s=2.0)
        assert result["fp"] == 0 and result["fn"] <= 1, (seed, result["missed"], result["false"])
        assert result["vol_err_median_ml"] <= 1.0


def test_the_config_takes_a_5_s_drinker_and_names_the_key_below_that(tmp_path):
    from device.config import load_config
    from vocabulary.errors import ConfigError

    path = tmp_path / "config.toml"
    path.write_text("[simulator]\ndrink_interval_s = 5\n")
    assert load_config(path)[0].simulator.drink_interval_s == 5
    path.write_text("[simulator]\ndrink_interval_s = 4\n")
    with pytest.raises(ConfigError, match=r"simulator\.drink_interval_s: .*greater than or equal to 5 \(got 4\)"):
        load_config(path)


def test_the_trace_may_start_with_the_bottle_on_or_off_the_scale():
    on = plan_day(2, 4, start_on_scale=True)
    off = plan_day(2, 4, start_on_scale=False)
    assert on.render(10, clean=True)[1][0] == pytest.approx(on.person.empty_g + on.contents_at_start)
    assert off.render(10, clean=True)[1][0] == 0.0
    first = off.annotations[[a["type"] for a in off.annotations].index("place")]
    assert first["kind"] == "first" and not first["event"]
    assert all(e.t > first["t_end"] for e in off.truth)


def test_the_scale_is_sometimes_empty_overnight(days):
    away = [plan for plan in days if plan.person.overnight_away]
    assert away
    for plan in away:
        night = plan.start + 20 * 3600  # 03:00 next morning
        assert plan.settled_at(night) == 0.0


@pytest.mark.parametrize("rate", [10.0, 80.0])
def test_render_at_10_and_80_hz(rate):
    plan = plan_day(1, 8)
    t, g = plan.render(rate)
    assert len(t) == len(g) == 3600 * rate
    assert t[0] == plan.start and np.allclose(np.diff(t), 1 / rate, rtol=0, atol=1e-6)
    _, clean = plan.render(rate, clean=True)
    error = g - clean
    spikes = np.abs(error - np.median(error)) > 15.0
    assert 0.003 <= spikes.mean() <= 0.025
    sd = 1.4826 * np.median(np.abs(np.diff(error[~spikes]))) / np.sqrt(2)
    assert sd == pytest.approx(plan.noise_sd(rate), rel=0.1)
    assert 0.3 <= plan.noise_sd(10) <= 0.8 and plan.noise_sd(10) < plan.noise_sd(80) <= 1.3


def test_drift_is_slow_and_a_few_grams_at_most():
    plan = plan_day(24, 5)
    t, g = plan.render(1.0)
    _, clean = plan.render(1.0, clean=True)
    drift = np.median((g - clean).reshape(-1, 600), axis=1)  # ten-minute medians
    assert np.abs(drift).max() < 6.0
    assert np.abs(np.diff(drift)).max() < 1.0


def test_weight_at_follows_the_render_at_any_clock():
    plan = plan_day(2, 6)
    t, clean = plan.render(10, clean=True)
    picks = np.linspace(0, len(t) - 1, 2000).astype(int)
    live = np.array([plan.weight_at(float(t[i]), rate_hz=80) for i in picks])
    error = live - clean[picks]
    assert np.median(np.abs(error - np.median(error))) < 2.0
    assert abs(np.median(error)) < 3.0  # drift


def test_weight_at_goes_on_past_the_plan_and_extend_continues_the_same_day():
    plan = plan_day(0.5, 2, drink_interval_s=75)
    end = plan.end
    plan.weight_at(end + 3 * 3600)
    assert plan.end > end + 3 * 3600
    assert len(plan.truth) >= 3.4 * 3600 / 75 - 2
    whole, pieces = plan_day(48, 9), plan_day(24, 9).extend(24)
    assert whole.truth_records == pieces.truth_records
    assert np.array_equal(whole.render(1, clean=True)[1], pieces.render(1, clean=True)[1])


def test_trimming_forgets_history_without_changing_what_comes_next():
    plan, twin = plan_day(3, 4, drink_interval_s=60), plan_day(3, 4, drink_interval_s=60)
    cut = plan.start + 3600
    plan.trim(cut)
    assert min(e.t for e in plan.truth) >= cut
    later = np.linspace(cut, plan.end, 500)
    assert [plan._clean_at(x) for x in later] == [twin._clean_at(x) for x in later]
    with pytest.raises(ValueError):
        plan.render(10, span=(plan.start, plan.end))


@pytest.mark.parametrize("rate, decimals", [(10.0, 3), (80.0, 4)])
def test_write_trace_csv_truth_and_annotations(tmp_path, rate, decimals):
    plan = plan_day(1.5, 12)
    csv_path, truth_path = write_trace(plan, tmp_path / "out", rate)
    assert csv_path.name == "bottle.csv" and truth_path.name == "bottle.truth.jsonl"
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "t,grams"
    row = re.compile(rf"^\d+\.\d{{{decimals}}},-?\d+\.\d\d$")
    assert all(row.match(line) for line in lines[1:])
    data = read_trace(csv_path, "bottle")
    t, g = plan.render(rate)
    assert np.allclose(data[:, 0], t, atol=10**-decimals) and np.allclose(data[:, 1], g, atol=0.006)
    truth = [json.loads(line) for line in truth_path.read_text().splitlines()]
    assert truth == plan.truth_records
    assert all(set(r) >= {"type", "t", "ml", "kind"} and r["type"] in ("drink", "refill") for r in truth)
    notes = [json.loads(line) for line in (tmp_path / "out" / "bottle.annotations.jsonl").read_text().splitlines()]
    assert notes[0]["type"] == "scenario" and notes[0]["empty_g"] == plan.person.empty_g


def test_default_start_is_a_monday_morning_in_november():
    assert DEFAULT_START == 1793602800.0  # 2026-11-02 07:00 UTC
    assert plan_day(1, 0).start == DEFAULT_START


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), hours=st.floats(0.5, 30.0), start_hour=st.floats(0.0, 24.0),
       interval=st.sampled_from([None, None, 30.0, 90.0]), on_scale=st.sampled_from([None, True, False]))
def test_truth_invariants_hold_for_any_seed_start_and_mode(seed, hours, start_hour, interval, on_scale):
    start = DEFAULT_START - 7 * 3600 + start_hour * 3600
    plan = plan_day(hours, seed, start=start, drink_interval_s=interval, start_on_scale=on_scale)
    times = [e.t for e in plan.truth]
    assert times == sorted(times) and all(start < t <= plan.end - 60 for t in times)
    for lift in lifts(plan):
        net = plan.settled_at(lift["t_end"]) - plan.settled_at(lift["t"] - 0.01)
        assert abs(net - lift["net_ml"]) < 1e-6
        assert abs(net) <= MAX_NOEVENT_ML or abs(net) >= MIN_EVENT_ML
        assert lift["event"] == (abs(net) >= MIN_EVENT_ML)
    assert sum(lift["event"] for lift in lifts(plan)) == len(plan.truth)
    most = plan.person.empty_g + plan.person.capacity_ml + 240.0  # a full bottle with a phone on it
    assert all(0.0 <= plan.settled_at(t) <= most for t in np.linspace(start, plan.end, 200))
