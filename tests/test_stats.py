"""Wilson intervals and the two-proportion z-test against hand-computed values and scipy."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from targetsms_analytics import stats
from targetsms_analytics.stats import (
    Z95,
    diff_interval,
    two_proportion_p_value,
    wilson_interval,
)


def test_z95_is_the_two_sided_95_percent_quantile():
    assert Z95 == pytest.approx(1.959963984540054, abs=1e-12)


def test_wilson_against_hand_computed_values():
    # 45 of 50: p = 0.9, z² = 3.8415; centre = (0.9 + 3.8415/100) / (1 + 3.8415/50) = 0.871461;
    # half = 1.95996 / 1.07683 · √(0.09/50 + 3.8415/10000) = 0.085063
    low, high = wilson_interval([45], [50])
    assert low[0] == pytest.approx(0.786398, abs=1e-5)
    assert high[0] == pytest.approx(0.956524, abs=1e-5)
    # 0 of 10: [0, z²/(n + z²)] = [0, 3.8415 / 13.8415]
    low, high = wilson_interval([0], [10])
    assert low[0] == 0.0
    assert high[0] == pytest.approx(3.841459 / 13.841459, abs=1e-6)


def test_wilson_with_no_trials_is_nan():
    low, high = wilson_interval([0, 3], [0, 4])
    assert np.isnan(low[0]) and np.isnan(high[0])
    assert 0 < low[1] < 0.75 < high[1] < 1


def test_wilson_matches_scipy():
    binomtest = pytest.importorskip("scipy.stats").binomtest
    for x, n in [(0, 1), (1, 1), (7, 19), (276, 300), (299, 300), (5000, 10000)]:
        ci = binomtest(x, n).proportion_ci(confidence_level=0.95, method="wilson")
        low, high = wilson_interval(x, n)
        assert low[0] == pytest.approx(ci.low, abs=1e-9)
        assert high[0] == pytest.approx(ci.high, abs=1e-9)


def test_difference_interval_against_hand_computed_values():
    # 0.9 - 0.8 = 0.1; se = √(0.09/100 + 0.16/100) = 0.05; ± 1.96 · 0.05 = ± 0.098
    low, high = diff_interval([90], [100], [80], [100])
    assert low[0] == pytest.approx(0.1 - Z95 * 0.05)
    assert high[0] == pytest.approx(0.1 + Z95 * 0.05)
    low, high = diff_interval([1], [0], [1], [2])
    assert np.isnan(low[0]) and np.isnan(high[0])


def test_z_test_against_hand_computed_values():
    # pooled p = 0.85; se = √(0.85 · 0.15 · 2/100) = 0.050498; z = 0.1/se = 1.98030
    p = two_proportion_p_value([90], [100], [80], [100])[0]
    assert p == pytest.approx(math.erfc(1.98030 / math.sqrt(2)), abs=1e-5)
    assert p == pytest.approx(0.04767, abs=1e-5)


def test_z_test_matches_scipy_normal_tail():
    norm = pytest.importorskip("scipy.stats").norm
    for x1, n1, x2, n2 in [(276, 300, 261, 300), (10, 12, 3, 12), (1, 50, 0, 50)]:
        p1, p2, pooled = x1 / n1, x2 / n2, (x1 + x2) / (n1 + n2)
        z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        expected = 2 * norm.sf(abs(z))
        assert two_proportion_p_value(x1, n1, x2, n2)[0] == pytest.approx(expected, rel=1e-9)


def test_z_test_of_identical_all_delivered_groups_is_one_and_empty_is_nan():
    assert two_proportion_p_value([5], [5], [8], [8])[0] == 1.0
    assert np.isnan(two_proportion_p_value([0], [0], [8], [8])[0])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 500), st.integers(0, 500), st.integers(0, 500), st.integers(0, 500))
def test_bounds_are_ordered_and_p_values_are_probabilities(a, b, c, d):
    x1, n1, x2, n2 = min(a, b), max(a, b), min(c, d), max(c, d)
    low, high = wilson_interval(x1, n1)
    p = two_proportion_p_value(x1, n1, x2, n2)[0]
    if n1 == 0:
        assert np.isnan(low[0])
    else:
        assert 0 <= low[0] <= x1 / n1 <= high[0] <= 1
    if n1 and n2:
        assert 0 <= p <= 1
        dlow, dhigh = diff_interval(x1, n1, x2, n2)
        assert dlow[0] <= x1 / n1 - x2 / n2 <= dhigh[0]


def test_docstring_examples_run():
    assert doctest.testmod(stats).failed == 0
