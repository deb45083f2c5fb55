"""Preference reward: a judge compares two answers; the reward is the probability of winning.

- ``vs_reference``: the policy's answer against the row's ``reference_answer``;
- ``within_group``: against the other answers to the same prompt that are present in this call (a
  round robin over every pair). Completions may be spread over processes, so a group is only what
  this call holds; an answer alone in its group falls back to the reference when the row has one,
  otherwise it gets ``None`` (no opponent, counted as ``unpaired_rate``, not as a judge failure).

Every comparison is judged in both orders (position bias is the strongest bias of pairwise judges):
with p1 = P(A) when x is A and p2 = P(A) when y is A, r(x, y) = (p1 + 1 - p2) / 2 and r(y, x) is
computed as 1 - r(x, y) from the same two calls, so r(x, y) + r(y, x) = 1 exactly and r(x, x) = 0.5
(identical texts are never sent to the judge). P(A) is read by :mod:`rlaif.rewards.verdicts.choices`: from
the judge's A/B log-probabilities where the backend gives them, else from an exact ``A`` / ``B``
reply (1 or 0); anything else fails the comparison, and a failed comparison makes the answer's
reward ``None`` (failure policy applies).
A pair is position-consistent when both orders pick the same winner (:mod:`rlaif.rewards.orders`, the rule the
evaluations use too); the rate is logged each step.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rlaif.errors import ConfigError
from rlaif.judges.base import Judge
from rlaif.judges.protocol import JudgeResponse
from rlaif.rewards import orders
from rlaif.rewards.checks import Check, Gated, apply_gates, check_pass_rates
from rlaif.rewards.conversation import prompt_key, question_text, reference_text
from rlaif.rewards.failures import FailurePolicy
from rlaif.rewards.grades import Grade, resolve
from rlaif.rewards.prompts.preference import CHOICES, PreferenceSpec, pair_request
from rlaif.rewards.run_log import RewardLog
from rlaif.rewards.step_log import RewardStep, log_step
from rlaif.rewards.transcript import DEFAULT_MAX_TOOL_CHARS, judged_answer, tool_chars
from rlaif.rewards.verdicts.jury_votes import ChoiceProbability, vote_choice
from rlaif.rewards.verdicts.parsing import VerdictError

Mode = Literal["vs_reference", "within_group"]
_Key = tuple[str, str, str, str | None]  # (question, first text, second text, reference shown)


@dataclass
class _Match:
    """One pair judged in both orders; ``first`` / ``second`` in canonical (sorted) order."""

    question: str
    first: str
    second: str
    reference: str | None
    p_first: float | None = None  # P(first is better) averaged over both orders
    orders: tuple[float, float] | None = None  # P(first is better) with first shown as A, and shown as B
    error: str | None = None
    members: dict[str, float | None] = field(default_factory=dict)  # a jury: each member's P(first is better)

    def win(self, text: str) -> float:
        assert self.p_first is not None
        return self.p_first if text == self.first else 1.0 - self.p_first

    def member_wins(self, text: str) -> dict[str, float | None]:
        flip = text != self.first
        return {n: None if p is None else (1.0 - p if flip else p) for n, p in self.members.items()}


class PreferenceReward:
    """A TRL reward function (async, picklable): the probability that the answer wins its comparisons."""

    def __init__(
        self,
        judge: Judge,
        preference: PreferenceSpec | Mapping[str, Any],
        mode: Mode = "vs_reference",
        name: str = "preference",
        failures: FailurePolicy | Mapping[str, Any] | None = None,
        log_path: str | None = None,
        checks: Sequence[Check] = (),
        show_reference: bool = True,
        max_tool_chars: int = DEFAULT_MAX_TOOL_CHARS,
    ) -> None:
        if mode not in ("vs_reference", "within_group"):
            raise ConfigError(f"reward.mode: expected vs_reference or within_group, got {mode!r}")
        if getattr(judge, "aggregate", None) == "min":
            raise ConfigError(
                "judge.aggregate: min (the strictest member) is for pointwise rewards; a comparison has no "
                "strict side: use mean, median or majority with reward=preference"
            )
        self.judge = judge
        self.max_tool_chars = tool_chars(max_tool_chars)  # a tool result longer than this is cut for the judge
        self.spec = (
            preference
            if isinstance(preference, PreferenceSpec)
            else PreferenceSpec.from_mapping(preference, "reward.preference")
        )
        self.mode = mode
        self.__name__ = name  # TRL logs rewards/<__name__>/mean
        self.failures = failures if isinstance(failures, FailurePolicy) else FailurePolicy(**dict(failures or {}))
        self.log = RewardLog(log_path)
        self.checks = list(checks)
        self.show_reference = show_reference  # within_group: show the row's reference as trusted context

    @property
    def requires_reference(self) -> bool:
        """``vs_reference`` needs a ``reference_answer`` on every row: ``rlaif.train`` checks the data first."""
        return self.mode == "vs_reference"

    async def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        if self.mode == "vs_reference" and "reference_answer" not in kwargs:
            raise ConfigError(
                f"reward {self.__name__}: mode vs_reference needs a reference_answer column in the dataset; "
                "use reward.mode=within_group for data without references"
            )
        references = kwargs.get("reference_answer") or [None] * len(prompts)
        answers = [judged_answer(c, self.max_tool_chars) for c in completions]
        grades, gated, matches = await self._grade(prompts, answers, references)
        scores, stop = resolve(grades, self.failures)
        metrics = {f"check/{n}/pass_rate": r for n, r in check_pass_rates(gated).items()}
        metrics.update(_match_metrics(matches, grades))
        log_step(RewardStep(self.__name__, prompts, answers, grades, scores, metrics), kwargs, self.judge, self.log)
        if stop is not None:
            raise stop
        return scores

    async def compare(self, question: str, answer: str, opponent: str, reference: str | None = None) -> float:
        """r(answer, opponent): P(answer wins), both orders averaged. Raises :class:`VerdictError` on failure."""
        if answer == opponent:
            return 0.5
        match = _new_match(question, answer, opponent, reference)
        await self._judge([match])
        if match.error is not None:
            raise VerdictError(match.error)
        return match.win(answer)

    async def judge_orders(
        self, question: str, answer: str, opponent: str, reference: str | None = None
    ) -> tuple[float, float]:
        """P(answer is better) when shown as A, and when shown as B (both calls in one batch).

        For evaluation: the two orders kept apart show position bias (swap consistency, ties when they
        disagree). Raises :class:`VerdictError` when either order gives no verdict.
        """
        requests = [
            pair_request(self.spec, question, answer, opponent, reference),
            pair_request(self.spec, question, opponent, answer, reference),
        ]
        first, second = await self.judge.agenerate(requests)
        return _p_a(first).p, 1.0 - _p_a(second).p

    async def _grade(
        self, prompts: Sequence[Any], answers: Sequence[str], references: Sequence[Any]
    ) -> tuple[list[Grade], list[Gated], list[_Match]]:
        questions = [question_text(p) for p in prompts]
        refs = [reference_text(r) for r in references]
        gated = apply_gates(self.checks, answers, questions, refs)
        opponents = self._opponents(prompts, answers, refs, gated)
        matches: dict[_Key, _Match] = {}
        for i, opps in opponents.items():
            for _, text in opps:
                if text != answers[i]:
                    shown = refs[i] if self.mode == "within_group" and self.show_reference else None
                    match = _new_match(questions[i], answers[i], text, shown)
                    matches.setdefault((match.question, match.first, match.second, shown), match)
        await self._judge(list(matches.values()))
        grades = []
        for i, g in enumerate(gated):
            if not g.open:
                grades.append(Grade(0.0, reasons={"gate": g.reason or ""}, judged=False))
            elif i not in opponents:
                grades.append(Grade(None, error="unpaired: no other answer here and no reference", judged=False))
            else:
                shown = refs[i] if self.mode == "within_group" and self.show_reference else None
                grades.append(_grade_one(questions[i], answers[i], opponents[i], shown, matches, g))
        return grades, gated, list(matches.values())

    def _opponents(
        self, prompts: Sequence[Any], answers: Sequence[str], refs: Sequence[str | None], gated: Sequence[Gated]
    ) -> dict[int, list[tuple[str, str]]]:
        """For each gradable answer, its (label, opponent text) list; answers with none are left out."""
        open_ = [i for i, g in enumerate(gated) if g.open]
        groups: dict[str, list[int]] = defaultdict(list)
        if self.mode == "within_group":
            for i in open_:
                groups[prompt_key(prompts[i])].append(i)
        opponents: dict[int, list[tuple[str, str]]] = {}
        for i in open_:
            group = groups.get(prompt_key(prompts[i]), []) if self.mode == "within_group" else []
            if len(group) >= 2:
                opponents[i] = [(f"#{j}", answers[j]) for j in group if j != i]
            elif refs[i] is not None:  # vs_reference, or alone in its group: the reference is the opponent
                opponents[i] = [("reference", refs[i] or "")]
        return opponents

    async def _judge(self, matches: list[_Match]) -> None:
        """Both orders of every match in one batch; fills ``p_first`` / ``orders`` or ``error``."""
        requests = []
        for m in matches:
            requests.append(pair_request(self.spec, m.question, m.first, m.second, m.reference))
            requests.append(pair_request(self.spec, m.question, m.second, m.first, m.reference))
        responses = await self.judge.agenerate(requests) if requests else []
        for k, m in enumerate(matches):
            try:
                v1 = _p_a(responses[2 * k])  # P(first better), first shown as A
                v2 = _p_a(responses[2 * k + 1])  # P(second better), second shown as A
            except VerdictError as exc:
                m.error = str(exc)
                continue
            m.orders = (v1.p, 1.0 - v2.p)  # both in first's terms, as rlaif.rewards.orders reads them
            m.p_first = (v1.p + (1.0 - v2.p)) / 2.0
            for name in v1.members:
                p1, p2 = v1.members[name], v2.members.get(name)
                m.members[name] = None if p1 is None or p2 is None else (p1 + (1.0 - p2)) / 2.0


def _new_match(question: str, x: str, y: str, reference: str | None) -> _Match:
    # Canonical order: r(x, y) and r(y, x) read the same match, so they add up to exactly 1.
    first, second = (x, y) if x < y else (y, x)
    return _Match(question, first, second, reference)


def _p_a(response: JudgeResponse) -> ChoiceProbability:
    return vote_choice(CHOICES, response, CHOICES[0])


def _grade_one(
    question: str,
    answer: str,
    opponents: list[tuple[str, str]],
    shown: str | None,
    matches: Mapping[_Key, _Match],
    gated: Gated,
) -> Grade:
    wins: dict[str, float] = {}
    jury: dict[str, dict[str, float | None]] = {}
    for label, text in opponents:
        if text == answer:
            wins[label] = 0.5
            continue
        first, second = (answer, text) if answer < text else (text, answer)
        match = matches[(question, first, second, shown)]
        if match.error is not None:
            return Grade(None, error=f"vs {label}: {match.error}")
        wins[label] = match.win(answer)
        for name, p in match.member_wins(answer).items():
            jury.setdefault(name, {})[f"vs {label}"] = p
    score = sum(wins.values()) / len(wins) * gated.multiplier
    reasons = {f"vs {label}": f"P(win)={p:.2f}" for label, p in wins.items()}
    if gated.multiplier < 1.0:
        reasons["penalty"] = f"x{gated.multiplier:.2f} from checks"
    checks = {"checks": {n: r.score for n, r in gated.results.items()}} if gated.results else {}
    details = {"win_probabilities": wins, **checks, **({"jury": jury} if jury else {})}
    return Grade(score, reasons=reasons, details=details)


def _match_metrics(matches: Sequence[_Match], grades: Sequence[Grade]) -> dict[str, float]:
    metrics = {"pairs": float(len(matches))}
    consistent = orders.consistency([m.orders for m in matches if m.orders is not None])
    if consistent is not None:
        metrics["position_consistency"] = consistent
    unpaired = sum(1 for g in grades if not g.judged and g.score is None)
    metrics["unpaired_rate"] = unpaired / len(grades) if grades else 0.0
    return metrics
