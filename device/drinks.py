"""Drinks as they stand: the stored drinks with a person's corrections and deletions applied.

The one rule for every reader of intake (Today, History and streaks, the insights, the
reminders' pace and night summary, the MQTT state). A drink, detected by the bottle or
logged by hand, is stored once and never rewritten; a :class:`~vocabulary.events.DrinkChange`
naming it (``drink_id``) corrects its volume or kind, or deletes it. Changes come after
their drink (often long after, like cramp labels), so a reader of the drinks from
``since`` reads the changes from ``since`` on, to now. The latest change of a field wins;
a deleted drink stays deleted.

Drinks stored before sources and kinds existed are the bottle's, and water.

>>> drinks = [{"id": "drink-1000", "type": "drink", "t": 1.0, "ml": 300.0},
...           {"id": "drink-2000-manual", "type": "drink", "t": 2.0, "ml": 250.0, "source": "manual", "kind": "tea"}]
>>> changes = [{"t": 5.0, "drink_id": "drink-1000", "ml": 30.0, "kind": None, "deleted": False}]
>>> [(d["id"], d["ml"], d["source"], d["kind"], d["corrected"]) for d in apply_changes(drinks, changes)]
[('drink-1000', 30.0, 'bottle', 'water', True), ('drink-2000-manual', 250.0, 'manual', 'tea', False)]
>>> totals(apply_changes(drinks, changes))
{'intake_ml': 280.0, 'caffeine_ml': 250.0, 'electrolyte_ml': 0.0, 'drinks': 2}
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

KINDS = ("water", "tea", "coffee", "electrolyte", "other")
CAFFEINATED = ("tea", "coffee")  # totalled apart as well as in the day's intake
SOURCES = ("bottle", "manual")
DEFAULTS = {"source": "bottle", "kind": "water"}  # of drinks stored before sources and kinds existed
CHANGE_TYPE = "drink_change"
DRINK_ID = re.compile(r"^drink-(\d{1,16})(-manual)?$")


def drink_time(drink_id: str) -> float | None:
    """The moment a drink id names (``drink-<ms>``, ``drink-<ms>-manual``), or None."""
    match = DRINK_ID.match(drink_id) if isinstance(drink_id, str) else None
    return None if match is None else int(match.group(1)) / 1000.0


def apply_changes(drinks: Iterable[dict], changes: Iterable[dict]) -> list[dict]:
    """The drinks (copies, in their order) with their changes applied; deleted ones left out.

    Each carries ``source`` and ``kind`` (defaults filled in), ``corrected`` (a change
    applied) and, when corrected, ``recorded_ml`` and ``recorded_kind`` (what was first stored).
    """
    latest: dict[str, list[dict]] = {}
    for change in sorted(changes, key=lambda c: c["t"]):
        latest.setdefault(change["drink_id"], []).append(change)
    out = []
    for drink in drinks:
        d = DEFAULTS | drink
        d["corrected"] = False
        deleted = False
        for change in latest.get(d.get("id"), ()):
            if change.get("deleted"):
                deleted = True
                break
            if not d["corrected"]:
                d["recorded_ml"], d["recorded_kind"] = d["ml"], d["kind"]
            d["corrected"] = True
            if change.get("ml") is not None:
                d["ml"] = change["ml"]
            if change.get("kind") is not None:
                d["kind"] = change["kind"]
        if not deleted:
            out.append(d)
    return out


def drinks_between(store, since: float, until: float) -> list[dict]:
    """The drinks with ``since <= t < until`` as they stand, in time order."""
    drinks = store.events(types=["drink"], since=since, until=until)
    return apply_changes(drinks, store.events(types=[CHANGE_TYPE], since=since))


LAST_DRINK_S = 86400.0  # the last drink is looked for this far back (and ahead: a clock stepped back)


def last_drink(store, now: float) -> dict | None:
    """The latest drink as it stands within a day of ``now`` (the MQTT state's "last drink" and
    Today's "since your last drink"), or None."""
    drinks = drinks_between(store, now - LAST_DRINK_S, now + LAST_DRINK_S)
    return drinks[-1] if drinks else None


def find_drink(store, drink_id: str) -> dict | None:
    """The stored drink ``drink_id`` as it stands (None if unknown); ``deleted`` says if it was
    deleted, ``changed_at`` lists the times of its changes."""
    t = drink_time(drink_id)
    if t is None:
        return None
    stored = [e for e in store.events(types=["drink"], since=t - 0.001, until=t + 0.001) if e["id"] == drink_id]
    if not stored:
        return None
    changes = [c for c in store.events(types=[CHANGE_TYPE], since=t - 0.001) if c["drink_id"] == drink_id]
    current = apply_changes(stored, changes)
    changed_at = [c["t"] for c in changes]
    if current:
        return current[0] | {"deleted": False, "changed_at": changed_at}
    kept = apply_changes(stored, [c for c in changes if not c.get("deleted")])
    return kept[0] | {"deleted": True, "changed_at": changed_at}


def totals(drinks: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Intake, caffeinated and electrolyte volumes and the number of drinks (as they stand)."""
    intake = caffeine = electrolyte = 0.0
    count = 0
    for d in drinks:
        intake += d["ml"]
        count += 1
        if d.get("kind") in CAFFEINATED:
            caffeine += d["ml"]
        elif d.get("kind") == "electrolyte":
            electrolyte += d["ml"]
    return {"intake_ml": round(intake, 1), "caffeine_ml": round(caffeine, 1), "electrolyte_ml": round(electrolyte, 1),
            "drinks": count}
