"""Judge canaries: a few labelled answers graded before step 1 and every ``canaries.every`` steps, cache
bypassed, so a judge that changed under a running job is caught: a server restarted with another model, a
quantised swap, an API model version change, a degraded server returning garbage.

Each check grades the same rows (default: 16 rows of the shipped pointwise set, half of them passes) with
the run's own reward and judge, and records the AUC, the pass rate on the passes and on the fails, and the
parse failures (``canaries.jsonl``, ``canary/*`` in TensorBoard). The first check is run twice: how much a
row's score moves between those two is the judge's own noise (0 for a deterministic judge). A later check
raises an alarm when

- its rows moved from the first check by more than that noise allows: the mean absolute change of a row's
  score exceeds ``max(min_shift, 3 x noise)``;
- its AUC fell under ``min_auc`` (from at or above it at the first check) while the scores moved;
- more than ``max_parse_failure_rate`` of its rows got no verdict.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from rlaif.errors import ConfigError, DataError, parse_settings
from rlaif.evaluation import stats as st
from rlaif.evaluation.labelled_sets import LabelledSet, judge_items, load_labelled
from rlaif.monitoring.alarms import Alarm, AlarmSink
from rlaif.rewards.capabilities import ComparesAnswers, HasRubric

log = logging.getLogger("rlaif.monitor")

# The packaged sets were written for rubric=everyday (pointwise) and its preference spec (pairwise).
PACKAGED_RUBRIC = "everyday"


class Canaries:
    """A :class:`~rlaif.monitoring.guard.Guard`: checks the judge before the reward of every ``every``-th step."""

    def __init__(
        self,
        reward: Any,
        rows: Sequence[Mapping[str, Any]],
        pairwise: bool,
        sink: AlarmSink,
        path: Path | None,
        every: int = 8,
        min_auc: float | None = 0.5,
        min_shift: float = 0.05,
        max_parse_failure_rate: float = 0.25,
    ) -> None:
        self.reward = reward
        self.rows = list(rows)
        self.pairwise = pairwise
        self.sink = sink
        self.path = path
        self.every = every
        self.min_auc = min_auc
        self.min_shift = min_shift
        self.max_parse_failure_rate = max_parse_failure_rate
        self.checks: list[dict[str, Any]] = []
        self._first: list[float | None] | None = None
        self._noise = 0.0
        self._checked: set[int] = set()

    async def before_reward(self, step: int, kwargs: Mapping[str, Any]) -> None:
        if step % self.every != 0 or step in self._checked:
            return
        self._checked.add(step)
        scores = await self._scores()
        if self._first is None:  # the first check twice: the judge's own noise from one check to the next
            again = await self._scores()
            self._first, self._noise = scores, _mean_abs_change(scores, again) or 0.0
        check = self._summarise(step, scores)
        self.checks.append(check)
        log_metric = kwargs.get("log_metric")
        for key, value in check.items():
            if log_metric is not None and key != "step" and value is not None:
                log_metric(f"canary/{key}", float(value))
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(check) + "\n")
        for alarm in self._alarms(check):
            self.sink.report(alarm)

    async def after_reward(self, *args: Any) -> None:
        return None

    async def _scores(self) -> list[float | None]:
        """Every row's score, straight from the judge (never its cache), as ``rlaif.judge_eval`` scores them."""
        judge = self.reward.judge
        with judge.uncached() if hasattr(judge, "uncached") else nullcontext():
            return (await judge_items(self.reward, self.rows, self.pairwise, len(self.rows), "canaries")).scores

    def _summarise(self, step: int, scores: list[float | None]) -> dict[str, Any]:
        positive = "a" if self.pairwise else "pass"
        labels = [str(r["preferred" if self.pairwise else "label"]) == positive for r in self.rows]
        scored = [(y, s) for y, s in zip(labels, scores, strict=True) if s is not None]
        passes = [s for y, s in scored if y]
        fails = [s for y, s in scored if not y]
        assert self._first is not None
        return {
            "step": step,
            "auc": st.roc_auc([y for y, _ in scored], [s for _, s in scored]) if passes and fails else None,
            "pass_rate_on_passes": sum(s >= 0.5 for s in passes) / len(passes) if passes else None,
            "pass_rate_on_fails": sum(s >= 0.5 for s in fails) / len(fails) if fails else None,
            "parse_failure_rate": sum(s is None for s in scores) / len(scores),
            "shift": _mean_abs_change(self._first, scores),
            "noise": self._noise,
        }

    def _moved(self, check: Mapping[str, Any]) -> bool:
        """The scores moved beyond the judge's own noise since the first check."""
        return check["shift"] is not None and check["shift"] > max(self.min_shift, 3 * self._noise)

    def _fell_under_min_auc(self, check: Mapping[str, Any]) -> bool:
        """Under ``min_auc`` now, at or above it at the first check, and the scores moved beyond their noise.

        The AUC of a few rows moves with the scores' noise alone (measured on a real vLLM server: 8 rows, noise
        0.015, the AUC went from at least 0.5 to 0.375 with no change of judge): a fall without a move of the
        scores is that noise. A judge already under the limit at the start gets one WARNING instead: an alarm
        there would only repeat what ``judge_eval`` should have said before the run."""
        if self.min_auc is None or check["auc"] is None:
            return False
        first = self.checks[0]["auc"]
        if len(self.checks) == 1:
            if first is not None and first < self.min_auc:
                log.warning(
                    "canaries: AUC %.3f at the first check, under canaries.min_auc %s: this judge barely tells "
                    "the canaries' passes from their fails (python -m rlaif.judge_eval measures it on more rows); "
                    "the AUC limit is not applied in this run",
                    first,
                    self.min_auc,
                )
            return False
        return first is not None and first >= self.min_auc > check["auc"] and self._moved(check)

    def _alarms(self, check: Mapping[str, Any]) -> list[Alarm]:
        step, alarms = int(check["step"]), []
        limit = max(self.min_shift, 3 * self._noise)
        if self._moved(check):
            alarms.append(
                _alarm(
                    step,
                    "shift",
                    f"scores moved {check['shift']:.3f} on average since the first check "
                    f"(limit {limit:.3f}: noise {self._noise:.3f}); has the judge changed?",
                    check,
                )
            )
        if self._fell_under_min_auc(check):
            alarms.append(_alarm(step, "auc", f"AUC {check['auc']:.3f} < canaries.min_auc {self.min_auc}", check))
        if check["parse_failure_rate"] > self.max_parse_failure_rate:
            alarms.append(
                _alarm(
                    step,
                    "parse_failure_rate",
                    f"{check['parse_failure_rate']:.2f} of the canaries got no "
                    f"verdict (limit {self.max_parse_failure_rate})",
                    check,
                )
            )
        return alarms


def build_canaries(
    settings: Mapping[str, Any], reward: Any, run_dir: Path, sink: AlarmSink | None = None
) -> Canaries | None:
    """The canaries of ``settings`` (the ``canaries`` config) for ``reward``; None when off or when the reward
    has no judge to watch (``reward=checks``). Alarms go to ``sink``, by default ``<run_dir>/alarms.jsonl``
    under ``canaries.on_alarm``. Bad values raise :class:`ConfigError` (bad input: exit 2) naming ``canaries.<key>``."""
    keys = parse_settings(_Keys, settings, "canaries")
    if not keys.enabled or getattr(reward, "judge", None) is None:
        return None
    sink = sink or AlarmSink(run_dir / "alarms.jsonl", keys.on_alarm)
    pairwise = isinstance(reward, ComparesAnswers)
    if not pairwise and not isinstance(reward, HasRubric):
        log.info("canaries: off (reward %s grades no labelled answers)", getattr(reward, "__name__", reward))
        return None
    key = "pairwise_labelled" if pairwise else "labelled"
    name = str(getattr(keys, key) or f"packaged:everyday_{'pairwise' if pairwise else 'pointwise'}")
    try:
        labelled = load_labelled(name)
    except DataError as exc:
        raise DataError(f"canaries.{key}: {exc}") from None
    min_auc = keys.min_auc
    rubric = getattr(getattr(reward, "rubric", None), "name", PACKAGED_RUBRIC)
    if name.startswith("packaged:") and rubric != PACKAGED_RUBRIC:
        log.warning(
            "canaries: %s was written for rubric=%s, not %s: drift and parse failures are watched, the AUC limit "
            "is not; set canaries.labelled to a set labelled for your rubric",
            name,
            PACKAGED_RUBRIC,
            rubric,
        )
        min_auc = None
    rows = _sample(labelled, reward, keys.rows, keys.seed)
    return Canaries(
        reward,
        rows,
        pairwise,
        sink,
        run_dir / "canaries.jsonl",
        every=keys.every,
        min_auc=min_auc,
        min_shift=keys.min_shift,
        max_parse_failure_rate=keys.max_parse_failure_rate,
    )


_Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class _Keys(BaseModel):
    """The ``canaries`` keys (conf/canaries/default.yaml), checked before the policy is loaded."""

    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: bool = True
    labelled: str | None = "packaged:everyday_pointwise"
    pairwise_labelled: str | None = "packaged:everyday_pairwise"
    rows: Annotated[int, Field(ge=4)] = 16  # half passes, half fails
    seed: int = 0
    every: PositiveInt = 8  # steps
    min_auc: _Unit | None = 0.5
    min_shift: _Unit = 0.05
    max_parse_failure_rate: _Unit = 0.25
    on_alarm: Literal["warn", "stop"] = "warn"


def _sample(labelled: LabelledSet, reward: Any, size: int, seed: int) -> list[dict[str, Any]]:
    """``size`` rows, half labelled positive, seeded; pointwise rows only for this rubric's criteria."""
    ids = {c.id for c in reward.rubric.criteria} if not labelled.pairwise else set()
    usable = [r for r in labelled.rows if labelled.pairwise or r.get("criterion") in ids | {None}]
    positive = "a" if labelled.pairwise else "pass"
    key = "preferred" if labelled.pairwise else "label"
    rng = random.Random(seed)
    halves = [[r for r in usable if (r[key] == positive) == want] for want in (True, False)]
    if any(len(h) < size // 2 for h in halves):
        raise ConfigError(f"canaries.rows: {labelled.path} has fewer than {size // 2} usable rows of each label")
    return [row for half in halves for row in rng.sample(half, size // 2)]


def _mean_abs_change(before: Sequence[float | None], after: Sequence[float | None]) -> float | None:
    pairs = [(a, b) for a, b in zip(before, after, strict=True) if a is not None and b is not None]
    return sum(abs(a - b) for a, b in pairs) / len(pairs) if pairs else None


def _alarm(step: int, signal: str, message: str, check: Mapping[str, Any]) -> Alarm:
    return Alarm(source="canaries", signal=signal, step=step, message=message, numbers=dict(check))
