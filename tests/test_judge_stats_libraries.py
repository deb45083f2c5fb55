"""rlaif.evaluation.stats against the libraries: scikit-learn's AUC, ROC curve and κ, scipy's Wilson interval and
percentile bootstrap, on random data with ties and skew. The module stays plain Python (it is checked by hand in
tests/test_judge_stats.py, and the reward Lambda ships without these libraries); these are dev dependencies."""

from __future__ import annotations

import random

import numpy as np
import pytest
from scipy import stats as scipy_stats
from sklearn.metrics import cohen_kappa_score, roc_auc_score, roc_curve

from rlaif.evaluation.stats import bootstrap_ci, cohen_kappa, roc_auc, roc_points, wilson_interval


def _datasets(count: int = 40) -> list[tuple[list[bool], list[float]]]:
    """Labels with a pass rate from 10 to 90 %, scores rounded to 1 or 2 digits (many ties), some informative."""
    rng = random.Random(7)
    out = []
    for _ in range(count):
        n, rate, digits = rng.randint(5, 300), rng.uniform(0.1, 0.9), rng.choice((1, 2))
        labels = [rng.random() < rate for _ in range(n)]
        scores = [round(min(1.0, max(0.0, rng.gauss(0.6 if y else 0.4, 0.25))), digits) for y in labels]
        if len(set(labels)) == 2:
            out.append((labels, scores))
    return out


def test_roc_auc_and_curve_match_scikit_learn() -> None:
    for labels, scores in _datasets():
        assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
        fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
        points = roc_points(labels, scores)
        assert [x for point in points for x in point] == pytest.approx(np.column_stack([fpr, tpr]).ravel(), abs=1e-12)


def test_cohen_kappa_matches_scikit_learn() -> None:
    rng = random.Random(3)
    for labels, scores in _datasets():
        threshold = rng.choice((0.3, 0.5, 0.7))
        predictions = [s >= threshold for s in scores]
        if len(set(labels)) == 2 or len(set(predictions)) == 2:  # κ is defined
            assert cohen_kappa(labels, predictions) == pytest.approx(cohen_kappa_score(labels, predictions), abs=1e-12)


@pytest.mark.parametrize(("successes", "n"), [(0, 10), (1, 10), (5, 10), (10, 10), (37, 120), (999, 1000)])
@pytest.mark.parametrize("level", [0.8, 0.95, 0.99])
def test_wilson_interval_matches_scipy(successes: int, n: int, level: float) -> None:
    expected = scipy_stats.binomtest(successes, n).proportion_ci(confidence_level=level, method="wilson")
    assert wilson_interval(successes, n, level) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_bootstrap_ci_agrees_with_scipys_percentile_bootstrap() -> None:
    # Different random draws, so the same interval up to Monte Carlo error: 5000 resamples of the mean of 200
    # Bernoulli(0.7) rows put each end within ~0.002 (one standard error) of its limit; 0.01 is 5 of them.
    rng = random.Random(11)
    rows = [1.0 if rng.random() < 0.7 else 0.0 for _ in range(200)]
    ours = bootstrap_ci(lambda idx: sum(rows[k] for k in idx) / len(idx), len(rows), resamples=5000, seed=1)
    theirs = scipy_stats.bootstrap(
        (np.array(rows),), np.mean, n_resamples=5000, method="percentile", confidence_level=0.95, random_state=1
    ).confidence_interval
    assert ours is not None
    assert ours == pytest.approx((theirs.low, theirs.high), abs=0.01)
