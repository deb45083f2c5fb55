"""Per-row rubric reward: every training row carries its own rubric items (RaR, HealthBench, NeMo Gym, plain
strings: :mod:`rlaif.rewards.row_rubric_spec`), and an answer scores HealthBench's rule over them.

Two verdict modes, as for the file rubric (:mod:`rlaif.rewards.rubric`):

- ``logprob``: one yes/no request per item, P(met) from the judge's next-token probabilities; the question
  and the answer open every request, so a prefix cache serves all items of an answer after the first;
- ``json``: one request per answer grading all its items, against a schema listing exactly the row's item
  ids, with a reason per item. A reply that misses or repeats an id gets one retry, then no reward (None).

Optional file criteria (``rubric``: a :class:`~rlaif.rewards.rubric_spec.Rubric`) are asked of every row beside
its own items (a ``required`` one gates the score, as in the file rubric), and the deterministic ``checks``
gate before any judge call. The rubric is read from the row's ``rubric`` field (a column mapped with
``data.columns.rubric``, or a Nova record's field at the root or under ``metadata``), which reaches the reward
in the row's ``extra``. Rows are checked at set-up (:meth:`RowRubricReward.check_rows`), so a bad one is an
exit 2 naming its file and line, not a failure at step 40.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from rlaif.errors import ConfigError, RubricError
from rlaif.judges.base import Judge
from rlaif.rewards.checks import Check, Gated, apply_gates, check_pass_rates
from rlaif.rewards.conversation import question_text, reference_text
from rlaif.rewards.failures import FailurePolicy
from rlaif.rewards.grades import Grade, reasoning_details, resolve
from rlaif.rewards.prompts.row_rubric import item_request, items_request
from rlaif.rewards.prompts.rubric import NO, YES
from rlaif.rewards.row_rubric_spec import RowRubric, RubricItem, parse_row_rubric
from rlaif.rewards.rubric_spec import Rubric
from rlaif.rewards.run_log import RewardLog
from rlaif.rewards.step_log import RewardStep, log_step
from rlaif.rewards.transcript import DEFAULT_MAX_TOOL_CHARS, judged_answer, tool_chars
from rlaif.rewards.verdicts.jury_votes import ChoiceProbability, jury_details, vote_choice, vote_json
from rlaif.rewards.verdicts.parsing import VerdictError, duplicate_keys

Mode = Literal["logprob", "json"]
RUBRIC_FIELD = "rubric"  # the row field holding its items (data.columns.rubric maps a source column onto it)

__all__ = ["RUBRIC_FIELD", "RowRubricReward", "item_metrics", "row_rubric_of"]


def row_rubric_of(extra: Any, where: str, file_criteria: Rubric | None = None) -> RowRubric:
    """A row's rubric from its ``extra`` (JSON text or a mapping), with ``file_criteria`` added as items."""
    fields = json.loads(extra) if isinstance(extra, str) and extra else (extra or {})
    if not isinstance(fields, Mapping) or RUBRIC_FIELD not in fields:
        raise RubricError(f"{where}: the row has no {RUBRIC_FIELD!r} field (reward=row_rubric; data.columns.rubric)")
    rubric = parse_row_rubric(fields[RUBRIC_FIELD], f"{where}: {RUBRIC_FIELD}")
    if file_criteria is None:
        return rubric
    added = tuple(
        RubricItem(
            id=f"c_{c.id}", text=c.question, points=c.weight, shape="nemo", met_on=c.pass_on, required=c.required
        )
        for c in file_criteria.criteria
    )
    return RowRubric(rubric.items + added)


class RowRubricReward:
    """A TRL reward function (async, picklable) grading each answer against its own row's rubric items."""

    def __init__(
        self,
        judge: Judge,
        mode: Mode = "logprob",
        name: str = "row_rubric",
        rubric: Rubric | Mapping[str, Any] | None = None,
        failures: FailurePolicy | Mapping[str, Any] | None = None,
        log_path: str | None = None,
        json_max_tokens: int = 512,
        checks: Sequence[Check] = (),
        task: str = "",
        max_tool_chars: int = DEFAULT_MAX_TOOL_CHARS,
    ) -> None:
        if mode not in ("logprob", "json"):
            raise ConfigError(f"reward.mode: expected logprob or json, got {mode!r}")
        self.judge = judge
        self.max_tool_chars = tool_chars(max_tool_chars)  # a tool result longer than this is cut for the judge
        self.mode = mode
        self.__name__ = name  # TRL logs rewards/<__name__>/mean
        self.file_criteria = (
            rubric if isinstance(rubric, Rubric) or rubric is None else Rubric.from_mapping(rubric, "reward.rubric")
        )
        self.failures = failures if isinstance(failures, FailurePolicy) else FailurePolicy(**dict(failures or {}))
        self.log = RewardLog(log_path)
        self.json_max_tokens = json_max_tokens
        self.checks = list(checks)
        self.task = task

    @property
    def reads_first_token(self) -> bool:
        """rlaif.rewards.capabilities.VerdictSource: ``mode: logprob`` reads each item's first token."""
        return self.mode != "json"

    def row_problems(self, extras: Sequence[Any], wheres: Sequence[str]) -> list[str]:
        """What is wrong with each row whose rubric cannot be graded, named by its ``wheres``: the set-up check."""
        problems = []
        for extra, where in zip(extras, wheres, strict=True):
            try:
                row_rubric_of(extra, where)
            except RubricError as exc:
                problems.append(str(exc))
        return problems

    async def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        references = kwargs.get("reference_answer") or [None] * len(prompts)
        extras = kwargs.get("extra") or [None] * len(prompts)  # rlaif's rows keep a row's other fields there
        if kwargs.get("extra") is None and kwargs.get(RUBRIC_FIELD) is not None:  # a user's dataset, in plain TRL
            extras = [{RUBRIC_FIELD: rubric} for rubric in kwargs[RUBRIC_FIELD]]
        ids = kwargs.get("id") or list(range(len(prompts)))
        answers = [judged_answer(c, self.max_tool_chars) for c in completions]
        grades, gated = await self._grade(prompts, answers, references, extras, ids)
        scores, stop = resolve(grades, self.failures)
        metrics = {f"check/{n}/pass_rate": r for n, r in check_pass_rates(gated).items()}
        metrics.update(item_metrics(grades))
        log_step(RewardStep(self.__name__, prompts, answers, grades, scores, metrics), kwargs, self.judge, self.log)
        if stop is not None:
            raise stop
        return scores

    async def grade(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        references: Sequence[Any],
        extras: Sequence[Any] | None = None,
    ) -> list[Grade]:
        """Grade every (prompt, completion) pair against its row's rubric (from ``extras``, the rows' ``extra``
        column); never raises for a judge failure. Without ``extras`` every row lacks a rubric: a RubricError."""
        answers = [judged_answer(c, self.max_tool_chars) for c in completions]
        rows = list(extras) if extras is not None else [None] * len(prompts)
        grades, _ = await self._grade(prompts, answers, references, rows, list(range(len(prompts))))
        return grades

    async def _grade(
        self,
        prompts: Sequence[Any],
        answers: Sequence[str],
        references: Sequence[Any],
        extras: Sequence[Any],
        ids: Sequence[Any],
    ) -> tuple[list[Grade], list[Gated]]:
        questions = [question_text(p) for p in prompts]
        refs = [reference_text(r) for r in references]
        gated = apply_gates(self.checks, answers, questions, refs)
        grades = [Grade(0.0, reasons={"gate": g.reason or ""}, judged=False, details=_checks(g)) for g in gated]
        rubrics = [row_rubric_of(extras[i], f"row {ids[i]!r}", self.file_criteria) for i in range(len(answers))]
        todo = [i for i, g in enumerate(gated) if g.open]
        units = [(rubrics[i], questions[i], answers[i], refs[i]) for i in todo]
        judged = await (self._grade_logprob(units) if self.mode == "logprob" else self._grade_json(units))
        for i, grade in zip(todo, judged, strict=True):
            grade.details.update(_checks(gated[i]))
            if grade.score is not None and gated[i].multiplier < 1.0:
                grade.score *= gated[i].multiplier
                grade.reasons["penalty"] = f"x{gated[i].multiplier:.2f} from checks"
            grades[i] = grade
        return grades, gated

    async def _grade_logprob(self, units: list[tuple[RowRubric, str, str, str | None]]) -> list[Grade]:
        requests = [item_request(it, q, a, r, self.task) for rub, q, a, r in units for it in rub.items]
        responses = await self.judge.agenerate(requests) if requests else []
        grades, start = [], 0
        for rubric, *_ in units:
            chunk = responses[start : start + len(rubric.items)]
            start += len(rubric.items)
            try:
                votes = {
                    it.id: vote_choice((YES, NO), resp, it.met_on) for it, resp in zip(rubric.items, chunk, strict=True)
                }
            except VerdictError as exc:
                grades.append(Grade(score=None, error=str(exc)))
                continue
            grades.append(_grade(rubric, votes))
        return grades

    async def _grade_json(self, units: list[tuple[RowRubric, str, str, str | None]]) -> list[Grade]:
        def request(k: int, correction: str | None = None) -> Any:
            rubric, q, a, r = units[k]
            return items_request(rubric, q, a, r, self.json_max_tokens, self.task, correction)

        replies = await self.judge.agenerate([request(k) for k in range(len(units))]) if units else []
        read = [_read_json(reply, units[k][0]) for k, reply in enumerate(replies)]
        # One retry for a reply that came but holds no verdict over exactly the row's items, told what was wrong (a
        # new request, so the cache cannot hand back the same reply). A failed request was retried by the judge.
        retry = [k for k, outcome in enumerate(read) if isinstance(outcome, str) and replies[k].ok]
        if retry:
            again = await self.judge.agenerate([request(k, str(read[k])) for k in retry])
            for k, reply in zip(retry, again, strict=True):
                second = _read_json(reply, units[k][0])
                replies[k], read[k] = reply, second if not isinstance(second, str) else f"{second} (after one retry)"
        grades = []
        for (rubric, *_), reply, outcome in zip(units, replies, read, strict=True):
            reasoning = reasoning_details(reply)  # a thinking judge's reasoning, kept apart from the verdict
            if isinstance(outcome, str):
                grades.append(Grade(score=None, error=outcome, details=reasoning))
                continue
            grade = _grade(rubric, *outcome)
            grade.details.update(reasoning)
            grades.append(grade)
        return grades


def _read_json(reply: Any, rubric: RowRubric) -> tuple[dict[str, ChoiceProbability], dict[str, str]] | str:
    """The votes and reasons of a JSON verdict over exactly the row's item ids, or what is wrong with it."""
    try:
        repeated = duplicate_keys(getattr(reply, "text", None) or "", rubric.ids)
        if repeated:
            raise VerdictError(f"the reply names {repeated} more than once")
        return vote_json(reply, rubric.ids)
    except VerdictError as exc:
        return str(exc)


def _grade(
    rubric: RowRubric, votes: Mapping[str, ChoiceProbability], reasons: Mapping[str, str] | None = None
) -> Grade:
    """An answer's grade from its items' votes; ``reasons``: the judge's written reason per item (json mode)."""
    met = {it.id: votes[it.id].p for it in rubric.items}
    gate = math.prod(met[it.id] for it in rubric.items if it.required)
    score = rubric.score(met) * gate
    items = {
        it.id: {"text": it.text, "points": it.points, "met": met[it.id]}
        | ({"reason": reasons[it.id]} if reasons and it.id in reasons else {})
        for it in rubric.items
    }
    reasons = reasons or {it.id: f"P(met)={met[it.id]:.2f}" for it in rubric.items}
    return Grade(score=score, reasons=dict(reasons), verdicts=items, details=jury_details(dict(votes)))


def item_metrics(grades: Sequence[Grade]) -> dict[str, float]:
    """Per step: items per graded answer, the met rate of each row's highest-weight items and of pitfalls."""
    graded = [g.verdicts for g in grades if g.judged and g.score is not None and g.verdicts]
    if not graded:
        return {}
    metrics = {"items_per_answer": sum(len(v) for v in graded) / len(graded)}
    top, pitfalls = [], []
    for items in graded:
        best = max(v["points"] for v in items.values())
        top += [v["met"] for v in items.values() if v["points"] == best and best > 0]
        pitfalls += [v["met"] for v in items.values() if v["points"] < 0]
    if top:
        metrics["top_items/met_rate"] = sum(top) / len(top)
    if pitfalls:
        metrics["pitfalls/met_rate"] = sum(pitfalls) / len(pitfalls)
    return metrics


def _checks(gated: Gated) -> dict[str, Any]:
    return {"checks": {n: r.score for n, r in gated.results.items()}} if gated.results else {}
