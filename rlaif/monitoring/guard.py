"""A reward with watchers around it: :class:`GuardedReward` runs each :class:`Guard` before and after the
reward's own call on a step's rollouts. The canaries judge their labelled rows *before* (the judge is idle
then); the monitor reads the rollouts and their scores *after*. TRL sees the wrapped reward's name and
result. A guard's ``AlarmStopError`` or the reward's ``JudgeFailureError`` does not propagate into TRL: it
becomes a stop request (``rlaif.runs.stopping``), acted on at the end of the step with a checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from rlaif.monitoring.alarms import AlarmStopError
from rlaif.rewards.capabilities import call_reward
from rlaif.rewards.failures import JudgeFailureError
from rlaif.rewards.step_numbers import step_being_taken
from rlaif.runs.stopping import StopRequest


class Guard(Protocol):
    """Something that watches a run through its reward calls. Must be picklable."""

    async def before_reward(self, step: int, kwargs: Mapping[str, Any]) -> None:
        """Runs before the reward scores the rollouts of ``step`` (TRL's number of the step being taken, 1 = the
        first: :mod:`rlaif.rewards.step_numbers`; ``kwargs`` are TRL's: ``log_metric`` ...)."""
        ...

    async def after_reward(
        self,
        step: int,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        scores: Sequence[float | None],
        kwargs: Mapping[str, Any],
    ) -> None:
        """Runs after the reward scored them (``scores`` as TRL gets them: None for a failure)."""
        ...


class GuardedReward:
    """``reward`` with ``guards`` run around every call; ``guard_seconds`` is their time since the last read, and a
    guard with ``take_requests`` (the canaries, the judged monitor) reports its judge requests the same way."""

    def __init__(self, reward: Any, guards: Sequence[Guard], stop: StopRequest | None = None) -> None:
        self.reward = reward
        self.guards = list(guards)
        self.stop = stop or StopRequest()
        self.__name__ = getattr(reward, "__name__", type(reward).__name__)
        self.guard_seconds = 0.0

    async def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        step = step_being_taken(kwargs.get("trainer_state")) or 1  # TRL's number of this step (1 = the first)
        await self._run(step, lambda g: g.before_reward(step, kwargs))
        try:
            scores = await call_reward(self.reward, prompts, completions, **kwargs)
        except JudgeFailureError as exc:  # the step's answers go unscored (advantage 0); the run stops after it
            self.stop.request(exc, step)
            scores = [None] * len(completions)
        await self._run(step, lambda g: g.after_reward(step, prompts, completions, scores, kwargs))
        return scores

    async def _run(self, step: int, call: Any) -> None:
        started = time.perf_counter()
        try:
            for guard in self.guards:
                try:
                    await call(guard)
                except AlarmStopError as exc:  # the scores stand; the run stops after this step
                    self.stop.request(exc, step)
        finally:
            self.guard_seconds += time.perf_counter() - started

    def take_guard_seconds(self) -> float:
        """The guards' seconds since the last call (the step timer reads this once per step)."""
        seconds, self.guard_seconds = self.guard_seconds, 0.0
        return seconds

    def take_guard_requests(self) -> tuple[float, float]:
        """The guards' judge requests since the last call, not answered from a cache: (those sent to the training
        judge, all of them). The step timer counts them apart from the reward's, as it does their time."""
        on_training = every = 0.0
        for guard in self.guards:
            take = getattr(guard, "take_requests", None)
            if callable(take):
                mine, theirs = take()
                on_training, every = on_training + mine, every + theirs
        return on_training, every

    def __getattr__(self, name: str) -> Any:
        return getattr(self.reward, name)
