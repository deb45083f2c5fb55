"""``python -m rlaif.evaluate adapter=RUN/adapter``: a trained adapter against its base model (or another
adapter, ``baseline=OTHER/adapter``) on held-out prompts training never saw.

Reads top to bottom: eval split (``data.eval_path`` or ``data.eval_fraction``) -> judges (each proven
with one real request): the training judge (``judge``) and any others (``+judge@judges.NAME=...``) ->
policy + adapter(s) -> both sides answer every prompt (greedy by default) -> every judge grades every
answer with the training reward as configured (``reward``: its gates and checks included) -> per signal
(words, on-topic, language, the reward's checks, each judge's reward) the paired difference adapter −
baseline with a bootstrap interval, independent evidence first and the training judge last
(:mod:`rlaif.evaluate_signals`) -> per judge, each pair goes to the higher reward (``decide=rubric``) or
to the pairwise judge in both orders (``decide=pairwise``: win only when both orders agree) ->
``summary.json``, ``items.jsonl``, ``report.md`` + ``win_loss.png`` in the run folder.
Exit codes as ``rlaif.train``: 0 done, 2 bad input (nothing of this invocation is left behind), 1
anything else (``FAILED`` in the run folder).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from rlaif import evaluate_signals
from rlaif.baseline import generate
from rlaif.config_checks import ConfigError, check_number, check_references
from rlaif.data import load_eval_prompts
from rlaif.evaluate_report import terminal_summary, write_outputs
from rlaif.judge_stats import swap_consistency, wilson_interval
from rlaif.judges.base import Judge
from rlaif.judges.preflight import check_judge
from rlaif.models import load_causal_lm, load_tokenizer
from rlaif.rewards.conversation import question_text, reference_text
from rlaif.rewards.parsing import VerdictError
from rlaif.rewards.report import Grade
from rlaif.rewards.rubric import RubricReward
from rlaif.run_folder import judge_policy, mark_failed
from rlaif.setup_errors import setup_failed

log = logging.getLogger("rlaif.evaluate")

_GENERATION_MINIMA = (("batch_size", 1), ("max_new_tokens", 1), ("temperature", 0))


@dataclass
class Verdict:
    """One prompt's pairwise decision: ``outcome`` is win / tie / loss (for the adapter) or failure."""

    outcome: str
    orders: tuple[float, float] | None = None  # P(adapter better) shown as A, shown as B
    error: str | None = None
    identical: bool = False


@dataclass
class Panel:
    """A judge with the pairwise reward that decides (None: the reward's scores decide) and the training
    reward, with this judge, that scores each answer."""

    role: str  # "judge" (the training judge) or "judges.NAME"
    judge: Judge
    pairwise: Any
    reward: Any  # grades one answer: the training reward, or the plain rubric when it cannot (reward_note)
    verdicts: list[Verdict] = field(default_factory=list)
    grades: dict[str, list[Grade]] = field(default_factory=dict)  # side -> one grade per prompt
    reward_note: str | None = None


@dataclass
class Plan:
    """Everything an evaluation needs, built (and checked) before any answer is generated."""

    rows: Any
    model: Any
    tokenizer: Any
    panels: list[Panel]
    warnings: list[str]

    def close(self) -> None:
        for panel in self.panels:
            panel.judge.close()


def check_adapter(path: Any, key: str) -> Path:
    """The adapter folder named by config ``key``; :class:`ConfigError` unless it holds a PEFT adapter."""
    folder = Path(str(path)).expanduser()
    if not (folder / "adapter_config.json").is_file():
        what = "does not exist" if not folder.exists() else "has no adapter_config.json"
        raise ConfigError(f"{key}: {folder} {what}; pass the adapter/ folder of a finished run ({key}=RUN/adapter)")
    return folder


def prepare(cfg: DictConfig, run_dir: Path) -> Plan:
    """Check the input, build and probe the judges, load the policy with its adapter(s)."""
    adapter = check_adapter(cfg.adapter, "adapter")
    baseline = check_adapter(cfg.baseline, "baseline") if cfg.baseline is not None else None
    rows = load_eval_prompts(**cfg.data)
    check_settings(cfg)
    warnings = training_mismatches(cfg, adapter)
    panels: list[Panel] = []
    try:
        for role, judge_cfg in [("judge", cfg.judge), *((f"judges.{n}", c) for n, c in (cfg.judges or {}).items())]:
            panels.append(build_panel(cfg, role, judge_cfg, run_dir))
        check_references(panels[0].reward, rows, str(cfg.data.get("eval_path") or cfg.data.path))
        tokenizer = load_tokenizer(cfg.policy.name_or_path)
        model = load_policy(cfg, adapter, baseline)
    except BaseException:
        for panel in panels:
            panel.judge.close()  # a server a judge launched must not outlive an evaluation that never started
        raise
    return Plan(rows, model, tokenizer, panels, warnings)


def build_panel(cfg: DictConfig, role: str, judge_cfg: DictConfig, run_dir: Path) -> Panel:
    """``judge_cfg`` as a judge (cache in the run folder), with the training reward and the pairwise
    reward built around it."""
    cache_home = run_dir if role == "judge" else run_dir / role
    judge = instantiate(judge_cfg, policy=judge_policy(judge_cfg, cache_home), _convert_="all")
    try:
        pairwise = instantiate(cfg.pairwise, judge=judge, _convert_="all") if cfg.decide == "pairwise" else None
        if pairwise is not None and not hasattr(pairwise, "judge_orders"):
            name = type(pairwise).__name__
            raise ConfigError(f"pairwise: {name} cannot compare two answers; use reward@pairwise=preference")
        reward, note = instantiate(cfg.reward, judge=judge, _convert_="all"), None
        if not hasattr(reward, "grade"):  # a preference or checks-only reward scores no single answer alone
            note = f"reward {reward.__name__!r} grades no single answer: graded with rubric {cfg.rubric.name!r}"
            reward = RubricReward(judge, rubric=_plain(cfg.rubric), mode=cfg.rubric_mode)
        if cfg.check_judge:
            check_judge(judge)
    except BaseException:
        judge.close()
        raise
    return Panel(role, judge, pairwise, reward, reward_note=note)


def load_policy(cfg: DictConfig, adapter: Path, baseline: Path | None) -> Any:
    """The base policy with the adapter attached as ``adapter`` (and ``baseline`` when given), on a GPU if any."""
    import torch
    from peft import PeftModel

    base = load_causal_lm(cfg.policy.name_or_path, dtype=cfg.policy.dtype)
    model = PeftModel.from_pretrained(base, str(adapter), adapter_name="adapter")
    if baseline is not None:
        model.load_adapter(str(baseline), adapter_name="baseline")
    if torch.cuda.is_available():
        model = model.to("cuda")
    return model.eval()


def training_mismatches(cfg: DictConfig, adapter: Path) -> list[str]:
    """Warnings when the adapter's own run (its saved ``.hydra/config.yaml``) used another base policy or
    data split: the comparison would then not be adapter vs its base, or not on prompts it never saw."""
    saved = adapter.parent / ".hydra" / "config.yaml"
    if not saved.is_file():
        return []
    trained = OmegaConf.load(saved)
    assert isinstance(trained, DictConfig)  # Hydra saves the composed config, a mapping
    warnings = []
    for key in ("policy.name_or_path", "data.path", "data.eval_path", "data.eval_fraction"):
        group, name = key.split(".")
        if name in (trained.get(group) or {}) and trained[group][name] != cfg[group].get(name):
            warnings.append(
                f"the adapter's run used {key}={trained[group][name]}, this evaluation {key}={cfg[group].get(name)}: "
                "pass the training run's settings so the base is its base and the held-out split the one it skipped"
            )
    for warning in warnings:
        log.warning("rlaif: %s", warning)
    return warnings


def check_settings(cfg: DictConfig) -> None:
    """Settings a user may mistype, named before any model is loaded or judge asked."""
    numbers = [(f"generation.{k}", cfg.generation.get(k), low) for k, low in _GENERATION_MINIMA]
    numbers += [("examples", cfg.examples, 0), ("bootstrap.resamples", cfg.bootstrap.resamples, 0)]
    for key, value, low in numbers:
        check_number(value, key, low)
    level = cfg.interval_level
    if isinstance(level, bool) or not isinstance(level, float) or not 0 < level < 1:
        raise ConfigError(f"interval_level: expected a number between 0 and 1 (exclusive), got {level!r}")
    if cfg.rubric_mode not in ("logprob", "json"):
        raise ConfigError(f"rubric_mode: expected logprob or json, got {cfg.rubric_mode!r}")
    if cfg.decide not in ("pairwise", "rubric"):
        raise ConfigError(f"decide: expected pairwise or rubric, got {cfg.decide!r}")


def answer_all(plan: Plan, cfg: DictConfig) -> dict[str, list[str]]:
    """Both sides' answers to every eval prompt, in batches: the adapter, then the baseline adapter or the
    base model (the same weights with the adapter switched off)."""
    prompts = list(plan.rows["prompt"])
    gen = cfg.generation

    def run() -> list[str]:
        answers: list[str] = []
        for start in range(0, len(prompts), gen.batch_size):
            batch = prompts[start : start + gen.batch_size]
            answers += generate(plan.model, plan.tokenizer, batch, gen.max_new_tokens, gen.temperature, cfg.seed)
        return answers

    plan.model.set_adapter("adapter")
    adapter_answers = run()
    if cfg.baseline is not None:
        plan.model.set_adapter("baseline")
        return {"adapter": adapter_answers, "baseline": run()}
    with plan.model.disable_adapter():
        return {"adapter": adapter_answers, "baseline": run()}


async def decide(panel: Panel, question: str, answer: str, opponent: str, reference: str | None) -> Verdict:
    """The adapter's ``answer`` against the baseline's ``opponent``, judged in both orders."""
    if answer == opponent:
        return Verdict("tie", identical=True)  # nothing to judge, and no judge call to pay for
    try:
        as_a, as_b = await panel.pairwise.judge_orders(question, answer, opponent, reference)
    except VerdictError as exc:
        return Verdict("failure", error=str(exc))
    if as_a > 0.5 and as_b > 0.5:
        return Verdict("win", (as_a, as_b))
    if as_a < 0.5 and as_b < 0.5:
        return Verdict("loss", (as_a, as_b))
    return Verdict("tie", (as_a, as_b))  # the orders disagree: position, not quality, decided


def decide_by_rubric(adapter: Grade, baseline: Grade, identical: bool) -> Verdict:
    """The pair decided by the rubric scores the training reward gives: the higher score wins."""
    if identical:
        return Verdict("tie", identical=True)
    if adapter.score is None or baseline.score is None:
        return Verdict("failure", error=adapter.error or baseline.error)
    if adapter.score == baseline.score:
        return Verdict("tie")
    return Verdict("win" if adapter.score > baseline.score else "loss")


async def judge_panel(
    panel: Panel, rows: Any, answers: dict[str, list[str]], show_reference: bool, by: str = "pairwise"
) -> None:
    """Fill the panel's rubric grades (per side) and verdicts (one per prompt): from the pairwise judge in
    both orders, or (``by="rubric"``) from the two grades, all requests at once."""
    prompts = list(rows["prompt"])
    refs = list(rows["reference_answer"])
    grading = panel.reward.grade(prompts * 2, answers["adapter"] + answers["baseline"], refs * 2)
    if by == "rubric":
        grades = await grading
        n = len(prompts)
        sides = zip(answers["adapter"], answers["baseline"], strict=True)
        verdicts = [decide_by_rubric(grades[k], grades[n + k], a == b) for k, (a, b) in enumerate(sides)]
    else:
        questions = [question_text(p) for p in prompts]
        shown = [reference_text(r) if show_reference else None for r in refs]
        pairs = zip(questions, answers["adapter"], answers["baseline"], shown, strict=True)
        decisions = asyncio.gather(*(decide(panel, q, a, b, r) for q, a, b, r in pairs))
        verdicts, grades = await asyncio.gather(decisions, grading)
    panel.verdicts = list(verdicts)
    panel.grades = {"adapter": grades[: len(prompts)], "baseline": grades[len(prompts) :]}


def tally(panel: Panel, level: float, trained: bool) -> dict[str, Any]:
    """The panel's counts, win rate over decided pairs with its Wilson interval, and mean reward scores."""
    counts = Counter(v.outcome for v in panel.verdicts)
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
        "n": len(panel.verdicts),
        "wins": wins,
        "ties": counts["tie"],
        "losses": losses,
        "failures": counts["failure"],
        "identical": sum(v.identical for v in panel.verdicts),
        "win_rate_decided": wins / decided if decided else None,
        "win_rate_interval": list(interval) if interval else None,
        "interval_level": level,
        "swap_consistency": swap_consistency([v.orders for v in panel.verdicts if v.orders is not None]),
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
    for panel in plan.panels:
        asyncio.run(judge_panel(panel, plan.rows, answers, cfg.show_reference, cfg.decide))
    trained_by = training_judge(Path(str(cfg.adapter)).expanduser())

    def trained(panel: Panel) -> bool:  # unknown (no run_summary.json): the configured judge is assumed
        return panel.judge.identity == trained_by if trained_by else panel.role == "judge"

    tallies = {p.role: tally(p, cfg.interval_level, trained(p)) for p in plan.panels}
    signals = evaluate_signals.measures(
        plan.rows["prompt"], plan.rows["reference_answer"], answers, plan.panels[0].reward.checks
    )
    training = next((p for p in plan.panels if trained(p)), None)
    trainer = training.judge if training else None
    notes = {
        p.role: "the judge that trained the policy" if trained(p) else evaluate_signals.independence(p.judge, trainer)
        for p in plan.panels
    }
    for panel in plan.panels:
        scores = {side: [g.score for g in grades] for side, grades in panel.grades.items()}
        name = "reward" if panel.role == "judge" else panel.role
        signals.append(evaluate_signals.Signal(name, "judge", scores, trained(panel), notes[panel.role]))
    summary: dict[str, Any] = {
        "adapter": str(cfg.adapter),
        "baseline": None if cfg.baseline is None else str(cfg.baseline),
        "policy": str(cfg.policy.name_or_path),
        "eval_data": _plain(cfg.data),
        "generation": _plain(cfg.generation),
        "training_judge": trained_by,
        "training_reward": str(getattr(plan.panels[0].reward, "__name__", cfg.reward.get("name"))),
        "decided_by": cfg.decide,
        # The evidence, independent signals first: paired differences adapter - baseline per prompt.
        "signals": evaluate_signals.summarise(signals, cfg.interval_level, cfg.bootstrap.resamples, cfg.seed),
        "independent_judges": sum(not trained(p) and notes[p.role] is None for p in plan.panels),
        **tallies["judge"],
        "judges": {p.role.removeprefix("judges."): tallies[p.role] for p in plan.panels[1:]},
        "warnings": plan.warnings,
    }
    items = [_item(plan, answers, k) for k in range(len(answers["adapter"]))]
    write_outputs(run_dir, summary, items, examples=cfg.examples)
    return summary


def _plain(node: DictConfig) -> dict[str, Any]:
    container = OmegaConf.to_container(node, resolve=True)
    assert isinstance(container, dict)
    return {str(k): v for k, v in container.items()}


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
        verdict = panel.verdicts[k]
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


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        plan = prepare(cfg, run_dir)
    except Exception as exc:
        sys.exit(setup_failed(run_dir, exc, log, "evaluate"))
    try:
        summary = evaluate(plan, cfg, run_dir)
    except BaseException as exc:
        mark_failed(run_dir, exc)
        raise
    finally:
        plan.close()
    for line in terminal_summary(summary, run_dir):
        log.info("%s", line)


if __name__ == "__main__":
    main()
