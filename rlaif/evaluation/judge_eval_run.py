"""The judge-evaluation pipeline behind ``python -m rlaif.judge_eval`` and ``train preflight=true``:
labelled set -> judge every item (and the audit, repeats, a second judge, each jury member) -> summarise ->
write the report -> check the thresholds. Each stage is a module of its own, visited once, in that order:
:mod:`~rlaif.evaluation.labelled_sets`, :mod:`~rlaif.evaluation.judge_eval_summary`,
:mod:`~rlaif.evaluation.judge_eval_outputs`, :mod:`~rlaif.evaluation.judge_eval_settings` (the gate).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rlaif.errors import ConfigError, JudgeRejectedError
from rlaif.evaluation.adversarial import adversarial_cases
from rlaif.evaluation.judge_eval_outputs import HEADLINE_NAMES, write_outputs
from rlaif.evaluation.judge_eval_settings import EvalSettings, apply_second_opinion_floor, apply_thresholds
from rlaif.evaluation.judge_eval_summary import audit_table, cross_judge, summarise, verdict
from rlaif.evaluation.jury_replay import RecordingJury
from rlaif.evaluation.labelled_sets import (
    JudgedItems,
    LabelledSet,
    check_compatible,
    judge_items,
    load_labelled,
    select_split,
)
from rlaif.evaluation.second_opinion_keys import SecondOpinion

log = logging.getLogger("rlaif.judge_eval")


@dataclass
class JudgeEvalResult:
    """The outcome: ``passed`` when every set threshold was met; ``failures`` says which were not."""

    passed: bool
    failures: list[str]
    summary: dict[str, Any]
    out_dir: Path


def run_judge_eval(
    settings: EvalSettings | Mapping[str, Any],
    reward: Any,
    out_dir: Path,
    *,
    labelled: LabelledSet | None = None,
    second_reward: Any | None = None,
) -> JudgeEvalResult:
    """Grade the labelled set with ``reward`` (and its judge), write the report to ``out_dir``, check the
    thresholds. Bad input raises :class:`DataError` / :class:`ConfigError`; a judge failure never raises
    (it is a parse failure in the numbers). The judge is left open: its owner closes it."""
    settings = settings if isinstance(settings, EvalSettings) else EvalSettings.from_config(settings, "judge_eval")
    labelled = select_split(labelled or load_labelled(settings.labelled), settings.split)
    for each in (reward, second_reward):
        if each is not None:
            check_compatible(labelled, each)
    if second_reward is None and settings.second_opinion.min_agreement is not None:
        raise ConfigError(
            "second_opinion.min_agreement: a floor on a second judge's agreement, and there is no second judge: "
            "choose one (judge@second_opinion.judge=NAME) or leave it null"
        )
    if getattr(reward.judge, "members", None):  # a jury: its replies keep each member's, for the members alone
        reward = copy.copy(reward)
        reward.judge = RecordingJury(reward.judge)
    reward.judge.metrics.drain()  # latency, tokens and cost describe the main pass only
    main = asyncio.run(
        judge_items(reward, labelled.rows, labelled.pairwise, settings.batch_size, listwise=labelled.listwise)
    )
    if getattr(reward.judge, "replayed", False):  # a jury member read from the jury's replies: no time of its own
        main.seconds = 0.0
    summary = summarise(labelled, main, settings, reward.judge.metrics.drain())
    summary["judge"]["identity"] = reward.judge.identity
    summary["repeat_stability"] = _repeat_stability(reward, labelled, main, settings)
    audit_rows: list[dict[str, Any]] = []
    if settings.audit and labelled.kind == "pointwise":
        audit_rows = adversarial_cases(
            labelled.rows, seed=settings.audit_seed, per_category=settings.audit_per_category
        )
        judged = asyncio.run(judge_items(reward, audit_rows, False, settings.batch_size, "audit"))
        passes = [s for s, r in zip(main.scores, labelled.rows, strict=True) if s is not None and _genuine_pass(r)]
        summary["audit"] = audit_table(audit_rows, judged, settings.threshold, passes)
        summary["max_false_positive_rate"] = summary["audit"]["max_false_positive_rate"]  # the worst category
        for row, score, error in zip(audit_rows, judged.scores, judged.errors, strict=True):
            row.update(score=score, error=error)
    second = None
    if second_reward is not None:
        second = asyncio.run(
            judge_items(
                second_reward, labelled.rows, labelled.pairwise, settings.batch_size, "second judge", labelled.listwise
            )
        )
        if labelled.listwise:  # the second judge's own ranking quality, beside the first's
            taus = [t for t in second.scores if t is not None]
            summary["second_judge_kendall_tau"] = sum(taus) / len(taus) if taus else None
        else:
            summary["cross_judge"] = cross_judge(labelled, main, second, settings)
            summary["cross_judge"]["identity"] = second_reward.judge.identity
    if isinstance(reward.judge, RecordingJury):  # a jury: every member alone, side by side
        summary["jury_members"] = _members_side_by_side(settings, reward, labelled, out_dir / "members")
    failures = apply_thresholds(summary, settings.thresholds, labelled.kind)
    if second is not None:
        failures += apply_second_opinion_floor(summary, settings.second_opinion.min_agreement)
    write_outputs(out_dir, summary, labelled, main, audit_rows, second)
    return JudgeEvalResult(not failures, failures, summary, out_dir)


def _members_side_by_side(
    settings: EvalSettings, reward: Any, labelled: LabelledSet, out_dir: Path
) -> dict[str, dict[str, Any]]:
    """Each jury member evaluated alone on the same items with the same reward (a full report of its own in
    ``members/<name>/``), so the report shows what the jury buys over its best member. Its verdicts are read
    from its replies to the jury (:mod:`~rlaif.evaluation.jury_replay`): no member is asked anything again. No
    thresholds: the gate is the jury's."""
    alone = replace(settings, thresholds={}, second_opinion=SecondOpinion())  # no gate, no second judge
    table = {}
    for name in reward.judge.members:
        member_reward = copy.copy(reward)
        member_reward.judge = reward.judge.member(name)
        result = run_judge_eval(alone, member_reward, out_dir / name, labelled=labelled)
        table[name] = {key: result.summary.get(key) for key in HEADLINE_NAMES}
    return table


def _genuine_pass(row: Mapping[str, Any]) -> bool:
    return row.get("criterion") is None and row["label"] == "pass"  # scored like an audit case: the whole rubric


def _repeat_stability(reward: Any, labelled: LabelledSet, main: JudgedItems, settings: EvalSettings) -> dict[str, Any]:
    """Judge a sample of items ``repeats`` times in all (the main pass is the first) and count the items
    whose verdict never changed. Sequential passes: identical requests in flight at once share one call."""
    k = settings.repeats
    if k < 2:
        return {"k": k, "skipped": "repeats.k < 2"}
    if labelled.listwise:
        return {"k": k, "skipped": "not measured on listwise sets"}
    if reward.judge.policy.cache:
        return {"k": k, "skipped": "the judge caches answers (judge.policy.cache=true): every repeat would be a hit"}
    n = len(labelled.rows)
    sample = sorted(random.Random(settings.seed).sample(range(n), min(settings.repeat_sample, n)))
    rows = [labelled.rows[i] for i in sample]
    runs = [[main.scores[i] for i in sample]]
    for _ in range(k - 1):
        runs.append(asyncio.run(judge_items(reward, rows, labelled.pairwise, settings.batch_size, "repeat")).scores)
    kept = [j for j in range(len(sample)) if all(run[j] is not None for run in runs)]
    complete = [[float(run[j] or 0.0) for run in runs] for j in kept]  # or 0.0: only for the type checker
    same = [len({verdict(s, labelled.pairwise, settings.threshold) for s in scores}) == 1 for scores in complete]
    spreads = [max(s) - min(s) for s in complete]
    return {
        "k": k,
        "n": len(sample),
        "n_scored_every_time": len(complete),
        "stability": sum(same) / len(same) if same else None,
        "mean_score_spread": sum(spreads) / len(spreads) if spreads else None,
    }


def gate_on_judge_eval(settings: Mapping[str, Any], reward: Any, out_dir: Path) -> None:
    """``train preflight=true``: evaluate the run's own judge and reward; raise when a threshold fails."""
    result = run_judge_eval(settings, reward, out_dir)
    if not result.passed:
        raise JudgeRejectedError(
            f"the judge {reward.judge.identity} failed its evaluation ({'; '.join(result.failures)}); "
            f"report: {out_dir / 'report.md'}. Training would optimise a reward this judge cannot give: "
            "use a stronger judge, or change judge_eval.thresholds if these limits are wrong for your task"
        )
    log.info(
        "the judge passed its evaluation on %s (report: %s)", result.summary.get("labelled"), out_dir / "report.md"
    )
