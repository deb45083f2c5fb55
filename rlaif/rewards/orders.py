"""The one rule for a pair judged in both orders: a side wins only when both orders agree.

Position bias is the strongest bias of pairwise judges, so every comparison is asked twice, the answers
swapped. Both probabilities are in the same answer's terms: P(answer is better) when it is shown as A, and
when it is shown as B. Both above 0.5: a win; both below: a loss; anything else (the orders disagree, or
either is exactly 0.5, a non-verdict) is a tie, decided by position rather than quality. The training reward's
``position_consistency`` (:mod:`rlaif.rewards.preference`), the judge evaluation's ``swap_consistency``
(:mod:`rlaif.evaluation.stats`) and the adapter evaluation's win / loss / tie
(:mod:`rlaif.evaluation.adapter_eval`) all read this rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Outcome = Literal["win", "loss", "tie"]


def outcome(as_a: float, as_b: float) -> Outcome:
    """``win`` / ``loss`` when both orders favour / disfavour the answer, else ``tie``."""
    if as_a > 0.5 and as_b > 0.5:
        return "win"
    if as_a < 0.5 and as_b < 0.5:
        return "loss"
    return "tie"


def agree(as_a: float, as_b: float) -> bool:
    """Both orders pick the same winner (the verdict survives swapping the answers)."""
    return outcome(as_a, as_b) != "tie"


def consistency(orders: Sequence[tuple[float, float]]) -> float | None:
    """The share of pairs whose two orders :func:`agree`; None when there are none."""
    if not orders:
        return None
    return sum(agree(as_a, as_b) for as_a, as_b in orders) / len(orders)
