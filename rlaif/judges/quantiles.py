"""The one percentile definition rlaif reports with: numpy's default quantile, in plain Python.

Linear interpolation between order statistics, at position (n - 1)·q of the sorted values, so the median of
an even count is the mean of the middle two. Judge latency p50/p95 (:mod:`rlaif.judges._metrics`), the
evaluation statistics, step-timing medians, monitoring signals, jury medians
and the benchmarks all call these two functions, so a p50 in one report is the median in another. It lives
in ``rlaif.judges``, the lowest layer that needs it, so every user imports it without climbing a layer.

Plain Python, not ``numpy.quantile``: the Nova reward Lambda (scripts/package_nova_lambda.sh) ships without
numpy and takes a jury's median, and judge latency p50/p95 (:mod:`rlaif.judges._metrics`) are on its import path
too. The arithmetic is numpy's own (its ``_lerp``), so the values are the same to the bit
(tests/judges/test_quantiles.py compares them); where numpy is loaded anyway (the bootstrap intervals of
:mod:`rlaif.evaluation.stats`) ``numpy.quantile(..., method="linear")`` is called directly: the same definition.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-quantile (q in [0, 1]) of ``values``; None when there are none."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be in [0, 1], got {q}")
    ordered = sorted(float(v) for v in values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    t = position - low
    a, b = ordered[low], ordered[high]
    # numpy's _lerp: from the nearer end, which keeps the result monotonic in t and exact at t = 1.
    return a + (b - a) * t if t < 0.5 else b - (b - a) * (1.0 - t)


def median(values: Iterable[float]) -> float | None:
    """The 0.5-quantile (:func:`percentile`); None when there are no values."""
    return percentile(values, 0.5)
