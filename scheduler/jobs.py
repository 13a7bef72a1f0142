"""APScheduler wiring: when the reminder service wakes up to look at the day.

The jobs decide nothing: each one calls the service's ``tick()``, which asks the pure
policy what is due *now* and acts on the reminder state stored in SQLite. So a missed,
late, doubled or coalesced run cannot fire a reminder twice or skip one; the jobs only
make things prompt. They are rebuilt from the configuration at every start (explicit
ids, ``replace_existing``) and again after the wall clock steps, since APScheduler
computes each next run time from the wall clock when a job is added.

======================  ===============================  ============================
job id                  trigger (configured time zone)   why
======================  ===============================  ============================
``reminders.tick``      every minute                     pace, snoozes, escalation
``reminders.morning``   cron at wake time                last night's summary
``reminders.cutoff``    cron at bedtime - cutoff         end the drinking window
``reminders.stretch``   cron at bedtime - lead           the stretching prompt
``reminders.snooze``    date: when a snooze ends         re-activate on the minute
======================  ===============================  ============================

Cron triggers are in the configured zone, so a 22:30 prompt stays at 22:30 on the
wall when daylight saving starts or ends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from device.config import Config, clock_minutes

log = logging.getLogger(__name__)

PREFIX = "reminders."
TICK, MORNING, CUTOFF, STRETCH, SNOOZE = (PREFIX + x for x in ("tick", "morning", "cutoff", "stretch", "snooze"))
TICK_GRACE_S = 30  # a late minute tick is dropped: the next one is due soon anyway
CRON_GRACE_S = 3600  # a daily job late by up to an hour (a busy or just-booted Pi) still runs


@dataclass(frozen=True)
class JobSpec:
    """One job as the configuration asks for it."""

    id: str
    trigger: BaseTrigger
    misfire_grace_time: int
    why: str


def _cron(minutes: float, tz: ZoneInfo) -> CronTrigger:
    minutes = round(minutes) % 1440
    return CronTrigger(hour=minutes // 60, minute=minutes % 60, timezone=tz)


def job_specs(config: Config) -> list[JobSpec]:
    """The jobs for this configuration (pure: no scheduler needed)."""
    tz, h, s = config.tz, config.hydration, config.stretch
    wake, bed = clock_minutes(h.wake_time), clock_minutes(h.bedtime)
    specs = [JobSpec(TICK, IntervalTrigger(minutes=1, timezone=tz), TICK_GRACE_S, "pace, snoozes, escalation"),
             JobSpec(MORNING, _cron(wake, tz), CRON_GRACE_S, "last night's summary")]
    if h.enabled:
        specs.append(JobSpec(CUTOFF, _cron(bed - h.cutoff_h * 60, tz), CRON_GRACE_S, "end of the drinking window"))
    if s.enabled:
        specs.append(JobSpec(STRETCH, _cron(bed - s.lead_min, tz), CRON_GRACE_S, "stretching prompt"))
    return specs


def make_scheduler(tz: ZoneInfo) -> BackgroundScheduler:
    """A BackgroundScheduler in ``tz`` running one job at a time in one worker thread."""
    # APScheduler logs every run at INFO; a minute tick would flood the journal.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    return BackgroundScheduler(
        timezone=tz, daemon=True, executors={"default": ThreadPoolExecutor(1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": TICK_GRACE_S})


def install_jobs(scheduler, specs: list[JobSpec], func: Callable[[], None]) -> list[str]:
    """Add (or replace) the jobs of ``specs`` and remove our other jobs; return their ids."""
    wanted = {spec.id for spec in specs}
    for job in scheduler.get_jobs():
        if job.id.startswith(PREFIX) and job.id not in wanted and job.id != SNOOZE:
            scheduler.remove_job(job.id)
    for spec in specs:
        scheduler.add_job(func, spec.trigger, id=spec.id, name=spec.why, replace_existing=True,
                          misfire_grace_time=spec.misfire_grace_time, coalesce=True, max_instances=1)
    return [spec.id for spec in specs]


def remove_jobs(scheduler) -> None:
    """Remove every reminder job (the clock became untrustworthy)."""
    for job in scheduler.get_jobs():
        if job.id.startswith(PREFIX):
            scheduler.remove_job(job.id)


def run_once_at(scheduler, t: float, tz: ZoneInfo, func: Callable[[], None], job_id: str = SNOOZE) -> None:
    """Run ``func`` once at Unix time ``t`` (replacing an earlier one-off of the same id)."""
    scheduler.add_job(func, DateTrigger(run_date=datetime.fromtimestamp(t, tz), timezone=tz), id=job_id,
                      name="snooze ends", replace_existing=True, misfire_grace_time=CRON_GRACE_S, coalesce=True)


class ClockWatch:
    """A thread calling ``check()`` every ``interval_s`` (wall-clock sanity and steps)."""

    def __init__(self, check: Callable[[], object], interval_s: float = 15.0):
        self._check, self._interval = check, interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="reminders-clock", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._check()
            except Exception:  # the watch must keep watching
                log.exception("clock check failed")

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
