"""The files that show ``python -m rlaif.judge_eval``'s numbers: :func:`write_outputs` writes
``summary.json`` with ``items.jsonl`` (one line per labelled item, in input order), ``audit.jsonl``,
``report.md`` and its PNG charts; :func:`terminal_summary` is the one-screen version. The numbers
themselves come from :mod:`rlaif.evaluation.judge_eval_summary`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlaif.evaluation import stats as st
from rlaif.evaluation.judge_eval_summary import verdict
from rlaif.evaluation.labelled_sets import JudgedItems, LabelledSet
from rlaif.reporting.html_page import markdown_page

# -- files ----------------------------------------------------------------------------------------


def write_outputs(
    out_dir: Path,
    summary: dict[str, Any],
    labelled: LabelledSet,
    main: JudgedItems,
    audit_rows: Sequence[Mapping[str, Any]],
    second: JudgedItems | None,
) -> None:
    """``items.jsonl``, ``audit.jsonl`` (when audited), ``summary.json``, the charts, ``report.md`` and
    ``report.html`` (the same, its charts embedded: one file that opens offline)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    threshold, pairwise = summary["threshold"], labelled.pairwise
    items = []
    for i, row in enumerate(labelled.rows):
        if labelled.listwise:  # score: Kendall's tau with the known order; scores: each answer's, per order
            line = int(labelled.where[i].rsplit(":", 1)[1])
            items.append(
                {**row, "line": line, "score": main.scores[i], "scores": main.groups[i], "error": main.errors[i]}
            )
            continue
        said = verdict(main.scores[i], pairwise, threshold)
        item = {**row, "line": int(labelled.where[i].rsplit(":", 1)[1]), "score": main.scores[i], "verdict": said}
        item.update(correct=None if said is None else said == labelled.truth(i), error=main.errors[i])
        if pairwise:
            item["orders"] = main.orders[i]  # P(a better) with a shown first, with a shown second
        if second is not None:
            item.update(second_score=second.scores[i], second_verdict=verdict(second.scores[i], pairwise, threshold))
        items.append(item)
    _jsonl(out_dir / "items.jsonl", items)
    if audit_rows:
        _jsonl(out_dir / "audit.jsonl", audit_rows)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    charts = {} if labelled.listwise else _charts(out_dir, summary, labelled, main)
    (out_dir / "report.md").write_text(_markdown(summary, charts), encoding="utf-8")
    markdown_page(out_dir / "report.md", f"rlaif judge evaluation: {summary.get('labelled')}")  # report.html


def _jsonl(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows), encoding="utf-8")


def _charts(out_dir: Path, summary: Mapping[str, Any], labelled: LabelledSet, main: JudgedItems) -> dict[str, str]:
    """The PNGs that apply: ROC and calibration (soft scores), one bar chart per breakdown, the audit."""

    charts: dict[str, str] = {}
    positive = "a" if labelled.pairwise else "pass"
    scored = [i for i, s in enumerate(main.scores) if s is not None]
    labels = [labelled.truth(i) == positive for i in scored]
    values = [float(main.scores[i] or 0.0) for i in scored]
    if main.soft and (points := st.roc_points(labels, values)):
        fig, ax = _figure(4.5, 4.5)
        ax.plot(*zip(*points, strict=True), marker=".", label=f"judge (AUC {_f(summary['auc'])})")
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
        ax.set(xlabel="false-positive rate", ylabel="true-positive rate", title="ROC")
        charts["roc"] = _save(fig, ax, out_dir / "roc.png")
    if main.soft and values:
        table = st.calibration(labels, values)
        fig, ax = _figure(4.5, 4.5)
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
        ax.scatter(
            [m for m, _, _ in table], [r for _, r, _ in table], s=[20 + 4 * c for _, _, c in table], label="bins"
        )
        ax.set(
            xlabel="mean judge score",
            ylabel=f"share labelled {positive}",
            title="Calibration",
            xlim=(0, 1),
            ylim=(0, 1),
        )
        charts["calibration"] = _save(fig, ax, out_dir / "calibration.png")
    for name, groups in summary["breakdowns"].items():
        rows = [(f"{g} (n={v['n_scored']})", v["agreement"], v["agreement_ci"]) for g, v in groups.items()]
        rows = [r for r in rows if r[1] is not None]
        title = f"{'Accuracy' if labelled.pairwise else 'Agreement'} by {name} (95% CI)"
        charts[f"breakdown_{name}"] = _bars(rows, title, out_dir / f"breakdown_{name}.png")
    if "audit" in summary:
        cats = summary["audit"]["categories"]
        rows = [
            (f"{c} (n={v['n_scored']})", v["false_positive_rate"], (v["false_positive_rate"], v["upper_95"]))
            for c, v in cats.items()
            if v["n_scored"]
        ]
        charts["audit"] = _bars(rows, "Adversarial false-positive rate (bar: 95% upper bound)", out_dir / "audit.png")
    return charts


def _figure(width: float, height: float) -> tuple[Any, Any]:
    from matplotlib.figure import Figure  # no pyplot: no global state, no backend to choose, no display needed

    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


def _bars(rows: Sequence[tuple[str, float, Any]], title: str, path: Path) -> str:
    fig, ax = _figure(6, 0.9 + 0.35 * max(1, len(rows)))
    names = [r[0] for r in rows]
    values = [r[1] for r in rows]
    low = [v - (ci[0] if ci else v) for _, v, ci in rows]
    high = [(ci[1] if ci else v) - v for _, v, ci in rows]
    ax.barh(names, values, xerr=[low, high], color="tab:blue", alpha=0.7, capsize=3)
    ax.invert_yaxis()
    ax.set(xlim=(0, 1), title=title)
    return _save(fig, ax, path, legend=False)


def _save(fig: Any, ax: Any, path: Path, legend: bool = True) -> str:
    if legend:
        ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path.name


# -- text -----------------------------------------------------------------------------------------


def _f(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{round(value, digits) + 0.0:.{digits}f}"  # + 0.0: no "-0.000"


def _ci(pair: Any) -> str:
    return "" if not pair else f" [{_f(pair[0], 2)}, {_f(pair[1], 2)}]"


def _verdict_line(summary: Mapping[str, Any]) -> str:
    """FAILED with the failed limits, PASSED with the limits checked, and always the limits left off:
    a gate never reads as passed on what it did not check."""
    outcomes = summary.get("thresholds", {})
    by_status: dict[str, list[str]] = {}
    for name, v in outcomes.items():
        by_status.setdefault(v["status"], []).append(name)
    off = f"; not checked: {', '.join(by_status['off'])}" if by_status.get("off") else ""
    if by_status.get("fail"):
        return f"FAILED: {', '.join(by_status['fail'])}{off}"
    if not by_status.get("pass"):
        return "NOT CHECKED: no threshold applies or every one is off (thresholds.*)"
    return f"PASSED: {', '.join(by_status['pass'])}{off}"


def _split_note(s: Mapping[str, Any]) -> str:
    split = s.get("split")
    if split in ("dev", "test"):
        return f"split `{split}`" + (" (held out from tuning)" if split == "test" else " (the tuning rows)")
    return "every row (the file has no split)" if split == "none" else "every row, dev and test"


def _kind_items(s: Mapping[str, Any]) -> str:
    return "rubric items" if s["set_kind"] == "item" else f"{s['set_kind']} items"


def _head(s: Mapping[str, Any]) -> list[str]:
    """The title, the verdict and the thresholds table."""
    return [
        "# Judge evaluation",
        "",
        f"Judge `{s['judge'].get('identity', '?')}` on `{s['labelled']}`, {_split_note(s)} ({s['n']} "
        f"{_kind_items(s)}, threshold {s['threshold']}). **{_verdict_line(s)}**",
        "",
        "| threshold | limit | value | result |",
        "|---|---|---|---|",
        *(
            f"| {k} | {'—' if v['limit'] is None else format(v['limit'], 'g')} | {_f(v['value'])} "
            f"| {_outcome(v.get('status'))} |"
            for k, v in s.get("thresholds", {}).items()
        ),
    ]


def _listwise_markdown(s: Mapping[str, Any]) -> str:
    """A listwise set: the judged order against the known one (each group judged in several orders)."""
    out = [*_head(s), "", "## Ranking against the known order", "", "| | value |", "|---|---|"]
    out += [
        f"| Kendall's τ (mean over groups) | {_f(s['kendall_tau'])}{_ci(s['kendall_tau_ci'])} |",
        f"| τ of a word count (shorter ranks higher) | {_f(s['word_count_tau'])} |",
        f"| top-1 accuracy (the judge's best is the best) | {_f(s['top1_accuracy'])} |",
        f"| the orders' agreement (mean τ over every two orders) | {_f(s['order_agreement'])} |",
        f"| parse-failure rate | {_f(s['parse_failure_rate'])} |",
    ]
    if s.get("second_judge_kendall_tau") is not None:
        out.append(f"| second judge's Kendall's τ | {_f(s['second_judge_kendall_tau'])} |")
    for name, groups in s["breakdowns"].items():
        out += [
            "",
            f"## By {name}",
            "",
            "| group | n | scored | Kendall's τ | top-1 | word-count τ |",
            "|---|---|---|---|---|---|",
        ]
        out += [
            f"| {g} | {v['n']} | {v['n_scored']} | {_f(v['kendall_tau'])}{_ci(v['kendall_tau_ci'])} "
            f"| {_f(v['top1_accuracy'])} | {_f(v['word_count_tau'])} |"
            for g, v in groups.items()
        ]
    out += _sections(s, {})
    return "\n".join(out) + "\n"


def _markdown(s: Mapping[str, Any], charts: Mapping[str, str]) -> str:
    if s["set_kind"] == "listwise":
        return _listwise_markdown(s)
    pairs = s["set_kind"] == "pairwise"
    out = [
        *_head(s),
        "",
        "## Agreement with the labels",
        "",
        "| | value | 95% CI |",
        "|---|---|---|",
        f"| {'accuracy' if pairs else 'agreement'} | {_f(s['agreement'])} | {_ci(s['agreement_ci'])} |",
        f"| Cohen's κ | {_f(s['kappa'])} | {_ci(s['kappa_ci'])} |",
        f"| AUC | {_f(s['auc'])} | {_ci(s['auc_ci'])} |",
        f"| AUC of a word count (shorter passes) | {_f(s.get('word_count_auc'))} | |",
        f"| parse-failure rate | {_f(s['parse_failure_rate'])} | |",
    ]
    if pairs:
        out += [f"| swap consistency | {_f(s['swap_consistency'])} | |", f"| tie rate | {_f(s['tie_rate'])} | |"]
    out += [
        "",
        f"Scored {s['n_scored']} of {s['n']}; unscored items count only as parse failures. "
        + ("The verdicts are hard (0/1): their AUC is the balanced accuracy. " if not s["soft_scores"] else "")
        + "The word count's AUC is the trivial baseline on the same rows: the judge adds what it scores above it.",
    ]
    out += [f"\n![{name}]({file})" for name, file in charts.items() if name in ("roc", "calibration")]
    for name, groups in s["breakdowns"].items():
        out += ["", f"## By {name}", "", "| group | n | scored | agreement | κ | AUC | word-count AUC | mean score |"]
        out += ["|" + "---|" * 8]
        out += [
            f"| {g} | {v['n']} | {v['n_scored']} | {_f(v['agreement'])}{_ci(v['agreement_ci'])} | {_f(v['kappa'])} "
            f"| {_f(v['auc'])} | {_f(v.get('word_count_auc'))} | {_f(v['mean_score'])} |"
            for g, v in groups.items()
        ]
        out += [f"\n![{name}]({charts[f'breakdown_{name}']})"] if f"breakdown_{name}" in charts else []
    out += _sections(s, charts)
    return "\n".join(out) + "\n"


def _outcome(status: str | None) -> str:
    return {"fail": "**FAIL**", "off": "not checked"}.get(str(status), str(status))


def _sections(s: Mapping[str, Any], charts: Mapping[str, str]) -> list[str]:
    out, rep, judge = [], s.get("repeat_stability") or {}, s["judge"]
    out += ["", "## Repeat stability", ""]
    if "skipped" in rep:
        out.append(f"Skipped: {rep['skipped']}.")
    else:
        out.append(
            f"{rep.get('n')} items judged {rep.get('k')} times: the verdict never changed for "
            f"{_f(rep.get('stability'))} of them (mean score spread {_f(rep.get('mean_score_spread'))})."
        )
    if "audit" in s:
        audit = s["audit"]
        out += ["", "## Adversarial audit", "", "Every case must fail the whole rubric.", ""]
        out += [
            "| category | n | scored | passed | false-positive rate | 95% upper bound | mean score "
            "| outscores a pass |",
            "|" + "---|" * 8,
        ]
        out += [
            f"| {c} | {v['n']} | {v['n_scored']} | {v['false_positives']} | {_f(v['false_positive_rate'])} "
            f"| {_f(v['upper_95'])} | {_f(v['mean_score'])} | {_f(v['outscores_passes'])} |"
            for c, v in audit["categories"].items()
        ]
        out.append(
            f"\n*Outscores a pass*: how often a case scores above one of the set's {audit['genuine_passes']} "
            "whole-rubric passes (ties count half). GRPO learns from the ranking within a group, so a category "
            "that outscores real answers is a reward hack waiting to happen, whatever the threshold."
        )
        out += [f"\n![audit]({charts['audit']})"] if "audit" in charts else []
    if "cross_judge" in s:
        cross = s["cross_judge"]
        own = cross["second_vs_labels"]
        out += [
            "",
            "## Second judge",
            "",
            f"`{cross.get('identity')}` gave the same verdict on "
            f"{_f(cross['agreement'])} of {cross['n']} items (κ {_f(cross['kappa'])}, Spearman's ρ of the scores "
            f"{_f(cross.get('spearman'))}{_ci(cross.get('spearman_ci'))}); against the labels: "
            f"agreement {_f(own['agreement'])}{_ci(own['agreement_ci'])}, κ {_f(own['kappa'])}, AUC {_f(own['auc'])}.",
        ]
    if "jury_members" in s:
        out += _jury_section(s)
    out += [
        "",
        "## Cost and speed (main pass)",
        "",
        f"{judge['requests']} requests ({judge['request_failures']} failed), {judge['tokens_in']} tokens in, "
        f"{judge['tokens_out']} out ({judge.get('reasoning_tokens', 0)} of them reasoning); "
        f"latency p50 {_f(judge['latency_p50_s'], 2)} s, p95 {_f(judge['latency_p95_s'], 2)} s; "
        f"{_f(judge['judgements_per_s'], 2)} judgements/s; estimated cost per 1,000 judgements "
        f"{_f(judge['cost_per_1000_judgements'], 4)} (prices.* per million tokens).",
    ]
    return out


# The figures the jury table sets side by side: summary.json key -> column name.
HEADLINE_NAMES = {
    "agreement": "agreement",
    "kappa": "κ",
    "auc": "AUC",
    "accuracy": "accuracy",
    "swap_consistency": "swap consistency",
    "parse_failure_rate": "parse failures",
    "max_false_positive_rate": "worst audit FPR",
}


def _jury_section(s: Mapping[str, Any]) -> list[str]:
    """The jury beside each of its members alone (each member's full report: ``members/<name>/report.md``)."""
    rows = {**s["jury_members"], "**jury**": {key: s.get(key) for key in HEADLINE_NAMES}}
    keys = [k for k in HEADLINE_NAMES if any(v.get(k) is not None for v in rows.values())]
    out = ["", "## Jury and its members", "", "| judge | " + " | ".join(HEADLINE_NAMES[k] for k in keys) + " |"]
    out.append("|" + "---|" * (len(keys) + 1))
    out += [f"| {name} | " + " | ".join(_f(v.get(k)) for k in keys) + " |" for name, v in rows.items()]
    out.append(
        "\nEach member alone graded the same items with the same reward (its report: `members/<name>/report.md`). "
        "Members of one model are not independent judges: they share its blind spots."
    )
    return out


def terminal_summary(s: Mapping[str, Any], out_dir: Path) -> str:
    """One screen: the verdict, the headline numbers, the worst groups and audit categories, the files."""
    judge, pairs = s["judge"], s["set_kind"] == "pairwise"
    lines = [
        f"judge {judge.get('identity', '?')} on {s['labelled']}, {_split_note(s).replace('`', '')}: "
        f"{s['n']} {_kind_items(s)}"
    ]
    if s["set_kind"] == "listwise":
        lines.append(
            f"  Kendall's tau {_f(s['kendall_tau'])}{_ci(s['kendall_tau_ci'])} (word count {_f(s['word_count_tau'])})"
            f"   top-1 {_f(s['top1_accuracy'])}   orders agree (tau) {_f(s['order_agreement'])}   "
            f"parse failures {_f(s['parse_failure_rate'])}"
        )
        lines += [f"  {_verdict_line(s)}", f"  report: {out_dir / 'report.md'}"]
        return "\n".join(lines)
    lines.append(
        f"  {'accuracy' if pairs else 'agreement'} {_f(s['agreement'])}{_ci(s['agreement_ci'])}   "
        f"kappa {_f(s['kappa'])}{_ci(s['kappa_ci'])}   AUC {_f(s['auc'])} (word count {_f(s.get('word_count_auc'))})   "
        f"parse failures {_f(s['parse_failure_rate'])}"
    )
    if best := s.get("best_threshold"):
        lines.append(
            f"  best threshold on this set {best['threshold']:.3f}: agreement {best['agreement']:.3f} (in-sample)"
        )
    if pairs:
        lines.append(f"  swap consistency {_f(s['swap_consistency'])}   ties {_f(s['tie_rate'])}")
    for name, groups in s["breakdowns"].items():
        shown = sorted(groups.items(), key=lambda kv: (kv[1]["agreement"] is None, kv[1]["agreement"] or 0.0))[:6]
        lines.append(
            f"  by {name}: "
            + ", ".join(
                f"{g} {_f(v['agreement'], 2)} AUC {_f(v['auc'], 2)}/{_f(v.get('word_count_auc'), 2)} (n={v['n']})"
                for g, v in shown
            )
        )
    rep = s.get("repeat_stability") or {}
    lines.append(f"  repeat stability: {rep.get('skipped') or _f(rep.get('stability'))}")
    if "audit" in s:
        cats = s["audit"]["categories"].items()
        audit = ", ".join(f"{c} {_f(v['false_positive_rate'], 2)}/{_f(v['outscores_passes'], 2)}" for c, v in cats)
        lines.append(f"  audit false-positive rate/outscores a pass: {audit}")
    if "cross_judge" in s:
        lines.append(
            f"  second judge agrees on {_f(s['cross_judge']['agreement'])} (kappa {_f(s['cross_judge']['kappa'])})"
        )
    for name, member in (s.get("jury_members") or {}).items():
        lines.append(
            f"  member {name} alone: agreement {_f(member['agreement'])}, kappa {_f(member['kappa'])}, "
            f"AUC {_f(member['auc'])}, parse failures {_f(member['parse_failure_rate'])}"
        )
    lines.append(
        f"  latency p50/p95 {_f(judge['latency_p50_s'], 2)}/{_f(judge['latency_p95_s'], 2)} s, "
        f"{_f(judge['judgements_per_s'], 2)} judgements/s, cost/1000 {_f(judge['cost_per_1000_judgements'], 4)}"
    )
    lines += [f"  {_verdict_line(s)}", f"  report: {out_dir / 'report.md'}"]
    return "\n".join(lines)
