"""Reminder state goes through the store's public API only, and survives a restart."""

from __future__ import annotations

from device.storage.store import Store
from scheduler.state import ReminderRecord, ReminderStates


class PublicOnly:
    """A store that offers nothing but ``transaction()``: a private attribute read fails."""

    def __init__(self, store: Store):
        self.transaction = store.transaction


def record(day="2026-11-02", kind="hydration", at=1793600000.0) -> ReminderRecord:
    return ReminderRecord.new(f"{kind}-{day}-{int(at)}", kind, day, at, {"message": "Drink"})


def test_reminder_states_need_only_the_stores_public_transaction():
    states = ReminderStates(PublicOnly(Store(":memory:")))
    r = record()
    states.save(r)
    states.save(r.evolve("snoozed", r.created_at + 60, snoozed_until=r.created_at + 1860))
    assert [x.state for x in states.current("hydration")] == ["snoozed"]
    assert states.get(r.id).snoozed_until == r.created_at + 1860
    states.save(states.get(r.id).evolve("acknowledged", r.created_at + 120))
    assert states.current() == [] and states.last_ended("hydration", r.day) == r.created_at + 120
    assert states.for_day("hydration", r.day).state == "acknowledged"
    assert [x.id for x in states.history(r.day)] == [r.id]


def test_reminder_states_are_durable_and_leave_no_transaction_open(tmp_path):
    store = Store(tmp_path)
    states = ReminderStates(store)
    states.save(record())
    with store.transaction() as db:  # would fail if a reminder call had left one open
        db.execute("SELECT 1")
    store.close()
    again = ReminderStates(Store(tmp_path))
    assert [x.state for x in again.current()] == ["active"]
