"""Fisher's exact test and the risk ratio with Katz's interval, for 2x2 tables, in plain Python.

The Insights comparisons (:mod:`device.insights.analysis`) need one exact test and one
interval; importing scipy for them would cost the daemon ~70 MB of its 80 MB budget
on a Pi Zero 2 W. These follow the scipy functions they replace, case for case:
:func:`fisher_exact_p` is ``scipy.stats.fisher_exact(table, alternative).pvalue`` for a
2x2 table, :func:`relative_risk` is ``scipy.stats.contingency.relative_risk`` with
``confidence_interval(confidence_level)`` (tests/test_stats.py checks them against
scipy on thousands of tables).

>>> round(fisher_exact_p([[8, 2], [1, 5]]), 6)
0.034965
>>> rr = relative_risk(10, 75, 12, 225)
>>> rr.ratio, round(rr.low, 4), round(rr.high, 4)
(2.5, 1.1262, 5.5499)
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from statistics import NormalDist
from typing import NamedTuple

ALTERNATIVES = ("two-sided", "less", "greater")
# scipy's two-sided test counts the tables "no likelier" than the observed one with this slack
_TIE_SLACK = 10**14  # a weight w counts when w <= observed * (1 + 1 / _TIE_SLACK)


def fisher_exact_p(table: Sequence[Sequence[int]], alternative: str = "two-sided") -> float:
    """The p-value of Fisher's exact test of the 2x2 table ``[[a, b], [c, d]]``.

    Under independence with the margins fixed, ``a`` is hypergeometric. ``"less"`` is
    P(X <= a), ``"greater"`` P(X >= a), ``"two-sided"`` the total probability of the
    tables no likelier than the observed one. A zero row or column sum gives 1.0.
    Counts are non-negative integers; the arithmetic is exact (integer weights
    ``comb(a + b, x) * comb(c + d, a + c - x)``), so there is one rounding, at the end.
    """
    (a, b), (c, d) = table
    a, b, c, d = (operator.index(x) for x in (a, b, c, d))
    if min(a, b, c, d) < 0:
        raise ValueError("all values in the table must be non-negative")
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {', '.join(ALTERNATIVES)}, not {alternative!r}")
    row1, row2, col1 = a + b, c + d, a + c
    if 0 in (row1, row2, col1, b + d):
        return 1.0
    lo, hi = max(0, col1 - row2), min(row1, col1)
    observed = math.comb(row1, a) * math.comb(row2, col1 - a)
    as_likely = observed + observed // _TIE_SLACK  # integer w <= observed * (1 + 1e-14)
    total = tail = 0
    w = math.comb(row1, lo) * math.comb(row2, col1 - lo)  # the weight of x = lo, then of each next x
    for x in range(lo, hi + 1):
        total += w
        if (alternative == "less" and x <= a or alternative == "greater" and x >= a
                or alternative == "two-sided" and w <= as_likely):
            tail += w
        if x < hi:
            w = w * (row1 - x) * (col1 - x) // ((x + 1) * (row2 - col1 + x + 1))
    return min(tail / total, 1.0)


class RelativeRisk(NamedTuple):
    """A risk ratio and its confidence interval (``nan`` where undefined, as in scipy)."""

    ratio: float
    low: float
    high: float


def relative_risk(exposed_cases: int, exposed_total: int, control_cases: int, control_total: int,
                  *, level: float = 0.95) -> RelativeRisk:
    """The risk ratio ``(exposed_cases / exposed_total) / (control_cases / control_total)``
    and its ``level`` confidence interval by Katz's log method.

    As scipy: no cases at all gives ``(nan, nan, nan)``; none among the exposed gives
    ratio 0.0 and ``(0.0, nan)``; none among the controls gives ratio ``inf`` and
    ``(nan, inf)``. Totals must be at least 1 and cases at most the total.
    """
    a, n1, b, n0 = (operator.index(x) for x in (exposed_cases, exposed_total, control_cases, control_total))
    if a < 0 or b < 0:
        raise ValueError("cases must be non-negative")
    if n1 < 1 or n0 < 1:
        raise ValueError("totals must be at least 1")
    if a > n1 or b > n0:
        raise ValueError("cases must not exceed their total")
    if not 0 <= level <= 1:
        raise ValueError("level must be in the interval [0, 1]")
    nan, inf = math.nan, math.inf
    if a == 0 and b == 0:
        return RelativeRisk(nan, nan, nan)
    if a == 0:
        return RelativeRisk(0.0, 0.0, nan)
    if b == 0:
        return RelativeRisk(inf, nan, inf)
    ratio = (a / n1) / (b / n0)
    q = 1 - (1 - level) / 2
    z = inf if q >= 1 else NormalDist().inv_cdf(q)
    delta = z * math.sqrt(1 / a - 1 / n1 + 1 / b - 1 / n0)
    return RelativeRisk(ratio, ratio * math.exp(-delta), ratio * math.exp(delta))
