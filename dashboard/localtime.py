"""Nights and clock times in the configured time zone (times are stored in UTC).

Days are not defined here: a day is the reminder policy's (:func:`scheduler.policy.day_bounds`,
halfway through one night to halfway through the next), with the configured times.

>>> from zoneinfo import ZoneInfo
>>> tz = ZoneInfo("Europe/Berlin")
>>> night_of(datetime(2026, 11, 3, 2, 30, tzinfo=tz).timestamp(), tz)
datetime.date(2026, 11, 2)
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NOON = time(12)


def night_of(t: float, tz: ZoneInfo) -> date:
    """The night a moment belongs to, named by its evening (noon to noon)."""
    return (datetime.fromtimestamp(t, tz) - timedelta(hours=12)).date()


def night_bounds(night: date, tz: ZoneInfo) -> tuple[float, float]:
    """Noon of the night's evening to noon of its morning."""
    return (datetime.combine(night, NOON, tz).timestamp(),
            datetime.combine(night + timedelta(days=1), NOON, tz).timestamp())


def clock(t: float, tz: ZoneInfo) -> str:
    """``HH:MM`` of ``t`` in ``tz``."""
    return datetime.fromtimestamp(t, tz).strftime("%H:%M")


def at(day: date, when: time, tz: ZoneInfo) -> float:
    return datetime.combine(day, when, tz).timestamp()


class DayIndex:
    """Which local day a Unix time falls on, for many times at once (bisect on the days' starts).

    ``bounds(day, tz)`` gives a day's start and end (:func:`scheduler.policy.day_bounds`).
    """

    def __init__(self, first: date, last: date, bounds: Callable[[date, ZoneInfo], tuple[float, float]],
                 tz: ZoneInfo):
        self.first = first
        n = (last - first).days + 1
        self.days = [first + timedelta(days=k) for k in range(n)]
        self.edges = [bounds(d, tz)[0] for d in self.days] + [bounds(last, tz)[1]]

    def index(self, t: float) -> int | None:
        k = bisect_right(self.edges, t) - 1
        return k if 0 <= k < len(self.days) else None
