"""Rubric reward: Boolean criteria graded by a judge, score = weighted pass fraction in [0, 1].

Two verdict modes:
- ``logprob``: one yes/no question per criterion, P(yes) from the judge's next-token probabilities
  (a soft pass; no decoding, always a number; the mode that works with small judges);
- ``json``: one call per answer returning a schema-constrained object with a reason and a pass per
  criterion (hard passes, and a rationale per criterion).

A failed ``required`` criterion gates the score to 0 (in logprob mode the score is multiplied by
P(pass) of each required criterion, which is the same rule for hard verdicts). An empty answer scores
0 without a judge call. A judge failure is ``None`` (see :mod:`rlaif.rewards.failures`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rlaif.judges.base import Judge, JudgeResponse
from rlaif.rewards.conversation import answer_text, question_text, reference_text
from rlaif.rewards.failures import FailurePolicy
from rlaif.rewards.parsing import VerdictError, parse_json_verdict, yes_probability
from rlaif.rewards.rubric_prompts import criterion_request, json_request
from rlaif.rewards.rubric_spec import Rubric
from rlaif.rewards.run_log import RewardLog

Mode = Literal["logprob", "json"]


@dataclass
class Grade:
    """The outcome for one answer: a score, or the error that prevented one."""

    score: float | None
    passes: dict[str, float] = field(default_factory=dict)  # criterion id -> pass (0/1) or P(pass)
    reasons: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    judged: bool = True  # False when an edge rule decided without asking the judge


class RubricReward:
    """A TRL reward function (async, picklable) grading answers against a :class:`Rubric`."""

    def __init__(
        self,
        judge: Judge,
        rubric: Rubric | Mapping[str, Any],
        mode: Mode = "logprob",
        name: str = "rubric",
        failures: FailurePolicy | Mapping[str, Any] | None = None,
        log_path: str | None = None,
        json_max_tokens: int = 512,
    ) -> None:
        if mode not in ("logprob", "json"):
            raise ValueError(f"reward.mode: expected logprob or json, got {mode!r}")
        self.judge = judge
        self.rubric = rubric if isinstance(rubric, Rubric) else Rubric.from_mapping(rubric, "reward.rubric")
        self.mode = mode
        self.__name__ = name  # TRL logs rewards/<__name__>/mean
        self.failures = failures if isinstance(failures, FailurePolicy) else FailurePolicy(**dict(failures or {}))
        self.log = RewardLog(log_path)
        self.json_max_tokens = json_max_tokens

    async def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        references = kwargs.get("reference_answer") or [None] * len(prompts)
        grades = await self.grade(prompts, completions, references)
        scores = [self.failures.resolve(g.score, g.error) for g in grades]
        self._report(prompts, completions, grades, scores, kwargs)
        return scores

    async def grade(self, prompts: Sequence[Any], completions: Sequence[Any], references: Sequence[Any]) -> list[Grade]:
        """Grade every (prompt, completion) pair; never raises for a judge failure."""
        questions = [question_text(p) for p in prompts]
        answers = [answer_text(c) for c in completions]
        refs = [reference_text(r) for r in references]
        to_judge = [i for i, a in enumerate(answers) if a.strip()]
        grades = [Grade(score=0.0, reasons={"edge_rule": "empty answer"}, judged=False) for _ in answers]
        if self.mode == "logprob":
            judged = await self._grade_logprob([(questions[i], answers[i], refs[i]) for i in to_judge])
        else:
            judged = await self._grade_json([(questions[i], answers[i], refs[i]) for i in to_judge])
        for i, g in zip(to_judge, judged, strict=True):
            grades[i] = g
        return grades

    async def _grade_logprob(self, items: list[tuple[str, str, str | None]]) -> list[Grade]:
        criteria = self.rubric.criteria
        requests = [criterion_request(self.rubric, c, q, a, r) for q, a, r in items for c in criteria]
        responses = await self.judge.agenerate(requests)
        grades = []
        for k in range(len(items)):
            chunk = responses[k * len(criteria) : (k + 1) * len(criteria)]
            try:
                passes = {
                    c.id: yes_probability(_ok(resp).choice_logprobs, resp.text)
                    for c, resp in zip(criteria, chunk, strict=True)
                }
            except VerdictError as exc:
                grades.append(Grade(score=None, error=str(exc)))
                continue
            reasons = {cid: f"P(yes)={p:.2f}" for cid, p in passes.items()}
            grades.append(Grade(score=self._aggregate(passes), passes=passes, reasons=reasons))
        return grades

    async def _grade_json(self, items: list[tuple[str, str, str | None]]) -> list[Grade]:
        requests = [json_request(self.rubric, q, a, r, self.json_max_tokens) for q, a, r in items]
        responses = await self.judge.agenerate(requests)
        ids = [c.id for c in self.rubric.criteria]
        grades = []
        for resp in responses:
            try:
                verdict = parse_json_verdict(_ok(resp).text, ids)
            except VerdictError as exc:
                grades.append(Grade(score=None, error=str(exc)))
                continue
            passes = {cid: float(v.passed) for cid, v in verdict.items()}
            reasons = {cid: v.reason for cid, v in verdict.items()}
            grades.append(Grade(score=self._aggregate(passes), passes=passes, reasons=reasons))
        return grades

    def _aggregate(self, passes: Mapping[str, float]) -> float:
        criteria = self.rubric.criteria
        total = sum(c.weight for c in criteria)
        score = sum(c.weight * passes[c.id] for c in criteria) / total
        gate = math.prod(passes[c.id] for c in criteria if c.required)
        return min(1.0, max(0.0, score * gate))

    def _report(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        grades: list[Grade],
        scores: list[float | None],
        kwargs: Mapping[str, Any],
    ) -> None:
        log_metric, log_extra = kwargs.get("log_metric"), kwargs.get("log_extra")
        judged = [g for g in grades if g.judged]
        if log_metric is not None:
            failed = sum(g.error is not None for g in judged)
            log_metric(f"{self.__name__}/judge_failure_rate", failed / len(judged) if judged else 0.0)
            for c in self.rubric.criteria:
                values = [g.passes[c.id] for g in judged if c.id in g.passes]
                if values:
                    log_metric(f"{self.__name__}/{c.id}/pass_rate", sum(values) / len(values))
            for key, value in self.judge.metrics.drain().items():
                if not math.isnan(value):
                    log_metric(f"judge/{key}", value)
        rationales = [g.error or "; ".join(f"{k}: {v}" for k, v in g.reasons.items()) for g in grades]
        if log_extra is not None:
            log_extra(f"{self.__name__}_rationale", rationales)
        state = kwargs.get("trainer_state")
        step = getattr(state, "global_step", None)
        ids = kwargs.get("id") or [None] * len(grades)
        self.log.write(
            [
                {
                    "step": step,
                    "reward": self.__name__,
                    "prompt_id": ids[i],
                    "prompt": question_text(prompts[i]),
                    "completion": answer_text(completions[i]),
                    "score": scores[i],
                    "verdicts": g.passes,
                    "rationale": g.reasons,
                    "error": g.error,
                }
                for i, g in enumerate(grades)
            ]
        )


def _ok(response: JudgeResponse) -> JudgeResponse:
    if not response.ok:
        raise VerdictError(f"judge error: {response.error}")
    return response
