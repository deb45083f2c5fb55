"""The one percentile definition rlaif reports with: numpy's default quantile.

Linear interpolation between order statistics, at position (n - 1)·q of the sorted values, so the median of
an even count is the mean of the middle two. Judge latency p50/p95 (:mod:`rlaif.judges._metrics`), the
evaluation statistics and their bootstrap intervals, step-timing medians, monitoring signals, jury medians
and the benchmarks all call these two functions, so a p50 in one report is the median in another. It lives
in ``rlaif.judges``, the lowest layer that needs it, so every user imports it without climbing a layer.
"""

from __future__ import annotations

from collections.abc import Iterable


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-quantile (q in [0, 1]) of ``values``; None when there are none."""
    import numpy as np  # imported here: a caller that never takes a percentile does not pay for numpy

    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be in [0, 1], got {q}")
    floats = [float(v) for v in values]
    return float(np.quantile(floats, q)) if floats else None


def median(values: Iterable[float]) -> float | None:
    """The 0.5-quantile (:func:`percentile`); None when there are no values."""
    return percentile(values, 0.5)
