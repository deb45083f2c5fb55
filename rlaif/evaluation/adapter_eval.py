"""``python -m rlaif.evaluate``'s pipeline after the plan (:mod:`rlaif.evaluation.adapter_plan`): both sides
answer every held-out prompt -> every judge grades every answer with the training reward and decides each
pair -> per-signal paired differences (:mod:`rlaif.evaluation.adapter_signals`) -> the files
(:mod:`rlaif.evaluation.adapter_outputs`).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from rlaif.errors import plain
from rlaif.evaluation import adapter_signals
from rlaif.evaluation.adapter_outputs import write_outputs
from rlaif.evaluation.adapter_plan import PairOutcome, Panel, Plan
from rlaif.evaluation.baseline import generate
from rlaif.evaluation.second_opinion import agreement_with
from rlaif.evaluation.stats import swap_consistency, wilson_interval
from rlaif.reporting.model_card import record_evaluation
from rlaif.rewards.capabilities import grade_rows
from rlaif.rewards.conversation import question_text, reference_text
from rlaif.rewards.grades import Grade
from rlaif.rewards.orders import outcome
from rlaif.rewards.verdicts.parsing import VerdictError
from rlaif.runs.progress import progress


def answer_all(plan: Plan, cfg: DictConfig) -> dict[str, list[str]]:
    """Both sides' answers to every eval prompt, in batches: the adapter, then the baseline adapter or the
    base model (the same weights with the adapter switched off)."""
    prompts = list(plan.rows["prompt"])
    gen = cfg.generation

    def run(bar: Any) -> list[str]:
        answers: list[str] = []
        for start in range(0, len(prompts), gen.batch_size):
            batch = prompts[start : start + gen.batch_size]
            answers += generate(plan.model, plan.tokenizer, batch, gen.max_new_tokens, gen.temperature, cfg.seed)
            bar.update(len(batch))
        return answers

    with progress(2 * len(prompts), "answering (adapter, then baseline)", unit="answer") as bar:
        plan.model.set_adapter("adapter")
        adapter_answers = run(bar)
        if cfg.baseline is not None:
            plan.model.set_adapter("baseline")
            return {"adapter": adapter_answers, "baseline": run(bar)}
        with plan.model.disable_adapter():
            return {"adapter": adapter_answers, "baseline": run(bar)}


async def decide(panel: Panel, question: str, answer: str, opponent: str, reference: str | None) -> PairOutcome:
    """The adapter's ``answer`` against the baseline's ``opponent``, judged in both orders."""
    if answer == opponent:
        return PairOutcome("tie", identical=True)  # nothing to judge, and no judge call to pay for
    try:
        as_a, as_b = await panel.pairwise.judge_orders(question, answer, opponent, reference)
    except VerdictError as exc:
        return PairOutcome("failure", error=str(exc))
    # A win or a loss needs both orders to agree; otherwise position, not quality, decided: a tie.
    return PairOutcome(outcome(as_a, as_b), (as_a, as_b))


def decide_by_rubric(adapter: Grade, baseline: Grade, identical: bool) -> PairOutcome:
    """The pair decided by the rubric scores the training reward gives: the higher score wins."""
    if identical:
        return PairOutcome("tie", identical=True)
    if adapter.score is None or baseline.score is None:
        return PairOutcome("failure", error=adapter.error or baseline.error)
    if adapter.score == baseline.score:
        return PairOutcome("tie")
    return PairOutcome("win" if adapter.score > baseline.score else "loss")


async def judge_panel(
    panel: Panel, rows: Any, answers: dict[str, list[str]], show_reference: bool, by: str = "pairwise"
) -> None:
    """Fill the panel's rubric grades (per side) and verdicts (one per prompt): from the pairwise judge in
    both orders, or (``by="rubric"``) from the two grades, all requests at once."""
    prompts = list(rows["prompt"])
    refs = list(rows["reference_answer"])
    extras = list(rows["extra"])  # a row's own rubric (reward=row_rubric) reaches the reward through these
    grading = grade_rows(panel.reward, prompts * 2, answers["adapter"] + answers["baseline"], refs * 2, extras * 2)
    if by == "rubric":
        grades = await grading
        n = len(prompts)
        sides = zip(answers["adapter"], answers["baseline"], strict=True)
        outcomes = [decide_by_rubric(grades[k], grades[n + k], a == b) for k, (a, b) in enumerate(sides)]
    else:
        questions = [question_text(p) for p in prompts]
        shown = [reference_text(r) if show_reference else None for r in refs]
        pairs = zip(questions, answers["adapter"], answers["baseline"], shown, strict=True)
        decisions = asyncio.gather(*(decide(panel, q, a, b, r) for q, a, b, r in pairs))
        outcomes, grades = await asyncio.gather(decisions, grading)
    panel.outcomes = list(outcomes)
    panel.grades = {"adapter": grades[: len(prompts)], "baseline": grades[len(prompts) :]}


def tally(panel: Panel, level: float, trained: bool) -> dict[str, Any]:
    """The panel's counts, win rate over decided pairs with its Wilson interval, and mean reward scores."""
    counts = Counter(v.outcome for v in panel.outcomes)
    wins, losses = counts["win"], counts["loss"]
    decided = wins + losses
    interval = wilson_interval(wins, decided, level) if decided else None
    reward: dict[str, Any] = {}
    for side, grades in panel.grades.items():
        scores = [g.score for g in grades if g.score is not None]
        reward[side] = {"mean": sum(scores) / len(scores) if scores else None, "failures": len(grades) - len(scores)}
    return {
        "judge": panel.judge.identity,
        "trained_the_policy": trained,
        "n": len(panel.outcomes),
        "wins": wins,
        "ties": counts["tie"],
        "losses": losses,
        "failures": counts["failure"],
        "identical": sum(v.identical for v in panel.outcomes),
        "win_rate_decided": wins / decided if decided else None,
        "win_rate_interval": list(interval) if interval else None,
        "interval_level": level,
        "swap_consistency": swap_consistency([v.orders for v in panel.outcomes if v.orders is not None]),
        "reward": reward,
        "reward_note": panel.reward_note,
    }


def training_judge(adapter: Path) -> str | None:
    """The judge that trained the adapter, from its run's ``run_summary.json`` (None when unknown)."""
    summary = adapter.parent / "run_summary.json"
    if not summary.is_file():
        return None
    judge = json.loads(summary.read_text()).get("judge")
    return str(judge) if judge else None


def evaluate(plan: Plan, cfg: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Answer, judge, and write the outputs; returns the summary."""
    answers = answer_all(plan, cfg)
    with progress(len(plan.panels), "judging both sides", unit="judge") as bar:
        for panel in plan.panels:
            asyncio.run(judge_panel(panel, plan.rows, answers, cfg.show_reference, cfg.decide))
            bar.update(1)
    trained_by = training_judge(Path(str(cfg.adapter)).expanduser())

    def trained(panel: Panel) -> bool:  # unknown (no run_summary.json): the configured judge is assumed
        return panel.judge.identity == trained_by if trained_by else panel.role == "judge"

    tallies = {p.role: tally(p, cfg.interval_level, trained(p)) for p in plan.panels}
    signals = adapter_signals.measures(
        plan.rows["prompt"], plan.rows["reference_answer"], answers, plan.panels[0].reward.checks
    )
    training = next((p for p in plan.panels if trained(p)), None)
    trainer = training.judge if training else None
    notes = {
        p.role: "the judge that trained the policy" if trained(p) else adapter_signals.independence(p.judge, trainer)
        for p in plan.panels
    }
    for panel in plan.panels:
        scores = {side: [g.score for g in grades] for side, grades in panel.grades.items()}
        name = "reward" if panel.role == "judge" else panel.role
        signals.append(adapter_signals.Signal(name, "judge", scores, trained(panel), notes[panel.role]))
    summary: dict[str, Any] = {
        "adapter": str(cfg.adapter),
        "baseline": None if cfg.baseline is None else str(cfg.baseline),
        "policy": str(cfg.policy.name_or_path),
        "eval_data": plain(cfg.data),
        "generation": plain(cfg.generation),
        "training_judge": trained_by,
        "training_reward": str(getattr(plan.panels[0].reward, "__name__", cfg.reward.get("name"))),
        "decided_by": cfg.decide,
        # The evidence, independent signals first: paired differences adapter - baseline per prompt.
        "signals": adapter_signals.summarise(signals, cfg.interval_level, cfg.bootstrap.resamples, cfg.seed),
        "independent_judges": sum(not trained(p) and notes[p.role] is None for p in plan.panels),
        **tallies["judge"],
        "judges": {p.role.removeprefix("judges."): tallies[p.role] for p in plan.panels[1:]},
        # Each judge under judges.NAME as a second opinion on the training judge, on both sides' answers.
        "second_opinions": {
            p.role.removeprefix("judges."): _second_opinion(plan.panels[0], p, cfg) for p in plan.panels[1:]
        },
        "warnings": plan.warnings,
    }
    items = [_item(plan, answers, k) for k in range(len(answers["adapter"]))]
    write_outputs(run_dir, summary, items, examples=cfg.examples)
    record_evaluation(Path(str(cfg.adapter)).expanduser(), summary, run_dir / "report.html")  # the model card
    return summary


def _second_opinion(training: Panel, other: Panel, cfg: DictConfig) -> dict[str, Any]:
    """:func:`~rlaif.evaluation.second_opinion.agreement_with` of ``other``'s reward scores against the training
    judge's, over every answer of both sides (pass at 0.5), with a bootstrap interval over the answers (seeded with
    ``second_opinions.NAME.seed``, else the top-level ``seed``)."""
    scores = [[g.score for side in ("adapter", "baseline") for g in panel.grades[side]] for panel in (training, other)]
    agreed = agreement_with(*scores, resamples=cfg.bootstrap.resamples, seed=other.seed, level=cfg.interval_level)
    return agreed.as_dict()


def _item(plan: Plan, answers: dict[str, list[str]], k: int) -> dict[str, Any]:
    row = plan.rows[k]
    item: dict[str, Any] = {
        "id": row["id"],
        "question": question_text(row["prompt"]),
        "reference": reference_text(row["reference_answer"]),
        "adapter_answer": answers["adapter"][k],
        "baseline_answer": answers["baseline"][k],
    }
    for panel in plan.panels:
        verdict = panel.outcomes[k]
        item[panel.role] = {
            "judge": panel.judge.identity,
            "verdict": verdict.outcome,
            "p_adapter_as_a": verdict.orders[0] if verdict.orders else None,
            "p_adapter_as_b": verdict.orders[1] if verdict.orders else None,
            "identical": verdict.identical,
            "error": verdict.error,
            "reward": {side: grades[k].score for side, grades in panel.grades.items()},
            "reward_rationale": {side: grades[k].rationale() for side, grades in panel.grades.items()},
        }
    return item
