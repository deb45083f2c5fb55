"""Before training: how does the base policy already score? (AWS's advice for RFT, made a step of the run.)

A sample of training prompts is answered by the base policy (no adapter yet) the way GRPO will sample
(same temperature and completion length), and graded by the run's own reward and judge. If nearly all
answers already pass, RFT has little to teach; if almost none do, the judge gives too little signal to
learn from. Either way the run says so before spending its budget, records ``baseline.json`` in the
run folder, and the reward curve starts from the baseline.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rlaif.rewards.capabilities import GradesAnswers, RanksWithinGroups, grade_rows
from rlaif.runs.progress import progress

log = logging.getLogger(__name__)

HIGH_PASS_RATE = 0.95  # above: RFT unlikely to help
LOW_PASS_RATE = 0.05  # below: too little signal
PASS_SCORE = 0.5  # an answer "passes" at this score or above (soft scores are P(pass)-weighted)


def run_baseline(
    settings: Mapping[str, Any],
    model: Any,
    tokenizer: Any,
    reward: Any,
    dataset: Any,
    run_dir: Path,
    args: Any,
    seed: int,
) -> dict[str, Any] | None:
    """``python -m rlaif.train``'s baseline step: ``baseline.enabled/prompts`` with GRPO's own sampling
    (``args``: completion length, temperature); the judge's metrics restart after it, so the first step's
    count only that step's requests."""
    if not settings.get("enabled", True):
        return None
    record = baseline_check(
        model,
        tokenizer,
        reward,
        dataset,
        run_dir / "baseline.json",
        prompts=int(settings.get("prompts", 8)),
        max_new_tokens=args.max_completion_length,
        temperature=args.temperature,
        seed=seed,
    )
    reward.judge.metrics.drain()
    return record


def baseline_check(
    model: Any,
    tokenizer: Any,
    reward: Any,
    dataset: Any,
    path: Path,
    *,
    prompts: int = 8,
    max_new_tokens: int = 40,
    temperature: float = 1.0,
    seed: int = 0,
) -> dict[str, Any] | None:
    """Score the base policy on ``prompts`` training rows; write and return the record (None if skipped).

    Skipped when ``path`` exists (a resumed run keeps its first baseline) or the reward cannot grade
    outside TRL (it has no ``grade`` method).
    """
    if path.is_file():
        return None
    if not isinstance(reward, GradesAnswers):
        log.info("baseline check skipped: reward %s has no grade() method", type(reward).__name__)
        return None
    if isinstance(reward, RanksWithinGroups) and reward.ranks_within_group:  # a rank needs two answers to a prompt
        log.info("baseline check skipped: reward.score=rank ranks answers within their group; one answer per prompt")
        return None
    rows = dataset.shuffle(seed=seed).select(range(min(prompts, len(dataset))))
    with progress(2, "baseline check (answer, judge)", unit="stage") as bar:
        answers = generate(model, tokenizer, list(rows["prompt"]), max_new_tokens, temperature, seed)
        bar.update(1)
        grading = grade_rows(reward, list(rows["prompt"]), answers, list(rows["reference_answer"]), list(rows["extra"]))
        grades = asyncio.run(grading)  # each row's own rubric (reward=row_rubric) reaches the reward
        bar.update(1)
    scores = [g.score for g in grades if g.score is not None and math.isfinite(g.score)]
    record: dict[str, Any] = {
        "prompts": len(answers),
        "scored": len(scores),
        "failures": len(answers) - len(scores),
        "mean_reward": sum(scores) / len(scores) if scores else None,
        "pass_rate": sum(s >= PASS_SCORE for s in scores) / len(scores) if scores else None,
        "pass_score": PASS_SCORE,
        "warning": None,
        "answers": [
            {"id": i, "answer": a, "score": g.score} for i, a, g in zip(rows["id"], answers, grades, strict=True)
        ],
    }
    record["warning"] = _warning(record["pass_rate"])
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False))
    log.info(
        "baseline: the base policy scores %s on %d prompts (pass rate %s)",
        _fmt(record["mean_reward"]),
        record["prompts"],
        _fmt(record["pass_rate"]),
    )
    if record["warning"]:
        log.warning("baseline: %s", record["warning"])
    return record


def _warning(pass_rate: float | None) -> str | None:
    if pass_rate is None:
        return "no baseline answer could be scored: check the judge before training"
    if pass_rate > HIGH_PASS_RATE:
        return (
            f"{pass_rate:.0%} of the base policy's answers already pass (> {HIGH_PASS_RATE:.0%}): RFT is unlikely "
            "to help; use harder prompts or a stricter rubric"
        )
    if pass_rate < LOW_PASS_RATE:
        return (
            f"only {pass_rate:.0%} of the base policy's answers pass (< {LOW_PASS_RATE:.0%}): too little signal "
            "to learn from; use easier prompts, a softer rubric or a stronger base model"
        )
    return None


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def generate(
    model: Any, tokenizer: Any, prompts: list[Any], max_new_tokens: int, temperature: float, seed: int
) -> list[str]:
    """One sampled answer per chat prompt, in one batch (left padding, as for any decoder-only batch)."""
    import torch

    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        inputs = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    finally:
        tokenizer.padding_side = side
    sample = temperature > 0
    with seeded(seed), torch.inference_mode():  # training's sampling must not depend on the baseline
        output = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=sample,
            temperature=temperature if sample else None,
            top_p=None,
            top_k=None,
            pad_token_id=tokenizer.pad_token_id,
        )
    new_tokens = output[:, inputs["input_ids"].shape[1] :]
    return [tokenizer.decode(t, skip_special_tokens=True).strip() for t in new_tokens]


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's CPU and CUDA generators for the block, then give the caller back its own states.

    ``torch.manual_seed`` reseeds every CUDA device, and sampling on a GPU draws from the CUDA generator:
    restoring the CPU state alone would leave the caller's GPU sampling changed by the seed.
    """
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices, device_type="cuda"):
        torch.manual_seed(seed)
        yield
