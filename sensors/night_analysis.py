"""The night analysis: bed-frame samples (or actigraph counts) in, sleep and wakes out.

Three layers, each pure and testable alone:

1. :mod:`sensors.night_features` - samples to per-second motion and per-epoch activity,
   presence (breathing) and tilt;
2. :mod:`sensors.night_periods` - epochs to the main sleep period and its wake episodes;
3. :mod:`sensors.cramp_verdict` - each wake to a cramp verdict and a 0-1 score, with the
   features that gave it.

This module combines them: :class:`NightAnalyzer` for the daemon (streaming, any chunk
size, the same events whatever the chunking), :func:`analyze_bed` and
:func:`analyze_counts` for ``crampwatch replay bed|counts``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from device.events import Event, Sleep, Wake
from sensors import cramp_verdict
from sensors.night_periods import (
    PeriodParams, nonwear, score_counts, sleep_periods, to_grid, wake_episodes,
)

__all__ = ["NightWake", "analyze_counts", "CountsParams"]


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
    # Choi-style no-wear: this long of zero counts is missing data (None: never).
    nonwear_s: float | None = 5400.0
    periods: PeriodParams = PeriodParams()


def analyze_counts(t, counts, params: CountsParams = CountsParams(), *, epoch_s: float | None = None) -> list[Event]:
    """Sleep periods and wakes of an actigraph's epoch counts (``t,count``).

    Missing epochs (absent rows, NaN counts) and no-wear stretches are unknown: neither
    sleep nor wake. Epochs are scored by the Actiware/Oakley rule; sleep periods and
    wakes follow :mod:`sensors.night_periods`. A wake is at least two consecutive-ish
    active epochs (an epoch whose count alone would score it awake) spanning 60 s or
    more; ``bed_exit`` is always false (a wrist cannot tell), and the cramp verdict uses
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
    pp_w = PeriodParams(**{**pp.__dict__, "min_wake_s": max(pp.min_wake_s, 2 * epoch),
                           "join_s": max(pp.join_s, epoch)})
    gain = 60.0 / epoch
    active = valid & (np.nan_to_num(c) * gain > params.threshold)
    idx = np.flatnonzero(active)
    b_start, b_end = tg[idx], tg[idx] + epoch
    events: list[Event] = []
    for i0, i1 in sleep_periods(tg, asleep, epoch, pp):
        start, end = float(tg[i0]), float(tg[i1 - 1] + epoch)
        events.append(Sleep(start, end))
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
