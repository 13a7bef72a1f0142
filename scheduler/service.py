"""The reminder service: policy, stored state, jobs and outputs put together.

The daemon builds one, subscribes :meth:`ReminderService.on_event` to the store (so a
drink clears a hydration reminder at once), and routes the ``ack`` and ``snooze``
commands of MQTT and the dashboard to :meth:`ack` and :meth:`snooze`.

Every decision is taken in :meth:`tick` from the time, the stored events and the stored
reminder state; APScheduler only calls it (see :mod:`scheduler.jobs`). Each change of a
reminder is written to the ``reminders`` table first, then stored as a
:class:`~vocabulary.reminder_events.Reminder` event (which reaches MQTT through the
store's outbox like every event), then shown: the LED, the buzzer, and
``publish("reminder", payload_or_None)`` for the retained ``<base>/reminder``.

>>> from device.config import Config
>>> from device.health import Health
>>> from device.storage.store import Store
>>> from scheduler.clock import ClockSanity
>>> t = [1793620800.0]  # 2026-11-02 12:00 UTC: 5 h into the day, nothing drunk
>>> config = Config.model_validate({"device": {"timezone": "UTC"}})
>>> store = Store(":memory:")
>>> store.set_setting("reminders.first_run", t[0] - 86400)  # it has been running since yesterday
>>> svc = ReminderService(config, store, Health(), clock=lambda: t[0],
...                       sanity=ClockSanity(floor=0, ntp=lambda: None))
>>> svc.tick(); svc.active()["kind"], svc.active()["behind_ml"]
('hydration', 852)
>>> svc.ack()["state"], svc.active()
('acknowledged', None)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from device.actions import goal_ml
from device.config import Config, OutputsSection
from device.drinks import drinks_between
from device.health import Health
from scheduler import jobs, policy
from scheduler.clock import ClockSanity, JumpDetector
from scheduler.outputs import Outputs
from scheduler.state import ReminderRecord, ReminderStates
from vocabulary.reminder_events import NightSummary, Reminder, Stretched

log = logging.getLogger(__name__)

FIRST_RUN_SETTING = "reminders.first_run"  # when the service first looked at a day
NIGHT_RECHECK_S = 600.0  # look for last night's sleep period this often until it is stored
REMINDER_TOPIC = "reminder"  # publish(REMINDER_TOPIC, ...): the retained <base>/reminder
NIGHT_TYPES = ("sleep", "wake", "cramp", "stretched")


class ReminderService:
    """Hydration and stretching reminders, and the morning's night summary.

    ``publish(topic_suffix, payload_or_None)`` sends the retained ``<base>/reminder``;
    ``clock`` and ``monotonic`` are the wall and monotonic clocks; ``sanity`` decides
    when the wall clock is good enough to plan from; ``bottle_present()`` says whether
    the bottle is on the scale (None: unknown); ``scheduler`` replaces the
    BackgroundScheduler (tests); ``on_press`` and ``on_hold`` are what the bottle-side
    button does (the daemon passes its actions; by default ack and snooze here).

    ``settings()`` returns the configuration as it is now (the daemon passes
    :meth:`device.settings.SettingsService.effective`: the file with the dashboard's
    saved changes); the service follows it at its next tick, status or command, with no
    restart: ``[hydration]`` and ``[stretch]`` (times, pace, thresholds, quiet hours,
    on/off; the jobs are planned again when their times change), ``[outputs]``
    ``snooze_min`` and ``escalate_after_min``, ``[insights]``' doctor thresholds and the
    time zone. The outputs' pins and ``hold_s`` are read once, at start. The goal is read
    from the store each time (:func:`device.actions.goal_ml`).
    """

    def __init__(self, config: Config, store, health: Health, *, pin_factory=None,
                 publish: Callable[[str, dict | None], None] | None = None, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, sanity: ClockSanity | None = None,
                 bottle_present: Callable[[], bool | None] | None = None, scheduler=None,
                 outputs: Outputs | None = None, on_press: Callable[[], object] | None = None,
                 on_hold: Callable[[], object] | None = None, settings: Callable[[], Config] | None = None):
        self.config = config
        self.tz = config.tz
        self._settings = settings
        self._store, self._health, self._publish, self._clock = store, health, publish, clock
        self._sanity = sanity or ClockSanity()
        self._jumps = JumpDetector(wall=clock, mono=monotonic)
        self._bottle_present = bottle_present
        self.states = ReminderStates(store)
        self.outputs = outputs or Outputs(config.outputs, pin_factory=pin_factory,
                                          on_press=on_press or (lambda: self.ack(source="button")),
                                          on_hold=on_hold or (lambda: self.snooze(source="button")))
        self._lock = threading.RLock()
        self._scheduler = scheduler
        self._watch: jobs.ClockWatch | None = None
        self.planned = False  # jobs are installed: the clock was judged good enough
        self.clock_detail = "not checked yet"
        self._published: Any = object()  # nothing published yet
        self._away_since: float | None = None
        self._returned_at: float | None = None
        self.last_night: dict | None = None
        self._night: tuple[str, bool, float] | None = None  # day, final, when computed
        self._night_dirty = True
        self._first_run: float | None = None

    # -- the settings, as they are now ---------------------------------------------------
    @property
    def _h(self):
        return self.config.hydration

    @property
    def _s(self):
        return self.config.stretch

    @property
    def _o(self):
        return self.config.outputs

    def _follow_settings(self) -> None:
        """Take settings changed while running (see the class docstring); under the lock."""
        if self._settings is None:
            return
        try:
            config = self._settings()
        except Exception:  # the settings table unreadable (a busy database): keep what we have
            log.warning("reminders: could not read the settings; keeping the current ones", exc_info=True)
            return
        if config is self.config or config == self.config:
            return
        old = self.config
        self.config, self.tz = config, config.tz
        self._night_dirty = True  # a new wake time moves last night
        if _schedule(old) != _schedule(config):
            log.info("reminders: the schedule changed in the settings; planning again")
            if self.planned:
                self._plan()
        else:
            log.info("reminders: following changed settings")

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Open the outputs, restore the stored reminder, start the scheduler and the clock watch."""
        with self._lock:
            self._health.set("reminders", "starting", "checking the clock")
            if self.outputs.configured:
                try:
                    self.outputs.open()
                    self._health.set("outputs", "ok", self._describe_outputs())
                except Exception as exc:  # no GPIO: reminders still reach MQTT and the dashboard
                    log.warning("reminder outputs unavailable: %s", exc)
                    self._health.set("outputs", "failed", f"{type(exc).__name__}: {exc}")
                    self.outputs = Outputs(OutputsSection())
            latest = list(self._store.events(types=["night_summary"], since=self._clock() - 2 * 86400))
            self.last_night = {k: v for k, v in latest[-1].items() if k != "id"} if latest else None
            self._sync()
            if self._scheduler is None:
                self._scheduler = jobs.make_scheduler(self.tz)
            if not self._scheduler.running:
                self._scheduler.start()
            self.planned = False  # (re)install the jobs on this scheduler
            self.check_clock()
        self._watch = jobs.ClockWatch(self.check_clock)
        self._watch.start()

    def stop(self) -> None:
        """Stop the jobs and the outputs; reminder state stays stored for the next start."""
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        with self._lock:
            if self._scheduler is not None and self._scheduler.running:
                # Empty the job store first (under APScheduler's own lock): shutdown()
                # marks the scheduler stopped before taking that lock, and a one-off job
                # finishing in that window makes its main loop die on JobLookupError.
                # Jobs are rebuilt from the configuration at every start anyway.
                jobs.remove_jobs(self._scheduler)
                self._scheduler.shutdown(wait=False)
            self.outputs.clear()
            self.outputs.close()

    # -- the clock -----------------------------------------------------------------------
    def check_clock(self) -> bool:
        """Judge the wall clock; plan (again) when it became good or stepped. True if good."""
        with self._lock:
            ok, replanned = self._clock_step()
            if replanned:
                self._evaluate(self._clock())
            return ok

    def _clock_step(self) -> tuple[bool, bool]:
        now = self._clock()
        step = self._jumps.check()
        verdict = self._sanity.check(now)
        self.clock_detail = verdict.detail
        if not verdict.ok:
            if self.planned:
                log.warning("reminders paused: %s", verdict.detail)
                self._unplan()
            self._health.set("reminders", "degraded", verdict.detail)
            return False, False
        if step:
            self._shift_timers(step)
        replan = bool(step) or not self.planned
        if replan:
            self._plan()
            self._health.set("reminders", "ok", verdict.detail)
        if step:  # said once the jobs run on the new clock (a test waits for this line)
            log.warning("the wall clock stepped by %+.0f s; planning reminders again", step)
        return True, replan

    def _plan(self) -> None:
        if self._scheduler is not None:
            jobs.install_jobs(self._scheduler, jobs.job_specs(self.config), self.tick)
            for rec in self.states.current():
                if rec.state == "snoozed":
                    jobs.run_once_at(self._scheduler, rec.snoozed_until, self.tz, self.tick)
        self.planned = True

    def _unplan(self) -> None:
        if self._scheduler is not None:
            jobs.remove_jobs(self._scheduler)
        self.planned = False

    def _shift_timers(self, step: float) -> None:
        """Snoozes and escalation delays were measured on the old clock: keep their length."""
        for rec in self.states.current():
            if rec.state == "snoozed":
                self.states.save(rec.evolve("snoozed", rec.updated_at + step, snoozed_until=rec.snoozed_until + step))
            else:
                self.states.save(rec.evolve("active", rec.updated_at + step, since=rec.since + step))

    # -- the policy at work --------------------------------------------------------------
    def tick(self) -> None:
        """Look at the day now and act: the only place where reminders start and time out."""
        with self._lock:
            try:
                ok, _ = self._clock_step()
                if ok:
                    self._evaluate(self._clock())
            except Exception as exc:  # a bug must not stop the scheduler's thread
                log.exception("reminder tick failed")
                self._health.set("reminders", "degraded", f"tick failed: {type(exc).__name__}: {exc}")

    def _evaluate(self, now: float) -> None:
        self._follow_settings()
        if self._first_run is None:
            self._first_run = self._store.get_setting(FIRST_RUN_SETTING)
            if self._first_run is None:
                self._first_run = now
                self._store.set_setting(FIRST_RUN_SETTING, now)
        plan = policy.day_plan(now, self._h, self._s, self.tz)
        self._track_bottle(now)
        self._expire_stale(now, plan)
        self._end_snoozes(now, plan)
        self._stretch_step(now, plan)
        self._hydration_step(now, plan)
        self._escalate(now)
        self._morning(now, plan)
        self._sync()

    def _plan_of(self, rec: ReminderRecord) -> policy.DayPlan:
        return policy.plan_for(date.fromisoformat(rec.day), self._h, self._s, self.tz)

    def _expire_stale(self, now: float, plan: policy.DayPlan) -> None:
        for rec in self.states.current():
            if rec.kind == "stretch" and policy.stretch_expired(now, self._plan_of(rec)):
                self._change(rec, "done", now, reason="expired")
            elif rec.kind == "hydration" and rec.day != plan.iso:
                self._change(rec, "done", now, reason="expired")

    def _end_snoozes(self, now: float, plan: policy.DayPlan) -> None:
        for rec in self.states.current():
            if rec.state != "snoozed" or rec.snoozed_until > now:
                continue
            if rec.kind == "hydration":
                decision = self._hydration_decision(now, plan)
                if self._active("stretch") is not None:
                    self._change(rec, "done", now, reason="superseded")
                elif decision.ends_reminder:
                    self._change(rec, "done", now, reason=_end_reason(decision.reason))
                else:
                    self._change(rec, "active", now, payload=rec.payload | policy.hydration_message(
                        decision, self.goal_ml))
            else:
                self._change(rec, "active", now)

    def _stretch_step(self, now: float, plan: policy.DayPlan) -> None:
        if not policy.stretch_due(now, plan, self._s) or self.states.for_day("stretch", plan.iso) is not None:
            return
        for rec in self.states.current("hydration"):
            self._change(rec, "done", now, reason="superseded")
        cramps_last_night = self._cramp_nights(plan, 1)
        doctor = self.config.insights
        payload = policy.stretch_message(self._s, cramp_last_night=cramps_last_night > 0,
                                         cramp_nights_7=self._cramp_nights(plan, doctor.doctor_window),
                                         doctor_nights=doctor.doctor_nights, doctor_window=doctor.doctor_window)
        payload["bedtime"] = plan.bedtime
        self._open(ReminderRecord.new(f"stretch-{plan.iso}", "stretch", plan.iso, now, payload))

    def _cramp_nights(self, plan: policy.DayPlan, nights: int) -> int:
        since = plan.night_start - (nights - 1) * 86400.0
        events = list(self._store.events(types=["wake", "cramp"], since=since))
        count = 0
        for back in range(nights):
            night = policy.plan_for(plan.day - timedelta(days=back), self._h, self._s, self.tz)
            count += policy.cramp_count(events, night.night_start, night.night_end) > 0
        return count

    def _hydration_step(self, now: float, plan: policy.DayPlan) -> None:
        open_ = self.states.current("hydration")
        decision = self._hydration_decision(now, plan)
        if open_:
            rec = open_[-1]
            if rec.state == "active" and decision.ends_reminder:
                self._change(rec, "done", now, reason=_end_reason(decision.reason))
            return
        if decision.remind and self._active("stretch") is None:
            payload = policy.hydration_message(decision, self.goal_ml)
            self._open(ReminderRecord.new(f"hydration-{round(now * 1000)}", "hydration", plan.iso, now, payload))

    def _hydration_decision(self, now: float, plan: policy.DayPlan) -> policy.HydrationDecision:
        return policy.hydration_decision(now, plan, self._h, self.tz, **self._hydration_facts(plan))

    def _hydration_facts(self, plan: policy.DayPlan) -> dict[str, Any]:
        """What the hydration policy weighs on ``plan``'s day, besides the time."""
        drinks = drinks_between(self._store, plan.start, plan.end)  # as they stand: corrections applied
        # every drink of the day counts, even one "after" now: after a backward clock
        # step the day's drinks must not vanish and bring a reminder with them
        return {"goal_ml": self.goal_ml, "intake_ml": sum(d["ml"] for d in drinks),
                "last_drink_t": max((d["t"] for d in drinks), default=None), "away_since": self._away_since,
                "returned_at": self._returned_at, "last_ended": self.states.last_ended("hydration", plan.iso),
                "observed_from": self._first_run}

    def _escalate(self, now: float) -> None:
        rec = self._active()
        if rec is None or rec.escalated or now - rec.since < self._o.escalate_after_min * 60.0:
            return
        self._change(rec, "active", now, escalated=True)
        if not policy.in_quiet_hours(now, self._h.quiet_hours, self.tz):
            self.outputs.alarm()

    def _morning(self, now: float, plan: policy.DayPlan) -> None:
        if now < plan.wake:
            return
        if self._night is not None and self._night[0] == plan.iso and not self._night_dirty:
            day, final, checked = self._night
            if final or (now - checked < NIGHT_RECHECK_S and now < plan.night_end):
                return
        self._night_dirty = False
        events = list(self._store.events(types=["sleep", "wake", "stretched"], since=plan.night_start,
                                         until=plan.night_end))
        events += self._store.events(types=["cramp"], since=plan.night_start)  # labels may come later
        before = policy.plan_for(plan.day - timedelta(days=1), self._h, self._s, self.tz)
        intake = sum(d["ml"] for d in drinks_between(self._store, before.start, plan.start))
        summary, final = policy.night_summary(plan, events, now, intake_ml=intake, goal_ml=self.goal_ml)
        self.last_night = {"type": NightSummary.type} | summary
        if final:
            self._store.add_event(NightSummary(**summary))  # its id is the night's: stored once
        self._night = (plan.iso, final, now)

    def _track_bottle(self, now: float) -> None:
        if self._bottle_present is None:
            return
        try:
            present = self._bottle_present()
        except Exception:  # a sensor problem is the bottle's health, not ours
            present = None
        if present is False and self._away_since is None:
            self._away_since = now
        elif present and self._away_since is not None:
            self._bottle_back(now)

    def _bottle_back(self, t: float) -> None:
        if t - self._away_since >= self._h.away_limit_min * 60.0:
            self._returned_at = t
        self._away_since = None

    # -- changes -------------------------------------------------------------------------
    def _open(self, rec: ReminderRecord) -> None:
        self.states.save(rec)
        self._emit(rec, rec.created_at)
        log.info("reminder %s: %s", rec.id, rec.payload.get("message", ""))

    def _change(self, rec: ReminderRecord, state: str, now: float, *, source: str | None = None,
                **changes) -> ReminderRecord:
        new = rec.evolve(state, now, **changes)
        self.states.save(new)  # first: a restart must see the change even if what follows fails
        self._emit(new, now, source)
        return new

    def _emit(self, rec: ReminderRecord, t: float, source: str | None = None) -> None:
        self._store.add_event(Reminder(
            t=t, kind=rec.kind, state=rec.state, reminder_id=rec.id, reason=rec.reason if rec.state == "done" else None,
            escalated=True if rec.escalated and rec.state == "active" else None,
            behind_ml=rec.payload.get("behind_ml"), snoozed_until=rec.snoozed_until, source=source))

    def _active(self, kind: str | None = None) -> ReminderRecord | None:
        active = [r for r in self.states.current(kind) if r.state == "active"]
        active.sort(key=lambda r: (r.kind != "stretch", r.created_at))  # the bedtime prompt first
        return active[0] if active else None

    def _sync(self) -> None:
        """Make the LED and the retained MQTT message show the active reminder."""
        rec = self._active()
        payload = rec.to_json() if rec is not None else None
        if payload == self._published:
            return
        self._published = payload
        if rec is not None:
            self.outputs.glow()
        else:
            self.outputs.clear()
        if self._publish is not None:
            try:
                self._publish(REMINDER_TOPIC, payload)
            except Exception:  # MQTT trouble is MQTT's health; the reminder stands
                log.warning("publishing the reminder failed", exc_info=True)

    # -- the public API --------------------------------------------------------------------
    def on_event(self, event: dict[str, Any]) -> None:
        """A newly stored event (store listener): a drink clears hydration reminders at once."""
        try:
            kind = event.get("type")
            if kind in ("drink", "refill"):
                with self._lock:
                    from_bottle = event.get("source", "bottle") == "bottle"  # a glass elsewhere: still away
                    if from_bottle and self._away_since is not None and event["t"] >= self._away_since:
                        self._bottle_back(event["t"])
                    if kind == "drink":
                        now = self._clock()
                        for rec in self.states.current("hydration"):
                            self._change(rec, "done", now, reason="drink")
                        self._sync()
            elif kind in NIGHT_TYPES:
                self._night_dirty = True
        except Exception:  # never raise into the thread that stored the event
            log.exception("reminders: handling %s event failed", event.get("type"))

    def ack(self, source: str = "api") -> dict | None:
        """Acknowledge the active (else the latest snoozed) reminder; None if there is none.

        Acknowledging the stretching prompt stores a :class:`Stretched` event.
        """
        with self._lock:
            now = self._clock()
            rec = self._active() or next(iter(reversed(self.states.current())), None)
            if rec is None:
                return None
            rec = self._change(rec, "acknowledged", now, source=source)
            if rec.kind == "stretch":
                self._store.add_event(Stretched(t=now, day=rec.day, source=source,
                                                after_cramp_night=rec.payload.get("after_cramp_night")))
            self._sync()
            return rec.to_json()

    def snooze(self, minutes: float | None = None, source: str = "api") -> dict | None:
        """Snooze the active reminder for ``minutes`` (default ``outputs.snooze_min``); None if none is active."""
        with self._lock:
            self._follow_settings()
            minutes = self._o.snooze_min if minutes is None else minutes
            if not 1 <= minutes <= 720:
                raise ValueError(f"snooze minutes must be between 1 and 720 (got {minutes!r})")
            now = self._clock()
            rec = self._active()
            if rec is None:
                return None
            rec = self._change(rec, "snoozed", now, source=source, snoozed_until=now + minutes * 60.0)
            if self._scheduler is not None and self.planned:
                jobs.run_once_at(self._scheduler, rec.snoozed_until, self.tz, self.tick)
            self._sync()
            return rec.to_json()

    def active(self) -> dict | None:
        """The active reminder as published on ``<base>/reminder``, or None."""
        with self._lock:
            rec = self._active()
            return rec.to_json() if rec is not None else None

    def next_planned(self) -> dict | None:
        """The next reminder as planned now, if nothing changes first (no drink, no button):
        ``{"t", "kind", "reason"}`` with ``reason`` ``snoozed`` (a snoozed reminder comes
        back), ``behind`` (a hydration reminder, from the pace as it stands) or ``bedtime``
        (the stretching prompt); today's, else tomorrow's; None when nothing is planned
        (the clock is not trusted yet, or reminders are off).

        Only a prediction: a drink before then moves a hydration reminder on, and a
        reminder active now is :meth:`active`, not this.
        """
        with self._lock:
            if not self.planned:
                return None
            self._follow_settings()
            now = self._clock()
            plan = policy.day_plan(now, self._h, self._s, self.tz)
            found = [(r.snoozed_until, r.kind, "snoozed") for r in self.states.current() if r.state == "snoozed"]
            tomorrow = policy.plan_for(plan.day + timedelta(days=1), self._h, self._s, self.tz)
            for day in (plan, tomorrow):
                if found:
                    break
                if not self.states.current("hydration") or day is tomorrow:
                    facts = self._hydration_facts(day) if day is plan else {
                        "goal_ml": self.goal_ml, "intake_ml": 0.0, "observed_from": self._first_run}
                    t = policy.next_hydration_at(now, day, self._h, self.tz, **facts)
                    if t is not None:
                        found.append((t, "hydration", "behind"))
                if self._s.enabled and self.states.for_day("stretch", day.iso) is None \
                        and not policy.stretch_expired(now, day):
                    found.append((max(now, day.stretch_at), "stretch", "bedtime"))
            if not found:
                return None
            t, kind, reason = min(found)
            return {"t": round(t, 3), "kind": kind, "reason": reason}

    @property
    def goal_ml(self) -> float:
        """Today's goal: the one a person set (device.actions), else the configured one."""
        return goal_ml(self._store, self._h.goal_ml)

    def status(self) -> dict[str, Any]:
        """For ``<base>/state`` and the dashboard: reminder, pace, last night, clock."""
        with self._lock:
            self._follow_settings()
            now = self._clock()
            plan = policy.day_plan(now, self._h, self._s, self.tz)
            d = self._hydration_decision(now, plan)
            snoozed = [r.to_json() for r in self.states.current() if r.state == "snoozed"]
            return {"reminder": self.active(), "snoozed": snoozed,
                    "pace": {"day": plan.iso, "goal_ml": self.goal_ml, "intake_ml": round(d.intake_ml, 1),
                             "expected_ml": round(d.expected_ml, 1), "behind_ml": round(d.behind_ml, 1),
                             "window": [plan.wake, plan.cutoff], "reminders": d.reason},
                    "last_night": self.last_night, "clock": {"planned": self.planned, "detail": self.clock_detail}}

    def _describe_outputs(self) -> str:
        c = self._o
        parts = [f"{name} GPIO{pin}" for name, pin in (("LED", c.led_pin), ("buzzer", c.buzzer_pin),
                                                       ("button", c.button_pin)) if pin is not None]
        return ", ".join(parts)


def _schedule(config: Config) -> list[tuple[str, str]]:
    """What decides the jobs' times (APScheduler's triggers do not compare by value)."""
    return [(spec.id, str(spec.trigger)) for spec in jobs.job_specs(config)] + [("tz", str(config.tz))]


def _end_reason(reason: str) -> str:
    return "caught_up" if reason == "on_pace" else reason
