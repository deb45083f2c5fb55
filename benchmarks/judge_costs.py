"""What a verdict costs on a real vLLM judge server, measured side by side in one run, against the targets.

    RLAIF_VLLM_PYTHON=.venv-vllm/bin/python python benchmarks/judge_costs.py     # starts two servers (~4 min)

Workload: a GRPO-shaped batch, 8 shipped questions x 4 answers each (the reference answer, a thankful one,
a padded one, a terse one), graded with the shipped ``everyday`` rubric (2 criteria, logprob, compact).
Every section prints its own figures; the last table puts them against the targets (benchmarks/README.md).

1. Prompt tokens computed per verdict: *before* (the full layout, criterion after the answer, the default
   until the compact layout; vLLM's CPU default of 128-token prefix-cache blocks) vs *now* (the shipped
   compact prompts, criterion first, on the shipped recipe: 32-token blocks). Computed =
   ``vllm:prompt_tokens_total`` - ``vllm:prefix_cache_hits_total`` (from ``/metrics``).
2. rlaif's rubric reward vs the naive tutorial reward (one blocking request per answer asking for a JSON
   score, one after the other).
3. Verdicts per criterion: logprob vs JSON (``reward.mode=json``).
4. The 2-criterion rubric vs the same rubric cut to 1 criterion.
5. rlaif's judge vs a raw ``openai.AsyncOpenAI`` client, same requests and concurrency (ABBA order).
6. A repeated batch with the judge cache on: requests that reach the server.
7. Scaling: requests/s and computed prompt tokens/s at concurrency 1, 4, 16, 64, and by batch size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
from omegaconf import OmegaConf

import rlaif
from rlaif.data import packaged_prompts, read_rows
from rlaif.judges.base import Judge, JudgeRequest
from rlaif.judges.openai_compat import openai_judge
from rlaif.judges.vllm_server import VLLMServer
from rlaif.models import packaged_model_dir
from rlaif.rewards.rubric import RubricReward
from rlaif.rewards.rubric_prompts import criterion_request
from rlaif.rewards.rubric_spec import Rubric

RUBRIC = OmegaConf.to_container(
    OmegaConf.load(os.path.join(os.path.dirname(rlaif.__file__), "conf/rubric/everyday.yaml"))
)
FILLER = " It is worth saying that there are many ways to look at this, and people often disagree about it."


def workload(questions: int, offset: int = 0, tag: str = "") -> tuple[list[Any], list[str]]:
    """(prompts, answers): ``questions`` shipped questions x 4 answers, as one GRPO batch would have them.

    ``tag`` opens every question, so a section can reuse questions without hitting another's prefix cache.
    """
    rows = read_rows(packaged_prompts())[offset : offset + questions]
    prompts, answers = [], []
    for row in rows:
        if tag:
            row = {
                **row,
                "prompt": [*row["prompt"][:-1], {"role": "user", "content": f"{tag} {row['prompt'][-1]['content']}"}],
            }
        reference = row["reference_answer"]
        for answer in (reference, f"Thanks for asking! {reference}", reference + FILLER * 3, reference.split(".")[0]):
            prompts.append(row["prompt"])
            answers.append(answer)
    return prompts, answers


def counters(server: VLLMServer) -> dict[str, float]:
    text = httpx.get(server.base_url.removesuffix("/v1") + "/metrics", timeout=30).text
    names = ("prompt_tokens_total", "prefix_cache_hits_total", "prefix_cache_queries_total", "request_success_total")
    out = dict.fromkeys(names, 0.0)
    for line in text.splitlines():
        for name in names:
            if line.startswith(f"vllm:{name}{{"):
                out[name] += float(line.rsplit(" ", 1)[1])
    return out


def measured(server: VLLMServer, work: Callable[[], Any]) -> tuple[float, dict[str, float]]:
    """Seconds ``work`` took, and what the server counted meanwhile."""
    before = counters(server)
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    after = counters(server)
    return seconds, {k: after[k] - before[k] for k in after}


def hits(counted: dict[str, float]) -> float:
    """The server's prefix-cache hit rate over what ``measured`` counted."""
    return counted["prefix_cache_hits_total"] / max(1.0, counted["prefix_cache_queries_total"])


def judge_for(server: VLLMServer, concurrency: int = 32, cache: bool = False) -> Judge:
    policy = {"timeout_s": 600.0, "batch_deadline_s": 3600.0, "max_concurrency": concurrency, "cache": cache}
    return openai_judge(base_url=server.base_url, model="judge", policy=policy)


def grade(reward: RubricReward, prompts: list[Any], answers: list[str]) -> list[Any]:
    return asyncio.run(reward.grade(prompts, answers, [None] * len(answers)))


def naive_reward(server: VLLMServer, prompts: list[Any], answers: list[str]) -> list[float]:
    """The tutorial LLM-as-judge reward: one blocking request per answer, asking for a JSON score."""
    client = openai.OpenAI(base_url=server.base_url, api_key="EMPTY", http_client=httpx.Client(trust_env=False))
    scores = []
    for prompt, answer in zip(prompts, answers, strict=True):
        content = (
            "Rate the answer to the question for politeness and concision from 1 to 10. "
            f'Reply in JSON: {{"score": <1-10>}}\n\nQuestion: {prompt[-1]["content"]}\n\nAnswer: {answer}'
        )
        reply = client.chat.completions.create(
            model="judge",
            messages=[{"role": "user", "content": content}],
            max_tokens=16,
            temperature=0.0,
            response_format={"type": "json_object"},
        )
        try:
            scores.append(float(json.loads(reply.choices[0].message.content or "{}").get("score", 0)) / 10)
        except (ValueError, AttributeError):
            scores.append(0.0)
    return scores


def raw_client(server: VLLMServer, requests: list[JudgeRequest], concurrency: int) -> None:
    """The same requests through a bare openai.AsyncOpenAI, ``concurrency`` in flight."""

    async def run() -> None:
        client = openai.AsyncOpenAI(
            base_url=server.base_url, api_key="EMPTY", http_client=httpx.AsyncClient(trust_env=False)
        )
        gate = asyncio.Semaphore(concurrency)

        async def one(request: JudgeRequest) -> None:
            async with gate:
                await client.chat.completions.create(
                    model="judge",
                    messages=list(request.messages),
                    max_tokens=1,
                    logprobs=True,
                    top_logprobs=20,
                    extra_body={"structured_outputs": {"choice": list(request.choices or ())}},
                )

        await asyncio.gather(*(one(r) for r in requests))
        await client.close()

    asyncio.run(run())


def requests_for(rubric: Rubric, prompts: list[Any], answers: list[str]) -> list[JudgeRequest]:
    return [
        criterion_request(rubric, c, p[-1]["content"], a, None)
        for p, a in zip(prompts, answers, strict=True)
        for c in rubric.criteria
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=8, help="questions per batch (4 answers each)")
    args = parser.parse_args()
    python = os.environ.get("RLAIF_VLLM_PYTHON")
    if not python:
        raise SystemExit("set RLAIF_VLLM_PYTHON to a python with vLLM (make test builds .venv-vllm)")
    model = str(packaged_model_dir())
    rubric = Rubric.from_mapping(RUBRIC, "rubric")
    one_criterion = Rubric.from_mapping(
        {**RUBRIC, "criteria": [c for c in RUBRIC["criteria"] if c["id"] == "concise"]}, "rubric"
    )
    prompts, answers = workload(args.questions)
    n_verdicts = len(answers) * len(rubric.criteria)
    results: dict[str, float] = {}

    # 1. before: the full layout on the old server recipe (128-token blocks); now: the shipped prompts and recipe.
    old = requests_for(Rubric.from_mapping({**RUBRIC, "prompt": "full"}, "rubric"), prompts, answers)
    with VLLMServer(model, python=python, extra_args=["--block-size", "128"]) as server:
        judge = judge_for(server)
        judge.generate(old[:2])  # warm-up, not counted
        t_before, c_before = measured(server, lambda: judge.generate(old))
        judge.close()
    with VLLMServer(model, python=python) as server:
        judge = judge_for(server)
        now = requests_for(rubric, prompts, answers)
        judge.generate(requests_for(rubric, *workload(1, offset=40)))  # warm-up on other questions
        t_now, c_now = measured(server, lambda: judge.generate(now))
        judge.close()
        computed_before = (c_before["prompt_tokens_total"] - c_before["prefix_cache_hits_total"]) / n_verdicts
        computed_now = (c_now["prompt_tokens_total"] - c_now["prefix_cache_hits_total"]) / n_verdicts
        hit_rate = c_now["prefix_cache_hits_total"] / max(1.0, c_now["prefix_cache_queries_total"])
        sent_before, sent_now = (c["prompt_tokens_total"] / n_verdicts for c in (c_before, c_now))
        print(
            f"1. prompt tokens per verdict: before {sent_before:.0f} sent, {computed_before:.0f} computed "
            f"({t_before:.2f} s); now {sent_now:.0f} sent, {computed_now:.0f} computed ({t_now:.2f} s), "
            f"prefix-cache hit rate {hit_rate:.2f}"
        )
        results["computed_tokens_ratio"] = computed_now / computed_before
        results["hit_rate"] = hit_rate

        # 2. rlaif's rubric reward vs the naive tutorial reward, new questions for each (no cache effects).
        p2, a2 = workload(args.questions, offset=8)
        reward = RubricReward(judge_for(server), RUBRIC)
        t_rlaif, c_rlaif = measured(server, lambda: grade(reward, p2, a2))
        p3, a3 = workload(args.questions, offset=16)
        t_naive, c_naive = measured(server, lambda: naive_reward(server, p3, a3))
        print(
            f"2. {len(a2)} answers: rlaif rubric reward {t_rlaif:.2f} s (hit rate {hits(c_rlaif):.2f}), "
            f"naive tutorial reward {t_naive:.2f} s (hit rate {hits(c_naive):.2f})"
        )
        results["rlaif_vs_naive"] = t_naive / t_rlaif

        # 3. per criterion: logprob vs JSON verdicts (8 answers each, other questions).
        p4, a4 = workload(2, offset=24)
        json_reward = RubricReward(judge_for(server), RUBRIC, mode="json", json_max_tokens=256)
        t_json, c_json = measured(server, lambda: grade(json_reward, p4, a4))
        p5, a5 = workload(2, offset=26)
        t_logprob, c_logprob = measured(server, lambda: grade(RubricReward(judge_for(server), RUBRIC), p5, a5))
        per = len(a4) * len(rubric.criteria)
        print(
            f"3. per criterion: logprob {1000 * t_logprob / per:.0f} ms (hit rate {hits(c_logprob):.2f}), "
            f"JSON {1000 * t_json / per:.0f} ms (hit rate {hits(c_json):.2f})"
        )
        results["json_vs_logprob"] = t_json / t_logprob

        # 4. 2 criteria vs 1 criterion, same answers (other questions).
        p6, a6 = workload(args.questions, offset=28)
        one = {**RUBRIC, "criteria": [c for c in RUBRIC["criteria"] if c["id"] == "concise"]}
        t_one, c_one = measured(server, lambda: grade(RubricReward(judge_for(server), one), p6, a6))
        p7, a7 = workload(args.questions, offset=36)
        t_two, c_two = measured(server, lambda: grade(RubricReward(judge_for(server), RUBRIC), p7, a7))
        print(
            f"4. {len(a6)} answers: 1 criterion {t_one:.2f} s (hit rate {hits(c_one):.2f}), "
            f"2 criteria {t_two:.2f} s (hit rate {hits(c_two):.2f})"
        )
        results["two_vs_one_criterion"] = t_two / t_one

        # 5. rlaif's judge vs the raw client, same shape of requests, ABBA on fresh questions each time.
        sets = [requests_for(one_criterion, *workload(4, offset=44 + 4 * k)) for k in range(4)]
        t_raw_a, _ = measured(server, lambda: raw_client(server, sets[0], 32))
        t_rlaif_a, _ = measured(server, lambda: judge_for(server).generate(sets[1]))
        t_rlaif_b, _ = measured(server, lambda: judge_for(server).generate(sets[2]))
        t_raw_b, _ = measured(server, lambda: raw_client(server, sets[3], 32))
        t_raw, t_ours = t_raw_a + t_raw_b, t_rlaif_a + t_rlaif_b
        print(f"5. raw client {t_raw:.2f} s, rlaif judge {t_ours:.2f} s (2 x {len(sets[0])} requests each)")
        results["rlaif_vs_raw"] = t_raw / t_ours

        # 6. a repeated batch, judge cache on: what reaches the server the second time.
        cached = judge_for(server, cache=True)
        batch = requests_for(rubric, *workload(2, offset=60))
        cached.generate(batch)
        _, c_repeat = measured(server, lambda: cached.generate(batch))
        print(f"6. repeated batch of {len(batch)}: {c_repeat['request_success_total']:.0f} requests reached the server")
        results["repeat_requests"] = c_repeat["request_success_total"]

        # 7. scaling: distinct requests at each concurrency.
        print("7. concurrency | requests/s | computed prompt tokens/s | hit rate")
        for k, concurrency in enumerate((1, 4, 16, 64)):
            batch = requests_for(rubric, *workload(8, offset=8 * k, tag=f"(scaling run {k})"))
            seconds, c = measured(server, lambda b=batch, n=concurrency: judge_for(server, concurrency=n).generate(b))
            computed = c["prompt_tokens_total"] - c["prefix_cache_hits_total"]
            rate = c["prefix_cache_hits_total"] / max(1.0, c["prefix_cache_queries_total"])
            print(f"   {concurrency:>11} | {len(batch) / seconds:10.1f} | {computed / seconds:24.0f} | {rate:.2f}")

        print("7b. batch (requests) at concurrency 32 | requests/s | computed prompt tokens/s | hit rate")
        for k, questions in enumerate((2, 8, 16)):
            batch = requests_for(rubric, *workload(questions, offset=8 * k, tag=f"(batch run {k})"))
            seconds, c = measured(server, lambda b=batch: judge_for(server).generate(b))
            computed = c["prompt_tokens_total"] - c["prefix_cache_hits_total"]
            print(f"   {len(batch):>34} | {len(batch) / seconds:10.1f} | {computed / seconds:24.0f} | {hits(c):.2f}")

    print("\n| target | measured | met |\n|---|---|---|")
    rows = [
        (
            "prompt tokens computed per verdict <= 1/3 of before",
            results["computed_tokens_ratio"],
            results["computed_tokens_ratio"] <= 1 / 3,
            "{:.2f} of before",
        ),
        (
            "rubric reward >= 5x the naive tutorial reward",
            results["rlaif_vs_naive"],
            results["rlaif_vs_naive"] >= 5,
            "{:.1f}x",
        ),
        (
            "logprob >= 2x JSON verdicts per criterion",
            results["json_vs_logprob"],
            results["json_vs_logprob"] >= 2,
            "{:.1f}x",
        ),
        (
            "2-criterion rubric <= 1.5x one criterion",
            results["two_vs_one_criterion"],
            results["two_vs_one_criterion"] <= 1.5,
            "{:.2f}x",
        ),
        ("rlaif >= 0.95x the raw client", results["rlaif_vs_raw"], results["rlaif_vs_raw"] >= 0.95, "{:.2f}x"),
        (
            "a repeated batch costs zero judge requests",
            results["repeat_requests"],
            results["repeat_requests"] == 0,
            "{:.0f} requests",
        ),
    ]
    for name, value, met, fmt in rows:
        print(f"| {name} | {fmt.format(value)} | {'yes' if met else 'no'} |")
    print(f"\nprefix-cache hit rate of the batch in 1: {results['hit_rate']:.2f}; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
