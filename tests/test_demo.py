"""The demo shows live nights: time-compressed demo nights, analyzer parameters made for
them, the simulated sleeper pressing the bedside button, and the night on the dashboard.

A demo night takes about 12 minutes of wall time, too long for a test, so the tests here
play whole demo nights through the same parts in a time-lapse: the plan the simulated bed
would play, rendered at the chip's rate and fed second by second (as the bed worker does)
into the analyzer with the bed's parameters, then into a running daemon's store, its
bedside button and its dashboard API.
"""

from __future__ import annotations

import json
import time
import urllib.request

import numpy as np
import pytest

from device.config import Config
from device.daemon import Daemon
from device.hardware.rigs import RealBed
from sensors.night_analysis import BedParams, NightAnalyzer
from simulator.night_scenario import DEMO_EMPTY_S, plan_night
from simulator.rigs import SimulatedBed
from tests.conftest import free_port

SLEEP_START_S, SLEEP_END_S = 30.0, 10.0  # tolerances against the truth (a faint last page turn may be missed)
WAKE_START_S, WAKE_END_S = 5.0, 30.0
SUMMARY_AFTER_UP_S = 180.0  # the night is reported this soon after the sleeper got up


def demo_config(tmp_path, **simulator) -> Config:
    return Config.model_validate({
        "device": {"data_dir": str(tmp_path)}, "simulator": simulator,
        "dashboard": {"enabled": True, "port": free_port()}, "bottle": {"enabled": False}})


def time_lapse(plan, analyzer: NightAnalyzer, rate_hz: float, span=None):
    """Feed the plan's samples second by second; (events, [when each was emitted])."""
    t, xyz = plan.render(rate_hz, span=span)
    step = int(rate_hz)
    events, emitted = [], []
    for i in range(0, len(t), step):
        out = analyzer.feed(t[i:i + step], xyz[i:i + step])
        events += out
        emitted += [float(t[min(i + step, len(t)) - 1])] * len(out)
    return events, emitted


def assert_agrees_with_truth(events, truth):
    assert [e.type for e in events] == [e.type for e in truth], (events, truth)
    for got, want in zip(events, truth):
        if want.type == "sleep":
            assert abs(got.start - want.start) <= SLEEP_START_S and abs(got.end - want.end) <= SLEEP_END_S
        else:
            assert abs(got.start - want.start) <= WAKE_START_S and abs(got.end - want.end) <= WAKE_END_S
            assert got.cramp == want.cramp and (got.score >= 0.5) == want.cramp


@pytest.mark.parametrize("seed, rate_hz, chip, minutes", [
    (1, 50, "adxl345", 12), (3, 25, "adxl345", 12), (5, 100, "mpu6050", 12), (8, 50, "adxl345", 30)])
def test_demo_nights_are_reported_as_the_simulator_planned_them(tmp_path, seed, rate_hz, chip, minutes):
    config = Config.model_validate({"simulator": {"seed": seed, "night_minutes": minutes},
                                    "bed": {"rate_hz": rate_hz, "chip": chip}})
    bed = SimulatedBed(config, clock=lambda: 1_790_000_000.0)
    assert bed.analyzer_params == BedParams.demo()
    plan = bed.plan.extend(1)  # two nights back to back
    events, emitted = time_lapse(plan, NightAnalyzer(rate_hz, params=bed.analyzer_params), rate_hz)
    assert_agrees_with_truth(events, plan.truth)
    for night in plan.nights:
        assert night.end - night.start >= 60 * minutes - 1e-6 and night.end - night.t_out >= DEMO_EMPTY_S
        assert night.wakes[0][0].cramp
        at = [when for e, when in zip(events, emitted) if e.type == "sleep" and abs(e.end - night.sleep.end) < 60]
        assert at and at[0] <= night.t_out + SUMMARY_AFTER_UP_S  # summary soon after getting up
    if minutes >= 30:
        assert any(len(n.wakes) > 1 for n in plan.nights)  # longer nights keep more wake-ups


def test_the_first_demo_night_is_reported_for_every_seed():
    """What a demo shows first, over many sleepers and epoch alignments (25 Hz MPU-6050:
    the coarsest rate; seeds 23 and 24 once lost their night to the partner rule)."""
    verdicts = []
    for seed in range(20, 40):
        plan = plan_night(seed, start=1_700_000_007.0 + 7.3 * seed, chip="mpu6050", demo=True, night_minutes=12)
        night = plan.nights[0]
        events, emitted = time_lapse(plan, NightAnalyzer(25, params=BedParams.demo()), 25)
        assert [e.type for e in events] == [e.type for e in plan.truth], seed
        assert emitted[0] <= night.t_out + SUMMARY_AFTER_UP_S and emitted[0] - plan.start <= 13 * 60
        for got, want in zip(events, plan.truth):
            assert abs(got.start - want.start) <= (SLEEP_START_S if want.type == "sleep" else WAKE_START_S), seed
            assert abs(got.end - want.end) <= (SLEEP_END_S if want.type == "sleep" else WAKE_END_S), seed
            if want.type == "wake":
                verdicts.append(got.cramp == want.cramp)
    assert sum(verdicts) >= 0.9 * len(verdicts)  # the verdict itself is the real one (F1 0.95 on real-length nights)


def test_real_nights_keep_their_parameters_and_would_never_report_a_demo_night():
    config = Config.model_validate({"simulator": {"seed": 2}})
    assert RealBed(config).analyzer_params == BedParams() == NightAnalyzer(50).params
    assert BedParams().periods.min_sleep_s == 7200.0 and BedParams().periods.split_empty_s is None
    plan = SimulatedBed(config, clock=lambda: 1_790_000_000.0).plan
    events, _ = time_lapse(plan, NightAnalyzer(50), 50)
    assert events == []  # why the demo needs its own parameters


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_a_demo_night_through_the_daemon_store_bedside_button_and_dashboard(tmp_path):
    config = demo_config(tmp_path, seed=4)
    daemon = Daemon(config, simulate=True)
    daemon.start()
    try:
        rate = config.bed.rate_hz
        daemon.bed.stop()  # the time-lapse below stands in for the live thread
        # the night that has just ended: planned to end now, so every time is in the past
        probe = plan_night(4, start=0.0, demo=True, night_minutes=config.simulator.night_minutes)
        now = time.time()
        bed = SimulatedBed(config, pin_factory=daemon.pin_factory(),
                           plan=plan_night(4, start=now - probe.end - 1.0, demo=True,
                                           night_minutes=config.simulator.night_minutes))
        night = bed.plan.nights[0]
        daemon.bed.analyzer = NightAnalyzer(rate, epoch_s=config.bed.epoch_s, params=bed.analyzer_params)
        t, xyz = bed.plan.render(rate, span=(bed.plan.start, night.end))
        for i in range(0, len(t), rate):
            daemon.bed._feed(t[i:i + rate], xyz[i:i + rate])
            if t[i] >= night.wakes[0][0].end + 30.0 and not bed.presses:
                bed._press_due(float(t[i]))  # the sleeper presses the button after the cramp
                assert wait_for(lambda: bed.presses, 5.0)
        stored = {kind: list(daemon.store.events(types=[kind])) for kind in ("sleep", "wake", "cramp")}
        now = time.time()
        assert all(e.get("end", e.get("t")) <= now for events in stored.values() for e in events)  # none in the future

        # sleep and wakes agree with the simulator's truth
        assert len(stored["sleep"]) == 1
        sleep = stored["sleep"][0]
        assert abs(sleep["start"] - night.sleep.start) <= SLEEP_START_S
        assert abs(sleep["end"] - night.sleep.end) <= SLEEP_END_S
        assert len(stored["wake"]) == len(night.wakes)
        for got, (want, _extra) in zip(stored["wake"], night.wakes):
            assert abs(got["start"] - want.start) <= WAKE_START_S and abs(got["end"] - want.end) <= WAKE_END_S
            assert got["cramp"] == want.cramp and "features" in got
        # the bedside button went through the mock pin and the button's handler
        assert [c["source"] for c in stored["cramp"]] == ["button"]

        # the night on the dashboard: sleep, the wake-up, the verdict, confirmed by the button
        port = config.dashboard.port
        night_date = time.strftime("%Y-%m-%d", time.localtime(sleep["start"]))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/nights?count=3&last={night_date}") as r:
            rows = json.load(r)["nights"]
        shown = [n for n in rows if n["sleep"]]
        assert shown and shown[0]["sleep"]["start"] == sleep["start"]
        wake = shown[0]["wakes"][0]
        assert wake["detector"] is True and wake["label"] is True and wake["label_source"] == "button"
        assert shown[0]["cramp_count"] >= 1
    finally:
        daemon.stop()


def test_the_live_simulated_bed_presses_the_button_after_each_cramp():
    config = Config.model_validate({"simulator": {"seed": 6}})
    bed = SimulatedBed(config, clock=lambda: 1_790_000_000.0)
    night = bed.plan.nights[0]
    presses = bed.press_times(night.end)
    cramps = [w for w, _ in night.wakes if w.cramp]
    assert len(presses) == len(cramps) >= 1
    for at, wake in zip(presses, cramps):
        assert wake.end + 5.0 <= at <= wake.end + 25.0
    assert presses == SimulatedBed(config, clock=lambda: 1_790_000_000.0).press_times(night.end)  # per seed


def test_the_daemon_wires_the_demo_parameters_and_the_button(tmp_path):
    config = demo_config(tmp_path, seed=3)
    daemon = Daemon(config, simulate=True)
    daemon.start()
    try:
        assert daemon.bed.analyzer.params == BedParams.demo()
        assert daemon._bed_hardware._pin_factory is daemon.pin_factory()
        assert wait_for(lambda: np.isfinite(daemon.bed.latest[0]) if daemon.bed.latest else False, 5.0)
    finally:
        daemon.stop()
