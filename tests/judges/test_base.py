"""The Judge engine with a scripted in-process transport: sharing, breaker, reuse, pickling, deadline."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

from rlaif.judges.base import Judge
from rlaif.judges.protocol import JudgeRequest, PermanentJudgeError, TransientJudgeError, TransportResult


class ScriptedTransport:
    """Answers from a script of outcomes (a text, an exception, or 'hang'); counts every call."""

    def __init__(self, script: list[Any] | None = None, default: Any = "ok") -> None:
        self.script = list(script or [])
        self.default = default
        self.calls = 0

    @property
    def identity(self) -> str:
        return "scripted:test"

    async def send(self, request: JudgeRequest) -> TransportResult:
        self.calls += 1
        outcome = self.script.pop(0) if self.script else self.default
        await asyncio.sleep(0.01)  # let concurrent identical requests overlap
        if outcome == "hang":
            await asyncio.sleep(3600)
        if isinstance(outcome, Exception):
            raise outcome
        return TransportResult(text=str(outcome), tokens_in=3, tokens_out=1)

    async def aclose(self) -> None:
        pass


FAST = {"backoff_initial_s": 0.001, "backoff_max_s": 0.002, "backoff_jitter_s": 0.0, "timeout_s": 0.2}


def req(text: str = "q") -> JudgeRequest:
    return JudgeRequest.chat([{"role": "user", "content": text}], max_tokens=4)


def test_identical_requests_in_one_batch_share_one_call() -> None:
    transport = ScriptedTransport()
    judge = Judge(transport, FAST)
    responses = judge.generate([req("same")] * 5 + [req("other")])
    assert [r.text for r in responses] == ["ok"] * 6
    assert transport.calls == 2
    assert sum(r.cached for r in responses) == 4
    assert judge.metrics.totals()["requests"] == 6
    judge.close()


def test_transient_errors_are_retried_and_permanent_ones_are_not() -> None:
    transport = ScriptedTransport([TransientJudgeError("503"), TransientJudgeError("429"), "fine"])
    judge = Judge(transport, {**FAST, "max_retries": 4})
    [response] = judge.generate([req()])
    assert response.ok and response.text == "fine" and response.attempts == 3
    assert judge.metrics.totals()["retries"] == 2

    transport = ScriptedTransport([PermanentJudgeError("400 bad request")])
    judge = Judge(transport, {**FAST, "max_retries": 4})
    [response] = judge.generate([req()])
    assert not response.ok and "400" in (response.error or "") and transport.calls == 1
    judge.close()


def test_hang_is_cut_by_timeout_and_failures_are_not_cached() -> None:
    transport = ScriptedTransport(["hang", "hang"], default="late answer")
    judge = Judge(transport, {**FAST, "max_retries": 1})
    [first] = judge.generate([req()])
    assert not first.ok and "no answer within" in (first.error or "") and transport.calls == 2
    [second] = judge.generate([req()])  # not served from the cache: a failure is never stored
    assert second.ok and second.text == "late answer" and not second.cached
    [third] = judge.generate([req()])
    assert third.cached and transport.calls == 3
    judge.close()


def test_breaker_fails_fast_then_lets_one_probe_through() -> None:
    transport = ScriptedTransport(default=TransientJudgeError("connection refused"))
    judge = Judge(transport, {**FAST, "max_retries": 0, "breaker_threshold": 3, "breaker_cooldown_s": 0.05})
    judge.generate([req(str(i)) for i in range(3)])
    assert transport.calls == 3
    responses = judge.generate([req(f"x{i}") for i in range(10)])
    assert transport.calls == 3 and all("CircuitOpenError" in (r.error or "") for r in responses)
    asyncio.run(asyncio.sleep(0.06))
    transport.default = "back"
    responses = judge.generate([req(f"y{i}") for i in range(4)])
    assert transport.calls == 4  # one probe; the others still fail fast until it succeeds
    assert sum(r.ok for r in responses) == 1
    [after] = judge.generate([req("z")])
    assert after.ok
    judge.close()


def test_batch_deadline_bounds_retries() -> None:
    transport = ScriptedTransport(default="hang")
    judge = Judge(transport, {**FAST, "timeout_s": 0.05, "max_retries": 1000, "batch_deadline_s": 0.3})
    [response] = judge.generate([req()])
    assert not response.ok
    assert transport.calls < 1000


def test_closed_judge_can_be_used_again_and_pickles_without_runtime() -> None:
    judge = Judge(ScriptedTransport(), FAST)
    assert judge.generate([req()])[0].ok
    judge.close()
    assert judge.generate([req("again")])[0].ok
    clone = pickle.loads(pickle.dumps(judge))
    assert clone.policy == judge.policy and clone.metrics.totals()["requests"] == 0
    assert clone.generate([req("clone")])[0].ok
    judge.close()
    clone.close()


def test_agenerate_works_from_another_event_loop() -> None:
    judge = Judge(ScriptedTransport(), FAST)

    async def caller() -> list[str | None]:
        return [r.text for r in await judge.agenerate([req("a"), req("b")])]

    assert asyncio.run(caller()) == ["ok", "ok"]
    judge.close()


def test_disk_cache_survives_a_new_judge(tmp_path: Any) -> None:
    path = str(tmp_path / "judge-cache")  # a diskcache directory
    first = ScriptedTransport(default="stored")
    judge = Judge(first, {**FAST, "cache_path": path})
    judge.generate([req()])
    judge.close()
    second = ScriptedTransport(default="fresh")
    resumed = Judge(second, {**FAST, "cache_path": path})
    [response] = resumed.generate([req()])
    assert response.cached and response.text == "stored" and second.calls == 0
    resumed.close()
    assert (tmp_path / "judge-cache").is_dir()
