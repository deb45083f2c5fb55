"""The reward server's throughput against the reward called in-process, on the same judge.

    python benchmarks/serve_throughput.py [--answers 32] [--clients 16] [--repeats 4] [--window-ms 50] [OVERRIDES ...]

Side A: ``python -m rlaif.serve`` (a subprocess on 127.0.0.1), ``--clients`` concurrent clients posting one
OpenRLHF request each (one answer per request, as OpenRLHF's single-turn executor sends them) until
``--answers`` are scored. Side B: the same config's reward opened in this process (``open_reward``, the code
the server runs), all the answers in one ``score_batch`` call, as a trainer holding the reward would call it.
Both build the judge from the same overrides (default ``judge=local``, the packaged model), with the response
cache off, and every run scores answers of its own (no run can reuse another's work). Sides alternate A B B A
(benchmarks/abba.py); printed: answers/s per run, and the ratio server/in-process per repeat with its median and
range.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from abba import Ratio, timed_rounds

from rlaif.integrations.in_process import open_reward

QUESTION = "What is the capital of France?"


def answers_for(side: str, k: int, n: int) -> list[str]:
    return [f"Paris is the capital of France ({side} run {k}, answer {i})." for i in range(n)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(overrides: list[str], run_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "rlaif.serve", f"port={port}", f"hydra.run.dir={run_dir}", *overrides]
    log = run_dir.with_suffix(".log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"rlaif.serve exited {process.returncode}; see {log.name}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("rlaif.serve did not start in 300 s")


async def through_server(url: str, answers: list[str], clients: int) -> None:
    slots = asyncio.Semaphore(clients)
    async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=clients)) as client:

        async def one(answer: str) -> None:
            async with slots:
                body = {"query": [f"{QUESTION} {answer}"], "prompts": [QUESTION], "labels": ["Paris"]}
                response = await client.post(f"{url}/get_reward", json=body)
                response.raise_for_status()
                if response.json()["extra_logs"]["judge_failed"] != [0.0]:
                    raise SystemExit("the judge failed: the timing would not be of scoring")

        await asyncio.gather(*(one(answer) for answer in answers))


def batch_sizes(run_dir: Path) -> list[int]:
    """Answers per server batch, from its rewards.jsonl (one step per batch), warm-up included."""
    steps = [json.loads(line)["step"] for line in (run_dir / "rewards.jsonl").read_text().splitlines()]
    return [steps.count(step) for step in sorted(set(steps))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=32)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--window-ms", type=float, default=50.0, help="the server's batch.window_ms")
    parser.add_argument("overrides", nargs="*", default=["judge=local"])
    args = parser.parse_args()
    overrides = [*args.overrides, "++judge.policy.cache=false"]
    folder = Path(tempfile.mkdtemp(prefix="serve_throughput_"))
    process, url = start_server([*overrides, f"batch.window_ms={args.window_ms}"], folder / "server")
    try:
        with open_reward(*overrides, run_dir=folder / "in_process") as reward:

            def server_run(k: int) -> None:
                asyncio.run(through_server(url, answers_for("server", k, args.answers), args.clients))

            def in_process_run(k: int) -> None:
                answers = answers_for("in-process", k, args.answers)
                scored = asyncio.run(
                    reward.score_batch([QUESTION] * len(answers), answers, reference_answer=["Paris"] * len(answers))
                )
                if any(score is None for score in scored.scores):
                    raise SystemExit("the judge failed: the timing would not be of scoring")

            server_run(-1), in_process_run(-1)  # warm-up: first batches, client connections
            server_s, in_process_s = timed_rounds([server_run, in_process_run], args.repeats)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(120)
    n = args.answers
    print(f"judge: {' '.join(overrides)}; {n} answers per run; server: {args.clients} clients, 1 answer per request,")
    print(f"batch.window_ms={args.window_ms}; judge batches (answers each): {batch_sizes(folder / 'server')}")
    for k, (a, b) in enumerate(zip(server_s, in_process_s, strict=True)):
        print(
            f"repeat {k + 1}: server {n / a:6.1f} answers/s ({a:.2f} s)   in-process {n / b:6.1f} answers/s ({b:.2f} s)"
        )
    ratio = Ratio([n / a for a in server_s], [n / b for b in in_process_s])
    print(
        f"server / in-process throughput: median {ratio.median:.2f}x, range {ratio.low:.2f}-{ratio.high:.2f}x "
        f"over {args.repeats} repeats (run folders in {folder})"
    )


if __name__ == "__main__":
    main()
