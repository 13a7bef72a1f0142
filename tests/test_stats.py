"""device.insights.stats against the scipy functions it replaces, on thousands of random tables.

scipy is a test dependency only (the daemon must not load it: ~70 MB on a Pi Zero 2 W).
"""

from __future__ import annotations

import math
import random
import sys

import numpy as np
import pytest
from scipy.stats import fisher_exact
from scipy.stats.contingency import relative_risk as scipy_relative_risk

from device.insights.stats import ALTERNATIVES, fisher_exact_p, relative_risk

SIZES = [3, 3, 8, 8, 30, 30, 100, 400, 2500]  # the largest cell drawn from 0..size; small ones give ties and zeros


def random_tables(count: int, seed: int) -> list[list[list[int]]]:
    """2x2 tables: small, medium and large counts, zero cells and symmetric (tied) margins."""
    rng = random.Random(seed)
    tables = []
    for _ in range(count):
        size = rng.choice(SIZES)
        a, b, c, d = (rng.randint(0, size) for _ in range(4))
        shape = rng.random()
        if shape < 0.15:
            c, d = a, b  # equal rows: the two-sided test meets exact ties
        elif shape < 0.25:
            c, d = b, a  # mirrored rows
        elif shape < 0.45:  # a zero cell
            cells = [a, b, c, d]
            cells[rng.randrange(4)] = 0
            a, b, c, d = cells
        tables.append([[a, b], [c, d]])
    return tables


def same(x: float, y: float, rel: float) -> bool:
    return (math.isnan(x) and math.isnan(y)) or x == y or math.isclose(x, y, rel_tol=rel)


def same_p(ours: float, theirs: float) -> bool:
    """Equal to 1e-9, relative; below the normal floats (p < 2.2e-308) relative digits are gone."""
    return math.isclose(ours, theirs, rel_tol=1e-9, abs_tol=sys.float_info.min)


# -- Fisher's exact test -----------------------------------------------------------------------
@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_fisher_matches_scipy_on_random_tables(alternative):
    tables = random_tables(2000, seed=ALTERNATIVES.index(alternative))
    assert sum(1 for t in tables if 0 in t[0] + t[1]) > 300 and max(max(t[0] + t[1]) for t in tables) > 2000
    differ = []
    for table in tables:
        ours = fisher_exact_p(table, alternative)
        theirs = float(fisher_exact(table, alternative=alternative).pvalue)
        if not (0.0 <= ours <= 1.0 and same_p(ours, theirs)):
            differ.append((table, ours, theirs))
    assert differ == []


@pytest.mark.parametrize("table", [[[2000, 0], [0, 2000]], [[300, 0], [0, 300]], [[500, 10], [3, 600]],
                                   [[10_000, 10_000], [10_000, 10_000]], [[1, 9_000], [9_000, 1]]])
@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_fisher_matches_scipy_on_large_tables_and_tiny_p_values(table, alternative):
    ours, theirs = fisher_exact_p(table, alternative), float(fisher_exact(table, alternative=alternative).pvalue)
    assert same_p(ours, theirs)


@pytest.mark.parametrize("table", [[[0, 0], [0, 0]], [[0, 3], [0, 4]], [[3, 0], [5, 0]], [[0, 0], [2, 7]],
                                   [[6, 1], [0, 0]]])
def test_a_zero_row_or_column_gives_p_one(table):
    for alternative in ALTERNATIVES:
        assert fisher_exact_p(table, alternative) == 1.0 == fisher_exact(table, alternative=alternative).pvalue


def test_two_sided_counts_both_tails_when_the_margins_are_symmetric():
    # equal rows and columns: the table's mirror image is exactly as likely, so both tails count
    for table in ([[2, 8], [8, 2]], [[15, 45], [45, 15]], [[0, 7], [7, 0]]):
        tail = fisher_exact_p(table, "less")
        assert fisher_exact_p(table, "two-sided") == pytest.approx(2 * tail, rel=1e-12)
    assert fisher_exact_p([[5, 5], [5, 5]], "two-sided") == 1.0  # the likeliest table


def test_one_sided_p_values_are_the_hypergeometric_tails():
    table = [[8, 2], [1, 5]]  # x = 8 of 9 "first column" items fell in a row of 10, from 16
    weights = {x: math.comb(10, x) * math.comb(6, 9 - x) for x in range(3, 10)}
    total = math.comb(16, 9)
    assert fisher_exact_p(table, "greater") == pytest.approx(sum(w for x, w in weights.items() if x >= 8) / total)
    assert fisher_exact_p(table, "less") == pytest.approx(sum(w for x, w in weights.items() if x <= 8) / total)


def test_fisher_rejects_bad_input():
    with pytest.raises(ValueError, match="non-negative"):
        fisher_exact_p([[1, -1], [2, 3]])
    with pytest.raises(ValueError, match="alternative"):
        fisher_exact_p([[1, 2], [3, 4]], "two_sided")
    with pytest.raises(TypeError):
        fisher_exact_p([[1.5, 2], [3, 4]])  # counts, not measurements (scipy would truncate)


# -- the risk ratio and Katz's interval ---------------------------------------------------------
def random_groups(count: int, seed: int) -> list[tuple[int, int, int, int, float]]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        n1, n0 = (rng.randint(1, rng.choice(SIZES)) for _ in range(2))
        a, b = rng.randint(0, n1), rng.randint(0, n0)
        if rng.random() < 0.1:
            a = 0
        if rng.random() < 0.1:
            b = 0
        level = rng.choice([0.95, 0.95, 0.9, 0.99, rng.uniform(0.01, 0.999)])
        out.append((a, n1, b, n0, level))
    return out


def test_relative_risk_matches_scipy_on_random_groups():
    groups = random_groups(4000, seed=7)
    assert sum(1 for a, _, b, _, _ in groups if a == 0 or b == 0) > 400
    differ = []
    for a, n1, b, n0, level in groups:
        ours = relative_risk(a, n1, b, n0, level=level)
        result = scipy_relative_risk(a, n1, b, n0)
        ci = result.confidence_interval(confidence_level=level)
        theirs = (float(result.relative_risk), float(ci.low), float(ci.high))
        if not all(same(x, y, 1e-12) for x, y in zip(ours, theirs)):
            differ.append(((a, n1, b, n0, level), tuple(ours), theirs))
    assert differ == []


@pytest.mark.parametrize("counts", [(0, 10, 0, 12), (0, 10, 3, 12), (4, 10, 0, 12), (10, 10, 12, 12), (1, 1, 1, 1)])
@pytest.mark.parametrize("level", [0.0, 0.95, 1.0])
def test_zero_cells_and_extreme_levels_as_scipy(counts, level):
    ours = relative_risk(*counts, level=level)
    result = scipy_relative_risk(*counts)
    with np.errstate(invalid="ignore"):  # level 1 with no spread: scipy's inf * 0 warns, and gives nan
        ci = result.confidence_interval(confidence_level=level)
    assert all(same(x, y, 1e-12) for x, y in zip(ours, (result.relative_risk, ci.low, ci.high))), (ours, result, ci)


def test_the_interval_is_katz_log_interval():
    rr = relative_risk(12, 40, 6, 40)
    se = math.sqrt(1 / 12 - 1 / 40 + 1 / 6 - 1 / 40)
    assert rr.ratio == 2.0
    assert rr.low == pytest.approx(2.0 * math.exp(-1.959964 * se)) and rr.high == pytest.approx(2.0 * math.exp(1.959964 * se))
    wider = relative_risk(12, 40, 6, 40, level=0.99)
    assert wider.low < rr.low < rr.ratio < rr.high < wider.high


@pytest.mark.parametrize("args, match", [((5, 4, 1, 10), "exceed"), ((1, 10, 11, 10), "exceed"),
                                         ((1, 0, 1, 10), "at least 1"), ((-1, 10, 1, 10), "non-negative")])
def test_relative_risk_rejects_impossible_counts(args, match):
    with pytest.raises(ValueError, match=match):
        relative_risk(*args)
    with pytest.raises(ValueError):
        scipy_relative_risk(*args)


@pytest.mark.parametrize("level", [-0.1, 1.5, math.nan])
def test_relative_risk_rejects_a_level_outside_zero_to_one(level):
    with pytest.raises(ValueError, match="level"):
        relative_risk(3, 10, 2, 10, level=level)
