"""What ``rlaif.evaluate`` leaves in its run folder, and the lines it prints.

- ``summary.json``: ``signals`` (per signal, in report order: the paired difference ``diff`` adapter −
  baseline, ``diff_interval``, ``n``, ``trained_the_policy``); the training judge's counts (``wins``,
  ``ties``, ``losses``, ``failures``), ``win_rate_decided`` with its Wilson interval and mean reward per
  side at the top level, each other judge's under ``judges.NAME``, and its agreement with the training judge
  under ``second_opinions.NAME`` (:mod:`rlaif.evaluation.second_opinion`); the adapter and baseline;
- ``items.jsonl``: one line per prompt, both answers and each judge's verdict with P(adapter better)
  in each order and the reward's rationale;
- ``win_loss.png`` and ``report.md``: the evidence table, the chart, and example pairs with rationales.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rlaif.reporting.html_page import markdown_page

_OUTCOMES = ("wins", "ties", "losses", "failures")
_COLOURS = {"wins": "tab:green", "ties": "tab:gray", "losses": "tab:red", "failures": "black"}
_CELL_CHARS = 400  # a table cell longer than this is cut: the full text is in items.jsonl


def write_outputs(run_dir: Path, summary: dict[str, Any], items: Sequence[dict[str, Any]], examples: int) -> None:
    """Write ``items.jsonl``, ``win_loss.png``, ``report.md``, ``report.html`` and, last, ``summary.json``."""
    with (run_dir / "items.jsonl").open("w", encoding="utf-8") as handle:
        for item in items:
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")
    tallies = panels(summary)
    plot(tallies, run_dir / "win_loss.png")
    (run_dir / "report.md").write_text(report_markdown(summary, items, examples), encoding="utf-8")
    markdown_page(run_dir / "report.md", "rlaif adapter evaluation")  # report.html: one file, the chart embedded
    # Last, as run_summary.json in a training run: its presence means the evaluation finished.
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")


def panels(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each judge's numbers by role: the first judge's are the summary's top level."""
    return {"judge": summary, **{f"judges.{name}": t for name, t in (summary.get("judges") or {}).items()}}


def baseline_label(summary: dict[str, Any]) -> str:
    return "the base model" if summary["baseline"] is None else f"adapter {summary['baseline']}"


def plot(tallies: dict[str, dict[str, Any]], path: Path) -> None:
    """Win / tie / loss / failure bars per judge, and each side's mean reward per judge."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no backend to choose, no display needed

    # Rows by role, not by judge identity: two judges may be the same model with other settings.
    labels = [f"{_role(role)}\nwin rate {_num(t['win_rate_decided'])}" for role, t in tallies.items()]
    rows = list(range(len(tallies)))
    fig = Figure(figsize=(9, 1.6 + 0.9 * len(tallies)))
    left, right = fig.subplots(1, 2, width_ratios=(3, 2))
    start = [0] * len(tallies)
    for outcome in _OUTCOMES:
        counts = [t[outcome] for t in tallies.values()]
        left.barh(rows, counts, left=start, color=_COLOURS[outcome], label=outcome)
        start = [s + c for s, c in zip(start, counts, strict=True)]
    left.set_yticks(rows, labels)
    left.invert_yaxis()
    left.set_xlabel("prompts")
    left.set_title("adapter vs baseline: pairwise verdicts")
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncols=4, fontsize=8)
    height = 0.35
    for k, side in enumerate(("adapter", "baseline")):
        means = [t["reward"][side]["mean"] or 0.0 for t in tallies.values()]
        right.barh([y + (k - 0.5) * height for y in rows], means, height=height, label=side)
    right.set_yticks(rows, [_role(role) for role in tallies])
    right.invert_yaxis()
    right.set_xlim(0, 1)
    right.set_title("mean training reward")
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncols=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def report_markdown(summary: dict[str, Any], items: Sequence[dict[str, Any]], examples: int) -> str:
    """``report.md``: the setup, the results table, warnings and a table of example pairs."""
    data = summary["eval_data"]
    split = data["eval_path"] if data.get("eval_path") else f"eval_fraction={data['eval_fraction']} of {data['path']}"
    gen = summary["generation"]
    level = round(100 * summary["interval_level"])
    lines = [
        f"# Evaluation: adapter {summary['adapter']} vs {baseline_label(summary)}",
        "",
        f"{summary['n']} held-out prompts ({split}); policy {summary['policy']}; answers with temperature "
        f"{gen['temperature']} and at most {gen['max_new_tokens']} new tokens; training reward "
        f"`{summary['training_reward']}`.",
        "",
        "## The evidence, independent first",
        "",
        *evidence_table(summary),
        "",
        "## Pairs won and lost",
        "",
        _DECIDED[summary["decided_by"]],
        "",
        "![verdicts and rewards](win_loss.png)",
        "",
        f"| | judge | wins | ties (identical) | losses | failures | win rate, decided | {level}% interval "
        "| swap consistency | reward: adapter | reward: baseline |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_result_row(role, t) for role, t in panels(summary).items()]
    if summary.get("warnings"):
        lines += ["", "Warnings:", *(f"- {w}" for w in summary["warnings"])]
    lines += ["", "## Example pairs", "", *example_table(items, examples), ""]
    return "\n".join(lines)


def _result_row(role: str, t: dict[str, Any]) -> str:
    trained = " (trained the policy)" if t.get("trained_the_policy") else ""
    interval = t["win_rate_interval"]
    cells = [
        _role(role),
        f"`{t['judge']}`{trained}",
        str(t["wins"]),
        f"{t['ties']} ({t['identical']})",
        str(t["losses"]),
        str(t["failures"]),
        _num(t["win_rate_decided"]),
        f"[{interval[0]:.2f}, {interval[1]:.2f}]" if interval else "n/a",
        _num(t["swap_consistency"]),
        _num(t["reward"]["adapter"]["mean"]),
        _num(t["reward"]["baseline"]["mean"]),
    ]
    return "| " + " | ".join(cells) + " |"


_DECIDED = {
    "pairwise": "Each pair is judged in both orders: a win or a loss needs both orders to agree, a tie is a "
    "disagreement or identical answers, a failure is a missing verdict (not a tie).",
    "rubric": "Each pair goes to the answer with the higher training reward from that judge (decide=rubric); "
    "equal scores or identical answers are a tie, a missing score is a failure (not a tie).",
}


def evidence_table(summary: dict[str, Any]) -> list[str]:
    """Per signal: each side's mean, the paired difference with its interval, and whether it trained the
    policy; then what the reader must know about the judges' independence."""
    level = round(100 * summary["interval_level"])
    rows = [
        f"| signal | adapter | baseline | difference (paired) | {level}% interval | n | trained the policy |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in summary["signals"].items():
        interval = s["diff_interval"]
        note = f" ({s['note']})" if s.get("note") else ""
        rows.append(
            f"| {name} | {_num(s['adapter_mean'])} | {_num(s['baseline_mean'])} | {_signed(s['diff'])} | "
            + (f"[{interval[0]:+.2f}, {interval[1]:+.2f}]" if interval else "n/a")
            + f" | {s['n']} | {'**yes**' if s['trained_the_policy'] else 'no'}{_cell(note)} |"
        )
    rows += [
        "",
        "Words, on-topic and language are 1/0 per answer (words: a count); a difference is adapter − baseline on the "
        "same prompt, averaged, its interval a bootstrap over prompts. An interval that excludes 0 is a change.",
    ]
    if not summary.get("independent_judges"):
        rows.append(
            "No judge here is independent of the one that trained the policy, so the only independent evidence "
            "is the deterministic signals. Add one: `+judge@second_opinions.NAME.judge=vllm "
            "second_opinions.NAME.judge.base_url=...`."
        )
    for name, agreed in (summary.get("second_opinions") or {}).items():
        rho, interval = agreed["spearman"], agreed["spearman_ci"]
        rows.append(
            f"Judge `{name}` against the training judge, on all {agreed['n']} answers both scored: same verdict on "
            f"{_num(agreed['agreement'])}, κ {_num(agreed['kappa'])}, Spearman's ρ {_num(rho)}"
            + (f" [{interval[0]:.2f}, {interval[1]:.2f}]." if interval else ".")
        )
    if any("not an independent judge" in (s.get("note") or "") for s in summary["signals"].values()):
        rows.append("A second rubric or persona on the training judge's model shares its blind spots: not independent.")
    if summary.get("training_judge"):
        rows.append(f"The adapter was trained with judge `{summary['training_judge']}` (its run_summary.json).")
    return rows


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.3f}"


def example_table(items: Sequence[dict[str, Any]], examples: int) -> list[str]:
    """Up to ``examples`` pairs, decided ones first (the first judge's verdict), with their rationales."""
    rank = {"win": 0, "loss": 0, "tie": 1, "failure": 2}
    chosen = sorted(items, key=lambda i: 3 if i["judge"]["identical"] else rank[i["judge"]["verdict"]])[:examples]
    rows = ["| id | question | adapter | baseline | verdict | rationale |", "|---|---|---|---|---|---|"]
    for item in chosen:
        judged = [v for role, v in item.items() if role == "judge" or role.startswith("judges.")]
        verdict = " / ".join(j["verdict"] for j in judged)
        rationale = "<br>".join(_rationale(j) for j in judged)
        texts = [item["id"], item["question"], item["adapter_answer"], item["baseline_answer"], verdict]
        rows.append("| " + " | ".join([*(_cell(str(t)) for t in texts), _cell(rationale, cut=False)]) + " |")
    return rows


def _rationale(judged: dict[str, Any]) -> str:
    if judged["identical"]:
        pair = "identical answers: a tie, not judged"
    elif judged["error"]:
        pair = f"no verdict: {judged['error']}"
    elif judged["p_adapter_as_a"] is None:
        pair = "decided by the reward scores"
    else:
        pair = f"P(adapter better) {judged['p_adapter_as_a']:.2f} shown as A, {judged['p_adapter_as_b']:.2f} as B"
    scores = judged["reward"]
    why = judged["reward_rationale"]
    return (
        f"{_short(judged['judge'])}: {pair}; reward adapter {_num(scores['adapter'])} ({why['adapter']}), "
        f"baseline {_num(scores['baseline'])} ({why['baseline']})"
    )


def terminal_summary(summary: dict[str, Any], run_dir: Path) -> list[str]:
    """A few lines for the console: what was compared, each judge's result, where the report is."""
    lines = [
        f"adapter {summary['adapter']} vs {baseline_label(summary)} on {summary['n']} held-out prompts; "
        "paired differences adapter - baseline, independent signals first:"
    ]
    for name, s in summary["signals"].items():
        interval = s["diff_interval"]
        shown = f" [{interval[0]:+.2f}, {interval[1]:+.2f}]" if interval else ""
        trained = "  (trained the policy)" if s["trained_the_policy"] else ""
        sides = f"{_num(s['adapter_mean'])} vs {_num(s['baseline_mean'])}"
        lines.append(f"  {name}: {sides}, {_signed(s['diff'])}{shown}{trained}")
    if not summary.get("independent_judges"):
        lines.append("  no judge independent of the training judge: add +judge@second_opinions.NAME.judge=...")
    for role, t in panels(summary).items():
        interval = t["win_rate_interval"]
        shown = f" [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else ""
        trained = ", trained the policy" if t.get("trained_the_policy") else ""
        lines.append(
            f"{_role(role)} {t['judge']}{trained}: {t['wins']} wins, {t['ties']} ties "
            f"({t['identical']} identical), {t['losses']} losses, {t['failures']} failures; win rate (decided) "
            f"{_num(t['win_rate_decided'])}{shown}; reward {_num(t['reward']['adapter']['mean'])} vs "
            f"{_num(t['reward']['baseline']['mean'])}"
        )
    lines.append(f"report: {run_dir / 'report.md'}")
    return lines


def _role(role: str) -> str:
    return role.replace("_", " ")


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _short(identity: str) -> str:
    return identity if len(identity) <= 40 else identity[:37] + "..."


def _cell(text: str, cut: bool = True) -> str:
    if cut and len(text) > _CELL_CHARS:
        text = text[: _CELL_CHARS - 3] + "..."
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")
