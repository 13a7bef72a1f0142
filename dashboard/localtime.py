"""Days, nights and clock times in the configured time zone (times are stored in UTC).

>>> from zoneinfo import ZoneInfo
>>> tz = ZoneInfo("Europe/Berlin")
>>> day_bounds(date(2026, 10, 25), tz)[1] - day_bounds(date(2026, 10, 25), tz)[0]  # DST ends: 25 h
90000.0
>>> night_of(datetime(2026, 11, 3, 2, 30, tzinfo=tz).timestamp(), tz)
datetime.date(2026, 11, 2)
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NOON = time(12)


def day_start(day: date, tz: ZoneInfo) -> float:
    return datetime.combine(day, time(0), tz).timestamp()


def day_bounds(day: date, tz: ZoneInfo) -> tuple[float, float]:
    """Unix times of local midnight starting ``day`` and the next one."""
    return day_start(day, tz), day_start(day + timedelta(days=1), tz)


def local_date(t: float, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(t, tz).date()


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
    """Which local day a Unix time falls on, for many times at once (bisect on midnights)."""

    def __init__(self, first: date, last: date, tz: ZoneInfo):
        self.first = first
        n = (last - first).days + 1
        self.days = [first + timedelta(days=k) for k in range(n)]
        self.edges = [day_start(d, tz) for d in self.days] + [day_start(last + timedelta(days=1), tz)]

    def index(self, t: float) -> int | None:
        k = bisect_right(self.edges, t) - 1
        return k if 0 <= k < len(self.days) else None
