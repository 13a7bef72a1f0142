"""Bed-frame accelerometer scenarios with ground truth: simulated nights, sample by sample.

:func:`plan_night` draws a sleeper (and maybe a partner) and their nights
(:mod:`simulator.night_actions`); :class:`NightPlan` turns them into what an ADXL345 or
MPU-6050 screwed to the bed frame reports, in g on x, y, z:

- gravity: 1 g along the mounting's "down" axis (z 60 %, x or y 20 % each, either sign),
  tilted 0-15 degrees in a random direction; a zero-g offset per axis (ADXL345 +-40 mg
  x/y, +-80 mg z; MPU-6050 +-50 / +-80 mg) and a gain error of +-3 %;
- breathing of whoever lies on the bed: 0.17-0.28 Hz asleep, 1.1-1.4 times faster awake
  (at most 0.4 Hz), a second harmonic of 10-40 %, rate jittering every 6-20 s (+-4 %
  asleep, +-12 % awake) and amplitude (+-8 % / +-25 %); the sleeper's amplitude is
  1-4 mg (person and bed), times 0.5-1.3 for each posture, kept within 0.8-5 mg, in a
  new direction after every turnover;
- heartbeat (ballistocardiogram): 0.85-1.1 Hz asleep, 0.1-0.3 Hz faster awake (at most
  1.5 Hz), a pulse-shaped wave 12-30 % of the breathing amplitude;
- the frame's tilt under the occupant's weight: 1-8 mg, changing by +-40 % with the
  posture, gone when the bed is empty (so are breathing and heartbeat);
- movements (:data:`simulator.night_actions.KINDS`), each made of tapered sine grains:
  a main wavelet peaking at the move's ``mg`` exactly ``rise_s`` after it starts, then
  irregular wavelets of the body moving (one or two a second, 15-60 % of the peak, 0.3-2
  s long, in the kind's band within 0.3-12 Hz, never before the peak), a half-sine lean
  of the frame (10-80 % of the peak) and, for sharp moves (kicks, spasms, jerks,
  twitches, knocks), the frame ringing at 8-25 Hz; footsteps by the bed are 0.8-4 mg
  knocks at 1.6-2.2 Hz. Nothing of a move lies outside ``[t, t_end]``. The chip's
  digital filter passes grains up to about 0.4 times the rate and stops those above
  (no aliasing at 25 Hz);
- a partner's breathing, heartbeat, tilt and movements, all scaled by their ``gain``
  (0.2-0.5): the sensor sits on the sleeper's side;
- slow thermal drift of the offset: 0.3-2.5 mg per axis, periods of 10-30 h;
- white noise: ADXL345 2.4-3.0 mg rms on x/y at 100 Hz (z 1.25-1.4 times that),
  MPU-6050 0.33-0.45 mg/sqrt(Hz) over a bandwidth of 0.44 times the rate (2.2-3.0 mg at
  100 Hz, z up to 1.15 times); both scale with the square root of the rate (about half
  at 25 Hz);
- quantisation to the chip's step (ADXL345 full resolution 3.9 mg/LSB, MPU-6050 at
  +-2 g 1/16384 g) and clipping at +-2 g.

The ground truth (:attr:`NightPlan.truth`) is exact by construction: a wake starts at
the ``t`` of its first movement (the kick, or the first turn before getting up) and ends
at the ``t_end`` of the last movement of settling back; the sleep period runs from the
end of the last movement before falling asleep to the first movement of the final
awakening (see :mod:`simulator.night_actions` for the quiet margins around them).

``nights > 1`` chains nights 24 h apart (from ``start``), with the empty bed between;
demo mode chains half-hour nights with 1-2 min between. :meth:`NightPlan.render` works
in blocks of 2**18 samples (a 10 h night at 100 Hz: about 1 s, under 200 MB);
:meth:`NightPlan.sample_at` (O(log n), about 15 us, for the live register-level chip)
and :meth:`NightPlan.render_span` extend the plan with more nights and forget old ones,
so they run for ever.

>>> plan = plan_night(3)
>>> [e.type for e in plan.truth][:1]
['sleep']
>>> t, xyz = plan.render(25, span=(plan.start, plan.start + 60))
>>> xyz.shape
(1500, 3)
"""

from __future__ import annotations

import bisect
import json
import math
import random
import threading
from array import array
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from simulator.night_actions import DAY, Move, Night, Person, Rules, make_person, plan_night as _plan_one
from simulator.night_physics import Physics
from vocabulary.events import Sleep, Wake
from vocabulary.traces import format_rows

__all__ = ["NightPlan", "plan_night", "write_night", "fit_demo_night", "CHIPS", "Chip", "DEFAULT_START"]

DEFAULT_START = 1793655000.0  # 2026-11-02 21:30 UTC
_TWO_PI = 2.0 * math.pi
_CHUNK = 1 << 18  # samples rendered at a time: bounds the temporaries


@dataclass(frozen=True, slots=True)
class Chip:
    """What matters of the accelerometer: its step, its range, and how its noise scales."""

    name: str
    lsb_g: float
    range_g: float
    noise_xy_100hz: tuple[float, float]  # rms mg at 100 Hz, drawn per scenario
    z_factor: tuple[float, float]
    offset_mg: tuple[float, float]  # +- zero-g offset x/y, z


CHIPS = {
    "adxl345": Chip("adxl345", 0.0039, 2.0, (2.4, 3.0), (1.25, 1.4), (40.0, 80.0)),
    "mpu6050": Chip("mpu6050", 1.0 / 16384.0, 2.0, (0.33 * math.sqrt(44.0), 0.45 * math.sqrt(44.0)), (1.0, 1.15),
                    (50.0, 80.0)),
}


def _chip(name: str) -> Chip:
    key = name.lower().replace("-", "").replace("_", "")
    if key not in CHIPS:
        raise ValueError(f"unknown chip {name!r}; choose one of {', '.join(CHIPS)}")
    return CHIPS[key]


def plan_night(seed: int, *, start: float = DEFAULT_START, chip: str = "adxl345", partner: bool | None = None,
               nights: int = 1, demo: bool = False, night_minutes: float | None = None,
               physics: Physics | None = None) -> NightPlan:
    """Plan ``nights`` nights of one sleeper from ``start``; deterministic per seed.

    ``partner`` None draws one for 40 % of seeds; demo mode has none. ``nights`` > 1
    chains nights 24 h apart (each from ``start`` + k days, the bed empty in between);
    :meth:`NightPlan.extend` adds more later, with the same result. ``demo`` gives
    half-hour nights back to back: in bed within 15 s, asleep within 2 min, a violent
    cramp 100-150 s later, three more wakes a few minutes apart (see
    :mod:`simulator.night_actions`); use ``start=time.time()`` for a live demo.
    ``chip`` is "adxl345" or "mpu6050" (case and dashes ignored).

    ``physics`` (:mod:`simulator.night_physics`) replaces the bed's defaults (noise,
    couplings, tilt, frame resonance, movement scale) and sets the chip and whether a
    partner is there; the sleeper's habits and the night's story stay those of ``seed``.

    ``night_minutes`` (demo only) fits each demo night into that many minutes, the bed
    empty at its end for at least :data:`DEMO_EMPTY_S` (see :func:`fit_demo_night`):
    ``crampwatch demo`` uses it so that a whole night, from sleep onset to the summary,
    fits in the first ten minutes of a demo.
    """
    if nights < 1:
        raise ValueError("nights must be at least 1")
    if night_minutes is not None and not demo:
        raise ValueError("night_minutes is for demo nights")
    if physics is not None:
        chip, partner = physics.chip, physics.partner
    person = make_person(random.Random(f"crampwatch.night.person.{seed}"), partner=partner, demo=demo)
    return NightPlan(person, seed, float(start), _chip(chip), nights,
                     night_s=None if night_minutes is None else 60.0 * night_minutes, physics=physics)


DEMO_ONSET_S = 105.0  # at most this much still sleep before the first wake (the cramp)
DEMO_PAD_S = 105.0  # still sleep between the last kept wake and the final awakening
DEMO_EMPTY_S = 150.0  # the bed empty at least this long after getting up, before the next night


def fit_demo_night(night: Night, length_s: float) -> Night:
    """A demo night fitted to about ``length_s`` seconds: its first wakes that fit, then the morning.

    The first wake (the violent cramp) comes at most :data:`DEMO_ONSET_S` after sleep
    onset (the rest of the night moves earlier with it). Then it keeps the first ``k``
    wakes (at least one) such that the still sleep after the last of them
    (:data:`DEMO_PAD_S`, no turnover), the unchanged final awakening and getting up,
    and :data:`DEMO_EMPTY_S` of empty bed fit in ``length_s``; the morning moves earlier
    to follow right after that sleep (so the night's summary comes as soon as it can),
    and the bed stays empty until ``start + length_s`` (or longer, when even one wake
    does not fit). Every quiet margin the night analysis needs is kept: 105 s
    still hold two whole 30 s epochs of sleep on either side of the wake. The truth
    moves and is cut with the moves, so it stays exact.
    """
    sleep, first = night.sleep, night.wakes[0][0]
    night = _shift_from(night, first.start, -max(0.0, first.start - sleep.start - DEMO_ONSET_S))
    wakes, sleep = night.wakes, night.sleep
    morning_s = night.t_out - sleep.end
    limit = night.start + length_s - DEMO_EMPTY_S - morning_s
    k = 1
    while k < len(wakes) and wakes[k][0].end + DEMO_PAD_S <= limit:
        k += 1
    if k < len(wakes) or sleep.end > limit:
        cut = wakes[k - 1][0].end
        end = min(cut + DEMO_PAD_S, sleep.end)  # the final awakening
        dropped = replace(night, moves=tuple(m for m in night.moves if m.t <= cut or m.t >= sleep.end),
                          notes=tuple(n for n in night.notes
                                      if n["type"] == "in_bed" or not cut < n["t"] < sleep.end - _NOTE_EPS),
                          awake=tuple(a for a in night.awake if not cut < a[1] < sleep.end), wakes=wakes[:k])
        night = _shift_from(dropped, sleep.end, end - sleep.end)
    return replace(night, end=max(night.start + length_s, night.t_out + DEMO_EMPTY_S, night.end))


_NOTE_EPS = 1e-3  # notes are rounded to the millisecond


def _shift_from(night: Night, t0: float, d: float) -> Night:
    """``night`` with everything from ``t0`` on (moves, wakes, awake spans, notes, the
    sleep's end, getting up, the end) moved by ``d`` seconds; nothing before it."""
    if d == 0.0:
        return night

    def at(t: float, eps: float = 0.0) -> float:
        return t + d if t >= t0 - eps else t

    wakes = []
    for w, extra in night.wakes:
        if w.start >= t0:
            w = replace(w, start=w.start + d, end=w.end + d)
            if "out_of_bed" in extra:
                extra = extra | {"out_of_bed": [round(x + d, 3) for x in extra["out_of_bed"]]}
        wakes.append((w, extra))
    notes = tuple(n | {k: round(at(n[k], _NOTE_EPS), 3) if k == "t" or n["t"] >= t0 - _NOTE_EPS or n["type"] == "in_bed"
                       else n[k] for k in ("t", "t_end") if k in n} for n in night.notes)
    return replace(night, end=at(night.end), moves=tuple(m.shifted(d) if m.t >= t0 else m for m in night.moves),
                   awake=tuple((who, at(a), at(b) if a >= t0 or b > t0 else b) for who, a, b in night.awake),
                   sleep=Sleep(night.sleep.start, at(night.sleep.end)), wakes=tuple(wakes), notes=notes,
                   t_out=at(night.t_out))


_EMPTY = (0.0,) * 9  # nobody there: no breathing, no heartbeat, no tilt


def _unit(r: random.Random) -> np.ndarray:
    x, y, z = r.gauss(0.0, 1.0), r.gauss(0.0, 1.0), r.gauss(0.0, 1.0)
    n = math.sqrt(x * x + y * y + z * z)
    return np.array((x / n, y / n, z / n))


class _Body:
    """An occupant's physiology and the bed's coupling to it (fixed per scenario)."""

    def __init__(self, r: random.Random, gain: float, gravity: np.ndarray):
        self.gain = gain
        self.breath_mg = r.uniform(1.0, 4.0) * gain
        self.breath_lim = (0.8 * gain, 5.0 * gain) if gain < 1.0 else (0.8, 5.0)
        self.breath_hz = r.uniform(0.17, 0.28)
        self.awake_factor = r.uniform(1.1, 1.4)
        self.h2, self.psi2 = r.uniform(0.1, 0.4), r.uniform(0.0, _TWO_PI)
        self.heart_hz = r.uniform(0.85, 1.1)
        self.heart_awake = r.uniform(0.1, 0.3)
        self.heart_mg = self.breath_mg * r.uniform(0.12, 0.3)
        tilt = _unit(r)
        tilt -= 0.8 * gravity * float(tilt @ gravity)  # mostly across gravity: the frame tilts
        self.occ = tilt / np.linalg.norm(tilt) * r.uniform(1.0, 8.0) * gain
        self.posture_range = (0.5, 1.3)  # the breathing's coupling in a posture, times breath_mg
        self.state = _EMPTY  # breathing, heartbeat, tilt vectors (mg) of the current posture

    def couple(self, physics: Physics) -> None:
        """Take the coupling of ``physics`` (times this occupant's gain)."""
        g = self.gain
        self.breath_mg = physics.breath_mg * g
        self.posture_range = physics.posture
        self.breath_lim = (physics.breath_mg * g * physics.posture[0], physics.breath_mg * g * physics.posture[1])
        self.heart_mg = self.breath_mg * physics.heart_ratio
        self.occ = self.occ / np.linalg.norm(self.occ) * physics.occupant_mg * g

    def posture(self, r: random.Random) -> np.ndarray:
        lo, hi = self.breath_lim
        b = _unit(r) * min(hi, max(lo, self.breath_mg * r.uniform(*self.posture_range)))
        h = _unit(r) * self.heart_mg * r.uniform(0.6, 1.4)
        d = self.occ * r.uniform(0.6, 1.4) + _unit(r) * float(np.linalg.norm(self.occ)) * r.uniform(0.0, 0.3)
        return tuple(float(v) for v in (*b, *h, *d))


# per occupant knot columns: t, breathing f, phase, xyz; heart f, phase, xyz; tilt xyz
_KT, _FB, _PB, _B, _FH, _PH, _H, _D = 0, 1, 2, 3, 6, 7, 8, 11
_NCOL = 14
# grain columns: t0, t1, attack, release, tau, f, phase, amplitude xyz (mg)
_GCOL = 10

_SHARP = {"twitch", "jerk", "kick", "spasm"}
_BAND = {"turn": (0.8, 5.0, 0.6), "adjust": (1.0, 6.0, 0.4), "twitch": (3.0, 12.0, 0.1), "jerk": (3.0, 10.0, 0.2),
         "page": (1.0, 5.0, 0.2), "kick": (2.0, 8.0, 0.3), "spasm": (2.0, 8.0, 0.2), "stretch": (0.3, 2.0, 0.5),
         "flex": (0.5, 1.2, 0.2), "sit": (0.8, 4.0, 0.8), "stand": (1.0, 5.0, 0.8), "lie": (0.8, 4.0, 0.7),
         "make": (1.0, 6.0, 0.5)}


def _pulse_shape(theta):
    """A ballistocardiogram-like beat: three harmonics with fixed phases."""
    s, c = np.sin(theta), np.cos(theta)
    s2, c2 = 2.0 * s * c, 1.0 - 2.0 * s * s
    s3, c3 = s * (3.0 - 4.0 * s * s), c * (4.0 * c * c - 3.0)
    return s + 0.6 * (s2 * math.cos(0.8) + c2 * math.sin(0.8)) + 0.35 * (s3 * math.cos(1.9) + c3 * math.sin(1.9))


_PULSE_NORM = 1.0 / float(np.abs(_pulse_shape(np.linspace(0.0, _TWO_PI, 4001))).max())


def _pulse(theta):
    """The beat scaled to a peak of 1."""
    return _pulse_shape(theta) * _PULSE_NORM


class NightPlan:
    """Simulated nights as signal primitives, with their ground truth.

    Holds the plan (moves as a few sine grains each, breathing and heartbeat as knots
    every 6-20 s), never samples, so it renders any rate and span, and answers
    :meth:`sample_at` for a live emulator.

    >>> plan = plan_night(5, partner=False)
    >>> sleep = plan.truth[0]
    >>> 6 * 3600 <= sleep.end - sleep.start <= 9.5 * 3600
    True
    >>> x, y, z = plan.sample_at(sleep.start + 60.0)
    >>> 0.8 < abs(x) + abs(y) + abs(z) < 1.6
    True
    """

    def __init__(self, person: Person, seed: int, start: float, chip: Chip, nights: int = 1, *,
                 night_s: float | None = None, physics: Physics | None = None):
        self.person, self.seed, self.start, self.chip = person, seed, start, chip
        self.physics = physics  # None: the defaults of this module's docstring
        self.night_s = night_s  # demo: each night fitted to this many seconds (fit_demo_night)
        self.end = self.history_start = start
        self._nights: list[Night] = []
        self._count = 0
        self._lock = threading.RLock()
        r = random.Random(f"crampwatch.night.physics.{seed}")
        axis = r.choices([2, 0, 1], [0.6, 0.2, 0.2])[0]
        others = [a for a in range(3) if a != axis]
        tilt, az = math.radians(r.uniform(0.0, 15.0)), r.uniform(0.0, _TWO_PI)
        if physics is not None:
            tilt = math.radians(physics.tilt_deg)
        g = np.zeros(3)
        g[axis] = math.cos(tilt) * (1.0 if r.random() < 0.7 else -1.0)
        g[others[0]], g[others[1]] = math.sin(tilt) * math.cos(az), math.sin(tilt) * math.sin(az)
        self.gravity = g  # unit vector: the reading of the still, empty bed (before offset and gain)
        xy, zz = chip.offset_mg
        self.offset_g = np.array([r.uniform(-xy, xy), r.uniform(-xy, xy), r.uniform(-zz, zz)]) / 1000.0
        self.gain = np.array([r.uniform(0.97, 1.03) for _ in range(3)])
        n_xy = r.uniform(*chip.noise_xy_100hz)
        self._noise_100 = np.array([n_xy * r.uniform(0.95, 1.05), n_xy * r.uniform(0.95, 1.05),
                                    n_xy * r.uniform(*chip.z_factor)])
        self._drift = [(r.uniform(0.3, 2.5), _TWO_PI / (r.uniform(10.0, 30.0) * 3600.0), r.uniform(0.0, _TWO_PI))
                       for _ in range(3)]
        self._bodies = {"sleeper": _Body(r, 1.0, g)}
        if person.partner is not None:
            self._bodies["partner"] = _Body(r, person.partner.gain, g)
        if physics is not None:
            for body in self._bodies.values():
                body.couple(physics)
            self._noise_100 = np.array([1.0, 1.0, r.uniform(1.0, 1.3)]) * physics.noise_mg
        self._knots = {who: [array("d") for _ in range(_NCOL)] for who in self._bodies}
        self._rng = r
        for who in self._bodies:
            self._knot(who, start - 1.0, _EMPTY, awake=True, jitter=False)
        self._grains = [array("d") for _ in range(_GCOL)]
        self._max_grain = 0.0
        self._live = random.Random(f"crampwatch.night.live.{seed}")
        self.extend(nights)

    # ---- ground truth --------------------------------------------------------------
    @property
    def rules(self) -> Rules:
        """The quiet margins and spacing the truth keeps (see :mod:`simulator.night_actions`)."""
        return self.person.rules

    @property
    def nights(self) -> list[Night]:
        """The planned nights still kept (moves, awake intervals, truth, annotations)."""
        return list(self._nights)

    @property
    def truth(self) -> list[Sleep | Wake]:
        """Every sleep period and wake, sorted by start (a night's sleep before its wakes)."""
        return [e for n in self._nights for e in [n.sleep] + [w for w, _ in n.wakes]]

    @property
    def truth_records(self) -> list[dict]:
        """The truth as DESIGN.md event JSON plus extras (``kind``, ``onset``, ``out_of_bed``, ...)."""
        return [r for n in self._nights for r in n.truth_records]

    @property
    def annotations(self) -> list[dict]:
        """Non-event notes: in-bed intervals, reading, sleep movements, partner moves, ..."""
        return [note | {"night": n.index} for n in self._nights for note in n.notes]

    # ---- planning ------------------------------------------------------------------
    def extend(self, nights: int = 1) -> NightPlan:
        """Plan ``nights`` more nights (24 h apart from :attr:`start`; demo: back to back)."""
        with self._lock:
            for _ in range(nights):
                k = self._count
                at = (self.end if k else self.start) if self.person.demo else self.start + k * DAY
                night = _plan_one(self.person, random.Random(f"crampwatch.night.plan.{self.seed}.{k}"), k, at)
                if self.night_s is not None:
                    night = fit_demo_night(night, self.night_s)
                self._compile(night, random.Random(f"crampwatch.night.physics.{self.seed}.{k}"))
                self._nights.append(night)
                self._count += 1
                self.end = night.end
        return self

    def trim(self, before: float) -> None:
        """Forget what ended before ``before`` (endless live use); renders must start after it."""
        with self._lock:
            for cols in self._knots.values():
                k = max(0, bisect.bisect_right(cols[_KT], before) - 1)
                for c in cols:
                    del c[:k]
            k = bisect.bisect_left(self._grains[0], before - self._max_grain)
            for c in self._grains:
                del c[:k]
            self._nights = [n for n in self._nights if n.end >= before]
            self.history_start = max(self.history_start, before)

    def _knot(self, who: str, t: float, state: tuple, *, awake: bool, jitter: bool = True) -> None:
        cols, body, r = self._knots[who], self._bodies[who], self._rng
        if cols[_KT] and t <= cols[_KT][-1]:
            t = cols[_KT][-1] + 1e-3
        j = (0.25 if awake else 0.08) if jitter else 0.0
        fj = (0.12 if awake else 0.04) if jitter else 0.0
        fb = min(0.4, body.breath_hz * (body.awake_factor if awake else 1.0) * (1.0 + r.uniform(-fj, fj)))
        fh = min(1.5, (body.heart_hz + (body.heart_awake if awake else 0.0)) * (1.0 + r.uniform(-0.5 * fj, 0.5 * fj)))
        a = 1.0 + r.uniform(-j, j)
        vals = [v * a for v in state[:6]] + list(state[6:])
        if cols[_KT]:
            dt = t - cols[_KT][-1]
            pb = cols[_PB][-1] + math.pi * dt * (cols[_FB][-1] + fb)
            ph = cols[_PH][-1] + math.pi * dt * (cols[_FH][-1] + fh)
            pb, ph = math.fmod(pb, 1e6 * _TWO_PI), math.fmod(ph, 1e6 * _TWO_PI)  # bounded over years of live use
        else:
            pb, ph = r.uniform(0.0, _TWO_PI), r.uniform(0.0, _TWO_PI)
        for c, v in zip(cols, (t, fb, pb, *vals[0:3], fh, ph, *vals[3:6], *vals[6:9])):
            c.append(v)

    def _compile(self, night: Night, r: random.Random) -> None:
        self._rng = r
        for who, body in self._bodies.items():
            awake = [(a, b) for w, a, b in night.awake if w == who]

            def is_awake(t: float) -> bool:
                return any(a <= t <= b for a, b in awake)

            t, present = night.start, False
            for m in night.moves:
                if m.who != who or not (m.posture or m.bed):
                    continue
                if present:  # breathing goes on between posture changes
                    t += r.uniform(6.0, 20.0)
                    while t < m.t - 3.0:
                        self._knot(who, t, body.state, awake=is_awake(t))
                        t += r.uniform(6.0, 20.0)
                self._knot(who, m.t, body.state, awake=is_awake(m.t))
                if m.bed < 0:
                    body.state, present = _EMPTY, False
                else:
                    body.state, present = body.posture(r), True
                self._knot(who, m.t_end, body.state, awake=is_awake(m.t_end))
                t = m.t_end
            assert not present, "every night ends with the bed empty"
        frame_hz = None if self.physics is None else self.physics.frame_hz
        rows = [g for m in night.moves for g in _grains(m, r, self.gravity, frame_hz)]
        if self.physics is not None:
            scale = self.physics.move_scale
            rows = [(*g[:7], g[7] * scale, g[8] * scale, g[9] * scale) for g in rows]
        rows.sort(key=lambda g: g[0])
        if rows and self._grains[0]:
            assert rows[0][0] >= self._grains[0][-1]
        for g in rows:
            for c, v in zip(self._grains, g):
                c.append(float(v))
            self._max_grain = max(self._max_grain, g[1] - g[0])

    # ---- readings ------------------------------------------------------------------
    @property
    def lsb_g(self) -> float:
        """The chip's quantisation step in g."""
        return self.chip.lsb_g

    def noise_mg(self, rate_hz: float) -> np.ndarray:
        """White-noise rms per axis in mg at ``rate_hz`` (it grows with the bandwidth;
        with :attr:`physics`, it is the drawn figure at any rate)."""
        if self.physics is not None:
            return self._noise_100
        if self.chip.name == "mpu6050":  # the digital low-pass stops at 44 Hz
            return self._noise_100 * math.sqrt(min(rate_hz, 100.0) / 100.0)
        return self._noise_100 * math.sqrt(rate_hz / 100.0)

    def render(self, rate_hz: float, *, seed: int | None = None, span: tuple[float, float] | None = None,
               clean: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Sample the plan at ``rate_hz`` from :attr:`start` to :attr:`end` (or ``span``).

        Returns ``(t, xyz)``: float64 arrays of shapes (n,) and (n, 3), in g, quantised
        like the chip. ``clean`` leaves out noise, drift and quantisation. ``seed`` varies
        only the noise. A span starting on the plan's sample grid (``start + i / rate_hz``)
        gives every sample the same value as a render of the whole plan.
        """
        if not 0 < rate_hz <= 1000:
            raise ValueError("rate_hz must be in (0, 1000]")
        t0, t1 = span if span is not None else (self.start, self.end)
        if t0 < self.history_start:
            raise ValueError("span starts before the kept history (trimmed)")
        with self._lock:
            knots = {who: np.array(cols) for who, cols in self._knots.items()}
            grains = np.array(self._grains).reshape(_GCOL, -1)
            max_grain = self._max_grain
        n = max(0, math.ceil((t1 - t0) * rate_hz - 1e-3))  # float-safe: a span of k periods is k samples
        i0 = (t0 - self.start) * rate_hz  # on the plan's sample grid, times and noise are the grid's
        on_grid = abs(i0 - round(i0)) < 1e-3
        i0 = round(i0) if on_grid else 0
        t = self.start + (i0 + np.arange(n)) / rate_hz if on_grid else t0 + np.arange(n) / rate_hz
        xyz = np.empty((n, 3))
        prepared = {who: _prepare(k) for who, k in knots.items()}
        sd = self.noise_mg(rate_hz) / 1000.0
        lsb, top = self.chip.lsb_g, self.chip.range_g
        cuts = list(range(0, n, _CHUNK)) if not on_grid else \
            [0] + list(range(_CHUNK - i0 % _CHUNK if i0 % _CHUNK else _CHUNK, n, _CHUNK))
        for a, b in zip(cuts, cuts[1:] + [n]):
            tc = t[a:b]
            acc = np.zeros((3, len(tc)))  # mg, one contiguous row an axis
            for who, prep in prepared.items():
                _add_body(tc, acc, prep, self._bodies[who])
            _add_grains(tc, acc, grains, max_grain, rate_hz)
            if not clean:
                for j, (amp, w, ph) in enumerate(self._drift):
                    acc[j] += amp * np.sin(w * (tc - self.start) + ph)
            acc *= 1e-3
            acc += self.gravity[:, None]
            acc *= self.gain[:, None]
            acc += self.offset_g[:, None]
            if not clean:
                block, skip = divmod(i0 + a, _CHUNK) if on_grid else (round(tc[0] * 1000) % 2**32, 0)
                key = [abs(self.seed), round(rate_hz * 1000), 0 if seed is None else abs(seed) + 1, block,
                       0x6E69 if on_grid else 0x6F6666]
                rng = np.random.default_rng(key)
                acc += (rng.standard_normal((skip + len(tc), 3))[skip:] * sd).T
                acc /= lsb
                np.rint(acc, out=acc)
                acc *= lsb
                np.clip(acc, -top, top - lsb, out=acc)
            xyz[a:b] = acc.T
        return t, xyz

    def render_span(self, t0: float, t1: float, rate_hz: float, *, seed: int | None = None):
        """:meth:`render` of ``[t0, t1)`` for live use: extends the plan first when needed."""
        with self._lock:
            self._keep_up(t1)
        return self.render(rate_hz, seed=seed, span=(t0, t1))

    def sample_at(self, t: float, *, rate_hz: float = 100.0, noise: bool = True) -> tuple[float, float, float]:
        """The reading at Unix time ``t`` in g, for a live emulator; O(log n).

        Not quantised (the emulated chip rounds to its own step); noise at ``rate_hz``
        comes from an internal generator (``noise=False`` leaves it and drift out).
        Past :attr:`end` the plan extends itself with more nights, and it forgets
        nights long gone, so it runs for ever in little memory.
        """
        with self._lock:
            self._keep_up(t)
            mg = self._mg_at(t, rate_hz)
        out = []
        sd = self.noise_mg(rate_hz) if noise else (0.0, 0.0, 0.0)
        live = self._live
        for j in range(3):
            v = mg[j]
            if noise:
                amp, w, ph = self._drift[j]
                v += amp * math.sin(w * (t - self.start) + ph) + live.gauss(0.0, sd[j])
            out.append(float((self.gravity[j] + v * 1e-3) * self.gain[j] + self.offset_g[j]))
        return out[0], out[1], out[2]

    def _keep_up(self, t: float) -> None:
        while t > self.end - 1.0:
            self.extend(1)
        keep = 4 * 3600.0 if self.person.demo else 2 * DAY
        if t - self.history_start > keep:
            self.trim(t - keep / 2)

    def _mg_at(self, t: float, rate_hz: float) -> list[float]:
        out = [0.0, 0.0, 0.0]
        for who, cols in self._knots.items():
            kt = cols[_KT]
            k = bisect.bisect_right(kt, t) - 1
            if k < 0:
                continue
            dt = t - kt[k]
            last = k >= len(kt) - 1
            span = 1.0 if last else kt[k + 1] - kt[k]
            w = 0.0 if last else dt / span

            def at(c: int) -> float:
                col = cols[c]
                return col[k] if last else col[k] + (col[k + 1] - col[k]) * w

            fb1 = cols[_FB][k] if last else cols[_FB][k + 1]
            fh1 = cols[_FH][k] if last else cols[_FH][k + 1]
            pb = cols[_PB][k] + _TWO_PI * dt * (cols[_FB][k] + 0.5 * (fb1 - cols[_FB][k]) * w)
            ph = cols[_PH][k] + _TWO_PI * dt * (cols[_FH][k] + 0.5 * (fh1 - cols[_FH][k]) * w)
            body = self._bodies[who]
            wb = math.sin(pb) + body.h2 * math.sin(2.0 * pb + body.psi2)
            wh = float(_pulse(ph))
            for j in range(3):
                out[j] += at(_B + j) * wb + at(_H + j) * wh + at(_D + j)
        g = self._grains
        j = bisect.bisect_right(g[0], t) - 1
        while j >= 0 and g[0][j] >= t - self._max_grain:
            if t < g[1][j]:
                v = _grain_value(t - g[0][j], g[1][j] - t, g[2][j], g[3][j], g[4][j], g[5][j], g[6][j])
                v *= 1.0 / math.sqrt(1.0 + (g[5][j] / (0.45 * rate_hz)) ** 8)
                out[0] += v * g[7][j]
                out[1] += v * g[8][j]
                out[2] += v * g[9][j]
            j -= 1
        return out


def _grains(m: Move, r: random.Random, gravity: np.ndarray, frame_hz: float | None = None) -> list[tuple]:
    """The tapered sines that make up move ``m``: (t0, t1, attack, release, tau, f, phase, ax, ay, az).

    ``frame_hz``: the frame's resonance (rings within 10 % of it), else 6-25 Hz.
    """
    dur, amp, rise = m.t_end - m.t, m.mg, m.rise_s
    out = []

    def ring(t0: float, a: float, lo: float, hi: float) -> None:
        tau = r.uniform(0.05, 0.3)
        t1 = min(m.t_end, t0 + 6.0 * tau)
        if frame_hz is not None:
            lo, hi = 0.9 * frame_hz, 1.1 * frame_hz
        if t1 - t0 > 0.02:
            out.append((t0, t1, 0.005, min(0.05, 0.5 * (t1 - t0)), tau, r.uniform(lo, hi), 0.0, *(_unit(r) * a)))

    if m.kind == "steps":
        rate = r.uniform(1.6, 2.2)
        for i in range(int(dur * rate)):
            t0 = m.t + (i + r.uniform(0.0, 0.2)) / rate
            t1 = min(m.t_end, t0 + 0.15)
            if t1 - t0 > 0.05:
                out.append((t0, t1, 0.003, 0.03, 0.03, r.uniform(12.0, 25.0), r.uniform(0.0, _TWO_PI),
                            *(_unit(r) * amp * r.uniform(0.5, 1.0))))
        return out
    if m.kind == "knock":
        ring(m.t, amp, 6.0, 25.0)
        if r.random() < 0.5:
            ring(m.t + r.uniform(0.05, 0.5 * dur), amp * r.uniform(0.3, 0.8), 6.0, 25.0)
        return out
    lo, hi, share = _BAND[m.kind]
    sharp = m.kind in _SHARP

    def freq() -> float:
        return math.exp(r.uniform(math.log(lo), math.log(hi)))

    # the main wavelet peaks at exactly ``mg`` ``rise`` after the start
    rise = max(rise, 0.01)
    main_end = m.t_end if dur <= 3.0 else min(m.t_end, m.t + rise + r.uniform(1.0, 3.0))
    f = freq()
    rel = max(0.01, min(r.uniform(0.3, 0.6) * (main_end - m.t), main_end - m.t - rise))
    out.append((m.t, main_end, rise, rel, 1e9, f, 0.5 * math.pi - _TWO_PI * f * rise, *(_unit(r) * amp)))
    # then irregular wavelets of the body moving, never before the peak
    first, last = m.t + rise, m.t_end - 0.2
    for _ in range(min(24, int(dur * r.uniform(1.0, 2.0))) if last > first else 0):
        t0 = r.uniform(first, last)
        length = min(m.t_end - t0, r.uniform(0.3, 2.0))
        att = min(r.uniform(0.03, 0.2) if sharp else r.uniform(0.15, 0.6), 0.5 * length)
        out.append((t0, t0 + length, att, r.uniform(0.3, 0.5) * length, 1e9, freq(), r.uniform(0.0, _TWO_PI),
                    *(_unit(r) * amp * r.uniform(0.15, 0.6))))
    tilt = _unit(r)  # the frame leans as the weight shifts: a half sine over the move
    tilt -= 0.8 * gravity * float(tilt @ gravity)
    tilt /= np.linalg.norm(tilt)
    out.append((m.t, m.t_end, 0.001, 0.001, 1e9, 0.5 / dur, 0.0, *(tilt * amp * share * r.uniform(0.6, 1.0))))
    if m.kind == "stretch":  # muscle tremor while straining
        out.append((m.t, m.t_end, 0.3 * dur, 0.3 * dur, 1e9, r.uniform(6.0, 10.0), r.uniform(0.0, _TWO_PI),
                    *(_unit(r) * amp * r.uniform(0.05, 0.15))))
    if sharp:  # the frame rings after a jolt
        ring(m.t + rise, amp * r.uniform(0.15, 0.4), 8.0, 20.0)
    return out


def _lowpass(f, rate_hz: float):
    """The chip's digital filter: flat to about 0.4 times the rate, steep above (no aliasing)."""
    return 1.0 / np.sqrt(1.0 + (f / (0.45 * rate_hz)) ** 8)


def _grain_value(u, v, att, rel, tau, f, ph):
    """Scalar grain: ``u`` seconds after its start, ``v`` before its end."""
    e = 1.0 if u >= att else 0.5 - 0.5 * math.cos(math.pi * u / att)
    if v < rel:
        e *= 0.5 - 0.5 * math.cos(math.pi * v / rel)
    return e * math.exp(-u / tau) * math.sin(_TWO_PI * f * u + ph)


def _prepare(k: np.ndarray) -> dict:
    """Per-knot slopes so that a render needs one search and a few gathers."""
    kt = k[_KT]
    n = len(kt)
    span = np.diff(kt, append=kt[-1] + 1.0)
    inv = np.where(np.arange(n) < n - 1, 1.0 / span, 0.0)
    lin = k[[_B, _B + 1, _B + 2, _H, _H + 1, _H + 2, _D, _D + 1, _D + 2]]
    dlin = np.diff(lin, axis=1, append=lin[:, -1:])
    fb, fh = k[_FB], k[_FH]
    sb = np.diff(fb, append=fb[-1]) * inv
    sh = np.diff(fh, append=fh[-1]) * inv
    zero = np.all(lin == 0.0, axis=0)
    return {"kt": kt, "inv": inv, "lin": lin, "dlin": dlin, "fb": fb, "fh": fh, "sb": sb, "sh": sh,
            "pb": k[_PB], "ph": k[_PH], "zero": zero}


def _add_body(t: np.ndarray, out: np.ndarray, p: dict, body: _Body) -> None:
    k = np.searchsorted(p["kt"], t, side="right") - 1
    if k[-1] < 0:
        return
    k0, k1 = max(0, int(k[0])), int(k[-1])
    if p["zero"][k0:k1 + 2].all():
        return  # the bed is empty all through
    np.maximum(k, 0, out=k)
    dt = t - p["kt"][k]
    w = dt * p["inv"][k]
    phase = p["pb"][k] + _TWO_PI * dt * (p["fb"][k] + 0.5 * p["sb"][k] * dt)
    wave_b = np.sin(phase)
    phase *= 2.0
    phase += body.psi2
    wave_b += body.h2 * np.sin(phase)
    phase = p["ph"][k] + _TWO_PI * dt * (p["fh"][k] + 0.5 * p["sh"][k] * dt)
    wave_h = _pulse(phase)
    lin, dlin = p["lin"], p["dlin"]
    for j in range(3):
        out[j] += (lin[j][k] + dlin[j][k] * w) * wave_b
        out[j] += (lin[3 + j][k] + dlin[3 + j][k] * w) * wave_h
        out[j] += lin[6 + j][k] + dlin[6 + j][k] * w


def _add_grains(t: np.ndarray, out: np.ndarray, g: np.ndarray, max_grain: float, rate_hz: float) -> None:
    if not g.shape[1] or not len(t):
        return
    lo = np.searchsorted(g[0], t[0] - max_grain, side="left")
    hi = np.searchsorted(g[0], t[-1], side="right")
    sel = np.arange(lo, hi)
    sel = sel[g[1][sel] > t[0]]
    if not len(sel):
        return
    t0s, t1s = g[0][sel], g[1][sel]
    a, b = np.searchsorted(t, t0s), np.searchsorted(t, t1s)
    lens = np.maximum(b - a, 0)
    kk = np.repeat(np.arange(len(sel)), lens)
    idx = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens) + np.repeat(a, lens)
    gs = g[:, sel[kk]]
    u, v = t[idx] - gs[0], gs[1] - t[idx]
    att, rel = gs[2], gs[3]
    e = np.where(u < att, 0.5 - 0.5 * np.cos(np.pi * np.minimum(u / att, 1.0)), 1.0)
    e *= np.where(v < rel, 0.5 - 0.5 * np.cos(np.pi * np.clip(v / rel, 0.0, 1.0)), 1.0)
    e *= np.exp(-u / gs[4]) * np.sin(_TWO_PI * gs[5] * u + gs[6]) * _lowpass(gs[5], rate_hz)
    m = len(t)
    for j in range(3):
        out[j] += np.bincount(idx, weights=e * gs[7 + j], minlength=m)


def write_night(plan: NightPlan, out_dir, rate_hz: float, *, seed: int | None = None,
                progress: Callable[[float], None] | None = None) -> tuple[Path, Path]:
    """Write ``bed.csv`` (``t,x,y,z``), ``bed.truth.jsonl`` and ``bed.annotations.jsonl`` into ``out_dir``;
    ``progress(fraction)`` after each chunk of samples written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t_dec = 3 if (1000.0 / rate_hz).is_integer() else 4
    csv_path = out / "bed.csv"
    n = max(0, math.ceil((plan.end - plan.start) * rate_hz - 1e-3))
    block = _CHUNK * 4  # rendered at a time: a long trace never sits in memory whole
    with open(csv_path, "wb") as fh:
        fh.write(b"t,x,y,z\n")
        for a in range(0, n, block):
            b = min(n, a + block)
            ts, xyz = plan.render(rate_hz, seed=seed, span=(plan.start + a / rate_hz, plan.start + b / rate_hz))
            for i in range(0, len(ts), _CHUNK):
                c = xyz[i:i + _CHUNK]
                fh.write(format_rows([ts[i:i + _CHUNK], c[:, 0], c[:, 1], c[:, 2]], [t_dec, 4, 4, 4]))
                if progress is not None:
                    progress((a + i + len(c)) / n)
    truth_path = out / "bed.truth.jsonl"
    truth_path.write_text("".join(json.dumps(r) + "\n" for r in plan.truth_records), encoding="utf-8")
    scenario = {"type": "scenario", "seed": plan.seed, "rate_hz": rate_hz, "start": plan.start, "end": plan.end,
                "chip": plan.chip.name, "lsb_g": plan.chip.lsb_g, "demo": plan.person.demo,
                "partner": plan.person.partner is not None,
                "partner_gain": round(plan.person.partner.gain, 3) if plan.person.partner else None,
                "noise_mg": [round(float(x), 3) for x in plan.noise_mg(rate_hz)],
                "gravity": [round(float(x), 4) for x in plan.gravity]}
    notes = [scenario] + plan.annotations
    (out / "bed.annotations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in notes), encoding="utf-8")
    return csv_path, truth_path
