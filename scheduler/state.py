"""Reminder state in SQLite, so that a restart neither repeats nor forgets a reminder.

One row per reminder (table ``reminders``, migration 3). A reminder is ``active``
(glowing, waiting for an answer), ``acknowledged``, ``snoozed`` (until
``snoozed_until``) or ``done`` (``reason`` says why). The service writes each change
here before it lights an LED or publishes anything; after a restart it reads the
active and snoozed ones back and carries on.

>>> from device.storage.store import Store
>>> states = ReminderStates(Store(":memory:"))
>>> r = ReminderRecord.new("stretch-2026-11-02", "stretch", "2026-11-02", 1793655000.0, {"message": "Stretch"})
>>> states.save(r)
>>> [x.id for x in states.current()]
['stretch-2026-11-02']
>>> states.save(r.evolve("done", 1793658600.0, reason="expired"))
>>> states.current(), states.for_day("stretch", "2026-11-02").reason
([], 'expired')
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

OPEN_STATES = ("active", "snoozed")
ENDED_STATES = ("acknowledged", "done")


@dataclass(frozen=True)
class ReminderRecord:
    """One reminder and where it stands."""

    id: str
    kind: str  # hydration | stretch
    day: str  # local date (ISO) of the day it belongs to
    state: str  # active | acknowledged | snoozed | done
    created_at: float
    updated_at: float
    since: float  # when it (last) became active; escalation counts from here
    snoozed_until: float | None = None
    escalated: bool = False
    reason: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(cls, id: str, kind: str, day: str, now: float, payload: dict[str, Any]) -> ReminderRecord:
        return cls(id, kind, day, "active", now, now, now, payload=payload)

    def evolve(self, state: str, now: float, **changes) -> ReminderRecord:
        """This reminder in ``state`` from ``now`` (``since`` restarts on re-activation)."""
        if state == "active" and self.state != "active":
            changes.setdefault("since", now)
            changes.setdefault("escalated", False)
        if state != "snoozed":
            changes.setdefault("snoozed_until", None)
        return replace(self, state=state, updated_at=now, **changes)

    def to_json(self) -> dict[str, Any]:
        """The published form (``<base>/reminder``, the dashboard): state and message."""
        out = {"id": self.id, "kind": self.kind, "state": self.state, "day": self.day,
               "since": round(self.since, 3), "created_at": round(self.created_at, 3),
               "escalated": self.escalated}
        if self.snoozed_until is not None:
            out["snoozed_until"] = round(self.snoozed_until, 3)
        if self.reason is not None:
            out["reason"] = self.reason
        return out | self.payload | {"actions": ["ack", "snooze"] if self.state in OPEN_STATES else []}


_COLUMNS = "id, kind, day, state, created_at, updated_at, since, snoozed_until, escalated, reason, payload"


class ReminderStates:
    """The ``reminders`` table of a :class:`device.storage.store.Store`.

    Every call is one statement in one :meth:`Store.transaction`, the store's public
    way in: it shares the store's connection (an in-memory store has no second one) and
    its writer lock, so writes stay in order with the events'. Reads go the same way:
    the store has no public read of arbitrary tables, and a reminder read is a handful
    of rows a few times a minute, so holding the writer lock for it costs nothing
    noticeable. Not to be called inside another ``store.transaction()`` block.
    """

    def __init__(self, store):
        self._store = store

    def _execute(self, sql: str, args=()) -> list[tuple]:
        with self._store.transaction() as db:
            return db.execute(sql, args).fetchall()

    def save(self, record: ReminderRecord) -> None:
        """Insert or update a reminder (one atomic statement)."""
        self._execute(
            f"INSERT INTO reminders ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET state=excluded.state, updated_at=excluded.updated_at, "
            "since=excluded.since, snoozed_until=excluded.snoozed_until, escalated=excluded.escalated, "
            "reason=excluded.reason, payload=excluded.payload",
            (record.id, record.kind, record.day, record.state, record.created_at, record.updated_at,
             record.since, record.snoozed_until, int(record.escalated), record.reason,
             json.dumps(record.payload)))

    def get(self, reminder_id: str) -> ReminderRecord | None:
        rows = self._execute(f"SELECT {_COLUMNS} FROM reminders WHERE id = ?", (reminder_id,))
        return _record(rows[0]) if rows else None

    def current(self, kind: str | None = None) -> list[ReminderRecord]:
        """Active and snoozed reminders, oldest first."""
        sql = f"SELECT {_COLUMNS} FROM reminders WHERE state IN ('active', 'snoozed')"
        args: tuple = ()
        if kind is not None:
            sql += " AND kind = ?"
            args = (kind,)
        return [_record(r) for r in self._execute(sql + " ORDER BY created_at, id", args)]

    def for_day(self, kind: str, day: str) -> ReminderRecord | None:
        """The latest reminder of ``kind`` for the local date ``day``, in any state."""
        rows = self._execute(f"SELECT {_COLUMNS} FROM reminders WHERE kind = ? AND day = ? "
                             "ORDER BY created_at DESC, id DESC LIMIT 1", (kind, day))
        return _record(rows[0]) if rows else None

    def last_ended(self, kind: str, day: str) -> float | None:
        """When the last acknowledged or finished reminder of ``kind`` on ``day`` ended."""
        rows = self._execute("SELECT max(updated_at) FROM reminders WHERE kind = ? AND day = ? "
                             "AND state IN ('acknowledged', 'done')", (kind, day))
        return rows[0][0]

    def history(self, day: str) -> list[ReminderRecord]:
        rows = self._execute(f"SELECT {_COLUMNS} FROM reminders WHERE day = ? ORDER BY created_at, id", (day,))
        return [_record(r) for r in rows]


def _record(row: tuple) -> ReminderRecord:
    (id_, kind, day, state, created, updated, since, snoozed, escalated, reason, payload) = row
    return ReminderRecord(id_, kind, day, state, created, updated, since, snoozed, bool(escalated), reason,
                          json.loads(payload))
