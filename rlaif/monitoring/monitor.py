"""The hacking alarm during training: :class:`Monitor`, a :class:`~rlaif.monitoring.guard.Guard` that reads each
step's rollouts and scores after the reward, measures what the reward does not see
(:mod:`~rlaif.monitoring.signals`), and runs the alarm rule (:mod:`~rlaif.monitoring.alarm_rule`).

Per step: one ``monitor.jsonl`` line (the signals, the reward's mean, every trend z), ``monitor/<signal>`` through
TRL's ``log_metric`` (TensorBoard and TRL's step log), and any new alarm to the :class:`AlarmSink` (a WARNING,
``alarms.jsonl``, and with ``monitor.on_alarm=stop`` the run's stop). Steps are TRL's ``global_step``, as in
``rewards.jsonl``; when TRL calls the reward more than once for one step, the step's rollouts add up and its
latest line is the whole step. Only the main process measures and writes: under several processes it sees its
own share of each step's rollouts, a sample of the step.

The judged monitor (``monitor.judge_sample`` > 0, with a second judge as ``monitor.judge``): a seeded sample of
that many completions of each reward call is graded again, by the run's own reward class with the second judge,
and ``judge_agreement`` is the step's rank correlation between the two (alarm under ``monitor.min_agreement``).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rlaif.monitoring.alarm_rule import Watch
from rlaif.monitoring.alarms import Alarm, AlarmSink
from rlaif.monitoring.settings import MonitorSettings, monitor_settings
from rlaif.monitoring.signals import Rollout, agreement, step_signals
from rlaif.rewards.conversation import answer_text, prompt_key, question_text, reference_text


class Monitor:
    """Signals and the alarm rule on every step's rollouts (see the module docstring)."""

    def __init__(self, settings: MonitorSettings, sink: AlarmSink, path: Path | None) -> None:
        self.settings = settings
        self.sink = sink
        self.path = path
        self.watch = Watch(settings.rule)
        self.second: Any | None = None  # the judged monitor's reward (its own judge); see build_second_reward
        self._step: int | None = None
        self._rollouts: list[Rollout] = []
        self._judged: list[tuple[float | None, float | None]] = []  # (reward, second judge) of the step's sample
        self._rng = random.Random(0)

    async def before_reward(self, step: int, kwargs: Mapping[str, Any]) -> None:
        return None

    async def after_reward(
        self,
        step: int,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        scores: Sequence[float | None],
        kwargs: Mapping[str, Any],
    ) -> None:
        if not getattr(kwargs.get("trainer_state"), "is_world_process_zero", True):
            return
        if step != self._step:  # a new step: the previous one is complete
            self._step, self._rollouts, self._judged = step, [], []
        self._rollouts.extend(rollouts_from_call(prompts, completions, scores, kwargs))
        extra = {}
        if self.second is not None and self.settings.judge_sample > 0:
            self._judged.extend(await self._judge_sample(prompts, completions, scores, kwargs))
            extra["judge_agreement"] = agreement([a for a, _ in self._judged], [b for _, b in self._judged])
        line = self.observe(step, self._rollouts, extra)
        log_metric = kwargs.get("log_metric")
        if log_metric is not None:
            for name in (*self.settings.rule.wrong_way, "alarm"):
                value = line.get(name)
                if value is not None and not math.isnan(float(value)):
                    log_metric(f"monitor/{name}", float(value))

    async def _judge_sample(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        scores: Sequence[float | None],
        kwargs: Mapping[str, Any],
    ) -> list[tuple[float | None, float | None]]:
        """(training score, second judge's score) for a seeded sample of this call's completions."""
        assert self.second is not None
        picked = sorted(self._rng.sample(range(len(prompts)), min(self.settings.judge_sample, len(prompts))))
        refs = list(kwargs.get("reference_answer") or [None] * len(prompts))
        grades = await self.second.grade(
            [prompts[i] for i in picked], [completions[i] for i in picked], [refs[i] for i in picked]
        )
        return [(scores[i], g.score) for i, g in zip(picked, grades, strict=True)]

    def observe(self, step: int, rollouts: Sequence[Rollout], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Measure ``step``'s rollouts, write its line, report new alarms; the line (also used by the replay)."""
        signals = {**step_signals(rollouts), **(extra or {})}
        evaluation, new = self.watch.update(step, signals)
        line = {
            "step": step,
            "rollouts": len(rollouts),
            **signals,
            "reward_z": evaluation.reward_z,
            "z": evaluation.signal_z,
            "alarm": float(bool(evaluation.findings)),
        }
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(line) + "\n")
        for finding in new:
            self.sink.report(Alarm("monitor", finding.signal, step, finding.message, finding.numbers))
        return line


def rollouts_from_call(
    prompts: Sequence[Any], completions: Sequence[Any], scores: Sequence[float | None], kwargs: Mapping[str, Any]
) -> list[Rollout]:
    """One reward call's rollouts: TRL's prompts and completions, the rows' ``id`` and ``reference_answer``."""
    n = len(prompts)
    ids = list(kwargs.get("id") or [None] * n)
    refs = list(kwargs.get("reference_answer") or [None] * n)
    return [
        Rollout(
            group=str(ids[i]) if ids[i] is not None else prompt_key(prompts[i]),
            question=question_text(prompts[i]),
            answer=answer_text(completions[i]),
            score=scores[i],
            reference=reference_text(refs[i]),
        )
        for i in range(n)
    ]


def build_monitor(monitor: Mapping[str, Any] | None, rubric: Mapping[str, Any] | None, run_dir: Path) -> Monitor | None:
    """The monitor of ``monitor`` (the config group, checked: a bad value raises ConfigError), None when off."""
    settings = monitor_settings(monitor, rubric)
    if not settings.enabled:
        return None
    sink = AlarmSink(run_dir / "alarms.jsonl", settings.on_alarm)
    return Monitor(settings, sink, run_dir / "monitor.jsonl")


def build_second_reward(
    monitor: Mapping[str, Any], reward: Mapping[str, Any], run_dir: Path, stack: ExitStack
) -> Any | None:
    """The judged monitor's reward: the run's reward config with the second judge (``monitor.judge``), its cache
    in ``<run>/monitor_judge/``; None when ``monitor.judge_sample`` is 0. ``stack`` closes the judge."""
    if not monitor.get("judge_sample") or monitor.get("judge") is None:
        return None
    from rlaif.errors import ConfigError
    from rlaif.rewards.capabilities import GradesAnswers
    from rlaif.runs.judge_and_reward import open_judge_and_reward

    home = run_dir / "monitor_judge"
    _, second = stack.enter_context(
        open_judge_and_reward(monitor["judge"], reward, home, log_path=str(home / "rewards.jsonl"))  # type: ignore[arg-type]
    )
    if not isinstance(second, GradesAnswers):
        raise ConfigError(
            f"monitor.judge_sample: reward {second.__name__!r} grades no single answer (use a rubric reward)"
        )
    return second
