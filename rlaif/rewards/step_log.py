"""What a judge reward logs for each step (:func:`log_step`): metrics through TRL's ``log_metric``, rationales
through ``log_extra`` and one ``rewards.jsonl`` line per completion (written by :mod:`rlaif.rewards.run_log`,
which holds what lasts the whole run: the file and the console's count of errors).

Among the metrics is one to watch for length hacking: the Spearman correlation, within each prompt's
group, between answer length and reward (judges prefer longer answers 59-79% of the time; a policy learns
that fast). Averaged over the groups of the step; near +1 for many steps means length is what pays. It
is a metric, not an alarm: the hacking alarm's ``answer_words`` signal (rlaif.monitoring) is the alarm.

Judge errors also reach the console (logger ``rlaif.rewards``, WARNING, through the reward's
:class:`~rlaif.rewards.run_log.RewardLog`): the first few of the run in full, then one line per step with
that step's count and its latest error, so a broken judge is visible without flooding the log.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rlaif.rewards.conversation import prompt_key, question_text, reference_text
from rlaif.rewards.correlation import spearman
from rlaif.rewards.grades import Grade, is_score
from rlaif.rewards.run_log import RewardLine, RewardLog
from rlaif.rewards.step_numbers import step_being_taken
from rlaif.rewards.verdicts.jury_votes import jury_metrics


def length_spearman(prompts: Sequence[Any], answers: Sequence[str], scores: Sequence[float | None]) -> float | None:
    """Mean over prompt groups (>= 3 scored answers) of Spearman(answer length, reward); None if no group."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, (prompt, score) in enumerate(zip(prompts, scores, strict=True)):
        if is_score(score):
            groups[prompt_key(prompt)].append(i)
    rhos = []
    for members in groups.values():
        if len(members) >= 3:
            rho = spearman([len(answers[i]) for i in members], [float(scores[i] or 0.0) for i in members])
            if rho is not None:
                rhos.append(rho)
    return sum(rhos) / len(rhos) if rhos else None


@dataclass
class RewardStep:
    """Everything a reward logs for one call."""

    name: str
    prompts: Sequence[Any]
    answers: Sequence[str]
    grades: Sequence[Grade]
    scores: Sequence[float | None]
    metrics: dict[str, float] = field(default_factory=dict)  # reward-specific, logged as <name>/<key>


# A keyword argument TRL never passes: a callable rlaif's own callers (``score_batch``) give to learn which answers
# the judge failed on, whatever score the failure rule gave them (None, or the neutral 0.5).
LOG_JUDGE_FAILED = "rlaif_log_judge_failed"


def log_step(step: RewardStep, kwargs: Mapping[str, Any], judge: Any, log: RewardLog) -> None:
    """Log metrics and rationales to TRL (when it passed its callbacks), judge errors to the console,
    and append to rewards.jsonl."""
    failed = [(i, g.error) for i, g in enumerate(step.grades) if g.judged and g.error is not None]
    number = step_being_taken(kwargs.get("trainer_state"))  # TRL's number of the step (None outside training)
    log.console.show(step.name, number, failed, judged=sum(g.judged for g in step.grades))
    log_metric: Callable[[str, float], None] | None = kwargs.get("log_metric")
    if log_metric is not None:
        for key, value in _metrics(step).items():
            log_metric(f"{step.name}/{key}", value)
        drain = getattr(getattr(judge, "metrics", None), "drain", None)
        for key, value in (drain() if drain is not None else {}).items():
            if not math.isnan(value):
                log_metric(f"judge/{key}", value)
    if (log_extra := kwargs.get("log_extra")) is not None:
        log_extra(f"{step.name}_rationale", [g.rationale() for g in step.grades])
    if (log_failed := kwargs.get(LOG_JUDGE_FAILED)) is not None:  # not TRL's: rlaif's callers outside TRL
        log_failed([g.judged and g.error is not None for g in step.grades])
    ids = kwargs.get("id") or [None] * len(step.grades)
    refs = kwargs.get("reference_answer") or [None] * len(step.grades)
    log.write_step(
        number,
        step.name,
        [
            RewardLine(
                prompt_id=ids[i],
                prompt=question_text(step.prompts[i]),
                reference=reference_text(refs[i]),  # what the gate and a replay of the monitor compare with
                completion=step.answers[i],
                score=step.scores[i],
                judged=g.judged,
                verdicts=g.verdicts if g.verdicts is not None else g.passes,
                rationale=g.reasons,
                error=g.error,
                details=g.details,
            )
            for i, g in enumerate(step.grades)
        ],
    )


def _metrics(step: RewardStep) -> dict[str, float]:
    judged = [g for g in step.grades if g.judged]
    failed = sum(g.error is not None for g in judged)
    metrics = {
        "judge_failure_rate": failed / len(judged) if judged else 0.0,
        "judge_failures": float(failed),
        # Answers decided without the judge: empty (edge rule) or stopped by a check.
        "gated_rate": sum(not g.judged and g.score == 0.0 for g in step.grades) / max(1, len(step.grades)),
    }
    criteria = sorted({c for g in judged for c in g.passes})
    for cid in criteria:
        values = [g.passes[cid] for g in judged if cid in g.passes]
        metrics[f"{cid}/pass_rate"] = sum(values) / len(values)
    metrics.update(jury_metrics([g.details for g in judged]))  # empty unless the judge is a jury
    rho = length_spearman(step.prompts, step.answers, step.scores)
    if rho is not None:
        metrics["length_spearman"] = rho
    metrics.update(step.metrics)
    return metrics
