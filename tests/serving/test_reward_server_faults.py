"""``python -m rlaif.serve`` when things go wrong: a judge that fails (a scripted OpenAI-compatible server on
127.0.0.1 behind ``judge=vllm``), and SIGTERM while a request is in flight."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.judges._flaky_server import FlakyServer
from tests.nova.payloads import POLITE_SHORT, sagemaker_sample
from tests.serving._serve import Served

PROMPT = "What is the capital of France?"
ANSWER = " Paris is the capital of France."
ROLLOUT = {"query": [PROMPT + ANSWER], "prompts": [PROMPT], "labels": ["Paris"]}
# One attempt and one retry per judge request, at once; nothing cached, no pre-flight request.
FAST_JUDGE = (
    "check_judge=false",
    "judge.policy.max_retries=1",
    "judge.policy.backoff_initial_s=0.01",
    "judge.policy.backoff_max_s=0.01",
    "judge.policy.backoff_jitter_s=0",
    "judge.policy.cache=false",
)


@pytest.fixture
def judge_server(tmp_path: Path) -> Iterator[tuple[FlakyServer, Path]]:
    with FlakyServer(("500",) * 8 + ("hang",), default="ok") as flaky:
        yield flaky, tmp_path / "run"


def serving(flaky: FlakyServer, run_dir: Path) -> Served:
    return Served(run_dir, "judge=vllm", f"judge.base_url={flaky.url}", "failure_score=0.25", *FAST_JUDGE).wait_ready(
        120
    )


def metric_values(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{url}/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_judge_failure_gets_the_failure_value_counted(judge_server: tuple[FlakyServer, Path]) -> None:
    flaky, run_dir = judge_server
    served = serving(flaky, run_dir)
    try:
        reply = httpx.post(f"{served.url}/get_reward", json=ROLLOUT, timeout=60).json()
        # two criteria, each tried twice: all four attempts failed
        assert reply == {"rewards": [0.25], "scores": [0.25], "extra_logs": {"judge_failed": [1.0]}}
        (line,) = [json.loads(x) for x in (run_dir / "rewards.jsonl").read_text().splitlines()]
        assert line["score"] is None and line["error"]  # the run folder keeps the failure as a failure

        nova = httpx.post(f"{served.url}/nova", json=[sagemaker_sample("n-1", POLITE_SHORT)], timeout=60).json()
        assert nova[0]["aggregate_reward_score"] == 0.5  # the Lambda's neutral value, whatever failure_score is
        assert {"name": "judge_error", "value": 1.0, "type": "Metric"} in nova[0]["metrics_list"]

        values = metric_values(served.url)
        assert values[("rlaif_serve_failed_answers_total", (("endpoint", "get_reward"),))] == 1
        assert values[("rlaif_serve_failed_answers_total", (("endpoint", "nova"),))] == 1
        assert values[("rlaif_judge_failures_total", ())] == 4  # four judge requests, each failed twice
        assert flaky.hits == 8
    finally:
        assert served.stop() == 0


def test_sigterm_lets_the_request_in_flight_finish(judge_server: tuple[FlakyServer, Path]) -> None:
    flaky, run_dir = judge_server
    flaky.script = ["hang"]  # the first judge request hangs until released; every other one is answered
    served = serving(flaky, run_dir)
    reply: dict[str, Any] = {}

    def client() -> None:
        response = httpx.post(f"{served.url}/get_reward", json=ROLLOUT, timeout=120)
        reply.update(status=response.status_code, body=response.json())

    thread = threading.Thread(target=client)
    thread.start()
    _wait(lambda: flaky.hits >= 2)  # both criteria's requests reached the judge; one of them hangs
    served.process.terminate()  # SIGTERM
    _wait(lambda: not served.listening())  # the server stopped taking connections ...
    assert served.process.poll() is None and thread.is_alive()  # ... and still holds the request in flight
    flaky.released.set()  # the hung request's connection closes; its retry is answered
    thread.join(60)
    assert reply["status"] == 200 and reply["body"]["extra_logs"]["judge_failed"] == [0.0]
    assert served.process.wait(60) == 0
    assert (run_dir / "judge_metrics.json").is_file()  # the judge was closed and its totals written


def _wait(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
