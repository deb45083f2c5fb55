"""Fault injection at the judge and reward level, against misbehaving servers on 127.0.0.1.

An OpenAI-compatible server (``_flaky_server.py``) and a Bedrock Converse one (``converse_server.py``,
driven by real boto3) rate-limit, hang, die mid-batch or answer with garbage and out-of-range values.
Whatever they do, the judge returns per-request failures within its limits and a reward turns them into
``None`` (a counted failure), never into a pass. Each test has a hard timeout; none asserts on time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rlaif.judges.backends.bedrock import bedrock_judge
from rlaif.judges.backends.openai_compat import openai_judge
from rlaif.judges.base import Judge
from rlaif.judges.protocol import JudgeRequest
from rlaif.rewards.preference import PreferenceReward
from rlaif.rewards.rubric import RubricReward
from tests.judges._flaky_server import FlakyServer
from tests.judges.converse_server import ConverseServer, Reply

FAST = {
    "timeout_s": 5.0,
    "batch_deadline_s": 30.0,
    "max_retries": 3,
    "backoff_initial_s": 0.01,
    "backoff_max_s": 0.02,
    "backoff_jitter_s": 0.0,
    "breaker_threshold": 1000,
    "cache": False,
}
RUBRIC = {
    "name": "t",
    "criteria": [
        {"id": "relevant", "question": "It answers the question.", "weight": 3.0, "required": True},
        {"id": "short", "question": "It is short.", "weight": 1.0},
    ],
}
SPEC = {"instruction": "The better answer is correct and short."}
PROMPT = [{"role": "user", "content": "How do I boil an egg?"}]
ANSWERS = ["Boil it for 9 minutes.", "Put it in boiling water for about nine minutes."]
REFERENCE = "Simmer it for 8 to 10 minutes."


def req(text: str) -> JudgeRequest:
    return JudgeRequest.chat([{"role": "user", "content": text}], max_tokens=4)


def verdict(**items: Any) -> str:
    return "reply:" + json.dumps(items)


@pytest.fixture
def judges() -> Iterator[Callable[..., Judge]]:
    """Builds OpenAI-compatible judges (``url``) or Bedrock ones (``bedrock=server``); closes them all."""
    made: list[Judge] = []

    def make(url: str | None = None, bedrock: ConverseServer | None = None, **policy: Any) -> Judge:
        if bedrock is not None:
            judge = bedrock_judge(
                "us.amazon.nova-lite-v1:0", endpoint_url=bedrock.url, policy={**FAST, **policy}, read_timeout_s=20.0
            )
        else:
            judge = openai_judge(base_url=url, model="judge", policy={**FAST, **policy})
        made.append(judge)
        return judge

    yield make
    for judge in made:
        judge.close()


@pytest.fixture
def judge_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every ``asyncio.sleep`` requested (the judge's backoff among them); the sleeps still happen."""
    requested: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float, result: Any = None) -> Any:
        requested.append(delay)
        return await real_sleep(delay, result)

    monkeypatch.setattr(asyncio, "sleep", recording_sleep)
    return requested


def stop_when(count: Callable[[], int], hits: int, stop: Callable[[], None]) -> threading.Thread:
    """Stop a server from another thread once it has received ``hits`` requests (a judge dying mid-batch)."""

    def watch() -> None:
        while count() < hits:
            threading.Event().wait(0.01)
        stop()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


# -- rate limits: back off, succeed, and never exceed the concurrency cap --------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("action", ["429", "429_bare"])
def test_rate_limits_back_off_then_succeed_under_the_cap(
    flaky: Callable[..., FlakyServer], judges: Callable[..., Judge], judge_sleeps: list[float], action: str
) -> None:
    server = flaky((action,) * 12, default="slow", retry_after="0.25")
    judge = judges(server.url, max_concurrency=3, max_retries=12)
    responses = judge.generate([req(f"q{i}") for i in range(12)])
    assert all(r.ok for r in responses) and server.hits == 24
    assert judge.metrics.totals()["retries"] == 12
    assert 2 <= server.max_in_flight <= 3  # the cap is what the server saw, and requests did overlap
    if action == "429":
        assert max(judge_sleeps) >= 0.25  # the server's Retry-After, not the 20 ms backoff
    else:
        assert 0 < max(judge_sleeps) <= 0.02  # exponential backoff alone


@pytest.mark.timeout(60)
def test_bedrock_throttling_backs_off_then_succeeds_under_the_cap(
    aws_dummy_env: None, converse_server: ConverseServer, judges: Callable[..., Judge]
) -> None:
    throttled = Reply(code="ThrottlingException", status=429, message="Too many requests", hang_s=0.05)
    converse_server.script(*[throttled] * 8, *[Reply.hang(0.2, then="fine")] * 10)
    judge = judges(bedrock=converse_server, max_concurrency=3, max_retries=8)
    responses = judge.generate([req(f"q{i}") for i in range(10)])
    assert [r.text for r in responses] == ["fine"] * 10
    assert converse_server.count() == 18 and judge.metrics.totals()["retries"] == 8
    assert 2 <= converse_server.max_in_flight <= 3


# -- replies that are not a verdict: the answer's score is None, never a pass ----------------------

RUBRIC_GOOD = {
    "logprob": "ok",  # P(yes) from the top-logprobs the server lists
    "json": verdict(relevant={"reason": "r", "pass": True}, short={"reason": "r", "pass": True}),
}
RUBRIC_FAULTS = {
    "logprob": {
        "garbage": "garbage",
        "not-a-completion": "not_completion",
        "json-list": "json_list",
        "no-choices": "no_choices",
        "empty": "empty",
        "positive-logprob": 'top:{"yes": 0.5, "no": -1.0}',
        "nan-logprob": 'top:{"yes": NaN, "no": -1.0}',
        "infinite-logprobs": 'top:{"yes": -Infinity, "no": -Infinity}',
        "off-menu": 'top:{"The": -0.01, "yes": -7.0, "no": -8.0}',  # almost no mass on yes/no
    },
    "json": {
        "garbage": "garbage",
        "not-a-completion": "not_completion",
        "empty": "empty",
        "pass-is-a-string": verdict(relevant={"reason": "r", "pass": "yes"}, short={"reason": "r", "pass": True}),
        "pass-is-a-number": verdict(relevant={"reason": "r", "pass": 1}, short={"reason": "r", "pass": True}),
        "criterion-missing": verdict(relevant={"reason": "r", "pass": True}),
        "extra-criterion": verdict(
            relevant={"reason": "r", "pass": True}, short={"reason": "r", "pass": True}, extra={"pass": True}
        ),
        "field-outside-the-schema": verdict(
            relevant={"reason": "r", "pass": True, "score": 11}, short={"reason": "r", "pass": True}
        ),
        "prose": "reply:PASS",
    },
}
RUBRIC_CASES = [
    pytest.param(mode, action, id=f"{mode}-{name}")
    for mode, faults in RUBRIC_FAULTS.items()
    for name, action in {"well-formed": RUBRIC_GOOD[mode], **faults}.items()
]


def run_reward(reward: Any, **kwargs: Any) -> tuple[list[float | None], dict[str, float]]:
    logged: dict[str, float] = {}

    def log_metric(key: str, value: float) -> None:
        logged[key] = value

    completions = [[{"role": "assistant", "content": a}] for a in ANSWERS]
    scores = asyncio.run(
        reward(prompts=[PROMPT] * len(ANSWERS), completions=completions, log_metric=log_metric, **kwargs)
    )
    return scores, logged


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("mode", "action"), RUBRIC_CASES)
def test_rubric_reward_turns_bad_replies_into_counted_failures(
    flaky: Callable[..., FlakyServer], judges: Callable[..., Judge], mode: str, action: str
) -> None:
    server = flaky(default=action)
    reward = RubricReward(judges(server.url), RUBRIC, mode=mode, failures={"max_failure_rate": 1.0})
    scores, logged = run_reward(reward)
    if action == RUBRIC_GOOD[mode]:  # the baseline: the same path with a well-formed reply scores
        assert all(isinstance(s, float) and s > 0.5 for s in scores), scores
        assert logged["rubric/judge_failures"] == 0
        return
    assert scores == [None, None]
    assert reward.failures.failures == 2 and logged["rubric/judge_failures"] == 2
    assert logged["rubric/judge_failure_rate"] == 1.0


PREFERENCE_GOOD = 'top:{"A": -0.1, "B": -2.4}'
PREFERENCE_CASES = [
    pytest.param(PREFERENCE_GOOD, id="well-formed"),
    pytest.param("garbage", id="garbage"),
    pytest.param("not_completion", id="not-a-completion"),
    pytest.param("no_choices", id="no-choices"),
    pytest.param('top:{"A": 0.7, "B": -1.0}', id="positive-logprob"),
    pytest.param('top:{"A": NaN, "B": -1.0}', id="nan-logprob"),
    pytest.param('top:{"The": -0.01, "A": -7.0, "B": -8.0}', id="off-menu"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("action", PREFERENCE_CASES)
def test_preference_reward_turns_bad_replies_into_counted_failures(
    flaky: Callable[..., FlakyServer], judges: Callable[..., Judge], action: str
) -> None:
    server = flaky(default=action)
    reward = PreferenceReward(judges(server.url), SPEC, failures={"max_failure_rate": 1.0})
    scores, logged = run_reward(reward, reference_answer=[REFERENCE] * len(ANSWERS))
    assert server.hits == 4  # two answers, each against the reference in both orders
    if action == PREFERENCE_GOOD:  # "A" always preferred: each answer wins one order, loses the other
        assert scores == [pytest.approx(0.5), pytest.approx(0.5)] and logged["preference/judge_failures"] == 0
        return
    assert scores == [None, None]
    assert reward.failures.failures == 2 and logged["preference/judge_failures"] == 2


# Bedrock has no log-probabilities: the reply text must be one of the choices.
BEDROCK_CASES = [
    ("rubric", "yes", 1.0),
    ("rubric", "Yes, mostly", None),
    ("rubric", "", None),
    ("preference", "A", 0.5),  # "A" in both orders: each answer wins one and loses the other
    ("preference", "[[A]]", None),
    ("preference", "A, because it is shorter", None),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("kind", "text", "expected"), BEDROCK_CASES)
def test_bedrock_text_replies_off_the_menu_are_counted_failures(
    aws_dummy_env: None,
    converse_server: ConverseServer,
    judges: Callable[..., Judge],
    kind: str,
    text: str,
    expected: float | None,
) -> None:
    converse_server.script(*[Reply.ok(text)] * 4)
    judge = judges(bedrock=converse_server)
    if kind == "rubric":
        reward: Any = RubricReward(judge, RUBRIC, failures={"max_failure_rate": 1.0})
        scores, logged = run_reward(reward)
    else:
        reward = PreferenceReward(judge, SPEC, failures={"max_failure_rate": 1.0})
        scores, logged = run_reward(reward, reference_answer=[REFERENCE] * len(ANSWERS))
    assert converse_server.count() == 4
    assert scores == [expected, expected]
    assert logged[f"{kind}/judge_failures"] == (2 if expected is None else 0)


# -- a judge that hangs: the per-request timeout and the batch deadline hold ------------------------


@pytest.mark.timeout(30)  # without the deadline, 1000 retries of 0.5 s would run far past this
def test_a_hanging_judge_fails_the_whole_batch_by_the_deadline(
    flaky: Callable[..., FlakyServer], judges: Callable[..., Judge]
) -> None:
    server = flaky(default="hang")
    judge = judges(server.url, timeout_s=0.5, batch_deadline_s=2.0, max_retries=1000, max_concurrency=2)
    responses = judge.generate([req(f"q{i}") for i in range(6)])
    assert not any(r.ok for r in responses)
    assert all("no answer within" in (r.error or "") or "deadline" in (r.error or "") for r in responses)
    assert judge.metrics.totals()["failures"] == 6


@pytest.mark.timeout(30)
def test_a_hanging_bedrock_judge_fails_the_whole_batch_by_the_deadline(
    aws_dummy_env: None, converse_server: ConverseServer, judges: Callable[..., Judge]
) -> None:
    converse_server.script(*[Reply.hang(60)] * 100)
    judge = judges(bedrock=converse_server, timeout_s=0.5, batch_deadline_s=2.0, max_retries=1000, max_concurrency=2)
    responses = judge.generate([req(f"q{i}") for i in range(6)])
    assert not any(r.ok for r in responses)
    assert converse_server.max_in_flight <= 4  # 2 in flight, plus abandoned attempts the server still holds


@pytest.mark.timeout(30)
def test_a_reward_over_a_hanging_judge_scores_none(
    flaky: Callable[..., FlakyServer], judges: Callable[..., Judge], caplog: pytest.LogCaptureFixture
) -> None:
    server = flaky(default="hang")
    judge = judges(server.url, timeout_s=0.3, batch_deadline_s=1.5, max_retries=1000)
    reward = RubricReward(judge, RUBRIC, failures={"max_failure_rate": 1.0})
    with caplog.at_level(logging.WARNING, logger="rlaif.rewards"):
        scores, logged = run_reward(reward)
    assert scores == [None, None] and logged["rubric/judge_failures"] == 2
    assert sum("judge error" in r.getMessage() for r in caplog.records) == 2  # on the console, in full


# -- a judge that dies mid-batch: retries, then one failure per request, no exception ---------------


@pytest.mark.timeout(60)
def test_a_judge_dying_mid_batch_returns_failures_per_request(
    flaky: Callable[..., FlakyServer], judges: Callable[..., Judge]
) -> None:
    server = flaky(("ok", "ok", "ok"), default="hang")
    judge = judges(server.url, max_concurrency=1, max_retries=2)
    watcher = stop_when(lambda: server.hits, 4, server.stop)  # dies while answering the 4th request
    responses = judge.generate([req(f"q{i}") for i in range(6)])
    watcher.join(timeout=10)
    assert [r.ok for r in responses] == [True] * 3 + [False] * 3
    assert [r.text for r in responses[:3]] == ["ok: q0", "ok: q1", "ok: q2"]
    assert all(r.attempts == 3 for r in responses[3:])  # retried, then given up
    assert all("TransientJudgeError" in (r.error or "") for r in responses[3:])


@pytest.mark.timeout(60)
def test_a_bedrock_judge_dying_mid_batch_returns_failures_per_request(
    aws_dummy_env: None, converse_server: ConverseServer, judges: Callable[..., Judge]
) -> None:
    converse_server.script(Reply.ok("a"), Reply.ok("b"), Reply.ok("c"), *[Reply.hang(60)] * 20)
    judge = judges(bedrock=converse_server, max_concurrency=1, max_retries=2, timeout_s=1.0)

    def die() -> None:  # the port closes and the request in progress is never answered (stop() would answer it)
        converse_server._httpd.shutdown()
        converse_server._httpd.server_close()

    watcher = stop_when(converse_server.count, 4, die)
    responses = judge.generate([req(f"q{i}") for i in range(6)])
    watcher.join(timeout=20)
    assert [r.text for r in responses[:3]] == ["a", "b", "c"]
    assert not any(r.ok for r in responses[3:])
    assert all(r.attempts == 3 for r in responses[3:])
