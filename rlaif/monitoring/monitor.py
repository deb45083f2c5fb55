"""The hacking alarm during training: :class:`Monitor`, a :class:`~rlaif.monitoring.guard.Guard` that reads each
step's rollouts and scores after the reward, measures what the reward does not see
(:mod:`~rlaif.monitoring.signals`), and runs the alarm rule (:mod:`~rlaif.monitoring.alarm_rule`).

Per step: one ``monitor.jsonl`` line (the signals, the reward's mean, every trend z), ``monitor/<signal>`` through
TRL's ``log_metric`` (TensorBoard and TRL's step log), and any new alarm to the :class:`AlarmSink` (a WARNING,
``alarms.jsonl``, and with ``monitor.on_alarm=stop`` the run's stop). Steps are TRL's ``global_step``, as in
``rewards.jsonl``; when TRL calls the reward more than once for one step, the step's rollouts add up and its
latest line is the whole step. Only the main process measures and writes: under several processes it sees its
own share of each step's rollouts, a sample of the step.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlaif.monitoring.alarm_rule import Watch
from rlaif.monitoring.alarms import Alarm, AlarmSink
from rlaif.monitoring.settings import MonitorSettings, monitor_settings
from rlaif.monitoring.signals import Rollout, step_signals
from rlaif.rewards.conversation import answer_text, prompt_key, question_text, reference_text


class Monitor:
    """Signals and the alarm rule on every step's rollouts (see the module docstring)."""

    def __init__(self, settings: MonitorSettings, sink: AlarmSink, path: Path | None) -> None:
        self.settings = settings
        self.sink = sink
        self.path = path
        self.watch = Watch(settings.rule)
        self._step: int | None = None
        self._rollouts: list[Rollout] = []

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
            self._step, self._rollouts = step, []
        self._rollouts.extend(rollouts_from_call(prompts, completions, scores, kwargs))
        line = self.observe(step, self._rollouts)
        log_metric = kwargs.get("log_metric")
        if log_metric is not None:
            for name in (*self.settings.rule.wrong_way, "alarm"):
                value = line.get(name)
                if value is not None and not math.isnan(float(value)):
                    log_metric(f"monitor/{name}", float(value))

    def observe(self, step: int, rollouts: Sequence[Rollout]) -> dict[str, Any]:
        """Measure ``step``'s rollouts, write its line, report new alarms; the line (also used by the replay)."""
        signals = step_signals(rollouts)
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
