"""What docs/contracts.md promises of the Judge engine and docs/failures.md of its metrics, with scripted
in-process transports: the breaker ignores permanent errors, the cache key covers every field that shapes a
reply, a call served from the cache logs no latency, a server start is outside the attempt timeout, and any
other exception from send is a failure that is not retried."""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace
from typing import Any

import pytest

from rlaif.judges._cache import request_key
from rlaif.judges.base import Judge
from rlaif.judges.protocol import JudgeRequest, PermanentJudgeError, TransientJudgeError, TransportResult
from rlaif.rewards.rubric import RubricReward
from tests.rewards.scripted import FAST_POLICY, Recorder, ScriptedTransport, yes_no

FAST = {"backoff_initial_s": 0.001, "backoff_max_s": 0.002, "backoff_jitter_s": 0.0, "timeout_s": 0.5}


class Outcomes:
    """A transport that answers from a list of outcomes (an exception is raised, text is returned)."""

    def __init__(self, outcomes: list[Any]) -> None:
        self.outcomes, self.calls = list(outcomes), 0

    @property
    def identity(self) -> str:
        return "outcomes:test"

    async def send(self, request: JudgeRequest) -> TransportResult:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if isinstance(outcome, Exception):
            raise outcome
        return TransportResult(text=outcome)

    async def aclose(self) -> None:
        pass


def req(text: str) -> JudgeRequest:
    return JudgeRequest.chat([{"role": "user", "content": text}], max_tokens=4)


def test_permanent_errors_neither_count_toward_the_breaker_nor_reset_it() -> None:
    transient, permanent = TransientJudgeError("503"), PermanentJudgeError("400")
    transport = Outcomes([transient, permanent, permanent, permanent, transient])
    judge = Judge(transport, {**FAST, "max_retries": 0, "breaker_threshold": 2, "breaker_cooldown_s": 60.0})
    for i in range(5):  # one at a time: 1 transient, 3 permanent (not counted, no reset), 1 transient: open
        judge.generate([req(str(i))])
    [after] = judge.generate([req("next")])
    assert transport.calls == 5 and "CircuitOpenError" in (after.error or "")
    judge.close()


def test_the_cache_key_covers_the_identity_and_every_field_that_shapes_the_reply() -> None:
    base = JudgeRequest.chat([{"role": "user", "content": "q"}])
    variants = [
        replace(base, messages=({"role": "user", "content": "q2"},)),
        replace(base, max_tokens=8),
        replace(base, temperature=0.7),
        replace(base, json_schema={"type": "object"}),
        replace(base, choices=("yes", "no")),
        replace(base, logprobs=True),
        replace(base, top_logprobs=5),
    ]
    keys = {request_key("judge:a", base), request_key("judge:b", base), *(request_key("judge:a", v) for v in variants)}
    assert len(keys) == 2 + len(variants) and all(len(k) == 64 for k in keys)  # SHA-256 hex digests
    assert request_key("judge:a", replace(base, affinity="question")) == request_key("judge:a", base)  # routing only


def test_a_call_served_wholly_from_the_cache_logs_no_latency() -> None:
    transport = ScriptedTransport(lambda request: yes_no(0.9))
    judge = Judge(transport, {**FAST_POLICY, "cache": True})
    reward = RubricReward(judge, {"name": "t", "criteria": [{"id": "ok", "question": "Is it fine?"}]})
    recorder = Recorder()
    for _ in range(2):  # the same answer twice: the second call's request is a cache hit
        asyncio.run(reward(prompts=[[{"role": "user", "content": "q"}]], completions=["a"], **recorder.kwargs()))
    assert len(transport.requests) == 1 and recorder.metrics["judge/cache_hits"] == [0.0, 1.0]
    assert recorder.metrics["judge/requests"] == [1.0, 1.0] and recorder.metrics["judge/rate_limit_wait_s"] == [
        0.0,
        0.0,
    ]
    assert len(recorder.metrics["judge/latency_p50_s"]) == 1 and len(recorder.metrics["judge/latency_p95_s"]) == 1
    assert all(not math.isnan(v) for v in recorder.metrics["judge/latency_p50_s"])


class SlowStart(Outcomes):
    """A transport that starts its own server: ``astart`` takes longer than one attempt may."""

    def __init__(self, start_s: float, fail: bool = False) -> None:
        super().__init__([])
        self.start_s, self.fail, self.starts = start_s, fail, 0

    async def astart(self) -> None:
        self.starts += 1
        await asyncio.sleep(self.start_s)
        if self.fail:
            raise RuntimeError("server exited with code 1")


def test_a_slow_server_start_is_outside_the_attempt_timeout_and_a_failed_one_fails_the_batch() -> None:
    transport = SlowStart(start_s=0.12)  # longer than timeout_s (0.05), shorter than the batch deadline
    judge = Judge(transport, {**FAST, "timeout_s": 0.05, "batch_deadline_s": 5.0, "max_retries": 0})
    assert all(r.ok for r in judge.generate([req("a"), req("b")])) and transport.starts == 1
    judge.close()
    broken = SlowStart(start_s=0.0, fail=True)
    judge = Judge(broken, {**FAST, "max_retries": 3})
    responses = judge.generate([req("a"), req("b")])
    assert broken.calls == 0 and all("judge backend failed to start" in (r.error or "") for r in responses)
    judge.close()


def test_any_other_exception_from_send_is_a_failure_and_not_retried() -> None:
    transport = Outcomes([ValueError("a bug in the transport")])
    judge = Judge(transport, {**FAST, "max_retries": 3})
    [response] = judge.generate([req("a")])  # nothing raised into the caller
    assert transport.calls == 1 and response.error == "ValueError: a bug in the transport"
    judge.close()


def test_a_reply_without_usage_and_a_failed_attempt_keep_their_token_estimate() -> None:
    # docs/rate_limits.md: the estimate stands unless a reply reports its usage. A fixed clock: no refill.
    from rlaif.judges.rate_limits import RateLimits, estimate_tokens

    request = JudgeRequest.chat([{"role": "user", "content": "x" * 40}], max_tokens=10)  # 10 + 10 tokens
    judge = Judge(Outcomes([PermanentJudgeError("400"), "no usage"]), {**FAST, "max_retries": 0})
    judge._limits = limits = RateLimits(None, 6000, clock=lambda: 0.0)  # 100 tokens/s, capacity 100
    assert limits.tokens is not None and estimate_tokens(request) == 20
    levels = []
    for i in range(2):  # the failed attempt, then a reply without usage
        judge.generate([replace(request, temperature=0.1 * i)])
        levels.append(limits.tokens.level)
    assert levels == [pytest.approx(80.0), pytest.approx(60.0)]
    limits.settle(20, TransportResult(text="used 5", tokens_in=3, tokens_out=2))  # a reported usage corrects it
    assert limits.tokens.level == pytest.approx(75.0)
    judge.close()


def test_the_pre_flight_probe_takes_its_share_of_the_quota() -> None:
    from rlaif.judges.rate_limits import RateLimits

    judge = Judge(Outcomes(["pong"]), FAST)
    judge._limits = limits = RateLimits(600, None, clock=lambda: 0.0)  # 10 requests/s, capacity 10; no refill
    assert limits.requests is not None
    assert judge.probe(req("ping"), timeout_s=1.0).ok
    assert limits.requests.level == pytest.approx(9.0)
    judge.close()


class Recording(Outcomes):
    """Answers every request and records the order in which they were sent."""

    def __init__(self) -> None:
        super().__init__([])
        self.sent: list[str] = []

    async def send(self, request: JudgeRequest) -> TransportResult:
        self.sent.append(str(request.messages[0]["content"]))
        return await super().send(request)


def test_waiters_for_the_quota_are_served_first_come_first_served() -> None:
    # docs/rate_limits.md: a large request is not starved by small ones that would fit sooner.
    transport = Recording()
    judge = Judge(transport, {**FAST, "max_tpm": 6000, "max_concurrency": 8})  # 100 tokens/s, capacity 100
    big = [JudgeRequest.chat([{"role": "user", "content": n}], max_tokens=t) for n, t in (("big1", 96), ("big2", 20))]
    small = [JudgeRequest.chat([{"role": "user", "content": f"s{i}"}], max_tokens=1) for i in range(3)]
    assert all(r.ok for r in judge.generate([*big, *small]))  # big2 (21) waits ~0.2 s; s0 (2) would fit now
    assert transport.sent == ["big1", "big2", "s0", "s1", "s2"]
    judge.close()
