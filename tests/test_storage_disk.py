"""A full disk under a running daemon (real 3 MB tmpfs, real SQLite, simulated scale):
drinks detected while nothing can be written are kept in memory, health says so, and
they are stored once space returns, none lost or doubled, the database intact."""

from __future__ import annotations

import sqlite3
import time

import pytest

from device.config import Config
from device.daemon import Daemon
from simulator.rigs import SimulatedBottle
from tests.conftest import wait_for
from tests.test_faults import fill, small_disk  # noqa: F401  (small_disk is a fixture)

FULL = SimulatedBottle.empty_bottle_g + 500.0


def use_up_the_database_slack(store) -> None:
    """After the file system is full SQLite may still have room in its WAL: write until it has none."""
    with pytest.raises(sqlite3.OperationalError, match="full"):
        for i in range(5000):
            store.set_setting(f"test.filler.{i}", "x" * 8192)


def lift_and_return(hardware, grams: float) -> None:
    """The person lifts the bottle, drinks, puts it back at ``grams`` and lets it rest."""
    hardware.place(0.0)
    time.sleep(2.0)
    hardware.place(grams)
    time.sleep(7.0)  # longer than the detector's rests (stable window, pieces, rebase)


def test_drinks_detected_on_a_full_disk_are_kept_and_stored_when_space_returns(small_disk):  # noqa: F811
    data = small_disk / "data"
    config = Config.model_validate({"device": {"data_dir": str(data)}, "dashboard": {"enabled": False},
                                    "bed": {"rate_hz": 25, "epoch_s": 10, "button_pin": None},
                                    "storage": {"min_free_mb": 0.5, "epoch_flush_s": 20}})
    hardware = SimulatedBottle(config, scripted=True)
    hardware.place(FULL)
    daemon = Daemon(config, simulate=True, hardware=hardware)
    daemon.start()
    try:
        store, bottle = daemon.store, daemon.bottle
        drinks = lambda: list(store.events(types=["drink"]))  # noqa: E731
        storage = lambda: daemon.health.get("storage")  # noqa: E731
        assert wait_for(lambda: daemon.health.get("bottle").state == "ok", 15)
        time.sleep(7.0)
        lift_and_return(hardware, FULL - 150.0)
        lift_and_return(hardware, FULL - 250.0)  # this lift reports the first drink
        assert wait_for(lambda: len(drinks()) == 1, 20)

        assert fill(small_disk) > 0
        use_up_the_database_slack(store)
        lift_and_return(hardware, FULL - 400.0)  # reports the second drink: nowhere to write it
        lift_and_return(hardware, FULL - 450.0)  # the third
        hardware.place(0.0)  # a lift: the fourth (50 mL) is measured at once
        assert wait_for(lambda: len(bottle.pending.events) == 3, 20)
        assert len(drinks()) == 1
        assert wait_for(lambda: storage().state == "degraded" and "disk full" in storage().detail, 15)
        assert "kept in memory" in storage().detail
        assert wait_for(lambda: daemon.health.snapshot()["storage"]["unwritten_events"] == 3, 15)
        assert bottle._thread.is_alive() and daemon.bed._thread.is_alive()

        (small_disk / "filler").unlink()  # space comes back
        assert wait_for(lambda: len(drinks()) == 4, 30)
        assert bottle.pending.events == [] and bottle.pending.lost == 0
        assert wait_for(lambda: storage().state == "ok", 15)
        got = drinks()
        assert [round(d["ml"] / 50) * 50 for d in got] == [150, 100, 150, 50]
        assert len({d["id"] for d in got}) == 4
        assert store.integrity_ok()
    finally:
        daemon.stop()
    conn = sqlite3.connect(data / "crampwatch.sqlite3")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM events WHERE type = 'drink'").fetchone()[0] == 4
        assert conn.execute("SELECT count(*) FROM epochs").fetchone()[0] > 0  # flushed at stop
    finally:
        conn.close()
