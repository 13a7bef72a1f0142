"""Events the store refused (a full disk), kept in memory and written when it takes them.

A sensor thread that detects an event, or an action a person took (device.actions: the
bedside button, MQTT, the dashboard), commits it at once. When
the commit fails (``sqlite3.Error``: the disk is full, the database is locked), the
event waits here, bounded, and is retried with the next events or after ``RETRY_S``.
Event ids make a retry idempotent: an event already stored is not stored twice.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)

# Beyond MAX_KEPT waiting events the oldest are given up (logged with their ids).
MAX_KEPT = 1000
RETRY_S = 5.0


class PendingEvents:
    """The events ``name`` (``bottle``, ``bed``, ``actions``) could not commit yet."""

    def __init__(self, name: str):
        self.name = name
        self.events: list = []
        self.lost = 0  # given up beyond MAX_KEPT
        self.next_retry = 0.0
        self._lock = threading.Lock()  # an action (a button's callback) and the retry round may meet

    def __len__(self) -> int:
        return len(self.events)

    def store(self, store, events: Sequence = (), *, force: bool = False) -> list[dict]:
        """Commit ``events`` and the waiting ones; return the newly stored as dicts.

        With no new events the waiting ones are retried only when due (or ``force``).
        """
        with self._lock:
            if not events and (not self.events or (not force and time.monotonic() < self.next_retry)):
                return []
            batch = self.events + list(events)
            try:
                new = store.add_events(batch)
            except sqlite3.Error as exc:
                keep = batch[-MAX_KEPT:]
                lost = len(batch) - len(keep)
                if lost:
                    self.lost += lost
                    log.error("%s: %d unwritten events given up (more than %d waiting): %s",
                              self.name, lost, MAX_KEPT, [e.id for e in batch[:lost]])
                if not self.events:
                    log.warning("%s: events kept in memory, the database refused them: %s", self.name, exc)
                self.events = keep
                self.next_retry = time.monotonic() + RETRY_S
                return []
            if self.events:
                log.info("%s: %d events kept in memory are now stored", self.name, len(self.events))
                self.events = []
            return new

    def close(self, store) -> None:
        """At stop: one last try; what still cannot be written is named in the log."""
        if self.events:
            self.store(store, force=True)
        if self.events:
            log.error("%s: stopping with %d events that could not be stored: %s", self.name,
                      len(self.events), [e.to_dict() for e in self.events])
