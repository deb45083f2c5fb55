"""Per-judge rate limits (judge.policy.max_rpm / max_tpm): the bucket on a fake clock, then a real OpenAI-compatible
server on 127.0.0.1 that counts what it receives, on its own clock. Rates are only ever bounded by the limit
itself: a quota is an upper bound, and the lower bound says the limiter does not throttle below it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from rlaif.errors import ConfigError
from rlaif.judges.backends.openai_compat import openai_judge
from rlaif.judges.base import Judge
from rlaif.judges.limits import JudgePolicy
from rlaif.judges.protocol import JudgeRequest, TransportResult
from rlaif.judges.rate_limits import BURST_S, TokenBucket, estimate_tokens
from tests._entry_point import run_train
from tests.judges._flaky_server import FlakyServer

# Only the rate limits pace these judges: no backoff to speak of, no breaker, no cache, room for every request.
QUICK = {
    "backoff_initial_s": 0.001,
    "backoff_max_s": 0.002,
    "backoff_jitter_s": 0.0,
    "breaker_threshold": 1000,
    "max_concurrency": 128,
    "cache": False,
}
TOLERANCE = 0.05


def req(text: str, max_tokens: int = 4) -> JudgeRequest:
    return JudgeRequest.chat([{"role": "user", "content": text}], max_tokens=max_tokens)


def received(server: FlakyServer) -> list[float]:
    return sorted(server.times)  # threads append near, not in, the order they received


def settled(server: FlakyServer, after: int | None = None, settle_s: float = 1.0) -> list[float]:
    """Receive times once the first second's burst is spent: of the requests numbered ``after`` or later (the
    judge admits them in order, so a burst request that reached the server late is not taken for a later one),
    else of those received ``settle_s`` after the first."""
    if after is None:
        times = received(server)
        return [t for t in times if t >= times[0] + settle_s]
    texts = [str(body["messages"][-1]["content"]) for body in server.bodies]
    return sorted(t for t, text in zip(server.times, texts, strict=True) if int(text[:3]) >= after)


def steady_rate(times: Sequence[float], each: float) -> float:
    """Units per second over ``times``: what arrived after the first, over the time since."""
    return each * (len(times) - 1) / (times[-1] - times[0])


def worst_excess(times: Sequence[float], each: float, rate_per_s: float) -> float:
    """Over every window between two receives, the most that arrived beyond ``rate_per_s`` (+5 %) x its length."""
    return max(
        each * (j - i + 1) - (1 + TOLERANCE) * rate_per_s * (times[j] - times[i])
        for i in range(len(times))
        for j in range(i, len(times))
    )


def assert_within_limit(
    server: FlakyServer, steady: Sequence[float], each: float, rate_per_s: float, times: Sequence[float] | None = None
) -> None:
    """The limit held, as the server saw it: no window of the settled run over the rate (+5 %) by more than two
    requests (a window's two ends both count, and one request may reach the server late, after a stall), and
    the whole run within the rate plus one second's burst (its first receive may lag its admission by the
    client's start-up: the 5 % covers that too)."""
    assert worst_excess(steady, each, rate_per_s) <= 2 * each
    times = times if times is not None else received(server)
    assert each * len(times) <= (1 + TOLERANCE) * rate_per_s * (times[-1] - times[0]) + rate_per_s * BURST_S + each


# -- the bucket, on a fake clock --------------------------------------------------------------------------


def greedy(bucket: TokenBucket, cost: float, seconds: float) -> int:
    """How many requests of ``cost`` a client that always has one waiting gets through in ``seconds``."""
    now, count = 0.0, 0
    while True:
        now += bucket.wait_s(cost, now)
        if now >= seconds:
            return count
        bucket.take(cost, now)
        count += 1


def test_a_minute_admits_the_limit_plus_one_second_not_twice_the_limit() -> None:
    admitted = greedy(TokenBucket(600, now=0.0), 1, 60.0)
    assert 600 <= admitted <= 600 + 10 * BURST_S  # 610: the first second's burst of 10, then 10/s
    # What a bucket holding a whole minute would do (the reason for the one-second capacity): twice the limit.
    assert greedy(TokenBucket(600, now=0.0, burst_s=60.0), 1, 60.0) >= 1190
    # Any window, not just the first minute: 30 s starting mid-run hold the rate exactly.
    bucket = TokenBucket(600, now=0.0)
    greedy(bucket, 1, 10.0)
    now, count = 10.0, 0
    while (now := now + bucket.wait_s(1, now)) < 40.0:
        bucket.take(1, now)
        count += 1
    assert count == pytest.approx(300, abs=1)


def test_a_request_above_the_capacity_waits_for_a_full_bucket_then_goes_into_debt() -> None:
    bucket = TokenBucket(600, now=0.0)  # 10 tokens/s, capacity 10
    assert bucket.capacity == 10
    bucket.take(4, 0.0)
    assert bucket.wait_s(50, 0.0) == pytest.approx(0.4)  # refill to 10, not to 50: never refused
    bucket.take(50, 0.4)
    assert bucket.level == pytest.approx(-40)
    assert bucket.wait_s(5, 0.4) == pytest.approx(4.5)  # the debt is paid before the next request


def test_corrections_charge_into_debt_and_refund_up_to_the_capacity() -> None:
    bucket = TokenBucket(6000, now=0.0)  # 100 tokens/s, capacity 100
    bucket.take(20, 0.0)
    bucket.adjust(180, 0.0)  # the reply used 200, not 20
    assert bucket.level == pytest.approx(-100) and bucket.wait_s(20, 0.0) == pytest.approx(1.2)
    bucket.adjust(-500, 0.0)  # a refund larger than the debt fills the bucket, no more: no hoarded burst
    assert bucket.level == pytest.approx(100)


def test_tokens_are_estimated_from_the_prompt_and_max_tokens() -> None:
    request = JudgeRequest.chat(
        [{"role": "system", "content": "x" * 40}, {"role": "user", "content": "y" * 21}], max_tokens=30
    )
    assert estimate_tokens(request) == 16 + 30  # 61 characters at 4 per token, rounded up


# -- through a judge ----------------------------------------------------------------------------------------


class SleepyTransport:
    """Answers after ``delay_s``, reporting ``used`` tokens; counts its calls."""

    def __init__(self, delay_s: float = 0.01, used: tuple[int, int] = (3, 1)) -> None:
        self.delay_s, self.used, self.calls = delay_s, used, 0

    @property
    def identity(self) -> str:
        return "sleepy:test"

    async def send(self, request: JudgeRequest) -> TransportResult:
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        return TransportResult(text="ok", tokens_in=self.used[0], tokens_out=self.used[1])

    async def aclose(self) -> None:
        pass


def test_no_limit_leaves_the_judge_as_it_was() -> None:
    judge = Judge(SleepyTransport(), {**QUICK})
    assert all(r.ok for r in judge.generate([req(str(i)) for i in range(40)]))
    assert judge.metrics.totals()["rate_limit_wait_s"] == 0.0 and not judge._limits.active
    judge.close()


def test_waiting_for_the_quota_does_not_count_against_the_attempt_timeout() -> None:
    transport = SleepyTransport()
    judge = Judge(transport, {**QUICK, "timeout_s": 0.3, "max_rpm": 120})  # 2/s: the 4th waits about 1 s
    responses = judge.generate([req(str(i)) for i in range(4)])
    assert [r.ok for r in responses] == [True] * 4, [r.error for r in responses]
    assert judge.metrics.totals()["rate_limit_wait_s"] > 0.3  # longer than one attempt may take
    judge.close()


def test_a_quota_that_cannot_serve_before_the_deadline_fails_those_requests_at_once() -> None:
    transport = SleepyTransport()
    judge = Judge(transport, {**QUICK, "max_rpm": 60, "batch_deadline_s": 0.5, "max_retries": 3})  # 1 request/s
    first, *late = judge.generate([req(str(i)) for i in range(3)])
    assert first.ok and transport.calls == 1
    for response in late:  # the next slot is 1 s away, past the 0.5 s deadline: nothing waits for it
        assert not response.ok and response.attempts == 1 and response.retryable
        assert "RateLimitDeadlineError: batch deadline exceeded" in (response.error or "")
    judge.close()


@pytest.mark.parametrize(("key", "value"), [("max_rpm", 0), ("max_tpm", -100), ("max_rpm", "fast")])
def test_a_limit_must_be_a_positive_number(key: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=rf"^judge\.policy\.{key}: input should be"):
        JudgePolicy.parse({key: value})
    assert JudgePolicy.parse({"max_rpm": 600, "max_tpm": 1e6}).max_tpm == 1e6


def test_a_zero_limit_on_the_command_line_exits_2_naming_the_key(tmp_path: Any) -> None:
    result = run_train(f"hydra.run.dir={tmp_path / 'run'}", "judge.policy.max_rpm=0", timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "judge.policy.max_rpm: input should be greater than 0, got 0" in result.stdout + result.stderr


# -- against a real endpoint, counted on the server's clock -----------------------------------------------------


def test_requests_per_minute_hold_over_the_window(flaky: Callable[..., FlakyServer]) -> None:
    server = flaky()
    judge = openai_judge(server.url, policy={**QUICK, "max_rpm": 600})  # 10/s, a burst of 10
    responses = judge.generate([req(f"{i:03d}") for i in range(45)])
    assert all(r.ok for r in responses)
    steady = settled(server, after=12)  # the 10 of the burst, then one every 0.1 s
    assert steady_rate(steady, 1) == pytest.approx(10.0, rel=TOLERANCE)
    assert_within_limit(server, steady, 1, 10.0)
    assert judge.metrics.totals()["rate_limit_wait_s"] > 0
    judge.close()


def test_tokens_per_minute_hold_over_the_window_as_the_replies_report_them(flaky: Callable[..., FlakyServer]) -> None:
    server = flaky(default="usage:50:10")  # every reply reports 60 tokens
    request_text = "x" * 200
    assert estimate_tokens(req(request_text, max_tokens=30)) == 80  # estimated 80: each reply refunds 20
    judge = openai_judge(server.url, policy={**QUICK, "max_tpm": 60_000})  # 1000 tokens/s, a burst of 1000
    responses = judge.generate([req(f"{i:03d}{request_text[3:]}", max_tokens=30) for i in range(70)])
    assert all(r.ok and r.tokens_in + r.tokens_out == 60 for r in responses)
    steady = settled(server, after=20)  # the burst: about 1000 / 60 requests
    # Paced by what the replies used (60 a request), not by the estimate (80), which would give 750 tokens/s.
    assert steady_rate(steady, 60) == pytest.approx(1000.0, rel=TOLERANCE)
    assert_within_limit(server, steady, 60, 1000.0)
    judge.close()


def test_a_429_storm_does_not_raise_the_request_rate(flaky: Callable[..., FlakyServer]) -> None:
    server = flaky(["ok"] + ["429", "429", "429", "ok"] * 12)  # three of every four attempts are throttled
    judge = openai_judge(server.url, policy={**QUICK, "max_rpm": 600, "max_retries": 50})
    # The client's start-up (its first connection) is paid before the clock starts: on a loaded 2-core CI machine
    # it once delayed the burst's receives by ~0.4 s, squeezing them into a shorter window than they were admitted
    # in. Then the bucket refills, and the storm starts from a full one-second burst as a cold start would.
    assert judge.generate([req("warm-up")])[0].ok
    time.sleep(1.2)
    responses = judge.generate([req(f"{i:03d}") for i in range(12)])
    assert all(r.ok for r in responses) and server.hits == 1 + 48  # every retry reached the server...
    assert judge.metrics.totals()["retries"] == 36
    times = received(server)[1:]
    steady = [t for t in times if t >= times[0] + 1.0]  # retries are not numbered: the receives after 1 s
    assert steady_rate(steady, 1) <= 10.0 * (1 + TOLERANCE)  # ...no faster than the quota allows
    assert_within_limit(server, steady, 1, 10.0, times)
    judge.close()


def test_a_reply_that_used_more_than_estimated_delays_the_next_requests(flaky: Callable[..., FlakyServer]) -> None:
    policy = {**QUICK, "max_tpm": 6000}  # 100 tokens/s, capacity 100
    first, second = req("first"), req("second")
    server = flaky(["usage:190:10"])  # the first reply used 200 tokens, far more than its estimate of 6
    judge = openai_judge(server.url, policy=policy)
    judge.generate([first])
    judge.generate([second])
    # After the first: 100 - 200 = -100 tokens; the second needs its estimate back: (100 + 6) / 100 s later.
    owed_s = (200 - 100 + estimate_tokens(second)) / 100
    t1, t2 = received(server)
    # The first receive may lag its admission by the client's start-up (building it, connecting): 20 % slack for
    # that; without the correction the two would arrive milliseconds apart.
    assert t2 - t1 >= owed_s * 0.8
    assert judge.metrics.totals()["rate_limit_wait_s"] >= owed_s * 0.5
    judge.close()

    control = flaky()  # the same two requests, with replies that report 8 tokens: no debt, no wait at all
    judge = openai_judge(control.url, policy=policy)
    judge.generate([first])
    judge.generate([second])
    assert control.hits == 2 and judge.metrics.totals()["rate_limit_wait_s"] == 0.0
    judge.close()
