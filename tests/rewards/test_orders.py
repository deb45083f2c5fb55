"""rlaif.rewards.orders: the one rule for a pair judged in both orders (training, judge eval, adapter eval)."""

from __future__ import annotations

import pytest

from rlaif.evaluation.stats import swap_consistency
from rlaif.rewards.orders import agree, consistency, outcome


@pytest.mark.parametrize(
    ("as_a", "as_b", "expected"),
    [
        (0.9, 0.8, "win"),  # both orders favour the answer
        (0.2, 0.1, "loss"),  # both favour the opponent
        (0.9, 0.3, "tie"),  # the orders disagree: position decided
        (0.5, 0.9, "tie"),  # an exact 0.5 is no verdict
        (0.1, 0.5, "tie"),
    ],
)
def test_a_side_wins_only_when_both_orders_agree(as_a: float, as_b: float, expected: str) -> None:
    assert outcome(as_a, as_b) == expected
    assert agree(as_a, as_b) is (expected != "tie")


def test_consistency_is_the_share_of_agreeing_pairs_and_the_evaluations_use_it() -> None:
    pairs = [(0.9, 0.8), (0.2, 0.1), (0.9, 0.3), (0.5, 0.9)]
    assert consistency(pairs) == swap_consistency(pairs) == 0.5
    assert consistency([]) is None and swap_consistency([]) is None
