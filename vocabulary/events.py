"""The events crampwatch records: one frozen dataclass per type, one JSON form.

An event's JSON form (``to_dict``) is the contract of DESIGN.md: ``type`` first, times
in Unix seconds, extra keys allowed. Its ``id`` is derived from its type and the time
that defines it, so detecting the same event again after a restart gives the same id
and the store keeps one copy.

>>> Drink(t=1764060312.4, ml=152.0).to_dict()
{'type': 'drink', 't': 1764060312.4, 'ml': 152.0, 'source': 'bottle', 'kind': 'water'}
>>> Drink(t=1764060312.4, ml=152.0).id
'drink-1764060312400'
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar

_REGISTRY: dict[str, type[Event]] = {}


@dataclass(frozen=True)
class Event:
    """Base of every event; subclasses set ``type`` and the field that times them."""

    type: ClassVar[str] = ""
    time_field: ClassVar[str] = "t"
    time_fields: ClassVar[tuple[str, ...]] = ("t",)  # every field that is a moment

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.type:
            _REGISTRY[cls.type] = cls

    @property
    def time(self) -> float:
        """The moment that identifies this event (``t`` or ``start``)."""
        return getattr(self, self.time_field)

    @property
    def id(self) -> str:
        """Stable, unique id: the type and the defining time in milliseconds."""
        return f"{self.type}-{round(self.time * 1000)}"

    def shifted(self, dt: float) -> Event:
        """The same event with all its moments moved by ``dt`` seconds (onto another clock).

        >>> Sleep(start=100.0, end=400.0).shifted(-50.0)
        Sleep(start=50.0, end=350.0)
        """
        if not dt:
            return self
        return dataclasses.replace(self, **{name: getattr(self, name) + dt for name in self.time_fields})

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of DESIGN.md (without ``id``; the store and MQTT add it)."""
        out: dict[str, Any] = {"type": self.type}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and f.default is None:
                continue  # optional extras are omitted when unknown
            out[f.name] = _round(value)
        return out

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Event:
        """Rebuild an event from its JSON form; unknown extra keys are ignored."""
        try:
            cls = _REGISTRY[data["type"]]
        except KeyError:
            raise ValueError(f"unknown event type {data.get('type')!r}") from None
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _round(value):
    if isinstance(value, float):
        return round(value, 3)
    return value


@dataclass(frozen=True)
class Drink(Event):
    """``ml`` were drunk (positive): the bottle came back lighter, or a person logged a drink.

    ``source`` is ``"bottle"`` (detected; drinks stored before sources existed are too)
    or ``"manual"`` (logged by hand, ``via`` the surface: ``mqtt`` or ``dashboard``);
    ``kind`` one of :data:`device.drinks.KINDS` (the bottle's are ``"water"`` until a
    person corrects them). A manual drink's id says so, so that it never takes the id
    of a bottle drink at the same millisecond; the same moment is the same drink, so a
    repeated entry with the same ``t`` is stored once.

    >>> Drink(t=1764060312.4, ml=250.0, source="manual", kind="tea", via="mqtt").id
    'drink-1764060312400-manual'
    """

    type: ClassVar[str] = "drink"
    t: float
    ml: float
    contents_ml: float | None = None  # what is left in the bottle afterwards
    source: str = "bottle"
    kind: str = "water"
    via: str | None = None

    @property
    def id(self) -> str:
        plain = super().id
        return plain if self.source == "bottle" else f"{plain}-{self.source}"


@dataclass(frozen=True)
class DrinkChange(Event):
    """A person corrected (``ml``, ``kind``) or deleted a stored drink, at ``t``.

    The drink itself stays stored as it was: readers apply its changes
    (:func:`device.drinks.apply_changes`), so nothing is ever lost. ``source`` is the
    surface. The id says which drink and what was said as well as when (as
    :class:`CrampLog`'s does), so that two different changes in one millisecond both stay.

    >>> DrinkChange(t=1764070000.0, drink_id="drink-1764060312400", deleted=True).id
    'drink_change-1764070000000-drink-1764060312400-deleted'
    >>> DrinkChange(t=1764070000.0, drink_id="drink-1764060312400", ml=180.0).id
    'drink_change-1764070000000-drink-1764060312400-180-'
    """

    type: ClassVar[str] = "drink_change"
    t: float
    drink_id: str
    ml: float | None = None
    kind: str | None = None
    deleted: bool = False
    source: str | None = None

    @property
    def id(self) -> str:
        said = "deleted" if self.deleted else f"{'' if self.ml is None else f'{self.ml:g}'}-{self.kind or ''}"
        return f"{super().id}-{self.drink_id}-{said}"


@dataclass(frozen=True)
class DailyFactors(Event):
    """Factors a person recorded for the local ``day`` (ISO date), at ``t``.

    Only the factors given are set (None: not part of this entry); the latest entry for
    a day wins per factor (:func:`device.factors.fold`). ``alcohol`` is true/false or a
    number of drinks; ``exercise`` none, light or hard; ``medication`` free text ("" clears it).
    The id says what was set as well as when and for which day (a digest of the values), so
    that two different entries in one millisecond both stay.

    >>> DailyFactors(t=1764070000.0, day="2025-11-25", exercise="hard").id
    'factors-1764070000000-2025-11-25-48284fed'
    """

    type: ClassVar[str] = "factors"
    t: float
    day: str
    supplement: bool | None = None
    exercise: str | None = None
    alcohol: bool | int | None = None
    medication: str | None = None
    source: str | None = None

    @property
    def id(self) -> str:
        values = json.dumps([self.supplement, self.exercise, self.alcohol, self.medication])
        return f"{super().id}-{self.day}-{hashlib.sha256(values.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class Refill(Event):
    """The bottle came back heavier: ``ml`` were added (positive)."""

    type: ClassVar[str] = "refill"
    t: float
    ml: float
    contents_ml: float | None = None


@dataclass(frozen=True)
class Sleep(Event):
    """A main sleep period, from falling asleep to the final awakening.

    ``evidence`` says what decided it: "breathing+movement", or "movement" alone when
    breathing could not be measured (actigraphy-style; counts replays say "counts");
    ``quality`` how clear the signal was (noise_mg, breathing, coverage); ``rest`` the
    time in bed around it, ``[start, end]``, where the sensor tells (counts: from the
    evening's last activity to the morning's first).
    """

    type: ClassVar[str] = "sleep"
    time_field: ClassVar[str] = "start"
    time_fields: ClassVar[tuple[str, ...]] = ("start", "end")
    start: float
    end: float
    evidence: str | None = None
    quality: dict | None = None
    rest: list | None = None


@dataclass(frozen=True)
class Wake(Event):
    """An awakening of at least 60 s inside a sleep period."""

    type: ClassVar[str] = "wake"
    time_field: ClassVar[str] = "start"
    time_fields: ClassVar[tuple[str, ...]] = ("start", "end")
    start: float
    end: float
    bed_exit: bool
    cramp: bool
    score: float


@dataclass(frozen=True)
class CrampLog(Event):
    """The user said they had a cramp: by the bedside button, the dashboard or MQTT.

    ``wake_id`` names the wake it confirms (or denies, with ``confirmed`` false);
    without it the cramp is recorded at ``t``.

    Its id says *what* was said as well as when, so that two different statements in
    the same millisecond both stay (a burst of MQTT ``cramp`` commands, queued by the
    broker while the daemon was away, is handled well within one): a cramp at a moment
    keeps the plain ``cramp-<ms>`` (the same moment is the same cramp, so a repeated
    dashboard entry or a redelivered command is stored once); a verdict on a wake adds
    the wake and the verdict. Ids are stored with their events and never recomputed,
    so the ids already stored stay as they are.

    >>> CrampLog(t=1764120100.5).id
    'cramp-1764120100500'
    >>> CrampLog(t=1764120100.5, confirmed=False, wake_id="wake-1764120000000").id
    'cramp-1764120100500-wake-1764120000000-no'
    """

    type: ClassVar[str] = "cramp"
    t: float
    confirmed: bool = True
    wake_id: str | None = None
    source: str | None = None

    @property
    def id(self) -> str:
        plain = super().id
        if self.wake_id is None and self.confirmed:
            return plain
        return f"{plain}-{self.wake_id or 'none'}-{'yes' if self.confirmed else 'no'}"


def event_types() -> list[str]:
    """Every registered event type name."""
    return sorted(_REGISTRY)
