"""``python -m rlaif.judge_eval``: measure a judge against labelled answers before it becomes a reward.

The same ``judge=``, ``reward=`` and ``rubric=`` groups as ``rlaif.train`` grade a labelled JSONL set
(``labelled=PATH``): pointwise rows ``{prompt, response, label: pass|fail, criterion?, reference?, kind?}``
(``criterion`` set: the label is about that criterion, score = its P(pass); else score = the rubric's
score) or pairwise rows ``{prompt, response_a, response_b, preferred: a|b, reference?, kind?}`` (needs
``reward=preference``; both orders are judged, score = P(a better) averaged over them). Reported:
agreement and Cohen's κ with bootstrap 95% intervals, AUC for soft scores, accuracy and swap
consistency for pairs, repeat stability, parse failures, latency, tokens and cost, an adversarial audit
(:mod:`rlaif.adversarial`) and agreement with a second judge. Files: ``report.md`` with charts,
``summary.json``, ``items.jsonl``, ``audit.jsonl`` (:mod:`rlaif.judge_eval_report`).

Exit codes: 0 every threshold met, 3 the judge failed a threshold (the report is written),
2 bad input (labelled file, config; nothing of this invocation is left behind), 1 anything else.
``rlaif.train`` calls :func:`run_judge_eval` for its pre-flight evaluation.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from rlaif.adversarial import adversarial_cases
from rlaif.config_checks import ConfigError, check_number
from rlaif.judge_eval_report import HEADLINE_NAMES, terminal_summary, write_outputs
from rlaif.judge_eval_summary import audit_table, cross_judge, summarise, verdict
from rlaif.judges.preflight import check_judge
from rlaif.labelled_sets import (
    LabelledSet,
    Verdicts,
    check_compatible,
    judge_items,
    load_labelled,
    select_split,
)
from rlaif.setup_errors import setup_failed

log = logging.getLogger("rlaif.judge_eval")

EXIT_THRESHOLDS_FAILED = 3  # distinct from 2 (bad input) and 1 (any other error): a gate for scripts

# Threshold -> (summary key, "min"/"max", set type it applies to: None = both).
_THRESHOLDS: dict[str, tuple[str, str, str | None]] = {
    "min_agreement": ("agreement", "min", None),
    "min_kappa": ("kappa", "min", None),
    "min_auc": ("auc", "min", None),
    "max_parse_failure_rate": ("parse_failure_rate", "max", None),
    "max_false_positive_rate": ("max_false_positive_rate", "max", "pointwise"),
    "min_accuracy": ("accuracy", "min", "pairwise"),
    "min_swap_consistency": ("swap_consistency", "min", "pairwise"),
}
# The limits every evaluation checks unless a key says otherwise: each fails a chance-level judge (AUC and
# pairwise accuracy 0.5, swap consistency 0). A key set to null is off and listed as "not checked".
DEFAULT_THRESHOLDS: dict[str, float | None] = {
    "min_agreement": None,
    "min_kappa": None,
    "min_auc": 0.6,
    "max_parse_failure_rate": 0.05,
    "max_false_positive_rate": None,
    "min_accuracy": 0.6,
    "min_swap_consistency": 0.5,
}


@dataclass(frozen=True)
class EvalSettings:
    """What to measure and the limits to pass (the ``judge_eval.yaml`` keys other than the groups)."""

    labelled: str = "packaged:everyday_pointwise"
    split: str = "test"  # dev | test | all: the rows of the set that are graded (labelled_sets.select_split)
    threshold: float = 0.5
    breakdown_by: tuple[str, ...] = ("criterion", "kind")
    batch_size: int = 32
    resamples: int = 1000
    seed: int = 0
    repeats: int = 3
    repeat_sample: int = 20
    audit: bool = True
    audit_per_category: int = 15
    audit_seed: int = 0
    prices: tuple[float, float] = (0.0, 0.0)  # per million input, output tokens
    thresholds: Mapping[str, float | None] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> EvalSettings:
        """Read and check the keys (a ``DictConfig`` or a plain mapping; missing keys take the defaults)."""
        plain = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
        assert isinstance(plain, dict)
        boot, rep, audit = (plain.get(k) or {} for k in ("bootstrap", "repeats", "audit"))
        prices = plain.get("prices") or {}
        thresholds = {**DEFAULT_THRESHOLDS, **(plain.get("thresholds") or {})}
        unknown = sorted(set(thresholds) - set(_THRESHOLDS))
        if unknown:
            raise ConfigError(f"thresholds: unknown key(s) {unknown}; known: {sorted(_THRESHOLDS)}")
        return cls(
            labelled=str(plain.get("labelled") or cls.labelled),
            split=str(plain.get("split", cls.split)),
            threshold=check_number(plain.get("threshold", 0.5), "threshold", 0.0, 1.0),
            breakdown_by=tuple(str(f) for f in plain.get("breakdown_by", cls.breakdown_by) or ()),
            batch_size=int(check_number(plain.get("batch_size", 32), "batch_size", 1)),
            resamples=int(check_number(boot.get("resamples", 1000), "bootstrap.resamples", 0)),
            seed=int(boot.get("seed", 0)),
            repeats=int(check_number(rep.get("k", 3), "repeats.k", 1)),
            repeat_sample=int(check_number(rep.get("sample", 20), "repeats.sample", 1)),
            audit=bool(audit.get("enabled", True)),
            audit_per_category=int(check_number(audit.get("per_category", 15), "audit.per_category", 1)),
            audit_seed=int(audit.get("seed", 0)),
            prices=(
                check_number(prices.get("input_per_million", 0.0), "prices.input_per_million", 0.0),
                check_number(prices.get("output_per_million", 0.0), "prices.output_per_million", 0.0),
            ),
            thresholds={
                k: None if v is None else check_number(v, f"thresholds.{k}", 0.0, 1.0) for k, v in thresholds.items()
            },
        )


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
    settings = settings if isinstance(settings, EvalSettings) else EvalSettings.from_config(settings)
    labelled = select_split(labelled or load_labelled(settings.labelled), settings.split)
    for each in (reward, second_reward):
        if each is not None:
            check_compatible(labelled, each)
    reward.judge.metrics.drain()  # latency, tokens and cost describe the main pass only
    main = asyncio.run(judge_items(reward, labelled.rows, labelled.pairwise, settings.batch_size))
    summary = summarise(labelled, main, settings, reward.judge.metrics.drain())
    summary["judge"]["identity"] = reward.judge.identity
    summary["repeat_stability"] = _repeat_stability(reward, labelled, main, settings)
    audit_rows: list[dict[str, Any]] = []
    if settings.audit and not labelled.pairwise:
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
            judge_items(second_reward, labelled.rows, labelled.pairwise, settings.batch_size, "second judge")
        )
        summary["cross_judge"] = cross_judge(labelled, main, second, settings)
        summary["cross_judge"]["identity"] = second_reward.judge.identity
    if members := getattr(reward.judge, "members", None):  # a jury: every member alone, side by side
        summary["jury_members"] = _members_side_by_side(settings, reward, members, labelled, out_dir / "members")
    failures = apply_thresholds(summary, settings.thresholds, labelled.pairwise)
    write_outputs(out_dir, summary, labelled, main, audit_rows, second)
    return JudgeEvalResult(not failures, failures, summary, out_dir)


def _members_side_by_side(
    settings: EvalSettings, reward: Any, members: Mapping[str, Any], labelled: LabelledSet, out_dir: Path
) -> dict[str, dict[str, Any]]:
    """Each jury member evaluated alone on the same items with the same reward (a full report of its own in
    ``members/<name>/``), so the report shows what the jury buys over its best member. No thresholds: the
    gate is the jury's."""
    alone = replace(settings, thresholds={})
    table = {}
    for name, member in members.items():
        member_reward = copy.copy(reward)
        member_reward.judge = member
        result = run_judge_eval(alone, member_reward, out_dir / name, labelled=labelled)
        table[name] = {key: result.summary.get(key) for key in HEADLINE_NAMES}
    return table


def _genuine_pass(row: Mapping[str, Any]) -> bool:
    return row.get("criterion") is None and row["label"] == "pass"  # scored like an audit case: the whole rubric


def _repeat_stability(reward: Any, labelled: LabelledSet, main: Verdicts, settings: EvalSettings) -> dict[str, Any]:
    """Judge a sample of items ``repeats`` times in all (the main pass is the first) and count the items
    whose verdict never changed. Sequential passes: identical requests in flight at once share one call."""
    k = settings.repeats
    if k < 2:
        return {"k": k, "skipped": "repeats.k < 2"}
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


def apply_thresholds(summary: dict[str, Any], thresholds: Mapping[str, float | None], pairwise: bool) -> list[str]:
    """Check every set threshold, record each outcome in ``summary["thresholds"]``, return the failures.

    Each outcome has a ``status``: ``pass``, ``fail``, ``off`` (limit null: listed as not checked) or
    ``n/a`` (the metric does not apply to this kind of set: pairwise limits on a pointwise set, the audit
    on a set without one). A limit that applies but is undefined here (κ with one class, no scored item)
    fails: a gate that cannot be checked does not open.
    """
    kind = "pairwise" if pairwise else "pointwise"
    outcomes: dict[str, Any] = {}
    failures = []
    for name, limit in thresholds.items():
        key, side, applies = _THRESHOLDS[name]
        value = summary.get(key)
        if (applies not in (None, kind)) or (key == "max_false_positive_rate" and "audit" not in summary):
            outcomes[name] = {"limit": limit, "value": None, "passed": None, "status": "n/a"}
            continue
        if limit is None:
            outcomes[name] = {"limit": None, "value": value, "passed": None, "status": "off"}
            continue
        passed = value is not None and (value >= limit if side == "min" else value <= limit)
        outcomes[name] = {"limit": limit, "value": value, "passed": passed, "status": "pass" if passed else "fail"}
        if not passed:
            shown = "undefined" if value is None else f"{value:.3f}"
            failures.append(f"{key} {shown} {'<' if side == 'min' else '>'} {name} {limit:g}")
    summary["thresholds"] = outcomes
    summary["passed"] = not failures
    return failures


def _build_reward(reward_cfg: DictConfig, judge_cfg: DictConfig) -> Any:
    judge = instantiate(judge_cfg, _convert_="all")
    try:
        return instantiate(reward_cfg, judge=judge, _convert_="all")
    except BaseException:
        judge.close()
        raise


def evaluate(cfg: DictConfig, out_dir: Path) -> JudgeEvalResult:
    """The command: check the input, build the judge(s) and reward(s), prove each judge answers, evaluate."""
    settings = EvalSettings.from_config(cfg)
    labelled = select_split(load_labelled(settings.labelled), settings.split)  # bad rows fail before any model
    rewards = [_build_reward(cfg.reward, cfg.judge)]
    try:
        if cfg.get("second_judge") is not None:
            rewards.append(_build_reward(cfg.reward, cfg.second_judge))
        for reward in rewards:
            check_compatible(labelled, reward)
        for reward in rewards:
            check_judge(reward.judge)
        second = rewards[1] if len(rewards) > 1 else None
        return run_judge_eval(settings, rewards[0], out_dir, labelled=labelled, second_reward=second)
    finally:
        for reward in rewards:
            reward.judge.close()


@hydra.main(version_base="1.3", config_path="conf", config_name="judge_eval")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        result = evaluate(cfg, out_dir)
    except Exception as exc:
        sys.exit(setup_failed(out_dir, exc, log, "evaluate the judge"))
    print(terminal_summary(result.summary, out_dir))
    if not result.passed:
        log.error("rlaif: the judge failed %d threshold(s): %s", len(result.failures), "; ".join(result.failures))
        sys.exit(EXIT_THRESHOLDS_FAILED)


if __name__ == "__main__":
    main()
