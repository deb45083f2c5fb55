"""What a reward can do beyond being a TRL reward function, as small protocols: the one way callers ask.

``rlaif.evaluate``, ``rlaif.judge_eval``, the baseline step, the canaries and the judged monitor each need
a particular skill of the configured reward (``reward=...``, any ``_target_``): grading one answer alone,
comparing two answers in both orders, scoring a group of answers together, grading each criterion of a rubric.
Callers ask with ``isinstance`` against these protocols, never by probing for an attribute name. A reward of the
user's gains a skill by defining the protocol's members; nothing is registered.
"""

from __future__ import annotations

import inspect
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol, runtime_checkable

from rlaif.rewards.failures import FailurePolicy
from rlaif.rewards.grades import Grade
from rlaif.rewards.rubric_spec import Rubric


async def call_reward(reward: Any, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
    """Call ``reward`` as TRL does (an ``async def __call__`` is awaited, a plain function's list taken as it is):
    the one way rlaif's wrappers (guards, the step timer, the judge totals) call the reward they wrap."""
    result = reward(prompts, completions, **kwargs)
    return list(await result if inspect.isawaitable(result) else result)


@runtime_checkable
class VerdictSource(Protocol):
    """Says where it reads its verdicts: from the judge's first token (log-prob or one-word verdicts, which a judge
    that reasons before it answers cannot give) or from a reply written in full (the rubric rewards' ``mode:
    json``)."""

    @property
    def reads_first_token(self) -> bool: ...


def reads_first_token(reward: Any) -> bool:
    """Whether ``reward`` reads its verdicts from the judge's first token: what it declares (:class:`VerdictSource`),
    else yes, so a reward that says nothing gets the stricter judge check."""
    return reward.reads_first_token if isinstance(reward, VerdictSource) else True


@runtime_checkable
class AsksAJudge(Protocol):
    """Calls a judge (every reward but the check-only one): the canaries have something to watch."""

    judge: Any


@runtime_checkable
class HasFailurePolicy(Protocol):
    """Turns a judge failure into a score by a :class:`~rlaif.rewards.failures.FailurePolicy` (the judge rewards);
    the Nova Lambda applies the same rule to a sample the judge failed on."""

    failures: FailurePolicy


@runtime_checkable
class GradesAnswers(Protocol):
    """Grades each answer on its own (the rubric rewards, with or without gates). A ``grade`` that also takes
    ``extras`` (each row's other fields, the rows' ``extra`` column) gets them from :func:`grade_rows`."""

    async def grade(
        self, prompts: Sequence[Any], completions: Sequence[Any], references: Sequence[Any]
    ) -> list[Grade]: ...


@runtime_checkable
class GradesRowRubrics(Protocol):
    """Grades each answer against its own row's rubric items (``reward=row_rubric``): it checks rows at set-up
    (``row_problems``) and its ``grade`` takes the rows' ``extras``. Item sets (judge_eval, the canaries) and the
    Nova Lambda's samples need it."""

    def row_problems(self, extras: Sequence[Any], wheres: Sequence[str]) -> list[str]: ...

    async def grade(
        self, prompts: Sequence[Any], completions: Sequence[Any], references: Sequence[Any], extras: Sequence[Any]
    ) -> list[Grade]: ...


def grade_rows(
    reward: Any, prompts: Sequence[Any], completions: Sequence[Any], references: Sequence[Any], extras: Sequence[Any]
) -> Coroutine[Any, Any, list[Grade]]:
    """``reward.grade`` with each row's ``extras`` when its ``grade`` takes them (a row's own rubric; the fields a
    Nova reward function gets in training), without when it does not: how rlaif grades rows outside TRL
    (``rlaif.evaluate``, the baseline step, the judged monitor, the Nova Lambda)."""
    if "extras" in inspect.signature(reward.grade).parameters:
        return reward.grade(prompts, completions, references, extras)
    return reward.grade(prompts, completions, references)


@runtime_checkable
class ComparesAnswers(Protocol):
    """Judges a pair in both orders: P(answer better) shown as A, and shown as B (the preference reward)."""

    async def judge_orders(
        self, question: str, answer: str, opponent: str, reference: str | None = None
    ) -> tuple[float, float]: ...


@runtime_checkable
class JudgesGroups(Protocol):
    """Scores a group of answers to one question together: each answer's score in [0, 1] in each order judged
    (the group reward; a listwise labelled set checks the ranking against its known order)."""

    async def judge_group(
        self, question: str, answers: Sequence[str], reference: str | None = None
    ) -> list[tuple[float, ...]]: ...


@runtime_checkable
class RanksWithinGroups(Protocol):
    """Says whether its scores only rank the answers to the same prompt against each other (``reward=group
    score=rank``): then one answer per prompt (the baseline step) has no score of its own."""

    @property
    def ranks_within_group(self) -> bool: ...


@runtime_checkable
class ComparesWithReference(Protocol):
    """Says whether it compares each answer with the row's ``reference_answer`` (the preference reward's
    ``vs_reference``): without one every answer is an unscorable None, so ``rlaif.train`` refuses such rows first."""

    @property
    def requires_reference(self) -> bool: ...


@runtime_checkable
class GradesCriteria(Protocol):
    """Grades every criterion of ``graded_rubric`` on its own: each grade's ``passes`` holds a P(pass) per criterion
    id, so a pointwise labelled set's labels (judge_eval, the canaries) and the Nova Lambda's per-criterion results
    can be read from it. The rubric reward declares it; the group reward does not (its rubric guides one score per
    answer)."""

    @property
    def graded_rubric(self) -> Rubric: ...


@runtime_checkable
class TimesItsGuards(Protocol):
    """Runs guards around the reward (the monitor's :class:`~rlaif.monitoring.guard.GuardedReward`): the step timer
    takes their seconds and judge requests apart from the reward's."""

    def take_guard_seconds(self) -> float: ...

    def take_guard_requests(self) -> tuple[float, float]: ...
