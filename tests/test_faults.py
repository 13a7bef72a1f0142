"""Fault injection: kill -9 at random moments, bad config files, bursts of I2C errors
and a full disk. The database stays intact, no stored event is lost or counted twice,
and faults become health, not crashes."""

from __future__ import annotations

import json
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from device.config import Config
from device.daemon import Daemon
from simulator.rigs import SimulatedBottle
from tests.conftest import wait_for

KILLS = 20
DRINK_INTERVAL_S = 5  # the fastest drinker the simulator allows: a drink every 4-5 s
READY_S = 2.0  # after start-up the detector has seen the bottle at rest within this
STORE_WINDOW_S = 3.0  # a kill this soon after a drink was committed lands during its store
LANDED_MIN = 10  # kills of 20 that must land during a store

# `crampwatch run --simulate`, except that the simulated person's day is anchored at a
# fixed wall-clock moment given on the command line: the person keeps drinking on their
# own schedule while the daemon is killed and restarted, as a real one would. (The
# plain CLI starts a new simulated day at each start, so a restarted daemon would never
# see the same drink twice and re-detection could not be tested.)
RUNNER = """
import sys
from device.config import load_config
from device.daemon import run_daemon, Daemon
from simulator.rigs import SimulatedBottle
from device.runtime.logs import setup_logging
from simulator.bottle_scenario import plan_day

config, _ = load_config(sys.argv[1])
plan = plan_day(1.0, config.simulator.seed, start=float(sys.argv[2]),
                drink_interval_s=config.simulator.drink_interval_s)
setup_logging(config.logging.level)
daemon = Daemon(config, simulate=True, hardware=SimulatedBottle(config, plan=plan))
daemon.start()
print("running", flush=True)
daemon.wait()
daemon.stop()
"""


def write_config(tmp_path, data, **sections) -> str:
    body = {"device": {"data_dir": str(data)}, "dashboard": {"enabled": False},
            "simulator": {"drink_interval_s": DRINK_INTERVAL_S}, "logging": {"level": "WARNING"}, **sections}
    path = tmp_path / "config.toml"
    import tomli_w

    path.write_text(tomli_w.dumps(body))
    return str(path)


def stored(db) -> list[dict]:
    """Every stored event (id, type, payload), read without writing anything."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [{"id": i, "type": t, **json.loads(p)}
                for i, t, p in conn.execute("SELECT id, type, payload FROM events ORDER BY t, id")]
    finally:
        conn.close()


def bottle_events(db) -> list[dict]:
    try:
        return [e for e in stored(db) if e["type"] in ("drink", "refill")]
    except sqlite3.Error:  # not created yet
        return []


def integrity(db) -> str:
    conn = sqlite3.connect(db)
    try:
        return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def near_duplicates(events, within_s=2.0, ml_tol=3.0) -> list[tuple[str, str]]:
    """Pairs of bottle events of one type close in time with about the same volume.

    The simulated person puts the bottle down at most every 4.2 s; one put-down detected
    twice would be stamped within a second.
    """
    bottle = [e for e in events if e["type"] in ("drink", "refill")]
    pairs = []
    for a, b in zip(bottle, bottle[1:]):
        if a["type"] == b["type"] and b["t"] - a["t"] < within_s and abs(a["ml"] - b["ml"]) <= ml_tol:
            pairs.append((a["id"], b["id"]))
    return pairs


def commit_times(db, ids) -> list[float]:
    """When the events ``ids`` were committed (the store's wall clock)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [r for (r,) in conn.execute(
            f"SELECT recorded_at FROM events WHERE id IN ({','.join('?' * len(ids))})", list(ids))]
    finally:
        conn.close()


def wait_for_line(proc, line: str, timeout: float) -> bool:
    """Read the child's stdout until ``line`` (True) or until ``timeout`` or its exit (False)."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if not ready:
            return False
        got = proc.stdout.readline()
        if not got:
            return False
        if got.strip() == line:
            return True
    return False


def store_moment(lifts: list[dict], after: float) -> tuple[dict, float]:
    """The first lift with a drink or refill that starts after ``after``, and the start of
    the lift after it: the detector stores the drink then (its volume is measured at once
    when the bottle is lifted again, well before ``settle_s``)."""
    return next((a, b["t"]) for a, b in zip(lifts, lifts[1:]) if a["event"] and a["t"] >= after)


def life_plan(life: int) -> str:
    """What life ``life`` is for: ``start-up`` (killed 0.5-5 s after the spawn, the plain
    CLI every other time), ``in-flight`` (killed within 1 s of the lift that completes a
    drink, mostly before the drink is committed) or ``stored`` (killed within 2 s after
    a drink was committed, while its fan-out runs and the next drink is pending)."""
    return {1: "start-up", 3: "in-flight"}.get(life % 5, "stored")


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_and_duplicates_nothing(tmp_path):
    """Twenty kill -9s of a daemon whose simulated person drinks every 4-5 s and goes on
    drinking while it restarts: 4 during start-up, 4 with a drink in flight, 12 just after
    a drink was stored. Each restart detects from scratch; nothing stored may be lost,
    changed or stored twice, and at least half the kills land during a store."""
    rng = random.Random(8)
    data = tmp_path / "data"
    db = data / "crampwatch.sqlite3"
    config = write_config(tmp_path, data)
    anchor = time.time() - 20
    from simulator.bottle_scenario import plan_day

    plan = plan_day(1.0, 1, start=anchor, drink_interval_s=DRINK_INTERVAL_S)  # what the runner plays
    lifts = [a for a in plan.annotations if a["type"] == "lift" and a["t_down"] is not None]
    before: list[dict] = []
    lives, landed, in_flight = [], 0, 0
    for life in range(KILLS):
        kind = life_plan(life)
        command = (["-m", "device.cli", "run", "--simulate", "--config", config] if life % 10 == 1
                   else ["-c", RUNNER, config, str(anchor)])
        count = len(bottle_events(db))
        born = time.monotonic()
        proc = subprocess.Popen([sys.executable, *command],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        lift = None
        try:
            if kind == "start-up":
                time.sleep(rng.uniform(0.5, 5.0))
            else:
                assert wait_for_line(proc, "running", 60.0), f"life {life}: the daemon did not start"
                drink, lift = store_moment(lifts, time.time() + READY_S)
                if kind == "in-flight":
                    time.sleep(max(0.0, lift + rng.uniform(0.0, 1.0) - time.time()))
                else:
                    wait_for(lambda: len(bottle_events(db)) > count, lift + 15.0 - time.time(), interval=0.02)
                    time.sleep(rng.uniform(0.0, 2.0))
        finally:
            killed_at = time.time()
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL
        if not db.exists():  # killed before the store was created
            lives.append("no database yet")
            continue
        assert integrity(db) == "ok", f"life {life}"
        after = stored(db)
        ids = [e["id"] for e in after]
        assert len(ids) == len(set(ids))
        missing = {e["id"] for e in before} - set(ids)
        assert not missing, f"life {life} lost {missing}"
        changed = [e for e in before if e not in after]
        assert not changed, f"life {life} rewrote {changed}"
        assert near_duplicates(after) == [], f"life {life}"
        new = [e for e in after if e not in before and e["type"] in ("drink", "refill")]
        since = [killed_at - r for r in commit_times(db, [e["id"] for e in new])]
        hit = [s for s in since if 0.0 <= s <= STORE_WINDOW_S]
        landed += bool(hit)
        caught = kind == "in-flight" and not any(abs(e["t"] - drink["t_end"]) <= 2.0 for e in new)
        in_flight += caught
        lives.append(f"{kind}:{time.monotonic() - born:.1f}s:+{len(new)}"
                     + (f":{min(hit):.1f}s after a store" if hit else ":before its store" if caught else ""))
        before = after
    bottle = [e for e in before if e["type"] in ("drink", "refill")]
    # each put-down of the anchored day is stored once at most (the plain CLI plays its own days)
    nearest = [min(plan.truth, key=lambda x: abs(x.t - e["t"])) for e in bottle]
    matched = [x.t for x, e in zip(nearest, bottle) if abs(x.t - e["t"]) <= 2.0]
    print(f"\n{KILLS} kills: {landed} within {STORE_WINDOW_S:g} s after a drink was committed, {in_flight} after "
          f"the lift that completes a drink and before it was committed; lives {lives}; {len(before)} events "
          f"in the end ({len(bottle)} drinks/refills, {len(matched)} of the anchored day); duplicates 0")
    assert len(matched) == len(set(matched)), "a put-down was stored twice"
    assert landed >= LANDED_MIN, f"only {landed} of {KILLS} kills landed during a store"
    # and `crampwatch export` of the survivor agrees with the database
    out = subprocess.run([sys.executable, "-m", "device.cli", "export", "--config", config],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert [json.loads(line)["id"] for line in out.stdout.splitlines()] == [e["id"] for e in before]


@pytest.mark.parametrize("body, says", [
    (b"\x00\xff\xfe garbage \x89PNG\r\n", "cannot read"),  # a corrupted file (not UTF-8)
    (b"[device\nid = 'x'\n", "invalid TOML"),  # truncated by a power cut while editing
    (b"[bed]\nchip = 'adxl999'\nrate_hz = 7\n[simulator]\ndrink_interval_s = 1\n", "3 problem(s)"),
    (b"[mqtt]\nhost = 'broker'\npassword = 'hunter2'\n", "unknown key"),
])
def test_a_corrupt_or_invalid_config_exits_2_with_a_clear_message_and_writes_nothing(tmp_path, body, says):
    config = tmp_path / "config.toml"
    config.write_bytes(body)
    data = tmp_path / "data"
    env = {**os.environ, "STATE_DIRECTORY": str(data)}  # where a default data_dir would go
    out = subprocess.run([sys.executable, "-m", "device.cli", "run", "--simulate", "--config", str(config)],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith(f"crampwatch run: {config}"), out.stderr
    assert says in out.stderr
    assert "Traceback" not in out.stderr and "hunter2" not in out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]  # no data dir, no database


def bed_daemon(tmp_path) -> Daemon:
    config = Config.model_validate({"device": {"data_dir": str(tmp_path)}, "dashboard": {"enabled": False},
                                    "bed": {"rate_hz": 25, "button_pin": None},
                                    "simulator": {"drink_interval_s": DRINK_INTERVAL_S}})
    return Daemon(config, simulate=True, hardware=SimulatedBottle(config, scripted=True))


def test_i2c_error_bursts_and_an_unplugged_bed_sensor_become_health_and_recover(tmp_path):
    daemon = bed_daemon(tmp_path)
    daemon.start()
    try:
        bus = daemon._bed_hardware.bus
        health = lambda: daemon.health.get("bed")  # noqa: E731
        assert wait_for(lambda: health().state == "ok" and health().last_sample_t, 15)
        # a short burst (a loose wire touched): the driver's retries absorb it
        bus.fail_next(3)
        time.sleep(1.5)
        assert health().state == "ok" and health().errors == 0
        # a steady trickle of NACKs (1 % of transactions) is retried too
        bus.fail_rate = 0.01
        time.sleep(2.0)
        assert health().state == "ok"
        bus.fail_rate = 0.0
        # a long burst: every transaction fails with errno 121 for a while
        bus.fail_rate = 1.0
        assert wait_for(lambda: health().state == "failed", 10)
        assert health().errors >= 1
        assert "121" in health().detail or "Remote I/O" in health().detail, health().detail
        # the daemon wrote it to health.json for `crampwatch status`
        from device.runtime.health_file import read_health

        assert wait_for(lambda: (read_health(tmp_path / "health.json") or {}).get("parts", {})
                        .get("bed", {}).get("state") == "failed", 5)
        assert daemon.health.overall == "failed"
        # the wire is fixed: the worker reopens the chip and reads again
        bus.clear_faults()
        failed_at = health().last_sample_t
        assert wait_for(lambda: health().state == "ok" and health().last_sample_t > failed_at, 20)
        assert daemon.bed._thread.is_alive()
        assert daemon.bottle._thread.is_alive()  # the other sensor never noticed
        # the sensor is unplugged (nothing answers at its address) and plugged back in
        bus.stop_answering()
        assert wait_for(lambda: health().state == "failed", 10)
        errors = health().errors
        bus.answer_again()
        unplugged_at = health().last_sample_t
        assert wait_for(lambda: health().state == "ok" and health().last_sample_t > unplugged_at, 20)
        assert health().errors >= errors
    finally:
        daemon.stop()


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs mounted for this test (root only; skipped where mounting is not allowed)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0755", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory) -> int:
    """Write zeros into ``directory/filler`` until the file system is full; return the bytes."""
    written = 0
    block = b"\0" * 65536
    with open(directory / "filler", "wb", buffering=0) as f:
        while True:
            try:
                written += f.write(block)
            except OSError:
                break
        while True:  # the last partial block
            try:
                if not f.write(b"\0" * 512):
                    break
                written += 512
            except OSError:
                break
    return written


def test_a_full_disk_fails_writes_cleanly_and_the_daemon_carries_on(small_disk):
    from device.runtime.health_file import read_health
    from vocabulary.events import Drink

    data = small_disk / "data"
    daemon = bed_daemon(data)
    daemon.start()
    try:
        store = daemon.store
        before = [Drink(t=1764060000.0 + i * 600, ml=100.0 + i) for i in range(5)]
        store.add_events(before)
        assert wait_for(lambda: daemon.health.get("bed").state == "ok", 15)
        assert fill(small_disk) > 0
        # a new event cannot be committed, nothing is half-written, and the error says why
        with pytest.raises(sqlite3.OperationalError, match="full"):
            for i in range(200):  # the WAL may still have room for a few pages
                store.add_event(Drink(t=1764070000.0 + i, ml=50.0 + i))
        time.sleep(2.5)  # the health loop tries to write while the disk is full
        assert daemon.health_writer.write_errors >= 1
        assert daemon.health_loop_alive()  # so the systemd watchdog keeps being fed
        assert read_health(data / "health.json") is not None  # the old snapshot is still whole
        assert not [p for p in data.iterdir() if p.name.endswith(".tmp")]
        assert daemon.bed._thread.is_alive() and daemon.bottle._thread.is_alive()
        # space comes back: writes work again, nothing stored before was lost
        (small_disk / "filler").unlink()
        late = Drink(t=1764080000.0, ml=77.0)
        assert store.add_event(late)
        ids = [e["id"] for e in store.events(types=["drink"])]
        assert {e.id for e in before} | {late.id} <= set(ids) and len(ids) == len(set(ids))
        assert store.integrity_ok()
    finally:
        daemon.stop()
    conn = sqlite3.connect(data / "crampwatch.sqlite3")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
