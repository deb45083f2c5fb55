"""Rubric reward: Boolean criteria graded by a judge, score = weighted pass fraction in [0, 1].

Two verdict modes:
- ``logprob``: one yes/no question per criterion, P(yes) from the judge's next-token probabilities
  (a soft pass; no decoding, always a number; the mode that works with small judges);
- ``json``: one call per answer returning a schema-constrained object with a reason and a pass per
  criterion (hard passes, and a rationale per criterion).

A failed ``required`` criterion gates the score to 0 (in logprob mode the score is multiplied by
P(pass) of each required criterion, which is the same rule for hard verdicts). Before any judge call,
an empty answer scores 0 (edge rule) and the deterministic ``checks`` run as gates (a failing check
scores 0, a penalty multiplies the judge's score; :mod:`rlaif.rewards.checks`). A rubric with an
``output`` section adds its JSON schema as the first gate and, with ``items``, grades each element of
the answer's list on its own (per-item scores, averaged). A judge failure is ``None``
(:mod:`rlaif.rewards.failures`): never a 0, so checks and judge in one reward keep it unscorable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from rlaif.errors import ConfigError
from rlaif.judges.base import Judge
from rlaif.rewards.checks import Check, Gated, JsonValid, apply_gates, check_pass_rates
from rlaif.rewards.conversation import question_text, reference_text
from rlaif.rewards.failures import FailurePolicy
from rlaif.rewards.grades import Grade, reasoning_details, resolve
from rlaif.rewards.prompts.rubric import NO, YES, criterion_request, json_request
from rlaif.rewards.rubric_spec import Rubric
from rlaif.rewards.run_log import RewardLog
from rlaif.rewards.step_log import RewardStep, log_step
from rlaif.rewards.transcript import DEFAULT_MAX_TOOL_CHARS, judged_answer, tool_chars
from rlaif.rewards.verdicts.jury_votes import jury_details, vote_choice, vote_json
from rlaif.rewards.verdicts.parsing import VerdictError

Mode = Literal["logprob", "json"]
_Unit = tuple[str, str, str | None]  # (question, text to grade, reference)

__all__ = ["Grade", "RubricReward"]


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
        checks: Sequence[Check] = (),
        max_tool_chars: int = DEFAULT_MAX_TOOL_CHARS,
    ) -> None:
        if mode not in ("logprob", "json"):
            raise ConfigError(f"reward.mode: expected logprob or json, got {mode!r}")
        self.judge = judge
        self.max_tool_chars = tool_chars(max_tool_chars)  # a tool result longer than this is cut for the judge
        self.rubric = rubric if isinstance(rubric, Rubric) else Rubric.from_mapping(rubric, "reward.rubric")
        self.mode = mode
        self.__name__ = name  # TRL logs rewards/<__name__>/mean
        self.failures = failures if isinstance(failures, FailurePolicy) else FailurePolicy(**dict(failures or {}))
        self.log = RewardLog(log_path)
        self.json_max_tokens = json_max_tokens
        output = self.rubric.output
        self._json = JsonValid(output.schema, name="schema_valid") if output is not None else None
        self.checks: list[Check] = ([self._json] if self._json is not None else []) + list(checks)

    @property
    def reads_first_token(self) -> bool:
        """rlaif.rewards.capabilities.VerdictSource: ``mode: logprob`` reads each criterion's first token."""
        return self.mode != "json"

    @property
    def graded_rubric(self) -> Rubric:
        """rlaif.rewards.capabilities.GradesCriteria: every criterion of ``rubric`` is graded on its own."""
        return self.rubric

    async def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        references = kwargs.get("reference_answer") or [None] * len(prompts)
        answers = [judged_answer(c, self.max_tool_chars) for c in completions]
        grades, gated = await self._grade(prompts, answers, references)
        scores, stop = resolve(grades, self.failures)
        metrics = {f"check/{n}/pass_rate": r for n, r in check_pass_rates(gated).items()}
        log_step(RewardStep(self.__name__, prompts, answers, grades, scores, metrics), kwargs, self.judge, self.log)
        if stop is not None:
            raise stop
        return scores

    async def grade(self, prompts: Sequence[Any], completions: Sequence[Any], references: Sequence[Any]) -> list[Grade]:
        """Grade every (prompt, completion) pair; never raises for a judge failure."""
        grades, _ = await self._grade(prompts, [judged_answer(c, self.max_tool_chars) for c in completions], references)
        return grades

    async def _grade(
        self, prompts: Sequence[Any], answers: Sequence[str], references: Sequence[Any]
    ) -> tuple[list[Grade], list[Gated]]:
        questions = [question_text(p) for p in prompts]
        # show_reference: false keeps the reference from every request, in either mode.
        refs = [reference_text(r) if self.rubric.show_reference else None for r in references]
        gated = apply_gates(self.checks, answers, questions, [reference_text(r) for r in references])
        grades = [Grade(0.0, reasons={"gate": g.reason or ""}, judged=False, details=_checks(g)) for g in gated]
        units: list[_Unit] = []
        owners: list[tuple[int, int]] = []  # (answer index, item index) of each unit
        for i, g in enumerate(gated):
            if not g.open:
                continue
            items = self._items(answers[i])
            if isinstance(items, str):  # the answer has no gradable items: an edge rule, score 0
                grades[i] = Grade(0.0, reasons={"edge_rule": items}, judged=False, details=_checks(g))
                continue
            owners.extend((i, k) for k in range(len(items)))
            units.extend((questions[i], text, refs[i]) for text in items)
        judged = await (self._grade_logprob(units) if self.mode == "logprob" else self._grade_json(units))
        by_answer: dict[int, list[Grade]] = {}
        for (i, _), unit_grade in zip(owners, judged, strict=True):
            by_answer.setdefault(i, []).append(unit_grade)
        for i, unit_grades in by_answer.items():
            grades[i] = _combine(unit_grades, gated[i], itemized=self._itemized)
        return grades, gated

    @property
    def _itemized(self) -> bool:
        return self.rubric.output is not None and self.rubric.output.items is not None

    def _items(self, answer: str) -> list[str] | str:
        """The texts to grade: the answer itself, or its items (a reason string when there are none)."""
        if not self._itemized:
            return [answer]
        assert self._json is not None and self.rubric.output is not None and self.rubric.output.items
        path = self.rubric.output.items
        value: Any = self._json.parse(answer)  # the schema gate already proved it parses
        for key in path.split("."):
            value = value.get(key) if isinstance(value, Mapping) else None
        if not isinstance(value, list):
            return f"no list at {path!r}"
        if not value:
            return f"empty list at {path!r}"
        return [json.dumps(item, ensure_ascii=False) if not isinstance(item, str) else item for item in value]

    async def _grade_logprob(self, units: list[_Unit]) -> list[Grade]:
        criteria = self.rubric.criteria
        requests = [criterion_request(self.rubric, c, q, a, r) for q, a, r in units for c in criteria]
        responses = await self.judge.agenerate(requests) if requests else []
        grades = []
        for k in range(len(units)):
            chunk = responses[k * len(criteria) : (k + 1) * len(criteria)]
            try:
                votes = {c.id: vote_choice((YES, NO), resp, c.pass_on) for c, resp in zip(criteria, chunk, strict=True)}
            except VerdictError as exc:
                grades.append(Grade(score=None, error=str(exc)))
                continue
            passes = {cid: v.p for cid, v in votes.items()}
            reasons = {c.id: f"P({c.pass_on})={passes[c.id]:.2f}" for c in criteria}
            score = self._aggregate(passes)
            grades.append(Grade(score=score, passes=passes, reasons=reasons, details=jury_details(votes)))
        return grades

    async def _grade_json(self, units: list[_Unit]) -> list[Grade]:
        requests = [json_request(self.rubric, q, a, r, self.json_max_tokens) for q, a, r in units]
        responses = await self.judge.agenerate(requests) if requests else []
        ids = [c.id for c in self.rubric.criteria]
        grades = []
        for resp in responses:
            try:
                votes, reasons = vote_json(resp, ids)
            except VerdictError as exc:
                grades.append(Grade(score=None, error=str(exc), details=reasoning_details(resp)))
                continue
            passes = {cid: v.p for cid, v in votes.items()}
            details = {**jury_details(votes), **reasoning_details(resp)}  # the reasoning, apart from the verdict
            grades.append(Grade(self._aggregate(passes), passes=passes, reasons=reasons, details=details))
        return grades

    def _aggregate(self, passes: Mapping[str, float]) -> float:
        criteria = self.rubric.criteria
        total = sum(c.weight for c in criteria)
        score = sum(c.weight * passes[c.id] for c in criteria) / total
        gate = math.prod(passes[c.id] for c in criteria if c.required)
        return min(1.0, max(0.0, score * gate))


def _combine(units: list[Grade], gated: Gated, itemized: bool) -> Grade:
    """One answer's grade from its units (the answer, or its items): any failed unit fails the answer."""
    details = _checks(gated)
    failed = [(k, g) for k, g in enumerate(units) if g.score is None]
    if failed:
        k, g = failed[0]
        details.update(g.details)  # a failed unit's own details: what the judge reasoned before it failed
        return Grade(None, error=f"item {k}: {g.error}" if itemized else g.error, details=details)
    scores = [float(g.score or 0.0) for g in units]
    passes = {cid: sum(g.passes[cid] for g in units) / len(units) for cid in units[0].passes}
    if itemized:
        reasons = {f"item{k}.{cid}": r for k, g in enumerate(units) for cid, r in g.reasons.items()}
        details["item_scores"] = scores
        if jury := _merged_items(units):  # every member's verdict on every item, keyed as the reasons are
            details["jury"] = jury
    else:
        reasons = dict(units[0].reasons)
        details.update(units[0].details)
    if gated.multiplier < 1.0:
        reasons["penalty"] = f"x{gated.multiplier:.2f} from checks"
    return Grade(sum(scores) / len(scores) * gated.multiplier, passes, reasons, details=details)


def _merged_items(units: list[Grade]) -> dict[str, dict[str, float | None]]:
    merged: dict[str, dict[str, float | None]] = {}
    for k, g in enumerate(units):
        for name, keyed in g.details.get("jury", {}).items():
            merged.setdefault(name, {}).update({f"item{k}.{cid}": p for cid, p in keyed.items()})
    return merged


def _checks(gated: Gated) -> dict[str, Any]:
    return {"checks": {n: r.score for n, r in gated.results.items()}} if gated.results else {}
