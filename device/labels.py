"""Confirmed labels win: join the user's cramp logs onto the detector's wakes.

The one rule for every reader (the dashboard's Nights, the insights, the reminders'
night summary, the MQTT state's last night). A :class:`~vocabulary.events.CrampLog` with
``wake_id`` confirms (or, with ``confirmed`` false, denies) that wake. One without
``wake_id`` confirms the wake it falls in, or just before or after (from
``BEFORE_WAKE_S`` before its start to ``AFTER_WAKE_S`` after its end); otherwise it is
a cramp of its own that the detector missed. The latest label for a wake wins.

>>> wakes = [{"id": "wake-1000000", "start": 1000.0, "end": 1300.0, "cramp": False}]
>>> labelled, alone = apply_labels(wakes, [{"t": 1500.0, "confirmed": True, "source": "button"}])
>>> labelled[0]["cramp_final"], labelled[0]["cramp_label_source"], alone
(True, 'button', [])
"""

from __future__ import annotations

from collections.abc import Iterable

# People press the button once they can, often after walking the cramp off.
AFTER_WAKE_S = 15 * 60.0
# A wake starts at its first epoch of movement, as the detector estimates it: a press at
# the very start may be stamped a little before it.
BEFORE_WAKE_S = 60.0


def apply_labels(wakes: Iterable[dict], logs: Iterable[dict]) -> tuple[list[dict], list[dict]]:
    """``(wakes with their labels, confirmed cramp logs that match no wake)``.

    Each returned wake (a copy) carries ``cramp_label`` (True/False from the user, or
    None), ``cramp_label_t`` and ``cramp_label_source`` (when and from where the winning
    label came, or None) and ``cramp_final`` (the label when there is one, else the
    detector's ``cramp``).
    """
    wakes = [dict(w) for w in wakes]
    by_id = {w["id"]: w for w in wakes if "id" in w}
    labels: dict[str, dict] = {}
    unmatched = []
    for entry in sorted(logs, key=lambda e: e["t"]):
        target = by_id.get(entry.get("wake_id")) if entry.get("wake_id") else containing(wakes, entry["t"])
        if target is None:
            if entry.get("confirmed", True) and not entry.get("wake_id"):
                unmatched.append(entry)
            continue
        labels[target["id"]] = entry  # sorted by time: the latest wins
    for w in wakes:
        label = labels.get(w.get("id"))
        w["cramp_label"] = None if label is None else bool(label.get("confirmed", True))
        w["cramp_label_t"] = None if label is None else label["t"]
        w["cramp_label_source"] = None if label is None else label.get("source")
        w["cramp_final"] = bool(w.get("cramp", False)) if label is None else w["cramp_label"]
    return wakes, unmatched


def containing(wakes: Iterable[dict], t: float) -> dict | None:
    """The first wake that a log at ``t`` without a ``wake_id`` labels, or None."""
    for w in wakes:
        if w["start"] - BEFORE_WAKE_S <= t <= w["end"] + AFTER_WAKE_S:
            return w
    return None
