"""Failover of a pool of judge endpoints: two real vLLM servers, one killed (SIGKILL) during a batch and
started again on its address while the batches go on.

    RLAIF_VLLM_PYTHON=/path/to/vllm-venv/bin/python python benchmarks/judge_failover.py [--cycles 2]

Each batch is a rubric-shaped workload: 8 questions x 4 answers, yes/no with first-token log-probabilities,
each question's answers sharing an affinity, as the rewards send them. Per kill-and-restart cycle it prints:
the batch latency with both endpoints up (median), of the batch during which one was killed (the longest
any verdict waited), with one endpoint left (median), failed verdicts, requests failed over, and the time
from the restarted server answering to its first traffic (bounded by the pool's probe interval). Both
servers share this machine's cores, so "one left" is not slower by half here as it would be on two GPUs.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import threading
import time
from typing import Any

from rlaif.data.models import packaged_model_dir
from rlaif.judges.pool import JudgePool, pool_judge
from rlaif.judges.protocol import JudgeRequest
from rlaif.judges.serving.vllm_server import VLLMServer

PROBE_INTERVAL_S = 2.0
ENDPOINT = {
    "_target_": "rlaif.judges.backends.openai_compat.openai_judge",
    "model": "judge",
    "policy": {
        "timeout_s": 60.0,
        "max_retries": 1,
        "backoff_initial_s": 0.5,
        "max_concurrency": 32,
        "breaker_threshold": 64,
    },
}


def batch(k: int) -> list[JudgeRequest]:
    requests = []
    for q in range(8):
        question = f"Batch {k}, question {q}: name a colour of the sky."
        for a in range(4):
            user = f"Does the answer name a colour? Answer yes or no.\nQuestion: {question}\nAnswer: colour {a}"
            requests.append(
                JudgeRequest.chat(
                    [{"role": "user", "content": user}],
                    max_tokens=1,
                    choices=("yes", "no"),
                    logprobs=True,
                    affinity=question,
                )
            )
    return requests


def timed(pool: JudgePool, k: int) -> tuple[float, int, dict[str, float]]:
    started = time.perf_counter()
    responses = pool.generate(batch(k))
    elapsed = time.perf_counter() - started
    return elapsed, sum(not r.ok for r in responses), pool.metrics.drain()


def _core(k: int) -> dict[str, str]:
    cores = sorted(os.sched_getaffinity(0))
    return {"VLLM_CPU_OMP_THREADS_BIND": str(cores[k % len(cores)])}


def kill(server: VLLMServer) -> None:
    assert server.pid is not None
    os.killpg(server.pid, signal.SIGKILL)  # a crash, not a clean stop: no connection is closed politely


def cycle(pool: JudgePool, servers: list[VLLMServer], k: int) -> tuple[dict[str, Any], int, VLLMServer]:
    both = []
    for _ in range(4):
        elapsed, failed, _ = timed(pool, k := k + 1)
        both.append(elapsed)
    victim = servers[1]
    killer = threading.Timer(min(both) / 3, kill, args=(victim,))
    killer.start()
    kill_batch, failed_total, metrics = timed(pool, k := k + 1)
    failovers = metrics["failovers"]
    killer.join()
    replacement = VLLMServer(victim.model, python=victim.python, port=victim.port, cpu_threads=1, env=_core(1))
    ready: list[float] = []  # when the restarted server answered

    def restart() -> None:
        try:
            replacement.start()
        except Exception as exc:  # said, and the loop below ends, instead of batches on one endpoint forever
            ready.append(float("nan"))
            raise SystemExit(f"the killed server did not start again: {exc}") from exc
        ready.append(time.perf_counter())

    threading.Thread(target=restart, daemon=True).start()
    one_left, back_in_s = [], None
    while back_in_s is None:
        elapsed, failed, metrics = timed(pool, k := k + 1)
        failed_total += failed
        failovers += metrics["failovers"]
        if not ready:
            one_left.append(elapsed)
        elif ready[0] != ready[0]:  # NaN: the restart failed
            raise RuntimeError("the killed server did not start again (see above)")
        elif metrics["e2/requests"] > 0:  # probes are not counted: this is traffic
            back_in_s = time.perf_counter() - ready[0]  # to the end of its first batch of traffic
    result = {
        "both_up_s": statistics.median(both),
        "kill_batch_s": kill_batch,
        "one_left_s": statistics.median(one_left) if one_left else float("nan"),
        "failed": failed_total,
        "failovers": failovers,
        "back_in_s": back_in_s,
    }
    return result, k, replacement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=2)
    args = parser.parse_args()
    model = str(packaged_model_dir())
    # One core each, as one GPU each would be: left to itself every server binds the first core.
    servers = [VLLMServer(model, cpu_threads=1, env=_core(k)).start() for k in range(2)]
    pool = pool_judge(
        [s.base_url for s in servers],
        endpoint=ENDPOINT,
        probe_interval_s=PROBE_INTERVAL_S,
        load_factor=1.25,
        policy={"cache": False},
    )
    k, results = 0, []
    try:
        timed(pool, 10_000)  # warm both servers (the first requests after start-up are slow)
        for _ in range(args.cycles):
            result, k, servers[1] = cycle(pool, servers, k)
            results.append(result)
    finally:
        pool.close()
        for server in servers:
            server.stop()
    print(f"pool of 2 vLLM CPU servers (packaged judge), 32 requests per batch, probe every {PROBE_INTERVAL_S:.0f} s")
    header = ("cycle", "both up s", "kill batch s", "one left s", "failed", "failovers", "back in s")
    print(" | ".join(header))
    for n, r in enumerate(results, 1):
        print(
            f"{n} | {r['both_up_s']:.2f} | {r['kill_batch_s']:.2f} | {r['one_left_s']:.2f} | {r['failed']} | "
            f"{r['failovers']:.0f} | {r['back_in_s']:.2f}"
        )


if __name__ == "__main__":
    main()
