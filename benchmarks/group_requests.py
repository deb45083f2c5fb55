"""Requests and time per step: group judging (``reward=group``) against the rubric reward, on the same batch.

    RLAIF_VLLM_PYTHON=/path/to/vllm-venv/bin/python python benchmarks/group_requests.py   # starts a server
    python benchmarks/group_requests.py --base-url http://127.0.0.1:8000/v1                # uses yours

The batch is what a GRPO step hands the reward: P prompts of the shipped everyday set, G answers each (here
written answers of mixed quality, no policy). Both rewards are the shipped configs (``reward=rubric`` with
``rubric=everyday``, ``reward=group``), on one vLLM judge with its cache off, each batch judged `--repeats`
times alternately (ABAB...), so a drifting machine favours neither. Requests are counted by the judge's own
metrics. The rubric reward asks P x G x criteria questions of one token each; group judging asks P x orders
longer questions (every answer in one prompt, a JSON score and rationale per answer): fewer requests is not
fewer tokens, and the time column says what it costs here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from contextlib import ExitStack
from typing import Any

from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from rlaif.data.models import packaged_model_dir
from rlaif.data.packaged import resolve
from rlaif.judges.backends.openai_compat import openai_judge
from rlaif.judges.serving.vllm_server import VLLMServer

ANSWERS = (
    "Yes.",
    "It depends on what you need; here are the two main options and when each one fits.",
    "Short answer: do the simplest thing first, then check whether it solved the problem.",
    "I cannot help with that.",
    "Here is a step-by-step answer: first, list what you have; second, pick one; third, try it.",
    "Good question! Honestly, there are many opinions about it.",
    "Start small, measure, and change one thing at a time.",
    "No idea, sorry.",
)


def batch(prompts: int, g: int) -> tuple[list[str], list[str]]:
    lines = resolve("prompts", "packaged:default").read_text(encoding="utf-8").splitlines()[:prompts]
    questions = [json.loads(line)["messages"][-1]["content"] for line in lines]
    return [q for q in questions for _ in range(g)], [ANSWERS[k % len(ANSWERS)] for _ in questions for k in range(g)]


def reward(name: str, judge: Any) -> Any:
    with initialize_config_module("rlaif.conf", version_base="1.3"):
        cfg = compose("train", overrides=[f"reward={name}", "rubric=everyday"])
    return instantiate(cfg.reward, judge=judge, _convert_="all")


def run(base_url: str, prompts: int, g: int, repeats: int) -> None:
    judge = openai_judge(base_url=base_url, policy={"cache": False, "timeout_s": 600.0, "batch_deadline_s": 3600.0})
    rewards = {"rubric": reward("rubric", judge), "group": reward("group", judge)}
    questions, answers = batch(prompts, g)
    asyncio.run(rewards["rubric"](questions[:g], answers[:g]))  # warm the server (first requests are slow)
    judge.metrics.drain()
    seen: dict[str, list[tuple[float, float, int]]] = {name: [] for name in rewards}
    for _ in range(repeats):
        for name, fn in rewards.items():
            started = time.perf_counter()
            scores = asyncio.run(fn(questions, answers))
            elapsed = time.perf_counter() - started
            seen[name].append((judge.metrics.drain()["requests"], elapsed, sum(s is None for s in scores)))
    judge.close()
    print(f"{prompts} prompts x {g} answers per step, {repeats} repeats, judge {judge.identity}")
    print("reward | requests/step | s/step median [min, max] | answers without a score (total)")
    for name, rows in seen.items():
        times = [t for _, t, _ in rows]
        print(
            f"{name} | {statistics.median(r for r, _, _ in rows):.0f} | {statistics.median(times):.2f} "
            f"[{min(times):.2f}, {max(times):.2f}] | {sum(n for _, _, n in rows)}"
        )
    ratio = statistics.median(r for r, _, _ in seen["rubric"]) / statistics.median(r for r, _, _ in seen["group"])
    print(f"requests per step, rubric / group: {ratio:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with ExitStack() as stack:
        base_url = args.base_url or stack.enter_context(VLLMServer(str(packaged_model_dir()))).base_url
        run(base_url, args.prompts, args.generations, args.repeats)


if __name__ == "__main__":
    main()
