"""Judge canaries: a few labelled answers graded before step 1 and every ``canaries.every`` steps, cache
bypassed, so a judge that changed under a running job is caught: a server restarted with another model, a
quantised swap, an API model version change, a degraded server returning garbage.

Each check grades the same rows (default: 16 rows of the shipped pointwise set, half of them passes; with
reward=row_rubric, of the shipped set of rubric items, half of them met) with the run's own reward and judge,
and records the AUC, the pass rate on the passes and on the fails, the parse failures, the agreement with the
first check (``first_agreement``, ``first_kappa``, ``first_spearman``: the second-opinion statistics of
:mod:`rlaif.evaluation.second_opinion`, the judge now against itself then) and the check's own judge requests
(``canaries.jsonl``, ``canary/*`` in TensorBoard). The first check is run twice: how much a row's score moves
between those two is the judge's own noise (0 for a deterministic judge). A later check raises an alarm when

- its rows moved from the first check by more than that noise allows: the mean absolute change of a row's
  score exceeds ``max(min_shift, 3 x noise)``;
- more than ``max_parse_failure_rate`` of its rows got no verdict;
- ``second_opinion.min_agreement`` is set and ``first_spearman`` is under it.

Which rows: ``canaries.second_opinion`` (the keys of every second opinion; its judge is the training judge itself):
``sample`` rows drawn with ``seed`` (old names ``canaries.rows``, ``canaries.seed``).

The first check (its scores and noise) is kept in ``canaries_first.json``: a resumed run compares with it,
and checks at its first step, so a judge swapped while the run was down alarms there.
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
from rlaif.evaluation.labelled_sets import LabelledSet, judge_items, load_labelled, truth_of
from rlaif.evaluation.second_opinion import agreement_with, positive_class, verdict_rule
from rlaif.evaluation.second_opinion_keys import SecondOpinion, read_second_opinion, refuse_unsupported
from rlaif.monitoring.alarms import Alarm, AlarmSink
from rlaif.rewards.capabilities import AsksAJudge, ComparesAnswers, GradesCriteria, GradesRowRubrics

log = logging.getLogger("rlaif.monitor")

# The packaged sets were written for rubric=everyday (pointwise: its criteria's rows and whole-answer rows).
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
        min_shift: float = 0.05,
        max_parse_failure_rate: float = 0.25,
        labels_apply: bool = True,
        min_agreement: float | None = None,
    ) -> None:
        self.reward = reward
        self.rows = list(rows)
        self.pairwise = pairwise
        self.sink = sink
        self.path = path
        self.every = every
        self.min_shift = min_shift
        self.max_parse_failure_rate = max_parse_failure_rate
        self.labels_apply = labels_apply  # False: the rows' labels were written for another rubric
        self.min_agreement = min_agreement  # first_spearman under it alarms (None: no such alarm)
        self.checks: list[dict[str, Any]] = []
        self._first: list[float | None] | None = None
        self._noise = 0.0
        self._checked: set[int] = set()
        self._resumed = False
        self._requests = 0.0  # the checks' judge requests since the step timer last took them

    @property
    def first_path(self) -> Path | None:
        return None if self.path is None else self.path.with_name("canaries_first.json")

    def resume(self) -> bool:
        """A resumed run: compare with the first check its earlier part saved, and check at the first step
        (the judge may have been swapped while the run was down). False when no first check was saved."""
        self._resumed = True
        path = self.first_path
        try:
            saved = json.loads(path.read_text(encoding="utf-8")) if path is not None else None
        except (OSError, ValueError):
            saved = None
        if not isinstance(saved, dict) or saved.get("rows") != [_row_id(r) for r in self.rows]:
            log.warning("canaries: no first check of these rows to resume from (%s): the next check is the first", path)
            return False
        self._first, self._noise = list(saved["scores"]), float(saved["noise"])
        return True

    async def before_reward(self, step: int, kwargs: Mapping[str, Any]) -> None:
        # Steps 1, 1 + every, 1 + 2 x every, ... (TRL's numbers: the first check is before the first step's reward).
        if ((step - 1) % self.every != 0 and not self._resumed) or step in self._checked:
            return
        self._resumed = False
        self._checked.add(step)
        scores = await self._scores()
        first = self._first is None
        if first:  # the first check twice: the judge's own noise from one check to the next
            again = await self._scores()
            self._first, self._noise = scores, _mean_abs_change(scores, again) or 0.0
            self._save_first(step)
        check = {**self._summarise(step, scores), **self._own_requests()}
        self.checks.append(check)
        if first and check["auc"] is not None and check["auc"] < 0.5:
            log.warning(
                "canaries: AUC %.3f at the first check: this judge ranks the canaries' passes under their fails "
                "(python -m rlaif.judge_eval measures it on more rows)",
                check["auc"],
            )
        log_metric = kwargs.get("log_metric")
        for key, value in check.items():  # the request counts stay in canaries.jsonl (a count is no canary chart)
            if log_metric is not None and key != "step" and not key.startswith("judge_") and value is not None:
                log_metric(f"canary/{key}", float(value))
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(check) + "\n")
        self.sink.report_all(self._alarms(check))

    def _save_first(self, step: int) -> None:
        if self.first_path is not None:
            first = {"step": step, "rows": [_row_id(r) for r in self.rows], "scores": self._first, "noise": self._noise}
            self.first_path.write_text(json.dumps(first), encoding="utf-8")

    def _own_requests(self) -> dict[str, float]:
        """The check's judge requests, taken out of the judge's per-step counts: the reward's ``judge/*`` of the
        step count the reward's own requests only (the reward drains them at the end of each call, so what the
        judge counted since is the check's)."""
        drain = getattr(getattr(self.reward.judge, "metrics", None), "drain", None)
        counts = drain() if drain is not None else {}
        own = {f"judge_{k}": float(counts.get(k, 0.0)) for k in ("requests", "failures", "retries")}
        self._requests += own["judge_requests"] - float(counts.get("cache_hits", 0.0))
        return own

    def take_requests(self) -> tuple[float, float]:
        """(requests to the training judge, all requests) of the checks since the last call (the step timer's)."""
        taken, self._requests = self._requests, 0.0
        return taken, taken

    async def after_reward(self, *args: Any) -> None:
        return None

    async def _scores(self) -> list[float | None]:
        """Every row's score, straight from the judge (never its cache), as ``rlaif.judge_eval`` scores them."""
        judge = self.reward.judge
        with judge.uncached() if hasattr(judge, "uncached") else nullcontext():
            return (await judge_items(self.reward, self.rows, self.pairwise, len(self.rows), "canaries")).scores

    def _summarise(self, step: int, scores: list[float | None]) -> dict[str, Any]:
        positive = "a" if self.pairwise else "pass"
        labels = [truth_of(r) == positive for r in self.rows]
        scored = [(y, s) for y, s in zip(labels, scores, strict=True) if s is not None]
        passes = [s for y, s in scored if y]
        fails = [s for y, s in scored if not y]
        assert self._first is not None
        if not self.labels_apply:  # labels written for another rubric: no AUC or pass rate to read from them
            passes, fails = [], []
        return {
            "step": step,
            "auc": st.roc_auc([y for y, _ in scored], [s for _, s in scored]) if passes and fails else None,
            "pass_rate_on_passes": sum(s >= 0.5 for s in passes) / len(passes) if passes else None,
            "pass_rate_on_fails": sum(s >= 0.5 for s in fails) / len(fails) if fails else None,
            "parse_failure_rate": sum(s is None for s in scores) / len(scores),
            "shift": _mean_abs_change(self._first, scores),
            "noise": self._noise,
            **self._against_first(scores),
        }

    def _against_first(self, scores: list[float | None]) -> dict[str, float | None]:
        """The judge now as a second opinion on itself at the first check (:func:`~rlaif.evaluation.second_opinion.
        agreement_with`, no interval): the share of rows with the same verdict, κ and Spearman's ρ."""
        assert self._first is not None
        rule, positive = verdict_rule(self.pairwise), positive_class(self.pairwise)
        agreed = agreement_with(self._first, scores, verdict=rule, positive=positive, resamples=0)
        return {"first_agreement": agreed.agreement, "first_kappa": agreed.kappa, "first_spearman": agreed.spearman}

    def _moved(self, check: Mapping[str, Any]) -> bool:
        """The scores moved beyond the judge's own noise since the first check."""
        return check["shift"] is not None and check["shift"] > max(self.min_shift, 3 * self._noise)

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
        rho = check.get("first_spearman")
        if self.min_agreement is not None and rho is not None and rho < self.min_agreement:
            alarms.append(
                _alarm(
                    step,
                    "first_spearman",
                    f"the judge ranks the canaries with Spearman's rho {rho:.3f} against its own first check "
                    f"(canaries.second_opinion.min_agreement {self.min_agreement}); has the judge changed?",
                    check,
                )
            )
        return alarms


def build_canaries(
    settings: Mapping[str, Any], reward: Any, run_dir: Path, sink: AlarmSink | None = None, resume: str | None = None
) -> Canaries | None:
    """The canaries of ``settings`` (the ``canaries`` config) for ``reward``; None when off or when the reward
    has no judge to watch (``reward=checks``). Alarms go to ``sink``, by default ``<run_dir>/alarms.jsonl``
    under ``canaries.on_alarm``; ``resume``: the checkpoint a resumed run starts from. Bad values raise
    :class:`ConfigError` (bad input: exit 2) naming ``canaries.<key>``."""
    keys = parse_settings(_Keys, settings, "canaries")
    opinion = canaries_second_opinion(keys)
    judge = reward.judge if isinstance(reward, AsksAJudge) else None  # the check-only reward asks none
    if not keys.enabled or judge is None:
        return None
    sink = sink or AlarmSink(run_dir / "alarms.jsonl", keys.on_alarm)
    pairwise = isinstance(reward, ComparesAnswers)
    items = not pairwise and isinstance(reward, GradesRowRubrics)  # reward=row_rubric: rows of one item each
    if not pairwise and not items and not isinstance(reward, GradesCriteria):
        log.info("canaries: off (reward %s grades no labelled answers)", getattr(reward, "__name__", reward))
        return None
    key = "pairwise_labelled" if pairwise else "items_labelled" if items else "labelled"
    name = str(
        getattr(keys, key) or f"packaged:everyday_{'pairwise' if pairwise else 'items' if items else 'pointwise'}"
    )
    try:
        labelled = load_labelled(name)
    except DataError as exc:
        raise DataError(f"canaries.{key}: {exc}") from None
    if labelled.kind != ("pairwise" if pairwise else "item" if items else "pointwise"):
        what = getattr(reward, "__name__", type(reward).__name__)
        raise ConfigError(
            f"canaries.{key}: {labelled.path} is a {labelled.kind} set, which reward {what!r} cannot grade"
        )
    rubric = reward.graded_rubric.name if isinstance(reward, GradesCriteria) else PACKAGED_RUBRIC
    for_this_rubric = items or not name.startswith("packaged:") or rubric == PACKAGED_RUBRIC
    rows, labels_apply = _sample(labelled, reward, opinion, for_this_rubric)
    if not labels_apply:
        ids = ", ".join(c.id for c in reward.graded_rubric.criteria)
        log.warning(
            "canaries: %s has no labelled rows for rubric %s (criteria: %s); its whole-answer rows were labelled "
            "for rubric %s. The canaries grade %d of them with your rubric and alarm only when the judge's scores "
            "move or fail to parse; no AUC or pass rate is measured. Set canaries.labelled to a set with rows "
            "for your rubric's criteria.",
            name,
            rubric,
            ids,
            PACKAGED_RUBRIC,
            len(rows),
        )
    canaries = Canaries(
        reward,
        rows,
        pairwise,
        sink,
        run_dir / "canaries.jsonl",
        every=keys.every,
        min_shift=keys.min_shift,
        max_parse_failure_rate=keys.max_parse_failure_rate,
        labels_apply=labels_apply,
        min_agreement=opinion.min_agreement,
    )
    if resume is not None:
        canaries.resume()
    return canaries


_Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class _Keys(BaseModel):
    """The ``canaries`` keys (conf/canaries/default.yaml), checked before the policy is loaded."""

    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: bool = True
    labelled: str | None = "packaged:everyday_pointwise"
    pairwise_labelled: str | None = "packaged:everyday_pairwise"
    items_labelled: str | None = "packaged:everyday_items"
    second_opinion: dict[str, Any] | None = None  # checked by read_second_opinion
    rows: Any = None  # old name of second_opinion.sample (None: not set)
    seed: Any = None  # old name of second_opinion.seed
    every: PositiveInt = 8  # steps
    min_shift: _Unit = 0.05
    max_parse_failure_rate: _Unit = 0.25
    on_alarm: Literal["warn", "stop"] = "warn"


def canaries_second_opinion(keys: _Keys) -> SecondOpinion:
    """``canaries.second_opinion`` (old keys ``canaries.rows``, ``canaries.seed``): the training judge now against its
    own first check on ``sample`` rows (16: half passes, half fails) drawn with ``seed``; no judge of its own."""
    opinion = read_second_opinion(
        keys.second_opinion,
        "canaries.second_opinion",
        {"sample": 16, "seed": 0},
        {"sample": ("canaries.rows", keys.rows), "seed": ("canaries.seed", keys.seed)},
    )
    refuse_unsupported(opinion, "the canaries", judge="the second opinion is the training judge itself")
    if opinion.sample is None or opinion.sample < 4:
        raise ConfigError(f"{opinion.key_of('sample')}: {opinion.sample} rows; the canaries need 4 or more")
    return opinion


def _sample(
    labelled: LabelledSet, reward: Any, opinion: SecondOpinion, for_this_rubric: bool
) -> tuple[list[dict[str, Any]], bool]:
    """``opinion.sample`` rows, half labelled positive, drawn with ``opinion.seed``, and whether their labels apply
    to the run's rubric.

    Pointwise: the rows about one of the rubric's criteria (scored by that criterion), and whole-answer rows
    when the set was written for this rubric. When these are too few, the whole-answer rows of another rubric:
    their scores still show a judge that changes, their labels say nothing about it."""
    if labelled.pairwise or labelled.items:  # every row's label applies: an item row carries its own criterion
        usable, fallback = list(labelled.rows), []
    else:
        ids = {c.id for c in reward.graded_rubric.criteria}
        usable = [r for r in labelled.rows if r.get("criterion") in ids or (for_this_rubric and not r.get("criterion"))]
        fallback = [r for r in labelled.rows if not r.get("criterion")]
    size, rng = int(opinion.sample or 0), random.Random(opinion.seed or 0)
    for rows, labels_apply in ((usable, True), (fallback, False)):
        halves = [[r for r in rows if (truth_of(r) in ("a", "pass")) == want] for want in (True, False)]
        if all(len(h) >= size // 2 for h in halves):
            return [row for half in halves for row in rng.sample(half, size // 2)], labels_apply
    key = opinion.key_of("sample")
    raise ConfigError(f"{key}: {labelled.path} has fewer than {size // 2} usable rows of each label")


def _row_id(row: Mapping[str, Any]) -> str:
    return str(row.get("id") or row.get("prompt") or "")


def _mean_abs_change(before: Sequence[float | None], after: Sequence[float | None]) -> float | None:
    pairs = [(a, b) for a, b in zip(before, after, strict=True) if a is not None and b is not None]
    return sum(abs(a - b) for a, b in pairs) / len(pairs) if pairs else None


def _alarm(step: int, signal: str, message: str, check: Mapping[str, Any]) -> Alarm:
    return Alarm(source="canaries", signal=signal, step=step, message=message, numbers=dict(check))
