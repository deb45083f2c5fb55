"""``rlaif.open_reward(*overrides)``: rlaif's reward as a plain TRL reward function, for a user's own script.

The config is the one ``python -m rlaif.train`` composes (the same ``rlaif/conf`` tree, defaults and overrides),
so ``open_reward("judge=vllm", "judge.base_url=...", "reward=rubric", "rubric=my_rubric")`` builds the judge
and reward that ``python -m rlaif.train judge=vllm ...`` would: its limits, cache, failure rule, pool, rate limits
and jury. As in training, the judge answers one real request before anything else (``check_judge=false`` skips
it). On the way out the judge is closed, and a vLLM server it launched is stopped.

With ``run_dir`` the files of a run folder that belong to the reward go there: ``rewards.jsonl`` (every answer,
its score, verdicts and rationale), ``judge_totals/`` and ``judge_metrics.json`` (what the judge was asked and
paid, after every call), and the hacking alarm's ``monitor.jsonl`` and ``alarms.jsonl`` (``monitor=off`` turns it
off). The judge's cache goes to ``<run_dir>/judge_cache`` as in a run. Canaries, the baseline and the report belong to
``rlaif.train``'s loop and are not built here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from omegaconf import DictConfig

from rlaif.rewards.step_log import LOG_JUDGE_FAILED
from rlaif.runs.composed import compose_config


@dataclass
class Scored:
    """One batch's scores with what rlaif knows of each answer, for callers that are not TRL (verl, the server).

    ``scores``: None where the judge failed (the failure rule's ``on_judge_error`` decides, as in training);
    ``extras``: per answer, the columns the reward hands TRL's completions table (its rationale) and
    ``judge_failed`` (1.0 or 0.0); ``metrics``: the batch's metrics as TRL would log them (``<reward>/...``,
    ``judge/...``); ``stop``: why a run on this reward should stop (the judge failed too often, an alarm under
    ``on_alarm=stop``), else None."""

    scores: list[float | None]
    extras: list[dict[str, Any]]
    metrics: dict[str, float] = field(default_factory=dict)
    stop: str | None = None


class RewardFunction:
    """What :func:`open_reward` yields: an async TRL reward function (``GRPOTrainer(reward_funcs=[reward])``).

    TRL passes the dataset's columns (``reference_answer``, ``id``, a row's ``rubric`` ...) as keyword arguments
    and they reach the reward as in ``rlaif.train``. Outside a trainer, ``asyncio.run(reward(prompts,
    completions))``. ``callbacks`` go to the trainer too (``GRPOTrainer(callbacks=reward.callbacks)``): a judge
    that fails too often, or an alarm under ``monitor.on_alarm=stop``, then ends training after the step with a
    checkpoint, as in ``rlaif.train``; without them the next reward call raises the reason instead."""

    def __init__(self, judge: Any, reward: Any, config: DictConfig, run_dir: Path | None) -> None:
        from rlaif.monitoring.guard import GuardedReward
        from rlaif.monitoring.monitor import build_monitor
        from rlaif.runs.judge_totals import attempt_path
        from rlaif.runs.processes import process_index
        from rlaif.runs.stopping import StopOnRequest

        self.judge, self.config, self.run_dir = judge, config, run_dir
        monitor = build_monitor(config.monitor, config.get("rubric"), run_dir) if run_dir is not None else None
        self.monitor = monitor
        self.reward = GuardedReward(reward, [monitor] if monitor is not None else [])
        self.__name__ = self.reward.__name__  # TRL logs the reward's metrics under this name
        self.callbacks = [StopOnRequest(self.reward.stop)]
        self._totals = attempt_path(run_dir, process_index()) if run_dir is not None else None
        self._calls = 0
        self.write_totals()

    async def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        if (reason := self.reward.stop.reason) is not None:  # no StopOnRequest ended the run after that step
            raise reason
        return await self._step(prompts, completions, kwargs)

    async def _step(self, prompts: list[Any], completions: list[Any], kwargs: dict[str, Any]) -> list[float | None]:
        """One reward call, numbered (outside a trainer each call is a step of its own; a trainer's first call after
        step N > 0 is a resume), with the judge's totals written after it however it ends."""
        self._calls += 1
        if kwargs.get("trainer_state") is None:
            kwargs["trainer_state"] = SimpleNamespace(global_step=self._calls - 1)
        elif self._calls == 1:
            self._resumed(int(kwargs["trainer_state"].global_step))
        try:
            return await self.reward(prompts, completions, **kwargs)
        finally:
            self.write_totals()

    async def score_batch(
        self, prompts: Sequence[Any], completions: Sequence[Any], step: int | None = None, **columns: Any
    ) -> Scored:
        """Score one batch for a caller that is not TRL: ``step`` (1 = the first) numbers its lines in the run
        folder's files (else each call is the next step); ``columns`` as TRL would pass them (lists, one value
        per answer). Never raises for a judge failure or an alarm: they are in :attr:`Scored.stop`."""
        extras: list[dict[str, Any]] = [{} for _ in completions]
        metrics: dict[str, float] = {}

        def log_extra(column: str, values: Sequence[Any]) -> None:
            for extra, value in zip(extras, values, strict=True):
                extra[column] = value

        def log_metric(key: str, value: float) -> None:
            metrics[key] = float(value)

        failed: list[bool] = []
        state = SimpleNamespace(global_step=step - 1) if step is not None else None
        kwargs = {**columns, "log_extra": log_extra, "log_metric": log_metric, "trainer_state": state}
        kwargs[LOG_JUDGE_FAILED] = failed.extend
        scores = await self._step(list(prompts), list(completions), kwargs)
        failed = failed or [score is None for score in scores]  # a reward of the user's that does not report
        for extra, judge_failed in zip(extras, failed, strict=True):
            extra["judge_failed"] = float(judge_failed)  # under on_judge_error=neutral too, where the score is 0.5
        reason, self.reward.stop.reason = self.reward.stop.reason, None  # reported once, to this batch's caller
        return Scored(list(scores), extras, metrics, None if reason is None else str(reason))

    def _resumed(self, done: int) -> None:
        """A trainer whose first reward call comes after step ``done`` > 0 resumed from ``checkpoint-<done>``: the
        lines of the steps it replays are cut from the run folder's logs, so each step is there once (as
        ``rlaif.train``'s ``resume=`` does), and the alarm rule restarts from the checkpoint's step."""
        if self.run_dir is None or done == 0:
            return
        from rlaif.rewards.run_log import per_rank
        from rlaif.runs.processes import is_main_process
        from rlaif.runs.resume_logs import cut_logs

        cut_logs(self.run_dir, done, [str(per_rank(Path("rewards.jsonl")))])
        if self.monitor is not None and is_main_process():
            cut_logs(self.run_dir, done, ["monitor.jsonl", "alarms.jsonl"])
            self.monitor.restore(done)

    def write_totals(self) -> None:
        """The judge's totals so far in ``<run_dir>/judge_totals/`` and the run's in ``judge_metrics.json``, after
        every call: a crash (or a Ray actor ended without exit handlers) loses at most the requests in flight."""
        if self._totals is not None and self.run_dir is not None:
            from rlaif.runs.judge_totals import write_folder_totals, write_totals

            write_totals(self._totals, self.judge.metrics.totals(), self._calls)
            write_folder_totals(self.run_dir)


@contextmanager
def open_reward(*overrides: str, run_dir: str | os.PathLike[str] | None = None) -> Iterator[RewardFunction]:
    """rlaif's reward for ``overrides`` (as on ``python -m rlaif.train``'s command line) as a TRL reward function.

    A bad override raises :class:`rlaif.errors.ConfigError` naming it; a judge that cannot answer its first
    request raises before anything is yielded. See the module docstring for ``run_dir``."""
    config = compose_config(overrides, where="open_reward")
    with open_configured_reward(config, Path(run_dir) if run_dir is not None else None) as function:
        yield function


@contextmanager
def open_configured_reward(config: DictConfig, run_dir: Path | None) -> Iterator[RewardFunction]:
    """:func:`open_reward` for a config already composed (``python -m rlaif.serve``'s own, from ``@hydra.main``)."""
    from rlaif.runs.judge_and_reward import check_judge_for, open_judge_and_reward

    if run_dir is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
    log_path = str(run_dir / "rewards.jsonl") if run_dir is not None else None
    with open_judge_and_reward(config.judge, config.reward, run_dir, log_path=log_path) as (judge, reward):
        if config.check_judge:  # the judge (and any server it launched) is closed however the block ends
            check_judge_for(judge, reward)
        function = RewardFunction(judge, reward, config, run_dir)
        try:
            yield function
        finally:
            function.write_totals()
