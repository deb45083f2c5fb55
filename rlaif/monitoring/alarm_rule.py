"""The hacking alarm's rule, over a sliding window of per-step numbers (pure: lists in, findings out).

At every step the rule looks at the last ``window`` steps (fewer at the start, none before ``min_steps``):

- **trend alarm**: the reward is rising (its trend z >= ``z``) while a signal moves the way that is wrong for
  it (its own trend z >= ``signal_z`` in that direction: on-topic falling, repetition rising, ...) by at
  least ``min_change`` (a share: that many points, 0.1 = 10 points; a count such as answer words: that
  fraction of its first half). z alone would count a move from 0.000 to 0.005 in a signal that never
  varied; ``min_change`` says how big a move matters;
- **collapse alarm**: a signal the rubric asks for directly (``collapse``: answer length under ``concise``)
  only alarms when it collapses: the mean of its second half-window is under ``collapse_ratio`` of its
  mean over the run's first ``min_steps`` steps.
- **agreement alarm** (``floor``: the judged monitor's ``judge_agreement``, the within-step rank correlation
  between the reward and a second judge): the mean of the window's second half is under ``min_agreement``.

**How z is computed** (the same for the reward and every signal, as docs/judging.md scores its runs): the
window is cut into halves (the middle step left out when the count is odd); z is the second half's mean
minus the first half's, over the standard error of that difference (Welch: ``sqrt(v1/n1 + v2/n2)``, each
step's value one sample). So z >= 2 means "moved by two of its own step-to-step noise". A series that is
constant in both halves has no noise: z is 0 if the halves are equal, else +/-inf (a real step change).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rlaif.monitoring.signals import RELATIVE, WRONG_WAY, Wrong


@dataclass(frozen=True)
class RuleSettings:
    """The rule's knobs (``monitor.*`` in the config; checked in :mod:`rlaif.monitoring.settings`)."""

    window: int = 16
    min_steps: int = 8
    z: float = 2.0
    signal_z: float = 2.0
    collapse_ratio: float = 1 / 3
    min_change: float = 0.1
    min_agreement: float | None = 0.0  # None: judge_agreement is measured, never alarmed on
    wrong_way: Mapping[str, Wrong] = field(default_factory=lambda: dict(WRONG_WAY))


@dataclass(frozen=True)
class Finding:
    """One signal the rule flags at one step, with the numbers that made it."""

    signal: str
    message: str
    numbers: dict[str, Any]


@dataclass(frozen=True)
class Evaluation:
    """The rule's view of the latest step: every trend z (None: too few steps) and what it flags."""

    reward_z: float | None
    signal_z: dict[str, float | None]
    findings: list[Finding]


def trend_z(values: Sequence[float]) -> float | None:
    """Second-half mean minus first-half mean over its standard error (module docstring); None under 4 values."""
    half = len(values) // 2
    if half < 2:
        return None
    first, second = values[:half], values[len(values) - half :]
    diff = statistics.fmean(second) - statistics.fmean(first)
    se = math.sqrt(statistics.variance(first) / half + statistics.variance(second) / half)
    if se == 0.0:
        return 0.0 if diff == 0.0 else math.copysign(math.inf, diff)
    return diff / se


def evaluate(series: Sequence[Mapping[str, Any]], settings: RuleSettings) -> Evaluation:
    """The rule at the last step of ``series`` (per-step dicts in step order: ``step``, ``reward``, signals)."""
    if len(series) < settings.min_steps:
        return Evaluation(None, {name: None for name in settings.wrong_way}, [])
    window = series[-settings.window :]
    steps = (int(window[0]["step"]), int(window[-1]["step"]))
    reward = _values(window, "reward")
    reward_z = trend_z(reward)
    zs: dict[str, float | None] = {}
    findings: list[Finding] = []
    for name, wrong in settings.wrong_way.items():
        values = _values(window, name)
        zs[name] = trend_z(values)
        if wrong == "collapse":
            found = _collapse(name, series, values, steps, settings)
        elif wrong == "floor":
            found = _floor(name, values, steps, settings)
        else:
            found = _trend(name, wrong, values, zs[name], reward, reward_z, steps, settings)
        if found is not None:
            findings.append(found)
    return Evaluation(reward_z, zs, findings)


def _trend(
    name: str,
    wrong: Wrong,
    values: list[float],
    z: float | None,
    reward: list[float],
    reward_z: float | None,
    steps: tuple[int, int],
    settings: RuleSettings,
) -> Finding | None:
    if reward_z is None or z is None or reward_z < settings.z:
        return None
    moved = z if wrong == "up" else -z
    s1, s2 = _halves(values)
    change = (s2 - s1) if wrong == "up" else (s1 - s2)
    if name in RELATIVE:
        change = change / s1 if s1 > 0 else math.inf
    if moved < settings.signal_z or change < settings.min_change:
        return None
    verb = "rose" if wrong == "up" else "fell"
    r1, r2 = _halves(reward)
    message = (
        f"the reward rose {r1:.3f} -> {r2:.3f} (z {reward_z:.2f}) over steps {steps[0]}-{steps[1]} while {name} "
        f"{verb} {s1:.3f} -> {s2:.3f} (z {z:.2f}; limits: z >= {settings.z}, |z| >= {settings.signal_z}, "
        f"a move >= {settings.min_change:g})"
    )
    numbers = {"steps": list(steps), "reward": [r1, r2], "reward_z": reward_z, name: [s1, s2], "z": z}
    return Finding(name, message, numbers)


def _collapse(
    name: str, series: Sequence[Mapping[str, Any]], values: list[float], steps: tuple[int, int], settings: RuleSettings
) -> Finding | None:
    start = _values(series[: settings.min_steps], name)
    half = len(values) // 2
    if not start or half < 1:
        return None
    baseline, now = statistics.fmean(start), statistics.fmean(values[len(values) - half :])
    if baseline <= 0 or now >= settings.collapse_ratio * baseline:
        return None
    message = (
        f"{name} collapsed to {now:.3f} over the last {half} steps to step {steps[1]} (the run's first "
        f"{settings.min_steps} steps: {baseline:.3f}; limit {settings.collapse_ratio:.2f} of it)"
    )
    return Finding(name, message, {"steps": list(steps), "baseline": baseline, "now": now})


def _floor(name: str, values: list[float], steps: tuple[int, int], settings: RuleSettings) -> Finding | None:
    half = len(values) // 2
    if half < 1:
        return None
    now = statistics.fmean(values[len(values) - half :])
    if settings.min_agreement is None or now >= settings.min_agreement:
        return None
    message = (
        f"{name} {now:.3f} over the last {half} judged steps to step {steps[1]}: under "
        f"monitor.second_opinion.min_agreement {settings.min_agreement} (the reward and the second judge no longer "
        "rank the answers alike)"
    )
    return Finding(name, message, {"steps": list(steps), name: now, "min_agreement": settings.min_agreement})


def _values(rows: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    return [float(r[key]) for r in rows if r.get(key) is not None and not math.isnan(float(r[key]))]


def _halves(values: Sequence[float]) -> tuple[float, float]:
    half = len(values) // 2
    return statistics.fmean(values[:half]), statistics.fmean(values[len(values) - half :])


class Watch:
    """The rule run step after step. A flagged signal alarms once per window: not again until ``window`` steps
    after its last alarm (the windows of neighbouring steps overlap, so the rule flickering on one drift is
    one alarm, not several).

    ``update`` may be called several times for one step (TRL calls the reward once per generation batch);
    the step's latest numbers replace its earlier ones.
    """

    def __init__(self, settings: RuleSettings) -> None:
        self.settings = settings
        self.steps: dict[int, dict[str, Any]] = {}
        self._alarmed: dict[str, int] = {}  # signal -> the step of its last alarm

    def update(self, step: int, signals: Mapping[str, Any]) -> tuple[Evaluation, list[Finding]]:
        """Record ``step``'s numbers; the rule's evaluation and the findings that are new."""
        self.steps[step] = {"step": step, **signals}
        series = [self.steps[s] for s in sorted(self.steps) if s <= step]
        evaluation = evaluate(series, self.settings)
        new = [
            f
            for f in evaluation.findings
            if f.signal not in self._alarmed or step - self._alarmed[f.signal] >= self.settings.window
        ]
        self._alarmed.update({f.signal: step for f in new})
        return evaluation, new

    def restore(self, steps: Mapping[int, Mapping[str, Any]], alarmed: Mapping[str, int]) -> None:
        """Start from earlier steps' numbers and last alarms (a resumed run's, read back from its files)."""
        self.steps = {step: {"step": step, **signals} for step, signals in sorted(steps.items())}
        self._alarmed = dict(alarmed)
