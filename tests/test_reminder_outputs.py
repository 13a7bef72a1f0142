"""The reminder LED, buzzer and button, on gpiozero MockFactory pins."""

import time

from gpiozero.pins.mock import MockFactory

from device.config import Config, OutputsSection
from scheduler import policy
from scheduler.day_sim import SimulatedDay
from scheduler.outputs import Outputs
from simulator.rigs import simulated_pin_factory
from tests.test_reminder_days import DAY, FakeScheduler

LED, BUZZER, BUTTON = 12, 16, 26


def wait_for(predicate, timeout=2.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def levels(pin):
    return [s.state for s in pin.states]


def on_off(pin):
    return [bool(s.state) for s in pin.states]


def test_the_led_pulses_until_cleared():
    factory = simulated_pin_factory()
    out = Outputs(OutputsSection(led_pin=LED), pin_factory=factory, fade_s=0.2)
    out.open()
    try:
        pin = factory.pin(LED)
        out.glow()
        assert wait_for(lambda: len(set(levels(pin))) > 4)  # a fade, not a blink
        assert all(0.0 <= v <= 1.0 for v in levels(pin)) and max(levels(pin)) > 0.5
        out.glow()  # asking again does not restart the pulse
        out.clear()
        assert pin.state == 0 and not out.glowing
        settled = len(pin.states)
        time.sleep(0.1)
        assert len(pin.states) == settled  # the pulse thread is gone
    finally:
        out.close()
        out.close()  # idempotent


def test_the_buzzer_sounds_one_short_pattern():
    factory = simulated_pin_factory()
    out = Outputs(OutputsSection(buzzer_pin=BUZZER), pin_factory=factory, beep=(0.02, 0.02, 3))
    out.open()
    try:
        pin = factory.pin(BUZZER)
        out.alarm()
        assert wait_for(lambda: on_off(pin) == [False, True, False, True, False, True, False])
        time.sleep(0.1)
        assert len(pin.states) == 7  # and then silence
    finally:
        out.close()


def test_a_press_acknowledges_and_a_hold_snoozes():
    factory = simulated_pin_factory()
    pressed, held = [], []
    out = Outputs(OutputsSection(button_pin=BUTTON, hold_s=0.5), pin_factory=factory,
                  on_press=lambda: pressed.append(1), on_hold=lambda: held.append(1))
    out.open()
    try:
        pin = factory.pin(BUTTON)
        pin.drive_low()
        time.sleep(0.05)
        pin.drive_high()
        assert wait_for(lambda: pressed == [1]) and held == []
        time.sleep(0.05)
        pin.drive_low()
        assert wait_for(lambda: held == [1], timeout=1.5)
        pin.drive_high()
        time.sleep(0.05)
        assert pressed == [1] and held == [1]  # a hold is not also a press
    finally:
        out.close()


def test_absent_outputs_need_no_gpio_at_all():
    out = Outputs(OutputsSection())
    assert not out.configured
    out.open()
    out.glow()
    out.alarm()
    out.clear()
    out.close()
    assert out.led is None and out._factory is None


def test_a_pin_that_cannot_do_pwm_leaves_reminders_working_without_outputs():
    config = Config.model_validate({"device": {"timezone": "UTC"}, "outputs": {"led_pin": LED}})
    sim = SimulatedDay(config, policy.local_instant(DAY, "08:00", config.tz), pin_factory=MockFactory(),
                       scheduler=FakeScheduler())  # plain mock pins cannot do PWM
    sim.store.set_setting("reminders.first_run", sim.clock.t - 86400)  # running since yesterday
    sim.service.start()
    try:
        health = sim.service._health.get("outputs")
        assert health.state == "failed" and "PWM" in health.detail.upper()
        sim.run_until(sim.clock.t + 3600)
        assert sim.service.active()["kind"] == "hydration"  # still on MQTT and the dashboard
    finally:
        sim.service.stop()


def test_the_service_drives_the_outputs_through_a_reminders_life():
    config = Config.model_validate({
        "device": {"timezone": "Europe/Berlin"},
        "outputs": {"led_pin": LED, "buzzer_pin": BUZZER, "button_pin": BUTTON, "hold_s": 0.5}})
    factory = simulated_pin_factory()
    sim = SimulatedDay(config, policy.local_instant(DAY, "08:00", config.tz), pin_factory=factory,
                       scheduler=FakeScheduler())
    led, buzzer, button = factory.pin(LED), factory.pin(BUZZER), factory.pin(BUTTON)
    sim.store.set_setting("reminders.first_run", sim.clock.t - 86400)  # running since yesterday
    sim.service.start()
    try:
        sim.run_until(policy.local_instant(DAY, "08:45", config.tz))  # reminded at 08:40
        assert sim.service.outputs.glowing and wait_for(lambda: len(set(levels(led))) > 3)
        assert levels(buzzer) == [False]
        sim.run_until(policy.local_instant(DAY, "08:50", config.tz))  # unanswered for 10 minutes
        assert wait_for(lambda: levels(buzzer).count(True) == 3)
        button.drive_low()
        time.sleep(0.05)
        button.drive_high()  # a press: acknowledged
        assert wait_for(lambda: sim.service.active() is None)
        assert led.state == 0 and not sim.service.outputs.glowing
        assert [e["source"] for e in sim.reminder_events() if e["state"] == "acknowledged"] == ["button"]

        sim.run_until(policy.local_instant(DAY, "09:51", config.tz))  # the next one, an hour later
        assert sim.service.active() is not None and sim.service.outputs.glowing
        button.drive_low()
        assert wait_for(lambda: sim.service.active() is None, timeout=1.5)  # held: snoozed
        button.drive_high()
        snoozed = sim.service.states.current()[0]
        assert snoozed.state == "snoozed" and snoozed.snoozed_until == sim.clock.t + 15 * 60
        assert [e["source"] for e in sim.reminder_events() if e["state"] == "snoozed"] == ["button"]
        sim.run_until(policy.local_instant(DAY, "10:06", config.tz))
        assert sim.service.outputs.glowing  # back after the snooze
    finally:
        sim.service.stop()
    assert led.state == 0 and sim.service.outputs.led is None


def test_no_buzzer_in_quiet_hours_only_the_glow():
    config = Config.model_validate({
        "device": {"timezone": "Europe/Berlin"}, "hydration": {"quiet_hours": ["22:00-07:00"]},
        "outputs": {"led_pin": LED, "buzzer_pin": BUZZER}})
    factory = simulated_pin_factory()
    sim = SimulatedDay(config, policy.local_instant(DAY, "22:00", config.tz), pin_factory=factory,
                       scheduler=FakeScheduler())
    sim.service.start()
    try:
        sim.run_until(policy.local_instant(DAY, "22:45", config.tz))
        assert [(e["state"], e.get("escalated")) for e in sim.reminder_events("stretch")] == [
            ("active", None), ("active", True)]
        assert sim.service.outputs.glowing
        time.sleep(0.05)
        assert levels(factory.pin(BUZZER)) == [False]
    finally:
        sim.service.stop()
