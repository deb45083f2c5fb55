"""The ``monitor`` config group read and checked: every bad value is a :class:`ConfigError` naming its key
(exit 2 from ``rlaif.train`` and ``rlaif.monitor``), before anything is loaded."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat

from rlaif.errors import ConfigError, parse_settings
from rlaif.evaluation.second_opinion_keys import SecondOpinion, read_second_opinion
from rlaif.monitoring.alarm_rule import RuleSettings
from rlaif.monitoring.alarms import OnAlarm
from rlaif.monitoring.signals import WRONG_WAY, Wrong

DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "window": 16,
    "min_steps": 8,
    "z": 2.0,
    "signal_z": 2.0,
    "collapse_ratio": 1 / 3,
    "min_change": 0.1,
    "length_in_rubric": "auto",
    "on_alarm": "warn",
    # The judged monitor: a second judge on `sample` answers of each reward call (0: off; null: every answer),
    # drawn with `seed`; judge_agreement (Spearman's rho within each group, averaged) alarms under min_agreement.
    "second_opinion": {"judge": None, "sample": 0, "seed": 0, "min_agreement": 0.0},
    # Their old names (null: not set): monitor.judge, monitor.judge_sample, monitor.min_agreement.
    "judge": None,
    "judge_sample": None,
    "min_agreement": None,
}
_OLD = {"judge": "judge", "sample": "judge_sample", "min_agreement": "min_agreement"}  # field -> old key
# A criterion that asks about length: then shorter answers are what the rubric wants, not a hack.
_ABOUT_LENGTH = re.compile(r"\b(concise|brief|short|long|length|words?|verbose)\b", re.IGNORECASE)


@dataclass(frozen=True)
class MonitorSettings:
    enabled: bool = True
    on_alarm: OnAlarm = "warn"
    rule: RuleSettings = field(default_factory=RuleSettings)
    judge_sample: int | None = 0  # completions per reward call a second judge grades (0: no judged monitor; None: all)
    judge_seed: int = 0  # the seed of that draw


class _Keys(BaseModel):
    """The ``monitor`` keys; defaults in :data:`DEFAULTS` (the YAML's)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: bool
    window: Annotated[int, Field(ge=4)]
    min_steps: Annotated[int, Field(ge=4)]
    z: NonNegativeFloat
    signal_z: NonNegativeFloat
    collapse_ratio: Annotated[float, Field(ge=0.0, le=1.0)]
    min_change: NonNegativeFloat
    length_in_rubric: Literal["auto"] | bool
    on_alarm: Literal["warn", "stop"]
    second_opinion: dict[str, Any] | None  # checked by read_second_opinion
    judge: Any  # the old names of second_opinion's keys, checked there too
    judge_sample: Any
    min_agreement: Any


def monitor_second_opinion(monitor: Mapping[str, Any] | None) -> SecondOpinion:
    """``monitor.second_opinion`` (or its old keys ``monitor.judge``, ``monitor.judge_sample``,
    ``monitor.min_agreement``), its defaults those of conf/monitor/default.yaml."""
    values = {**DEFAULTS, **dict(monitor or {})}
    old = {name: (f"monitor.{key}", values.get(key)) for name, key in _OLD.items()}
    return read_second_opinion(values["second_opinion"], "monitor.second_opinion", DEFAULTS["second_opinion"], old)


def monitor_settings(
    monitor: Mapping[str, Any] | None, rubric: Mapping[str, Any] | None = None, group_size: int | None = None
) -> MonitorSettings:
    """``monitor`` (the config group; None: the defaults) checked; ``rubric`` decides ``length_in_rubric=auto``;
    ``group_size`` (GRPO's ``num_generations``, when known) is what ``judge_sample`` is cut into."""
    keys = parse_settings(_Keys, {**DEFAULTS, **dict(monitor or {})}, "monitor")
    if keys.min_steps > keys.window:
        raise ConfigError(f"monitor.min_steps: {keys.min_steps} is more than monitor.window ({keys.window})")
    opinion = monitor_second_opinion(monitor)
    if opinion.sample != 0 and opinion.judge is None:
        many = "every answer" if opinion.sample is None else f"{opinion.sample} answers"
        raise ConfigError(
            f"{opinion.key_of('sample')}: {many} a step need a second judge, and {opinion.key_of('judge')} is "
            "null: add one, e.g. +judge@monitor.second_opinion.judge=vllm "
            "monitor.second_opinion.judge.base_url=http://HOST:PORT/v1"
        )
    if opinion.sample is not None:
        _check_judge_sample(opinion.sample, group_size, opinion.key_of("sample"))
    wrong_way: dict[str, Wrong] = dict(WRONG_WAY)
    if rubric_asks_length(rubric) if keys.length_in_rubric == "auto" else keys.length_in_rubric:
        wrong_way["answer_words"] = "collapse"
    if opinion.sample != 0:
        wrong_way["judge_agreement"] = "floor"  # min_agreement None: measured and charted, no alarm
    rule = RuleSettings(
        window=keys.window,
        min_steps=keys.min_steps,
        z=keys.z,
        signal_z=keys.signal_z,
        collapse_ratio=keys.collapse_ratio,
        min_change=keys.min_change,
        min_agreement=opinion.min_agreement,
        wrong_way=wrong_way,
    )
    seed = 0 if opinion.seed is None else opinion.seed
    return MonitorSettings(keys.enabled, keys.on_alarm, rule, judge_sample=opinion.sample, judge_seed=seed)


def _check_judge_sample(sample: int, group_size: int | None, key: str = "monitor.second_opinion.sample") -> None:
    """The second judge's sample is ranked within each prompt's group: a sample that leaves one answer of a group
    alone grades it for nothing (one answer has no rank), and a sample of 1 can never give a value."""
    size = group_size if group_size is not None and group_size >= 2 else None
    lone = sample == 1 or (size is not None and sample % size == 1)
    if sample > 0 and lone:
        cut = (
            f"{sample // size} whole group(s) of {size} (grpo.num_generations) and 1 answer"
            if size and sample > size
            else "1 answer"
        )
        raise ConfigError(
            f"{key}: {sample} answers a reward call are {cut} of a group, which has no other answer "
            "to be ranked against (the agreement is measured within each prompt's group): use 2 or more per group, "
            f"e.g. {key}={size or 2}"
        )


def rubric_asks_length(rubric: Mapping[str, Any] | None) -> bool:
    """Whether a criterion of ``rubric`` asks about length (``concise``: "Is the answer long?")."""
    for criterion in (rubric or {}).get("criteria") or []:
        text = f"{criterion.get('id')} {criterion.get('question')}" if isinstance(criterion, Mapping) else ""
        if _ABOUT_LENGTH.search(text):
            return True
    return False
