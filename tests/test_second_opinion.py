"""The one statistic every second opinion reports against the training judge (rlaif.evaluation.second_opinion):
judge_eval's second judge, evaluate's judges, the judged monitor and the canaries all read agreement_with."""

from __future__ import annotations

import math

import pytest

from rlaif.evaluation.second_opinion import agreement_with, positive_class, verdict_rule
from rlaif.monitoring.signals import group_agreement


def test_items_both_scored_are_compared_and_the_rest_left_out() -> None:
    training = [0.9, 0.8, 0.2, 0.1, None, 0.7]
    second = [0.7, 0.6, 0.4, 0.3, 0.9, math.nan]  # row 4: training failed; row 5: the second judge failed
    agreed = agreement_with(training, second, resamples=200)
    assert agreed.n == 4 and agreed.agreement == 1.0 and agreed.kappa == pytest.approx(1.0)
    assert agreed.spearman == pytest.approx(1.0) and agreed.groups is None
    assert agreed.spearman_ci is not None and agreed.spearman_ci[1] == pytest.approx(1.0)
    assert agreed.as_dict()["spearman_ci"] == list(agreed.spearman_ci)


def test_undefined_statistics_are_none_never_zero() -> None:
    # Both judges pass everything: the same verdicts, but κ (chance explains it) and ρ (constant) are undefined.
    agreed = agreement_with([0.9, 0.9, 0.9], [0.8, 0.8, 0.8])
    assert agreed.agreement == 1.0 and agreed.kappa is None and agreed.spearman is None and agreed.spearman_ci is None
    nothing = agreement_with([None, 0.5], [0.5, None])
    assert nothing.n == 0 and nothing.agreement is None and nothing.kappa is None and nothing.spearman is None
    with pytest.raises(ValueError):
        agreement_with([0.1, 0.2], [0.3])


def test_pairs_count_a_tie_as_its_own_verdict() -> None:
    rule = verdict_rule(pairwise=True)
    assert [rule(p) for p in (0.9, 0.5, 0.1)] == ["a", "tie", "b"] and positive_class(True) == "a"
    agreed = agreement_with([0.9, 0.5, 0.1, 0.2], [0.8, 0.5, 0.6, 0.3], verdict=rule, positive="a", resamples=0)
    assert agreed.agreement == 0.75  # a=a, tie=tie, b≠a, b=b


def test_within_groups_it_is_the_monitors_judge_agreement() -> None:
    # Group g1 ranks alike (+1), g2 opposite (-1), g3 has one scored pair only (no rho): the mean over g1, g2.
    pairs = {
        "g1": [(0.1, 0.2), (0.5, 0.6), (0.9, 0.7)],
        "g2": [(0.1, 0.9), (0.8, 0.3)],
        "g3": [(0.4, 0.5), (None, 1.0)],
    }
    keys = [k for k, ps in pairs.items() for _ in ps]
    flat = [p for ps in pairs.values() for p in ps]
    agreed = agreement_with([a for a, _ in flat], [b for _, b in flat], groups=keys, resamples=100)
    assert agreed.groups == 2 and agreed.spearman == pytest.approx(0.0)
    assert group_agreement(pairs) == agreed.spearman
    assert agreed.spearman_ci is not None and agreed.spearman_ci[0] <= 0.0 <= agreed.spearman_ci[1]
