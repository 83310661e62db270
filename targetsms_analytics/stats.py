"""Intervals and tests for delivery rates: Wilson score intervals and two-proportion z-tests.

Pure and vectorized (numpy arrays in, arrays out); counts of 0 give NaN, never an error. The
normal quantile for 95 % and the normal tail come from the standard library (``statistics`` and
``math.erfc``), so no statistics package is needed at run time.

Example::

    >>> low, high = wilson_interval([45], [50])
    >>> round(float(low[0]), 4), round(float(high[0]), 4)
    (0.7864, 0.9565)
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np

__all__ = ["Z95", "diff_interval", "two_proportion_p_value", "wilson_interval"]

#: The two-sided 95 % normal quantile, 1.959963984540054.
Z95: float = NormalDist().inv_cdf(0.975)

_erfc = np.frompyfunc(math.erfc, 1, 1)


def _arrays(successes: Any, trials: Any) -> tuple[np.ndarray, np.ndarray]:
    x = np.atleast_1d(np.asarray(successes, dtype=float))
    n = np.atleast_1d(np.asarray(trials, dtype=float))
    return x, n


def wilson_interval(successes: Any, trials: Any, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of ``successes / trials``, element-wise (95 % by default).

    Unlike the textbook ``p ± z·√(p(1-p)/n)`` it stays inside [0, 1] and is honest at 0 % and
    100 % and for small ``n``. ``trials`` of 0 gives NaN for both bounds.

    Example::

        >>> low, high = wilson_interval([0, 10], [10, 10])
        >>> [round(float(v), 4) for v in low], [round(float(v), 4) for v in high]
        ([0.0, 0.7225], [0.2775, 1.0])
    """
    x, n = _arrays(successes, trials)
    low = np.full(np.broadcast(x, n).shape, np.nan)
    high = low.copy()
    ok = n > 0
    x, n = np.broadcast_to(x, low.shape)[ok], np.broadcast_to(n, low.shape)[ok]
    p = x / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # exact at the ends (rounding would leave 2.8e-17 for 0 of n)
    low[ok] = np.where(x == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high[ok] = np.where(x == n, 1.0, np.clip(centre + half, 0.0, 1.0))
    return low, high


def diff_interval(
    x1: Any, n1: Any, x2: Any, n2: Any, z: float = Z95
) -> tuple[np.ndarray, np.ndarray]:
    """95 % interval of ``x1/n1 - x2/n2`` (unpooled normal approximation, Wald), element-wise.

    NaN where either ``n`` is 0.

    Example::

        >>> low, high = diff_interval([90], [100], [80], [100])
        >>> round(float(low[0]), 4), round(float(high[0]), 4)
        (0.002, 0.198)
    """
    a, m = _arrays(x1, n1)
    b, k = _arrays(x2, n2)
    shape = np.broadcast(a, m, b, k).shape
    a, m, b, k = (np.broadcast_to(v, shape) for v in (a, m, b, k))
    low = np.full(shape, np.nan)
    high = low.copy()
    ok = (m > 0) & (k > 0)
    p1, p2 = a[ok] / m[ok], b[ok] / k[ok]
    se = np.sqrt(p1 * (1 - p1) / m[ok] + p2 * (1 - p2) / k[ok])
    low[ok] = p1 - p2 - z * se
    high[ok] = p1 - p2 + z * se
    return low, high


def two_proportion_p_value(x1: Any, n1: Any, x2: Any, n2: Any) -> np.ndarray:
    """Two-sided p-value of the two-proportion z-test with pooled variance, element-wise.

    ``z = (p1 - p2) / √(p(1-p)(1/n1 + 1/n2))`` with ``p = (x1 + x2) / (n1 + n2)``; the p-value is
    ``P(|Z| ≥ |z|)`` for a standard normal Z. NaN where either ``n`` is 0; 1.0 when the pooled
    rate is 0 or 1 (both groups identical, nothing to test). The normal approximation wants about
    5 successes and 5 failures in each group; below that, do not trust it.

    Example::

        >>> round(float(two_proportion_p_value([90], [100], [80], [100])[0]), 4)
        0.0477
    """
    a, m = _arrays(x1, n1)
    b, k = _arrays(x2, n2)
    shape = np.broadcast(a, m, b, k).shape
    a, m, b, k = (np.broadcast_to(v, shape) for v in (a, m, b, k))
    out = np.full(shape, np.nan)
    ok = (m > 0) & (k > 0)
    pooled = (a[ok] + b[ok]) / (m[ok] + k[ok])
    se = np.sqrt(pooled * (1 - pooled) * (1 / m[ok] + 1 / k[ok]))
    diff = a[ok] / m[ok] - b[ok] / k[ok]
    z = np.divide(np.abs(diff), se, out=np.zeros_like(diff), where=se > 0)
    out[ok] = np.asarray(_erfc(z / math.sqrt(2)), dtype=float) if len(z) else z
    return out
