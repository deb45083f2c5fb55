"""The hacking alarm during training: :class:`Monitor`, a :class:`~rlaif.monitoring.guard.Guard` that reads each
step's rollouts and scores after the reward, measures what the reward does not see
(:mod:`~rlaif.monitoring.signals`), and runs the alarm rule (:mod:`~rlaif.monitoring.alarm_rule`).

Per step: one ``monitor.jsonl`` line (the signals, the reward's mean, every trend z), ``monitor/<signal>`` through
TRL's ``log_metric`` (TensorBoard and TRL's step log), and any new alarm to the :class:`AlarmSink` (a WARNING,
``alarms.jsonl``, and with ``monitor.on_alarm=stop`` the run's stop). Steps are TRL's numbers (the first is 1:
:mod:`rlaif.rewards.step_numbers`), as in ``rewards.jsonl``; when TRL calls the reward more than once for one step,
the step's rollouts add up and its latest line is the whole step. Only the main process measures and writes: under
several processes it sees its own share of each step's rollouts, a sample of the step. A resumed run's rule starts
from ``monitor.jsonl`` and ``alarms.jsonl`` up to the checkpoint's step (:meth:`Monitor.restore`).

The judged monitor (``monitor.second_opinion``: a second judge as its ``judge``, ``sample`` > 0 or null; old keys
``monitor.judge``, ``monitor.judge_sample``): a sample of that many completions of each reward call (null: all),
drawn group by group with its ``seed``, is graded again by the run's own reward class with the second judge, and
``judge_agreement`` is the rank correlation between the two within each prompt's group, averaged over the groups
(alarm under its ``min_agreement``).
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rlaif.monitoring.alarm_rule import Watch
from rlaif.monitoring.alarms import Alarm, AlarmSink
from rlaif.monitoring.settings import MonitorSettings, monitor_second_opinion, monitor_settings
from rlaif.monitoring.signals import MEASURES, Rollout, group_agreement, step_signals
from rlaif.rewards.capabilities import grade_rows
from rlaif.rewards.conversation import answer_text, prompt_key, question_text, reference_text
from rlaif.rewards.transcript import tool_counts
from rlaif.runs.resume_logs import checkpoint_step

log = logging.getLogger("rlaif.monitor")


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
        self._judged: dict[str, list[tuple[float | None, float | None]]] = {}  # group -> (reward, second judge)
        self._second_requests: dict[str, float] = {}  # the second judge's requests of the step
        self._requests = 0.0  # the second judge's uncached requests since the step timer last took them
        self._rng = random.Random(settings.judge_seed)

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
            self._step, self._rollouts, self._judged, self._second_requests = step, [], {}, {}
        rollouts = rollouts_from_call(prompts, completions, scores, kwargs)
        self._rollouts.extend(rollouts)
        extra: dict[str, Any] = {}
        if self.second is not None and self.settings.judge_sample != 0:
            await self._judge_sample(prompts, completions, scores, [r.group for r in rollouts], kwargs)
            extra["judge_agreement"] = group_agreement(self._judged)
            extra.update({f"second_judge_{k}": v for k, v in self._second_requests.items()})
        line, alarms = self.measure(step, self._rollouts, extra)
        log_metric = kwargs.get("log_metric")
        if log_metric is not None:  # before the alarms: a stop must not keep the step's numbers out of its log
            for name in (*self.settings.rule.wrong_way, *MEASURES, "alarm"):
                value = line.get(name)
                if value is not None and not math.isnan(float(value)):
                    log_metric(f"monitor/{name}", float(value))
        self.sink.report_all(alarms)

    async def _judge_sample(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        scores: Sequence[float | None],
        groups: Sequence[str],
        kwargs: Mapping[str, Any],
    ) -> None:
        """The second judge grades a seeded sample of this call's completions, group by group (GRPO compares the
        answers of one prompt with each other, so that is where the two judges must agree): whole groups while
        ``judge_sample`` allows, never one answer of a group alone. Adds (training score, second score) pairs to
        the step's groups and the second judge's requests to the step's count."""
        assert self.second is not None
        members: dict[str, list[int]] = {}
        for i, group in enumerate(groups):
            members.setdefault(group, []).append(i)
        picked: list[int] = []
        left = len(groups) if self.settings.judge_sample is None else self.settings.judge_sample
        for group in self._rng.sample(sorted(members), len(members)):
            if left < 2:
                break
            take = members[group] if len(members[group]) <= left else self._rng.sample(members[group], left)
            if len(take) >= 2:
                picked.extend(sorted(take))
                left -= len(take)
        refs = list(kwargs.get("reference_answer") or [None] * len(prompts))
        extras = list(kwargs.get("extra") or [None] * len(prompts))  # a row's own rubric (reward=row_rubric)
        grades = await grade_rows(
            self.second,
            [prompts[i] for i in picked],
            [completions[i] for i in picked],
            [refs[i] for i in picked],
            [extras[i] for i in picked],
        )
        for i, grade in zip(picked, grades, strict=True):
            self._judged.setdefault(groups[i], []).append((scores[i], grade.score))
        drain = getattr(getattr(getattr(self.second, "judge", None), "metrics", None), "drain", None)
        for key, value in (drain() if drain is not None else {}).items():  # the monitor's own, not the reward's
            if key in ("requests", "failures", "cache_hits"):
                self._second_requests[key] = self._second_requests.get(key, 0.0) + value
            self._requests += value if key == "requests" else -value if key == "cache_hits" else 0.0

    def take_requests(self) -> tuple[float, float]:
        """(requests to the training judge: none, all requests: the second judge's) since the last call."""
        taken, self._requests = self._requests, 0.0
        return 0.0, taken

    def observe(self, step: int, rollouts: Sequence[Rollout], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Measure ``step``'s rollouts, write its line, report new alarms; the line (also used by the replay)."""
        line, alarms = self.measure(step, rollouts, extra)
        self.sink.report_all(alarms)
        return line

    def measure(
        self, step: int, rollouts: Sequence[Rollout], extra: Mapping[str, Any] | None = None
    ) -> tuple[dict[str, Any], list[Alarm]]:
        """Measure ``step``'s rollouts and write its line; the line and the new alarms, not reported yet."""
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
        return line, [Alarm("monitor", f.signal, step, f.message, f.numbers) for f in new]

    def restore(self, upto: int) -> int:
        """A resumed run's rule picks up where the checkpoint left it: the steps of ``monitor.jsonl`` up to
        ``upto`` (the checkpoint's step; later lines are the lost steps'), so the window need not refill for
        ``min_steps`` steps and a collapse before the crash is measured against the run's real start, and the
        monitor's alarms of ``alarms.jsonl`` up to ``upto``, so one drift still alarms once. The steps restored."""
        keys = ("reward", *self.settings.rule.wrong_way)
        steps = {
            int(row["step"]): {k: row.get(k) for k in keys}
            for row in read_rows(self.path)
            if isinstance(row.get("step"), int) and row["step"] <= upto  # a step's last line is the whole step
        }
        alarmed = {
            str(row.get("signal")): int(row["step"])
            for row in read_rows(self.sink.path)
            if row.get("source") == "monitor" and isinstance(row.get("step"), int) and row["step"] <= upto
        }
        self.watch.restore(steps, alarmed)
        if steps:
            log.info("monitor: resumed with the rule's window of steps %d-%d (monitor.jsonl)", min(steps), max(steps))
        return len(steps)


def read_rows(path: Path | None) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file, in order; a line a crash cut short is skipped. ``[]`` without a file."""
    if path is None or not path.is_file():
        return []
    rows = []
    for text in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(text)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


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
            **tool_fields(completions[i]),
        )
        for i in range(n)
    ]


def tool_fields(completion: Any) -> dict[str, int]:
    """A rollout's tool calls, results and error results (all 0 for a completion without tool turns)."""
    calls, results, errors = tool_counts(completion)
    return {"tool_calls": calls, "tool_results": results, "tool_errors": errors}


def build_monitor(
    monitor: Mapping[str, Any] | None,
    rubric: Mapping[str, Any] | None,
    run_dir: Path,
    resume: str | None = None,
    group_size: int | None = None,
) -> Monitor | None:
    """The monitor of ``monitor`` (the config group, checked: a bad value raises ConfigError), None when off.
    ``resume``: the checkpoint a resumed run starts from (its rule is restored up to that step); ``group_size``:
    GRPO's ``num_generations``, which a judged sample is checked against."""
    settings = monitor_settings(monitor, rubric, group_size)
    if not settings.enabled:
        return None
    sink = AlarmSink(run_dir / "alarms.jsonl", settings.on_alarm)
    built = Monitor(settings, sink, run_dir / "monitor.jsonl")
    if resume is not None:
        built.restore(checkpoint_step(resume))
    return built


def build_second_reward(
    monitor: Mapping[str, Any], reward: Mapping[str, Any], run_dir: Path, stack: ExitStack
) -> Any | None:
    """The judged monitor's reward: the run's reward config with the second judge (``monitor.second_opinion.judge``),
    its cache in ``<run>/monitor_judge/``; None when its ``sample`` is 0. ``stack`` closes the judge."""
    opinion = monitor_second_opinion(monitor)
    if opinion.sample == 0 or opinion.judge is None:
        return None
    from omegaconf import OmegaConf

    from rlaif.errors import ConfigError
    from rlaif.rewards.capabilities import GradesAnswers
    from rlaif.runs.judge_and_reward import open_judge_and_reward

    home = run_dir / "monitor_judge"
    _, second = stack.enter_context(
        open_judge_and_reward(OmegaConf.create(opinion.judge), reward, home, log_path=str(home / "rewards.jsonl"))  # type: ignore[arg-type]
    )
    if not isinstance(second, GradesAnswers):
        raise ConfigError(
            f"{opinion.key_of('sample')}: reward {second.__name__!r} grades no single answer (use a rubric reward)"
        )
    return second
