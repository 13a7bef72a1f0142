"""The durable outbox: written with each event, emptied only by PUBACKs, bounded, and
replayed so that broker restarts, a broker that is down at start and a kill -9 of
the publishing process lose no event."""

import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

from device.storage.migrations import MIGRATIONS
from device.storage.store import Store
from tests.conftest import wait_for
from tests.test_mqtt_service import service_for
from vocabulary.events import Drink, Refill


def drinks(n, t0=1764060000.0):
    return [Drink(t=t0 + i, ml=100.0 + i) for i in range(n)]


# -- the store's side ----------------------------------------------------------------------
def test_an_outbox_row_is_written_with_each_new_event_only_when_enabled(tmp_path):
    store = Store(tmp_path)
    store.add_events(drinks(2))
    assert store.outbox_count() == 0  # MQTT off: nothing to deliver
    store.enable_outbox()
    store.add_events(drinks(3))  # two are already stored: only the new one is queued
    assert store.outbox_count() == 1
    assert [e["id"] for e in store.outbox_pending()] == ["drink-1764060002000"]


def test_the_outbox_row_and_the_event_share_one_transaction(tmp_path, monkeypatch):
    store = Store(tmp_path, outbox=True)
    store._db.execute("CREATE TRIGGER boom BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    try:
        store.add_event(Drink(t=1.0, ml=10.0))
    except sqlite3.DatabaseError:
        pass
    assert store.count_events() == 0  # no event without its outbox row


def test_pending_is_in_order_and_delete_removes_only_the_acknowledged(tmp_path):
    store = Store(tmp_path, outbox=True)
    store.add_events([Refill(t=5.0, ml=400.0), *drinks(3, t0=1.0)])
    ids = [e["id"] for e in store.outbox_pending()]
    assert ids == ["refill-5000", "drink-1000", "drink-2000", "drink-3000"]  # commit order
    assert store.outbox_delete(["drink-2000", "nope"]) == 1
    assert [e["id"] for e in store.outbox_pending(exclude={"refill-5000"})] == ["drink-1000", "drink-3000"]
    assert store.count_events() == 4  # delivery never removes events


def test_prune_drops_by_age_then_by_size_and_counts_what_it_dropped(tmp_path):
    now = [1000.0]
    store = Store(tmp_path, clock=lambda: now[0], outbox=True)
    store.add_events(drinks(3, t0=1.0))
    now[0] = 1000.0 + 10 * 86400
    store.add_events(drinks(5, t0=100.0))
    dropped = store.outbox_prune(max_age_s=7 * 86400, max_events=3)
    assert dropped == ["drink-1000", "drink-2000", "drink-3000", "drink-100000", "drink-101000"]
    assert [e["id"] for e in store.outbox_pending()] == ["drink-102000", "drink-103000", "drink-104000"]
    store.close()
    assert Store(tmp_path).outbox_dropped() == 5  # persisted


def test_a_version_1_database_gains_the_outbox(tmp_path):
    path = tmp_path / "crampwatch.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + ";PRAGMA user_version = 1;")
    db.execute("INSERT INTO events VALUES ('drink-1000', 'drink', 1.0, '{}', 0)")
    db.commit()
    db.close()
    store = Store(path, outbox=True)
    assert store.schema_version == len(MIGRATIONS) and store.outbox_count() == 0


# -- against a broker that goes away ---------------------------------------------------------
def test_events_stored_while_the_broker_is_down_are_delivered_when_it_comes_up(own_broker, listen, tmp_path):
    broker = own_broker(persistent=True)
    watch = listen(broker, ["crampwatch/late/event/#"], session="late-watcher")  # its session outlives the restart
    broker.stop()
    svc = service_for(broker, tmp_path, "late")
    svc.start()  # starts fine with nothing to connect to
    try:
        svc.store.add_events(drinks(5))
        # each retry refreshes the health detail
        assert wait_for(lambda: svc.health.get("mqtt").state == "degraded"
                        and "5 event(s) waiting" in svc.health.get("mqtt").detail, 5)
        broker.start()
        assert svc.client.wait_connected(5)
        assert wait_for(lambda: svc.store.outbox_count() == 0, 5)
        assert watch.wait("crampwatch/late/event/#", lambda p: len(p) >= 5, timeout=5)
        assert sorted(e["id"] for e in watch.json("crampwatch/late/event/#")) == [e.id for e in drinks(5)]
    finally:
        svc.stop()


def test_a_broker_restart_loses_no_event_and_the_client_is_back_quickly(own_broker, listen, tmp_path):
    broker = own_broker(persistent=True)
    watch = listen(broker, ["crampwatch/restart/event/#"], session="restart-watcher")
    svc = service_for(broker, tmp_path, "restart", reconnect_max_s=2)
    status = listen(broker, ["crampwatch/restart/status"], session="restart-status")
    svc.start()
    assert svc.client.wait_connected(5)
    stop = threading.Event()
    stored = []

    def produce():
        t = 1764060000.0
        while not stop.is_set():
            event = Drink(t=t, ml=50.0)
            svc.store.add_event(event)
            stored.append(event.id)
            t += 1
            time.sleep(0.01)

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        time.sleep(0.3)
        broker.stop()  # in-flight and new events wait in the outbox
        time.sleep(4.0)  # long enough for the backoff to reach its cap
        assert not svc.client.connected and svc.store.outbox_count() > 0
        broker.start()
        t0 = time.monotonic()
        assert svc.client.wait_connected(10)
        back_after = time.monotonic() - t0
        assert back_after < 2 + 1, back_after  # capped backoff: within reconnect_max_s (+ slack)
        time.sleep(0.3)
    finally:
        stop.set()
        producer.join()
    try:
        assert wait_for(lambda: svc.store.outbox_count() == 0, 10), svc.store.outbox_count()
        received = wait_for(lambda: (ids := {e["id"] for e in watch.json("crampwatch/restart/event/#")})
                            >= set(stored) and ids, 10)
        assert received, f"missing: {sorted(set(stored) - {e['id'] for e in watch.json('crampwatch/restart/event/#')})[:5]}"
        assert len(stored) > 100
        # online again after the restart (retained status republished on connect)
        assert status.wait("crampwatch/restart/status", lambda p: p and p[-1] == "online", timeout=5)
    finally:
        svc.stop()


KILLED_DAEMON = textwrap.dedent("""
    import os, sys
    from device.config import Config
    from vocabulary.events import Drink
    from device.health import Health
    from device.mqtt.service import MqttService
    from device.storage.store import Store
    config = Config.model_validate({"device": {"id": "killed", "data_dir": sys.argv[1]},
                                    "mqtt": {"host": "127.0.0.1", "port": int(sys.argv[2])}})
    store = Store(config.data_path)
    MqttService(config, store, Health()).start()
    store.add_events([Drink(t=1764060000.0 + i, ml=10.0) for i in range(20)])
    print("stored", flush=True)
    sys.stdin.read()  # until killed
""")


def test_a_kill_9_loses_nothing_the_next_start_sends_it(own_broker, listen, tmp_path):
    broker = own_broker()
    broker.stop()  # the broker is down while the first process stores its events
    proc = subprocess.Popen([sys.executable, "-c", KILLED_DAEMON, str(tmp_path / "killed"), str(broker.port)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "stored"
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()
    broker.start()
    watch = listen(broker, ["crampwatch/killed/event/#"])
    svc = service_for(broker, tmp_path, "killed")
    svc.start()
    try:
        assert watch.wait("crampwatch/killed/event/#", lambda p: len(p) >= 20, timeout=5)
        ids = [json.loads(p)["id"] for p in watch.payloads("crampwatch/killed/event/#")]
        assert sorted(ids) == sorted(e["id"] for e in svc.store.events())
        assert wait_for(lambda: svc.store.outbox_count() == 0, 5)
    finally:
        svc.stop()


def test_the_outbox_bounds_are_applied_at_start_and_counted_in_health(own_broker, tmp_path):
    broker = own_broker()
    broker.stop()
    svc = service_for(broker, tmp_path, "bounded", outbox_max_events=10)
    svc.store.enable_outbox()
    svc.store.add_events(drinks(25))
    svc.start()
    try:
        assert svc.store.outbox_count() == 10
        assert svc.health.get("mqtt").errors == 15
        assert svc.store.outbox_dropped() == 15
    finally:
        svc.stop()
