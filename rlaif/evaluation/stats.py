"""Statistics for proving a judge against labelled data: agreement, κ, AUC, intervals, swap consistency.

Each number comes from a library; what rlaif adds is its contract for its callers (None where a statistic is
undefined, where the library returns nan, warns or raises):

- agreement: :func:`sklearn.metrics.accuracy_score` (the share of rows where the two raters match);
- Cohen's κ: :func:`sklearn.metrics.cohen_kappa_score`, None with no rows or when chance explains everything;
- AUC: :func:`sklearn.metrics.roc_auc_score`, None with one class (scikit-learn raises);
- ROC points: :func:`sklearn.metrics.roc_curve` with ``drop_intermediate=False`` (one point per distinct score);
- Wilson interval: :meth:`scipy.stats.binomtest(...).proportion_ci <scipy.stats._result_classes.BinomTestResult>`
  with ``method="wilson"``;
- bootstrap intervals: a percentile bootstrap on numpy (``numpy.random.default_rng(seed)`` draws the row indices,
  :func:`numpy.quantile` with ``method="linear"``, numpy's default and rlaif's one percentile,
  :mod:`rlaif.judges.quantiles`). Not :func:`scipy.stats.bootstrap`: its percentile interval is nan as soon as one
  resample has no value (κ or AUC of a resample that drew one class only), where rlaif skips that resample. The
  resamples' κ and AUC are computed for all resamples at once (:func:`kappa_rows`, :func:`auc_rows`: the same
  numbers as scikit-learn's, checked against it), since one scikit-learn call per resample is ~1 ms;
- Kendall's τ and Spearman's ρ: :mod:`rlaif.rewards.correlation` (scipy's);
- swap consistency: rlaif's own rule for a pair judged in both orders (:mod:`rlaif.rewards.orders`);
- the calibration table: equal-width bins with their counts, plain Python.

Labels are booleans (True = pass / preferred as expected); scores are P(pass) in [0, 1]. scikit-learn and scipy
are imported on first use: ``rlaif.train`` loads this module with the canaries, and their ~2 s of import belong to
the first check, not to every start (canaries=off never pays them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

# Re-exported: the statistics report percentiles by rlaif's one definition (judge latency p50/p95 use it too).
from rlaif.judges.quantiles import percentile
from rlaif.rewards.orders import consistency

__all__ = [
    "agreement",
    "agreement_ci",
    "auc_ci",
    "bootstrap_ci",
    "calibration",
    "cohen_kappa",
    "kappa_ci",
    "mean_ci",
    "percentile",
    "roc_auc",
    "roc_points",
    "swap_consistency",
    "wilson_interval",
]


def _check_pairs(labels: Sequence[object], other: Sequence[object]) -> None:
    if len(labels) != len(other):
        raise ValueError(f"{len(labels)} labels but {len(other)} predictions/scores")


def agreement(labels: Sequence[bool], predictions: Sequence[bool]) -> float:
    """Fraction of rows where the prediction equals the label; raises ValueError when there are no rows."""
    from sklearn.metrics import accuracy_score  # on first use (module docstring)

    _check_pairs(labels, predictions)
    if not labels:
        raise ValueError("agreement of zero rows is undefined")
    return float(accuracy_score([bool(y) for y in labels], [bool(p) for p in predictions]))


def cohen_kappa(labels: Sequence[bool], predictions: Sequence[bool]) -> float | None:
    """Cohen's κ = (p_o - p_e) / (1 - p_e); None when undefined (no rows, or expected agreement 1)."""
    from sklearn.metrics import cohen_kappa_score  # on first use (module docstring)

    _check_pairs(labels, predictions)
    ys, ps = [bool(y) for y in labels], [bool(p) for p in predictions]
    # Both raters constant and equal: chance already explains everything, κ is 0/0 (scikit-learn's nan).
    if not ys or len(set(ys) | set(ps)) == 1:
        return None
    return float(cohen_kappa_score(ys, ps, labels=[False, True]))


def _two_classes(labels: Sequence[bool]) -> bool:
    return len({bool(y) for y in labels}) == 2


def roc_auc(labels: Sequence[bool], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve: the probability that a pass outscores a fail (ties count 1/2); None when one
    class is absent."""
    from sklearn.metrics import roc_auc_score  # on first use (module docstring)

    _check_pairs(labels, scores)
    if not _two_classes(labels):
        return None
    return float(roc_auc_score([bool(y) for y in labels], [float(s) for s in scores]))


def roc_points(labels: Sequence[bool], scores: Sequence[float]) -> list[tuple[float, float]]:
    """ROC curve as (false-positive rate, true-positive rate), from (0, 0) to (1, 1).

    One point per distinct score used as the threshold (score ≥ threshold ⇒ pass), highest first.
    Empty when one class is absent: there is no curve to draw.
    """
    from sklearn.metrics import roc_curve  # on first use (module docstring)

    _check_pairs(labels, scores)
    if not _two_classes(labels):
        return []
    fpr, tpr, _ = roc_curve([bool(y) for y in labels], [float(s) for s in scores], drop_intermediate=False)
    return [(float(x), float(y)) for x, y in zip(fpr, tpr, strict=True)]


def calibration(labels: Sequence[bool], scores: Sequence[float], bins: int = 10) -> list[tuple[float, float, int]]:
    """Reliability table: (mean score, observed pass rate, count) per non-empty equal-width bin of [0, 1].

    Bin k holds scores in [k/bins, (k+1)/bins); a score of exactly 1 falls in the last bin, and scores
    outside [0, 1] are clamped into the end bins.
    """
    _check_pairs(labels, scores)
    if bins < 1:
        raise ValueError("bins must be at least 1")
    sums: list[list[float]] = [[0.0, 0.0, 0] for _ in range(bins)]
    for y, s in zip(labels, scores, strict=True):
        k = min(max(math.floor(float(s) * bins), 0), bins - 1)
        sums[k][0] += float(s)
        sums[k][1] += 1.0 if y else 0.0
        sums[k][2] += 1
    return [(total / count, passes / count, int(count)) for total, passes, count in sums if count]


def bootstrap_ci(
    statistic: Callable[[np.ndarray], np.ndarray],
    n: int,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of `statistic` over `n` rows.

    `statistic` receives every resample at once: a (resamples, n) array of row indices drawn with replacement by
    ``numpy.random.default_rng(seed)``; it returns one value per resample, nan where it is undefined on that
    resample (e.g. κ with one class): those resamples are skipped. None if n == 0 or no resample gives a value.
    Deterministic for a given seed.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n <= 0 or resamples <= 0:
        return None
    draws = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    values = np.asarray(statistic(draws), dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None
    tail = (1.0 - level) / 2
    low, high = np.quantile(values, [tail, 1.0 - tail], method="linear")
    return (float(low), float(high))


def mean_ci(
    values: Sequence[float], resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float] | None:
    """:func:`bootstrap_ci` of the mean of ``values``; None when there are none."""
    data = np.asarray(values, dtype=float)
    return bootstrap_ci(lambda draws: data[draws].mean(axis=1), len(data), resamples, seed, level)


def agreement_ci(
    labels: Sequence[bool], predictions: Sequence[bool], resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float] | None:
    """:func:`bootstrap_ci` of :func:`agreement` (rows resampled)."""
    _check_pairs(labels, predictions)
    return mean_ci(
        [float(bool(y) == bool(p)) for y, p in zip(labels, predictions, strict=True)], resamples, seed, level
    )


def kappa_ci(
    labels: Sequence[bool], predictions: Sequence[bool], resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float] | None:
    """:func:`bootstrap_ci` of :func:`cohen_kappa` (rows resampled; a resample where κ is undefined is skipped)."""
    return _rows_ci(kappa_rows, labels, predictions, bool, resamples, seed, level)


def auc_ci(
    labels: Sequence[bool], scores: Sequence[float], resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float] | None:
    """:func:`bootstrap_ci` of :func:`roc_auc` (rows resampled; a resample with one class is skipped)."""
    return _rows_ci(auc_rows, labels, scores, float, resamples, seed, level)


def _rows_ci(
    of_rows: Callable[[np.ndarray, np.ndarray], np.ndarray],
    labels: Sequence[bool],
    other: Sequence[bool] | Sequence[float],
    dtype: type,
    resamples: int,
    seed: int,
    level: float,
) -> tuple[float, float] | None:
    """:func:`bootstrap_ci` of a statistic of (labels, ``other``) computed for every resample at once by
    ``of_rows`` (:func:`kappa_rows`, :func:`auc_rows`), ``other`` as an array of ``dtype``."""
    _check_pairs(labels, other)
    ys = np.asarray(labels, dtype=bool)
    xs: np.ndarray = np.asarray(other, dtype=dtype)
    return bootstrap_ci(lambda draws: of_rows(ys[draws], xs[draws]), len(ys), resamples, seed, level)


# The resamples' κ and AUC, a thousand at a time: scikit-learn's functions take one sample per call (about 1 ms
# each, most of it input checks), which made a judge evaluation's intervals 80 times slower. These compute the
# same numbers for every row of a 2-D array (tests/test_judge_stats.py checks them against scikit-learn).


def kappa_rows(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """:func:`sklearn.metrics.cohen_kappa_score` of each row; nan where it is undefined (expected agreement 1)."""
    observed = (labels == predictions).mean(axis=1)
    label_pass, predicted_pass = labels.mean(axis=1), predictions.mean(axis=1)
    expected = label_pass * predicted_pass + (1 - label_pass) * (1 - predicted_pass)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isclose(expected, 1.0), np.nan, (observed - expected) / (1 - expected))


def auc_rows(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """:func:`sklearn.metrics.roc_auc_score` of each row, by the Mann–Whitney U of the row's ranks
    (:func:`scipy.stats.rankdata`, ties sharing their mean rank); nan where the row has one class."""
    from scipy.stats import rankdata  # on first use (module docstring)

    passes = labels.sum(axis=1)
    fails = labels.shape[1] - passes
    u = (rankdata(scores, axis=1) * labels).sum(axis=1) - passes * (passes + 1) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((passes == 0) | (fails == 0), np.nan, u / (passes * fails))


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0, 1) when n == 0.

    Unlike the normal approximation it stays inside [0, 1] and is informative at 0 successes, which is
    exactly the case of a judge that passed none of an adversarial category.
    """
    from scipy.stats import binomtest  # on first use (module docstring)

    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n == 0:
        return (0.0, 1.0)
    interval = binomtest(successes, n).proportion_ci(confidence_level=level, method="wilson")
    return (float(interval.low), float(interval.high))


def swap_consistency(orders: Sequence[tuple[float, float]]) -> float | None:
    """Fraction of pairs whose verdict survives swapping the order; None if there are none.

    Each item is (P(A better) with A shown first, P(A better) with A shown second), both already in A's
    terms. Consistent when both are > 0.5 or both are < 0.5; an exact 0.5 on either side is a non-verdict
    and counts as inconsistent (:func:`rlaif.rewards.orders.agree`).
    """
    return consistency(orders)  # the rule the training reward and the adapter evaluation use (rewards.orders)
