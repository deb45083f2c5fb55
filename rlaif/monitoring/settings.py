"""The ``monitor`` config group read and checked: every bad value is a :class:`ConfigError` naming its key
(exit 2 from ``rlaif.train`` and ``rlaif.monitor``), before anything is loaded."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from rlaif.errors import ConfigError
from rlaif.monitoring.alarm_rule import RuleSettings
from rlaif.monitoring.alarms import OnAlarm
from rlaif.monitoring.signals import WRONG_WAY, Wrong
from rlaif.runs.config_checks import check_number

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
    "judge": None,
    "judge_sample": 0,
    "min_agreement": 0.0,
}
# A criterion that asks about length: then shorter answers are what the rubric wants, not a hack.
_ABOUT_LENGTH = re.compile(r"\b(concise|brief|short|long|length|words?|verbose)\b", re.IGNORECASE)


@dataclass(frozen=True)
class MonitorSettings:
    enabled: bool = True
    on_alarm: OnAlarm = "warn"
    rule: RuleSettings = field(default_factory=RuleSettings)
    judge_sample: int = 0  # completions per reward call a second judge grades (0: no judged monitor)


def monitor_settings(monitor: Mapping[str, Any] | None, rubric: Mapping[str, Any] | None = None) -> MonitorSettings:
    """``monitor`` (the config group; None: the defaults) checked; ``rubric`` decides ``length_in_rubric=auto``."""
    given = dict(monitor or {})
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"monitor: unknown key(s) {unknown}; known: {sorted(DEFAULTS)}")
    values = {**DEFAULTS, **given}
    if not isinstance(values["enabled"], bool):
        raise ConfigError(f"monitor.enabled: expected true or false, got {values['enabled']!r}")
    if values["on_alarm"] not in ("warn", "stop"):
        raise ConfigError(f"monitor.on_alarm: expected warn or stop, got {values['on_alarm']!r}")
    window = _whole(values["window"], "monitor.window", 4)
    min_steps = _whole(values["min_steps"], "monitor.min_steps", 4)
    if min_steps > window:
        raise ConfigError(f"monitor.min_steps: {min_steps} is more than monitor.window ({window})")
    wrong_way: dict[str, Wrong] = dict(WRONG_WAY)
    if _length_in_rubric(values["length_in_rubric"], rubric):
        wrong_way["answer_words"] = "collapse"
    judge_sample = _whole(values["judge_sample"], "monitor.judge_sample", 0)
    if judge_sample > 0 and values["judge"] is None:
        raise ConfigError(
            f"monitor.judge_sample: {judge_sample} answers a step need a second judge, and monitor.judge is null: "
            "add one, e.g. +judge@monitor.judge=vllm monitor.judge.base_url=http://HOST:PORT/v1"
        )
    if values["judge"] is not None and not isinstance(values["judge"], Mapping):
        raise ConfigError(
            f"monitor.judge: expected a judge config (+judge@monitor.judge=NAME), got {values['judge']!r}"
        )
    if judge_sample > 0:
        wrong_way["judge_agreement"] = "floor"
    rule = RuleSettings(
        window=window,
        min_steps=min_steps,
        z=check_number(values["z"], "monitor.z", 0.0, math.inf),
        signal_z=check_number(values["signal_z"], "monitor.signal_z", 0.0, math.inf),
        collapse_ratio=check_number(values["collapse_ratio"], "monitor.collapse_ratio", 0.0, 1.0),
        min_change=check_number(values["min_change"], "monitor.min_change", 0.0, math.inf),
        min_agreement=check_number(values["min_agreement"], "monitor.min_agreement", -1.0, 1.0),
        wrong_way=wrong_way,
    )
    on_alarm = cast(OnAlarm, values["on_alarm"])
    return MonitorSettings(enabled=values["enabled"], on_alarm=on_alarm, rule=rule, judge_sample=judge_sample)


def rubric_asks_length(rubric: Mapping[str, Any] | None) -> bool:
    """Whether a criterion of ``rubric`` asks about length (``concise``: "Is the answer long?")."""
    for criterion in (rubric or {}).get("criteria") or []:
        text = f"{criterion.get('id')} {criterion.get('question')}" if isinstance(criterion, Mapping) else ""
        if _ABOUT_LENGTH.search(text):
            return True
    return False


def _length_in_rubric(value: Any, rubric: Mapping[str, Any] | None) -> bool:
    if value == "auto":
        return rubric_asks_length(rubric)
    if isinstance(value, bool):
        return value
    raise ConfigError(f"monitor.length_in_rubric: expected auto, true or false, got {value!r}")


def _whole(value: Any, key: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{key}: expected a whole number >= {low}, got {value!r}")
    return value
