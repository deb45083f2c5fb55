"""Statistics for proving a judge against labelled data: agreement, κ, AUC, intervals, swap consistency.

Plain formulas (math, random, statistics) so the numbers can be checked by hand; percentiles (bootstrap
intervals too) are rlaif's one definition, :mod:`rlaif.judges.quantiles`. Labels are booleans (True = pass /
preferred as expected); scores are P(pass) in [0, 1].
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from statistics import NormalDist

# Re-exported: the statistics report percentiles by rlaif's one definition (judge latency p50/p95 use it too).
from rlaif.judges.quantiles import percentile
from rlaif.rewards.orders import consistency

__all__ = [
    "agreement",
    "bootstrap_ci",
    "calibration",
    "cohen_kappa",
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
    _check_pairs(labels, predictions)
    if not labels:
        raise ValueError("agreement of zero rows is undefined")
    return sum(bool(y) == bool(p) for y, p in zip(labels, predictions, strict=True)) / len(labels)


def cohen_kappa(labels: Sequence[bool], predictions: Sequence[bool]) -> float | None:
    """Cohen's κ = (p_o - p_e) / (1 - p_e); None when undefined (no rows, or expected agreement 1)."""
    _check_pairs(labels, predictions)
    n = len(labels)
    if n == 0:
        return None
    observed = agreement(labels, predictions)
    label_pass = sum(bool(y) for y in labels) / n
    predicted_pass = sum(bool(p) for p in predictions) / n
    expected = label_pass * predicted_pass + (1 - label_pass) * (1 - predicted_pass)
    # Both raters constant and equal: chance already explains everything, κ is 0/0.
    if math.isclose(expected, 1.0):
        return None
    return (observed - expected) / (1 - expected)


def roc_auc(labels: Sequence[bool], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve as the Mann–Whitney probability that a pass outscores a fail (ties count 1/2).

    None when one class is absent. Computed by sweeping distinct scores in ascending order, so it is
    O(n log n) and exact for ties.
    """
    _check_pairs(labels, scores)
    positives = sum(bool(y) for y in labels)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    wins = 0.0
    negatives_below = 0
    for group_pos, group_neg in _score_groups(labels, scores, descending=False):
        wins += group_pos * (negatives_below + group_neg / 2)
        negatives_below += group_neg
    return wins / (positives * negatives)


def _score_groups(labels: Sequence[bool], scores: Sequence[float], descending: bool) -> list[tuple[int, int]]:
    """(passes, fails) for each distinct score, in score order."""
    counts: dict[float, list[int]] = {}
    for y, s in zip(labels, scores, strict=True):
        counts.setdefault(float(s), [0, 0])[0 if y else 1] += 1
    return [(counts[s][0], counts[s][1]) for s in sorted(counts, reverse=descending)]


def roc_points(labels: Sequence[bool], scores: Sequence[float]) -> list[tuple[float, float]]:
    """ROC curve as (false-positive rate, true-positive rate), from (0, 0) to (1, 1).

    One point per distinct score used as the threshold (score ≥ threshold ⇒ pass), highest first.
    Empty when one class is absent: there is no curve to draw.
    """
    _check_pairs(labels, scores)
    positives = sum(bool(y) for y in labels)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return []
    points = [(0.0, 0.0)]
    tp = fp = 0
    for group_pos, group_neg in _score_groups(labels, scores, descending=True):
        tp += group_pos
        fp += group_neg
        points.append((fp / negatives, tp / positives))
    return points


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
    statistic: Callable[[Sequence[int]], float | None],
    n: int,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of `statistic` over `n` rows.

    `statistic` receives the resampled row indices (drawn with replacement, n of them) and returns the
    value or None where it is undefined on that resample (e.g. κ with one class); those resamples are
    skipped. None if n == 0 or no resample gives a value. Deterministic for a given seed.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n <= 0 or resamples <= 0:
        return None
    rng = random.Random(seed)
    population = range(n)
    values: list[float] = []
    for _ in range(resamples):
        value = statistic(rng.choices(population, k=n))
        if value is not None:
            values.append(float(value))
    if not values:
        return None
    tail = (1.0 - level) / 2
    low = percentile(values, tail)
    high = percentile(values, 1.0 - tail)
    assert low is not None and high is not None  # values is non-empty
    return (low, high)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0, 1) when n == 0.

    Unlike the normal approximation it stays inside [0, 1] and is informative at 0 successes, which is
    exactly the case of a judge that passed none of an adversarial category.
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n == 0:
        return (0.0, 1.0)
    z = NormalDist().inv_cdf(1.0 - (1.0 - level) / 2)
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # Clamp floating-point dust: at 0 (or n) successes the bound is exactly 0 (or 1).
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def swap_consistency(orders: Sequence[tuple[float, float]]) -> float | None:
    """Fraction of pairs whose verdict survives swapping the order; None if there are none.

    Each item is (P(A better) with A shown first, P(A better) with A shown second), both already in A's
    terms. Consistent when both are > 0.5 or both are < 0.5; an exact 0.5 on either side is a non-verdict
    and counts as inconsistent (:func:`rlaif.rewards.orders.agree`).
    """
    return consistency(orders)  # the rule the training reward and the adapter evaluation use (rewards.orders)
