"""Daily factors: what a person records about a day that may bear on the night after it.

A supplement (magnesium or another), exercise (none, light or hard), alcohol (yes/no or a
number of drinks) and medication (free text) are recorded per local day (the reminder
policy's day, :func:`scheduler.policy.day_of`) as :class:`~vocabulary.events.DailyFactors`
events; the latest value of each factor wins (:func:`fold`). Electrolyte drinks are not
recorded here: they are drinks of that kind (:mod:`device.drinks`).

A day counts as recorded once any factor was set for it; a factor left unset on a
recorded day counts as no (no supplement, no exercise, no alcohol, no medication), which
is what a row of toggles left off says (:func:`as_recorded`).

>>> events = [{"t": 1.0, "day": "2026-12-07", "exercise": "hard", "supplement": None},
...           {"t": 2.0, "day": "2026-12-07", "supplement": True},
...           {"t": 3.0, "day": "2026-12-07", "exercise": "light"}]
>>> fold(events)["2026-12-07"]
{'exercise': 'light', 'supplement': True}
>>> as_recorded(fold(events).get("2026-12-07"))
{'supplement': True, 'exercise': 'light', 'alcohol': False, 'medication': ''}
>>> as_recorded(None) is None
True
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Any

TYPE = "factors"
FACTORS = ("supplement", "exercise", "alcohol", "medication")
EXERCISE = ("none", "light", "hard")
ALCOHOL_MAX = 30  # drinks in a day
MEDICATION_MAX = 200  # characters
UNSET = {"supplement": False, "exercise": "none", "alcohol": False, "medication": ""}  # on a recorded day
DAY_S = 86400.0


def fold(events: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{day: {factor: value}}``: the latest value set of each factor, for each day."""
    out: dict[str, dict[str, Any]] = {}
    for e in sorted(events, key=lambda e: (e["t"], e.get("id", ""))):
        values = out.setdefault(e["day"], {})
        values.update({k: e[k] for k in FACTORS if e.get(k) is not None})
    return out


def as_recorded(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """Every factor of a recorded day (unset ones as no), or None for a day nothing was recorded for."""
    if values is None:
        return None
    return {k: values.get(k, UNSET[k]) for k in FACTORS}


def entries(store, first: date, last: date) -> list[dict[str, Any]]:
    """The stored factor entries for the days ``first`` to ``last``, in time order."""
    since = datetime.combine(first, time(0), UTC).timestamp() - 2 * DAY_S  # any zone's day starts after this
    lo, hi = first.isoformat(), last.isoformat()
    return [e for e in store.events(types=[TYPE], since=since) if lo <= e["day"] <= hi]


def between(store, first: date, last: date) -> dict[str, dict[str, Any]]:
    """The folded factors of the days ``first`` to ``last`` (only days with a record)."""
    return fold(entries(store, first, last))


def view(day: date, values: dict[str, Any] | None) -> dict[str, Any]:
    """A day's factors for the API and the pages: each value, or None where never set."""
    values = values or {}
    return {"day": day.isoformat(), "recorded": bool(values), **{k: values.get(k) for k in FACTORS}}
