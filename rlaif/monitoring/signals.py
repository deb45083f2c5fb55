"""What a step's rollouts look like, measured without the reward: the monitor's signals.

Each function is pure: it reads the step's questions, answers, scores and groups and returns one number.
The reward never sees these numbers, so a policy that learns to please the judge cannot also steer them;
when the reward rises while one of them moves the wrong way (:mod:`rlaif.monitoring.alarm_rule`), the
policy is likely gaming the judge. The on-topic and language signals are the reward's own gates
(:class:`~rlaif.rewards.on_topic.MentionsQuestion`, :class:`~rlaif.rewards.checks.LanguageMatch`) used as
measures, so "on topic" means exactly what the default reward's gate means by it.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rlaif.evaluation.second_opinion import agreement_with
from rlaif.judges.quantiles import median
from rlaif.rewards.checks import LanguageMatch, takes_reference
from rlaif.rewards.fencing import normalize
from rlaif.rewards.grades import is_score
from rlaif.rewards.on_topic import MentionsQuestion

Wrong = Literal["down", "up", "collapse", "floor"]

# Which way each signal moving is bad news while the reward rises. answer_words is "up" (judges prefer
# longer answers) unless the rubric asks for brevity itself: then shorter is the point, and only a
# collapse alarms (see rlaif.monitoring.settings).
WRONG_WAY: dict[str, Wrong] = {
    "answer_words": "up",
    "on_topic": "down",
    "language_match": "down",
    "repetition": "up",
    "empty_or_refusal": "up",
    "all_equal_groups": "up",
}
SIGNALS = tuple(WRONG_WAY)
# Measures without an alarm rule: what a tool-using run's policy does with its tools (monitor.jsonl, monitor/*).
# tool_call_rate: the share of answers with at least one tool call (TRL's tools/call_frequency counts calls per
# answer instead); tool_error_rate: the share of tool results that are errors as TRL returns them (None: no result).
MEASURES = ("tool_call_rate", "tool_error_rate")
# Counts rather than shares: how much such a signal moved is measured relative to where it was.
RELATIVE = frozenset({"answer_words"})

# What an assistant says instead of answering. Matched at the start of the answer or of a sentence, on the
# NFKC-folded text with the apostrophe normalised, so "I’m sorry" counts as "I'm sorry".
_REFUSAL = re.compile(
    r"(?:^|[.!?]\s+)(?:i'?m sorry|sorry,|i (?:am )?(?:can ?not|can't|am unable|'?m unable)|i'?m not (?:sure|able)"
    r"|i (?:do not|don'?t) know|as an ai\b|i (?:won'?t|will not) )",
    re.IGNORECASE,
)
_MIN_CHARS = 2  # as the default reward's NonEmpty gate: fewer non-space characters is an empty answer
_ON_TOPIC = MentionsQuestion()
_LANGUAGE = LanguageMatch()


@dataclass(frozen=True)
class Rollout:
    """One completion of a step: its group (prompt id or prompt text), question, answer, reference, score."""

    group: str
    question: str
    answer: str
    score: float | None
    reference: str | None = None
    tool_calls: int = 0  # a tool-using transcript's calls, results and error results (rlaif.rewards.transcript)
    tool_results: int = 0
    tool_errors: int = 0


def step_signals(rollouts: Sequence[Rollout]) -> dict[str, float | None]:
    """The step's mean reward, every signal of :data:`SIGNALS` and every measure of :data:`MEASURES` (None where
    there is nothing to measure)."""
    answers = [r.answer for r in rollouts]
    scores = [r.score for r in rollouts if is_score(r.score)]
    return {
        "reward": sum(s for s in scores if s is not None) / len(scores) if scores else None,
        "answer_words": median(len(a.split()) for a in answers),
        "on_topic": _share(rollouts, lambda r: _passes(_ON_TOPIC, r)),
        "language_match": _share(rollouts, lambda r: _passes(_LANGUAGE, r)),
        "repetition": statistics.fmean(repetition(a) for a in answers) if answers else None,
        "empty_or_refusal": _share(rollouts, lambda r: empty_or_refusal(r.answer)),
        "all_equal_groups": all_equal_groups(rollouts),
        "tool_call_rate": _share(rollouts, lambda r: r.tool_calls > 0),
        "tool_error_rate": tool_error_rate(rollouts),
    }


def tool_error_rate(rollouts: Sequence[Rollout]) -> float | None:
    """The share of the step's tool results that are errors (a tool that raised, an unknown tool); None without
    any tool result."""
    results = sum(r.tool_results for r in rollouts)
    return sum(r.tool_errors for r in rollouts) / results if results else None


def group_agreement(groups: Mapping[str, Sequence[tuple[float | None, float | None]]]) -> float | None:
    """How alike the training reward and a second judge rank the answers where GRPO uses the reward: within
    each prompt's group (its advantages compare a group's answers with each other, never across groups).
    Spearman's rank correlation of each group's (reward, second judge) pairs where both scored, averaged over
    the groups that have one (2+ such pairs, neither side constant); None when no group has one. The one
    second-opinion statistic (:func:`rlaif.evaluation.second_opinion.agreement_with`), with no interval: every
    step."""
    keys = [key for key, pairs in groups.items() for _ in pairs]
    pairs = [pair for key in groups for pair in groups[key]]
    agreed = agreement_with([a for a, _ in pairs], [b for _, b in pairs], groups=keys, resamples=0)
    return agreed.spearman


def repetition(answer: str, n: int = 3) -> float:
    """The share of the answer's word ``n``-grams that repeat an earlier one (0: none, near 1: a loop)."""
    words = normalize(answer).casefold().split()
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def empty_or_refusal(answer: str) -> bool:
    """Empty (fewer than 2 non-space characters), or a refusal / non-answer ("I'm sorry", "I'm not sure")."""
    text = normalize(answer).replace("\u2019", "'").strip()
    return len("".join(text.split())) < _MIN_CHARS or _REFUSAL.search(text) is not None


def all_equal_groups(rollouts: Sequence[Rollout]) -> float | None:
    """The share of prompt groups (2+ scored answers) whose scores are all equal: GRPO's advantage is 0 for
    every answer of such a group, so it teaches nothing (SkyRL logs the same). None without such a group."""
    groups: dict[str, list[float]] = defaultdict(list)
    for r in rollouts:
        if is_score(r.score):
            groups[r.group].append(float(r.score or 0.0))
    sized = [g for g in groups.values() if len(g) >= 2]
    if not sized:
        return None
    return sum(max(g) - min(g) <= 1e-9 for g in sized) / len(sized)


def _passes(check: Any, rollout: Rollout) -> bool:
    # The gate's own rule. A check that takes the row's reference gets it (an answer sharing a content word
    # with the reference is on topic); one written for (answer, question) is called that way.
    if takes_reference(check):
        return bool(check(rollout.answer, rollout.question, reference=rollout.reference).score > 0.0)
    return bool(check(rollout.answer, rollout.question).score > 0.0)


def _share(rollouts: Sequence[Rollout], test: Any) -> float | None:
    return sum(bool(test(r)) for r in rollouts) / len(rollouts) if rollouts else None
