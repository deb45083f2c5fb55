"""A run folder with every file a training run writes, made up, for report tests and benchmarks/report_size.py.

Shapes follow a real run of the default experiment (rubric_on_topic: two criteria, two checks, 8 answers of
about 30 words a step): the lines are what ``RewardLog``, ``StepTimer``, the monitor, the canaries and
``RunRecord`` write, so a report over 500 steps of this weighs what a real 500-step run's would. Steps are TRL's
(the first is 1) in every file, or, with ``old_numbering``, as a folder from before that rule had them: the files
written while a step ran counted from 0, and ``run_info.json`` has no ``step_numbering``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from rlaif.rewards.step_numbers import MARK
from rlaif.runs.judge_totals import attempt_path, write_totals

WORDS = ["the", "water", "warm", "light", "small", "plant", "answer", "question", "simple", "clear", "kind", "short",
         "because", "people", "often", "coffee", "stain", "towel", "mammal", "milk", "leaf", "tea"]  # fmt: skip


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def synthesise_run(
    folder: Path,
    steps: int,
    answers_per_step: int = 8,
    seed: int = 0,
    failed: bool = False,
    old_numbering: bool = False,
) -> Path:
    """Write a run of ``steps`` steps into ``folder``; ``failed``: no summary, a FAILED file instead."""
    rng = random.Random(seed)
    during = 0 if old_numbering else 1  # what the files written while a step runs add to the step's index
    (folder / ".hydra").mkdir(parents=True, exist_ok=True)
    (folder / ".hydra" / "config.yaml").write_text(
        "seed: 0\npolicy: {name_or_path: packaged:smollm2-135m-instruct}\n"
        "judge: {_target_: rlaif.judges.backends.local.LocalJudge, model: packaged:smollm2-135m-instruct}\n"
        "reward: {_target_: rlaif.rewards.rubric.RubricReward}\ngrpo: {max_steps: "
        + str(steps)
        + ", learning_rate: 0.001}\n"
    )
    (folder / ".hydra" / "overrides.yaml").write_text(f"- grpo.max_steps={steps}\n")
    rewards, metrics, timing, monitor = [], [], [], []
    for step in range(steps):
        trend = min(1.0, 0.4 + 0.5 * step / max(1, steps))
        scores: list[float | None] = []
        for k in range(answers_per_step):
            fail = rng.random() < 0.01
            polite, concise = rng.random() * trend * 1.5, rng.random()
            score = None if fail else round(min(1.0, (polite + concise) / 2), 4)
            scores.append(score)
            rewards.append({
                "step": step + during, "reward": "rubric_on_topic", "prompt_id": f"everyday-{k:03d}",
                "prompt": _text(rng, 8)[:-1] + "?", "reference": _text(rng, 12), "completion": _text(rng, 30),
                "score": score, "judged": True,
                "verdicts": {} if fail else {"polite": min(1.0, polite), "concise": concise},
                "rationale": {} if fail else {"polite": f"P(yes)={min(1.0, polite):.2f}", "concise": f"{concise:.2f}"},
                "error": "off-menu reply: P(yes|no) = 0.010" if fail else None,
                "checks": {"non_empty": 1.0, "on_topic": 1.0},
            })  # fmt: skip
        valid = [s for s in scores if s is not None]
        mean = sum(valid) / len(valid)
        std = (sum((s - mean) ** 2 for s in valid) / len(valid)) ** 0.5
        metrics.append({
            "step": step + 1, "time": 1.0e9 + 16 * step, "reward": mean, "reward_std": std, "loss": 0.0,
            "rubric_on_topic/polite/pass_rate": rng.random() * trend, "rubric_on_topic/concise/pass_rate": rng.random(),
            "rubric_on_topic/check/on_topic/pass_rate": 1.0, "judge/requests": 8.0, "judge/failures": 0.0,
            "judge/retries": 0.0, "judge/cache_hits": 0.0, "judge/latency_p50_s": 0.1 + rng.random() / 10,
            "judge/latency_p95_s": 0.3 + rng.random() / 5, "judge/tokens_in": 4000.0, "judge/tokens_out": 16.0,
            "monitor/on_topic": 1.0, "monitor/answer_words": 20.0 + rng.random() * 10, "monitor/alarm": 0.0,
        })  # fmt: skip
        generation, judge, optimisation = 8 + rng.random(), 2 + rng.random(), 5 + rng.random()
        timing.append({
            "step": float(step + 1), "step_s": generation + judge + optimisation, "generation_s": generation,
            "judge_s": judge, "guard_s": 0.0, "optimisation_s": optimisation, "judge_share": judge / 16,
            "rollout_tokens": 256.0, "rollout_tokens_per_s": 30.0, "judge_requests": 16.0, "judge_requests_per_s": 8.0,
        })  # fmt: skip
        monitor.append({"step": step + during, "rollouts": answers_per_step, "reward": mean, "on_topic": 1.0,
                        "alarm": 0.0})  # fmt: skip
    for name, rows in (("rewards", rewards), ("metrics", metrics), ("step_timing", timing), ("monitor", monitor)):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "alarms.jsonl").write_text(json.dumps({
        "source": "monitor", "signal": "answer_words", "step": steps // 2 + during,
        "message": "answers grew 3.1 sd in 8 steps", "numbers": {"z": 3.1},
    }) + "\n")  # fmt: skip
    (folder / "baseline.json").write_text(json.dumps({"prompts": 8, "mean_reward": 0.4, "scored": 8, "failures": 0}))
    info = {"started_at": 1.0e9 - 60, "versions": {"python": "3.11.7"}, **({} if old_numbering else MARK)}
    (folder / "run_info.json").write_text(json.dumps(info))
    # Two training processes, 8 judge requests a step each: what rlaif keeps in judge_totals/ as the run goes.
    # (TRL's logged judge/requests is their mean, 8: summing it would undercount.)
    for rank in (0, 1):
        path = attempt_path(folder, rank)
        write_totals(path, {"requests": 8.0 * steps, "failures": 0.0, "tokens_in": 2000.0 * steps}, steps)
    if failed:
        (folder / "FAILED").write_text("Traceback (most recent call last):\nRuntimeError: the judge went away\n")
    else:
        first, last = metrics[0]["reward"], metrics[-1]["reward"]
        (folder / "run_summary.json").write_text(json.dumps({
            "steps": steps, "first_reward": first, "last_reward": last, "baseline_reward": 0.4,
            "judge": "local:packaged:smollm2-135m-instruct", "judge_requests": 16 * steps, "judge_cache_hits": 0,
            "step_time": {"step_s": 16.0, "generation_s": 8.5, "judge_s": 2.5, "guard_s": 0.0, "optimisation_s": 5.5,
                          "judge_share": 0.16, "steps_timed": float(steps - 1)},
        }))  # fmt: skip
        (folder / "judge_metrics.json").write_text(
            json.dumps({"requests": 16 * steps, "failures": 0, "tokens_in": 4000 * steps})
        )
    return folder
