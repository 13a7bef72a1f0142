"""Layer 1 of the night analysis: bed-frame accelerometer samples to per-epoch features.

Pure and vectorised; feed chunks of any size (the features do not depend on the cut).
Time comes from the samples: ticks of ``tick_s`` (0.1 s), sub-epochs of ``sub_s`` (1 s)
and epochs of ``epoch_s`` (30 s) are aligned to multiples of their length in Unix time
and samples are assigned by their time stamp (jitter and gaps are fine; a missing
sub-epoch is NaN).

The sensor's white noise is measured as it goes, never taken from a datasheet: half the
mean squared difference of consecutive samples, per axis (breathing, heartbeat and body
movement hardly change from one sample to the next at 25-100 Hz; quantisation is part
of that noise), the median over an epoch's seconds. So ADXL345 (3.9 mg steps) and
MPU-6050 at 25, 50 or 100 Hz give comparable, unit-free features.

Per sub-epoch (second):

- ``motion``: movement in the body's band. The tick means (a 0.1 s box filter, which
  removes most of the noise and keeps movements up to ~5 Hz) are fitted with a straight
  line over the second, per axis (gravity, tilt and the slope of breathing go); the
  residual sum of squares over what white noise alone leaves of it. About 1 on a still
  bed, ~1.3 with a strong heartbeat, 5-50 for a page turned, 1000s for a turnover;
- ``amp``: the largest residual tick mean (g): how far the movement swings;
- ``jump``: the largest change between consecutive tick means (g): how fast;
- ``hf``: high-frequency energy, mean squared sample difference over the noise's;
- ``ring``: the rms, above the noise, of what changes within a tick (above ~5 Hz, g):
  the frame ringing after a kick, a spasm or a jerk; slow movements have none;
- ``mean``: the mean acceleration vector (g).

Per epoch:

- ``noise``: the noise variance summed over axes (g^2);
- ``activity``: the sum of ``amp`` over its moving seconds (g s): a count-like measure;
- ``presence``: the breathing of someone lying on the bed: the strongest power of the
  still seconds' means at 0.13-0.47 Hz over what white noise puts there (see
  ``_presence``). About 1-2 on an empty bed; 5-1000 with someone on it;
- ``level``: the mean acceleration vector of the still seconds (g): the frame's tilt.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import numpy as np

__all__ = ["FeatureParams", "EpochFeatures", "NightFeatures"]

_BLOCK = 1 << 16  # samples reduced at a time (cache-sized; results do not depend on it)


@dataclass(frozen=True)
class FeatureParams:
    """Epoch layout and the movement threshold, with reasons."""

    # Epoch of the sleep/wake scoring: the actigraphy standard.
    epoch_s: float = 30.0
    # Sub-epoch: the resolution at which movements are timed. Must divide epoch_s.
    sub_s: float = 1.0
    # Tick: the box filter before the movement statistic. Long enough to average 2-3
    # samples at 25 Hz and 10 at 100 Hz, short enough to keep a 5 Hz jiggle. Must
    # divide sub_s.
    tick_s: float = 0.1
    # A second moves when its motion statistic exceeds this: a still second is
    # 1 +- 0.5 (chi-square with 24 dof), a page turned at 4-20 mg is 5-50.
    move_ratio: float = 4.0
    # The motion statistic is taken relative to its floor in the last this many epochs
    # (10 min), over floor_ref: a still second's lower quartile is about 0.8 with white
    # noise alone (see NightFeatures._floor).
    floor_epochs: int = 20
    floor_ref: float = 1.0
    # Samples further apart than this many sample periods are a gap (no difference is
    # taken across it).
    gap_periods: float = 3.0


@dataclass
class EpochFeatures:
    """Features of consecutive complete epochs (arrays of the same length ``E``)."""

    t: np.ndarray  # epoch starts (s)
    samples: np.ndarray  # samples in the epoch (0: missing)
    noise: np.ndarray  # g^2, summed over axes
    activity: np.ndarray  # g s
    presence: np.ndarray  # ratio, ~1-2 empty
    breath: np.ndarray  # breathing amplitude estimate (g)
    level: np.ndarray  # (E, 3) g
    motion: np.ndarray  # (E, K) per second (NaN: no data)
    amp: np.ndarray  # (E, K) g
    jump: np.ndarray  # (E, K) g
    hf: np.ndarray  # (E, K) ratio
    ring: np.ndarray  # (E, K) g: rms above the noise of what changes within a tick
    sub_mean: np.ndarray = field(repr=False, default=None)  # (E, K, 3) g

    def __len__(self) -> int:
        return len(self.t)

    @staticmethod
    def concat(parts: list[EpochFeatures], k: int) -> EpochFeatures:
        parts = [p for p in parts if len(p)]
        if not parts:
            return EpochFeatures.empty(k)
        if len(parts) == 1:
            return parts[0]
        return EpochFeatures(*(np.concatenate([getattr(p, name) for p in parts]) for name in _FIELDS))

    @staticmethod
    def empty(k: int) -> EpochFeatures:
        z = np.zeros(0)
        zk = np.zeros((0, k))
        return EpochFeatures(z, z, z, z, z, z, np.zeros((0, 3)), zk, zk, zk, zk, zk, np.zeros((0, k, 3)))

    def take(self, sl) -> EpochFeatures:
        return EpochFeatures(*(getattr(self, name)[sl] for name in _FIELDS))


_FIELDS = ("t", "samples", "noise", "activity", "presence", "breath", "level", "motion", "amp", "jump", "hf",
           "ring", "sub_mean")
# columns of the per-second rows: n, sum xyz, sum of squared differences xyz, differences,
# residual sums of squares xyz, lever (noise factor of the rss), amp, jump
_N, _S1, _SD, _ND, _RSS, _LEV, _AMP, _JUMP, _WSS, _WDF, _TK = 0, 1, 4, 7, 8, 11, 12, 13, 14, 15, 16
_NCOL = 17


class NightFeatures:
    """Streaming reduction of ``(t, xyz)`` samples to :class:`EpochFeatures`.

    >>> import numpy as np
    >>> rate = 50.0
    >>> t = 1_700_000_010 + np.arange(0, 120, 1 / rate)   # four whole epochs
    >>> xyz = np.c_[np.zeros_like(t), np.zeros_like(t), np.ones_like(t)]
    >>> xyz += np.random.default_rng(0).normal(0, 0.003, xyz.shape)
    >>> f = NightFeatures(rate)
    >>> ep = EpochFeatures.concat([f.push(t, xyz), f.flush()], 30)
    >>> len(ep), bool(np.all(ep.activity == 0)), bool(np.all(ep.presence < 4))
    (4, True, True)
    """

    def __init__(self, rate_hz: float, params: FeatureParams = FeatureParams()):
        if not rate_hz > 0:
            raise ValueError("rate_hz must be positive")
        self.rate = float(rate_hz)
        self.p = params
        ratio = params.epoch_s / params.sub_s
        ticks = params.sub_s / params.tick_s
        if abs(ratio - round(ratio)) > 1e-9 or abs(ticks - round(ticks)) > 1e-9:
            raise ValueError("sub_s must divide epoch_s and tick_s must divide sub_s")
        self.k = int(round(ratio))
        self.j = int(round(ticks))
        u = np.arange(self.j) - (self.j - 1) / 2.0
        self._u = u
        self._gap = params.gap_periods / self.rate
        self._last: tuple[float, np.ndarray] | None = None  # last sample seen
        # samples of the second still open: times, values, squared differences, ok
        self._ct = np.zeros(0)
        self._cx = np.zeros((0, 3))
        self._cd = np.zeros((0, 3))
        self._cn = np.zeros(0)
        # complete seconds of the epoch still open: id and rows
        self._sid: list[np.ndarray] = []
        self._rows: list[np.ndarray] = []
        # the floor of the motion statistic in the recent epochs (see _floor)
        self._floors: list[float] = []

    # -- public ---------------------------------------------------------------------
    def push(self, t, xyz) -> EpochFeatures:
        """Add samples (times increasing); return the epochs they completed."""
        t = np.asarray(t, dtype=float).ravel()
        x = np.asarray(xyz, dtype=float).reshape(-1, 3)
        if len(t) != len(x):
            raise ValueError("t and xyz must have the same length")
        out = []
        for i in range(0, len(t), _BLOCK):
            out.append(self._push(t[i : i + _BLOCK], x[i : i + _BLOCK]))
        return EpochFeatures.concat(out, self.k)

    def flush(self) -> EpochFeatures:
        """End of the recording: close the open second and epoch."""
        if len(self._ct):
            self._reduce(self._ct, self._cx, self._cd, self._cn)
            self._ct, self._cx = np.zeros(0), np.zeros((0, 3))
            self._cd, self._cn = np.zeros((0, 3)), np.zeros(0)
        return self._epochs(final=True)

    # -- internals ------------------------------------------------------------------
    def _tick_ids(self, t: np.ndarray) -> np.ndarray:
        # one integer clock for ticks, seconds and epochs, so that they always nest
        return np.floor(t / self.p.tick_s + 1e-9).astype(np.int64)

    def _push(self, t: np.ndarray, x: np.ndarray) -> EpochFeatures:
        if len(t) == 0:
            return EpochFeatures.empty(self.k)
        # squared first differences (none across a gap or at the very first sample)
        d = np.empty_like(x)
        ok = np.empty(len(t))
        if self._last is None:
            d[0] = 0.0
            ok[0] = 0.0
        else:
            d[0] = x[0] - self._last[1]
            ok[0] = float(t[0] - self._last[0] <= self._gap)
        d[1:] = x[1:] - x[:-1]
        ok[1:] = np.diff(t) <= self._gap
        d *= d
        d *= ok[:, None]
        self._last = (float(t[-1]), x[-1].copy())
        if len(self._ct):
            t = np.concatenate((self._ct, t))
            x = np.concatenate((self._cx, x))
            d = np.concatenate((self._cd, d))
            ok = np.concatenate((self._cn, ok))
        # keep the samples of the last (maybe incomplete) second for next time
        sid_last = self._tick_ids(t[-1:])[0] // self.j
        cut = int(np.searchsorted(self._tick_ids(t) // self.j, sid_last, side="left"))
        self._ct, self._cx, self._cd, self._cn = t[cut:], x[cut:], d[cut:], ok[cut:]
        if cut > 0:
            self._reduce(t[:cut], x[:cut], d[:cut], ok[:cut])
        return self._epochs(final=False)

    def _reduce(self, t, x, d, ok) -> None:
        """Per-second rows (see ``_N`` ...) of whole seconds of samples."""
        J = self.j
        tid = self._tick_ids(t)
        tstart = np.flatnonzero(np.r_[True, tid[1:] != tid[:-1]])
        tn = np.diff(np.r_[tstart, len(t)]).astype(float)
        ts1 = np.add.reduceat(x, tstart, axis=0)
        # within-tick sum of squares (all axes): what the 0.1 s box filter took away
        wss = (np.add.reduceat(x * x, tstart, axis=0) - ts1 * ts1 / tn[:, None]).sum(axis=1)
        tids = tid[tstart]
        sid_t = tids // J
        sstart = np.flatnonzero(np.r_[True, sid_t[1:] != sid_t[:-1]])
        sids = sid_t[sstart]
        ns = len(sids)
        row = np.repeat(np.arange(ns), np.diff(np.r_[sstart, len(tids)]))
        col = tids - sid_t * J
        # ticks on a (second, tick) grid
        N = np.zeros((ns, J))
        N[row, col] = tn
        Y = np.zeros((ns, J, 3))
        Y[row, col] = ts1 / tn[:, None]
        W = (N > 0).astype(float)
        u = self._u
        S0 = W.sum(axis=1)
        S1 = W @ u
        S2 = W @ (u * u)
        den = S0 * S2 - S1 * S1
        good = (S0 >= 3) & (den > 0)
        den = np.where(good, den, 1.0)
        Sy = np.einsum("sj,sjk->sk", W, Y)
        Suy = np.einsum("sj,sjk->sk", W * u, Y)
        slope = (S0[:, None] * Suy - S1[:, None] * Sy) / den[:, None]
        icept = (Sy - slope * S1[:, None]) / np.where(S0 > 0, S0, 1.0)[:, None]
        R = (Y - icept[:, None, :] - slope[:, None, :] * u[None, :, None]) * W[:, :, None]
        rss = (R * R).sum(axis=1)
        lev = (S2[:, None] - 2 * u[None, :] * S1[:, None] + (u * u)[None, :] * S0[:, None]) / den[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            L = np.where(W > 0, (1.0 - lev) / np.where(N > 0, N, 1.0), 0.0).sum(axis=1)
        rss[~good] = np.nan
        L[~good] = np.nan
        amp = np.sqrt((R * R).sum(axis=2).max(axis=1))
        amp[~good] = np.nan
        dY = np.diff(Y, axis=1)
        both = (W[:, 1:] * W[:, :-1]) > 0
        jump = np.sqrt(np.where(both, (dY * dY).sum(axis=2), 0.0).max(axis=1))
        # per second sums straight from the samples
        sid_s = tid // J
        starts = np.flatnonzero(np.r_[True, sid_s[1:] != sid_s[:-1]])
        rows = np.empty((ns, _NCOL))
        rows[:, _N] = np.diff(np.r_[starts, len(t)])
        rows[:, _S1 : _S1 + 3] = np.add.reduceat(x, starts, axis=0)
        rows[:, _SD : _SD + 3] = np.add.reduceat(d, starts, axis=0)
        rows[:, _ND] = np.add.reduceat(ok, starts)
        rows[:, _RSS : _RSS + 3] = rss
        rows[:, _LEV] = L
        rows[:, _AMP] = amp
        rows[:, _JUMP] = jump
        rows[:, _WSS] = np.add.reduceat(np.maximum(wss, 0.0), sstart)
        rows[:, _WDF] = np.add.reduceat(tn - 1.0, sstart)
        rows[:, _TK] = S0
        self._sid.append(sids)
        self._rows.append(rows)

    def _epochs(self, final: bool) -> EpochFeatures:
        if not self._sid:
            return EpochFeatures.empty(self.k)
        sid = np.concatenate(self._sid) if len(self._sid) > 1 else self._sid[0]
        rows = np.concatenate(self._rows) if len(self._rows) > 1 else self._rows[0]
        eid = sid // self.k
        if final:
            done = len(sid)
        else:
            # an epoch is complete once the open second belongs to a later epoch
            if len(self._ct):
                open_eid = (self._tick_ids(self._ct[:1])[0] // self.j) // self.k
            else:
                open_eid = eid[-1] + 1
            done = int(np.searchsorted(eid, open_eid, side="left"))
        self._sid = [sid[done:]] if done < len(sid) else []
        self._rows = [rows[done:]] if done < len(sid) else []
        if done == 0:
            return EpochFeatures.empty(self.k)
        return self._features(sid[:done], rows[:done])

    def _features(self, sid: np.ndarray, st: np.ndarray) -> EpochFeatures:
        k = self.k
        eid = sid // k
        first = eid[0]
        ne = int(eid[-1] - first) + 1
        r = (eid - first).astype(np.int64)
        c = (sid - eid * k).astype(np.int64)

        def grid(values, fill=np.nan):
            g = np.full((ne, k) + values.shape[1:], fill)
            g[r, c] = values
            return g

        n = st[:, _N]
        nd = st[:, _ND]
        with np.errstate(invalid="ignore", divide="ignore"):
            dvar = np.where(nd[:, None] > 0, st[:, _SD : _SD + 3] / np.maximum(nd, 1)[:, None] / 2.0, np.nan)
        g_n = grid(n, 0.0)
        g_dv = grid(dvar)  # (E, K, 3)
        g_rss = grid(st[:, _RSS : _RSS + 3])
        g_lev = grid(st[:, _LEV])
        g_mean = grid(st[:, _S1 : _S1 + 3] / n[:, None])
        samples = g_n.sum(axis=1)
        have = samples > 0
        noise_ax = np.full((ne, 3), np.nan)
        if have.any():
            with np.errstate(all="ignore"):
                noise_ax[have] = np.nanmedian(g_dv[have], axis=1)
        noise_ax = np.maximum(noise_ax, 1e-12)
        noise = noise_ax.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            expect = (g_lev[:, :, None] * noise_ax[:, None, :]).sum(axis=2)
            motion = g_rss.sum(axis=2) / expect
            hf = g_dv.sum(axis=2) / noise[:, None]
            wvar = grid(st[:, _WSS] / np.where(st[:, _WDF] > 0, st[:, _WDF], np.nan))
            ring = np.sqrt(np.maximum(wvar - noise[:, None], 0.0))
        # A second with few ticks (samples lost to I2C drop-outs) has a statistic with
        # fewer degrees of freedom, which noise alone pushes over the threshold far more
        # often: scale it so that the threshold stands for the same false-alarm rate
        # (1e-5 a second, Wilson-Hilferty) whatever the ticks; whole seconds are unchanged.
        dof = 3.0 * np.maximum(grid(st[:, _TK], 0.0) - 2.0, 1.0)
        wh = 2.0 / (9.0 * dof)
        chance = (1.0 - wh + 4.265 * np.sqrt(wh)) ** 3
        motion = motion * (self.p.move_ratio / np.maximum(self.p.move_ratio, chance))
        motion = motion / self._floor(motion)[:, None]
        amp = grid(st[:, _AMP])
        moving = motion > self.p.move_ratio
        activity = np.where(moving, amp, 0.0).sum(axis=1) * self.p.sub_s
        # still: neither this second nor its neighbours moved (movements fade slowly)
        calm = np.isfinite(motion) & ~moving
        still = calm.copy()
        still[:, 1:] &= calm[:, :-1]
        still[:, :-1] &= calm[:, 1:]
        with np.errstate(all="ignore"):
            presence, breath = self._presence(g_mean, g_n, noise, still)
            cnt = still.sum(axis=1)
            level = np.where(still[:, :, None], np.nan_to_num(g_mean), 0.0).sum(axis=1) / np.where(cnt > 0, cnt, np.nan)[:, None]
        return EpochFeatures(
            t=(first + np.arange(ne)) * self.p.epoch_s,
            samples=samples,
            noise=noise,
            activity=activity,
            presence=presence,
            breath=breath,
            level=level,
            motion=motion,
            amp=amp,
            jump=grid(st[:, _JUMP]),
            hf=hf,
            ring=ring,
            sub_mean=g_mean,
        )

    def _floor(self, motion: np.ndarray) -> np.ndarray:
        """What a still bed's motion statistic is in each epoch, at least 1.

        White noise alone gives about 1. A strong heartbeat on a quiet sensor does not:
        its beat (about 1 Hz, pulse-shaped) is no straight line within a second, and on a
        bed that carries it well it reads 5-20 every second, which would be "moving" all
        night. The floor is the median, over the last ``floor_epochs`` epochs, of each
        epoch's lower quartile (a sleeper lies still most of every epoch, so that quartile
        is the beat's level, not a movement's); the statistic is divided by it. Past
        epochs only: the result does not depend on how the samples were chunked.
        """
        out = np.ones(len(motion))
        if len(motion) == 0:
            return out
        finite = np.isfinite(motion)
        counted = finite.sum(axis=1)
        enough = (counted >= motion.shape[1] // 2) & (counted > 0)
        quartile = _lower_quartiles(motion, counted)
        floors, keep, ref = self._floors, self.p.floor_epochs, self.p.floor_ref
        for i in range(len(motion)):  # a running median of <= floor_epochs numbers
            if enough[i]:
                floors.append(float(quartile[i]))
                del floors[:-keep]
            if floors:
                out[i] = max(1.0, statistics.median(floors) / ref)
        return out

    def _presence(self, g_mean: np.ndarray, g_n: np.ndarray, noise: np.ndarray, still: np.ndarray) -> np.ndarray:
        """Breathing: peak power of the second means in 0.13-0.47 Hz over the noise's.

        The still seconds' means are detrended (a line over the epoch, fitted to them
        alone); moving seconds are set to the line, so a movement is not breathing.
        The power of two adjacent frequency bins (1/epoch apart), summed over axes, is
        compared with what white noise puts in them; the best pair in the band is the
        presence ratio: about 1-2 on an empty bed, 5-1000 with someone breathing on it.
        """
        k = self.k
        out = np.full(len(noise), np.nan)
        # seconds without samples (I2C drop-outs) are left out like moving ones: the
        # line stands in for them, and the noise expected counts only the seconds used
        w = (still & (g_n > 0)).astype(float)
        enough = w.sum(axis=1) >= k / 2
        if not enough.any():
            return out, out.copy()
        m = np.nan_to_num(g_mean[enough])  # (F, K, 3)
        w = w[enough]
        u = np.arange(k) - (k - 1) / 2.0
        S0, S1, S2 = w.sum(axis=1), w @ u, w @ (u * u)
        den = S0 * S2 - S1 * S1
        Sy = np.einsum("fk,fkx->fx", w, m)
        Suy = np.einsum("fk,fkx->fx", w * u, m)
        slope = (S0[:, None] * Suy - S1[:, None] * Sy) / den[:, None]
        icept = (Sy - slope * S1[:, None]) / S0[:, None]
        resid = (m - icept[:, None, :] - slope[:, None, :] * u[None, :, None]) * w[:, :, None]
        power = (np.abs(np.fft.rfft(resid, axis=1)) ** 2).sum(axis=2)  # (F, bins)
        n = g_n[enough]
        expected = noise[enough] * (w / np.where(n > 0, n, 1.0)).sum(axis=1)
        lo = max(1, int(np.floor(0.13 * self.p.epoch_s)))
        hi = min(power.shape[1] - 1, int(np.ceil(0.47 * self.p.epoch_s)))
        band = power[:, lo : hi + 1]
        pair = (band[:, :-1] + band[:, 1:]) / 2.0 if band.shape[1] > 1 else band
        best = pair.max(axis=1)
        out[enough] = best / expected
        # amplitude of a sine giving that power in one bin: |X|^2 = (A K / 2)^2
        amp = np.full(len(noise), np.nan)
        amp[enough] = 2.0 * np.sqrt(np.maximum(best - expected, 0.0) * 2.0) / w.sum(axis=1)
        return out, amp


def _lower_quartiles(rows: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """Each row's 0.25 quantile of its finite values (``counted`` of them), as
    ``np.quantile`` computes it (linear), for all rows at once; NaN for a row with none."""
    ordered = np.sort(rows, axis=1)  # NaN sorts last
    pos = 0.25 * (np.maximum(counted, 1) - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, np.maximum(counted, 1) - 1)
    a = np.take_along_axis(ordered, lo[:, None], axis=1)[:, 0]
    b = np.take_along_axis(ordered, hi[:, None], axis=1)[:, 0]
    t = pos - lo
    diff = b - a
    out = np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)  # numpy's own lerp
    out[counted == 0] = np.nan
    return out
