"""Judge throughput against a real vLLM server: requests/s at concurrency 1 and 32, and the cache effect.

    RLAIF_VLLM_PYTHON=/path/to/vllm-venv/bin/python python benchmarks/judge_throughput.py   # starts a server
    python benchmarks/judge_throughput.py --base-url http://127.0.0.1:8000/v1                # uses yours

Each request is a short yes/no judge call (choice-constrained, first-token logprobs, 2 tokens), the
interface the packaged model is usable through. Every phase uses prompts no other phase sent, so
only the judge cache (not vLLM's prefix cache for a whole prompt) can make a repeat cheap. The ratios
printed are measured in this one run, on this machine, against this server.
"""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack

from rlaif.data.models import PACKAGED_MODEL
from rlaif.judges.backends.openai_compat import openai_judge
from rlaif.judges.base import Judge
from rlaif.judges.protocol import JudgeRequest, JudgeResponse
from rlaif.judges.serving.vllm_server import VLLMServer

SYSTEM = "You are a strict grader. Answer only yes or no."
CITIES = ["Paris", "Berlin", "Madrid", "Rome", "Lisbon", "Vienna", "Warsaw", "Prague", "Oslo", "Dublin"]
COUNTRIES = ["France", "Germany", "Spain", "Italy", "Portugal", "Austria", "Poland", "Czechia", "Norway", "Ireland"]


def judge_requests(n: int, offset: int) -> list[JudgeRequest]:
    """``n`` distinct short judge requests; ``offset`` keeps phases from sharing prompts."""
    requests = []
    for i in range(offset, offset + n):
        city, country = CITIES[i % len(CITIES)], COUNTRIES[(i // len(CITIES)) % len(COUNTRIES)]
        question = f"Question {i}: is {city} the capital of {country}?"
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
        requests.append(JudgeRequest.chat(messages, max_tokens=2, choices=("yes", "no"), logprobs=True))
    return requests


def timed(judge: Judge, requests: list[JudgeRequest]) -> tuple[float, list[JudgeResponse]]:
    started = time.perf_counter()
    responses = judge.generate(requests)
    return time.perf_counter() - started, responses


def make_judge(base_url: str, concurrency: int, cache: bool) -> Judge:
    policy = {"timeout_s": 600.0, "batch_deadline_s": 3600.0, "max_concurrency": concurrency, "cache": cache}
    return openai_judge(base_url=base_url, model="judge", policy=policy)


def failures(responses: list[JudgeResponse]) -> int:
    return sum(not r.ok for r in responses)


def run(base_url: str, n_serial: int, n_concurrent: int) -> None:
    warm = make_judge(base_url, 4, cache=False)
    timed(warm, judge_requests(4, offset=10_000))  # first requests after start-up are slow
    warm.close()

    serial = make_judge(base_url, 1, cache=False)
    t1, r1 = timed(serial, judge_requests(n_serial, offset=0))
    serial.close()
    wide = make_judge(base_url, 32, cache=False)
    t32, r32 = timed(wide, judge_requests(n_concurrent, offset=1_000))
    wide.close()

    cached = make_judge(base_url, 32, cache=True)
    batch = judge_requests(32, offset=2_000)
    t_cold, r_cold = timed(cached, batch)
    t_hot, r_hot = timed(cached, batch)
    hits = cached.metrics.totals()["cache_hits"]
    cached.close()

    rps1, rps32 = n_serial / t1, n_concurrent / t32
    print(f"server: {base_url}")
    print(f"concurrency 1 : {n_serial:4d} requests in {t1:7.2f} s = {rps1:7.2f} req/s  (failures {failures(r1)})")
    print(
        f"concurrency 32: {n_concurrent:4d} requests in {t32:7.2f} s = {rps32:7.2f} req/s  (failures {failures(r32)})"
    )
    print(f"  ratio concurrency 32 / 1: {rps32 / rps1:.2f}x")
    print(f"cache: 32 new requests {t_cold:.3f} s (failures {failures(r_cold)}); same 32 again {t_hot:.4f} s")
    print(f"  cache hits {hits:.0f}/32, speed-up of the repeat: {t_cold / t_hot:.0f}x; failures {failures(r_hot)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", default=None, help="an existing server; default: start one")
    parser.add_argument("--model", default=PACKAGED_MODEL, help="what a started server serves")
    parser.add_argument("--python", default=None, help="python with vLLM (default: $RLAIF_VLLM_PYTHON)")
    parser.add_argument("--n-serial", type=int, default=16)
    parser.add_argument("--n-concurrent", type=int, default=96)
    args = parser.parse_args()
    with ExitStack() as stack:
        base_url = args.base_url
        if base_url is None:
            started = time.perf_counter()
            server = stack.enter_context(VLLMServer(args.model, python=args.python))
            print(f"started vLLM (pid {server.pid}) in {time.perf_counter() - started:.0f} s")
            base_url = server.base_url
        run(base_url, args.n_serial, args.n_concurrent)


if __name__ == "__main__":
    main()
