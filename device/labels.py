"""Confirmed labels win: join the user's cramp logs onto the detector's wakes.

A :class:`~device.events.CrampLog` with ``wake_id`` confirms (or, with ``confirmed``
false, denies) that wake. One without ``wake_id`` confirms the wake it falls in or
just after (within ``AFTER_WAKE_S`` of its end); otherwise it is a cramp of its own
that the detector missed. The latest label for a wake wins.
"""

from __future__ import annotations

from collections.abc import Iterable

# People press the button once they can, often after walking the cramp off.
AFTER_WAKE_S = 15 * 60.0


def apply_labels(wakes: Iterable[dict], logs: Iterable[dict]) -> tuple[list[dict], list[dict]]:
    """``(wakes with 'cramp_label', cramp logs that match no wake)``.

    Each returned wake carries ``cramp_label`` (True/False from the user, or None) and
    ``cramp_final`` (the label when there is one, else the detector's ``cramp``).
    """
    wakes = [dict(w) for w in wakes]
    by_id = {w["id"]: w for w in wakes if "id" in w}
    labels: dict[str, tuple[float, bool]] = {}
    unmatched = []
    for entry in sorted(logs, key=lambda e: e["t"]):
        target = by_id.get(entry.get("wake_id")) if entry.get("wake_id") else _containing(wakes, entry["t"])
        if target is None:
            if entry.get("confirmed", True) and not entry.get("wake_id"):
                unmatched.append(entry)
            continue
        labels[target["id"]] = (entry["t"], bool(entry.get("confirmed", True)))
    for w in wakes:
        label = labels.get(w.get("id"))
        w["cramp_label"] = None if label is None else label[1]
        w["cramp_final"] = w.get("cramp", False) if label is None else label[1]
    return wakes, unmatched


def _containing(wakes: list[dict], t: float) -> dict | None:
    for w in wakes:
        if w["start"] <= t <= w["end"] + AFTER_WAKE_S:
            return w
    return None
