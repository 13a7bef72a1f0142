"""Streaming, chunk-invariant filters for load-cell samples: spike rejection and rest masks.

Everything here is pure and vectorised with numpy. The streaming classes carry the few
samples they need from one chunk to the next, and every output is computed from exactly
the same samples whatever the chunking (medians, minima and maxima are selections, so
results are bit-identical however a trace is cut into chunks).

>>> import numpy as np
>>> med = Median5()
>>> t, f = med.push(np.arange(6.0), np.array([1.0, 1.0, 900.0, 1.0, 1.0, 1.0]))
>>> f.tolist()                      # the spike is gone; two samples wait for their future
[1.0, 1.0, 1.0, 1.0]
>>> med.flush()[1].tolist()
[1.0, 1.0]
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["median5", "rolling_max", "rolling_min", "Median5", "RestMask"]


def _median3(x, y, z):
    return np.maximum(np.minimum(x, y), np.minimum(np.maximum(x, y), z))


def median5(a, b, c, d, e):
    """Element-wise median of five arrays with a 6-comparison selection network."""
    lo = np.maximum(np.minimum(a, b), np.minimum(c, d))
    hi = np.minimum(np.maximum(a, b), np.maximum(c, d))
    return _median3(lo, hi, e)


def _rolling(x: np.ndarray, w: int, fn) -> np.ndarray:
    """``out[j] = fn(x[j:j+w])`` for every full window (van Herk / Gil-Werman, O(n))."""
    n = len(x) - w + 1
    if n <= 0:
        return x[:0].copy()
    if w == 1:
        return x.copy()
    if n * w <= 4096:  # tiny live chunks: a direct window view is cheaper than blocking
        return fn.reduce(sliding_window_view(x, w), axis=1)
    m = -(-len(x) // w)
    pad = np.full(m * w, np.nan)
    pad[: len(x)] = x
    # the padding never reaches a full window's answer: it sits beyond the last window
    blocks = pad.reshape(m, w)
    prefix = fn.accumulate(blocks, axis=1).ravel()
    suffix = fn.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    return fn(suffix[:n], prefix[w - 1 : w - 1 + n])


def rolling_max(x: np.ndarray, w: int) -> np.ndarray:
    """Maximum of every full window of ``w`` samples (length ``len(x) - w + 1``)."""
    return _rolling(np.asarray(x, dtype=float), w, np.maximum)


def rolling_min(x: np.ndarray, w: int) -> np.ndarray:
    """Minimum of every full window of ``w`` samples (length ``len(x) - w + 1``)."""
    return _rolling(np.asarray(x, dtype=float), w, np.minimum)


class Median5:
    """Centred 5-sample running median: removes single and double-sample spikes.

    Non-finite readings (a lost conversion) are replaced by the previous finite one
    first. The output lags the input by two samples; the first two outputs use the first
    sample repeated as their past, and :meth:`flush` the last one repeated as the future.
    """

    def __init__(self):
        self._t = np.empty(0)
        self._g = np.empty(0)  # the last (up to) four inputs, already made finite
        self._started = False
        self._last_finite = np.nan

    def push(self, t: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = np.asarray(g, dtype=float)
        t = np.asarray(t, dtype=float)
        ok = np.isfinite(g)
        if not ok.all():
            if not np.isfinite(self._last_finite) and not ok.any():
                return t[:0], g[:0]
            if not np.isfinite(self._last_finite):  # leading garbage: drop it
                first = int(np.argmax(ok))
                t, g, ok = t[first:], g[first:], ok[first:]
            idx = np.where(ok, np.arange(len(g)), -1)
            idx = np.maximum.accumulate(idx)
            g = np.where(idx >= 0, g[np.maximum(idx, 0)], self._last_finite)
        if len(g):
            self._last_finite = g[-1]
        if not self._started and len(g):
            self._started = True
            # the first sample, repeated, stands in for the two samples before it
            t = np.concatenate((t[:1], t[:1], t))
            g = np.concatenate((g[:1], g[:1], g))
            self._t, self._g = t[:0], g[:0]
        tt = np.concatenate((self._t, t))
        gg = np.concatenate((self._g, g))
        n = len(gg) - 4
        if n <= 0:
            self._t, self._g = tt, gg
            return tt[:0], gg[:0]
        f = median5(gg[:n], gg[1 : n + 1], gg[2 : n + 2], gg[3 : n + 3], gg[4 : n + 4])
        t_out = tt[2 : n + 2]
        self._t, self._g = tt[n:], gg[n:]
        return t_out, f

    def flush(self) -> tuple[np.ndarray, np.ndarray]:
        """The last two outputs, using the last sample repeated as their future."""
        if len(self._g) < 3:
            t_out, f = self._t[2:], self._g[2:]
        else:
            last = self._g[-1:]
            gg = np.concatenate((self._g, last, last))
            n = len(gg) - 4
            f = median5(gg[:n], gg[1 : n + 1], gg[2 : n + 2], gg[3 : n + 3], gg[4 : n + 4])
            t_out = self._t[2 : n + 2]
        self._t, self._g = self._t[:0], self._g[:0]
        return t_out, f


class RestMask:
    """Streaming "at rest" mask: the last ``window`` filtered samples lie within ``tol``.

    ``push`` returns, for each new sample, whether the trailing window ending there is at
    rest. A window that spans a gap in the data longer than ``gap_s`` is never at rest, so
    a rest never straddles missing data.
    """

    def __init__(self, window: int, tol: float, gap_s: float):
        self.window = max(1, int(window))
        self.tol = float(tol)
        self.gap_s = float(gap_s)
        self._f = np.empty(0)
        self._t = np.empty(0)
        self._since_gap = 0  # samples since the last data gap, capped at window

    def push(self, t: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(rest, gap)``: the rest mask, and where a data gap precedes a sample."""
        w = self.window
        ff = np.concatenate((self._f, f))
        tt = np.concatenate((self._t, t))
        k = len(self._f)  # carried samples in front of the new ones
        n = len(f)
        if n == 0:
            return np.zeros(0, bool), np.zeros(0, bool)
        full = np.zeros(n, bool)
        if len(ff) >= w:
            rng = rolling_max(ff, w) - rolling_min(ff, w)  # window ending at ff[j+w-1]
            # new sample i (at ff[k+i]) ends window index k+i-w+1
            start = k - w + 1
            ok = rng[max(start, 0) :] <= self.tol
            full[n - len(ok) :] = ok
        # data gaps: dt before each new sample
        prev_t = tt[k - 1 : k + n - 1] if k else np.concatenate((t[:1], t[:-1]))
        gap = (t - prev_t) > self.gap_s
        pos = np.arange(n)
        last_gap = np.maximum.accumulate(np.where(gap, pos, -(10**9)))
        since = np.where(last_gap >= 0, pos - last_gap, self._since_gap + pos + 1)
        rest = full & (since >= w - 1)
        self._since_gap = int(min(since[-1], w))
        keep = max(w - 1, 1)
        self._f, self._t = ff[-keep:], tt[-keep:]
        return rest, gap
