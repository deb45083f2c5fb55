"""The numbers of ``python -m rlaif.judge_eval``: verdicts into ``summary.json`` (statistics from
:mod:`rlaif.evaluation.stats`); :mod:`rlaif.evaluation.judge_eval_outputs` writes the files that show them.

Rules the numbers follow: an item the judge could not score (``score`` null) counts in
``parse_failure_rate`` and is left out of agreement, κ and AUC. A pair whose two orders cancel out
exactly (P(a better) = 0.5, common with hard A/B verdicts that follow the position) is a tie, and a
tie counts as a miss. AUC is reported for hard (0/1) verdicts too: there it equals the balanced accuracy,
so a chance-level judge scores 0.5 either way. Beside every AUC stands ``word_count_auc``, what "the shorter
answer passes" scores on the same rows: the judge's figure means something only above it. A set of rubric
items (reward=row_rubric) is scored like a pointwise one (score: the item's P(met), label: ``met``) and broken
down by ``polarity`` too: pitfall items (meeting them costs points) apart from positive ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rlaif.evaluation import stats as st
from rlaif.evaluation.judge_eval_settings import EvalSettings
from rlaif.evaluation.labelled_sets import JudgedItems, LabelledSet, row_item
from rlaif.evaluation.second_opinion import agreement_with, positive_class, verdict_rule
from rlaif.rewards.correlation import kendall_tau
from rlaif.rewards.orders import agreement

_UNSET = {"criterion": "(whole rubric)"}  # the group name of rows without the field


def verdict(score: float | None, pairwise: bool, threshold: float) -> str | None:
    """``pass``/``fail`` (score >= threshold) or, for pairs, ``a``/``b``/``tie``
    (:func:`~rlaif.evaluation.second_opinion.verdict_rule`); None when unscored."""
    return None if score is None else verdict_rule(pairwise, threshold)(score)


def word_count_scores(rows: Sequence[Mapping[str, Any]], pairwise: bool) -> list[float]:
    """The trivial baseline's score per row: fewer words scores higher (pointwise), or P(a better) is 1 when
    ``a`` is the shorter answer, 0 when it is the longer and 0.5 on equal counts (pairs)."""
    if not pairwise:
        return [-float(len(str(row["response"]).split())) for row in rows]
    diffs = [len(str(row["response_b"]).split()) - len(str(row["response_a"]).split()) for row in rows]
    return [0.5 if d == 0 else float(d > 0) for d in diffs]


def _stats(
    truths: Sequence[str],
    scores: Sequence[float | None],
    pairwise: bool,
    cfg: EvalSettings,
    heuristic: Sequence[float],
) -> dict[str, Any]:
    """Agreement, κ and AUC of the scored items, each with a bootstrap 95% interval, and the AUC of the
    ``heuristic`` scores on every item."""
    positive = "a" if pairwise else "pass"
    scored = [i for i, s in enumerate(scores) if s is not None]
    labels = [truths[i] == positive for i in scored]
    values = [float(scores[i] or 0.0) for i in scored]
    # A miss predicts the other class: for pairs a tie is then the opposite of the label.
    predictions = [
        y if verdict(s, pairwise, cfg.threshold) == truths[i] else not y
        for i, y, s in zip(scored, labels, values, strict=True)
    ]

    boot = {"resamples": cfg.resamples, "seed": cfg.seed}
    out: dict[str, Any] = {"n": len(scores), "n_scored": len(scored)}
    out["mean_score"] = sum(values) / len(values) if values else None
    out["agreement"] = st.agreement(labels, predictions) if scored else None
    out["agreement_ci"] = st.agreement_ci(labels, predictions, **boot)
    out["kappa"] = st.cohen_kappa(labels, predictions)
    out["kappa_ci"] = st.kappa_ci(labels, predictions, **boot)
    out["auc"] = st.roc_auc(labels, values) if scored else None
    out["auc_ci"] = st.auc_ci(labels, values, **boot) if out["auc"] is not None else None
    out["word_count_auc"] = st.roc_auc([t == positive for t in truths], list(heuristic)) if truths else None
    return out


def summarise(
    labelled: LabelledSet, main: JudgedItems, cfg: EvalSettings, window: Mapping[str, float]
) -> dict[str, Any]:
    """``summary.json`` of the main pass: overall, per breakdown field, and the judge's cost."""
    if labelled.listwise:
        return _summarise_listwise(labelled, main, cfg, window)
    pairwise, n = labelled.pairwise, len(labelled.rows)
    truths = [labelled.truth(i) for i in range(n)]
    heuristic = word_count_scores(labelled.rows, pairwise)
    summary: dict[str, Any] = {
        "labelled": str(labelled.path),
        "split": labelled.split,
        "set_kind": labelled.kind,
        "threshold": cfg.threshold,
        "soft_scores": main.soft,
        **_stats(truths, main.scores, pairwise, cfg, heuristic),
        "parse_failure_rate": sum(s is None for s in main.scores) / n,
    }
    if main.soft and not pairwise:
        summary["best_threshold"] = _best_threshold(truths, main.scores)
    if pairwise:
        summary["accuracy"], summary["accuracy_ci"] = summary["agreement"], summary["agreement_ci"]
        summary["swap_consistency"] = st.swap_consistency([o for o in main.orders if o is not None])
        summary["tie_rate"] = sum(s == 0.5 for s in main.scores) / n
    breakdowns: dict[str, dict[str, Any]] = {}
    for name in [*cfg.breakdown_by, *(["polarity"] if labelled.items else [])]:
        if name != "polarity" and not any(row.get(name) is not None for row in labelled.rows):
            continue
        groups: dict[str, list[int]] = {}
        for i, row in enumerate(labelled.rows):
            groups.setdefault(_polarity(row) if name == "polarity" else _group(row, name), []).append(i)
        breakdowns[name] = {}
        for g, idx in sorted(groups.items()):
            truth, scores = [truths[i] for i in idx], [main.scores[i] for i in idx]
            breakdowns[name][g] = _stats(truth, scores, pairwise, cfg, [heuristic[i] for i in idx])
    summary["breakdowns"] = breakdowns
    summary["judge"] = _cost(window, n, main.seconds, cfg.prices)
    return summary


def _summarise_listwise(
    labelled: LabelledSet, main: JudgedItems, cfg: EvalSettings, window: Mapping[str, float]
) -> dict[str, Any]:
    """A listwise set: Kendall's tau between the judged and the known order, per group and averaged (with a
    bootstrap interval over groups), how often the judge's top answer is the best one, the orders'
    agreement, and the tau of "the shorter answer is better" on the same groups."""
    n = len(labelled.rows)
    summary: dict[str, Any] = {
        "labelled": str(labelled.path),
        "split": labelled.split,
        "set_kind": "listwise",
        "threshold": cfg.threshold,
        "soft_scores": True,
        **_listwise_stats(labelled.rows, main, cfg),
        "parse_failure_rate": sum(s is None for s in main.scores) / n,
    }
    breakdowns: dict[str, dict[str, Any]] = {}
    for name in cfg.breakdown_by:
        if any(row.get(name) is not None for row in labelled.rows):
            groups: dict[str, list[int]] = {}
            for i, row in enumerate(labelled.rows):
                groups.setdefault(_group(row, name), []).append(i)
            breakdowns[name] = {
                g: _listwise_stats([labelled.rows[i] for i in idx], _subset(main, idx), cfg)
                for g, idx in sorted(groups.items())
            }
    summary["breakdowns"] = breakdowns
    summary["judge"] = _cost(window, n, main.seconds, cfg.prices)
    return summary


def _listwise_stats(rows: Sequence[Mapping[str, Any]], main: JudgedItems, cfg: EvalSettings) -> dict[str, Any]:
    scored = [i for i, s in enumerate(main.scores) if s is not None]
    taus = [float(main.scores[i] or 0.0) for i in scored]
    tops, agreements = [], []
    for i in scored:
        judged = main.groups[i] or []
        means = [sum(s) / len(s) for s in judged]
        best = [k for k, m in enumerate(means) if m == max(means)]
        tops.append(sum(rows[i]["ranks"][k] == min(rows[i]["ranks"]) for k in best) / len(best))
        if judged and len(judged[0]) >= 2:  # every two orders' tau, averaged (rlaif.rewards.orders.agreement)
            together = agreement([[s[o] for s in judged] for o in range(len(judged[0]))])
            agreements.append(0.0 if together is None else together)
    shorter = [
        kendall_tau([-len(r) for r in map(str.split, row["responses"])], [-k for k in row["ranks"]]) for row in rows
    ]

    def mean_of(values: Sequence[float]) -> float | None:
        return sum(values) / len(values) if values else None

    return {
        "n": len(rows),
        "n_scored": len(scored),
        "kendall_tau": mean_of(taus),
        "kendall_tau_ci": st.mean_ci(taus, resamples=cfg.resamples, seed=cfg.seed),
        "top1_accuracy": mean_of(tops),
        "order_agreement": mean_of(agreements),
        "word_count_tau": mean_of([0.0 if t is None else t for t in shorter]),
    }


def _subset(main: JudgedItems, idx: Sequence[int]) -> JudgedItems:
    out = JudgedItems([main.scores[i] for i in idx], [main.errors[i] for i in idx], [main.orders[i] for i in idx])
    out.groups = [main.groups[i] for i in idx]
    return out


def _best_threshold(truths: Sequence[str], scores: Sequence[float | None]) -> dict[str, float] | None:
    """The cut-off with the highest agreement on this set (in-sample, so optimistic): a small judge can rank
    well (AUC) with every P(yes) below 0.5, and GRPO's group-relative advantages only use the ranking."""
    scored = [(float(s), t == "pass") for s, t in zip(scores, truths, strict=True) if s is not None]
    best: dict[str, float] | None = None
    for cut in sorted({s for s, _ in scored}):
        share = sum((s >= cut) == y for s, y in scored) / len(scored)
        if best is None or share > best["agreement"]:
            best = {"threshold": cut, "agreement": share}
    return best


def _polarity(row: Mapping[str, Any]) -> str:
    """An item row's group: ``pitfall`` (negative points: met is the fault) or ``positive``."""
    return "pitfall" if row_item(row).pitfall else "positive"


def _group(row: Mapping[str, Any], name: str) -> str:
    value = row.get(name)
    return _UNSET.get(name, "(none)") if value is None else str(value)


def _cost(window: Mapping[str, float], n: int, seconds: float, prices: tuple[float, float]) -> dict[str, Any]:
    """Latency, tokens, throughput and cost of the main pass; a judgement is one labelled item."""
    tokens_in, tokens_out = window.get("tokens_in", 0.0), window.get("tokens_out", 0.0)
    cost = (tokens_in * prices[0] + tokens_out * prices[1]) / 1e6
    return {
        "requests": int(window.get("requests", 0)),
        "request_failures": int(window.get("failures", 0)),
        "tokens_in": int(tokens_in),
        "tokens_out": int(tokens_out),  # reasoning included: a thinking judge's reasoning is billed as output
        "reasoning_tokens": int(window.get("reasoning_tokens", 0.0)),
        "latency_p50_s": _finite(window.get("latency_p50_s")),
        "latency_p95_s": _finite(window.get("latency_p95_s")),
        "seconds": seconds,
        "judgements_per_s": n / seconds if seconds > 0 else None,
        "cost_per_1000_judgements": 1000 * cost / n if n else None,
    }


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def audit_table(
    rows: Sequence[Mapping[str, Any]], judged: JudgedItems, threshold: float, passes: Sequence[float]
) -> dict[str, Any]:
    """Per adversarial category: the false-positive rate (share of scored cases at or above ``threshold``;
    an unscored case is a failure, not a pass) with its Wilson 95% upper bound, and how often a case
    outscores a genuine pass (``passes``: the scores of the set's whole-rubric passes; ties count 1/2).
    GRPO only uses the ranking within a group, so the second number matters even when the first is 0."""
    categories: dict[str, dict[str, Any]] = {}
    for row, score in zip(rows, judged.scores, strict=True):
        entry = categories.setdefault(str(row["kind"]), {"n": 0, "n_scored": 0, "false_positives": 0, "_s": []})
        entry["n"] += 1
        if score is not None:
            entry["n_scored"] += 1
            entry["false_positives"] += score >= threshold
            entry["_s"].append(score)
    for entry in categories.values():
        scored, cases = entry["n_scored"], entry.pop("_s")
        entry["false_positive_rate"] = entry["false_positives"] / scored if scored else None
        entry["upper_95"] = st.wilson_interval(entry["false_positives"], scored)[1]
        entry["mean_score"] = sum(cases) / scored if scored else None
        auc = st.roc_auc([True] * len(passes) + [False] * scored, [*passes, *cases]) if passes else None
        entry["outscores_passes"] = None if auc is None else 1.0 - auc
    rates = {k: v["false_positive_rate"] for k, v in categories.items() if v["false_positive_rate"] is not None}
    worst = max(rates, key=lambda k: rates[k]) if rates else None
    return {
        "categories": categories,
        "max_false_positive_rate": rates[worst] if worst else None,
        "worst_category": worst,
        "parse_failure_rate": sum(s is None for s in judged.scores) / len(rows) if rows else None,
        "genuine_passes": len(passes),
    }


def cross_judge(labelled: LabelledSet, main: JudgedItems, second: JudgedItems, cfg: EvalSettings) -> dict[str, Any]:
    """How often the second judge gives the first judge's verdict (:func:`~rlaif.evaluation.second_opinion.
    agreement_with`: agreement, κ, Spearman's ρ of the scores with its interval), and its own agreement with the
    labels."""
    pairwise = labelled.pairwise
    truths = [labelled.truth(i) for i in range(len(labelled.rows))]
    own = _stats(truths, second.scores, pairwise, cfg, word_count_scores(labelled.rows, pairwise))
    agreed = agreement_with(
        main.scores,
        second.scores,
        verdict=verdict_rule(pairwise, cfg.threshold),
        positive=positive_class(pairwise),
        resamples=cfg.resamples,
        seed=cfg.second_seed,
    )
    return {
        **agreed.as_dict(),
        "second_vs_labels": {k: own[k] for k in ("agreement", "agreement_ci", "kappa", "kappa_ci", "auc")},
        "second_parse_failure_rate": sum(s is None for s in second.scores) / len(second.scores),
    }
