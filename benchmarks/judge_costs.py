"""What a verdict costs on a real vLLM judge server, each cause measured on its own, against the targets.

    RLAIF_VLLM_PYTHON=.venv-vllm/bin/python python benchmarks/judge_costs.py   # two servers, ~5 min on 2 cores

Workload: a GRPO-shaped batch, ``--questions`` shipped questions (default 4) x 4 answers each (the reference
answer, a thankful one, a padded one, a terse one), graded with the shipped ``everyday`` rubric (2 criteria,
compact). Every timed run gets a tag of its own at the start of each question, so no run reuses another's
prefix cache or response cache: the criterion opening stays shared, as it is between the batches of a run.

Every ratio is timed ``--repeats`` times per side in alternated order (ABBA: A B B A A B ...; with three or
four sides forwards then backwards), and printed as its median and range (benchmarks/abba.py). Grammars,
clients and the server are warmed on other questions before any timing. The factors, each with the same
requests on both sides and ``--concurrency`` (32, rlaif's default for vLLM) in flight unless stated:

1. Prompt tokens computed per verdict, *before* (the full layout on vLLM's CPU default of 128-token blocks)
   vs *now* (the shipped compact prompts and server recipe, 32-token blocks). Computed =
   ``vllm:prompt_tokens_total`` - ``vllm:prefix_cache_hits_total`` (from ``/metrics``). A count, not a time.
2. Concurrency: the naive tutorial reward (one request per answer asking for a JSON score, 16 tokens at most),
   one request at a time (as the tutorial does) vs the same requests all in flight. Then the naive reward in
   flight vs rlaif's rubric reward, and the end-to-end ratio (naive one at a time vs rlaif); and rlaif's
   2-criterion rubric vs the same rubric cut to 1 criterion. One 4-sided comparison.
3. Verdict format, per criterion: one-token log-prob verdicts vs (a) the same criterion prompts decoded as a
   JSON verdict ``{"verdict": "yes"|"no"}`` (32 tokens at most) and (b) rlaif's ``reward.mode=json``
   (one request per answer, a reason and a pass per criterion, ``json_max_tokens`` 512 as shipped).
4. vLLM's prefix cache: the log-prob requests with a ``cache_salt`` of their own per request (no request can
   reuse another's blocks: the cache is effectively off) vs without. Same server, same raw client.
5. rlaif's response cache: a fresh batch vs a batch the judge has answered before.
6. rlaif's judge vs a raw ``openai.AsyncOpenAI`` client, the same requests, both HTTP pools sized to the
   concurrency.
7. Scaling: requests/s and computed prompt tokens/s by concurrency and by batch size (one run each).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import json
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import httpx
import openai
from abba import Ratio, median, timed_rounds
from omegaconf import OmegaConf

import rlaif
from rlaif.data.loaders import packaged_prompts, read_rows
from rlaif.data.models import packaged_model_dir
from rlaif.judges.backends.openai_compat import openai_judge, request_kwargs
from rlaif.judges.base import Judge
from rlaif.judges.protocol import JudgeRequest, JudgeResponse
from rlaif.judges.serving.vllm_server import VLLMServer
from rlaif.rewards.prompts.rubric import criterion_request, json_request
from rlaif.rewards.rubric import RubricReward
from rlaif.rewards.rubric_spec import Rubric
from rlaif.rewards.verdicts.jury_votes import vote_json
from rlaif.rewards.verdicts.parsing import VerdictError

RUBRIC: dict[str, Any] = cast(
    dict[str, Any],
    OmegaConf.to_container(OmegaConf.load(os.path.join(os.path.dirname(rlaif.__file__), "conf/rubric/everyday.yaml"))),
)
ONE_CRITERION = {**RUBRIC, "criteria": [c for c in RUBRIC["criteria"] if c["id"] == "concise"]}
FILLER = " It is worth saying that there are many ways to look at this, and people often disagree about it."
NAIVE_MAX_TOKENS = 16
VERDICT_MAX_TOKENS = 32
JSON_MODE_MAX_TOKENS = 512  # reward.json_max_tokens as shipped (conf/reward/rubric.yaml)
VERDICT_SCHEMA = {
    "type": "object",
    "properties": {"verdict": {"enum": ["yes", "no"]}},
    "required": ["verdict"],
    "additionalProperties": False,
}


@functools.cache
def shipped_rows() -> list[dict[str, Any]]:
    return list(read_rows(packaged_prompts()))


def workload(questions: int, offset: int = 0, tag: str = "") -> tuple[list[str], list[str]]:
    """(questions, answers): ``questions`` shipped questions x 4 answers, as one GRPO batch would have them.

    ``tag`` opens every question, so a run can reuse questions without hitting another's prefix cache.
    """
    rows = shipped_rows()[offset : offset + questions]
    asked, answers = [], []
    for row in rows:
        question = row["prompt"][-1]["content"]
        reference = row["reference_answer"]
        for answer in (reference, f"Thanks for asking! {reference}", reference + FILLER * 3, reference.split(".")[0]):
            asked.append(f"{tag} {question}" if tag else question)
            answers.append(answer)
    return asked, answers


def counters(server: VLLMServer) -> dict[str, float]:
    text = httpx.get(server.base_url.removesuffix("/v1") + "/metrics", timeout=30).text
    names = (
        "prompt_tokens_total",
        "generation_tokens_total",
        "prefix_cache_hits_total",
        "prefix_cache_queries_total",
        "request_success_total",
    )
    out = dict.fromkeys(names, 0.0)
    for line in text.splitlines():
        for name in names:
            if line.startswith(f"vllm:{name}{{"):
                out[name] += float(line.rsplit(" ", 1)[1])
    return out


def measured(server: VLLMServer, work: Callable[[], Any]) -> tuple[float, dict[str, float]]:
    """Seconds ``work`` took, and what the server counted meanwhile (one untimed-repeat run)."""
    before = counters(server)
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    after = counters(server)
    return seconds, {k: after[k] - before[k] for k in after}


def hits(counted: dict[str, float]) -> float:
    """The server's prefix-cache hit rate over what ``measured`` counted."""
    return counted["prefix_cache_hits_total"] / max(1.0, counted["prefix_cache_queries_total"])


def judge_for(server: VLLMServer, concurrency: int, cache: bool = False) -> Judge:
    """rlaif's judge as ``judge=vllm`` builds it: its HTTP pool is sized to ``max_concurrency``."""
    policy = {"timeout_s": 600.0, "batch_deadline_s": 3600.0, "max_concurrency": concurrency, "cache": cache}
    return openai_judge(base_url=server.base_url, model="judge", policy=policy)


def judged(server: VLLMServer, requests: Sequence[JudgeRequest], concurrency: int) -> list[JudgeResponse]:
    """Send ``requests`` through a fresh rlaif judge (built, used and closed inside the call)."""
    judge = judge_for(server, concurrency)
    responses = judge.generate(requests)
    judge.close()
    failed = [r.error for r in responses if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(responses)} judge requests failed, e.g. {failed[0]}")
    return responses


def verdict_usable(response: JudgeResponse) -> bool:
    """A decoded JSON verdict that says yes or no (a reply cut off at max_tokens does not)."""
    try:
        return json.loads(response.text or "")["verdict"] in ("yes", "no")
    except (ValueError, KeyError, TypeError):
        return False


def json_mode_usable(response: JudgeResponse, rubric: Rubric) -> bool:
    """A JSON-mode reply the reward can score (rlaif's own parse)."""
    try:
        vote_json(response, [c.id for c in rubric.criteria])
    except VerdictError:
        return False
    return True


def decoded(responses: list[JudgeResponse], usable: Callable[[JudgeResponse], bool], cap: int) -> str:
    """Decoded tokens per reply, how many replies hit ``cap``, and how many can be scored."""
    tokens = [r.tokens_out for r in responses]
    return (
        f"max_tokens {cap}, {statistics.mean(tokens):.1f} tokens decoded per reply (max {max(tokens)}), "
        f"{sum(t >= cap for t in tokens)} of {len(tokens)} cut off, {sum(map(usable, responses))} usable; "
        f"e.g. {(responses[0].text or '')[:160]!r}"
    )


def graded(server: VLLMServer, rubric: Mapping[str, Any], questions: list[str], answers: list[str], n: int) -> None:
    """rlaif's rubric reward (log-prob mode) over one batch, through a fresh judge with ``n`` in flight."""
    judge = judge_for(server, n)
    reward = RubricReward(judge, rubric)
    prompts = [[{"role": "user", "content": q}] for q in questions]
    grades = asyncio.run(reward.grade(prompts, answers, [None] * len(answers)))
    judge.close()
    if any(g.score is None for g in grades):
        raise RuntimeError(f"a verdict failed: {next(g.error for g in grades if g.score is None)}")


def sized_client(server: VLLMServer, concurrency: int) -> openai.AsyncOpenAI:
    """A bare client whose HTTP pool holds ``concurrency`` connections (the default keeps only 20 alive).

    The pool is built as rlaif's judge builds its own (rlaif/judges/backends/openai_compat.py): the SDK's HTTP client
    and Limits class (httpx2 in openai 3.x), so the two differ only in what rlaif's judge does around a call.
    """
    limits = type(openai.DEFAULT_CONNECTION_LIMITS)(max_connections=concurrency, max_keepalive_connections=concurrency)
    return openai.AsyncOpenAI(
        base_url=server.base_url, api_key="EMPTY", http_client=openai.DefaultAsyncHttpxClient(limits=limits)
    )


def naive_reward(server: VLLMServer, questions: list[str], answers: list[str], concurrency: int) -> list[int]:
    """The tutorial LLM-as-judge reward: one request per answer asking for a JSON score, ``concurrency`` in
    flight (1: one after the other, as the tutorial does). Returns the tokens each reply decoded."""

    async def run() -> list[int]:
        client = sized_client(server, concurrency)
        gate = asyncio.Semaphore(concurrency)

        async def one(question: str, answer: str) -> int:
            content = (
                "Rate the answer to the question for politeness and concision from 1 to 10. "
                f'Reply in JSON: {{"score": <1-10>}}\n\nQuestion: {question}\n\nAnswer: {answer}'
            )
            async with gate:
                reply = await client.chat.completions.create(
                    model="judge",
                    messages=[{"role": "user", "content": content}],
                    max_tokens=NAIVE_MAX_TOKENS,
                    temperature=0.0,
                    response_format={"type": "json_object"},
                )
            with contextlib.suppress(ValueError, AttributeError):  # the tutorial's parse (only its cost counts)
                json.loads(reply.choices[0].message.content or "{}").get("score", 0)
            return reply.usage.completion_tokens if reply.usage else 0

        decoded = await asyncio.gather(*(one(q, a) for q, a in zip(questions, answers, strict=True)))
        await client.close()
        return list(decoded)

    return asyncio.run(run())


def raw_client(server: VLLMServer, requests: list[JudgeRequest], concurrency: int, salt: str | None = None) -> None:
    """The same requests through a bare, pool-sized openai.AsyncOpenAI, ``concurrency`` in flight. With
    ``salt``, every request gets a ``cache_salt`` of its own: vLLM then shares no prefix-cache block between them."""

    async def run() -> None:
        client = sized_client(server, concurrency)
        gate = asyncio.Semaphore(concurrency)

        async def one(k: int, request: JudgeRequest) -> None:
            kwargs = request_kwargs(request, "judge", structured_outputs=True)
            if salt is not None:
                kwargs["extra_body"] = {**kwargs.get("extra_body", {}), "cache_salt": f"{salt}-{k}"}
            async with gate:
                await client.chat.completions.create(**kwargs)

        await asyncio.gather(*(one(k, r) for k, r in enumerate(requests)))
        await client.close()

    asyncio.run(run())


def logprob_requests(rubric: Rubric, questions: list[str], answers: list[str]) -> list[JudgeRequest]:
    """One one-token yes/no request per answer and criterion, as rlaif's log-prob mode sends them."""
    return [
        criterion_request(rubric, c, q, a, None)
        for q, a in zip(questions, answers, strict=True)
        for c in rubric.criteria
    ]


def verdict_requests(rubric: Rubric, questions: list[str], answers: list[str]) -> list[JudgeRequest]:
    """The same prompts, decoded as a JSON verdict instead of read from one token's log-probs."""
    return [
        dataclasses.replace(
            r, choices=None, logprobs=False, top_logprobs=0, json_schema=VERDICT_SCHEMA, max_tokens=VERDICT_MAX_TOKENS
        )
        for r in logprob_requests(rubric, questions, answers)
    ]


def json_mode_requests(rubric: Rubric, questions: list[str], answers: list[str]) -> list[JudgeRequest]:
    """rlaif's ``reward.mode=json``: one request per answer, a reason and a pass per criterion."""
    return [json_request(rubric, q, a, None, JSON_MODE_MAX_TOKENS) for q, a in zip(questions, answers, strict=True)]


def report(name: str, ratio: Ratio, a_name: str, b_name: str, results: dict[str, Ratio]) -> None:
    results[name] = ratio
    runs = " | ".join(f"{x:.3f}/{y:.3f}" for x, y in zip(ratio.a, ratio.b, strict=True))
    print(f"   {name}: {ratio.describe(a_name, b_name)}\n      each repeat, A/B seconds: {runs}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=4, help="questions per timed batch (4 answers each)")
    parser.add_argument("--repeats", type=int, default=6, help="timed runs per side of every ratio (ABBA order)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (rlaif's vLLM default)")
    args = parser.parse_args()
    python = os.environ.get("RLAIF_VLLM_PYTHON")
    if not python:
        raise SystemExit("set RLAIF_VLLM_PYTHON to a python with vLLM (make test builds .venv-vllm)")
    started = time.perf_counter()
    model = str(packaged_model_dir())
    rubric = Rubric.from_mapping(RUBRIC, "rubric")
    n, q, repeats = args.concurrency, args.questions, args.repeats
    results: dict[str, Ratio] = {}
    answers_per_batch = 4 * q

    def batch(tag: str, k: int) -> tuple[list[str], list[str]]:
        return workload(q, tag=f"({tag} {k})")

    # 1. before: the full layout on the old server recipe (128-token blocks); now: the shipped prompts and recipe.
    p1, a1 = workload(8)
    n_verdicts = len(a1) * len(rubric.criteria)
    old = logprob_requests(Rubric.from_mapping({**RUBRIC, "prompt": "full"}, "rubric"), p1, a1)
    with VLLMServer(model, python=python, extra_args=["--block-size", "128"]) as server:
        judged(server, old[:2], n)  # warm-up, not counted
        _, c_before = measured(server, lambda: judged(server, old, n))
    with VLLMServer(model, python=python) as server:
        print(f"servers up after {time.perf_counter() - started:.0f} s", flush=True)
        now = logprob_requests(rubric, p1, a1)
        judged(server, logprob_requests(rubric, *workload(1, offset=40)), n)  # warm-up on other questions
        _, c_now = measured(server, lambda: judged(server, now, n))
        computed_before = (c_before["prompt_tokens_total"] - c_before["prefix_cache_hits_total"]) / n_verdicts
        computed_now = (c_now["prompt_tokens_total"] - c_now["prefix_cache_hits_total"]) / n_verdicts
        sent_before, sent_now = (c["prompt_tokens_total"] / n_verdicts for c in (c_before, c_now))
        print(
            f"1. prompt tokens per verdict ({len(a1)} answers x 2 criteria): before {sent_before:.0f} sent, "
            f"{computed_before:.0f} computed; now {sent_now:.0f} sent, {computed_now:.0f} computed, "
            f"prefix-cache hit rate {hits(c_now):.2f}",
            flush=True,
        )
        tokens_ratio = computed_now / computed_before

        # Warm every kind of request (grammars compiled, clients and server paths used) on other questions.
        wq, wa = workload(1, offset=60, tag="(warm-up)")
        naive_reward(server, wq, wa, n)
        judged(server, verdict_requests(rubric, wq, wa), n)
        judged(server, json_mode_requests(rubric, wq, wa), n)
        raw_client(server, logprob_requests(rubric, wq, wa), n, salt="warm-up")
        graded(server, RUBRIC, wq, wa, n)
        graded(server, ONE_CRITERION, wq, wa, n)
        print(
            f"Timed batches: {q} questions x 4 answers = {answers_per_batch} answers; {repeats} runs per side, "
            f"ABBA order; {n} in flight unless stated",
            flush=True,
        )

        # 2. concurrency, then what rlaif adds at the same concurrency, then the 2 criteria.
        naive_decoded: list[int] = []
        seq, conc, two, one = timed_rounds(
            [
                lambda k: naive_decoded.extend(naive_reward(server, *batch("naive-1", k), 1)),
                lambda k: naive_decoded.extend(naive_reward(server, *batch("naive-n", k), n)),
                lambda k: graded(server, RUBRIC, *batch("rlaif", k), n),
                lambda k: graded(server, ONE_CRITERION, *batch("rlaif-1", k), n),
            ],
            repeats,
        )
        print(
            f"2. naive reward: JSON score, max_tokens {NAIVE_MAX_TOKENS}, "
            f"{statistics.mean(naive_decoded):.1f} tokens decoded per reply on average"
        )
        report("concurrency", Ratio(seq, conc), "naive, 1 in flight", f"naive, {n} in flight", results)
        report("rlaif_vs_naive_same_concurrency", Ratio(conc, two), f"naive, {n} in flight", "rlaif", results)
        report("rlaif_vs_naive", Ratio(seq, two), "naive, 1 in flight", f"rlaif, {n} in flight", results)
        report("two_vs_one_criterion", Ratio(two, one), "rlaif 2 criteria", "rlaif 1 criterion", results)

        # 3. verdict format: the same answers, log-prob vs decoded JSON.
        json_replies: list[JudgeResponse] = []
        verdict_replies: list[JudgeResponse] = []
        json_mode, verdict, logprob = timed_rounds(
            [
                lambda k: json_replies.extend(judged(server, json_mode_requests(rubric, *batch("json-mode", k)), n)),
                lambda k: verdict_replies.extend(
                    judged(server, verdict_requests(rubric, *batch("json-verdict", k)), n)
                ),
                lambda k: judged(server, logprob_requests(rubric, *batch("logprob", k)), n),
            ],
            repeats,
        )

        per = answers_per_batch * len(rubric.criteria)
        print(
            f"3. per criterion (medians): log-prob {1000 * median(logprob) / per:.0f} ms; "
            f"JSON verdict {1000 * median(verdict) / per:.0f} ms; "
            f"rlaif JSON mode {1000 * median(json_mode) / per:.0f} ms (1 request per answer)\n"
            f"   JSON verdict: {decoded(verdict_replies, verdict_usable, VERDICT_MAX_TOKENS)}\n"
            f"   rlaif JSON mode: {decoded(json_replies, lambda r: json_mode_usable(r, rubric), JSON_MODE_MAX_TOKENS)}",
            flush=True,
        )
        report("json_verdict_vs_logprob", Ratio(verdict, logprob), "JSON verdict", "log-prob", results)
        report("json_mode_vs_logprob", Ratio(json_mode, logprob), "rlaif JSON mode", "log-prob", results)

        # 4. vLLM's prefix cache, off (a cache_salt per request) vs on, same server and client.
        off, on = timed_rounds(
            [
                lambda k: raw_client(server, logprob_requests(rubric, *batch("salted", k)), n, salt=f"run-{k}"),
                lambda k: raw_client(server, logprob_requests(rubric, *batch("shared", k)), n),
            ],
            repeats,
        )
        report("prefix_cache", Ratio(off, on), "prefix cache off (salted)", "on", results)
        _, c_off = measured(server, lambda: raw_client(server, logprob_requests(rubric, *batch("salted", -1)), n, "x"))
        _, c_on = measured(server, lambda: raw_client(server, logprob_requests(rubric, *batch("shared", -1)), n))
        print(f"   prefix-cache hit rate of one more batch each: off {hits(c_off):.2f}, on {hits(c_on):.2f}")

        # 5. rlaif's response cache: a fresh batch vs one the judge answered before (answered untimed first).
        cached = judge_for(server, n, cache=True)
        seen = [logprob_requests(rubric, *batch("repeat", k)) for k in range(repeats)]
        for requests in seen:
            cached.generate(requests)
        fresh, repeat = timed_rounds(
            [
                lambda k: cached.generate(logprob_requests(rubric, *batch("fresh", k))),
                lambda k: cached.generate(seen[k]),
            ],
            repeats,
        )
        report("response_cache", Ratio(fresh, repeat), "fresh batch", "repeated batch", results)
        _, c_repeat = measured(server, lambda: cached.generate(seen[0]))
        repeat_requests = c_repeat["request_success_total"]
        print(f"   repeated batch of {len(seen[0])}: {repeat_requests:.0f} requests reached the server")
        cached.close()

        # 6. rlaif's judge vs a raw client, both pools sized to the concurrency.
        raw, ours = timed_rounds(
            [
                lambda k: raw_client(server, logprob_requests(rubric, *batch("raw", k)), n),
                lambda k: judged(server, logprob_requests(rubric, *batch("rlaif-judge", k)), n),
            ],
            repeats,
        )
        report("rlaif_vs_raw", Ratio(raw, ours), "raw client", "rlaif judge", results)

        # 7. scaling: distinct requests at each concurrency (one run each, not a ratio).
        print("7. concurrency | requests/s | computed prompt tokens/s | hit rate")
        for k, concurrency in enumerate((1, 4, 16, 64)):
            reqs = logprob_requests(rubric, *workload(8, offset=8 * k, tag=f"(scaling run {k})"))
            seconds, c = measured(server, functools.partial(judged, server, reqs, concurrency))
            computed = c["prompt_tokens_total"] - c["prefix_cache_hits_total"]
            print(f"   {concurrency:>11} | {len(reqs) / seconds:10.1f} | {computed / seconds:24.0f} | {hits(c):.2f}")
        print(f"7b. batch (requests) at concurrency {n} | requests/s | computed prompt tokens/s | hit rate")
        for k, questions in enumerate((2, 8, 16)):
            reqs = logprob_requests(rubric, *workload(questions, offset=8 * k, tag=f"(batch run {k})"))
            seconds, c = measured(server, functools.partial(judged, server, reqs, n))
            computed = c["prompt_tokens_total"] - c["prefix_cache_hits_total"]
            print(f"   {len(reqs):>34} | {len(reqs) / seconds:10.1f} | {computed / seconds:24.0f} | {hits(c):.2f}")

    print("\n| factor | A | B | median A/B | range | repeats |\n|---|---|---|---|---|---|")
    factors = [
        ("concurrency", "naive reward, 1 in flight", f"naive reward, {n} in flight"),
        ("json_verdict_vs_logprob", f"JSON verdict (max_tokens {VERDICT_MAX_TOKENS})", "one-token log-prob"),
        ("json_mode_vs_logprob", f"rlaif JSON mode (max_tokens {JSON_MODE_MAX_TOKENS})", "one-token log-prob"),
        ("prefix_cache", "prefix cache off (cache_salt per request)", "prefix cache on"),
        ("response_cache", "fresh batch", "repeated batch (judge cache)"),
        ("rlaif_vs_naive_same_concurrency", f"naive reward, {n} in flight", f"rlaif rubric reward, {n} in flight"),
        ("rlaif_vs_naive", "naive reward, 1 in flight", f"rlaif rubric reward, {n} in flight"),
        ("two_vs_one_criterion", "rlaif, 2 criteria", "rlaif, 1 criterion"),
        ("rlaif_vs_raw", "raw AsyncOpenAI, sized pool", "rlaif judge, sized pool"),
    ]
    for key, a_name, b_name in factors:
        r = results[key]
        print(f"| {key} | {a_name} | {b_name} | {r.median:.2f}x | {r.low:.2f}-{r.high:.2f}x | {len(r.a)} |")

    def span(r: Ratio) -> str:
        return f"{r.median:.2f}x (range {r.low:.2f}-{r.high:.2f}x)"

    print("\n| target | measured | met |\n|---|---|---|")
    r_naive, r_json, r_two, r_raw = (
        results[k] for k in ("rlaif_vs_naive", "json_mode_vs_logprob", "two_vs_one_criterion", "rlaif_vs_raw")
    )
    rows = [
        ("prompt tokens computed per verdict <= 1/3 of before", f"{tokens_ratio:.2f} of before", tokens_ratio <= 1 / 3),
        ("rubric reward >= 5x the naive tutorial reward", span(r_naive), r_naive.median >= 5),
        ("logprob >= 2x JSON verdicts per criterion", span(r_json), r_json.median >= 2),
        ("2-criterion rubric <= 1.5x one criterion", span(r_two), r_two.median <= 1.5),
        ("rlaif >= 0.95x the raw client", span(r_raw), r_raw.median >= 0.95),
        ("a repeated batch costs zero judge requests", f"{repeat_requests:.0f} requests", repeat_requests == 0),
    ]
    for name, value, met in rows:
        print(f"| {name} | {value} | {'yes' if met else 'no'} |")
    print(f"\n{os.cpu_count()} CPUs; whole run {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
