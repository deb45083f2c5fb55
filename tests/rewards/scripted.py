"""A scripted judge for the reward unit tests: a Transport answering from a Python function, wrapped in the
real :class:`~rlaif.judges.base.Judge` (so retries, failures and metrics behave as in a run).

The script sees the :class:`JudgeRequest` and returns a :class:`TransportResult`, or raises to fail the
request (``PermanentJudgeError``: no retry).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from typing import Any

from rlaif.judges.base import Judge
from rlaif.judges.protocol import JudgeRequest, PermanentJudgeError, TokenLogprob, TransportResult

Script = Callable[[JudgeRequest], TransportResult]

FAST_POLICY = {
    "timeout_s": 30.0,
    "batch_deadline_s": 60.0,
    "max_retries": 0,
    "breaker_threshold": 10_000,
    "cache": False,
}


class ScriptedTransport:
    """Answers each request with ``script(request)`` and records every request it was sent."""

    identity = "scripted:test"

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[JudgeRequest] = []
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"script": self.script, "requests": []}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    async def send(self, request: JudgeRequest) -> TransportResult:
        with self._lock:
            self.requests.append(request)
        return self.script(request)

    async def aclose(self) -> None:
        pass


def scripted_judge(script: Script) -> tuple[Judge, ScriptedTransport]:
    transport = ScriptedTransport(script)
    return Judge(transport, FAST_POLICY), transport


def user_text(request: JudgeRequest) -> str:
    return next(m["content"] for m in request.messages if m["role"] == "user")


def fenced(request: JudgeRequest, tag: str = "answer") -> str:
    """The last ``<tag>`` block of the request (the graded answer comes after any examples)."""
    blocks = re.findall(rf"<{tag}>\n(.*?)\n</{tag}>", user_text(request), re.DOTALL)
    return blocks[-1] if blocks else ""


def criterion_of(request: JudgeRequest) -> str:
    """The criterion question of a logprob-mode rubric request (full layout: its "Criterion:" line; compact:
    the opening question)."""
    match = re.search(r"Criterion: (.*)\n", user_text(request)) or re.match(
        r"(.*) Answer yes or no\.\n", user_text(request)
    )
    assert match, "not a criterion request"
    return match.group(1)


def first_token(top: dict[str, float]) -> TransportResult:
    """A reply whose first token has the top list ``top`` (the shape every log-prob backend returns)."""
    best = max(top, key=lambda token: top[token])
    return TransportResult(text=best, token_logprobs=[TokenLogprob(token=best, logprob=top[best], top=dict(top))])


def _top(p: float, first: str, second: str) -> dict[str, float]:
    # P = 0 or 1 exactly: a -1000 gap (a server's floor), which the verdict rule turns into exactly 0.0 / 1.0.
    if p >= 1.0:
        return {first: 0.0, second: -1000.0}
    if p <= 0.0:
        return {first: -1000.0, second: 0.0}
    return {first: math.log(p), second: math.log(1 - p)}


def yes_no(p_yes: float) -> TransportResult:
    """A logprob-mode reply with P(yes) = ``p_yes``."""
    return first_token(_top(p_yes, "yes", "no"))


def a_or_b(p_a: float) -> TransportResult:
    """A pairwise reply with P(A) = ``p_a``."""
    return first_token(_top(p_a, "A", "B"))


def text_reply(text: str) -> TransportResult:
    return TransportResult(text=text)


def fail(message: str = "scripted failure") -> TransportResult:
    raise PermanentJudgeError(message)


class Recorder:
    """Stands in for TRL's ``log_metric`` and ``log_extra`` callbacks."""

    def __init__(self) -> None:
        self.metrics: dict[str, list[float]] = {}
        self.extra: dict[str, list[Any]] = {}

    def log_metric(self, name: str, value: float) -> None:
        self.metrics.setdefault(name, []).append(value)

    def log_extra(self, column: str, values: list[Any]) -> None:
        self.extra.setdefault(column, []).extend(values)

    def kwargs(self) -> dict[str, Any]:
        return {"log_metric": self.log_metric, "log_extra": self.log_extra}
