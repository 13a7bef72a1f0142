"""The bottle detector: load-cell samples in, drinks and refills out.

Pure signal processing (no I/O; time comes from the samples). Feed it chunks of any size
(one sample at a time from the live scale, or a whole recorded day at once); the events
do not depend on how the trace was cut into chunks.

>>> import numpy as np
>>> t = np.arange(0, 400, 0.1)
>>> g = np.where(t < 100, 800.0, 0.0)              # a bottle of 800 g, lifted at 100 s
>>> g[t >= 110] = 650.0                              # ... back 150 g lighter at 110 s
>>> det = BottleDetector()
>>> events = det.feed(t, g) + det.finish()
>>> [(type(e).__name__, round(e.t, 1), round(e.ml)) for e in events]
[('Drink', 110.0, 150)]

How it works. A 5-sample running median removes spikes (:mod:`sensors.weight_filter`).
A sample is "at rest" when the filtered readings of the last ``stable_window_s`` stay
within ``stable_tol_g``; runs of rest are cut into pieces of ``piece_s`` whose level is
the median of their last few seconds, and the unrest between them is summed up as a gap
(how long it read the empty scale). All of that is vectorised over the chunk; only the
pieces and gaps, a few a minute, go through :class:`sensors.bottle_tracker.LiftTracker`,
the state machine that finds lifts, returns and their net change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from sensors.bottle_tracker import LiftTracker
from sensors.weight_filter import Median5, RestMask

__all__ = ["BottleDetector", "BottleParams", "BottleState"]

_BLOCK = 1 << 15  # samples processed at a time


@dataclass(frozen=True)
class BottleParams:
    """Every threshold of the detector, with why it has its value."""

    # A rest is this long a stretch of readings within stable_tol_g: longer than the
    # ringing after a bottle is put down, shorter than the empty stretch of a quick sip.
    stable_window_s: float = 1.0
    # Range allowed inside a rest window: above the range of 0.3-1 g noise after the
    # median (about 3 g at 80 Hz) plus creep, below any handling transient or object.
    stable_tol_g: float = 5.0
    # A rest run is reported to the state machine in pieces of this length, so that long
    # rests still update the tracked zero and bottle level and pending events get emitted.
    piece_s: float = 5.0
    # A piece's level is the median of its last level_s seconds (noise down to ~0.1 g)...
    level_s: float = 3.0
    # ...leaving out the last end_margin_s, where a hand may already touch the bottle.
    end_margin_s: float = 0.5
    # A level this close to the tracked zero is an empty scale (zero drift is a few g;
    # the lightest bottle with nothing in it weighs more).
    empty_tol_g: float = 25.0
    # With the bottle on, the zero cannot be watched and may drift on; a lift is a fall
    # to the zero within this fraction of the bottle's weight (or empty_tol_g if more).
    empty_frac: float = 0.1
    # Two rest levels this close are the same load: creep (<= 3 g) plus noise, while
    # objects and hands change the load by more.
    same_tol_g: float = 5.0
    # The volume is measured this long after the bottle came to rest: load-cell creep
    # (0.5-3 g, time constant up to ~40 s) is down to a fraction of a gram by then, and
    # a minute is still prompt for the live display. A lift before then measures at once
    # (the next lift, not the next rest: see BottleDetector._gap_news). Shorter costs
    # accuracy: on tuning seeds 0-19, 10 s triples the median volume error (0.3 -> 0.9 mL)
    # and puts the daily total 1.1 % off.
    settle_s: float = 60.0
    # A lower level right after the return must last this long to be taken as the
    # bottle at rest (the hand let go) rather than a wobble.
    rebase_min_s: float = 2.0
    # A higher level replaces the first rest after a return only if that rest was this
    # brief (a hand holding the bottle up a little); after a longer rest it is an object.
    brief_rest_s: float = 4.0
    # A different level that lasts this long without a lift becomes the new bottle level
    # silently (objects rest on the bottle for up to about a minute).
    persist_s: float = 150.0
    # A lower level without a lift is what was left on the bottle coming off again (the
    # bottle itself cannot get lighter on the scale): taken once it lasts this long.
    lower_persist_s: float = 10.0
    # The zero before a carry is read this long after the lift, once the unloaded cell
    # has recovered from creep; its change over the carry corrects the volume.
    zero_settle_s: float = 30.0
    # Net changes below this are no event: the contract reports every change >= 10 mL
    # and none under about 8 mL; level errors are well under 1 g.
    min_event_ml: float = 9.0
    # A load that leaves the empty scale again within confirm_s, and is lighter than
    # item_frac of the lightest the bottle has been, was something set down on the empty
    # scale (keys, a phone) while the bottle was away, not the bottle coming back. A bottle
    # never weighs less than its tare, and a thing mistaken for it would put two false
    # events around the real return.
    confirm_s: float = 90.0
    item_frac: float = 0.75
    # ...and only when it came at least this long after the lift: nobody sets keys on
    # the coaster in the seconds they are drinking from the bottle.
    item_after_s: float = 15.0
    # An unrest stretch is a lift when this long of it reads the empty scale: shorter
    # than any lift, longer than a burst of spikes that got past the median.
    lift_min_s: float = 0.3
    # A jump in the sample times longer than this is missing data: the bottle may have
    # been lifted meanwhile, so it is treated like a lift.
    gap_s: float = 2.0
    # The zero assumed until the empty scale is seen (traces are calibrated net weight).
    initial_zero_g: float = 0.0
    # Weight of the empty bottle, if known: events and state then carry the contents.
    tare_g: float | None = None
    # Samples used to measure the sample rate at the start (median of their intervals).
    rate_samples: int = 9


@dataclass(frozen=True)
class BottleState:
    """What the detector knows now."""

    present: bool  # the bottle is on the scale
    bottle_g: float | None  # settled weight on the scale (bottle and contents), zero removed
    contents_g: float | None  # bottle_g less the tare, when the tare is known
    zero_g: float  # tracked empty-scale reading
    settled: bool  # the reading is at rest and no event is pending
    last_t: float | None  # time of the last sample fed


class BottleDetector:
    """Turns a stream of ``(t, grams)`` samples into :class:`Drink` and :class:`Refill`.

    ``feed`` takes any chunk (times increasing, any rate from 1 to 80 Hz) and returns the
    events that became certain; ``finish`` ends the trace. An event's ``t`` is when the
    bottle came to rest back on the scale; it is emitted once its volume has settled
    (up to ``settle_s`` later), or at the next lift.

    >>> det = BottleDetector(density_g_per_ml=1.0)
    >>> det.feed(np.arange(0, 60, 0.1), np.full(600, 512.0))
    []
    >>> det.state.present, round(det.state.bottle_g)
    (True, 512)
    """

    def __init__(self, *, density_g_per_ml: float = 1.0, params: BottleParams | None = None):
        if not density_g_per_ml > 0:
            raise ValueError("density_g_per_ml must be positive")
        self.params = params or BottleParams()
        self.density = float(density_g_per_ml)
        self._tracker = LiftTracker(self.params, self.density)
        self._head_t: list[np.ndarray] = []  # samples held until the rate is known
        self._head_g: list[np.ndarray] = []
        self._ready = False
        self._finished = False
        self._last_t: float | None = None

    # -- public API -----------------------------------------------------------------
    def feed(self, t, grams) -> list:
        """Process a chunk of samples; return the events completed by it."""
        if self._finished:
            raise RuntimeError("feed() after finish()")
        t = np.asarray(t, dtype=float).ravel()
        g = np.asarray(grams, dtype=float).ravel()
        if t.shape != g.shape:
            raise ValueError("t and grams must have the same length")
        if len(t) == 0:
            return []
        self._last_t = float(t[-1])
        if not self._ready:
            self._head_t.append(t)
            self._head_g.append(g)
            if sum(len(x) for x in self._head_t) < self.params.rate_samples:
                return []
            t = np.concatenate(self._head_t)
            g = np.concatenate(self._head_g)
            self._head_t = self._head_g = []
            self._setup(t)
        # work through long chunks in blocks that stay in the CPU cache (the result does
        # not depend on the chunking, only the speed does)
        for i in range(0, len(t), _BLOCK):
            self._process(*self._median.push(t[i : i + _BLOCK], g[i : i + _BLOCK]))
        return self._take()

    def finish(self) -> list:
        """End of the trace: close the open rest or gap and emit what is pending."""
        if self._finished:
            return []
        self._finished = True
        if not self._ready:
            if not self._head_t:
                return []
            t = np.concatenate(self._head_t)
            g = np.concatenate(self._head_g)
            self._setup(t)
            self._process(*self._median.push(t, g))
        self._process(*self._median.flush())
        self._close_run(self._n)
        self._tracker.finish()
        return self._take()

    def set_empty_bottle(self, grams: float | None) -> None:
        """The empty bottle's weight from now on (a new calibration); None if unknown."""
        self.params = replace(self.params, tare_g=grams)
        self._tracker.p = self.params

    @property
    def state(self) -> BottleState:
        tr = self._tracker
        present = tr.mode in ("present", "returned")
        bottle = tr.base - tr.zero if present and tr.base is not None else None
        contents = None
        if bottle is not None and self.params.tare_g is not None:
            contents = bottle - self.params.tare_g
        settled = bool(self._ready and self._in_rest and tr.mode in ("present", "away"))
        return BottleState(
            present=present,
            bottle_g=bottle,
            contents_g=contents,
            zero_g=tr.zero,
            settled=settled,
            last_t=self._last_t,
        )

    # -- streaming segmentation -----------------------------------------------------
    def _setup(self, t: np.ndarray) -> None:
        p = self.params
        n = min(len(t), max(2, p.rate_samples))
        dts = np.diff(t[:n])
        dts = dts[dts > 0]
        dt = float(np.median(dts)) if len(dts) else 1.0
        rate = 1.0 / dt
        # at least 5 readings: a burst of 3 spikes can give 3 equal medians in a row
        self._w = max(5, round(p.stable_window_s * rate))
        self._piece = max(1, round(p.piece_s * rate))
        self._lvl = max(1, min(self._piece, round(p.level_s * rate)))
        self._margin = max(0, round(p.end_margin_s * rate))
        self._median = Median5()
        self._mask = RestMask(self._w, p.stable_tol_g, max(p.gap_s, 3 * dt))
        self._keep = self._piece + self._lvl + self._margin + self._w + 8
        self._ht = np.empty(0)  # history of filtered samples: times ...
        self._hf = np.empty(0)  # ... and readings
        self._h0 = 0  # global index of _hf[0]
        self._n = 0  # filtered samples seen
        self._in_rest: bool | None = None
        self._run_start = 0  # global index of the first sample of the current run
        self._region = 0  # first sample of the current rest (the window before the run)
        self._rest_t = 0.0
        self._ps = 0  # first sample of the current piece
        self._tracker.min_empty = max(2, round(p.lift_min_s * rate))
        self._gempty = 0  # current gap: readings at the zero ...
        self._gt0 = 0.0  # ... start time ...
        self._gdata = False  # ... and whether data are missing in it
        self._gtold = False  # ... and whether the tracker was told of it
        self._ready = True

    def _process(self, t: np.ndarray, f: np.ndarray) -> None:
        n = len(f)
        if n == 0:
            return
        rest, gap = self._mask.push(t, f)
        base = self._n
        self._ht = np.concatenate((self._ht, t))
        self._hf = np.concatenate((self._hf, f))
        self._n += n
        if n == 1:
            bounds = [0, 1]
        else:
            bounds = [0, *(np.flatnonzero(rest[1:] != rest[:-1]) + 1).tolist(), n]
        for a, b in zip(bounds[:-1], bounds[1:]):
            r = bool(rest[a])
            if r != self._in_rest:
                if self._in_rest is not None:
                    self._close_run(base + a)
                self._open_run(r, base + a)
            if r:
                self._rest_pieces(base + b)
            else:
                near = np.abs(f[a:b] - self._tracker.zero) <= self._tracker.empty_tol()
                self._gempty += int(np.count_nonzero(near))
                self._gdata = self._gdata or bool(gap[a:b].any())
                self._gap_news()
        extra = len(self._hf) - self._keep
        if extra > 0:
            self._ht, self._hf = self._ht[extra:], self._hf[extra:]
            self._h0 += extra

    def _open_run(self, rest: bool, start: int) -> None:
        self._in_rest = rest
        self._run_start = start
        if rest:
            self._region = max(start - self._w + 1, self._h0)
            self._rest_t = float(self._ht[self._region - self._h0])
            self._ps = self._region
        else:
            self._gempty = 0
            self._gt0 = float(self._ht[start - self._h0])
            self._gdata = False
            self._gtold = False

    def _gap_news(self) -> None:
        """Tell the tracker of the open gap as soon as it is a lift (it read the zero long
        enough, or data went missing): the bottle is in the air, so the drink before it
        is certain now, not only once the empty scale or the bottle is at rest again.
        The decision is the one the closed gap would give (both counts only grow, and
        the tracker's mode cannot change inside a gap), so the events are the same."""
        if not self._gtold and (self._gdata or self._gempty >= self._tracker.min_empty):
            self._gtold = True
            self._tracker.gap(self._gt0, self._gempty, self._gdata)

    def _rest_pieces(self, end: int) -> None:
        """Report every complete piece of the current rest up to global index ``end``."""
        P = self._piece
        k = (end - self._ps) // P
        if k <= 0:
            return
        ends = self._ps + P * np.arange(1, k + 1) - 1
        levels = self._levels(ends)
        t_end = self._ht[ends - self._h0]
        piece = self._tracker.piece
        rest_t = self._rest_t
        for lv, te in zip(levels.tolist(), t_end.tolist()):
            piece(lv, te, rest_t)
        self._ps += P * k

    def _levels(self, ends: np.ndarray) -> np.ndarray:
        """Median of the ``level_s`` before ``end_margin_s`` ahead of each piece end."""
        hi = ends - self._margin
        hi = np.where(hi - self._region + 1 >= max(3, self._lvl // 2), hi, ends)
        lo = np.maximum(hi - self._lvl + 1, self._region)
        width = int((hi - lo).max()) + 1
        if np.all(hi - lo + 1 == width):
            idx = lo[:, None] + np.arange(width) - self._h0
            return np.median(self._hf[idx], axis=1)
        return np.array(
            [np.median(self._hf[a - self._h0 : b - self._h0 + 1]) for a, b in zip(lo, hi)]
        )

    def _close_run(self, end: int) -> None:
        """Close the current run, whose last sample is ``end - 1``."""
        if self._in_rest is None:
            return
        if self._in_rest:
            if self._ps < end:
                last = np.array([end - 1])
                lv = float(self._levels(last)[0])
                self._tracker.piece(lv, float(self._ht[end - 1 - self._h0]), self._rest_t)
        elif not self._gtold:
            self._tracker.gap(self._gt0, self._gempty, self._gdata)
        self._in_rest = None

    def _take(self) -> list:
        out = self._tracker.events
        self._tracker.events = []
        return out
