"""User labels override the detector's cramp verdicts."""

from device.labels import apply_labels

WAKES = [
    {"id": "wake-1000000", "start": 1000.0, "end": 1300.0, "cramp": False},
    {"id": "wake-5000000", "start": 5000.0, "end": 5200.0, "cramp": True},
]


def test_a_press_during_or_just_after_a_wake_confirms_it():
    wakes, alone = apply_labels(WAKES, [{"t": 1300.0 + 600, "confirmed": True}])
    assert [w["cramp_final"] for w in wakes] == [True, True]
    assert wakes[0]["cramp_label"] is True and wakes[1]["cramp_label"] is None
    assert alone == []


def test_a_denial_by_id_overrides_the_detector():
    wakes, _ = apply_labels(WAKES, [{"t": 9000.0, "confirmed": False, "wake_id": "wake-5000000"}])
    assert wakes[1]["cramp_final"] is False and wakes[1]["cramp_label"] is False


def test_the_latest_label_wins():
    logs = [{"t": 9000.0, "confirmed": False, "wake_id": "wake-1000000"},
            {"t": 9500.0, "confirmed": True, "wake_id": "wake-1000000"}]
    wakes, _ = apply_labels(WAKES, logs)
    assert wakes[0]["cramp_final"] is True


def test_a_press_far_from_any_wake_is_a_cramp_of_its_own():
    press = {"t": 3000.0, "confirmed": True}
    wakes, alone = apply_labels(WAKES, [press])
    assert alone == [press]
    assert [w["cramp_final"] for w in wakes] == [False, True]


# -- a label's id: two different statements in one millisecond both stay ----------------------
def _burst_store():
    from device.storage.store import Store
    from vocabulary.events import Wake

    store = Store(":memory:")
    store.add_events([Wake(start=1000.0, end=1300.0, bed_exit=True, cramp=True, score=0.9),
                      Wake(start=5000.0, end=5200.0, bed_exit=False, cramp=False, score=0.2)])
    return store


def test_a_burst_of_mqtt_cramp_commands_in_one_millisecond_loses_none():
    """Commands queued by the broker arrive together and are handled within a millisecond."""
    from device.actions import Actions
    from device.mqtt.commands import Cramp, action_handlers

    store = _burst_store()
    handle = action_handlers(Actions(store, clock=lambda: 9000.0))["cramp"]  # the clock does not move between them
    handle(Cramp(wake_id="wake-1000000", confirmed=False))  # not a cramp, after all
    handle(Cramp(wake_id="wake-5000000", confirmed=True))  # but this one was
    handle(Cramp())  # and one now
    logs = list(store.events(types=["cramp"]))
    assert len(logs) == len({e["id"] for e in logs}) == 3
    wakes, alone = apply_labels(store.events(types=["wake"]), logs)
    assert [w["cramp_final"] for w in wakes] == [False, True] and len(alone) == 1


def test_the_same_statement_twice_is_stored_once():
    from vocabulary.events import CrampLog

    store = _burst_store()
    deny = CrampLog(t=9000.0, confirmed=False, wake_id="wake-1000000", source="mqtt")
    assert store.add_event(deny) and not store.add_event(deny)  # a redelivered command
    now = CrampLog(t=9000.0, source="dashboard")
    assert store.add_event(now) and not store.add_event(CrampLog(t=9000.0, source="button"))  # one moment, one cramp
    assert len(list(store.events(types=["cramp"]))) == 2


def test_a_plain_cramps_id_is_what_it_always_was():
    from vocabulary.events import CrampLog

    assert CrampLog(t=1764120100.5, source="button").id == "cramp-1764120100500"  # ids already stored match
    assert CrampLog(t=1764120100.5, wake_id="wake-1").id != CrampLog(t=1764120100.5, wake_id="wake-2").id


def test_the_dashboard_labels_two_wakes_in_one_millisecond():
    from dashboard import create_app
    from device.health import Health
    from tests.test_dashboard_fixtures import CSRF, make_config

    store = _burst_store()
    app = create_app(make_config(), store=store, health=Health(clock=lambda: 9000.0), clock=lambda: 9000.0,
                     test_config={"TESTING": True})
    client = app.test_client()
    with client.session_transaction() as session:
        session["csrf"] = CSRF
    for wake_id, cramp in (("wake-1000000", False), ("wake-5000000", True)):
        r = client.post(f"/api/v1/wakes/{wake_id}/label", json={"cramp": cramp}, headers={"X-CSRF-Token": CSRF})
        assert r.status_code == 200
    wakes, _ = apply_labels(store.events(types=["wake"]), store.events(types=["cramp"]))
    assert [w["cramp_label"] for w in wakes] == [False, True]


def test_every_reader_joins_a_press_to_a_wake_by_the_one_rule():
    """The dashboard's Nights and the reminders' night summary (and so the MQTT state)
    count the same cramps: a press 12 minutes after a wake confirms it everywhere (the
    dashboard once stopped at 10), one 30 s before its estimated start too, and one 20
    minutes after is a cramp of its own."""
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from dashboard.nights import nights
    from device.labels import AFTER_WAKE_S, BEFORE_WAKE_S
    from device.storage.store import Store
    from scheduler.policy import cramp_count
    from vocabulary.events import CrampLog, Wake

    tz = ZoneInfo("Europe/Berlin")
    n = datetime(2026, 11, 20, 23, 0, tzinfo=tz).timestamp()
    wakes = [Wake(start=n + 3600, end=n + 3900, bed_exit=True, cramp=False, score=0.2),
             Wake(start=n + 7200, end=n + 7300, bed_exit=False, cramp=False, score=0.1),
             Wake(start=n + 14400, end=n + 14500, bed_exit=False, cramp=False, score=0.1)]
    presses = [CrampLog(t=n + 3900 + 12 * 60, source="button"), CrampLog(t=n + 7200 - 30, source="button"),
               CrampLog(t=n + 14500 + 20 * 60, source="button")]
    assert 12 * 60 < AFTER_WAKE_S < 20 * 60 and BEFORE_WAKE_S > 30
    with Store(":memory:") as store:
        store.add_events(wakes + presses)
        night = nights(store, tz, date(2026, 11, 20), 1)[0]
        assert [w["label"] for w in night["wakes"]] == [True, True, None]
        assert [w["label_source"] for w in night["wakes"]] == ["button", "button", None]
        assert [c["id"] for c in night["cramps"]] == [presses[2].id]
        events = list(store.events())
        assert night["cramp_count"] == cramp_count(events, n - 3600, n + 12 * 3600) == 3
