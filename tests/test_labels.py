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
