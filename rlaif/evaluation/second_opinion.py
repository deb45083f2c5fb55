"""How far a second opinion agrees with the training judge: one function, one result, for all four places that ask
one (docs/judging.md, "Second opinions").

- ``rlaif.judge_eval``'s ``second_opinion``: both judges on the labelled items (``cross_judge``);
- ``rlaif.evaluate``'s ``second_opinions.NAME``: each against the training judge on the adapter's and the
  baseline's answers;
- the judged monitor (``monitor.second_opinion``): within each prompt's group of a training step
  (``judge_agreement``);
- the canaries (``canaries.second_opinion``): the training judge on its canary rows now against its own first check.

Their keys are one model, :class:`~rlaif.evaluation.second_opinion_keys.SecondOpinion`.

Each gives the share of items with the same verdict, Cohen's κ of the verdicts (pass, or for pairs ``a``, as the
positive class), and Spearman's ρ of the scores with a percentile bootstrap interval: over all items, or, with
``groups``, within each group and averaged over the groups (GRPO compares a group's answers with each other, never
across groups), the interval then resampling groups. The numbers come from :mod:`rlaif.evaluation.stats` and
:mod:`rlaif.rewards.correlation` (scikit-learn and scipy).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rlaif.evaluation import stats as st
from rlaif.rewards.correlation import spearman
from rlaif.rewards.grades import is_score


@dataclass(frozen=True)
class Agreement:
    """A second opinion against the training judge, on the items both scored."""

    n: int  # items both scored
    agreement: float | None  # share of those items with the same verdict
    kappa: float | None  # Cohen's κ of the verdicts; None when undefined (e.g. both always pass)
    spearman: float | None  # rank correlation of the scores (with groups: the mean over the groups that have one)
    spearman_ci: tuple[float, float] | None  # percentile bootstrap interval (None when resamples is 0)
    groups: int | None = None  # with groups: how many had a ρ (2+ items both scored, neither side constant)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["spearman_ci"] = list(self.spearman_ci) if self.spearman_ci is not None else None
        return out


def verdict_rule(pairwise: bool = False, threshold: float = 0.5) -> Callable[[float], str]:
    """A score's verdict: ``pass``/``fail`` (score >= threshold) or, for pairs (P(a better)), ``a``/``b``/``tie``."""
    if pairwise:
        return lambda score: "a" if score > 0.5 else "b" if score < 0.5 else "tie"
    return lambda score: "pass" if score >= threshold else "fail"


def positive_class(pairwise: bool) -> str:
    """The verdict κ counts as the positive class."""
    return "a" if pairwise else "pass"


def agreement_with(
    training: Sequence[float | None],
    second: Sequence[float | None],
    *,
    verdict: Callable[[float], object] | None = None,
    positive: object = "pass",
    groups: Sequence[Hashable] | None = None,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> Agreement:
    """The second opinion ``second`` against the training judge's ``training`` scores of the same items (None or nan:
    no score; such an item is left out). ``verdict`` maps a score to a verdict (default: pass at 0.5,
    :func:`verdict_rule`); κ takes ``positive`` as the positive class. ``groups`` (one key per item): ρ within each
    group, averaged."""
    verdict = verdict or verdict_rule()
    if len(training) != len(second) or (groups is not None and len(groups) != len(training)):
        counts = f"{len(training)} training scores, {len(second)} second opinions"
        raise ValueError(f"agreement_with: {counts}, {'no' if groups is None else len(groups)} group keys")
    both = [i for i in range(len(training)) if is_score(training[i]) and is_score(second[i])]
    a = [float(training[i]) for i in both]  # type: ignore[arg-type]
    b = [float(second[i]) for i in both]  # type: ignore[arg-type]
    first_says, second_says = [verdict(x) for x in a], [verdict(y) for y in b]
    agreed = sum(x == y for x, y in zip(first_says, second_says, strict=True)) / len(both) if both else None
    kappa = st.cohen_kappa([v == positive for v in first_says], [v == positive for v in second_says])
    if groups is None:
        rho = spearman(a, b) if len(a) >= 2 else None
        interval = _item_interval(a, b, resamples, seed, level) if rho is not None else None
        return Agreement(len(both), agreed, kappa, rho, interval)
    by_group: dict[Hashable, list[int]] = {}
    for k, i in enumerate(both):
        by_group.setdefault(groups[i], []).append(k)
    rhos = [
        rho
        for members in by_group.values()
        if len(members) >= 2 and (rho := spearman([a[k] for k in members], [b[k] for k in members])) is not None
    ]
    mean = statistics.fmean(rhos) if rhos else None
    interval = st.mean_ci(rhos, resamples, seed, level) if rhos else None
    return Agreement(len(both), agreed, kappa, mean, interval, groups=len(rhos))


def _item_interval(
    a: Sequence[float], b: Sequence[float], resamples: int, seed: int, level: float
) -> tuple[float, float] | None:
    """Bootstrap interval of ρ over items (one scipy call per resample: an evaluation's few hundred items)."""
    x, y = np.asarray(a), np.asarray(b)

    def rho_of(draws: np.ndarray) -> np.ndarray:
        values = [spearman(x[row].tolist(), y[row].tolist()) for row in draws]
        return np.array([np.nan if v is None else v for v in values], dtype=float)

    return st.bootstrap_ci(rho_of, len(x), resamples, seed, level)
