"""The night analysis: bed-frame samples (or actigraph counts) in, sleep and wakes out.

Three layers, each pure and testable alone:

1. :mod:`sensors.night_features` - samples to per-second movement (over the measured
   sensor noise), frame ringing, and per-epoch activity, breathing presence, breathing
   strength and frame tilt;
2. :mod:`sensors.night_periods` - epochs to the main sleep period and its wake episodes;
3. :mod:`sensors.cramp_verdict` - each wake to a cramp verdict and a 0-1 score, with the
   features that gave it.

This module combines them: :class:`NightAnalyzer` for the daemon (streaming, any chunk
size, the same events whatever the chunking), :func:`analyze_bed` and
:func:`analyze_counts` for ``crampwatch replay bed|counts``.

The bed sensor, epoch by epoch (:class:`BedParams` has every threshold and its reason):

- someone is on the bed when breathing shows (presence ratio >= 4.5 in the epoch or a
  neighbour; a moving epoch counts as occupied); missing samples are unknown;
- an epoch is asleep when occupied and no second within 2 min of it moved, so 10 min of
  stillness start the sleep (the last movement before them is the sleep onset) and a
  movement every 15-150 s, as when reading or lying awake, never looks asleep;
- the period ends at the first movement of the final awakening; at its edges, sleep
  breathing at another rate than the night's (Welch spectrum of the still seconds) is a
  partner's, before the sleeper came to bed or after they got up, and is cut off;
- wakes are movement bouts joined within 60 s spanning >= 60 s, or with time out of
  bed between movements: an empty bed, or (a partner still lying there) a quiet gap with
  weaker breathing at another rate, and the tilt of the frame shifted and back.

Actigraph counts (:func:`analyze_counts`): Actiware/Oakley epoch scoring, Choi no-wear,
the same period and wake rules (see :mod:`sensors.night_periods`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from sensors import cramp_verdict
from sensors.night_features import EpochFeatures, FeatureParams, NightFeatures
from sensors.night_periods import (
    PeriodParams, extend_end, nonwear, period_groups, runs, score_counts, sleep_periods, to_grid, wake_episodes,
)
from vocabulary.events import Event, Sleep, Wake

__all__ = [
    "NightAnalyzer", "BedParams", "EpochRecord", "NightWake", "analyze_bed", "analyze_counts", "CountsParams",
]


@dataclass(frozen=True)
class NightWake(Wake):
    """A :class:`Wake` that carries the features behind its verdict into its JSON.

    It is not registered as an event type of its own: stored and read back, it is a
    plain ``wake`` (the features are an extra key, which DESIGN.md allows).
    """

    type: ClassVar[str] = ""  # set to "wake" below, after registration is skipped
    features: dict | None = None


NightWake.type = "wake"


@dataclass(frozen=True)
class CountsParams:
    """Scoring of actigraph counts (see :mod:`sensors.night_periods`)."""

    # Actiware's "medium" wake threshold, for Actiwatch counts. Other actigraphs count
    # on other scales: scale it with them (e.g. the mean count of an active epoch).
    threshold: float = 40.0
    # Choi-style no-wear: this long of zero counts is missing data (None: never). Not
    # Choi's 90 min: a still sleeper's wrist gives zero counts for two hours and more
    # (Actiware keeps such stretches in the REST interval); by day the main-period rule
    # below keeps a watch lying still from being a night.
    nonwear_s: float | None = 10800.0
    # One main sleep period a day: of periods whose middles are closer than this, only
    # the longest is kept (the others are naps, or a watch lying still by day). Nights
    # are about 24 h apart and a nap is at most about 12 h from the night.
    main_apart_s: float | None = 16 * 3600.0
    # The rest begins after the evening's last stretch of real activity (getting ready
    # for bed): a 10 min window whose mean count reaches the recording's active level
    # (this quantile of all its 10 min means, per minute) within the first evening_s of
    # a period moves its start to the next sleep onset after that window. A quiet evening
    # in an armchair scores asleep on counts alone, but people walk to bed.
    evening_s: float | None = 4 * 3600.0
    active_quantile: float = 0.9
    # The time in bed reported around the sleep (``rest``) starts when the evening's last
    # burst of activity ends (getting ready for bed, then lying still; see _rest_edges):
    # the last moment from rest_before_s before the sleep to rest_after_s into it where
    # the burst_s before averaged at least burst_x times the wake threshold (counts a
    # minute) and at least offset_ratio times the quiet_s after; the rest starts after
    # that burst's last epoch above edge_x times the threshold.
    rest_before_s: float = 3 * 3600.0
    rest_after_s: float = 4 * 3600.0
    burst_s: float = 15 * 60.0
    burst_x: float = 2.0
    quiet_s: float = 30 * 60.0
    offset_ratio: float = 4.0
    edge_x: float = 4.0
    periods: PeriodParams = PeriodParams()


def analyze_counts(t, counts, params: CountsParams = CountsParams(), *, epoch_s: float | None = None) -> list[Event]:
    """Sleep periods and wakes of an actigraph's epoch counts (``t,count``).

    Missing epochs (absent rows, NaN counts) and no-wear stretches are unknown: neither
    sleep nor wake. Epochs are scored by the Actiware/Oakley rule; sleep periods and
    wakes follow :mod:`sensors.night_periods`. A wake is active epochs (an epoch whose
    count alone would score it awake) at most one epoch apart, spanning at least 60 s
    and two epochs; ``bed_exit`` is always false (a wrist cannot tell), and the cramp verdict uses
    the counts only (:data:`sensors.cramp_verdict.COUNTS`, unvalidated: a hint).
    """
    tg, c, epoch = to_grid(t, counts, epoch_s)
    if len(tg) == 0:
        return []
    valid = np.isfinite(c)
    if params.nonwear_s:
        valid &= ~nonwear(c, epoch, min_s=params.nonwear_s)
    awake = score_counts(c, epoch, params.threshold)
    asleep = valid & ~awake
    pp = params.periods
    # one epoch of 60 s is no proof of 60 s awake: a wake needs two active epochs
    pp_w = replace(pp, min_wake_s=max(pp.min_wake_s, 2 * epoch), join_s=epoch)
    gain = 60.0 / epoch
    active = valid & (np.nan_to_num(c) * gain > params.threshold)
    idx = np.flatnonzero(active)
    b_start, b_end = tg[idx], tg[idx] + epoch
    events: list[Event] = []
    found = sleep_periods(tg, asleep, epoch, pp)
    # the recording's active level: that quantile of its 10 min means (counts a minute)
    means, w = _window_means(c, epoch)
    level = float(np.quantile(means, params.active_quantile)) if len(means) else math.inf
    if params.evening_s and len(means):
        found = [_after_evening(p, means, w, level, asleep, epoch, params) for p in found]
        found = [(i0, i1) for i0, i1 in found if (i1 - i0) * epoch >= pp.min_sleep_s]
    for i0, i1 in _main_periods(found, tg, epoch, params.main_apart_s):
        r0, r1 = _rest_edges(i0, i1, c, epoch, params)
        if r0 > i0:  # the walk to bed came after a still evening: sleep begins after it
            i0 = _onset_after(asleep, r0, i1, epoch, params) or i0
            r0 = min(r0, i0)
        start, end = float(tg[i0]), float(tg[i1 - 1] + epoch)
        events.append(Sleep(start, end, evidence="counts", rest=[float(tg[r0]), float(tg[r1 - 1] + epoch)]))
        for ep in wake_episodes(b_start, b_end, np.zeros(len(idx), bool), (start, end), pp_w):
            sel = idx[list(ep.bouts)]
            counts_in = np.nan_to_num(c[sel])
            peak = float(counts_in.max()) * gain
            feats = {
                "onset_is_peak": float(counts_in[0] >= counts_in.max()),
                "peak_count_per_min": round(peak, 1),
                "log_peak": math.log10(max(peak, 1.0) / 300.0),
                "active_epochs": int(len(sel)),
                "duration_s": round(ep.end - ep.start, 1),
                "hours_asleep": round((ep.start - start) / 3600.0, 3),
            }
            v = cramp_verdict.judge(feats, cramp_verdict.COUNTS)
            feats["log_peak"] = round(feats["log_peak"], 3)
            events.append(NightWake(ep.start, ep.end, False, v.cramp, v.score, features=feats))
    return events


def _after_evening(period: tuple[int, int], means: np.ndarray, w: int, level: float, asleep: np.ndarray,
                   epoch: float, params: CountsParams) -> tuple[int, int]:
    """``period`` starting after the last active 10 min window of its first
    ``evening_s`` (see :class:`CountsParams`), at the next sleep onset. ``means`` and
    ``w`` are :func:`_window_means`, ``level`` the recording's active level."""
    i0, i1 = period
    stop = min(i1, i0 + int(round(params.evening_s / epoch))) - w + 1
    hot = np.flatnonzero(means[i0:max(i0, stop)] >= level)
    if not len(hot):
        return period
    onset = _onset_after(asleep, i0 + int(hot[-1]) + w, i1, epoch, params)
    return period if onset is None else (onset, i1)


def _onset_after(asleep: np.ndarray, at: int, i1: int, epoch: float, params: CountsParams) -> int | None:
    """The first sleep onset (``periods.onset_s`` asleep in a row) in ``[at, i1)``."""
    need = max(1, int(round(params.periods.onset_s / epoch)))
    s, e = runs(asleep[at:i1])
    return next((at + a for a, b in zip(s.tolist(), e.tolist()) if b - a >= need), None)


def _window_means(c: np.ndarray, epoch: float) -> tuple[np.ndarray, int]:
    """Means (per minute) of the 10 min windows starting at each epoch, and the window length."""
    w = max(1, int(round(600.0 / epoch)))
    x = np.nan_to_num(c) * (60.0 / epoch)
    if len(x) < w:
        return np.zeros(0), w
    return np.convolve(x, np.ones(w) / w, mode="valid"), w


def _rest_edges(i0: int, i1: int, c: np.ndarray, epoch: float, params: CountsParams) -> tuple[int, int]:
    """The rest around sleep ``[i0, i1)``: it starts where the evening's last burst of
    activity ends and quiet follows (see :class:`CountsParams`), the sleep's own start
    where there is none; it ends with the sleep (wrist counts rise at the final
    awakening). A burst inside the sleep's first ``rest_after_s`` counts too: a still
    evening on the sofa scores as sleep, and the walk to bed comes after it."""
    x = np.nan_to_num(c) * (60.0 / epoch)
    hb = max(1, int(round(params.burst_s / epoch)))
    hq = max(1, int(round(params.quiet_s / epoch)))
    lo = max(hb, i0 - int(round(params.rest_before_s / epoch)))
    hi = min(i1 - 1, i0 + int(round(params.rest_after_s / epoch)))
    if hi < lo:
        return i0, i1
    cs = np.r_[0.0, np.cumsum(x)]
    k = np.arange(lo, hi + 1)
    before = (cs[k] - cs[k - hb]) / hb
    end = np.minimum(len(x), k + hq)
    after = (cs[end] - cs[k]) / np.maximum(1, end - k)
    found = np.flatnonzero((before >= params.burst_x * params.threshold)
                           & (before >= params.offset_ratio * np.maximum(after, 1.0)))
    if not len(found):
        return i0, i1
    last = int(k[found[-1]])
    hot = np.flatnonzero(x[last - hb:last] > params.edge_x * params.threshold)
    return (last - hb + int(hot[-1]) + 1 if len(hot) else last), i1


def _main_periods(periods: list[tuple[int, int]], t: np.ndarray, epoch: float,
                  apart_s: float | None) -> list[tuple[int, int]]:
    """The longest period of each day: longest first, a period is kept when its middle
    is at least ``apart_s`` from every kept one's."""
    if apart_s is None or len(periods) < 2:
        return periods
    mid = {p: (t[p[0]] + t[p[1] - 1] + epoch) / 2.0 for p in periods}
    kept: list[tuple[int, int]] = []
    for p in sorted(periods, key=lambda q: (t[q[1] - 1] - t[q[0]]), reverse=True):
        if all(abs(mid[p] - mid[k]) >= apart_s for k in kept):
            kept.append(p)
    return sorted(kept)


# -- the bed sensor ---------------------------------------------------------------------
@dataclass(frozen=True)
class BedParams:
    """How epochs of the bed sensor are scored, with reasons (layers 1-3 have their own)."""

    # Someone lies on the bed when the breathing presence ratio reaches this: an empty
    # bed stays under ~4.2, a sleeper's weakest breathing (0.8 mg at 25 Hz) is ~3-6.
    presence_on: float = 4.5
    # Where movement says the bed is occupied, an epoch is empty only when its ratio is
    # down at an empty bed's (under presence_off): after a turnover the breathing can
    # reach the frame three times more weakly (ratio 2-4.5), which is no bed exit.
    presence_off: float = 2.5
    # Sleep after the last wake must last this long, or that wake was the final
    # awakening (the night's sleep-onset rule, mirrored: dozing for a few minutes in the
    # morning is lying awake in bed).
    end_doze_s: float = 600.0
    # ...in this epoch or one of its two neighbours: the bed is empty only after 90 s
    # of no breathing, so a weak breather is not thrown out of bed now and then.
    presence_span: int = 1
    # An epoch counts as asleep when the sleeper is on the bed and nothing moved within
    # this long on either side: lying awake, people move every 15-150 s; asleep, the
    # movements (a turnover, a twitch) come minutes apart.
    quiet_margin_s: float = 120.0
    # Moving seconds this close are one movement bout (a turnover's pauses).
    bout_gap_s: float = 2.0
    # The first movement of the final awakening, or the last before sleep, is looked for
    # this far beyond the epoch edge of the period.
    refine_s: float = 600.0
    # Out of bed with a partner still on it: a quiet gap of at most exit_max_s between
    # two movements is time out of bed when the breathing in it is below exit_breath of
    # the breathing before and after (the partner's alone), the frame's tilt is
    # exit_tilt_g away from both (the sleeper's weight is off) and the tilts before and
    # after are closer to each other than that (they lie down again where they were),
    # and the breathing rate in the gap is not the sleeper's (other_rate below): a new
    # posture of the sleeper can change breathing strength and tilt as much, not rate.
    exit_max_s: float = 720.0
    exit_breath: float = 0.65
    # ...or, when the breathing in the gap is at another rate than the sleeper's, just
    # weaker than this share (the partner's, alone).
    exit_breath_other: float = 0.8
    exit_tilt_g: float = 0.0015
    # ...measured on still epochs this long before and after.
    exit_context_s: float = 600.0
    # Without measurable breathing, a still gap of still_exit_min_s to exit_max_s between
    # two strong movements (each at least still_exit_strength times the night's usual
    # movement: getting up, lying down again) whose tilt is still_exit_tilt_g away from
    # the tilt before and after it is time out of bed: only the sleeper's weight leaving
    # the frame moves its tilt that far between two movements and back.
    still_exit_min_s: float = 60.0
    still_exit_strength: float = 1.5
    still_exit_tilt_g: float = 0.004
    # ...or whose breathing line is gone: breathing too weak to show in a 30 s epoch
    # still stands out of a few minutes' spectrum (1 s means, 0.1-0.5 Hz; its peak over
    # the median, ``_breath_peak``; moving seconds left out). A still gap of at least
    # still_exit_breath_min_s whose peak is below still_exit_quiet (noise alone: ~7,
    # rarely 10 for 4-12 min) between still stretches whose peaks are above
    # still_exit_breath and still_exit_contrast times the gap's is the sleeper's
    # breathing leaving the frame (a sleeper lying still breathes on). Shorter gaps
    # have too few spectral bins to tell. Tuned on seeds 0-479: 8 more wakes found,
    # 2 more false ones (a partner's weak breathing, a drifting rate).
    still_exit_breath_min_s: float = 240.0
    still_exit_quiet: float = 10.0
    still_exit_breath: float = 25.0
    still_exit_contrast: float = 2.5
    # ...or whose line at the sleeper's own breathing rate is gone: hours of still
    # seconds show that rate (``_breath_hz`` over the period) even when minutes do not,
    # and a gap's spectrum at that rate (within still_exit_line_w of it) rises above its
    # band only while someone breathes there (``_line_peak``; noise alone gives ~1-3).
    # A still gap of at least still_exit_line_min_s below still_exit_line_quiet, with the
    # still stretches around it above still_exit_line_clear and still_exit_line_contrast
    # times the gap, is out of bed. Tuned on seeds 0-479 (+5 wakes, +3 false) and
    # checked on 480-719 (+2, +1); a quiet bound of 3 gave +6/+5 and +3/+4: most gaps it
    # finds are wakes already found by their movements.
    still_exit_line_min_s: float = 120.0
    still_exit_line_w: float = 0.04
    still_exit_line_quiet: float = 2.0
    still_exit_line_clear: float = 2.5
    still_exit_line_contrast: float = 2.5
    # Sleep at the edges of a night that breathes at another rate than the night (by
    # more than other_rate, a share), cut off from the rest by at least other_moving_s
    # of movement (getting into bed and reading, or waking up and getting out), is
    # someone else's: a partner asleep before the sleeper came to bed or after they got
    # up. One sleeper's rate drifts by a few percent; asleep, it is measured to ~1 %
    # over a few minutes (Welch spectrum of the still seconds' means).
    other_rate: float = 0.05
    other_moving_s: float = 120.0
    # When breathing cannot be measured (weak coupling, a noisy sensor), occupancy comes
    # from movement alone, as an actigraph's wear does: the bed is occupied from a
    # movement to the next one up to occupied_gap_s later (asleep, people turn over or
    # twitch every 10-40 min; an empty bed does not move for hours). Breathing decides
    # in a stretch of such occupancy (a night) when at least breath_share of its still
    # epochs show it; there an epoch without breathing is an empty bed.
    occupied_gap_s: float = 9000.0
    breath_share: float = 0.5
    features: FeatureParams = FeatureParams()
    # 6 min of asleep epochs, each 2 min from any movement: 10 min of stillness start
    # the sleep; 6 min of wake (the margins make a turnover 4.5-5 min) end it. A night
    # of frequent movement may go long without 10 still minutes: on the bed sensor only
    # 30 min of movement or empty bed split a night (max_gap_s 3 h).
    periods: PeriodParams = PeriodParams(onset_s=360.0, end_wake_s=360.0, max_gap_s=10800.0, merge_wakes_s=720.0)
    model: cramp_verdict.Model = cramp_verdict.BED

    @classmethod
    def demo(cls) -> BedParams:
        """The parameters for the simulator's time-compressed demo nights (``crampwatch demo``).

        A demo night (:func:`simulator.night_scenario.plan_night` with ``demo=True``) is
        a real night's story told in about ten minutes: in bed, asleep within a minute,
        a cramp about two minutes later, a few minutes of sleep, up, the bed empty for a
        few minutes. Only the night's structure is compressed; each movement, each wake
        (90 s-4 min, the sleeper moving at least every 45 s) and the breathing are as
        in a real night. So the rules about *how long sleep lasts* shrink and the rules
        about *what a movement or a wake looks like* stay (one uniform time factor would
        turn a 60 s wake into a second):

        - sleep starts after 60 s of stillness (two still epochs, no quiet margin around
          them) instead of 10 min: lying awake the sleeper moves at least every 45 s;
        - a period is 4 min or more (not 2 h); wakes inside it are up to 4 min, so anchors
          5 min apart (``max_gap_s``) or 5 min of awake evidence between them split it;
        - it ends at the first non-sleep epoch after its last still minute (``end_wake_s``
          30 s, no morning dozing): without a quiet margin a lone still epoch in the
          morning (a page turned too softly to feel) or the one right after getting up
          (still "occupied" by the presence smoothing) must not carry the night on;
        - 60 s of empty bed after the final awakening end the night (getting up for the
          day; a wake's trip out of bed empties at most one epoch once presence is
          smoothed): the summary is stored about two minutes after the sleeper got up;
        - wakes need 60 s of calm on one side (``settle_s``) instead of 150 s, and are
          never merged (a demo night's wakes are minutes apart by design);
        - movement bouts up to 95 s apart are one episode (``join_s``, not 60 s): a demo
          trip out of bed lasts 30-90 s, too short for the smoothed presence to see the
          bed empty, so the walk out and the return are joined into one wake this way
          (its ``bed_exit`` then stays false); asleep, demo movements keep at least
          100 s from a wake.

        - no breathing is taken for a partner's (``other_rate`` 1.0: never): that needs a
          rate measured to 5 % over long still stretches, and a demo night's are 1-2 min
          (demo nights have no partner);
        - occupancy by movement alone lasts 2 min after a movement (``occupied_gap_s``),
          not 2.5 h: the bed is empty for only 2.5 min between two demo nights, and that
          must not join them into one stretch whose breathing is judged as a whole;
        - no weak-breathing band (``presence_off`` = ``presence_on``) and no morning rule
          (``end_doze_s`` 0): the summary is due two minutes after getting up.

        Movement detection, presence, bed exits and the cramp verdict are unchanged. The
        defaults (real nights, with their held-out accuracy) are not affected.
        """
        return cls(
            quiet_margin_s=0.0,
            other_rate=1.0,
            occupied_gap_s=120.0,
            end_doze_s=0.0,
            presence_off=4.5,
            periods=PeriodParams(onset_s=60.0, end_wake_s=30.0, max_gap_s=300.0, split_wake_s=300.0,
                                 split_empty_s=60.0, min_sleep_s=240.0, settle_s=60.0, merge_wakes_s=0.0,
                                 join_s=95.0),
        )


@dataclass(frozen=True)
class EpochRecord:
    """What the daemon stores of an epoch instead of raw samples."""

    t: float  # epoch start, Unix seconds
    activity: float  # movement (g s, summed swing of moving seconds)
    presence: float  # breathing presence ratio (about 1-2 empty, 5-1000 occupied; NaN unknown)
    moving_s: int  # seconds of the epoch with movement


class NightAnalyzer:
    """Bed-frame samples in, ``Sleep`` and its ``Wake`` events out, as a night ends.

    ``feed(t, xyz)`` takes any chunk of samples (times increasing, g) and returns the
    events it completed; ``finish()`` ends the recording. A sleep period is emitted,
    with its wakes and their cramp verdicts, once nothing later can change it: 30 min
    of wake or an empty bed after its end (usually when the sleeper got up), or 70 min
    in any case. The events do not depend on how the samples were chunked.

    ``pop_epochs()`` returns the per-epoch records computed since the last call, of
    ``epoch_s`` seconds each (10-60; the analysis itself always uses 30 s epochs, on
    which it was tuned). An epoch without samples has no record.

    >>> import numpy as np
    >>> an = NightAnalyzer(25.0)
    >>> t = 1_700_000_010 + np.arange(0, 600, 1 / 25.0)
    >>> xyz = np.tile([0.0, 0.0, 1.0], (len(t), 1))
    >>> an.feed(t, xyz) + an.finish()      # ten minutes of an empty bed: nothing
    []
    >>> len(an.pop_epochs())
    20
    """

    def __init__(self, rate_hz: float, *, epoch_s: float = 30.0, params: BedParams = BedParams()):
        if not 1.0 <= epoch_s <= 3600.0 or abs(epoch_s - round(epoch_s)) > 1e-9:
            raise ValueError("epoch_s must be a whole number of seconds")
        self.params = params
        # the analysis works on params.features.epoch_s (30 s, what it was tuned on);
        # epoch_s is only the length of the records for the daemon to store
        self.epoch_s = float(params.features.epoch_s)
        self.record_s = float(epoch_s)
        self._features = NightFeatures(rate_hz, params.features)
        self._k = self._features.k
        self._ep = EpochFeatures.empty(self._k)
        self._origin = 0  # epochs before this index belong to emitted periods or the past
        self._records: list[EpochRecord] = []
        self._rec = np.zeros((0, 4))  # seconds not yet in a record: t, moving, amp, presence
        self._finished = False
        # Someone is on the bed (breathing or moving on it, as the night's presence rule
        # says) in the latest decided epoch; None before one is decided or without samples.
        self.in_bed: bool | None = None

    # -- public -------------------------------------------------------------------------
    def feed(self, t, xyz) -> list[Event]:
        if self._finished:
            raise RuntimeError("feed() after finish()")
        return self._take(self._features.push(t, xyz), complete=False)

    def finish(self) -> list[Event]:
        if self._finished:
            return []
        self._finished = True
        return self._take(self._features.flush(), complete=True)

    def pop_epochs(self) -> list[EpochRecord]:
        out, self._records = self._records, []
        return out

    # -- internals ----------------------------------------------------------------------
    def _take(self, new: EpochFeatures, complete: bool) -> list[Event]:
        if len(new):
            self._ep = EpochFeatures.concat([self._ep, new], self._k)
        self._record(new, complete)
        if not len(new) and not complete:
            return []
        return self._analyse(complete)

    def _record(self, new: EpochFeatures, complete: bool) -> None:
        """Per-second movement into records of ``record_s`` seconds (complete ones)."""
        sub = self.params.features.sub_s
        if len(new):
            t = (new.t[:, None] + sub * np.arange(self._k)[None, :]).ravel()
            moving = (new.motion > self.params.features.move_ratio).ravel()
            amp = np.where(moving, np.nan_to_num(new.amp.ravel()), 0.0)
            pres = np.repeat(new.presence, self._k)
            have = np.isfinite(new.motion).ravel()  # seconds with data
            rows = np.column_stack((t, moving, amp, pres))[have]
            self._rec = np.concatenate((self._rec, rows))
        if not len(self._rec):
            return
        wid = np.floor(self._rec[:, 0] / self.record_s + 1e-9).astype(np.int64)
        done = len(wid) if complete else int(np.searchsorted(wid, wid[-1], side="left"))
        if not complete and len(new) and self.record_s <= self.epoch_s and (self.epoch_s % self.record_s) == 0:
            done = len(wid)  # records that divide the epoch are complete with it
        if done == 0:
            return
        w, rows = wid[:done], self._rec[:done]
        self._rec = self._rec[done:]
        starts = np.flatnonzero(np.r_[True, w[1:] != w[:-1]])
        moving = np.add.reduceat(rows[:, 1], starts)
        activity = np.add.reduceat(rows[:, 2], starts) * sub
        for k, a in enumerate(starts.tolist()):
            b = starts[k + 1] if k + 1 < len(starts) else len(rows)
            pres = rows[a:b, 3]
            pres = pres[np.isfinite(pres)]
            self._records.append(EpochRecord(
                float(w[a] * self.record_s), round(float(activity[k]), 4),
                round(float(np.median(pres)), 2) if len(pres) else math.nan, int(moving[k])))

    def _scores(self, ep: EpochFeatures, n: int, complete: bool = False):
        """present, moving seconds, asleep, awake and breathing-evidence for the first
        ``n`` epochs of the buffer."""
        p = self.params
        pres = ep.presence[:n]
        mov = ep.motion[:n] > p.features.move_ratio
        moving = mov.any(axis=1)
        has_data = ep.samples[:n] > 0
        # occupancy from movement alone, and where breathing is measurable enough to decide
        occupied = occupied_by_movement(ep.t[:n], moving, self.epoch_s, p.occupied_gap_s, complete=complete)
        weak = occupied & (pres >= p.presence_off)
        breathing = has_data & ((pres >= p.presence_on) | weak | ~np.isfinite(pres) | moving)
        near_m = _spread(moving, int(round(p.quiet_margin_s / self.epoch_s)))
        still = occupied & has_data & ~near_m & np.isfinite(pres)
        by_breath = np.ones(n, bool)
        shows = still & (pres >= p.presence_on)
        for a, b in zip(*runs(occupied)):  # one decision per stretch of occupancy: a night
            seen = int(np.count_nonzero(still[a:b]))
            if seen and np.count_nonzero(shows[a:b]) < p.breath_share * seen:
                by_breath[a:b] = False
        raw = np.where(by_breath, breathing, has_data & (occupied | moving))
        present = _spread(raw, p.presence_span) & has_data
        asleep = present & ~near_m & has_data
        asleep[: self._origin] = False
        # missing data is neither asleep nor evidence of being awake or out of bed
        awake = (moving | ~present) & has_data
        present |= ~has_data
        return present, mov, asleep, awake, by_breath

    def _analyse(self, complete: bool) -> list[Event]:
        ep = self._ep
        n = len(ep) if complete else len(ep) - self.params.presence_span
        if n <= self._origin:
            return []
        present, mov, asleep, awake, by_breath = self._scores(ep, n, complete)
        # the latest epoch the presence rule has decided: about a minute behind the samples
        # (an empty bed only after 90 s without breathing)
        self.in_bed = bool(present[n - 1]) if ep.samples[n - 1] > 0 else None
        events: list[Event] = []
        groups = period_groups(ep.t[:n], asleep, self.epoch_s, self.params.periods, complete=complete, awake=awake,
                               empty=~present)
        new_origin = self._origin
        for g in groups:
            if not g.final:
                break
            if g.long_enough:
                events += self._night(ep, g, asleep, present, mov, by_breath)
            new_origin = g.i1
        if not groups or all(g.final for g in groups):
            # nothing pending: later periods start after the last epoch that is surely
            # not asleep (epochs within the quiet margin of the end may still change)
            settled = n - int(round(self.params.quiet_margin_s / self.epoch_s)) - 1
            awake = np.flatnonzero(~asleep[new_origin:settled]) if settled > new_origin else []
            if len(awake):
                new_origin = max(new_origin, new_origin + int(awake[-1]))
        self._trim(new_origin)
        return events

    def _trim(self, origin: int) -> None:
        # context for the presence and quiet margin of the first epochs
        keep_from = max(0, origin - int(round(self.params.quiet_margin_s / self.epoch_s)) - 2)
        if keep_from > 0:
            self._ep = self._ep.take(slice(keep_from, None))
        self._origin = origin - keep_from

    # -- one night --------------------------------------------------------------------
    def _night(self, ep: EpochFeatures, g, asleep, present, mov, by_breath) -> list[Event]:
        p = self.params
        K, sub = self._k, p.features.sub_s
        # which evidence decides the night: breathing where it was measurable
        slept = asleep[g.i0 : g.i1]
        breathing = bool(slept.any() and by_breath[g.i0 : g.i1][slept].mean() >= 0.5)
        evidence = "breathing+movement" if breathing else "movement"
        # a partner's sleep at the edges is told by its breathing rate: only when it shows
        i0, i1, night_hz = self._own_sleep(ep, g, asleep) if breathing else (g.i0, g.i1, math.nan)
        if i1 <= i0 or ep.t[i1 - 1] + self.epoch_s - ep.t[i0] < p.periods.min_sleep_s:
            return []
        slept = asleep[i0:i1]
        # per-second series around the period: the quiet margin before it (kept in the
        # buffer) and the wake that ended it (seen before the period became final)
        back = p.quiet_margin_s + 2 * self.epoch_s
        ahead = p.periods.end_wake_s
        lo = max(0, i0 - int(np.ceil(back / self.epoch_s)))
        hi = min(len(mov), i1 + int(np.ceil(ahead / self.epoch_s)))
        sec_t = (ep.t[lo:hi, None] + sub * np.arange(K)[None, :]).ravel()
        moving = mov[lo:hi].ravel()
        # movement bouts (seconds apart by <= bout_gap_s are one bout)
        s, e = runs(moving)
        s, e = _merge(s, e, max(0, int(round(p.bout_gap_s / sub))))
        t_first, t_last = float(ep.t[i0]), float(ep.t[i1 - 1] + self.epoch_s)
        b_start = sec_t[s] if len(s) else np.zeros(0)
        b_end = sec_t[e - 1] + sub if len(s) else np.zeros(0)
        # sleep starts when the last movement before the first still stretch ended ...
        before = np.flatnonzero((b_end <= t_first + 1e-9) & (b_end >= t_first - back))
        start = float(b_end[before[-1]]) if len(before) else t_first
        # ... and ends at the first movement of the final awakening
        after = np.flatnonzero((b_start >= t_last - 1e-9) & (b_start <= t_last + ahead))
        end = float(b_start[after[0]]) if len(after) else t_last
        quality = _signal_quality(ep, i0, i1, slept)
        events: list[Event] = []
        # absences inside the period are out-of-bed bouts, and so are the quiet gaps
        # that look like the sleeper's weight gone from a bed a partner still lies on
        absent = np.flatnonzero(~present[i0:i1]) + i0
        # quiet time out of bed shows in the breathing (a partner still on the bed) or,
        # without breathing, in the tilt between two strong movements
        amp = ep.amp[lo:hi].ravel()
        peaks = _bout_peaks(amp, s, e)
        ref = _night_scale(peaks, b_start, start, end)
        strong = None if breathing or ref <= 0 else peaks >= p.still_exit_strength * ref
        gaps = self._exit_gaps(ep, b_start, b_end, start, end, night_hz, breathing, strong=strong)
        o_start = np.r_[ep.t[absent], [a for a, _ in gaps]]
        o_end = np.r_[ep.t[absent] + self.epoch_s, [b for _, b in gaps]]
        starts = np.r_[b_start, o_start]
        ends = np.r_[b_end, o_end]
        oob = np.r_[np.zeros(len(b_start), bool), np.ones(len(o_start), bool)]
        order = np.argsort(starts, kind="stable")
        starts, ends, oob = starts[order], ends[order], oob[order]
        jump = ep.jump[lo:hi].ravel()
        ring = ep.ring[lo:hi].ravel()
        for w in wake_episodes(starts, ends, oob, (start, end), p.periods):
            feats = _wake_features(w, start, sec_t, amp, jump, ring, moving, starts, ends, oob)
            feats["ref_mg"] = ref * 1000.0
            feats["log_ring_rel"] = math.log10(max(feats["max_ring_mg"], 1.0) / max(ref * 1000.0, 1.0))
            v = cramp_verdict.judge(feats, p.model)
            events.append(NightWake(w.start, w.end, w.bed_exit, v.cramp, v.score, features=_rounded(v.features)))
        # a few still minutes after a wake at the very end are lying awake before getting
        # up, not sleep: the final awakening began with that wake
        while events and end - events[-1].end < p.end_doze_s and events[-1].start - start >= p.periods.min_sleep_s:
            end = events.pop().start
        return [Sleep(start, end, evidence=evidence, quality=quality), *events]


    def _own_sleep(self, ep: EpochFeatures, g, asleep) -> tuple[int, int, float]:
        """The group without anchors at its edges whose breathing is someone else's, and
        the sleeper's breathing rate asleep (Hz, NaN if unknown)."""
        p = self.params
        need = max(1, int(round(p.periods.onset_s / self.epoch_s)))
        s, e = runs(asleep[g.i0 : g.anchor_end])
        anchors = [(a + g.i0, b + g.i0) for a, b in zip(s.tolist(), e.tolist()) if b - a >= need]
        if not anchors:
            return g.i0, g.i1, math.nan
        night = _breath_hz(ep.sub_mean[np.concatenate([np.arange(a, b) for a, b in anchors])])
        if len(anchors) < 2 or not math.isfinite(night):
            return g.i0, g.i1, night
        moving = (ep.motion > p.features.move_ratio).any(axis=1)
        apart = max(1, int(round(p.other_moving_s / self.epoch_s)))

        def other(a: int, b: int) -> bool:
            hz = _breath_hz(ep.sub_mean[a:b])
            return math.isfinite(hz) and abs(hz - night) > p.other_rate * night

        flags = [other(a, b) for a, b in anchors]
        k = 0
        while k < len(anchors) and flags[k]:
            k += 1
        if 0 < k < len(anchors) and moving[anchors[k - 1][1] : anchors[k][0]].sum() >= apart:
            anchors, flags = anchors[k:], flags[k:]
        k = len(anchors)
        while k > 0 and flags[k - 1]:
            k -= 1
        if 0 < k < len(anchors) and moving[anchors[k - 1][1] : anchors[k][0]].sum() >= apart:
            anchors = anchors[:k]
        i0, b = anchors[0][0], anchors[-1][1]
        if b == g.anchor_end:
            return i0, g.i1, night
        return i0, extend_end(ep.t, asleep, b, self.epoch_s, p.periods)[0], night

    def _exit_gaps(self, ep: EpochFeatures, b_start, b_end, start: float, end: float,
                   night_hz: float, breathing: bool = True, strong=None) -> list[tuple[float, float]]:
        """Quiet gaps between movement clusters that are time out of bed (see BedParams):
        by breathing, tilt and breathing rate; without breathing, by tilt, the breathing
        line or the line at the sleeper's own rate (found here from the period's still
        seconds) between two ``strong`` bouts (a flag per bout; None: no bout is)."""
        if not breathing and strong is None:
            return []
        p = self.params
        join = p.periods.join_s
        hard = strong.tolist() if strong is not None else [False] * len(b_start)
        clusters: list[list] = []  # [start, end, any bout strong]
        for a, b, h in zip(b_start.tolist(), b_end.tolist(), hard):
            if clusters and a - clusters[-1][1] <= join:
                clusters[-1][1] = max(clusters[-1][1], b)
                clusters[-1][2] = clusters[-1][2] or h
            else:
                clusters.append([a, b, h])
        t0 = ep.t
        t1 = ep.t + self.epoch_s
        ok = np.isfinite(ep.level).all(axis=1)
        if breathing:
            ok &= np.isfinite(ep.breath)
        still = ep.motion <= p.features.move_ratio  # NaN (no data) is not still either
        if not breathing:  # the sleeper's own rate, from the period's still seconds
            inside = (t0 >= start) & (t1 <= end)
            night_hz = _breath_hz(np.where(still[inside][..., None], ep.sub_mean[inside], np.nan))
        out = []
        for (a0, a1, hard_a), (b0, b1, hard_b) in zip(clusters[:-1], clusters[1:]):
            if not (join < b0 - a1 <= p.exit_max_s and start <= a0 and b1 <= end + p.exit_max_s):
                continue
            gap = ok & (t0 >= a1) & (t1 <= b0)
            before = ok & (t1 <= a0) & (t0 >= a0 - p.exit_context_s)
            after = ok & (t0 >= b1) & (t1 <= b1 + p.exit_context_s)
            if gap.sum() < 1 or before.sum() < 2 or after.sum() < 2:
                continue
            g_l = np.median(ep.level[gap], axis=0)
            l_b = np.median(ep.level[before], axis=0)
            l_a = np.median(ep.level[after], axis=0)
            shift = min(np.linalg.norm(g_l - l_b), np.linalg.norm(g_l - l_a))
            if not breathing:
                if hard_a and hard_b and b0 - a1 >= p.still_exit_min_s and (
                        shift > p.still_exit_tilt_g or self._breathing_left(ep, still, gap, before, after, b0 - a1)
                        or self._line_left(ep, still, gap, before, after, b0 - a1, night_hz)):
                    out.append((a1, b0))
                continue
            g_b = np.median(ep.breath[gap])
            ratio = g_b / max(min(np.median(ep.breath[before]), np.median(ep.breath[after])), 1e-9)
            back = np.linalg.norm(l_a - l_b)  # the sleeper lies down about where they were
            strict = ratio < p.exit_breath and shift > p.exit_tilt_g and back < shift
            # who breathes in the gap: a new posture of the sleeper can be weaker and
            # tilt the frame otherwise, but it breathes at the sleeper's rate asleep
            # (the night's; right before a wake they may be awake and breathe faster)
            hz_gap = _breath_hz(ep.sub_mean[gap])
            known = math.isfinite(hz_gap) and math.isfinite(night_hz)
            other = known and abs(hz_gap - night_hz) > p.other_rate * night_hz
            if (other and ratio < p.exit_breath_other) or (strict and (other or not known)):
                out.append((a1, b0))
        return out


    def _breathing_left(self, ep: EpochFeatures, still, gap, before, after, length: float) -> bool:
        """The breathing line is gone from a still gap and clear around it (see BedParams)."""
        p = self.params
        return length >= p.still_exit_breath_min_s and _gone_from_gap(
            _breath_peak, ep.sub_mean, still, gap, before, after,
            quiet=p.still_exit_quiet, clear=p.still_exit_breath, contrast=p.still_exit_contrast)

    def _line_left(self, ep: EpochFeatures, still, gap, before, after, length: float, hz: float) -> bool:
        """The line at the sleeper's breathing rate ``hz`` is gone from a still gap and
        clear around it (see BedParams)."""
        p = self.params
        if length < p.still_exit_line_min_s or not 0.1 <= hz <= 0.5:  # NaN too
            return False
        return _gone_from_gap(
            lambda m, st: _line_peak(m, st, hz, p.still_exit_line_w), ep.sub_mean, still, gap, before, after,
            quiet=p.still_exit_line_quiet, clear=p.still_exit_line_clear, contrast=p.still_exit_line_contrast)


def _gone_from_gap(stat, means, still, gap, before, after, *, quiet: float, clear: float, contrast: float) -> bool:
    """A rhythm ``stat(means, still)`` measures is gone from the epochs ``gap`` (under
    ``quiet``) and clear in both ``before`` and ``after`` (above ``clear`` and
    ``contrast`` times the gap's): someone who breathed there left."""
    in_gap = stat(means[gap], still[gap])
    if not in_gap < quiet:
        return False
    around = min(stat(means[before], still[before]), stat(means[after], still[after]))
    return around > clear and around > contrast * in_gap


def occupied_by_movement(t: np.ndarray, moving: np.ndarray, epoch_s: float, gap_s: float, *,
                         complete: bool) -> np.ndarray:
    """Epochs of an occupied bed by movement alone: from a moving epoch to the next one at
    most ``gap_s`` later. The still epochs after the last movement stay occupied while
    they are fewer than ``gap_s`` and more may come (``complete`` False): undecided yet.

    >>> m = np.zeros(12, bool); m[[2, 5, 11]] = True
    >>> occupied_by_movement(np.arange(12) * 30.0, m, 30.0, 120.0, complete=True).astype(int).tolist()
    [0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1]
    """
    out = np.zeros(len(moving), bool)
    idx = np.flatnonzero(moving)
    if not len(idx):
        return out
    out[idx] = True
    gaps = np.diff(t[idx])
    for a, b, g in zip(idx[:-1].tolist(), idx[1:].tolist(), gaps.tolist()):
        if g <= gap_s:
            out[a:b] = True
    last = int(idx[-1])
    if not complete and t[-1] - t[last] < gap_s:
        out[last:] = True
    return out


def _spread(mask: np.ndarray, k: int) -> np.ndarray:
    """``mask`` widened by ``k`` elements on either side."""
    out = mask.copy()
    for d in range(1, k + 1):
        out[d:] |= mask[:-d]
        out[:-d] |= mask[d:]
    return out


def _signal_quality(ep: EpochFeatures, i0: int, i1: int, slept: np.ndarray) -> dict:
    """How clear the night's signal was: the sensor's noise (mg rms per axis), the
    median breathing presence of its sleep (about 1-2 is none, 5 and up clear), and the
    share of its seconds that had samples."""
    noise = ep.noise[i0:i1]
    pres = ep.presence[i0:i1][slept]
    pres = pres[np.isfinite(pres)]
    have = np.isfinite(ep.motion[i0:i1])
    return {
        "noise_mg": round(float(np.sqrt(np.nanmedian(noise) / 3.0) * 1000.0), 2) if len(noise) else None,
        "breathing": round(float(np.median(pres)), 2) if len(pres) else None,
        "coverage": round(float(have.mean()), 4) if have.size else 0.0,
    }


def _breath_hz(means: np.ndarray, seg: int = 64) -> float:
    """Breathing rate (Hz) of still seconds' means ``(epochs, K, 3)``: the peak of their
    Welch spectrum (64 s Hann segments, detrended, axes summed) in 0.12-0.45 Hz,
    interpolated between bins; NaN when there are fewer than 64 seconds."""
    x = means.reshape(-1, 3)
    x = x[np.isfinite(x).all(axis=1)]
    n = len(x) // seg
    if n == 0:
        return math.nan
    s = x[: n * seg].reshape(n, seg, 3)
    u = np.arange(seg) - (seg - 1) / 2.0
    s = s - s.mean(axis=1, keepdims=True)
    s = s - (s * u[None, :, None]).sum(axis=1, keepdims=True) / (u * u).sum() * u[None, :, None]
    power = (np.abs(np.fft.rfft(s * np.hanning(seg)[None, :, None], axis=1)) ** 2).sum(axis=2).mean(axis=0)
    f = np.fft.rfftfreq(seg, 1.0)
    band = np.flatnonzero((f >= 0.12) & (f <= 0.45))
    k = int(band[np.argmax(power[band])])
    a, b, c = power[k - 1], power[k], power[k + 1]
    den = a - 2 * b + c
    return float(f[k] + (0.5 * (a - c) / den if den != 0 else 0.0) * (f[1] - f[0]))


def _breath_peak(means: np.ndarray, still: np.ndarray, min_s: int = 60) -> float:
    """How clearly one rhythm stands out of the still seconds (``still``, ``(epochs, K)``)
    of seconds' means ``(epochs, K, 3)``: the largest bin in 0.1-0.5 Hz of their
    periodogram over the band's median (each epoch's own mean off, so a new posture's
    level is no step; linear trend off; Hann window; along the axis the means vary most).
    Noise alone gives ~5-10 for 4-12 min (the largest of 100-300 bins); breathing that
    shows in 30 s epochs, 20 and far more. NaN under ``min_s`` still seconds.

    Summing the three axes' power instead (steadier under noise alone) found the same
    wakes on the tuning seeds with more false ones; kept as measured."""
    x = _still_seconds(means, still)
    if len(x) < min_s:
        return math.nan
    y = x @ np.linalg.svd(x, full_matrices=False)[2][0]
    u = np.arange(len(y)) - (len(y) - 1) / 2.0
    y = y - (y @ u) / (u @ u) * u
    power = np.abs(np.fft.rfft(y * np.hanning(len(y)))) ** 2
    f = np.fft.rfftfreq(len(y), 1.0)
    band = power[(f >= 0.1) & (f <= 0.5)]
    median = float(np.median(band))
    return float(band.max() / median) if median > 0 else math.nan


def _still_seconds(means: np.ndarray, still: np.ndarray) -> np.ndarray:
    """The still seconds' means ``(n, 3)`` of ``means`` ``(epochs, K, 3)``, each epoch's
    own mean off (a new posture's level is no step)."""
    x = np.where(still[..., None], means, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an epoch with no still second
        x = x - np.nanmean(x, axis=1, keepdims=True)
    x = x.reshape(-1, 3)
    return x[np.isfinite(x).all(axis=1)]


def _line_peak(means: np.ndarray, still: np.ndarray, hz: float, w: float, min_s: int = 60) -> float:
    """How clearly a known rate ``hz`` stands out of the still seconds of ``means``: the
    largest bin within ``w`` (a share) of ``hz`` of their periodogram (three axes' power
    summed, so a posture's direction does not matter; trend off; Hann window) over the
    median of 0.1-0.5 Hz away from it. Noise alone gives ~1-3 (the largest of a few
    bins); NaN under ``min_s`` still seconds."""
    x = _still_seconds(means, still)
    if len(x) < min_s:
        return math.nan
    u = np.arange(len(x)) - (len(x) - 1) / 2.0
    x = x - np.outer(u, (x * u[:, None]).sum(axis=0) / (u @ u))
    power = (np.abs(np.fft.rfft(x * np.hanning(len(x))[:, None], axis=0)) ** 2).sum(axis=1)
    f = np.fft.rfftfreq(len(x), 1.0)
    off = np.abs(f - hz)
    near = off <= max(w * hz, 1.01 * f[1])
    floor = float(np.median(power[(f >= 0.1) & (f <= 0.5) & (off > 2 * w * hz)]))
    return float(power[near].max() / floor) if floor > 0 else math.nan


def _merge(s: np.ndarray, e: np.ndarray, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Join runs ``[s, e)`` separated by at most ``gap`` elements."""
    if len(s) == 0:
        return s, e
    keep = np.r_[True, (s[1:] - e[:-1]) > gap]
    starts = s[keep]
    last = np.r_[np.flatnonzero(keep)[1:] - 1, len(s) - 1]
    return starts, e[last]


def _bout_peaks(amp, s, e) -> np.ndarray:
    """Each movement bout's peak swing (g); ``s``, ``e`` index the per-second ``amp``."""
    a = np.nan_to_num(amp)
    return np.array([float(a[i:j].max()) for i, j in zip(s.tolist(), e.tolist())])


def _night_scale(peaks, b_start, start: float, end: float) -> float:
    """How strongly this bed feels a movement: the median peak swing (g) of the movement
    bouts of the sleep period (mostly turnovers). Coupling differs tenfold between beds;
    a wake's strength is judged against its own night's."""
    inside = (b_start >= start) & (b_start < end)
    return float(np.median(peaks[inside])) if inside.any() else 0.0


def _wake_features(w, sleep_start, sec_t, amp, jump, ring, moving, starts, ends, oob) -> dict:
    """What layer 3 judges a wake by (see :mod:`sensors.cramp_verdict`)."""
    a = int(np.searchsorted(sec_t, w.start - 1e-9))
    first = slice(a, int(np.searchsorted(sec_t, w.start + 60.0)))
    head = slice(a, int(np.searchsorted(sec_t, w.start + 3.0)))
    mv = moving[first]
    amp_mg = np.nan_to_num(amp[first]) * 1000.0
    jump_mg = np.nan_to_num(jump[first]) * 1000.0
    peak = float(amp_mg.max()) if len(amp_mg) else 0.0
    head_peak = float(np.nan_to_num(amp[head]).max() * 1000.0) if head.stop > head.start else 0.0
    exits = [(s, e) for s, e, o in zip(starts, ends, oob) if o and e > w.start and s < w.end]
    to_exit = (exits[0][0] - w.start) if exits else math.nan
    jump = float(jump_mg.max()) if len(jump_mg) else 0.0
    ring_mg = np.nan_to_num(ring[first]) * 1000.0
    max_ring = float(ring_mg.max()) if len(ring_mg) else 0.0
    three = moving[slice(a, int(np.searchsorted(sec_t, w.start + 180.0)))]
    return {
        "moving_3_min": float(three.mean()) if len(three) else 0.0,
        "moving_first_min": float(mv.mean()) if len(mv) else 0.0,
        "max_ring_mg": max_ring,
        "log_ring": math.log10(max(max_ring, 1.0) / 100.0),
        "ring_s": int(np.count_nonzero(ring_mg > 8.0)),
        "max_jump_mg": jump,
        "peak_mg": peak,
        "onset_share": head_peak / peak if peak > 0 else 0.0,
        "bed_exit": bool(w.bed_exit),
        "to_exit_s": to_exit,
        "duration_s": w.end - w.start,
        "hours_asleep": (w.start - sleep_start) / 3600.0,
    }


def _rounded(f: dict) -> dict:
    return {k: (round(v, 3) if isinstance(v, float) and math.isfinite(v) else (None if isinstance(v, float) else v))
            for k, v in f.items()}


def analyze_bed(t, xyz, rate_hz: float | None = None, *, params: BedParams = BedParams()) -> list[Event]:
    """Every sleep period and wake of a recorded ``t,x,y,z`` trace (rate from the times
    when not given)."""
    t = np.asarray(t, dtype=float)
    if rate_hz is None:
        d = np.diff(t[: 1001])
        d = d[d > 0]
        rate_hz = 1.0 / float(np.median(d)) if len(d) else 50.0
    an = NightAnalyzer(rate_hz, params=params)
    return an.feed(t, xyz) + an.finish()
