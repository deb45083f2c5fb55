"""An answer's grade: what a reward decided for one answer (a score, or the error that prevented one, with each
criterion's pass and reason), and how a step's grades become the scores TRL gets (:func:`resolve`, through the
failure policy). :mod:`rlaif.rewards.step_log` logs them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rlaif.rewards.failures import FailurePolicy, JudgeFailureError

# A thinking judge's reasoning goes to rewards.jsonl (``reasoning``) cut to at most this many characters: its
# first and last halves (the verdict is argued at the end), with how much was left out between them.
REASONING_CHARS = 1000


def is_score(score: float | None) -> bool:
    """A score, not the absence of one: None is no verdict, and nan is how TRL carries a reward's None."""
    return score is not None and not math.isnan(score)


def reasoning_details(reply: Any) -> dict[str, str]:
    """``{"reasoning": ...}`` for a :class:`Grade`'s details when the judge's reply carries reasoning, else ``{}``:
    bounded to :data:`REASONING_CHARS`, so a long chain of thought cannot swell rewards.jsonl."""
    text = getattr(reply, "reasoning", None)
    if not text:
        return {}
    if len(text) > REASONING_CHARS:
        half = REASONING_CHARS // 2
        text = f"{text[:half]} [... {len(text) - 2 * half} characters left out ...] {text[-half:]}"
    return {"reasoning": text}


@dataclass
class Grade:
    """The outcome for one answer: a score, or the error that prevented one."""

    score: float | None
    passes: dict[str, float] = field(default_factory=dict)  # criterion id -> pass (0/1) or P(pass)
    reasons: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    judged: bool = True  # False when an edge rule or a gate decided without asking the judge
    details: dict[str, Any] = field(default_factory=dict)  # extra fields for rewards.jsonl
    # rewards.jsonl's verdicts when they are more than a P(pass) per criterion: a per-row rubric's items, each
    # with its text, points, P(met) and reason. Kept out of ``passes``: item ids mean nothing across rows.
    verdicts: dict[str, Any] | None = None

    def rationale(self) -> str:
        return self.error or "; ".join(f"{k}: {v}" for k, v in self.reasons.items())


def resolve(grades: Sequence[Grade], failures: FailurePolicy) -> tuple[list[float | None], JudgeFailureError | None]:
    """Scores for TRL, and the error that must stop the run (raise it *after* reporting the step, so
    the failing step's answers and errors still reach ``rewards.jsonl``).

    Judged answers pass through the failure policy. An empty or gated answer is a decided 0: counting
    it would dilute the judge's failure rate. An answer that could not be sent to the judge at all
    (preference: unpaired) counts toward the abort threshold but stays ``None`` (no neutral 0.5: the
    judge never saw it).
    """
    scores: list[float | None] = []
    stop: JudgeFailureError | None = None
    for g in grades:
        try:
            if g.judged:
                scores.append(failures.resolve(g.score, g.error))
                continue
            if g.error is not None:
                failures.resolve(None, g.error)
            scores.append(g.score)
        except JudgeFailureError as exc:
            stop = stop or exc
            scores.append(None)
    return scores, stop
