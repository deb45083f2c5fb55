"""Judge statistics against values computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import itertools

import pytest

from rlaif.evaluation.stats import (
    agreement,
    bootstrap_ci,
    calibration,
    cohen_kappa,
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


@pytest.mark.parametrize(
    ("labels", "predictions", "expected"),
    [
        # p_o = 8/10; p_e = .5·.5 + .5·.5 = .5; κ = (.8 - .5) / .5 = .6
        ([T, T, T, T, T, F, F, F, F, F], [T, T, T, T, F, T, F, F, F, F], 0.6),
        # p_o = 3/4; labels pass 3/4, predictions pass 2/4; p_e = 3/8 + 1/8 = 1/2; κ = .25 / .5 = .5
        ([T, T, T, F], [T, T, F, F], 0.5),
        # p_o = 7/10; p_e = .4·.5 + .6·.5 = .5; κ = .2 / .5 = .4
        ([T, T, T, T, F, F, F, F, F, F], [T, T, T, F, T, T, F, F, F, F], 0.4),
        # p_o = 0; p_e = .5; κ = -.5 / .5 = -1
        ([T, F], [F, T], -1.0),
        # labels constant, predictions half: p_o = .5, p_e = 1·.5 + 0 = .5, κ = 0
        ([T, T, T, T], [T, T, F, F], 0.0),
    ],
)
def test_cohen_kappa_matches_hand_computation(labels: list[bool], predictions: list[bool], expected: float) -> None:
    assert cohen_kappa(labels, predictions) == pytest.approx(expected)


def test_cohen_kappa_is_none_when_undefined() -> None:
    # both raters say pass every time: p_e = 1, κ = 0/0
    assert cohen_kappa([T, T, T], [T, T, T]) is None
    assert cohen_kappa([F, F], [F, F]) is None
    assert cohen_kappa([], []) is None


def test_roc_auc_is_the_mann_whitney_probability() -> None:
    # passes {.9, .4} vs fails {.6, .1}: .9>.6, .9>.1, .4<.6, .4>.1 → 3/4
    assert roc_auc([T, T, F, F], [0.9, 0.4, 0.6, 0.1]) == pytest.approx(0.75)


def test_roc_auc_counts_ties_as_half() -> None:
    # passes {.5, .8} vs fails {.5, .2}: tie .5=.5 → ½, the other three pairs win → 3.5/4
    assert roc_auc([T, F, T, F], [0.5, 0.5, 0.8, 0.2]) == pytest.approx(0.875)
    assert roc_auc([T, F, T, F], [0.3, 0.3, 0.3, 0.3]) == pytest.approx(0.5)
    # perfectly inverted scores
    assert roc_auc([T, T, F], [0.1, 0.2, 0.9]) == pytest.approx(0.0)


def test_roc_auc_is_none_with_one_class() -> None:
    assert roc_auc([T, T], [0.1, 0.9]) is None
    assert roc_auc([], []) is None


def test_roc_points_walk_from_origin_to_one_one() -> None:
    # thresholds high→low: .9 (pass) → (0, .5); .6 (fail) → (.5, .5); .4 (pass) → (.5, 1); .1 (fail) → (1, 1)
    points = roc_points([T, T, F, F], [0.9, 0.4, 0.6, 0.1])
    assert points == [(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]
    assert roc_points([T, T], [0.2, 0.3]) == []


def test_area_under_roc_points_equals_roc_auc_with_ties() -> None:
    labels = [T, F, T, F, T, F, F]
    scores = [0.9, 0.9, 0.5, 0.4, 0.4, 0.1, 0.6]
    points = roc_points(labels, scores)
    area = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in itertools.pairwise(points))
    assert area == pytest.approx(roc_auc(labels, scores))


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
    # The statistic ignores the indices and returns 0, 1, …, 999 in turn: the 95% interval is the
    # 2.5th and 97.5th percentiles of 0..999, positions 999·.025 = 24.975 and 999·.975 = 974.025.
    counter = iter(range(1000))
    interval = bootstrap_ci(lambda _indices: float(next(counter)), n=5, resamples=1000)
    assert interval == pytest.approx((24.975, 974.025))


def test_bootstrap_ci_skips_undefined_resamples() -> None:
    # Odd calls are undefined: the values are 0, 2, …, 998 (500 of them); positions 499·.025 = 12.475
    # and 499·.975 = 486.525, i.e. 24.95 and 973.05.
    counter = iter(range(1000))

    def every_other(_indices: object) -> float | None:
        k = next(counter)
        return None if k % 2 else float(k)

    assert bootstrap_ci(every_other, n=5, resamples=1000) == pytest.approx((24.95, 973.05))
    assert bootstrap_ci(lambda _indices: None, n=5, resamples=10) is None
    assert bootstrap_ci(lambda _indices: 1.0, n=0) is None


def test_bootstrap_ci_resamples_row_indices_with_replacement_deterministically() -> None:
    seen: list[list[int]] = []

    def record(indices: object) -> float:
        seen.append(list(indices))  # type: ignore[call-overload]
        return 0.0

    bootstrap_ci(record, n=6, resamples=50, seed=3)
    assert all(len(draw) == 6 and all(0 <= i < 6 for i in draw) for draw in seen)
    assert any(len(set(draw)) < 6 for draw in seen)  # with replacement: some rows repeat
    first = list(seen)
    seen.clear()
    bootstrap_ci(record, n=6, resamples=50, seed=3)
    assert seen == first
    seen.clear()
    bootstrap_ci(record, n=6, resamples=50, seed=4)
    assert seen != first


def test_bootstrap_ci_of_a_mean_is_near_the_normal_interval() -> None:
    # 70 ones in 100: standard error sqrt(.7·.3/100) ≈ .046, so the 95% interval is about .70 ± .09.
    data = [1.0] * 70 + [0.0] * 30
    interval = bootstrap_ci(lambda idx: sum(data[i] for i in idx) / len(idx), n=len(data), resamples=2000)
    assert interval is not None
    low, high = interval
    assert 0.58 < low < 0.66 and 0.74 < high < 0.82


@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [
        # z = 1.959964, z² = 3.841459. 0/10: upper = (z²/n) / (1 + z²/n) = .3841459 / 1.3841459 = .277532
        (0, 10, (0.0, 0.277532)),
        # 5/10: centre .5; half = z/1.3841459 · sqrt(.025 + z²/400) = 1.416013 · .186020 = .263406
        (5, 10, (0.236594, 0.763406)),
        # 10/10 mirrors 0/10: lower = 1 - .277532
        (10, 10, (0.722468, 1.0)),
        # 0/100: upper = .03841459 / 1.03841459 = .036993
        (0, 100, (0.0, 0.036993)),
    ],
)
def test_wilson_interval_matches_hand_computation(successes: int, n: int, expected: tuple[float, float]) -> None:
    assert wilson_interval(successes, n) == pytest.approx(expected, abs=1e-6)


def test_wilson_interval_edge_cases() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)
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
