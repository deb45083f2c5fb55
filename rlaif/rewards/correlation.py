"""Rank correlations, from scipy: Spearman's ρ (:func:`scipy.stats.spearmanr`) and Kendall's τ-b
(:func:`scipy.stats.kendalltau`, ties on either side as its ``variant="b"``).

rlaif's contract on top of scipy's: None where the correlation is undefined (fewer than two items, or either side
constant), where scipy returns nan with a warning; a ValueError when the two sides differ in length. Here, in the
rewards layer, because the rewards read them (the group reward's order agreement, the length Spearman) as well as
the judge evaluation and the monitor above them.

scipy is imported on first use, not with this module: ``rlaif.train`` loads it (the canaries, the group reward) and
should not pay scipy.stats' second of import before anything is measured, and the Nova reward Lambda, which ships
without scipy, imports it with the reward module (:mod:`rlaif.rewards.step_log`) and never computes one.
"""

from __future__ import annotations

from collections.abc import Sequence


def _defined(name: str, x: Sequence[float], y: Sequence[float]) -> bool:
    if len(x) != len(y):
        raise ValueError(f"{name}: {len(x)} and {len(y)} values")
    return len(x) >= 2 and len(set(x)) > 1 and len(set(y)) > 1


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation (ties share their mean rank); None when either side is constant or has fewer
    than two values."""
    if not _defined("spearman", x, y):
        return None
    from scipy.stats import spearmanr  # on first use (module docstring)

    return float(spearmanr(x, y).statistic)


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b between two scorings of the same items; None when either side is constant or there are
    fewer than two items.

    The group reward (:mod:`rlaif.rewards.group`) reads its two orders' agreement with it, and the judge
    evaluation a judged group's agreement with its known order.
    """
    if not _defined("kendall_tau", x, y):
        return None
    from scipy.stats import kendalltau  # on first use (module docstring)

    return float(kendalltau(x, y).statistic)
