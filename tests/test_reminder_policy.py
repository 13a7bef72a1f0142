"""The reminder policy: pure functions of the time, the settings and the recorded facts."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from device.config import Config, HydrationSection, StretchSection, validate_config
from scheduler import policy
from vocabulary.errors import ConfigError

H, S = HydrationSection(), StretchSection()
BERLIN, NEW_YORK, UTC = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("UTC")
DST_DAYS = [(BERLIN, date(2026, 3, 29)), (BERLIN, date(2026, 10, 25)),
            (NEW_YORK, date(2026, 3, 8)), (NEW_YORK, date(2026, 11, 1))]


def at(tz, text):
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def wall(t, tz):
    return datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d %H:%M")


def test_an_ordinary_day_runs_from_the_middle_of_one_night_to_the_middle_of_the_next():
    plan = policy.day_plan(at(BERLIN, "2026-11-02 12:00"), H, S, BERLIN)
    assert plan.iso == "2026-11-02"
    assert [wall(t, BERLIN) for t in (plan.start, plan.wake, plan.cutoff, plan.stretch_at, plan.bedtime, plan.end)] == [
        "2026-11-02 03:00", "2026-11-02 07:00", "2026-11-02 21:00", "2026-11-02 22:30", "2026-11-02 23:00",
        "2026-11-03 03:00"]
    assert policy.day_plan(at(BERLIN, "2026-11-03 02:59"), H, S, BERLIN).iso == "2026-11-02"
    assert policy.day_plan(at(BERLIN, "2026-11-03 03:00"), H, S, BERLIN).iso == "2026-11-03"


@pytest.mark.parametrize("tz, day", DST_DAYS, ids=lambda x: str(x))
def test_on_the_days_clocks_change_the_rhythm_keeps_its_wall_clock_times(tz, day):
    plan = policy.plan_for(day, H, S, tz)
    assert [wall(t, tz)[11:] for t in (plan.wake, plan.cutoff, plan.stretch_at, plan.bedtime)] == [
        "07:00", "21:00", "22:30", "23:00"]
    assert plan.cutoff - plan.wake == 14 * 3600  # the change happens at night
    night = plan.wake - policy.plan_for(day - timedelta(days=1), H, S, tz).bedtime
    assert night == (7 if day.month == 3 else 9) * 3600  # one hour lost or gained
    # consecutive days tile time, and every instant of the DST day finds its day
    assert policy.plan_for(day - timedelta(days=1), H, S, tz).end == plan.start
    for t in range(int(plan.start), int(plan.end), 600):
        assert policy.day_plan(t, H, S, tz).day == day


def test_a_bedtime_after_midnight_belongs_to_the_evening_before():
    h = HydrationSection(wake_time="08:00", bedtime="00:30", cutoff_h=1.5)
    plan = policy.day_plan(at(UTC, "2026-11-03 00:15"), h, S, UTC)
    assert plan.iso == "2026-11-02"
    assert wall(plan.cutoff, UTC) == "2026-11-02 23:00"
    assert wall(plan.stretch_at, UTC) == "2026-11-03 00:00"


def test_the_expected_pace_is_front_loaded_and_reaches_the_goal_at_the_cutoff():
    f = policy.expected_fraction
    assert f(0, 0.3) == 0 and f(1, 0.3) == 1 and f(2, 0.3) == 1 and f(-1, 0.3) == 0
    assert f(0.5, 0.0) == 0.5  # front_load 0: an even pace
    assert f(0.5, 0.3) == pytest.approx(0.575)
    xs = [i / 100 for i in range(101)]
    assert all(f(a, 0.3) < f(b, 0.3) for a, b in zip(xs, xs[1:]))
    assert (f(0.01, 0.3) - f(0, 0.3)) / 0.01 == pytest.approx(1.3, abs=0.01)  # 1.3x the even rate after waking
    assert (f(1, 0.3) - f(0.99, 0.3)) / 0.01 == pytest.approx(0.7, abs=0.01)  # 0.7x at the cutoff
    plan = policy.plan_for(date(2026, 11, 2), H, S, UTC)
    assert policy.expected_ml(plan.wake + 7 * 3600, plan, 2000, 0.3) == pytest.approx(1150)


def decide(text, tz=UTC, h=H, **facts):
    now = at(tz, text)
    plan = policy.day_plan(now, h, S, tz)
    facts.setdefault("intake_ml", 0.0)
    return policy.hydration_decision(now, plan, h, tz, goal_ml=2000, **facts)


def test_a_hydration_reminder_needs_the_window_a_lag_and_a_quiet_while():
    assert decide("2026-11-02 06:59").reason == "before_wake"
    assert decide("2026-11-02 08:00").reason == "on_pace"  # 183 mL expected: not far behind yet
    due = decide("2026-11-02 10:00")
    assert (due.remind, due.reason, round(due.behind_ml)) == (True, "due", 530)
    assert decide("2026-11-02 10:00", intake_ml=400).reason == "on_pace"
    assert decide("2026-11-02 10:00", last_drink_t=at(UTC, "2026-11-02 09:30")).reason == "idle"
    assert decide("2026-11-02 10:00", last_ended=at(UTC, "2026-11-02 09:30")).reason == "idle"
    assert decide("2026-11-02 10:00", last_drink_t=at(UTC, "2026-11-02 08:59")).remind
    assert decide("2026-11-02 21:00").reason == "after_cutoff"
    assert decide("2026-11-02 10:00", h=HydrationSection(enabled=False)).reason == "disabled"


def test_quiet_hours_and_a_long_absence_of_the_bottle_keep_reminders_away():
    h = HydrationSection(quiet_hours=["12:30-14:00"])
    assert decide("2026-11-02 12:29", h=h).remind
    assert decide("2026-11-02 12:30", h=h).reason == "quiet"
    assert decide("2026-11-02 14:00", h=h).remind
    assert decide("2026-11-02 12:00", away_since=at(UTC, "2026-11-02 11:31")).remind  # 29 min: maybe drinking
    assert decide("2026-11-02 12:00", away_since=at(UTC, "2026-11-02 11:30")).reason == "away"
    back = at(UTC, "2026-11-02 12:00")
    assert decide("2026-11-02 12:59", returned_at=back).reason == "idle"  # back from being out: give them time
    assert decide("2026-11-02 13:00", returned_at=back).remind
    assert decide("2026-11-02 12:30", h=h).ends_reminder and decide("2026-11-02 10:00", intake_ml=900).ends_reminder
    assert not decide("2026-11-02 10:00", last_drink_t=at(UTC, "2026-11-02 09:30")).ends_reminder


def test_quiet_hours_may_wrap_midnight_and_follow_the_wall_clock_across_dst():
    spans = ["22:00-06:30"]
    assert policy.in_quiet_hours(at(BERLIN, "2026-03-29 01:59"), spans, BERLIN)
    assert policy.in_quiet_hours(at(BERLIN, "2026-03-29 06:29"), spans, BERLIN)
    assert not policy.in_quiet_hours(at(BERLIN, "2026-03-29 06:30"), spans, BERLIN)
    assert policy.in_quiet_hours(at(BERLIN, "2026-03-28 22:00"), spans, BERLIN)
    assert not policy.in_quiet_hours(at(BERLIN, "2026-03-28 21:59"), spans, BERLIN)
    assert not policy.in_quiet_hours(at(BERLIN, "2026-03-28 21:59"), [], BERLIN)


def wake(start, cramp, **kw):
    return {"type": "wake", "id": f"wake-{round(start * 1000)}", "start": start, "end": start + 300,
            "bed_exit": True, "cramp": cramp, "score": 0.9 if cramp else 0.1} | kw


def test_cramps_count_the_users_label_where_there_is_one():
    plan = policy.plan_for(date(2026, 11, 2), H, S, UTC)
    lo, hi = plan.night_start, plan.night_end
    w1 = wake(at(UTC, "2026-11-02 02:00"), True)
    w2 = wake(at(UTC, "2026-11-02 04:00"), False)
    assert policy.cramp_count([w1, w2], lo, hi) == 1
    deny = {"type": "cramp", "t": at(UTC, "2026-11-02 07:10"), "confirmed": False, "wake_id": w1["id"]}
    confirm = {"type": "cramp", "t": at(UTC, "2026-11-02 07:11"), "confirmed": True, "wake_id": w2["id"]}
    assert policy.cramp_count([w1, w2, deny], lo, hi) == 0
    assert policy.cramp_count([w1, w2, deny, confirm], lo, hi) == 1
    loose = {"type": "cramp", "t": at(UTC, "2026-11-02 03:00"), "confirmed": True}
    assert policy.cramp_count([loose], lo, hi) == 1
    assert policy.cramp_count([wake(at(UTC, "2026-11-01 12:00"), True)], lo, hi) == 0  # the night before


def test_last_nights_summary_handles_a_night_with_nothing_recorded():
    plan = policy.plan_for(date(2026, 11, 2), H, S, UTC)
    summary, final = policy.night_summary(plan, [], plan.wake)
    assert summary == {"t": plan.wake, "night": "2026-11-02", "recorded": False, "wakes": 0, "bed_exits": 0,
                       "cramps": 0, "cramp_night": False, "stretched": False}
    assert not final  # the sleep period may still come
    assert policy.night_summary(plan, [], plan.night_end)[1]  # by 13:00 it is what it is


def test_last_nights_summary_from_sleep_and_wake_events():
    plan = policy.plan_for(date(2026, 11, 2), H, S, UTC)
    sleep = {"type": "sleep", "start": at(UTC, "2026-11-01 23:20"), "end": at(UTC, "2026-11-02 06:50")}
    stretched = {"type": "stretched", "t": at(UTC, "2026-11-01 22:35"), "day": "2026-11-01"}
    events = [sleep, wake(at(UTC, "2026-11-02 02:00"), True), wake(at(UTC, "2026-11-02 04:00"), False,
                                                                    bed_exit=False), stretched]
    summary, final = policy.night_summary(plan, events, plan.wake, intake_ml=1650.0, goal_ml=2000)
    assert final
    assert summary["asleep_min"] == 450 - 10  # 7.5 h asleep less two 5-min wakes
    assert {k: summary[k] for k in ("recorded", "wakes", "bed_exits", "cramps", "cramp_night", "stretched",
                                    "intake_ml", "goal_ml")} == {
        "recorded": True, "wakes": 2, "bed_exits": 1, "cramps": 1, "cramp_night": True, "stretched": True,
        "intake_ml": 1650.0, "goal_ml": 2000}


def test_the_stretching_prompt_names_the_routine_and_last_nights_cramp():
    plain = policy.stretch_message(S, cramp_last_night=False)
    assert [r["exercise"] for r in plain["routine"]] == ["calf", "hamstring", "foot"]
    assert (plain["routine"][0]["hold_s"], plain["routine"][0]["repeats"]) == (30, 3)
    assert "hold each 30 s, 3 times" in plain["message"] and "cramp" not in plain["message"]
    after = policy.stretch_message(StretchSection(exercises=["calf"], hold_s=45, repeats=2), cramp_last_night=True)
    assert after["message"].startswith("You had a cramp last night.") and after["after_cramp_night"]
    assert "45 s, 2 times" in after["message"]
    frequent = policy.stretch_message(S, cramp_last_night=True, cramp_nights_7=4)
    assert "doctor" in frequent["message"] and "4 of the last 7 nights" in frequent["message"]


@pytest.mark.parametrize("section, values, key", [
    ("hydration", {"wake_time": "7:00"}, "hydration.wake_time"),
    ("hydration", {"bedtime": "24:00"}, "hydration.bedtime"),
    ("hydration", {"wake_time": "07:00", "bedtime": "09:30", "cutoff_h": 2}, "hydration"),
    ("hydration", {"quiet_hours": ["13-14"]}, "hydration.quiet_hours.0"),
    ("hydration", {"goal_ml": 50}, "hydration.goal_ml"),
    ("stretch", {"exercises": ["neck"]}, "stretch.exercises.0"),
    ("stretch", {"exercises": []}, "stretch.exercises"),
    ("outputs", {"led_pin": 12, "button_pin": 12}, "outputs"),
    ("outputs", {"buzzer_pin": 40}, "outputs.buzzer_pin"),
])
def test_bad_reminder_settings_name_their_key(section, values, key):
    with pytest.raises(ConfigError) as err:
        validate_config({section: values})
    assert any(p.startswith(f"{key}: ") for p in err.value.problems), err.value.problems


def test_reminder_settings_have_working_defaults():
    config = Config()
    assert (config.hydration.goal_ml, config.hydration.cutoff_h, config.stretch.lead_min) == (2000, 2.0, 30)
    assert (config.outputs.led_pin, config.outputs.buzzer_pin, config.outputs.button_pin) == (None, None, None)


def test_on_the_first_day_only_the_pace_since_the_first_run_is_expected():
    first = at(UTC, "2026-11-02 15:00")
    assert decide("2026-11-02 15:59").remind  # seen all day and nothing drunk: far behind
    assert decide("2026-11-02 15:59", observed_from=first).reason == "on_pace"  # it only just started
    late = decide("2026-11-02 18:00", observed_from=first)
    plan = policy.day_plan(first, H, S, UTC)
    assert late.expected_ml == pytest.approx(policy.expected_ml(at(UTC, "2026-11-02 18:00"), plan, 2000, 0.3)
                                             - policy.expected_ml(first, plan, 2000, 0.3))
    assert decide("2026-11-02 18:00", observed_from=at(UTC, "2026-11-01 15:00")).expected_ml > late.expected_ml
