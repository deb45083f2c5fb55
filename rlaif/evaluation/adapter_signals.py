"""The evidence ``rlaif.evaluate`` reports: per signal, the paired difference adapter − baseline over the
held-out prompts with a bootstrap interval.

A signal scores every answer of both sides: a deterministic measure (words, on-topic, language, each of
the training reward's checks) or a judge's reward score. Pairing by prompt removes the prompts' own
difficulty from the comparison; the interval resamples prompts. A signal that trained the policy (the
training judge, the reward's own gates) is listed last and marked: the policy was optimised to please it,
so its verdict is the weakest evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rlaif.evaluation import stats as st
from rlaif.rewards.checks import Check, LanguageMatch, takes_reference
from rlaif.rewards.conversation import question_text, reference_text
from rlaif.rewards.on_topic import MentionsQuestion

SIDES = ("adapter", "baseline")


@dataclass
class Signal:
    """One measure of every answer on both sides (None where it has no value, e.g. a judge failure)."""

    name: str
    kind: str  # "measure" (deterministic) | "judge" (a reward score from a judge)
    scores: dict[str, list[float | None]]  # side -> one score per prompt
    trained_the_policy: bool
    note: str | None = None


def paired_difference(
    adapter: Sequence[float | None],
    baseline: Sequence[float | None],
    level: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Mean of adapter − baseline over the prompts where both sides have a score, and its percentile
    bootstrap interval (prompts resampled with replacement); each side's mean over the same prompts."""
    pairs = [(a, b) for a, b in zip(adapter, baseline, strict=True) if a is not None and b is not None]
    diffs = [a - b for a, b in pairs]

    interval = st.mean_ci(diffs, resamples=resamples, seed=seed, level=level)
    return {
        "diff": sum(diffs) / len(diffs) if diffs else None,
        "diff_interval": list(interval) if interval else None,
        "n": len(diffs),
        "adapter_mean": sum(a for a, _ in pairs) / len(pairs) if pairs else None,
        "baseline_mean": sum(b for _, b in pairs) / len(pairs) if pairs else None,
    }


def measures(
    prompts: Sequence[Any], references: Sequence[Any], answers: dict[str, list[str]], reward_checks: Sequence[Check]
) -> list[Signal]:
    """The deterministic signals: words per answer, on-topic and same-language rates (1 pass, 0 fail), and
    every check of the training reward (those trained the policy: it was gated on them)."""
    questions = [question_text(p) for p in prompts]
    refs = [reference_text(r) for r in references]

    def per_answer(score: Callable[[str, str, str | None], float]) -> dict[str, list[float | None]]:
        return {
            side: [score(a, q, r) for a, q, r in zip(answers[side], questions, refs, strict=True)] for side in SIDES
        }

    def check_score(check: Check) -> Callable[[str, str, str | None], float]:
        with_ref = takes_reference(check)
        return lambda a, q, r: (check(a, q, reference=r) if with_ref else check(a, q)).score

    signals = {
        "words": Signal("words", "measure", per_answer(lambda a, q, r: float(len(a.split()))), False),
        "on_topic": Signal("on_topic", "measure", per_answer(check_score(MentionsQuestion())), False),
        "language": Signal("language", "measure", per_answer(check_score(LanguageMatch())), False),
    }
    for check in reward_checks:
        name = str(getattr(check, "name", type(check).__name__))
        # The reward's own check replaces a measure of the same name: the policy was gated on it.
        signals[name] = Signal(name, "measure", per_answer(check_score(check)), True, "a gate of the training reward")
    return list(signals.values())


def report_order(signals: Sequence[Signal]) -> list[Signal]:
    """Independent evidence first (measures, then judges that did not train the policy), what trained the
    policy last (its gates, then the training judge)."""
    rank = {("measure", False): 0, ("judge", False): 1, ("measure", True): 2, ("judge", True): 3}
    return sorted(signals, key=lambda s: rank[(s.kind, s.trained_the_policy)])


def summarise(signals: Sequence[Signal], level: float, resamples: int, seed: int) -> dict[str, dict[str, Any]]:
    """``summary.json``'s ``signals``: per signal, in report order, its paired difference and provenance."""
    out = {}
    for signal in report_order(signals):
        sides = signal.scores
        paired = paired_difference(sides["adapter"], sides["baseline"], level=level, resamples=resamples, seed=seed)
        out[signal.name] = {
            "kind": signal.kind,
            "trained_the_policy": signal.trained_the_policy,
            **paired,
            "interval_level": level,
            "note": signal.note,
        }
    return out


def judge_models(judge: Any) -> set[str]:
    """The model names behind a judge (every member's for a jury, every endpoint's for a pool), without the
    ``packaged:`` prefix or a path, so that two judges on one model can be told apart from two models."""
    if members := getattr(judge, "members", None) or getattr(judge, "endpoints", None):
        return set().union(*(judge_models(m) for m in members.values()))
    transport = getattr(judge, "transport", judge)
    launch = getattr(transport, "launch", None)
    name = (
        getattr(launch, "keywords", {}).get("model")
        or getattr(transport, "model_name", None)
        or getattr(transport, "model_id", None)
        or getattr(transport, "model", None)
        or judge.identity
    )
    return {str(name).removeprefix("packaged:").rstrip("/").rsplit("/", 1)[-1]}


def independence(judge: Any, trainer: Any | None) -> str | None:
    """Why a judge that did not train the policy may still not be independent of the ``trainer`` that did
    (None: no reason known, also when the training judge is not among the evaluation's judges)."""
    shared = judge_models(judge) & judge_models(trainer) if trainer is not None else set()
    if shared:
        return f"the same model as the training judge ({', '.join(sorted(shared))}): not an independent judge"
    return None
