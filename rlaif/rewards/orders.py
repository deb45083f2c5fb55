"""The orders answers are shown to a judge in, and the one rule for a pair judged in both orders: a side wins only
when both orders agree.

Position bias is the strongest bias of judges comparing answers. Showing each answer at every position equally often
cancels any effect of the position alone (:func:`shown_orders`): for a pair that is the two orders, so every
pairwise comparison is asked twice, the answers swapped. Both probabilities are in the same answer's terms: P(answer
is better) when it is shown as A, and when it is shown as B. Both above 0.5: a win; both below: a loss; anything
else (the orders disagree, or either is exactly 0.5, a non-verdict) is a tie, decided by position rather than
quality. The training reward's ``position_consistency`` (:mod:`rlaif.rewards.preference`), the judge evaluation's
``swap_consistency`` (:mod:`rlaif.evaluation.stats`) and the adapter evaluation's win / loss / tie
(:mod:`rlaif.evaluation.adapter_eval`) all read this rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from rlaif.rewards.correlation import kendall_tau

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


OrderSet = Literal["as_listed", "both", "cyclic"]


def shown_orders(orders: OrderSet, n: int) -> dict[str, list[int]]:
    """The orders ``n`` answers are shown in, by name: for each, the answer (its index) at each position.

    - ``as_listed``: one order; nothing is cancelled.
    - ``both``: as listed and reversed. The answer at position p also sits at n-1-p, so a position effect b(p)
      cancels when b(p) + b(n-1-p) is the same for every p: one that changes linearly from first to last. For
      n >= 3 one favouring the first place alone (primacy), or both ends, or the middle, does not cancel.
    - ``cyclic``: the n rotations (a cyclic Latin square): every answer sits at every position once, so any
      effect of the position alone cancels, at n requests. What it leaves: effects of which answer sits next to
      which.

    For n = 2 ``both`` and ``cyclic`` are the same two orders, and they cancel any position effect.
    """
    listed = list(range(n))
    if n < 2 or orders == "as_listed":
        return {"as_listed": listed}
    if orders == "both" or n == 2:
        return {"as_listed": listed, "reversed": listed[::-1]}
    return {("as_listed" if r == 0 else f"rotated_{r}"): listed[r:] + listed[:r] for r in range(n)}


def agreement(scores: Sequence[Sequence[float]]) -> float | None:
    """The mean Kendall's tau (:func:`rlaif.rewards.correlation.kendall_tau`) over every two of the orders' scores
    (each a score per answer); None when fewer than two orders or no pair of orders has a defined tau."""
    taus = [
        tau
        for i in range(len(scores))
        for j in range(i + 1, len(scores))
        if (tau := kendall_tau(scores[i], scores[j])) is not None
    ]
    return sum(taus) / len(taus) if taus else None
