"""Layer 2 of the night analysis: epochs to sleep periods and wake episodes.

Pure and sensor-agnostic: it works on per-epoch sleep/wake scores and on movement bouts,
whether they come from the bed-frame accelerometer (:mod:`sensors.night_features`) or
from a wrist actigraph's activity counts (:func:`score_counts`).

Sleep periods (:func:`sleep_periods`, :func:`period_groups`). An epoch is scored
asleep or not upstream. A sleep period starts at the first epoch of a run of at least
``onset_s`` (10 min) of consecutive epochs scored asleep ("anchor"): Actiware's "sleep
onset" rule, which keeps reading in bed or dozing off for a few minutes in front of the
television out of the night. The next anchor belongs to the same period when it starts
within ``max_gap_s`` (60 min for counts, 3 h for the bed) of the end of the previous one
and the gap holds less than ``split_wake_s`` (30 min) of awake evidence (epochs scored
awake; for the bed only moving or empty-bed epochs): a night's awakenings, however long,
stay inside it, while getting up for the day or the evening between a nap and bedtime
end it (with ``split_empty_s`` set, as for the demo's time-compressed nights only, so
does that long of empty bed). The period ends at its final awakening: after the last
anchor, epochs scored asleep still belong to it until ``end_wake_s`` (5 min; 6 for the
bed) of continuous wake (morning dozing; Actiware's "sleep end" rule is the same idea).
Periods shorter than ``min_sleep_s`` (2 h) are naps, not a main sleep period. A period
is final (the streaming analyzer can emit it) once that wake was seen and either
``split_wake_s`` of awake evidence (or ``split_empty_s`` of empty bed) or ``max_gap_s`` +
``onset_s`` have passed after its last anchor.

Wake episodes (:func:`wake_episodes`). Movement comes as bouts ``[start, end)``
(a run of moving seconds of the bed sensor, an active epoch of an actigraph) and
out-of-bed spells. Bouts less than ``join_s`` (60 s) apart are one episode; an episode
inside a sleep period is a wake when its movement spans at least ``min_wake_s`` (60 s,
DESIGN.md) from the first movement to the last, or when it holds time out of bed with
movement before and after it (leaving and coming back). A turnover is one bout of a few
seconds: no wake. A wake interrupts sleep: an episode with other movement less than
``settle_s`` (150 s) both before and after it belongs to a longer awake stretch (reading,
lying awake, getting up) and is none. Two wakes at most ``merge_wakes_s`` apart (bed
sensor: 12 min) are one that left the bed in between. The wake starts at its first movement (the kick,
the first turn before getting up) and ends when its last movement stops (settled back).

Activity counts (:func:`score_counts`). The Actiware (Oakley 1997) rule, which we found
to reproduce Actiware's own epoch scores exactly on a real Actiwatch 2 export: the
total activity of an epoch is its count times ``60 / epoch_s``, plus 1/5 of the counts
of the epochs within 1 min and 1/25 of those within 2 min on either side; the epoch is
awake when the total exceeds the wake threshold (Actiware's "medium" 40 counts, for
Actiwatch counts; other actigraphs' counts have other scales: pass your own).
:func:`nonwear` marks Choi-style no-wear: at least 90 min of zero counts (2 min of
counts allowed inside when 30 min of zeros lie on both sides), taken as missing data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "PeriodParams",
    "Episode",
    "sleep_periods",
    "period_groups",
    "Group",
    "final_after",
    "extend_end",
    "wake_episodes",
    "score_counts",
    "nonwear",
    "runs",
    "to_grid",
]


@dataclass(frozen=True)
class PeriodParams:
    """Thresholds of the sleep-period and wake-episode rules, each with its reason."""

    # Sleep starts with this long of consecutive epochs scored asleep (Actiware's
    # default sleep onset setting): reading in bed has a movement every minute or two.
    onset_s: float = 600.0
    # Awake stretches inside one sleep period are shorter than this (long nightly
    # awakenings are 20-50 min); a longer stretch ends the period.
    max_gap_s: float = 3600.0
    # ...and a gap holding this much wake (or out-of-bed) time ends it too: the evening
    # between a nap on the sofa and going to bed. Nightly awakenings of up to an hour
    # are mostly lying still (a real Actiwatch night: at most 17 min scored awake).
    split_wake_s: float = 1800.0
    # The final awakening is followed by this long of continuous wake; shorter waking
    # moments between sleep-scored epochs after the last anchor are morning dozing.
    end_wake_s: float = 300.0
    # ...and so does an empty bed this long (None: only split_wake_s counts). Only the
    # time-compressed demo nights use it (:meth:`sensors.night_analysis.BedParams.demo`):
    # getting up for the day empties the bed for longer than a wake's trip out of it.
    split_empty_s: float | None = None
    # Shorter sleep periods are naps, not the main sleep period of a night.
    min_sleep_s: float = 7200.0
    # Movement bouts closer than this are one episode: someone awake moves at least
    # every 45 s or so, while the movements of sleep come minutes apart.
    join_s: float = 60.0
    # An episode is a wake when its movement spans this long (DESIGN.md: >= 60 s).
    min_wake_s: float = 60.0
    # A wake interrupts sleep: an episode with other movement less than this before it
    # and after it is part of a longer awake stretch (reading, getting up), no wake.
    settle_s: float = 150.0
    # Two wakes at most this far apart are one, with a bed exit between (0: never).
    # The bed sensor uses 12 min (a night's time out of bed is 1-10 min); counts never.
    merge_wakes_s: float = 0.0
    # An out-of-bed spell this long inside an episode makes it a wake with bed exit
    # (shorter "absences" are presence-detector flicker during a big movement).
    min_exit_s: float = 20.0


@dataclass(frozen=True)
class Episode:
    """A wake episode: its movement span, whether it left the bed, and its bouts."""

    start: float
    end: float
    bed_exit: bool
    bouts: tuple[int, ...]  # indices into the bouts passed to wake_episodes


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and (exclusive) ends of the runs of True in a boolean array."""
    m = np.asarray(mask, dtype=bool)
    d = np.diff(np.concatenate(([False], m, [False])).astype(np.int8))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


@dataclass(frozen=True)
class Group:
    """Anchors joined into one candidate period: epochs ``[i0, i1)``."""

    i0: int
    i1: int  # after the end extension
    anchor_end: int  # end of the last anchor
    final: bool  # later epochs can no longer change it
    long_enough: bool  # at least min_sleep_s: a sleep period (else a nap)


def period_groups(
    t: np.ndarray, asleep: np.ndarray, epoch_s: float, params: PeriodParams = PeriodParams(), *,
    complete: bool = True, awake: np.ndarray | None = None, empty: np.ndarray | None = None,
) -> list[Group]:
    """Every group of anchors in the epochs, final or not (``complete``: no more epochs
    will come). :func:`sleep_periods` keeps the final, long enough ones.

    ``awake`` marks the epochs that count towards ``split_wake_s`` (default: every
    epoch not asleep; the bed sensor counts only moving or empty-bed epochs, not the
    quiet margins around a movement). ``empty`` marks the empty-bed epochs that count
    towards ``split_empty_s`` (when that is set).
    """
    t = np.asarray(t, dtype=float)
    asleep = np.asarray(asleep, dtype=bool)
    awake = ~asleep if awake is None else np.asarray(awake, dtype=bool)
    if len(t) == 0:
        return []
    need = max(1, int(round(params.onset_s / epoch_s)))
    split = max(1, int(round(params.split_wake_s / epoch_s)))
    limit = max(1, int(round(params.end_wake_s / epoch_s)))
    if params.split_empty_s is None or empty is None:
        empty, split_empty = np.zeros(len(t), dtype=bool), len(t) + 1  # never reached
    else:
        empty = np.asarray(empty, dtype=bool)
        split_empty = max(1, int(round(params.split_empty_s / epoch_s)))
    s, e = runs(asleep)
    keep = (e - s) >= need
    s, e = s[keep].tolist(), e[keep].tolist()
    merged: list[list[int]] = []
    for a, b in zip(s, e):
        if merged:
            prev = merged[-1][1]
            gap_s = t[a] - (t[prev - 1] + epoch_s)
            if (gap_s <= params.max_gap_s and np.count_nonzero(awake[prev:a]) < split
                    and np.count_nonzero(empty[prev:a]) < split_empty):
                merged[-1][1] = b
                continue
        merged.append([a, b])
    out = []
    t_last = t[-1] + epoch_s
    for a, b in merged:
        i1, stopped = extend_end(t, asleep, b, epoch_s, params, limit)
        final = complete or (
            stopped and (t_last - t[b - 1] - epoch_s >= final_after(params)
                         or np.count_nonzero(awake[b:]) >= split or np.count_nonzero(empty[b:]) >= split_empty)
        )
        out.append(Group(a, i1, b, bool(final), bool(t[i1 - 1] + epoch_s - t[a] >= params.min_sleep_s)))
    return out


def sleep_periods(
    t: np.ndarray, asleep: np.ndarray, epoch_s: float, params: PeriodParams = PeriodParams()
) -> list[tuple[int, int]]:
    """Sleep periods as epoch index ranges ``[i0, i1)`` of a regular epoch grid.

    ``asleep`` is True for valid epochs scored asleep; missing epochs are False (not
    sleep). ``t`` are the epoch starts.
    """
    return [(g.i0, g.i1) for g in period_groups(t, asleep, epoch_s, params) if g.long_enough]


def final_after(params: PeriodParams = PeriodParams()) -> float:
    """Seconds after the end of a period's last anchor when nothing can change it."""
    return params.max_gap_s + params.onset_s


def extend_end(t, asleep, b, epoch_s, params, limit=None) -> tuple[int, bool]:
    """Carry the end over the dozing after the last anchor: later sleep-scored epochs
    belong to the period until ``end_wake_s`` of continuous wake (the final awakening).
    Returns the end and whether a wake that long was seen (else the epochs ran out)."""
    if limit is None:
        limit = max(1, int(round(params.end_wake_s / epoch_s)))
    stop = int(np.searchsorted(t, t[b - 1] + params.max_gap_s, side="right"))
    awake_run = 0
    end = b
    for i in range(b, min(stop, len(asleep))):
        if asleep[i]:
            awake_run = 0
            end = i + 1
        else:
            awake_run += 1
            if awake_run >= limit:
                return end, True
    return end, stop <= len(asleep)


def wake_episodes(
    starts: np.ndarray,
    ends: np.ndarray,
    out_of_bed: np.ndarray,
    period: tuple[float, float],
    params: PeriodParams = PeriodParams(),
) -> list[Episode]:
    """Wake episodes inside ``period = (start, end)`` from movement bouts.

    ``starts``/``ends`` are bout times (sorted by start), ``out_of_bed`` flags the bouts
    that are time out of bed. Bouts overlapping the period's edges are clipped to it.
    """
    p0, p1 = period
    starts = np.asarray(starts, dtype=float)
    ends = np.asarray(ends, dtype=float)
    out_of_bed = np.asarray(out_of_bed, dtype=bool)
    # clusters of all bouts (joined within join_s), then the wakes among those inside
    clusters: list[list[int]] = []
    c_end = -np.inf
    for i in range(len(starts)):
        if clusters and starts[i] - c_end <= params.join_s:
            clusters[-1].append(i)
            c_end = max(c_end, float(ends[i]))
        else:
            clusters.append([i])
            c_end = float(ends[i])
    spans = []
    for c in clusters:
        moves = [i for i in c if not out_of_bed[i]]
        spans.append((float(starts[moves[0]]), max(float(ends[i]) for i in moves)) if moves else None)
    episodes: list[Episode] = []
    for k, c in enumerate(clusters):
        if spans[k] is None:
            continue  # an absence with no movement around it is presence flicker
        a, b = max(p0, spans[k][0]), min(p1, spans[k][1])
        if b <= a or spans[k][1] <= p0 or spans[k][0] >= p1:
            continue
        exit_s = sum(max(0.0, min(p1, ends[i]) - max(p0, starts[i])) for i in c if out_of_bed[i])
        outs = [i for i in c if out_of_bed[i]]
        # out of bed means leaving and coming back: movement on both sides of it
        bed_exit = bool(outs) and exit_s >= params.min_exit_s and spans[k][0] < min(starts[i] for i in outs) \
            and spans[k][1] > max(ends[i] for i in outs)
        if not (b - a >= params.min_wake_s or bed_exit):
            continue
        prev = next((spans[j][1] for j in range(k - 1, -1, -1) if spans[j] is not None), -np.inf)
        nxt = next((spans[j][0] for j in range(k + 1, len(spans)) if spans[j] is not None), np.inf)
        if a - prev < params.settle_s and nxt - b < params.settle_s:
            continue  # part of a longer stretch of awake movement, not an awakening from sleep
        episodes.append(Episode(a, b, bool(bed_exit), tuple(c)))
    # two wakes with only a few still minutes between them: out of bed and back (with
    # a partner still breathing on the bed, that time is not always seen as such)
    merged: list[Episode] = []
    for ep in episodes:
        if merged and params.merge_wakes_s > 0 and ep.start - merged[-1].end <= params.merge_wakes_s:
            prev = merged[-1]
            merged[-1] = Episode(prev.start, ep.end, True, prev.bouts + ep.bouts)
        else:
            merged.append(ep)
    return merged


# -- activity counts ------------------------------------------------------------------
def to_grid(t: np.ndarray, counts: np.ndarray, epoch_s: float | None = None):
    """Counts on a regular epoch grid: missing rows become NaN epochs.

    Returns ``(t_grid, counts_grid, epoch_s)``; the epoch is the median spacing.
    """
    t = np.asarray(t, dtype=float)
    c = np.asarray(counts, dtype=float)
    if len(t) == 0:
        return t, c, float(epoch_s or 30.0)
    if epoch_s is None:
        d = np.diff(t)
        epoch_s = float(np.median(d)) if len(d) else 30.0
    idx = np.round((t - t[0]) / epoch_s).astype(np.int64)
    grid = np.full(int(idx[-1]) + 1, np.nan)
    grid[idx] = c
    return t[0] + epoch_s * np.arange(len(grid)), grid, float(epoch_s)


def oakley_weights(epoch_s: float) -> np.ndarray:
    """Actiware's weights: the epoch x 60/epoch_s, 1/5 within 1 min, 1/25 within 2 min."""
    k = max(1, int(round(60.0 / epoch_s)))
    return np.concatenate(
        (np.full(k, 1 / 25), np.full(k, 1 / 5), [60.0 / epoch_s], np.full(k, 1 / 5), np.full(k, 1 / 25))
    )


def score_counts(counts: np.ndarray, epoch_s: float, threshold: float = 40.0) -> np.ndarray:
    """Awake (True) per epoch by the Actiware/Oakley rule; missing counts count as 0."""
    c = np.nan_to_num(np.asarray(counts, dtype=float), nan=0.0)
    w = oakley_weights(epoch_s)
    # the centred part of the full convolution, as long as the counts: mode="same" would
    # return len(w) values for a recording shorter than the window (under 9 epochs of 30 s)
    total = np.convolve(c, w)[(len(w) - 1) // 2:][:len(c)]
    return total > threshold


def nonwear(counts: np.ndarray, epoch_s: float, min_s: float = 5400.0, allow_s: float = 120.0,
            guard_s: float = 1800.0) -> np.ndarray:
    """True for epochs in Choi-style no-wear stretches (see the module docstring)."""
    c = np.asarray(counts, dtype=float)
    zero = c == 0
    s, e = runs(zero)
    allow = int(round(allow_s / epoch_s))
    guard = int(round(guard_s / epoch_s))
    merged: list[list[int]] = []
    for a, b in zip(s.tolist(), e.tolist()):
        if merged and a - merged[-1][1] <= allow and b - a >= guard and merged[-1][2] >= guard:
            merged[-1][1], merged[-1][2] = b, b - a
        else:
            merged.append([a, b, b - a])
    out = np.zeros(len(c), dtype=bool)
    need = int(round(min_s / epoch_s))
    for a, b, _ in merged:
        if b - a >= need:
            out[a:b] = True
    return out
