"""What the person does with the bottle, and when: the action timeline of a simulated day.

A timeline is a lazy, time-ordered sequence of physical actions drawn from a seeded
person model: :class:`Remove` (the bottle is picked up and leaves the scale),
:class:`Place` (it is set down again; it carries the ground-truth event), :class:`Bump`
(a knock on the table) and :class:`Item` (a phone or keys rest on the bottle or on the
empty scale for a while). A seed gives the same sequence however far it is read, so a
plan can be extended indefinitely. :mod:`simulator.bottle_scenario` turns actions into
load-cell readings.

Scoring stays unambiguous: an event's net change is always at least ``MIN_EVENT_ML``
(11 mL) and a lift without an event changes the contents by at most ``MAX_NOEVENT_ML``
(5 mL). Nothing in between is generated, so any detector threshold from 6 to 10 mL
scores the same.

The simulated person lives at UTC+0 (London in November): hours of the day are UTC.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from vocabulary.events import Drink, Refill

MIN_EVENT_ML = 11.0
MAX_NOEVENT_ML = 5.0
MIN_DRINK_INTERVAL_S = 5.0  # the quickest demo cycle: lift, sip, put down, settle
HURRIED_REST_S = 1.6  # a hurried demo's rest after a put-down: the detector's 1 s window and more
DAY = 86400.0
MEAN_OCCASION_ML = 115.0  # expected volume of one drinking occasion (sizes the rate)


@dataclass(frozen=True, slots=True)
class Person:
    """The bottle and the habits of the person who drinks from it."""

    empty_g: float
    capacity_ml: float
    wake_h: float  # local hour they get up
    bed_h: float  # local hour they go to bed
    daily_ml: float  # what they aim to drink from this bottle in a day
    overnight_away: bool  # takes the bottle to bed: the scale is empty overnight
    interval_s: float | None = None  # demo mode: a drink or refill at least this often

    @property
    def demo(self) -> bool:
        return self.interval_s is not None

    @property
    def pace(self) -> float:
        """How much faster than the 30 s demo this person acts: 1 at 30 s and longer intervals,
        down to 1/6 at 5 s (a lift, a quick sip, a put-down and a short rest)."""
        return 1.0 if self.interval_s is None else min(1.0, self.interval_s / 30.0)

    @property
    def hurried(self) -> bool:
        """Demo intervals under 30 s: every step of a drink is as quick as can be detected."""
        return self.pace < 1.0

    def awake(self, t: float) -> bool:
        return self.wake_h <= (t % DAY) / 3600.0 < self.bed_h

    def profile(self, t: float) -> float:
        """Relative drinking rate at time ``t``: peaks after waking, low at night."""
        h = (t % DAY) / 3600.0
        if not self.wake_h <= h < self.bed_h:
            return 0.03
        if h - self.wake_h < 2.5:
            return 1.6
        if self.bed_h - h < 1.0:
            return 0.4
        return 1.0 if h < 12.0 else 1.25 if h < 17.5 else 0.8


@dataclass(frozen=True, slots=True)
class Remove:
    """The bottle is picked up at ``t``; from ``t_off`` it is clear of the scale."""

    t: float
    t_off: float
    contents_ml: float

    @property
    def end(self) -> float:
        return self.t_off


@dataclass(frozen=True, slots=True)
class Place:
    """The bottle touches the scale at ``t`` and comes to rest at ``t_rest``.

    ``t_rest`` is the end of the handling transient (impact ringing, a hand resting on
    the bottle); from then on the reading is the settled load plus creep, drift and
    noise. ``event`` is the ground truth (None for no event or the first placement).
    """

    t: float
    t_rest: float
    contents_ml: float
    hand: bool
    kind: str  # first, sip, resip, carry, overnight, refill, refill+drink, nodrink
    t_up: float | None = None  # start of the lift that ends here
    net_ml: float | None = None
    event: Drink | Refill | None = None

    @property
    def end(self) -> float:
        return self.t_rest


@dataclass(frozen=True, slots=True)
class Bump:
    """A knock on the table or the scale: a short ringing transient, no net change."""

    t: float
    t_end: float
    strength_g: float

    @property
    def end(self) -> float:
        return self.t_end


@dataclass(frozen=True, slots=True)
class Item:
    """Something rests on the bottle (or the empty scale): set on at ``t``, lifted at ``t_off``."""

    t: float
    t_on: float  # resting, its landing transient over
    t_off: float
    t_end: float
    mass_g: float
    what: str

    @property
    def end(self) -> float:
        return self.t_end


Action = Remove | Place | Bump | Item


def make_person(rng: random.Random, interval_s: float | None = None) -> Person:
    return Person(
        empty_g=round(rng.uniform(150.0, 450.0), 1),
        capacity_ml=float(rng.choice([500, 600, 700, 750, 800, 900, 1000])),
        wake_h=rng.uniform(6.0, 7.75),
        bed_h=rng.uniform(21.5, 23.75),
        daily_ml=rng.uniform(1400.0, 2500.0),
        overnight_away=rng.random() < 0.5,
        interval_s=interval_s,
    )


def start_state(p: Person, rng: random.Random, start: float, on_scale: bool | None) -> tuple[bool, float]:
    """Whether the bottle is on the scale at ``start``, and its contents."""
    if on_scale is None:
        asleep_away = p.overnight_away and not p.awake(start)
        on_scale = p.demo or (not asleep_away and rng.random() < 0.75)
    low = 0.5 if p.demo else 0.3
    return on_scale, round(rng.uniform(low, 1.0) * p.capacity_ml, 1)


def timeline(p: Person, rng: random.Random, start: float, on_scale: bool, contents: float) -> Iterator[Action]:
    """The endless action sequence of this person, from ``start``."""
    s = _State(start, contents, p)
    if not on_scale:
        if p.demo:
            t = start + rng.uniform(1.0, 4.0)
        elif p.awake(start):
            t = start + rng.uniform(20.0, 900.0)
        else:
            t = _next_clock(start, p.wake_h) + rng.uniform(300.0, 3600.0)
        yield from _place(p, rng, s, t, contents, "first", None)
    yield from (_demo if p.demo else _day)(p, rng, s)


class _State:
    __slots__ = ("start", "t", "contents", "drunk", "day", "bed", "last_rest", "thirsty")

    def __init__(self, t: float, contents: float, p: Person):
        self.start = t
        self.t = t  # the person is free to act from here
        self.contents = contents
        self.drunk = 0.0  # drunk since waking today (they drink to a daily target)
        self.day = -1
        self.bed = _next_clock(t, p.bed_h)
        self.last_rest = t
        self.thirsty = False


def _next_clock(t: float, hour: float) -> float:
    """The first moment at or after ``t`` whose local hour is ``hour``."""
    at = math.floor(t / DAY) * DAY + hour * 3600.0
    return at if at >= t else at + DAY


def _poisson_next(rng: random.Random, t: float, rate, rate_max: float) -> float:
    """Next arrival after ``t`` of a Poisson process with rate ``rate(t)`` (thinning)."""
    while True:
        t += rng.expovariate(rate_max)
        if rng.random() * rate_max <= rate(t):
            return t


def _day(p: Person, rng: random.Random, s: _State) -> Iterator[Action]:
    grid = [p.profile(p.wake_h * 3600.0 + m * 60.0) for m in range(1440)]
    cum = [0.0]
    for v in grid:
        cum.append(cum[-1] + v)
    awake_total = cum[round((p.bed_h - p.wake_h) * 60)]
    r0 = p.daily_ml / MEAN_OCCASION_ML / (cum[-1] * 60.0)

    def drink_rate(t: float) -> float:
        return r0 * p.profile(t)

    def next_drink(t: float) -> float:
        """Occasions form a gamma renewal process in profile-weighted time: regular-ish."""
        x = rng.gammavariate(2.5, 1.0 / 2.5)
        while drink_rate(t) * 60.0 < x:
            x -= drink_rate(t) * 60.0
            t += 60.0
        return t + x / drink_rate(t)

    def nuisance_rate(t: float) -> float:
        return (1.0 if p.awake(t) else 0.05) / 3600.0

    def expected_by(t: float) -> float:
        minute = int(((t / 3600.0 - p.wake_h) % 24.0) * 60.0)
        return p.daily_ml * min(1.0, cum[minute] / awake_total)

    t_next = next_drink(s.t)
    while True:
        if not p.overnight_away and s.t > s.bed:
            s.bed = _next_clock(s.t, p.bed_h)
        if s.thirsty:  # they refilled because they wanted a drink: it comes soon
            t_next, s.thirsty = s.t + rng.uniform(0.0, 600.0), False
        t_d = max(t_next, s.t)
        t_n = _poisson_next(rng, s.t, nuisance_rate, 1.0 / 3600.0)
        if p.overnight_away and s.bed <= min(t_d, t_n):
            yield from _overnight(p, rng, s)
        elif t_d <= t_n:
            day = math.floor((t_d / 3600.0 - p.wake_h) / 24.0)
            if day != s.day:
                s.day, s.drunk = day, 0.0
            f = min(2.0, max(0.5, 1.0 + (expected_by(t_d) - s.drunk) / 350.0))
            yield from _occasion(p, rng, s, t_d, f)
            t_next = next_drink(s.t)
        else:
            yield from _nuisance(p, rng, s, t_n, p.awake(t_n))


def _sip_ml(rng: random.Random, f: float) -> float:
    u = rng.random()
    if u < 0.18:
        return rng.uniform(11.5, 25.0)  # small sips must be reported too
    if u < 0.92:
        return min(400.0, max(26.0, rng.lognormvariate(math.log(90.0), 0.5) * f))
    return rng.uniform(250.0, 400.0)


def _occasion(p: Person, rng: random.Random, s: _State, t: float, f: float) -> Iterator[Action]:
    c = s.contents
    if c < 60.0 or (c < 0.3 * p.capacity_ml and rng.random() < 0.4):
        yield from _refill(p, rng, s, t, f)
        return
    away = rng.uniform(600.0, 5400.0)
    if p.awake(t) and rng.random() < 0.1 and c >= 100.0 and t + away + 1800.0 < s.bed:
        sips = sum(min(150.0, rng.lognormvariate(math.log(50.0), 0.5)) for _ in range(rng.randint(2, 5)))
        v = max(MIN_EVENT_ML + 0.5, min(sips * f, 500.0, c - rng.uniform(0.0, 3.0)))
        yield from _lift(p, rng, s, t, away, c - v, "carry", drunk=v)
        return
    v = min(_sip_ml(rng, f), c - rng.uniform(0.0, 3.0))
    away = 3.0 + v / 30.0 + rng.uniform(0.0, 12.0)
    yield from _lift(p, rng, s, t, away, c - v, "sip", drunk=v)
    if rng.random() < 0.08 and s.contents >= 40.0:  # "one more": picked up again after a short rest
        v = min(_sip_ml(rng, 0.6), s.contents - rng.uniform(0.0, 3.0))
        t = s.last_rest + rng.uniform(8.0, 30.0)
        yield from _lift(p, rng, s, t, 3.0 + v / 30.0 + rng.uniform(0.0, 8.0), s.contents - v, "resip", drunk=v)


def _refill(p: Person, rng: random.Random, s: _State, t: float, f: float,
            away: float | None = None) -> Iterator[Action]:
    c, cap = s.contents, p.capacity_ml
    fill = cap - rng.uniform(5.0, 40.0) if rng.random() < 0.65 else c + rng.uniform(0.3, 0.9) * (cap - c)
    new, kind, drunk = fill, "refill", 0.0
    if rng.random() < (0.2 if p.demo else 0.3):
        for _ in range(20):  # drinks at the tap too: one net event, never a tiny one
            v = round(min(_sip_ml(rng, f), fill), 1)
            if abs(fill - v - c) >= MIN_EVENT_ML + 1.0:
                new, kind, drunk = fill - v, "refill+drink", v
                break
    s.thirsty = kind == "refill" and p.awake(t)
    if away is None:
        away = rng.uniform(6.0, 15.0) if p.demo else rng.uniform(60.0, 300.0)
    yield from _lift(p, rng, s, t, away, new, kind, drunk=drunk)


def _overnight(p: Person, rng: random.Random, s: _State) -> Iterator[Action]:
    t_up = max(s.t, s.bed)
    back = _next_clock(t_up + 3600.0, p.wake_h) + rng.uniform(300.0, 3600.0)
    c = s.contents
    v = 0.0
    if rng.random() < 0.5 and c > 30.0:
        v = min(rng.uniform(40.0, 250.0), c - rng.uniform(0.0, 3.0))
    new, kind = c - v, "overnight"
    if new < 0.3 * p.capacity_ml and rng.random() < 0.5:
        new, kind = p.capacity_ml - rng.uniform(5.0, 40.0), "refill+drink" if v else "refill"
    yield from _lift(p, rng, s, t_up, back - t_up - 1.5, new, kind, drunk=v)
    s.bed = _next_clock(s.t, p.bed_h) + rng.uniform(-900.0, 900.0)


def _nuisance(p: Person, rng: random.Random, s: _State, t: float, awake: bool) -> Iterator[Action]:
    u = rng.random() if awake else 0.5
    if u < 0.3:
        loss = 0.0 if rng.random() < 0.6 or s.contents < 1.0 else rng.uniform(0.3, min(MAX_NOEVENT_ML, s.contents))
        away = rng.uniform(1.5, 4.0) if p.demo else rng.uniform(2.0, 20.0)
        yield from _lift(p, rng, s, t, away, s.contents - loss, "nodrink")
    elif u < 0.75:
        yield _bump(p, rng, s, t, on_bottle=True)
    else:
        yield _item(p, rng, s, t, on_bottle=True, hold=rng.uniform(4.0, 10.0) if p.demo else None)


def _bump(p: Person, rng: random.Random, s: _State, t: float, on_bottle: bool) -> Bump:
    strength = rng.uniform(5.0, 80.0) if on_bottle else rng.uniform(2.0, 25.0)
    b = Bump(t, t + rng.uniform(0.5, 1.5), strength)
    s.t = b.t_end + (3.0 if p.demo else 10.0)
    return b


def _item(p: Person, rng: random.Random, s: _State, t: float, on_bottle: bool, hold: float | None = None) -> Item:
    things = [("keys", 25.0, 120.0), ("wallet", 60.0, 160.0), ("phone", 140.0, 240.0)]
    if not on_bottle:  # on the empty scale only things clearly lighter than the bottle
        things = [x for x in things if x[2] <= 0.6 * p.empty_g] or [("keys", 25.0, 0.6 * p.empty_g)]
    what, lo, hi = rng.choice(things)
    t_on = t + rng.uniform(0.6, 1.0)
    t_off = t_on + (hold if hold is not None else rng.uniform(5.0, 60.0))
    item = Item(t, t_on, t_off, t_off + rng.uniform(0.6, 1.0), round(rng.uniform(lo, hi), 1), what)
    s.t = item.t_end + (8.0 if p.demo else 30.0)
    return item


def _lift(p: Person, rng: random.Random, s: _State, t_up: float, away: float, new: float,
          kind: str, drunk: float = 0.0) -> Iterator[Action]:
    """One lift: the Remove, anything happening to the empty scale meanwhile, the Place."""
    if p.hurried:
        off = rng.uniform(1.0, 1.2)  # grip, tilt and ramp take under 1 s; the ringing dies fast
    else:
        off = rng.uniform(1.1, 1.4) if p.demo else rng.uniform(1.2, 2.0)
    remove = Remove(t_up, t_up + off, s.contents)
    yield remove
    t_down = remove.t_off + away
    s.t = remove.t_off + 20.0
    if not p.demo and away > 120.0:  # the empty scale gets knocked or used as a shelf
        for _ in range(rng.choice([0, 0, 1, 2])):
            if t_down - 100.0 - s.t <= 0.0:
                break
            t = s.t + rng.uniform(0.0, (t_down - 100.0 - s.t) / 2)
            make = _bump if rng.random() < 0.6 else _item
            yield make(p, rng, s, t, on_bottle=False)
    s.drunk += drunk
    yield from _place(p, rng, s, t_down, new, kind, t_up)


def _place(p: Person, rng: random.Random, s: _State, t: float, new: float, kind: str,
           t_up: float | None) -> Iterator[Place]:
    hand = rng.random() < (0.3 if p.demo else 0.6)
    if p.hurried:  # set straight down, no hand left on it: there is no time
        hand, window = False, rng.uniform(0.8, 1.15)
    elif p.demo:
        window = rng.uniform(1.4, 2.0) if hand else rng.uniform(0.8, 1.2)
    else:
        window = rng.uniform(1.7, 3.3) if hand else rng.uniform(0.9, 1.6)
    t_rest = round(t + window, 3)
    new = round(min(max(new, 0.0), p.capacity_ml), 1)
    net = event = None
    if t_up is not None:
        net = round(new - s.contents, 1)
        assert abs(net) <= MAX_NOEVENT_ML or abs(net) >= MIN_EVENT_ML, (kind, net)
        if abs(net) >= MIN_EVENT_ML:
            event = (Refill if net > 0 else Drink)(t=t_rest, ml=abs(net), contents_ml=new)
    s.contents, s.last_rest = new, t_rest
    # creep mostly settles before anything else; a hurried demo only rests long enough for
    # the detector to read the level (a 1 s rest window and a few readings more)
    s.t = t_rest + (max(HURRIED_REST_S, 8.0 * p.pace) if p.demo else 60.0)
    yield Place(t, t_rest, new, hand, kind, t_up, net, event)


def _demo(p: Person, rng: random.Random, s: _State) -> Iterator[Action]:
    """Demo mode: a drink within the first minute (sooner at short intervals), then an
    event at least every interval.

    Under 30 s the person hurries: at 5 s a drink is a lift (1.0-1.2 s), a sip of 0.8-1.0 s,
    a put-down (0.8-1.15 s) and a 1.6 s rest, at most 4.95 s from rest to rest.
    """
    k = p.pace
    if p.hurried:  # a trace starting with the bottle on the scale shows it at rest first
        s.t = max(s.t, s.start + 2.0 * HURRIED_REST_S)
    target = max(s.t + 10.0 * k, s.start + rng.uniform(20.0, 50.0) * k)
    while True:
        refill = s.contents < 150.0
        away = rng.uniform(6.0, 15.0) if refill else rng.uniform(2.0, 6.0)
        if p.hurried:  # quicker sips and taps, so that rest to rest fits in the interval
            away = min(max(0.8, away * k), 30.0 * k - max(HURRIED_REST_S, 8.0 * k) - 2.4)
        t_up = max(s.t, target - away - 3.4)  # remove <= 1.4 s, place <= 2.0 s
        room = t_up - 5.0 - s.t
        u = rng.random()
        if room > 20.0 and u < 0.12:
            yield _item(p, rng, s, s.t + rng.uniform(0.0, room - 19.0), True, hold=rng.uniform(4.0, 8.0))
        elif room > 14.0 and u < 0.22:
            t = s.t + rng.uniform(0.0, room - 13.0)
            yield from _lift(p, rng, s, t, rng.uniform(1.5, 3.0), s.contents, "nodrink")
        elif room > 3.0 and u < 0.5:
            yield _bump(p, rng, s, s.t + rng.uniform(0.0, room - 2.0), on_bottle=True)
        t_up = max(s.t, t_up)
        if refill:
            yield from _refill(p, rng, s, t_up, 1.0, away)
        else:
            v = rng.uniform(11.5, 25.0) if rng.random() < 0.2 else rng.uniform(26.0, 150.0)
            v = min(v, s.contents - 20.0)
            yield from _lift(p, rng, s, t_up, away, s.contents - v, "sip", drunk=v)
        target = s.last_rest + rng.uniform(0.5, 0.9) * p.interval_s
