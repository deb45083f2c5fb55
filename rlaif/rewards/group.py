"""Group reward: the judge scores a whole GRPO group of answers to one question in one request (ART's RULER).

TRL hands the reward a batch in which each prompt's G completions come together. The answers are grouped by
prompt (identical prompt), keeping the completion order; identical answers are judged once and share their
score; the judge sees the question and every distinct answer, labelled by short random ids
(:mod:`rlaif.rewards.prompts.group`), and returns a JSON score per id (:mod:`rlaif.rewards.verdicts.group`).

- **Orders** (``orders``): position bias is the strongest bias of judges comparing answers, so a group can be
  asked in several orders and each answer's scores averaged (:func:`rlaif.rewards.orders.shown_orders` says what
  each set cancels). ``cyclic`` (the default): the G rotations, every answer at every position once: any effect
  of the position alone cancels, at G requests per group. ``both``: as listed and reversed, 2 requests: cancels
  a position effect that changes linearly along the list, not one favouring the first place alone (for G >= 3).
  ``as_listed``: 1 request. The orders' agreement (Kendall's tau between every two orders' scores, averaged
  over the step's groups) is logged as ``<name>/order_agreement``.
- **Score or rank** (``score: score | rank``): the reward is the answer's mean score over max_score, or its rank
  in the group (best 1, worst 0, ties share their mean rank); both in [0, 1]. ``rank`` never mixes in an
  absolute score: a group with one distinct answer (alone on this process, or every answer the same) ties with
  itself and gets the middle rank, 0.5, without a request.
- **Failures**: a reply that does not name every id exactly once is retried once as a new request (fresh ids);
  if the retry fails too, or any order fails, every answer of the group gets ``None`` (a counted judge
  failure), never a partial or shifted assignment. A judge error (the endpoint failed after the judge's own
  retries) is not asked again.
- **Split groups**: a prompt's answers spread over several processes are judged with what this process holds;
  an answer alone in its group is scored alone (one request: reordering one answer changes nothing), or in
  ``rank`` mode gets 0.5. The baseline step's answers (one per prompt) are scored the same way (rlaif.train
  skips the baseline in ``rank`` mode: every answer would be 0.5).

Before any judge call, an empty answer scores 0 and the configured ``checks`` gate or penalise, as in the rubric
reward (:mod:`rlaif.rewards.checks`); gated answers are left out of the group the judge sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rlaif.errors import ConfigError
from rlaif.judges.base import Judge
from rlaif.rewards import orders as order_rules
from rlaif.rewards.checks import Check, Gated, apply_gates, check_pass_rates
from rlaif.rewards.conversation import prompt_key, question_text, reference_text
from rlaif.rewards.failures import FailurePolicy
from rlaif.rewards.grades import Grade, resolve
from rlaif.rewards.prompts.group import GroupPrompt, draw_ids, group_request, shared_prefix
from rlaif.rewards.rubric_spec import Rubric
from rlaif.rewards.run_log import RewardLog
from rlaif.rewards.step_log import RewardStep, log_step
from rlaif.rewards.transcript import DEFAULT_MAX_TOOL_CHARS, judged_answer, tool_chars
from rlaif.rewards.verdicts.group import parse_group_verdict
from rlaif.rewards.verdicts.parsing import VerdictError

ScoreMode = Literal["score", "rank"]
LONE_RANK = 0.5  # rank mode: a group's only distinct answer ties with itself, the middle of [0, 1]


@dataclass
class _Group:
    """One group's distinct answers and what the judge said about them, per order, in the answers' terms."""

    question: str
    reference: str | None
    texts: list[str]  # the distinct answers, in completion order
    members: list[int] = field(default_factory=list)  # the batch indices of every answer in the group
    scores: dict[str, list[float]] = field(default_factory=dict)  # order name -> raw score per text
    rationales: dict[str, list[str]] = field(default_factory=dict)
    ids: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None
    retried: int = 0


class GroupReward:
    """A TRL reward function (async, picklable): each answer's score from one judge call over its whole group."""

    min_group_size = 2  # rlaif.runs.config_checks: grpo.num_generations below this is refused by name

    def __init__(
        self,
        judge: Judge,
        rubric: Rubric | Mapping[str, Any] | None = None,
        instruction: str | None = None,
        task: str = "",
        score: ScoreMode = "score",
        orders: order_rules.OrderSet = "cyclic",
        max_score: int = 10,
        shared_prefix_chars: int = 200,
        rationale_chars: int = 200,
        max_tokens_per_answer: int = 128,
        show_reference: bool = True,
        seed: int = 0,
        name: str = "group",
        failures: FailurePolicy | Mapping[str, Any] | None = None,
        log_path: str | None = None,
        checks: Sequence[Check] = (),
        max_tool_chars: int = DEFAULT_MAX_TOOL_CHARS,
    ) -> None:
        if score not in ("score", "rank"):
            raise ConfigError(f"reward.score: expected score or rank, got {score!r}")
        if orders not in ("cyclic", "both", "as_listed"):
            raise ConfigError(f"reward.orders: expected cyclic, both or as_listed, got {orders!r}")
        if not isinstance(max_score, int) or isinstance(max_score, bool) or max_score < 1:
            raise ConfigError(f"reward.max_score: expected a positive integer, got {max_score!r}")
        if getattr(judge, "members", None):
            raise ConfigError("judge: reward=group reads one judge's JSON reply; a jury is not supported with it")
        if instruction is not None and not str(instruction).strip():
            raise ConfigError("reward.instruction: empty; say what makes an answer good, or set it to null")
        if instruction is None and rubric is None:
            raise ConfigError("reward.rubric: reward=group needs a rubric (rubric=NAME) or reward.instruction")
        spec = None
        if instruction is None:
            spec = rubric if isinstance(rubric, Rubric) else Rubric.from_mapping(rubric or {}, "reward.rubric")
        self.judge = judge
        self.max_tool_chars = tool_chars(max_tool_chars)  # a tool result longer than this is cut for the judge
        self.rubric = spec  # guides the judge's one score per answer; no criterion is graded on its own
        self.prompt = GroupPrompt(
            instruction=str(instruction or "").strip(),
            rubric=spec,
            task=task or (spec.task if spec is not None else ""),
            max_score=max_score,
            rationale_chars=rationale_chars,
            max_tokens_per_answer=max_tokens_per_answer,
        )
        self.score_mode = score
        self.orders = orders
        self.shared_prefix_chars = shared_prefix_chars
        self.show_reference = show_reference
        self.seed = seed
        self.__name__ = name  # TRL logs rewards/<__name__>/mean
        self.failures = failures if isinstance(failures, FailurePolicy) else FailurePolicy(**dict(failures or {}))
        self.log = RewardLog(log_path)
        self.checks = list(checks)

    async def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        references = kwargs.get("reference_answer") or [None] * len(prompts)
        answers = [judged_answer(c, self.max_tool_chars) for c in completions]
        grades, gated, groups = await self._grade(prompts, answers, references)
        scores, stop = resolve(grades, self.failures)
        metrics = {f"check/{n}/pass_rate": r for n, r in check_pass_rates(gated).items()}
        metrics.update(group_metrics(groups, self.prompt.max_score))
        log_step(RewardStep(self.__name__, prompts, answers, grades, scores, metrics), kwargs, self.judge, self.log)
        if stop is not None:
            raise stop
        return scores

    @property
    def ranks_within_group(self) -> bool:
        """rlaif.rewards.capabilities.RanksWithinGroups: ``score=rank`` scores an answer only against the others."""
        return self.score_mode == "rank"

    async def grade(self, prompts: Sequence[Any], completions: Sequence[Any], references: Sequence[Any]) -> list[Grade]:
        """Grade every answer with its group (answers to the same prompt); never raises for a judge failure."""
        answers = [judged_answer(c, self.max_tool_chars) for c in completions]
        grades, _, _ = await self._grade(prompts, answers, references)
        return grades

    async def judge_orders(
        self, question: str, answer: str, opponent: str, reference: str | None = None
    ) -> tuple[float, float]:
        """A group of two judged in both orders: P(answer is better) listed first, and listed second
        (:mod:`rlaif.rewards.orders`' terms), each ``0.5 + (score - opponent's score) / (2 max_score)``.
        Raises :class:`VerdictError` when either order gives no verdict."""
        if answer == opponent:
            return 0.5, 0.5
        group = _Group(question, reference, [answer, opponent])
        await self._judge([group], "both")
        if group.error is not None:
            raise VerdictError(group.error)
        top = 2.0 * self.prompt.max_score
        first, second = (0.5 + (s[0] - s[1]) / top for s in group.scores.values())
        return first, second

    async def judge_group(
        self, question: str, answers: Sequence[str], reference: str | None = None
    ) -> list[tuple[float, ...]]:
        """Each answer's score in [0, 1] in each order judged (``cyclic`` when the reward's ``orders`` is, else
        ``both``: at least two, so the orders' agreement is measured): for evaluating the ranking against a known
        one. Identical answers share a score. Raises :class:`VerdictError` on failure."""
        texts = list(dict.fromkeys(answers))
        group = _Group(question, reference, texts)
        await self._judge([group], "cyclic" if self.orders == "cyclic" else "both")
        if group.error is not None:
            raise VerdictError(group.error)
        top = float(self.prompt.max_score)
        return [tuple(group.scores[o][texts.index(a)] / top for o in group.scores) for a in answers]

    async def _grade(
        self, prompts: Sequence[Any], answers: Sequence[str], references: Sequence[Any]
    ) -> tuple[list[Grade], list[Gated], list[_Group]]:
        questions = [question_text(p) for p in prompts]
        refs = [reference_text(r) for r in references]
        gated = apply_gates(self.checks, answers, questions, refs)
        grades = [Grade(0.0, reasons={"gate": g.reason or ""}, judged=False, details=_checks(g)) for g in gated]
        by_prompt: dict[str, _Group] = {}
        for i, g in enumerate(gated):
            if not g.open:
                continue
            key = prompt_key(prompts[i])
            if key not in by_prompt:
                by_prompt[key] = _Group(questions[i], refs[i] if self.show_reference else None, [])
            group = by_prompt[key]
            group.members.append(i)
            if answers[i] not in group.texts:
                group.texts.append(answers[i])
        groups = list(by_prompt.values())
        # Rank mode: a group's only distinct answer has no rank to ask for (it ties with itself).
        await self._judge([g for g in groups if self.score_mode == "score" or len(g.texts) > 1], self.orders)
        for number, group in enumerate(groups):
            for i in group.members:
                grades[i] = self._grade_one(group, number, group.texts.index(answers[i]), gated[i])
        return grades, gated, groups

    async def _judge(self, groups: Sequence[_Group], orders: order_rules.OrderSet) -> None:
        """Every group in each of its ``orders`` (:func:`~rlaif.rewards.orders.shown_orders`) in one batch, then
        one retry batch for the replies without a valid verdict; fills each group's scores, or its error."""
        plans = [(g, o, shown) for g in groups for o, shown in order_rules.shown_orders(orders, len(g.texts)).items()]
        for attempt in (0, 1):
            if not plans:
                return
            requests = [self._request(g, o, shown, attempt) for g, o, shown in plans]
            responses = await self.judge.agenerate(requests)
            again = []
            for (group, order, shown), response in zip(plans, responses, strict=True):
                try:
                    verdicts = parse_group_verdict(response, group.ids[order], self.prompt.max_score)
                except VerdictError as exc:
                    if attempt == 0 and response.error is None:  # the judge answered, badly: ask anew
                        group.retried += 1
                        again.append((group, order, shown))
                    else:
                        group.error = group.error or f"{order} order: {exc}"
                    continue
                group.scores[order] = [verdicts[i].score for i in group.ids[order]]
                group.rationales[order] = [verdicts[i].rationale for i in group.ids[order]]
            plans = again

    def _request(self, group: _Group, order: str, listed: Sequence[int], attempt: int) -> Any:
        shown = [group.texts[k] for k in listed]
        seed = "\x1f".join([str(self.seed), order, str(attempt), group.question, *shown])
        drawn = draw_ids(len(shown), seed)
        ids = [""] * len(listed)
        for position, k in enumerate(listed):
            ids[k] = drawn[position]
        group.ids[order] = ids  # in the texts' terms: ids[k] labels texts[k]
        prefix = shared_prefix(shown, self.shared_prefix_chars)
        return group_request(self.prompt, group.question, shown, drawn, group.reference, prefix)

    def _grade_one(self, group: _Group, number: int, k: int, gated: Gated) -> Grade:
        details: dict[str, Any] = {
            "group": {"index": number, "answers": len(group.members), "distinct": len(group.texts)},
            **_checks(gated),
        }
        if group.error is not None:
            return Grade(None, error=f"group of {len(group.texts)} answers: {group.error}", details=details)
        if self.score_mode == "rank" and len(group.texts) == 1:
            reason = "rank: the group's only distinct answer ties with itself (not judged)"
            return Grade(LONE_RANK * gated.multiplier, reasons={"rank": reason}, details=details, judged=False)
        top = float(self.prompt.max_score)
        raw = {o: s[k] for o, s in group.scores.items()}
        details["group"]["ids"] = {o: ids[k] for o, ids in group.ids.items()}
        details["group_scores"] = raw
        means = [sum(s[j] for s in group.scores.values()) / len(group.scores) for j in range(len(group.texts))]
        value = means[k] / top
        if self.score_mode == "rank" and len(group.texts) > 1:
            value = _mean_ranks(means)[k] / (len(group.texts) - 1)  # 0 for the worst, 1 for the best, ties shared
        reasons = {o: r[k] for o, r in group.rationales.items()}
        if gated.multiplier < 1.0:
            reasons["penalty"] = f"x{gated.multiplier:.2f} from checks"
        return Grade(value * gated.multiplier, reasons=reasons, details=details)


def group_metrics(groups: Sequence[_Group], max_score: int) -> dict[str, float]:
    """Per step: groups judged, answers alone in theirs, duplicates judged once, retried requests, and the
    orders' agreement (mean Kendall's tau over every two orders of each group judged in several, averaged over
    those groups) and score gap (mean |score difference| / max_score of an answer between two orders)."""
    metrics = {
        "groups": float(len(groups)),
        "lone_answers": float(sum(len(g.members) == 1 for g in groups)),
        "duplicate_answers": float(sum(len(g.members) - len(g.texts) for g in groups)),
        "retried_requests": float(sum(g.retried for g in groups)),
        "failed_groups": float(sum(g.error is not None for g in groups)),
    }
    taus: list[float] = []
    gaps: list[float] = []
    for g in groups:
        if g.error is None and len(g.scores) >= 2:
            per_order = list(g.scores.values())
            for i, first in enumerate(per_order):
                for second in per_order[i + 1 :]:
                    gaps.extend(abs(a - b) / max_score for a, b in zip(first, second, strict=True))
            if (tau := order_rules.agreement(per_order)) is not None:
                taus.append(tau)
    if taus:
        metrics["order_agreement"] = sum(taus) / len(taus)
    if gaps:
        metrics["order_score_gap"] = sum(gaps) / len(gaps)
    return metrics


def _mean_ranks(values: Sequence[float]) -> list[float]:
    """0-based ranks, lowest first; tied values share their mean rank."""
    return [sum((w < v) + 0.5 * (w == v) for w in values) - 0.5 for v in values]


def _checks(gated: Gated) -> dict[str, Any]:
    return {"checks": {n: r.score for n, r in gated.results.items()}} if gated.results else {}
