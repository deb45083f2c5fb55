"""Verdict modes of the packaged local judge on the shipped prompts: parse failures, accuracy, position consistency.

    python benchmarks/judge_modes.py                  # judge=local (the packaged SmolLM2-135M), all 72 prompts
    python benchmarks/judge_modes.py --limit 24 --json-limit 12

For every prompt of ``rlaif/data/prompts/default.jsonl`` the good answer is its ``reference_answer`` and the
bad one a degraded answer: the reference of another prompt (fluent, polite and off-topic). Each mode
grades both through the real reward objects with the ``everyday`` rubric; the numbers printed are
measured in this one run on this machine:

- rubric ``logprob`` (P(yes) per criterion) vs ``json`` (one generated JSON verdict per answer), and
  logprob with *text* verdicts (the path of backends without log-probabilities): parse-failure rate,
  mean score of good and bad answers, and pairwise accuracy (good scored above bad);
- preference (good vs bad, both orders) with A/B log-probabilities and with text verdicts:
  parse-failure rate, position-consistency rate, win rate of the good answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from omegaconf import OmegaConf

import rlaif
from rlaif.judges.backends.local import LocalTransport
from rlaif.judges.base import Judge
from rlaif.judges.protocol import JudgeRequest, TransportResult
from rlaif.rewards.preference import PreferenceReward
from rlaif.rewards.rubric import RubricReward

CONF = Path(rlaif.__file__).parent / "conf"
POLICY = {"timeout_s": 3600.0, "batch_deadline_s": 7200.0, "max_retries": 0, "breaker_threshold": 100_000}


class TextVerdicts:
    """A transport wrapper that drops ``choices``: the judge must *write* its verdict (as Bedrock does)."""

    def __init__(self, inner: LocalTransport) -> None:
        self.inner = inner

    @property
    def identity(self) -> str:
        return "text-verdicts:" + self.inner.identity

    async def send(self, request: JudgeRequest) -> TransportResult:
        return await self.inner.send(replace(request, choices=None, logprobs=False, top_logprobs=0, max_tokens=3))

    async def aclose(self) -> None:
        await self.inner.aclose()


class Metrics:
    """Collects what the rewards log through TRL's log_metric."""

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}

    def __call__(self, name: str, value: float) -> None:
        self.values.setdefault(name, []).append(value)

    def mean(self, suffix: str) -> float | None:
        found = [v for k, vs in self.values.items() if k.endswith(suffix) for v in vs]
        return sum(found) / len(found) if found else None


def load_rows(limit: int) -> list[dict[str, Any]]:
    path = Path(rlaif.__file__).parent / "data" / "prompts" / "default.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()][:limit]
    for i, row in enumerate(rows):
        row["bad"] = rows[(i + len(rows) // 2) % len(rows)]["reference_answer"]  # fluent but off-topic
    return rows


def rubric_mode(judge: Judge, rows: list[dict[str, Any]], mode: Literal["logprob", "json"]) -> dict[str, Any]:
    rubric: Any = OmegaConf.to_container(OmegaConf.load(CONF / "rubric" / "everyday.yaml"))
    reward = RubricReward(judge, rubric, mode=mode, json_max_tokens=160, failures={"max_failure_rate": 1.0})
    prompts = [row["messages"] for row in rows] * 2
    answers = [row["reference_answer"] for row in rows] + [row["bad"] for row in rows]
    started = time.perf_counter()
    scores = asyncio.run(reward(prompts=prompts, completions=answers))
    elapsed = time.perf_counter() - started
    good, bad = scores[: len(rows)], scores[len(rows) :]
    pairs = [(g, b) for g, b in zip(good, bad, strict=True) if g is not None and b is not None]
    return {
        "answers": len(scores),
        "parse_failure_rate": sum(s is None for s in scores) / len(scores),
        "mean_good": _mean([g for g in good if g is not None]),
        "mean_bad": _mean([b for b in bad if b is not None]),
        "pairwise_accuracy": _mean([1.0 if g > b else 0.5 if g == b else 0.0 for g, b in pairs]),
        "seconds": elapsed,
    }


def preference_mode(judge: Judge, rows: list[dict[str, Any]]) -> dict[str, Any]:
    config: Any = OmegaConf.to_container(OmegaConf.load(CONF / "reward" / "preference.yaml"))
    failures = {"max_failure_rate": 1.0}
    reward = PreferenceReward(judge, config["preference"], mode="within_group", show_reference=False, failures=failures)
    prompts, answers = [], []
    for row in rows:  # one group of two per prompt: the good answer and the bad one
        prompts += [row["messages"], row["messages"]]
        answers += [row["reference_answer"], row["bad"]]
    metrics = Metrics()
    started = time.perf_counter()
    scores = asyncio.run(reward(prompts=prompts, completions=answers, log_metric=metrics))
    elapsed = time.perf_counter() - started
    good = [s for s in scores[0::2] if s is not None]
    return {
        "pairs": len(rows),
        "parse_failure_rate": sum(s is None for s in scores[0::2]) / len(rows),
        "position_consistency": metrics.mean("/position_consistency"),
        "good_win_probability": _mean(good),
        "good_wins": _mean([1.0 if s > 0.5 else 0.5 if s == 0.5 else 0.0 for s in good]),
        "seconds": elapsed,
    }


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=72, help="prompts for the logprob and preference modes")
    parser.add_argument("--json-limit", type=int, default=24, help="prompts for json mode (it generates: slow on CPU)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    local = LocalTransport()
    choice_judge = Judge(local, {**POLICY, "cache": False})
    text_judge = Judge(TextVerdicts(LocalTransport()), {**POLICY, "cache": False})  # its own loop, its own model
    rows = load_rows(args.limit)
    results = {
        "rubric logprob (P(yes))": rubric_mode(choice_judge, rows, "logprob"),
        "rubric logprob, text verdicts": rubric_mode(text_judge, rows, "logprob"),
        "rubric json": rubric_mode(choice_judge, rows[: args.json_limit], "json"),
        "preference (A/B logprobs)": preference_mode(choice_judge, rows),
        "preference, text verdicts": preference_mode(text_judge, rows),
    }
    print(f"judge: {local.identity} (judge=local), prompts: {len(rows)} (json mode: {min(args.json_limit, len(rows))})")
    for name, result in results.items():
        print(f"{name:32s} " + "  ".join(f"{k}={_fmt(v)}" for k, v in result.items()))
    choice_judge.close()
    text_judge.close()


if __name__ == "__main__":
    main()
