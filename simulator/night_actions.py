"""What happens on the bed, and when: the action plan of simulated nights, with its truth.

A night is a time-ordered list of :class:`Move` bursts (a turnover, a page turn, the
kick of a cramp, sitting up, footsteps by the bed, ...), each owned by the ``sleeper``,
their ``partner`` or the ``room``, plus the intervals each occupant lies awake, and the
ground truth (:class:`vocabulary.events.Sleep`, :class:`vocabulary.events.Wake`).
:mod:`simulator.night_scenario` turns moves into accelerometer samples; a move with
``bed=+1`` puts its owner's weight (breathing, heartbeat, frame tilt) on the bed over its
duration, ``bed=-1`` takes it off, ``posture`` ends in a new lying posture.

A night (normal mode), from its ``start`` (the empty bed):

- 5-45 min later (person's habit, +-20 min a night) the sleeper gets into bed: footsteps,
  sitting down, lying down, a few adjustments;
- reads (page turns every 20-120 s, adjustments) for 5-60 min, or lies awake 2-20 min
  moving every 20-150 s; lights out: a turnover and 0-3 settling movements;
- ``sleep.start`` is the end of the last of those movements; at least 10 min without
  any sleeper movement follow;
- asleep for 6-9.5 h (``sleep.end - sleep.start``): turnovers (one every 12-35 min,
  2-10 s, 30-250 mg, a new posture), twitches (0.3-2.5 an hour, 8-50 mg), sharp isolated
  jerks (0-2 a night, 80-350 mg in under 0.15 s) and brief arousals (a turnover and one
  or two adjustments, at most 35 s). Movement clusters while asleep are at least 90 s
  apart and never longer than 35 s;
- 0-4 wakes (Poisson counts per kind, at most 2 each, 4 in all), at least 30 min from
  either end of the sleep period and 15 min apart; quiet (no sleeper movement) for the
  5 min before each wake and the 4 min after it. While awake in bed the sleeper moves at
  least every 45 s; every wake lasts at least 90 s:

  - ``cramp`` (expected 0.25-0.85 a night, per person): a kick (200-700 mg within
    0.03-0.25 s; one in five "gentle": 50-150 mg over 0.6-2 s), 2-6 spasm jerks
    (60-400 mg, gentle 40-150 mg, sharp), then stretching and flexing in bed; 40-75 %
    (per person) get out of bed for 1-10 min (in bed 20 s-3 min first), otherwise they
    stretch in bed for 75 s-10 min; back in bed, 1-4 settling movements;
  - ``bathroom`` (0.2-1.2 a night, later in the night): one to four turns 5-40 s apart
    (12 % start sharply: 100-250 mg in 0.15-0.5 s), sitting up, out of bed 2-10 min,
    back, settling;
  - ``restless`` (0.1-0.8 a night): 90 s-20 min of turns, adjustments and stretches
    3-45 s apart, no bed exit (15 % start sharply), then settling;

- ``sleep.end`` is the first movement of the final awakening (no sleeper movement in
  the 8 min before it); they lie awake 1-40 min (moving every 15-120 s), sit up and get
  out; 40 % make the bed 5-25 min later (room movement, no breathing); the night ends
  15-40 min after they got up.

A partner (optional; 40 % of people) gets in and out within an hour of the sleeper,
turns over every 15-40 min, twitches (0.5 an hour), and in 30 % of nights gets up once
for 2-8 min. Their movements reach the sensor on the sleeper's side attenuated
(``Partner.gain``, 0.2-0.5: their moves' milli-g, breathing, heartbeat and frame tilt
are scaled by it). They never move in the 3 min before or after a sleeper's wake, within
5 min of either end of the sleep period, in its first 10 min or in its last 8 min; each
of their clusters (getting in, a turnover, getting up) lasts at most 35 s. They are no
wakes. While the sleeper sleeps (outside wakes) the 35 s / 90 s rule holds for every
cluster of movement, whoever makes it (sleeper, partner, a knock in the house): the
sensor cannot tell whose movement it feels. With a partner in bed the bed is not empty
while the sleeper is up: the partner's weaker breathing goes on.

The truth, exactly: a wake starts at the ``t`` of its first movement (the kick, or the
first turn before getting up) and ends at the ``t_end`` of the last settling movement;
``sleep.start`` is the ``t_end`` of the last movement before falling asleep and
``sleep.end`` the ``t`` of the first movement of the final awakening. Awake in bed the
sleeper's movements are at least 15 mg (page turns 6-30 mg only while reading or in the
morning), so every wake's movements are visible, at most 45 s apart.

Between the 35 s longest sleep cluster and the 90 s shortest wake nothing is generated,
so any analysis threshold from 40 s to 85 s (DESIGN's 60 s) scores the same.

Demo mode (:func:`make_person` with ``demo=True``): nights follow each other with 1-2 min
of empty bed between; the sleeper is in bed within 15 s and asleep within 2 min, the first
wake is a violent cramp 100-150 s later, then three more wakes (cramp, bathroom or
restless; 90 s-4 min each, out of bed 30-90 s) with 2.5-5 min of sleep between, and the
final awakening 2-5 min after the last: a night in about half an hour. Quiet margins
shrink to 90 s (:data:`DEMO_RULES`); demo nights have no partner.

Times are UTC seconds; a night's hours follow its ``start`` (default 21:30).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

from vocabulary.events import Sleep, Wake

__all__ = ["Move", "Night", "Person", "Partner", "Rules", "RULES", "DEMO_RULES", "KINDS", "make_person", "plan_night"]

DAY = 86400.0
MIN = 60.0


@dataclass(frozen=True, slots=True)
class Rules:
    """The spacing that keeps the truth unambiguous (seconds); tests check every night against it."""

    min_wake: float = 90.0  # every wake lasts at least this (DESIGN: at least 60 s)
    max_brief: float = 35.0  # a movement cluster while asleep lasts at most this
    cluster_gap: float = 90.0  # movement clusters while asleep are at least this far apart
    max_awake_gap: float = 45.0  # awake in bed during a wake, the sleeper moves at least this often
    quiet_before: float = 300.0  # no sleeper movement this long before a wake starts
    quiet_after: float = 240.0  # ... nor this long after it ends
    onset_quiet: float = 600.0  # ... nor this long after sleep.start
    final_quiet: float = 480.0  # ... nor this long before sleep.end
    partner_clear: float = 180.0  # no partner or room movement this close outside a wake
    partner_clear_sleep: float = 300.0  # ... nor this close to sleep.start or sleep.end (nor in onset/final quiet)


RULES = Rules()
DEMO_RULES = Rules(quiet_before=90.0, quiet_after=90.0, onset_quiet=90.0, final_quiet=90.0, cluster_gap=60.0,
                   partner_clear=60.0, partner_clear_sleep=60.0)


@dataclass(frozen=True, slots=True)
class Move:
    """One burst of movement felt by the bed frame, from ``t`` to ``t_end`` (seconds).

    ``mg`` is the peak of its main component in milli-g (already attenuated for the
    partner), reached ``rise_s`` after ``t``: small for a kick, a second or two for a
    turnover. ``bed`` +1 puts ``who``'s weight on the bed over the move, -1 takes it off;
    ``posture`` ends in a new lying posture (breathing and frame tilt change).
    """

    t: float
    t_end: float
    who: str  # sleeper, partner, room
    kind: str  # a key of KINDS
    mg: float
    rise_s: float
    posture: bool = False
    bed: int = 0

    def shifted(self, dt: float) -> Move:
        return replace(self, t=self.t + dt, t_end=self.t_end + dt)


@dataclass(frozen=True, slots=True)
class Kind:
    """Ranges a move of this kind is drawn from: duration (s), peak (mg, log-uniform), rise (s)."""

    dur: tuple[float, float]
    mg: tuple[float, float]
    rise: tuple[float, float]
    posture: bool = False


KINDS: dict[str, Kind] = {
    "turn": Kind((2.0, 10.0), (30.0, 250.0), (0.6, 2.0), True),  # posture change
    "adjust": Kind((1.0, 4.0), (15.0, 80.0), (0.3, 1.2)),  # blanket, pillow, a limb
    "twitch": Kind((0.2, 1.0), (8.0, 50.0), (0.05, 0.3)),
    "jerk": Kind((0.4, 1.5), (80.0, 350.0), (0.03, 0.15)),  # hypnic or periodic limb jerk
    "page": Kind((0.5, 1.5), (6.0, 30.0), (0.2, 0.6)),  # a page or the phone: the arm moves
    "kick": Kind((1.0, 3.0), (200.0, 700.0), (0.03, 0.25)),  # the cramp strikes
    "spasm": Kind((0.5, 2.5), (60.0, 400.0), (0.05, 0.3)),
    "stretch": Kind((3.0, 20.0), (20.0, 150.0), (0.5, 3.0)),
    "flex": Kind((5.0, 20.0), (15.0, 80.0), (0.3, 1.0)),  # rhythmic foot flexing
    "sit": Kind((2.0, 5.0), (80.0, 300.0), (0.4, 1.2)),
    "stand": Kind((1.5, 4.0), (80.0, 300.0), (0.3, 1.0)),
    "lie": Kind((2.0, 6.0), (60.0, 250.0), (0.5, 1.5), True),
    "steps": Kind((3.0, 12.0), (0.8, 4.0), (0.0, 0.0)),  # footsteps by the bed, through the floor
    "knock": Kind((0.5, 3.0), (1.0, 8.0), (0.01, 0.05)),  # a door, traffic, a knock on the frame
    "make": Kind((2.0, 10.0), (20.0, 200.0), (0.2, 1.0)),  # making the bed
}


@dataclass(frozen=True, slots=True)
class Partner:
    """The partner sharing the bed; ``gain`` scales everything of theirs the sensor feels."""

    gain: float  # 0.2-0.5
    turn_min: float  # mean minutes between turnovers, 15-40
    exit_p: float  # chance of one bed exit a night, 0.3


@dataclass(frozen=True, slots=True)
class Person:
    """The sleeper's habits (ranges in :func:`make_person`)."""

    bed_delay_min: float
    read_p: float
    read_min: float
    sleep_h: float
    morning_min: float
    turn_min: float
    twitch_per_h: float
    jerk_per_night: float
    arousal_per_night: float
    cramp_rate: float
    cramp_exit_p: float
    bathroom_rate: float
    restless_rate: float
    vigour: float  # scales the sleeper's movements as the frame feels them
    partner: Partner | None
    demo: bool = False

    @property
    def rules(self) -> Rules:
        return DEMO_RULES if self.demo else RULES


def make_person(rng: random.Random, *, partner: bool | None = None, demo: bool = False) -> Person:
    """Draw a sleeper (and their partner: 40 % of people when ``partner`` is None; never in demo mode)."""
    draw = rng.random() < 0.4
    partner = (draw if partner is None else partner) and not demo
    mate = Partner(gain=rng.uniform(0.2, 0.5), turn_min=rng.uniform(15.0, 40.0), exit_p=0.3)
    return Person(
        bed_delay_min=rng.uniform(5.0, 45.0),
        read_p=rng.uniform(0.2, 0.9),
        read_min=rng.uniform(10.0, 45.0),
        sleep_h=rng.uniform(6.4, 8.8),
        morning_min=rng.uniform(3.0, 25.0),
        turn_min=rng.uniform(12.0, 35.0),
        twitch_per_h=rng.uniform(0.3, 2.5),
        jerk_per_night=rng.uniform(0.0, 2.0),
        arousal_per_night=rng.uniform(0.3, 2.0),
        cramp_rate=rng.uniform(0.25, 0.85),
        cramp_exit_p=rng.uniform(0.4, 0.75),
        bathroom_rate=rng.uniform(0.2, 1.2),
        restless_rate=rng.uniform(0.1, 0.8),
        vigour=rng.uniform(0.8, 1.25),
        partner=mate if partner else None,
        demo=demo,
    )


@dataclass(frozen=True)
class Night:
    """One planned night: its moves, who lies awake when, and its ground truth."""

    index: int
    start: float  # the trace of this night begins (empty bed)
    end: float  # ... and ends (empty bed again)
    moves: tuple[Move, ...]  # sorted by t
    awake: tuple[tuple[str, float, float], ...]  # (who, t0, t1): lying awake, not asleep
    sleep: Sleep
    wakes: tuple[tuple[Wake, dict], ...]  # each with its extra truth keys (kind, onset, ...)
    notes: tuple[dict, ...]  # annotations: in/out of bed, reading, sleep movements, partner
    t_in: float  # the sleeper sits down on the bed
    t_out: float  # the sleeper has left it in the morning

    @property
    def truth_records(self) -> list[dict]:
        sleep = self.sleep.to_dict() | {"night": self.index, "in_bed": [round(self.t_in, 3), round(self.t_out, 3)]}
        return [sleep] + [w.to_dict() | extra for w, extra in self.wakes]


def _logu(r: random.Random, lo: float, hi: float) -> float:
    return math.exp(r.uniform(math.log(lo), math.log(hi)))


def _poisson(r: random.Random, lam: float) -> int:
    n, p, limit = 0, r.random(), math.exp(-lam)
    while p > limit:
        n += 1
        p *= r.random()
    return n


class _Seq:
    """Moves of one occupant, laid end to end from a cursor."""

    def __init__(self, p: Person, r: random.Random, who: str = "sleeper", t: float = 0.0):
        self.p, self.r, self.who, self.t = p, r, who, t
        self.moves: list[Move] = []

    def add(self, gap: float, kind: str, *, who: str | None = None, mg: float | None = None,
            rise: float | None = None, dur: float | None = None, bed: int = 0) -> Move:
        """Append a move ``gap`` seconds after the cursor; the cursor moves to its end."""
        r, k = self.r, KINDS[kind]
        who = who or self.who
        dur = dur if dur is not None else r.uniform(*k.dur)
        if mg is None:
            mg = _logu(r, *k.mg)
            if who == "sleeper":
                mg *= self.p.vigour
            elif who == "partner":
                mg *= self.p.partner.gain
        rise = rise if rise is not None else r.uniform(*k.rise)
        t = self.t + gap
        m = Move(t, t + dur, who, kind, mg, min(rise, 0.6 * dur), k.posture or bed == 1, bed)
        self.moves.append(m)
        if who == self.who:
            self.t = m.t_end
        return m


# ---- wakes: built from 0 (their first movement), placed later --------------------------

def _settle(s: _Seq) -> None:
    """Getting back to sleep: one to four movements 5-45 s apart; the last one ends the wake."""
    r = s.r
    for i in range(r.randint(1, 4)):
        s.add(r.uniform(5.0, 45.0) if i else r.uniform(2.0, 20.0), r.choice(["adjust", "adjust", "turn"]))


def _leave_and_return(s: _Seq, out_s: float) -> tuple[float, float]:
    """Sit up, stand (off the bed), footsteps, out for ``out_s``, footsteps, sit down, lie down."""
    r = s.r
    s.add(r.uniform(1.0, 15.0), "sit")
    stand = s.add(r.uniform(0.5, 4.0), "stand", bed=-1)
    s.add(r.uniform(0.2, 2.0), "steps", who="room")
    back = stand.t_end + out_s
    if out_s > 40.0:
        s.moves.append(Move(back - 12.0, back - 12.0 + r.uniform(3.0, 8.0), "room", "steps",
                            _logu(r, *KINDS["steps"].mg), 0.0))
    s.t = back
    s.add(0.0, "sit", bed=1)
    s.add(r.uniform(0.5, 6.0), "lie")
    return stand.t_end, back


def _onset_truth(kind: str, onset: str, first: Move) -> dict:
    """A wake's truth extras: its kind, and how its first movement began."""
    return {"kind": kind, "onset": onset, "onset_mg": round(first.mg, 1), "onset_rise_s": round(first.rise_s, 3)}


def _onset(s: _Seq, kind: str, *, sharp_p: float, kinds: tuple[str, ...], mg_hi: float,
           rise_lo: float) -> dict:
    """A non-cramp wake's first movement, and its truth extras (see :func:`_onset_truth`).

    Sharp (probability ``sharp_p``): a turn of 100-250 mg rising in 0.15-0.5 s. Gradual:
    one of ``kinds`` (drawn only if there is a choice), 20-``mg_hi`` mg rising in
    ``rise_lo``-2 s.
    """
    r, vigour = s.r, s.p.vigour
    if r.random() < sharp_p:
        first = s.add(0.0, "turn", mg=_logu(r, 100.0, 250.0) * vigour, rise=r.uniform(0.15, 0.5))
        return _onset_truth(kind, "sharp", first)
    move = r.choice(kinds) if len(kinds) > 1 else kinds[0]
    first = s.add(0.0, move, mg=_logu(r, 20.0, mg_hi) * vigour, rise=r.uniform(rise_lo, 2.0))
    return _onset_truth(kind, "gradual", first)


def _cramp(p: Person, r: random.Random, *, violent: bool = False) -> tuple[_Seq, dict]:
    s = _Seq(p, r)
    gentle = not violent and r.random() < 0.2
    if gentle:
        kick = s.add(0.0, "kick", mg=_logu(r, 50.0, 150.0) * p.vigour, rise=r.uniform(0.6, 2.0),
                     dur=r.uniform(2.0, 3.5))
    else:
        kick = s.add(0.0, "kick", mg=min(900.0, _logu(r, 200.0, 700.0) * p.vigour))
    for _ in range(r.randint(2, 6)):
        s.add(r.uniform(0.3, 4.0), "spasm", mg=_logu(r, 40.0, 150.0) * p.vigour if gentle else None)
    exit_ = r.random() < p.cramp_exit_p
    if p.demo:
        in_bed = r.uniform(20.0, 60.0) if exit_ else r.uniform(75.0, 150.0)
    else:
        in_bed = r.uniform(20.0, 180.0) if exit_ else _logu(r, 75.0, 600.0)
    until = s.t + in_bed
    while s.t < until:
        u = r.random()
        kind = "stretch" if u < 0.45 else "flex" if u < 0.75 else "spasm" if u < 0.9 else "adjust"
        s.add(r.uniform(0.2, 10.0), kind)
    extra = _onset_truth("cramp", "gentle" if gentle else "violent", kick)
    if exit_:
        out = r.uniform(30.0, 90.0) if p.demo else r.uniform(60.0, 600.0)
        extra["out_of_bed"] = _leave_and_return(s, out)
    _settle(s)
    return s, extra


def _bathroom(p: Person, r: random.Random) -> tuple[_Seq, dict]:
    s = _Seq(p, r)
    extra = _onset(s, "bathroom", sharp_p=0.12, kinds=("turn", "adjust"), mg_hi=120.0, rise_lo=0.8)
    for _ in range(r.randint(0, 3)):
        s.add(r.uniform(5.0, 40.0), r.choice(["turn", "adjust"]))
    out = r.uniform(40.0, 90.0) if p.demo else r.uniform(120.0, 600.0)
    extra["out_of_bed"] = _leave_and_return(s, out)
    _settle(s)
    return s, extra


def _restless(p: Person, r: random.Random) -> tuple[_Seq, dict]:
    s = _Seq(p, r)
    extra = _onset(s, "restless", sharp_p=0.15, kinds=("turn",), mg_hi=150.0, rise_lo=0.6)
    until = r.uniform(90.0, 180.0) if p.demo else _logu(r, 90.0, 1200.0)
    while s.t < until:
        gap = r.uniform(3.0, 30.0) if r.random() < 0.8 else r.uniform(30.0, 45.0)
        s.add(gap, r.choice(["turn", "turn", "adjust", "adjust", "stretch"]))
    _settle(s)
    return s, extra


_WAKES = {"cramp": _cramp, "bathroom": _bathroom, "restless": _restless}


def _wake(p: Person, r: random.Random, kind: str, **kw) -> tuple[list[Move], float, dict]:
    """A wake of ``kind`` built from 0; returns its moves, duration and truth extras.

    Drawn again until it lasts at least ``min_wake`` (and, in demo mode, at most 4 min).
    """
    while True:
        s, extra = _WAKES[kind](p, r, **kw)
        duration = max(m.t_end for m in s.moves if m.who == "sleeper")
        if duration >= p.rules.min_wake and (not p.demo or duration <= 240.0):
            return s.moves, duration, extra


# ---- a night ---------------------------------------------------------------------------

def plan_night(p: Person, r: random.Random, index: int, start: float) -> Night:
    """Plan night ``index`` of person ``p`` from ``start`` (the empty bed)."""
    return (_demo_night if p.demo else _night)(p, r, index, start)


class _Protect:
    """Where movements may not fall: sleep movements, partner and room movements.

    ``others`` are the zones kept clear of partner and room movement around the true
    boundaries. While the sleeper sleeps (outside wakes) any cluster of movement,
    whoever makes it, must stay brief and spaced (:meth:`asleep_ok`): the sensor can't
    tell whose movement it feels.
    """

    def __init__(self, rules: Rules, moves: list[Move]):
        self.rules, self.moves = rules, moves
        self.sleeper: list[tuple[float, float]] = []
        self.others: list[tuple[float, float]] = []
        self.sleep = (0.0, 0.0)
        self.wakes: list[tuple[float, float]] = []

    @staticmethod
    def free(zones, t0: float, t1: float) -> bool:
        return all(t1 <= a or t0 >= b for a, b in zones)

    def asleep_ok(self, t0: float, t1: float) -> bool:
        """A cluster [t0, t1] during sleep is at most ``max_brief`` long and ``cluster_gap`` from any other."""
        a, b = self.sleep
        if t1 <= a or t0 >= b or any(w0 <= t0 and t1 <= w1 for w0, w1 in self.wakes):
            return True
        gap = self.rules.cluster_gap
        return t1 - t0 <= self.rules.max_brief and not any(
            m.t < t1 + gap and m.t_end > t0 - gap for m in self.moves if m.kind != "steps")

    def ok(self, t0: float, t1: float) -> bool:
        """Partner and room movement: clear of the boundaries, brief and spaced while the sleeper sleeps."""
        return self.free(self.others, t0, t1) and self.asleep_ok(t0, t1)


def _night(p: Person, r: random.Random, index: int, start: float) -> Night:
    rules, notes, awake = p.rules, [], []
    s = _Seq(p, r, t=start + max(5.0, p.bed_delay_min + r.uniform(-20.0, 20.0)) * MIN)
    t_in = s.t
    s.add(-r.uniform(4.0, 10.0), "steps", who="room")
    s.add(0.0, "sit", bed=1)
    s.add(r.uniform(1.0, 5.0), "lie")
    for _ in range(r.randint(0, 2)):
        s.add(r.uniform(3.0, 25.0), "adjust")
    if r.random() < p.read_p:
        t0, until = s.t, s.t + min(60.0, max(5.0, p.read_min * r.uniform(0.5, 1.5))) * MIN
        while s.t < until:
            s.add(r.uniform(20.0, 120.0), "page" if r.random() < 0.75 else "adjust")
        notes.append({"type": "reading", "t": t0, "t_end": s.t})
        s.add(r.uniform(5.0, 30.0), "adjust")  # the book goes away
        s.add(r.uniform(3.0, 30.0), "turn")
    else:
        until = s.t + r.uniform(2.0, 20.0) * MIN
        while s.t < until:
            s.add(r.uniform(20.0, 150.0), "adjust" if r.random() < 0.7 else "turn")
        s.add(r.uniform(20.0, 120.0), "turn")
    notes.append({"type": "lights_out", "t": s.moves[-1].t})
    for _ in range(r.randint(0, 3)):
        s.add(r.uniform(20.0, 150.0), r.choice(["adjust", "adjust", "turn"]))
    sleep_start = s.t
    awake.append(("sleeper", t_in, sleep_start))
    sleep_end = sleep_start + min(9.5, max(6.0, p.sleep_h + r.gauss(0.0, 0.45))) * 3600.0

    protect = _Protect(rules, s.moves)
    protect.sleep = (sleep_start, sleep_end)
    protect.sleeper += [(sleep_start, sleep_start + rules.onset_quiet), (sleep_end - rules.final_quiet, sleep_end)]
    protect.others += [  # the sleeper's still spells at both ends of the night stay still for everyone
        (sleep_start - rules.partner_clear_sleep, sleep_start + max(rules.onset_quiet, rules.partner_clear_sleep)),
        (sleep_end - max(rules.final_quiet, rules.partner_clear_sleep), sleep_end + rules.partner_clear_sleep)]
    wakes = _place_wakes(p, r, s, sleep_start, sleep_end, protect, awake)
    _sleep_moves(p, r, s, sleep_start, sleep_end, protect, notes)

    # the final awakening, lying awake, getting up
    s.t = sleep_end
    s.add(0.0, r.choice(["turn", "stretch", "adjust"]))
    until = sleep_end + min(40.0, max(1.0, p.morning_min * r.uniform(0.3, 1.7))) * MIN
    while s.t < until:
        s.add(r.uniform(15.0, 120.0), r.choice(["adjust", "turn", "page", "stretch"]))
    notes.append({"type": "morning", "t": sleep_end, "t_end": s.t})
    s.add(r.uniform(3.0, 30.0), "sit")
    t_out = s.add(r.uniform(1.0, 5.0), "stand", bed=-1).t_end
    s.add(r.uniform(0.2, 2.0), "steps", who="room")
    awake.append(("sleeper", sleep_end, t_out))
    notes.append({"type": "in_bed", "who": "sleeper", "t": t_in, "t_end": t_out})
    end = t_out + r.uniform(15.0, 40.0) * MIN
    if r.random() < 0.4:  # making the bed: movement without anyone on it
        s.t = t_out + r.uniform(5.0, 25.0) * MIN
        t0 = s.t
        for i in range(r.randint(4, 12)):
            s.add(r.uniform(1.0, 15.0) if i else 0.0, "make", who="room")
            s.t = s.moves[-1].t_end
        notes.append({"type": "bed_making", "t": t0, "t_end": s.t})
        end = max(end, s.t + 5.0 * MIN)
    for _ in range(r.randint(0, 3)):  # the house: doors, traffic
        t = r.uniform(start + 60.0, end - 60.0)
        m = Move(t, t + r.uniform(*KINDS["knock"].dur), "room", "knock", _logu(r, *KINDS["knock"].mg),
                 r.uniform(*KINDS["knock"].rise))
        if protect.ok(m.t, m.t_end):
            s.moves.append(m)
            notes.append({"type": "knock", "who": "room", "t": m.t, "t_end": m.t_end, "mg": round(m.mg, 1)})
    if p.partner is not None:
        end = max(end, _partner(p, r, s, start, t_in, t_out, Sleep(sleep_start, sleep_end), protect, awake, notes)
                  + 10.0 * MIN)
    return _finish(index, start, end, s.moves, awake, Sleep(sleep_start, sleep_end), wakes, notes, t_in, t_out)


def _place_wakes(p: Person, r: random.Random, s: _Seq, sleep_start: float, sleep_end: float,
                 protect: _Protect, awake: list) -> list[tuple[Wake, dict]]:
    rules = p.rules
    kinds = (["cramp"] * min(2, _poisson(r, p.cramp_rate)) + ["bathroom"] * min(2, _poisson(r, p.bathroom_rate))
             + ["restless"] * min(2, _poisson(r, p.restless_rate)))
    kinds = kinds[:4]
    placed: list[tuple[float, float]] = []
    out = []
    lo, hi = sleep_start + 30.0 * MIN, sleep_end - 30.0 * MIN
    for kind in kinds:
        moves, duration, extra = _wake(p, r, kind)
        for _ in range(60):
            u = r.random()
            if kind == "bathroom":
                u = math.sqrt(u)  # later in the night
            t = lo + u * (hi - duration - lo)
            if all(t >= b + 15.0 * MIN or t + duration + 15.0 * MIN <= a for a, b in placed):
                break
        else:
            continue
        placed.append((t, t + duration))
        s.moves += [m.shifted(t) for m in moves]
        if "out_of_bed" in extra:
            a, b = extra["out_of_bed"]
            extra["out_of_bed"] = [round(a + t, 3), round(b + t, 3)]
        cramp = kind == "cramp"
        out.append((Wake(t, t + duration, bed_exit="out_of_bed" in extra, cramp=cramp, score=1.0 if cramp else 0.0),
                    extra))
        protect.sleeper.append((t - rules.quiet_before, t + duration + rules.quiet_after))
        protect.others += [(t - rules.partner_clear, t), (t + duration, t + duration + rules.partner_clear)]
        protect.wakes.append((t, t + duration))
        awake.append(("sleeper", t, t + duration))
    out.sort(key=lambda x: x[0].start)
    return out


def _sleep_moves(p: Person, r: random.Random, s: _Seq, sleep_start: float, sleep_end: float,
                 protect: _Protect, notes: list) -> None:
    """Turnovers, twitches, jerks and brief arousals while asleep: clusters of at most 35 s."""
    rules, span = p.rules, sleep_end - sleep_start
    rates = {"turn": 1.0 / (p.turn_min * MIN), "twitch": p.twitch_per_h / 3600.0, "jerk": p.jerk_per_night / span,
             "arousal": p.arousal_per_night / span}
    total = sum(rates.values())
    t, last_end = sleep_start, sleep_start
    while True:
        t += r.expovariate(total)
        if t >= sleep_end:
            return
        u, kind = r.random() * total, "turn"
        for kind, rate in rates.items():
            u -= rate
            if u < 0:
                break
        c = _Seq(p, r, t=t)
        if kind == "arousal":
            c.add(0.0, "turn")
            for _ in range(r.randint(1, 2)):
                c.add(r.uniform(2.0, 10.0), r.choice(["adjust", "adjust", "turn"]))
            c.moves = [m for m in c.moves if m.t_end <= t + rules.max_brief] or c.moves[:1]
        else:
            c.add(0.0, kind)
        end = c.moves[-1].t_end
        if t < last_end + rules.cluster_gap or not protect.free(protect.sleeper, t, end):
            continue
        s.moves += c.moves
        last_end = end
        notes.append({"type": kind if kind != "turn" else "turnover", "who": "sleeper", "t": t, "t_end": end,
                      "mg": round(max(m.mg for m in c.moves), 1)})


def _partner(p: Person, r: random.Random, s: _Seq, start: float, t_in: float, t_out: float, sleep: Sleep,
             protect: _Protect, awake: list, notes: list) -> float:
    """The partner's night: moves attenuated, none near a true boundary. Returns when they are up.

    Every cluster of theirs lasts at most 35 s (getting in, a turnover, getting up).
    """
    mate, clear = p.partner, p.rules.partner_clear_sleep

    def cluster(t: float, build, check: bool = True) -> list[Move] | None:
        """Build a cluster at ``t``; keep it (in ``s.moves``) if it may be there."""
        c = _Seq(p, r, who="partner", t=t)
        build(c)
        if check and not protect.ok(c.moves[0].t, max(m.t_end for m in c.moves)):
            return None
        s.moves.extend(c.moves)
        return c.moves

    def get_in(c):
        c.add(0.0, "sit", bed=1)
        c.add(r.uniform(1.0, 5.0), "lie")
        c.add(r.uniform(3.0, 8.0), "adjust")

    def get_out(c):
        c.add(0.0, r.choice(["turn", "adjust"]))
        c.add(r.uniform(2.0, 10.0), "sit")
        c.add(r.uniform(1.0, 3.0), "stand", bed=-1)

    for _ in range(30):
        c = cluster(max(start + 3.0 * MIN, t_in + r.uniform(-60.0, 60.0) * MIN), get_in)
        if c:
            break
    else:  # already in bed when the sleeper comes
        c = cluster(start + r.uniform(0.5, 1.0) * MIN, get_in, check=False)
    p_in = p_sleep = c[0].t
    for _ in range(r.randint(0, 3)):  # settling down
        c = cluster(c[-1].t_end + r.uniform(30.0, 200.0), lambda q: q.add(0.0, "adjust")) or c
    p_sleep = c[-1].t_end
    for _ in range(30):
        t = t_out + r.uniform(-60.0, 60.0) * MIN
        out = cluster(t, get_out) if t > p_sleep + 4 * 3600.0 else None
        if out:
            break
    else:  # up after the sleeper
        out = cluster(max(t_out, sleep.end + clear) + r.uniform(1.0, 20.0) * MIN, get_out, check=False)
    p_wake, p_out = out[0].t, out[-1].t_end
    gone = None
    if r.random() < mate.exit_p:
        for _ in range(20):
            t = r.uniform(p_sleep + 3600.0, p_wake - 3600.0)
            a = cluster(t, lambda q: (q.add(0.0, "sit"), q.add(r.uniform(1.0, 4.0), "stand", bed=-1)))
            if not a:
                continue
            b = cluster(t + r.uniform(2.0, 8.0) * MIN,
                        lambda q: (q.add(0.0, "sit", bed=1), q.add(r.uniform(1.0, 5.0), "lie")))
            if not b:
                del s.moves[-len(a):]
                continue
            gone = (a[0].t - 120.0, b[-1].t_end + 120.0)
            notes.append({"type": "partner", "what": "out_of_bed", "t": a[-1].t_end, "t_end": b[0].t})
            awake.append(("partner", a[0].t, b[-1].t_end + 5.0 * MIN))
            break
    rates = {"turn": 1.0 / (mate.turn_min * MIN), "twitch": 0.5 / 3600.0}
    t = p_sleep
    while True:
        t += r.expovariate(sum(rates.values()))
        if t >= p_wake - 120.0:
            break
        if gone and gone[0] < t < gone[1]:
            continue
        kind = "turn" if r.random() * sum(rates.values()) < rates["turn"] else "twitch"
        c = cluster(t, lambda q: q.add(0.0, kind))
        if c:
            notes.append({"type": "partner", "what": kind, "t": t, "t_end": c[-1].t_end, "mg": round(c[0].mg, 1)})
    awake += [("partner", p_in, p_sleep), ("partner", p_wake, p_out)]
    notes.append({"type": "in_bed", "who": "partner", "t": p_in, "t_end": p_out})
    return p_out


def _finish(index, start, end, moves, awake, sleep, wakes, notes, t_in, t_out) -> Night:
    moves = sorted(moves, key=lambda m: (m.t, m.t_end))
    notes = sorted(({k: (round(v, 3) if isinstance(v, float) else v) for k, v in n.items()} for n in notes),
                   key=lambda n: n["t"])
    return Night(index, start, end, tuple(moves), tuple(sorted(awake, key=lambda a: a[1])), sleep, tuple(wakes),
                 tuple(notes), t_in, t_out)


def _demo_night(p: Person, r: random.Random, index: int, start: float) -> Night:
    """A night compressed into about half an hour (see the module docstring)."""
    rules, notes, awake = p.rules, [], []
    s = _Seq(p, r, t=start + r.uniform(5.0, 15.0))
    t_in = s.t
    s.add(-r.uniform(3.0, 5.0), "steps", who="room")
    s.add(0.0, "sit", bed=1)
    s.add(r.uniform(1.0, 3.0), "lie")
    for _ in range(r.randint(1, 3)):
        s.add(r.uniform(5.0, 20.0), r.choice(["adjust", "page"]))
    sleep_start = s.t
    awake.append(("sleeper", t_in, sleep_start))
    t = sleep_start + r.uniform(100.0, 150.0)
    wakes = []
    for i in range(4):
        kind = "cramp" if i == 0 else r.choices(["cramp", "bathroom", "restless"], [0.3, 0.35, 0.35])[0]
        moves, duration, extra = _wake(p, r, kind, **({"violent": True} if i == 0 else {}))
        s.moves += [m.shifted(t) for m in moves]
        if "out_of_bed" in extra:
            a, b = extra["out_of_bed"]
            extra["out_of_bed"] = [round(a + t, 3), round(b + t, 3)]
        cramp = kind == "cramp"
        wakes.append((Wake(t, t + duration, bed_exit="out_of_bed" in extra, cramp=cramp, score=1.0 if cramp else 0.0),
                      extra))
        awake.append(("sleeper", t, t + duration))
        gap = r.uniform(150.0, 300.0)
        if gap >= 260.0:  # a turnover in the quiet between
            c = _Seq(p, r, t=t + duration + rules.quiet_after + r.uniform(10.0, gap - 2 * rules.quiet_after - 40.0))
            c.add(0.0, "turn", dur=r.uniform(2.0, 6.0))
            s.moves += c.moves
            notes.append({"type": "turnover", "who": "sleeper", "t": c.moves[0].t, "t_end": c.moves[0].t_end,
                          "mg": round(c.moves[0].mg, 1)})
        t += duration + gap
    sleep_end = t - r.uniform(0.0, 30.0)
    s.t = sleep_end
    s.add(0.0, "turn")
    for _ in range(r.randint(1, 3)):
        s.add(r.uniform(5.0, 25.0), r.choice(["adjust", "page", "stretch"]))
    notes.append({"type": "morning", "t": sleep_end, "t_end": s.t})
    s.add(r.uniform(3.0, 10.0), "sit")
    t_out = s.add(r.uniform(1.0, 3.0), "stand", bed=-1).t_end
    s.add(r.uniform(0.2, 1.0), "steps", who="room")
    awake.append(("sleeper", sleep_end, t_out))
    notes.append({"type": "in_bed", "who": "sleeper", "t": t_in, "t_end": t_out})
    end = t_out + r.uniform(60.0, 120.0)
    return _finish(index, start, end, s.moves, awake, Sleep(sleep_start, sleep_end), wakes, notes, t_in, t_out)
