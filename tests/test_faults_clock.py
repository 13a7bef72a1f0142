"""Fault injection (issue 8): the wall clock steps while the real daemon runs.

An NTP step (or someone running ``date -s``) moves CLOCK_REALTIME and leaves
CLOCK_MONOTONIC alone. The daemon runs under libfaketime (``LD_PRELOAD``) with
``FAKETIME_DONT_FAKE_MONOTONIC=1`` and a ``FAKETIME_TIMESTAMP_FILE`` that the test
rewrites: +0, then +2 h (a forward step), then +1 h (a backward step of 1 h). Only the
daemon's process sees the fake clock; the broker and the test keep the real one.

Two things in the harness are not the product:

- libfaketime 0.9.10 (Debian 12) breaks ``time.sleep`` in Python 3.11 when monotonic
  time is not faked: Python sleeps with ``clock_nanosleep(CLOCK_MONOTONIC,
  TIMER_ABSTIME)`` and libfaketime hands the kernel a negative time (EINVAL; upstream
  issue wolfcw/libfaketime#426, fixed after 0.9.10). A ``sitecustomize`` on the
  daemon's PYTHONPATH replaces ``time.sleep`` with a relative ``select()`` wait, which
  libfaketime leaves alone. Event/Condition/Lock/queue timeouts work unchanged (checked).
- The runner below is ``crampwatch run --simulate`` with a status line for the test.
  Its simulated person lives on real (monotonic) time, as in the product's simulator:
  people do not jump with the clock.
"""

from __future__ import annotations

import glob
import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest

from device.runtime.health_file import read_health
from tests.conftest import stop_daemon, wait_for

DEVICE = "clockjump"
BASE = f"crampwatch/{DEVICE}"
DRINK_INTERVAL_S = 30
PHASE_S = 55.0  # time on each clock: a couple of drinks and at least one minute tick
SETTLE_S = 25.0  # a drink is stored 10-20 s after the bottle is back

SLEEP_SHIM = '''
import select
import time


def _sleep(secs, _select=select.select):
    """time.sleep without clock_nanosleep (libfaketime 0.9.10 + Python 3.11: EINVAL)."""
    if secs < 0:
        raise ValueError("sleep length must be non-negative")
    _select([], [], [], secs)


time.sleep = _sleep
'''

# `crampwatch run --simulate` with the person's day on the monotonic clock, and a status
# line every second: the wall and monotonic clocks, whether the reminder jobs are
# planned, how often the reminder service ticked, and when APScheduler runs the next tick.
RUNNER = '''
import json, sys, threading, time
from device.config import load_config
from device.daemon import Daemon
from simulator.rigs import SimulatedBottle
from device.runtime.logs import setup_logging
from scheduler.service import ReminderService
from simulator.bottle_scenario import plan_day

config, _ = load_config(sys.argv[1])
anchor, status_path = float(sys.argv[2]), sys.argv[3]
mono0 = time.monotonic()
person = lambda: anchor + time.monotonic() - mono0
plan = plan_day(1.0, config.simulator.seed, start=anchor, drink_interval_s=config.simulator.drink_interval_s)
ticks = []
_tick = ReminderService.tick
def tick(self):
    ticks.append((time.monotonic(), time.time()))
    return _tick(self)
ReminderService.tick = tick
setup_logging(config.logging.level)
daemon = Daemon(config, simulate=True, hardware=SimulatedBottle(config, plan=plan, clock=person))
daemon.start()

def report():
    with open(status_path, "a") as out:
        while not daemon.stop_event.wait(1.0):
            r = daemon.reminders
            job = r._scheduler.get_job("reminders.tick") if r._scheduler is not None else None
            wall = time.time()
            out.write(json.dumps({"mono": time.monotonic(), "wall": wall, "planned": r.planned,
                                  "ticks": len(ticks), "last_tick_wall": ticks[-1][1] if ticks else None,
                                  "next_tick_in": job.next_run_time.timestamp() - wall
                                  if job is not None and job.next_run_time is not None else None}) + "\\n")
            out.flush()

threading.Thread(target=report, daemon=True).start()
import signal
signal.signal(signal.SIGTERM, lambda *a: daemon.stop_event.set())
daemon.wait()
daemon.stop()
'''


def libfaketime_path() -> str | None:
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    return found[0] if found else None


@pytest.fixture(scope="session")
def libfaketime() -> str:
    path = libfaketime_path()
    if path is None:
        message = "libfaketime is not installed (tools/bootstrap.sh test installs it: apt-get install -y faketime)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def utc_offset_for_local_hour(hour: int) -> str:
    """A fixed-offset zone in which it is now ``hour`` o'clock (deterministic reminders)."""
    offset = (hour - time.gmtime().tm_hour) % 24
    if offset > 12:
        offset -= 24
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # POSIX sign: Etc/GMT-3 is UTC+3


def write_config(tmp_path, broker) -> tuple[str, str]:
    """The config, and the local day. It is 18:xx local; the stretching prompt (and the end
    of the drinking window) is due 30-31 min from now and bedtime 2 h after that: the +2 h
    step lands between the prompt and bedtime, the -1 h step back to after the prompt."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    tz = utc_offset_for_local_hour(18)
    now = datetime.now(ZoneInfo(tz))
    bedtime = (now + timedelta(minutes=151)).strftime("%H:%M")
    data = tmp_path / "data"
    path = tmp_path / "config.toml"
    path.write_text(f'[device]\nid = "{DEVICE}"\ndata_dir = "{data}"\ntimezone = "{tz}"\n'
                    f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nreconnect_max_s = 1\n'
                    f'[hydration]\nbedtime = "{bedtime}"\ncutoff_h = 2\n[stretch]\nlead_min = 120\n'
                    f'[dashboard]\nenabled = false\n[simulator]\ndrink_interval_s = {DRINK_INTERVAL_S}\n'
                    '[logging]\nlevel = "INFO"\n')
    return str(path), now.date().isoformat()


def stored(db) -> list[dict]:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return [{"id": i, "type": t, "recorded_at": r, **json.loads(p)} for i, t, p, r in
                    conn.execute("SELECT id, type, payload, recorded_at FROM events ORDER BY recorded_at, id")]
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def statuses(path) -> list[dict]:
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]
    except OSError:
        return []


def parts(data) -> dict:
    return (read_health(data / "health.json") or {}).get("parts") or {}


@pytest.mark.slow
def test_wall_clock_steps_forward_and_back_lose_nothing_and_replan_reminders(libfaketime, broker, listen, tmp_path):
    from simulator.bottle_scenario import plan_day

    data = tmp_path / "data"
    db = data / "crampwatch.sqlite3"
    config, day = write_config(tmp_path, broker)
    spec = tmp_path / "faketime"
    spec.write_text("+0\n")
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SLEEP_SHIM)
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    status = tmp_path / "status.jsonl"
    env = {**os.environ, "LD_PRELOAD": libfaketime, "FAKETIME_DONT_FAKE_MONOTONIC": "1",
           "FAKETIME_NO_CACHE": "1", "FAKETIME_TIMESTAMP_FILE": str(spec),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(shim), os.getcwd(), os.environ.get("PYTHONPATH")]))}
    watch = listen(broker, [f"{BASE}/event/+"])
    anchor = time.time()
    log_path = tmp_path / "daemon.log"
    log = open(log_path, "w")
    daemon = subprocess.Popen([sys.executable, str(runner), config, str(anchor), str(status)],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    steps = []  # (real time, new offset)
    health_seen = []

    def watch_for(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            assert daemon.poll() is None, f"the daemon died: {log_path.read_text()[-3000:]}"
            p = parts(data)
            if p:
                health_seen.append((len(steps), {k: (p[k]["state"], p[k].get("last_sample_age_s"))
                                                 for k in ("bottle", "bed", "reminders", "mqtt") if k in p}))
            time.sleep(2.0)

    def step(offset_s):
        """Step the daemon's wall clock; return (monotonic time of the step, of its detection)."""
        steps.append((time.time(), offset_s))
        stepped_at = time.monotonic()
        spec.write_text(f"{offset_s:+d}\n")
        # the daemon notices within its 15 s clock watch and plans again
        delta = offset_s - (steps[-2][1] if len(steps) > 1 else 0)
        line = f"the wall clock stepped by {delta:+.0f} s; planning reminders again"
        assert wait_for(lambda: line in log_path.read_text(), 25), log_path.read_text()[-3000:]
        return stepped_at, time.monotonic()

    try:
        assert wait_for(lambda: parts(data).get("mqtt", {}).get("state") == "ok"
                        and parts(data).get("reminders", {}).get("state") == "ok", 30), parts(data)
        watch_for(PHASE_S)
        forward_at = step(7200)
        watch_for(PHASE_S)
        backward_at = step(3600)
        watch_for(PHASE_S + SETTLE_S)
        end = time.time()
        assert daemon.poll() is None
        # what the store holds now reaches the subscriber (MQTT keepalive is monotonic)
        running_ids = {e["id"] for e in stored(db)}
        published = lambda: {json.loads(m.payload)["id"] for m in watch.on(f"{BASE}/event/+")}  # noqa: E731
        assert wait_for(lambda: published() >= running_ids, 15), sorted(running_ids - published())
    finally:
        stop_daemon(daemon)
        log.close()
    text = log_path.read_text()
    assert daemon.returncode == 0, text[-3000:]
    assert "Traceback" not in text, text[-3000:]

    # -- reminders: planned again after each step, no burst of ticks, no stall -------------
    st = statuses(status)
    assert st and all(s["planned"] for s in st if s["mono"] > st[0]["mono"] + 5)
    for (at, seen_at), name in ((forward_at, "forward"), (backward_at, "backward")):
        window = [s for s in st if at <= s["mono"] <= at + 30]
        after = [s for s in st if seen_at + 2 <= s["mono"] <= at + PHASE_S]
        assert window and after, name
        burst = window[-1]["ticks"] - window[0]["ticks"]
        assert burst <= 2, f"{name}: {burst} ticks within 30 s of the step (missed runs replayed)"
        # APScheduler's next minute tick is within a minute of the new wall clock, not an hour away
        wrong = [(round(s["mono"] - at, 1), s["next_tick_in"], s["ticks"]) for s in after
                 if s["next_tick_in"] is None or not -5 <= s["next_tick_in"] <= 61]
        assert not wrong, (f"{name} step: next minute tick not within a minute (s after the step, next tick in, "
                           f"ticks run); step noticed after {seen_at - at:.1f} s", wrong[:10])
    ticks_after_back = [s for s in st if s["mono"] >= backward_at[0]]
    assert ticks_after_back[-1]["ticks"] > ticks_after_back[0]["ticks"], "the minute tick stopped after the step"
    events = stored(db)
    reminders = [e for e in events if e["type"] == "reminder"]
    opened = [(e["reminder_id"], e["state"]) for e in reminders]
    # the forward step passed the stretching prompt: it is shown once, at once (the cron run
    # missed by 90 min is not replayed, the tick after planning again decides), and the
    # step back to after its time neither shows it again nor brings a drink reminder
    assert [e["reminder_id"] for e in reminders if e["state"] == "active"] == [f"stretch-{day}"], opened
    shown = next(e for e in reminders if e["state"] == "active")
    assert steps[0][0] + 7200 <= shown["t"] <= steps[1][0] + 7200, "shown after the forward step"

    # -- events: every drink the person took stored exactly once, and published ---------------
    plan = plan_day(1.0, 1, start=anchor, drink_interval_s=DRINK_INTERVAL_S)
    s1, s2 = steps[0][0], steps[1][0]

    def person_time(e):  # an event's daemon wall-clock time back on the person's (real) clock
        # the event is on the clock as it was when stored (the detector runs on step-free
        # sensor time): the wall clock at storing says which step was in effect
        rec = e["recorded_at"]
        if rec >= s1 + 7200 - 5:
            return e["t"] - 7200
        if rec >= s2 + 3600 - 5:
            return e["t"] - 3600
        return e["t"]

    truth = [a for a in plan.annotations if a["type"] == "lift" and a.get("event")
             and anchor + 5 <= a["t_end"] <= end - SETTLE_S]
    bottle = [e for e in events if e["type"] in ("drink", "refill")]
    ids = [e["id"] for e in events]
    unmatched, matched = list(truth), []
    for e in bottle:
        p = person_time(e)
        hit = next((a for a in unmatched if abs(a["t_end"] - p) <= 6.0 and abs(abs(a["net_ml"]) - e["ml"]) <= 6.0),
                   None)
        if hit is not None:
            unmatched.remove(hit)
            matched.append((e, hit))
    phase_of = lambda t: 0 if t < s1 else 1 if t < s2 else 2  # noqa: E731
    lost = [(phase_of(a["t_end"]), round(a["t_end"] - anchor, 1), a["net_ml"]) for a in unmatched]
    matched_ids = {e["id"] for e, _ in matched}
    extra = [(e["id"], e["ml"]) for e in bottle if e["id"] not in matched_ids]
    late = [(e["id"], phase_of(a["t_end"])) for e, a in matched if e["id"] not in running_ids]
    delivered = [json.loads(m.payload)["id"] for m in watch.on(f"{BASE}/event/+")]
    print(f"\nclock steps +7200 s then -3600 s: {len(truth)} drinks/refills taken, {len(matched)} stored "
          f"(lost {lost}, extra {extra}, stored only at shutdown {late}); {len(events)} events stored, "
          f"{len(set(delivered))} delivered over MQTT while running ({len(delivered) - len(set(delivered))} "
          f"duplicates); steps noticed after {forward_at[1] - forward_at[0]:.0f} s and "
          f"{backward_at[1] - backward_at[0]:.0f} s; minute ticks run, every 10 s: {[s['ticks'] for s in st][::10]}; "
          f"reminders {opened}")
    for e, a in matched:
        print(f"   {e['id']:<22} {e['ml']:6.1f} mL (true {abs(a['net_ml']):.1f}) phase {phase_of(a['t_end'])}, "
              f"t - true {person_time(e) - a['t_end']:+.1f} s, stored {e['recorded_at'] - e['t']:.1f} s after t")
    print("   health (step, part: state, last sample age):",
          sorted({(ph, k, v[0], None if v[1] is None else round(v[1])) for ph, snap in health_seen
                  for k, v in snap.items()}))
    assert len(ids) == len(set(ids))
    assert not extra, f"stored drinks the person did not take: {extra}"
    assert not lost, f"drinks not stored (phase, t since start, ml): {lost}"
    assert set(delivered) <= set(ids)

    # -- sensors: sampling runs on, health stays ok -----------------------------------------
    # (a sample's age is measured on the monotonic clock: fresh samples keep it near 0 on
    # either side of a step; a one-off HX711 glitch may show one snapshot, never two in a row)
    settled = health_seen[3:]  # after start-up
    for part in ("bottle", "bed", "reminders", "mqtt"):
        states = [snap[part][0] for _, snap in settled]
        assert "ok" in states and all(a == "ok" or b == "ok" for a, b in zip(states, states[1:])), (part, states)
    for phase, snapshot in settled:
        for part in ("bottle", "bed"):
            age = snapshot[part][1]
            assert age is None or abs(age) < 10, (phase, part, snapshot)

    # every drink is stored while the daemon runs (within seconds), not only at its stop:
    # the bottle thread feeds its detector on sensor time, which a wall-clock step does not move
    assert not late, f"drinks stored only at shutdown (lost on a kill -9): {late}"
    assert all(e["recorded_at"] - e["t"] < SETTLE_S for e, _ in matched), \
        [(e["id"], e["recorded_at"] - e["t"]) for e, _ in matched]


def test_a_reminder_published_while_the_state_is_being_built_does_not_deadlock(broker, tmp_path):
    """Found by the clock test: the stretching prompt shown after the +2 h step froze the
    daemon. The reminder service publishes ``<base>/reminder`` while holding its lock, and
    MQTT's state worker built the state (which asks the reminder service, taking that lock)
    while holding its own lock, which publish_retained needs: lock-order inversion, and the
    bottle thread then waited forever on the reminder lock when it stored the next drink."""
    import threading

    from device.config import Config
    from device.health import Health
    from device.mqtt.service import MqttService
    from device.storage.store import Store

    reminder_lock = threading.RLock()  # the reminder service's lock
    building = threading.Event()

    def state():  # the daemon's state provider asks the reminder service for its status
        building.set()
        with reminder_lock:
            return {"reminder_active": True}

    config = Config.model_validate({"device": {"id": "lockorder", "data_dir": str(tmp_path)},
                                    "mqtt": {"host": broker.host, "port": broker.port}})
    svc = MqttService(config, Store(config.data_path), Health(), state_provider=state, check_interval_s=3600)
    svc.start()
    try:
        assert svc.client.wait_connected(10)
        with reminder_lock:  # the reminder service changes a reminder ...
            worker = threading.Thread(target=svc.publish_state, kwargs={"force": True}, daemon=True)
            worker.start()  # ... while MQTT builds the state
            assert building.wait(5)
            publisher = threading.Thread(target=svc.publish_retained, args=("reminder", {"kind": "stretch"}),
                                         daemon=True)
            publisher.start()
            publisher.join(5)
            assert not publisher.is_alive(), "publish_retained waits for the state worker, which waits for us"
        worker.join(5)
        assert not worker.is_alive()
    finally:
        svc.stop()
