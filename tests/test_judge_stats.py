"""rlaif's contract on top of the statistics libraries (rlaif.evaluation.stats): None where a statistic is undefined,
the bootstrap's percentiles and skipped resamples, the resamples' κ and AUC, swap consistency."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from rlaif.evaluation.stats import (
    agreement,
    agreement_ci,
    auc_ci,
    auc_rows,
    bootstrap_ci,
    calibration,
    cohen_kappa,
    kappa_ci,
    kappa_rows,
    mean_ci,
    percentile,
    roc_auc,
    roc_points,
    swap_consistency,
    wilson_interval,
)

T, F = True, False


def test_agreement_counts_matching_rows() -> None:
    # rows 0 and 2 match, rows 1 and 3 do not: 2/4
    assert agreement([T, T, F, F], [T, F, F, T]) == 0.5
    assert agreement([T, F], [T, F]) == 1.0


def test_agreement_rejects_mismatched_or_empty_input() -> None:
    with pytest.raises(ValueError):
        agreement([T, F], [T])
    with pytest.raises(ValueError):
        agreement([], [])


def test_cohen_kappa_is_none_when_undefined() -> None:
    # both raters say pass every time: p_e = 1, κ = 0/0
    assert cohen_kappa([T, T, T], [T, T, T]) is None
    assert cohen_kappa([F, F], [F, F]) is None
    assert cohen_kappa([], []) is None


def test_roc_auc_is_none_with_one_class() -> None:
    assert roc_auc([T, T], [0.1, 0.9]) is None
    assert roc_auc([], []) is None


def test_roc_points_walk_from_origin_to_one_one() -> None:
    # thresholds high→low: .9 (pass) → (0, .5); .6 (fail) → (.5, .5); .4 (pass) → (.5, 1); .1 (fail) → (1, 1)
    points = roc_points([T, T, F, F], [0.9, 0.4, 0.6, 0.1])
    assert points == [(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]
    assert roc_points([T, T], [0.2, 0.3]) == []


def test_calibration_bins_scores() -> None:
    # bin 0: .05 (pass); bin 1: .15 (fail); bin 9: .92, .98, 1.0 (pass, pass, fail) → mean 2.9/3, rate 2/3
    table = calibration([T, F, T, T, F], [0.05, 0.15, 0.92, 0.98, 1.0], bins=10)
    assert [count for _, _, count in table] == [1, 1, 3]
    assert table[0] == pytest.approx((0.05, 1.0, 1))
    assert table[1] == pytest.approx((0.15, 0.0, 1))
    assert table[2] == pytest.approx((2.9 / 3, 2 / 3, 3))
    with pytest.raises(ValueError):
        calibration([T], [0.5], bins=0)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([4, 1, 3, 2], 0.5, 2.5),  # sorted 1 2 3 4, position 3·.5 = 1.5 → 2 + .5·(3-2)
        ([4, 1, 3, 2], 0.25, 1.75),  # position .75 → 1 + .75·(2-1)
        ([4, 1, 3, 2], 0.0, 1.0),
        ([4, 1, 3, 2], 1.0, 4.0),
        ([7], 0.3, 7.0),
    ],
)
def test_percentile_interpolates_linearly(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_edge_cases() -> None:
    assert percentile([], 0.5) is None
    with pytest.raises(ValueError):
        percentile([1.0], 1.5)


def test_bootstrap_ci_takes_percentiles_of_the_resampled_values() -> None:
    # The statistic ignores the draws and gives 0, 1, …, 999: the 95% interval is the 2.5th and 97.5th
    # percentiles of 0..999, positions 999·.025 = 24.975 and 999·.975 = 974.025.
    interval = bootstrap_ci(lambda draws: np.arange(len(draws), dtype=float), n=5, resamples=1000)
    assert interval == pytest.approx((24.975, 974.025))


def test_bootstrap_ci_skips_undefined_resamples() -> None:
    # Odd resamples are undefined (nan): the values are 0, 2, …, 998 (500 of them); positions 499·.025 = 12.475
    # and 499·.975 = 486.525, i.e. 24.95 and 973.05.
    every_other = np.where(np.arange(1000) % 2, np.nan, np.arange(1000.0))
    assert bootstrap_ci(lambda _draws: every_other, n=5, resamples=1000) == pytest.approx((24.95, 973.05))
    assert bootstrap_ci(lambda draws: np.full(len(draws), np.nan), n=5, resamples=10) is None
    assert bootstrap_ci(lambda draws: np.ones(len(draws)), n=0) is None
    # κ on rows with one class everywhere: every resample undefined, no interval (never a made-up one)
    assert kappa_ci([T, T, T], [T, T, T]) is None and auc_ci([T, T], [0.1, 0.9]) is None


def test_bootstrap_ci_resamples_row_indices_with_replacement_deterministically() -> None:
    seen: list[np.ndarray] = []

    def record(draws: np.ndarray) -> np.ndarray:
        seen.append(draws)
        return np.zeros(len(draws))

    bootstrap_ci(record, n=6, resamples=50, seed=3)
    bootstrap_ci(record, n=6, resamples=50, seed=3)
    bootstrap_ci(record, n=6, resamples=50, seed=4)
    first, again, other = seen
    assert first.shape == (50, 6) and first.min() >= 0 and first.max() < 6
    assert any(len(set(draw)) < 6 for draw in first.tolist())  # with replacement: some rows repeat
    assert (first == again).all() and not (first == other).all()


def test_bootstrap_ci_of_a_mean_is_near_the_normal_interval() -> None:
    # 70 ones in 100: standard error sqrt(.7·.3/100) ≈ .046, so the 95% interval is about .70 ± .09.
    interval = mean_ci([1.0] * 70 + [0.0] * 30, resamples=2000)
    assert interval is not None
    low, high = interval
    assert 0.58 < low < 0.66 and 0.74 < high < 0.82
    assert agreement_ci([T] * 70 + [F] * 30, [T] * 100, resamples=2000) == interval  # agreement is a mean


def test_the_resamples_kappa_and_auc_are_scikit_learns() -> None:
    # kappa_rows and auc_rows are rlaif's own arithmetic (all resamples at once, for speed): each resample's value
    # must be what scikit-learn gives for that resample, ties and one-class resamples included.
    rng = np.random.default_rng(5)
    labels = np.array([T, F, F, T, F, F, F])  # 2 of 7 pass: about 1 resample in 10 draws one class only
    predictions = rng.random(7) < 0.5
    scores = np.round(rng.random(7), 1)
    scores[1] = scores[0]  # a tie across the classes
    draws = rng.integers(0, 7, size=(300, 7))
    kappas = kappa_rows(labels[draws], predictions[draws])
    aucs = auc_rows(labels[draws], scores[draws])
    for row, kappa, auc in zip(draws, kappas, aucs, strict=True):
        ys, ps = labels[row], predictions[row]
        expected_kappa = cohen_kappa(list(ys), list(ps))
        assert (np.isnan(kappa) and expected_kappa is None) or kappa == pytest.approx(expected_kappa, abs=1e-12)
        if len(set(ys)) == 2:
            assert auc == pytest.approx(roc_auc_score(ys, scores[row]), abs=1e-12)
        else:
            assert np.isnan(auc) and roc_auc(list(ys), list(scores[row])) is None
    assert np.isnan(aucs).any() and not np.isnan(aucs).all()  # the one-class case was exercised


def test_wilson_interval_edge_cases() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
    # none of an audit category passed: the bound is exactly 0 (the report's upper_95 is the other end)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    low90, high90 = wilson_interval(3, 20, level=0.90)
    low95, high95 = wilson_interval(3, 20)
    assert low95 < low90 < 3 / 20 < high90 < high95
    with pytest.raises(ValueError):
        wilson_interval(5, 4)
    with pytest.raises(ValueError):
        wilson_interval(1, 4, level=1.0)


def test_swap_consistency() -> None:
    # (.9, .8) both A: consistent; (.2, .1) both B: consistent; (.9, .3) flips; (.5, .9) has no verdict → 2/4
    assert swap_consistency([(0.9, 0.8), (0.2, 0.1), (0.9, 0.3), (0.5, 0.9)]) == 0.5
    assert swap_consistency([(0.6, 0.7)]) == 1.0
    assert swap_consistency([]) is None
