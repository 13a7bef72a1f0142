"""Events of the daily coaching: reminder changes, evening stretches, night summaries.

They subclass :class:`vocabulary.events.Event`, so they share its registry, its JSON form
and its stable ids; importing this module registers them for ``Event.from_dict``.

>>> r = Reminder(t=1793620800.0, kind="hydration", state="active", reminder_id="hydration-1793620800000",
...              behind_ml=320.0)
>>> r.id
'reminder-hydration-active-1793620800000'
>>> Event.from_dict({"id": r.id, **r.to_dict()}) == r
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vocabulary.events import Event

REMINDER_KINDS = ("hydration", "stretch")
REMINDER_STATES = ("active", "acknowledged", "snoozed", "done")


@dataclass(frozen=True)
class Reminder(Event):
    """A reminder changed state at ``t``: it became ``active`` (again), was
    ``acknowledged``, ``snoozed`` (until ``snoozed_until``) or is ``done`` (``reason``:
    drink, cutoff, quiet, away, superseded, expired, caught_up).

    ``escalated`` is true on the event of the moment the buzzer sounded.
    """

    type: ClassVar[str] = "reminder"
    t: float
    kind: str
    state: str
    reminder_id: str
    reason: str | None = None
    escalated: bool | None = None
    behind_ml: float | None = None
    snoozed_until: float | None = None
    source: str | None = None  # button, mqtt, dashboard, api

    @property
    def id(self) -> str:
        # several reminder changes can share a millisecond (one ends as another starts)
        return f"{self.type}-{self.kind}-{self.state}{'-escalated' if self.escalated else ''}-{round(self.t * 1000)}"


@dataclass(frozen=True)
class Stretched(Event):
    """The person acknowledged the evening stretching prompt of the local date ``day``."""

    type: ClassVar[str] = "stretched"
    t: float
    day: str
    after_cramp_night: bool | None = None
    source: str | None = None


@dataclass(frozen=True)
class NightSummary(Event):
    """Last night, published after wake time: ``night`` is the morning's local date and
    ``t`` that morning's configured wake time (so a night has one id).

    ``recorded`` is false when no sleep period was stored for the night; the counts are
    then of whatever wakes and cramp reports exist (often none). ``cramps`` counts the
    user's label where there is one, else the detector's verdict.
    """

    type: ClassVar[str] = "night_summary"
    t: float
    night: str
    recorded: bool
    wakes: int = 0
    bed_exits: int = 0
    cramps: int = 0
    cramp_night: bool = False
    stretched: bool = False  # a Stretched event the evening before
    sleep_start: float | None = None
    sleep_end: float | None = None
    asleep_min: float | None = None
    intake_ml: float | None = None  # drunk on the day before the night
    goal_ml: float | None = None
