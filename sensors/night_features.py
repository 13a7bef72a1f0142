"""Layer 1 of the night analysis: bed-frame accelerometer samples to per-epoch features.

Pure and vectorised; feed chunks of any size (the features do not depend on the cut).
Time comes from the samples: sub-epochs of ``sub_s`` (1 s) and epochs of ``epoch_s``
(30 s) are aligned to multiples of their length in Unix time, samples are assigned by
their time stamp (jitter and gaps are fine; a missing sub-epoch is NaN).

Per sub-epoch, per axis: the mean (the gravity vector and the frame's tilt), the
variance around that mean (gravity and tilt removed: what moves within the second) and
the mean squared first difference, half of which is the white sensor noise (breathing,
heartbeat and body movement hardly change from one sample to the next at 25-100 Hz;
quantisation is part of that noise). The analysis never needs the chip's datasheet: it
measures its noise as it goes, so ADXL345 (3.9 mg steps) and MPU-6050 at 25, 50 or
100 Hz give comparable, unit-free features.

Per sub-epoch:

- ``motion``: the summed variance over the noise, ``sum(var) / sum(noise)``: about 1 on a
  still bed, 2-10 for a twitch, 100s for a turnover or a kick;
- ``mean``: the mean acceleration vector (g).

Per epoch:

- ``noise``: median over its sub-epochs of the summed noise variance (g^2);
- ``activity``: movement of the epoch, the sum over its moving sub-epochs of the
  excess rms, ``sqrt(sum(var) - noise)``, times ``sub_s`` (g s): a count-like measure;
- ``presence``: slow micro-motion, the breathing of someone lying on the bed: the
  variance of the sub-epoch means about a straight line over the epoch (tilt drift
  removed), over what white noise alone would give them. About 1 on an empty bed;
- ``pulse``: the median sub-epoch ``motion`` less 1, the heartbeat (ballistocardiogram)
  and small restlessness: about 0 on an empty bed;
- ``level``: the mean acceleration vector (g), for slow changes in the frame's tilt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["FeatureParams", "EpochFeatures", "NightFeatures"]

_BLOCK = 1 << 16  # samples reduced at a time (cache-sized; results do not depend on it)


@dataclass(frozen=True)
class FeatureParams:
    """Epoch layout and the movement threshold, with reasons."""

    # Epoch of the sleep/wake scoring: the actigraphy standard.
    epoch_s: float = 30.0
    # Sub-epoch: long enough to average 25 samples at 25 Hz, short enough to time the
    # first movement of an awakening to a second. Must divide epoch_s.
    sub_s: float = 1.0
    # A sub-epoch moves when its variance exceeds this many times the noise: the
    # ratio of a still second is 1 +- 0.3 at 25 Hz (chi-square with 72 dof), up to
    # ~1.5 with a strong heartbeat; a twitch of the legs is 2-10.
    move_ratio: float = 3.0
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
    presence: np.ndarray  # ratio, ~1 empty
    pulse: np.ndarray  # ratio - 1, ~0 empty
    level: np.ndarray  # (E, 3) g
    motion: np.ndarray  # (E, K) sub-epoch motion ratio (NaN: no data)
    sub_mean: np.ndarray = field(repr=False, default=None)  # (E, K, 3) g

    def __len__(self) -> int:
        return len(self.t)

    @staticmethod
    def concat(parts: list[EpochFeatures], k: int) -> EpochFeatures:
        if not parts:
            return EpochFeatures.empty(k)
        return EpochFeatures(
            *(np.concatenate([getattr(p, name) for p in parts]) for name in _FIELDS)
        )

    @staticmethod
    def empty(k: int) -> EpochFeatures:
        z = np.zeros(0)
        return EpochFeatures(z, z, z, z, z, z, np.zeros((0, 3)), np.zeros((0, k)), np.zeros((0, k, 3)))

    def take(self, sl: slice) -> EpochFeatures:
        return EpochFeatures(*(getattr(self, name)[sl] for name in _FIELDS))


_FIELDS = ("t", "samples", "noise", "activity", "presence", "pulse", "level", "motion", "sub_mean")


class NightFeatures:
    """Streaming reduction of ``(t, xyz)`` samples to :class:`EpochFeatures`.

    >>> import numpy as np
    >>> rate = 50.0
    >>> t = 1_700_000_010 + np.arange(0, 120, 1 / rate)   # four whole epochs
    >>> xyz = np.c_[np.zeros_like(t), np.zeros_like(t), np.ones_like(t)]
    >>> xyz += np.random.default_rng(0).normal(0, 0.003, xyz.shape)
    >>> f = NightFeatures(rate)
    >>> ep = EpochFeatures.concat([f.push(t, xyz), f.flush()], 30)
    >>> len(ep), bool(np.all(ep.activity == 0)), bool(np.all(np.abs(ep.presence - 1) < 0.6))
    (4, True, True)
    """

    def __init__(self, rate_hz: float, params: FeatureParams = FeatureParams()):
        if not rate_hz > 0:
            raise ValueError("rate_hz must be positive")
        self.rate = float(rate_hz)
        self.p = params
        ratio = params.epoch_s / params.sub_s
        if abs(ratio - round(ratio)) > 1e-9:
            raise ValueError("sub_s must divide epoch_s")
        self.k = int(round(ratio))
        self._gap = params.gap_periods / self.rate
        self._last: tuple[float, np.ndarray] | None = None  # last sample seen
        # samples of the sub-epoch still open: times, values, squared differences, ok
        self._ct = np.zeros(0)
        self._cx = np.zeros((0, 3))
        self._cd = np.zeros((0, 3))
        self._cn = np.zeros(0)
        # complete sub-epochs of the epoch still open: id and stats rows
        self._sid: list[np.ndarray] = []
        self._stats: list[np.ndarray] = []

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
        """End of the recording: close the open sub-epoch and epoch."""
        if len(self._ct):
            self._reduce(self._ct, self._cx, self._cd, self._cn, close_last=True)
            self._ct, self._cx = np.zeros(0), np.zeros((0, 3))
            self._cd, self._cn = np.zeros((0, 3)), np.zeros(0)
        return self._epochs(final=True)

    # -- internals ------------------------------------------------------------------
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
        t = np.concatenate((self._ct, t))
        x = np.concatenate((self._cx, x))
        d = np.concatenate((self._cd, d))
        ok = np.concatenate((self._cn, ok))
        # keep the samples of the last (maybe incomplete) sub-epoch for next time
        sid_last = np.floor(t[-1] / self.p.sub_s)
        cut = int(np.searchsorted(t, sid_last * self.p.sub_s, side="left"))
        self._ct, self._cx, self._cd, self._cn = t[cut:], x[cut:], d[cut:], ok[cut:]
        if cut > 0:
            self._reduce(t[:cut], x[:cut], d[:cut], ok[:cut], close_last=True)
        return self._epochs(final=False)

    def _reduce(self, t, x, d, ok, close_last: bool) -> None:
        sid = np.floor(t / self.p.sub_s).astype(np.int64)
        starts = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
        n = np.diff(np.r_[starts, len(t)]).astype(float)
        s1 = np.add.reduceat(x, starts, axis=0)
        s2 = np.add.reduceat(x * x, starts, axis=0)
        sd = np.add.reduceat(d, starts, axis=0)
        nd = np.add.reduceat(ok, starts)
        stats = np.column_stack((n, s1, s2, sd, nd))
        self._sid.append(sid[starts])
        self._stats.append(stats)

    def _epochs(self, final: bool) -> EpochFeatures:
        if not self._sid:
            return EpochFeatures.empty(self.k)
        sid = np.concatenate(self._sid)
        stats = np.concatenate(self._stats)
        eid = sid // self.k
        if final:
            done = len(sid)
        else:
            # an epoch is complete once a later sub-epoch has been seen (or its last one
            # is closed: it is complete when the open sub-epoch belongs to a later epoch)
            open_eid = np.floor(self._ct[0] / self.p.sub_s) // self.k if len(self._ct) else eid[-1] + 1
            done = int(np.searchsorted(eid, open_eid, side="left"))
        self._sid = [sid[done:]] if done < len(sid) else []
        self._stats = [stats[done:]] if done < len(sid) else []
        if done == 0:
            return EpochFeatures.empty(self.k)
        return self._features(sid[:done], stats[:done])

    def _features(self, sid: np.ndarray, st: np.ndarray) -> EpochFeatures:
        k = self.k
        eid = sid // k
        first = eid[0]
        ne = int(eid[-1] - first) + 1
        row = (eid - first).astype(np.int64)
        col = (sid - eid * k).astype(np.int64)
        n = st[:, 0]
        mean = st[:, 1:4] / n[:, None]
        var = np.maximum(st[:, 4:7] / n[:, None] - mean * mean, 0.0).sum(axis=1)
        nd = st[:, 10]
        with np.errstate(invalid="ignore", divide="ignore"):
            dvar = np.where(nd > 0, st[:, 7:10].sum(axis=1) / np.maximum(nd, 1) / 2.0, np.nan)
        # grids (epoch, sub-epoch)
        g_n = np.zeros((ne, k))
        g_n[row, col] = n
        g_var = np.full((ne, k), np.nan)
        g_var[row, col] = var
        g_dv = np.full((ne, k), np.nan)
        g_dv[row, col] = dvar
        g_mean = np.full((ne, k, 3), np.nan)
        g_mean[row, col] = mean
        samples = g_n.sum(axis=1)
        have = samples > 0
        noise = np.full(ne, np.nan)
        if have.any():
            with np.errstate(all="ignore"):
                noise[have] = np.nanmedian(g_dv[have], axis=1)
        noise = np.where(np.isfinite(noise), np.maximum(noise, 1e-12), np.nan)
        motion = g_var / noise[:, None]
        moving = motion > self.p.move_ratio
        excess = np.sqrt(np.maximum(g_var - noise[:, None], 0.0))
        activity = np.where(moving, excess, 0.0).sum(axis=1) * self.p.sub_s
        with np.errstate(all="ignore"):
            pulse = np.nanmedian(np.where(np.isfinite(motion), motion, np.nan), axis=1) - 1.0 if have.any() else np.full(ne, np.nan)
            presence = self._presence(g_mean, g_n, noise)
            level = np.nanmean(g_mean, axis=1)
        return EpochFeatures(
            t=(first + np.arange(ne)) * self.p.epoch_s,
            samples=samples,
            noise=noise,
            activity=activity,
            presence=presence,
            pulse=pulse,
            level=level,
            motion=motion,
            sub_mean=g_mean,
        )

    def _presence(self, g_mean: np.ndarray, g_n: np.ndarray, noise: np.ndarray) -> np.ndarray:
        """Variance of sub-epoch means about a line over the epoch, over the noise's."""
        k = self.k
        full = (g_n > 0).all(axis=1)
        out = np.full(len(noise), np.nan)
        if not full.any():
            return out
        m = g_mean[full]  # (F, K, 3)
        u = np.arange(k) - (k - 1) / 2.0
        mu = m.mean(axis=1, keepdims=True)
        slope = (m * u[None, :, None]).sum(axis=1, keepdims=True) / (u * u).sum()
        resid = m - mu - slope * u[None, :, None]
        lowvar = (resid * resid).sum(axis=(1, 2)) / (k - 2)
        expected = noise[full] * (1.0 / g_n[full]).mean(axis=1)  # noise variance of a mean
        out[full] = lowvar / expected
        return out
