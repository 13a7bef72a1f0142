"""Bottle-scale scenarios with ground truth: load-cell readings of a simulated day.

:func:`plan_day` draws a person and their day of drinks, refills, lifts without a drink,
long carries, bumps and objects set on the bottle (:mod:`simulator.bottle_actions`);
:class:`BottlePlan` turns that timeline into what an HX711 load cell reports, in grams:

- handling: grip press, tilt and ringing when the bottle is picked up; landing
  overshoot, ringing and often a hand resting on it for up to ~2 s when it is put down;
- creep: after each put-down the reading relaxes exponentially by 0.5-3 g (tau 10-40 s);
- off-centre placement: a quarter of put-downs read 0.3-1.0 g high or low until lifted;
- zero drift: three slow sinusoids (periods 1-30 h), a few grams over a day;
- white noise, sd 0.3-0.8 g at 10 Hz and up to 1.6 times that at 80 Hz;
- spikes: 0.5-1.5 % of samples, +-20 g to +-5 kg, a quarter of them two samples long.

Ground truth is the net change of what is on the scale (bottle and contents) between
two rests, whatever creep, offset or drift do to the reading. An event's ``t`` is the
moment the bottle came to rest: the end of the last handling transient, after which the
noise-free reading is exactly the settled load plus creep, offset and drift.

>>> plan = plan_day(2.0, seed=7)
>>> t, grams = plan.render(10.0)
>>> len(t) == 2 * 3600 * 10
True
"""

from __future__ import annotations

import bisect
import json
import math
import random
import threading
from array import array
from pathlib import Path

import numpy as np

from simulator.bottle_actions import (
    MAX_NOEVENT_ML, MIN_DRINK_INTERVAL_S, MIN_EVENT_ML, Bump, Item, Person, Place, Remove, make_person, start_state, timeline,
)
from vocabulary.events import Drink, Refill
from vocabulary.traces import format_rows

__all__ = ["BottlePlan", "plan_day", "write_trace", "DEFAULT_START", "MIN_DRINK_INTERVAL_S", "MIN_EVENT_ML",
           "MAX_NOEVENT_ML"]

DEFAULT_START = 1793602800.0  # 2026-11-02 07:00 UTC
_FOREVER = math.inf


def plan_day(hours: float, seed: int, *, start: float = DEFAULT_START, drink_interval_s: float | None = None,
             start_on_scale: bool | None = None) -> BottlePlan:
    """Plan ``hours`` of one person's bottle use from ``start``; deterministic per seed.

    With ``drink_interval_s`` (demo mode, at least ``MIN_DRINK_INTERVAL_S``) they drink
    within the first 60 s (within the first interval when that is shorter than 30 s), then
    drink or refill at least every ``drink_interval_s`` seconds.
    """
    if not hours > 0:
        raise ValueError("hours must be positive")
    if drink_interval_s is not None and not drink_interval_s >= MIN_DRINK_INTERVAL_S:
        raise ValueError(f"drink_interval_s must be at least {MIN_DRINK_INTERVAL_S:g} s")
    rng = random.Random(f"crampwatch.bottle.plan.{seed}")
    person = make_person(rng, drink_interval_s)
    on_scale, contents = start_state(person, rng, start, start_on_scale)
    actions = timeline(person, rng, start, on_scale, contents)
    return BottlePlan(person, seed, start, hours, on_scale, contents, actions)


class BottlePlan:
    """One person's bottle use as signal primitives, with its ground truth.

    Holds a plan of actions (a few numbers per lift, never samples), so it renders any
    rate and answers :meth:`weight_at` for a live emulator; :meth:`extend` continues
    the same person's timeline (``weight_at`` past :attr:`end` does so by itself).

    >>> plan = plan_day(24, seed=3)
    >>> [e.type for e in plan.truth][:3]
    ['drink', 'drink', 'drink']
    >>> t, grams = plan.render(80, clean=True, span=(plan.start, plan.start + 60))
    >>> bool(abs(plan.weight_at(plan.start + 30, spikes=False) - grams[30 * 80]) < 10)  # drift, noise
    True
    """

    def __init__(self, person: Person, seed: int, start: float, hours: float, on_scale: bool,
                 contents: float, actions):
        self.person, self.seed, self.start, self.end = person, seed, float(start), float(start)
        self.on_scale_at_start, self.contents_at_start = on_scale, contents
        self._actions, self._pending, self._lock = actions, None, threading.RLock()
        r = self._rng = random.Random(f"crampwatch.bottle.physics.{seed}")
        self._fast = person.demo
        self.noise_sd_10hz = r.uniform(0.3, 0.8)
        self.spike_rate = r.uniform(0.005, 0.015)
        self._creep_sign = 1.0 if r.random() < 0.7 else -1.0
        self._drift = [(r.uniform(0.5, 2.0), r.uniform(12, 30)), (r.uniform(0.3, 1.0), r.uniform(4, 10)),
                       (r.uniform(0.05, 0.2), r.uniform(1, 2))]
        self._drift = [(a, 2 * math.pi / (p * 3600.0), r.uniform(0, 2 * math.pi)) for a, p in self._drift]
        self._drift0 = r.uniform(-0.5, 0.5) - sum(a * math.sin(ph) for a, _, ph in self._drift)
        level = person.empty_g + contents if on_scale else 0.0
        self._load = level  # settled reading of what is on the scale (offset included)
        # Primitives, as compact float arrays (8 bytes a number; bisect works on them):
        self._kt, self._kv = array("d", [self.start - 1.0]), array("d", [level])  # knots, cosine ramps between
        self._mt, self._mv = array("d", [self.start - 1.0]), array("d", [level])  # true mass on the scale, steps
        self._osc = [array("d") for _ in range(5)]  # t0, t1, amplitude, tau, frequency: tapered damped sines
        self._creep = [array("d") for _ in range(4)]  # t0, t1, amplitude, tau
        self._max_osc = 0.0
        self._events: list[tuple[Drink | Refill, str]] = []
        self.annotations: list[dict] = []
        self.history_start = self.start
        self._live = random.Random(f"crampwatch.bottle.live.{seed}")
        self._live_spike = 0.0
        self.extend(hours)

    # ---- ground truth --------------------------------------------------------------
    @property
    def truth(self) -> list[Drink | Refill]:
        """Every drink and refill, sorted by ``t``."""
        return [e for e, _ in self._events]

    @property
    def truth_records(self) -> list[dict]:
        """The truth as DESIGN.md event JSON, plus ``kind`` (sip, carry, refill, ...)."""
        return [e.to_dict() | {"kind": kind} for e, kind in self._events]

    def settled_at(self, t: float) -> float:
        """True mass on the scale at ``t`` in grams: bottle, contents and objects (no artefacts)."""
        return self._mv[max(0, bisect.bisect_right(self._mt, t) - 1)]

    # ---- planning ------------------------------------------------------------------
    def extend(self, hours: float) -> BottlePlan:
        """Continue the same timeline for ``hours`` more; actions finish before :attr:`end`.

        A put-down is only included with a minute of settled data after it, so a trace
        never ends in the middle of handling (it may end with the bottle away).
        """
        with self._lock:
            self.end += hours * 3600.0
            while True:
                action = self._pending or next(self._actions)
                if action.end + (60.0 if isinstance(action, Place) else 1.0) > self.end:
                    self._pending = action
                    break
                self._pending = None
                self._compile(action)
        return self

    def trim(self, before: float) -> None:
        """Forget what ended before ``before`` (for endless live use); renders must start after it."""
        with self._lock:
            k = max(0, bisect.bisect_right(self._kt, before) - 1)
            del self._kt[:k], self._kv[:k]
            k = max(0, bisect.bisect_right(self._mt, before) - 1)
            del self._mt[:k], self._mv[:k]
            keep = bisect.bisect_left(self._osc[0], before - self._max_osc)  # these ended before
            for col in self._osc:
                del col[:keep]
            keep = max(0, bisect.bisect_right(self._creep[0], before) - 1)  # keep the active one
            for col in self._creep:
                del col[:keep]
            self._events = [x for x in self._events if x[0].t >= before]
            self.annotations = [a for a in self.annotations if a.get("t_end", a["t"]) >= before]
            self.history_start = max(self.history_start, before)

    def _compile(self, a) -> None:
        if isinstance(a, Place):
            self._place(a)
        elif isinstance(a, Remove):
            self._remove(a)
        elif isinstance(a, Bump):
            self._bump(a)
        else:
            self._item(a)

    def _go(self, t: float, duration: float, value: float) -> None:
        """Hold the current level until ``t``, then ramp smoothly to ``value``."""
        t = max(t, self._kt[-1])
        if t > self._kt[-1]:
            self._kt.append(t)
            self._kv.append(self._kv[-1])
        self._kt.append(t + duration)
        self._kv.append(value)

    def _ring(self, t0: float, t1: float, amp: float, tau: float, freq: float) -> None:
        if t1 > t0:
            for col, v in zip(self._osc, (t0, t1, amp, tau, freq)):
                col.append(v)
            self._max_osc = max(self._max_osc, t1 - t0)

    def _sign(self) -> float:
        return 1.0 if self._rng.random() < 0.5 else -1.0

    def _remove(self, a: Remove) -> None:
        r, w, t = self._rng, self._load, a.t
        if r.random() < 0.4:  # the grip presses it down first
            self._go(t, 0.12, w + r.uniform(10.0, 60.0 if self._fast else 150.0))
            t += 0.12 + r.uniform(0.1, 0.3)
        if r.random() < 0.5:  # tilted: one edge leaves first
            self._go(t, 0.1, w * r.uniform(0.3, 0.7))
            t += 0.1 + r.uniform(0.05, 0.2)
        ramp = r.uniform(0.1, 0.25)
        self._go(t, ramp, 0.0)
        self._ring(t + ramp, a.t_off, self._sign() * min(w * r.uniform(0.02, 0.08), 60.0),
                   r.uniform(0.05, 0.15), r.uniform(6.0, 15.0))
        if self._creep[1] and self._creep[1][-1] == _FOREVER:
            self._creep[1][-1] = a.t
        self._load = 0.0
        self._mt.append(a.t)
        self._mv.append(0.0)
        self._lift = {"type": "lift", "t": a.t, "t_off": a.t_off, "t_down": None}  # completed by _place
        self.annotations.append(self._lift)

    def _place(self, a: Place) -> None:
        r, p = self._rng, self.person
        mass = p.empty_g + a.contents_ml
        offset = self._sign() * r.uniform(0.3, 1.0) if r.random() < 0.25 else 0.0
        w = mass + offset
        ramp = min(r.uniform(0.12, 0.35), 0.3 * (a.t_rest - a.t))
        self._go(a.t, ramp, w)
        land = a.t + ramp
        self._ring(land, a.t_rest, min(w * r.uniform(0.03, 0.2), 200.0), r.uniform(0.08, 0.25), r.uniform(4.0, 12.0))
        if a.hand:  # a hand rests on the bottle, pressing and wobbling, then lets go
            settle = r.uniform(0.25, 0.35) if self._fast else r.uniform(0.3, 0.5)
            down = 0.15 if self._fast else r.uniform(0.15, 0.3)
            press = land + r.uniform(0.1, 0.25)
            release = a.t_rest - settle
            self._go(press, 0.15, w + r.uniform(15.0, 120.0 if self._fast else 250.0))
            self._ring(press + 0.15, release - down, r.uniform(2.0, 12.0), 1e9, r.uniform(0.7, 2.5))
            self._go(release - down, down, w)
            self._ring(release, a.t_rest, self._sign() * r.uniform(1.0, 6.0), r.uniform(0.05, 0.15), r.uniform(5.0, 12.0))
        amp, tau = (r.uniform(0.3, 1.5), r.uniform(5.0, 15.0)) if self._fast else (r.uniform(0.5, 3.0), r.uniform(10.0, 40.0))
        for col, v in zip(self._creep, (land, _FOREVER, self._creep_sign * amp, tau)):
            col.append(v)
        self._load = w
        self._mt.append(a.t)
        self._mv.append(mass)
        if a.event is not None:
            self._events.append((a.event, a.kind))
        note = {"t_down": a.t, "t_end": a.t_rest, "kind": a.kind, "net_ml": a.net_ml, "contents_ml": a.contents_ml,
                "hand": a.hand, "offset_g": round(offset, 2), "event": a.event is not None}
        if a.t_up is None:
            self.annotations.append({"type": "place", "t": a.t} | note)
        else:
            self._lift.update(note)

    def _bump(self, a: Bump) -> None:
        r = self._rng
        self._ring(a.t, a.t_end, self._sign() * a.strength_g, r.uniform(0.05, 0.3), r.uniform(3.0, 15.0))
        if r.random() < 0.3:  # a push: the platform is pressed for a moment
            self._go(a.t, 0.05, self._load + a.strength_g * r.uniform(0.3, 1.0))
            self._go(a.t + 0.05 + r.uniform(0.05, 0.15), 0.08, self._load)
        self.annotations.append({"type": "bump", "t": a.t, "t_end": a.t_end, "g": round(a.strength_g, 1)})

    def _item(self, a: Item) -> None:
        r, m, base = self._rng, a.mass_g, self._load
        ramp = r.uniform(0.15, 0.35)
        self._go(a.t, ramp, base + m)
        self._ring(a.t + ramp, a.t_on, self._sign() * m * r.uniform(0.05, 0.3), r.uniform(0.05, 0.2), r.uniform(4, 12))
        ramp = r.uniform(0.15, 0.35)
        self._go(a.t_off, ramp, base)
        self._ring(a.t_off + ramp, a.t_end, self._sign() * m * r.uniform(0.05, 0.2), r.uniform(0.05, 0.2), r.uniform(4, 12))
        self._mt.extend([a.t, a.t_off])
        self._mv.extend([self._mv[-1] + m, self._mv[-1]])
        self.annotations.append({"type": "object", "what": a.what, "t": a.t, "t_off": a.t_off, "t_end": a.t_end,
                                 "g": a.mass_g, "on": "bottle" if base else "scale"})

    # ---- readings ------------------------------------------------------------------
    def noise_sd(self, rate_hz: float) -> float:
        """White-noise sd in grams at ``rate_hz`` (the HX711 is noisier at 80 SPS)."""
        return self.noise_sd_10hz * (1.0 + 0.6 * min(1.0, max(0.0, (rate_hz - 10.0) / 70.0)))

    def render(self, rate_hz: float, *, seed: int | None = None, clean: bool = False,
               span: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Sample the plan at ``rate_hz`` from :attr:`start` to :attr:`end` (or ``span``).

        Returns ``(t, grams)`` as float64 arrays. ``clean`` leaves out noise, spikes and
        drift (handling, creep and off-centre offsets stay). ``seed`` varies only the
        noise and spikes.
        """
        if not 0 < rate_hz <= 1000:
            raise ValueError("rate_hz must be in (0, 1000]")
        t0, t1 = span if span is not None else (self.start, self.end)
        if t0 < self.history_start:
            raise ValueError("span starts before the kept history (trimmed)")
        with self._lock:
            kt, kv = np.array(self._kt), np.array(self._kv)
            osc = [np.array(c) for c in self._osc]
            creep = [np.array(c) for c in self._creep]
        n = max(0, math.ceil((t1 - t0) * rate_hz - 1e-6))
        t = t0 + np.arange(n) / rate_hz
        g = _levels(t, kt, kv)
        lo, hi = np.searchsorted(t, osc[0]), np.searchsorted(t, osc[1])
        k, idx = _ragged(lo, hi)
        t0s, t1s, amp, tau, f = (c[k] for c in osc)
        np.add.at(g, idx, _osc(t[idx] - t0s, t1s - t0s, amp, tau, f))
        if len(creep[0]):
            ends = np.minimum(creep[1], creep[0] + 12.0 * creep[3])
            k, idx = _ragged(np.searchsorted(t, creep[0]), np.searchsorted(t, ends))
            g[idx] += creep[2][k] * np.exp(-(t[idx] - creep[0][k]) / creep[3][k])
        if clean:
            return t, g
        rel, buf = t - self.start, np.empty(n)  # in-place work keeps a day at 80 Hz near 4 arrays
        g += self._drift0
        for a, w, ph in self._drift:
            np.multiply(rel, w, out=buf)
            buf += ph
            np.sin(buf, out=buf)
            buf *= a
            g += buf
        rng = np.random.default_rng([abs(self.seed), round(rate_hz * 1000), 0 if seed is None else abs(seed) + 1,
                                     round(t0 * 1000) % 2**32])
        rng.standard_normal(n, out=buf)
        buf *= self.noise_sd(rate_hz)
        g += buf
        del rel, buf
        pos = rng.integers(0, max(n, 1), rng.binomial(n, self.spike_rate))
        mag = np.exp(rng.uniform(math.log(20.0), math.log(5000.0), len(pos))) * rng.choice([-1.0, 1.0], len(pos))
        g[pos] += mag
        twice = rng.random(len(pos)) < 0.25
        nxt = pos[twice] + 1
        ok = nxt < n
        g[nxt[ok]] += mag[twice][ok] * rng.uniform(0.5, 1.0, int(ok.sum()))
        return t, g

    def weight_at(self, t: float, *, rate_hz: float = 10.0, spikes: bool = True) -> float:
        """The noisy reading at Unix time ``t``, for a live emulator; O(log n).

        Past :attr:`end` the plan extends itself by the hour, and after two days it
        forgets all but the last day, so a short plan runs for ever in little memory.
        Noise (at ``rate_hz``) and spikes come from an internal generator; pass
        ``spikes=False`` when the emulated chip adds its own.
        """
        with self._lock:
            if t > self.end - 1.0:
                while t > self.end - 1.0:
                    self.extend(1.0)
                if t - self.history_start > 2 * 86400.0:
                    self.trim(t - 86400.0)
            g = self._clean_at(t)
        g += self._drift0 + sum(a * math.sin(w * (t - self.start) + ph) for a, w, ph in self._drift)
        live = self._live
        g += live.gauss(0.0, self.noise_sd(rate_hz))
        if self._live_spike:
            g, self._live_spike = g + self._live_spike, 0.0
        elif spikes and live.random() < self.spike_rate:
            mag = math.exp(live.uniform(math.log(20.0), math.log(5000.0))) * (1 if live.random() < 0.5 else -1)
            g += mag
            if live.random() < 0.25:
                self._live_spike = mag * live.uniform(0.5, 1.0)
        return g

    def _clean_at(self, t: float) -> float:
        kt, kv = self._kt, self._kv
        k = bisect.bisect_right(kt, t) - 1
        if k < 0:
            g = kv[0]
        elif k >= len(kt) - 1:
            g = kv[-1]
        else:
            u = (t - kt[k]) / (kt[k + 1] - kt[k])
            g = kv[k] + (kv[k + 1] - kv[k]) * (0.5 - 0.5 * math.cos(math.pi * u))
        t0s, t1s, amp, tau, f = self._osc
        j = bisect.bisect_right(t0s, t) - 1
        while j >= 0 and t0s[j] >= t - self._max_osc:
            if t < t1s[j]:
                g += float(_osc(t - t0s[j], t1s[j] - t0s[j], amp[j], tau[j], f[j]))
            j -= 1
        c0, c1, ca, ctau = self._creep
        j = bisect.bisect_right(c0, t) - 1
        if j >= 0 and t < min(c1[j], c0[j] + 12.0 * ctau[j]):
            g += ca[j] * math.exp(-(t - c0[j]) / ctau[j])
        return g


def _osc(u, dur, amp, tau, freq):
    """Damped sine starting at 0, faded to exactly 0 over the last 40 % of ``dur``."""
    x = u / dur
    taper = np.where(x < 0.6, 1.0, 0.5 + 0.5 * np.cos(np.pi * (np.minimum(x, 1.0) - 0.6) / 0.4))
    return amp * np.exp(-u / tau) * np.sin(2.0 * np.pi * freq * u) * taper


def _ragged(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [lo, hi): (range number, sample index) of every member, concatenated."""
    lens = np.maximum(hi - lo, 0)
    k = np.repeat(np.arange(len(lo)), lens)
    idx = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens) + np.repeat(lo, lens)
    return k, idx


def _levels(t: np.ndarray, kt: np.ndarray, kv: np.ndarray) -> np.ndarray:
    """Knot levels at sample times: held between knots, raised-cosine ramps where they differ."""
    n = len(t)
    pos = np.searchsorted(t, kt)
    g = np.empty(n)
    g[: pos[0]] = kv[0]
    g[pos[0]:] = np.repeat(kv, np.diff(np.append(pos, n)))
    k = np.flatnonzero(kv[1:] != kv[:-1])
    seg, idx = _ragged(pos[k], pos[k + 1])
    k = k[seg]
    u = (t[idx] - kt[k]) / (kt[k + 1] - kt[k])
    g[idx] = kv[k] + (kv[k + 1] - kv[k]) * (0.5 - 0.5 * np.cos(np.pi * u))
    return g


def write_trace(plan: BottlePlan, out_dir, rate_hz: float, *, seed: int | None = None) -> tuple[Path, Path]:
    """Write ``bottle.csv`` (``t,grams``), ``bottle.truth.jsonl`` and ``bottle.annotations.jsonl``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t, g = plan.render(rate_hz, seed=seed)
    t_dec = 3 if (1000.0 / rate_hz).is_integer() else 4
    csv_path = out / "bottle.csv"
    with open(csv_path, "wb") as fh:
        fh.write(b"t,grams\n")
        for i in range(0, len(t), 1 << 18):
            fh.write(format_rows([t[i:i + (1 << 18)], g[i:i + (1 << 18)]], [t_dec, 2]))
    truth_path = out / "bottle.truth.jsonl"
    truth_path.write_text("".join(json.dumps(r) + "\n" for r in plan.truth_records), encoding="utf-8")
    scenario = {"type": "scenario", "seed": plan.seed, "rate_hz": rate_hz, "start": plan.start, "end": plan.end,
                "empty_g": plan.person.empty_g, "capacity_ml": plan.person.capacity_ml,
                "on_scale_at_start": plan.on_scale_at_start, "contents_ml_at_start": plan.contents_at_start,
                "noise_sd_g": round(plan.noise_sd(rate_hz), 3), "spike_rate": round(plan.spike_rate, 4)}
    notes = [scenario] + plan.annotations
    (out / "bottle.annotations.jsonl").write_text("".join(json.dumps(r) + "\n" for r in notes), encoding="utf-8")
    return csv_path, truth_path
