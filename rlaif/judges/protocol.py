"""The judge transport contract: what a request and a response are, the two kinds of failure, and the
:class:`Transport` protocol every backend implements (``rlaif.judges.backends``). No machinery here:
:mod:`rlaif.judges.base` wraps any transport with retries, limits, a cache and metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class JudgeRequest:
    """One chat request to a judge model, with the decoding options that shape its answer.

    ``choices`` asks for one answer out of a fixed set: backends with log-probabilities (local, vLLM
    via top-logprobs) return the first answer token's top alternatives in
    :attr:`JudgeResponse.token_logprobs`, the others the reply text. Which choice that is, and with
    what probability, is decided by :func:`rlaif.rewards.verdicts.choices.choice_distribution`, not here.
    """

    messages: tuple[Mapping[str, str], ...]
    max_tokens: int = 256
    temperature: float = 0.0
    json_schema: Mapping[str, Any] | None = None
    choices: tuple[str, ...] | None = None
    logprobs: bool = False
    top_logprobs: int = 0
    # Requests with the same affinity (one question's answers) share a prompt prefix: a pool of endpoints
    # sends them to the same one while it is healthy, so its prefix cache stays warm. Routing only: it
    # changes no reply, so it is not part of the cache key and no backend sends it.
    affinity: str | None = field(default=None, compare=False)

    @classmethod
    def chat(cls, messages: Sequence[Mapping[str, str]], **options: Any) -> JudgeRequest:
        """Build a request from any sequence of ``{"role", "content"}`` dicts."""
        return cls(messages=tuple(dict(m) for m in messages), **options)


@dataclass
class TokenLogprob:
    """One generated token, its log-probability and the top alternatives at that position."""

    token: str
    logprob: float
    top: dict[str, float] = field(default_factory=dict)


@dataclass
class TransportResult:
    """What a transport returns for one successful request: what the model said, never a verdict."""

    text: str  # what follows the model's reasoning, if it reasoned: the only text a verdict is read from
    token_logprobs: list[TokenLogprob] | None = None
    tokens_in: int = 0
    tokens_out: int = 0  # every generated token, reasoning included (it is billed as output)
    reasoning: str | None = None  # a thinking model's reasoning before its answer (rlaif.judges.thinking)
    reasoning_tokens: int = 0  # of tokens_out: the server's count when it gives one, else an estimate


@dataclass
class JudgeResponse:
    """The judge's answer to one request, or the reason there is none (``error``)."""

    text: str | None = None
    token_logprobs: list[TokenLogprob] | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    reasoning: str | None = None  # as in TransportResult: kept apart from ``text``, never read for a verdict
    reasoning_tokens: int = 0
    latency_s: float = 0.0
    attempts: int = 0
    cached: bool = False
    error: str | None = None
    # With ``error``: the endpoint was at fault (unreachable, timed out, 429/5xx, breaker open), so another
    # endpoint may well answer; False: the request itself was refused (4xx, malformed reply).
    retryable: bool = False
    # With ``retryable``: this client's own rate limit (``policy.max_rpm``/``max_tpm``) could not serve it by the
    # deadline. Another endpoint may, but this one did nothing wrong: a pool does not take it out for that.
    own_quota: bool = False
    votes: Votes | None = None  # a jury's reply: every member's own response (rlaif.judges.jury)

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def answered(cls, result: TransportResult, attempts: int, latency_s: float = 0.0) -> JudgeResponse:
        """The response carrying what a transport returned."""
        return cls(
            text=result.text,
            token_logprobs=result.token_logprobs,
            tokens_in=result.tokens_in,
            tokens_out=result.tokens_out,
            reasoning=result.reasoning,
            reasoning_tokens=result.reasoning_tokens,
            latency_s=latency_s,
            attempts=attempts,
        )


@dataclass
class Votes:
    """What each member of a jury said to one request, and how the jury's rule combines them.

    The jury only collects; reading each member's verdict and combining them is grading, done by
    :mod:`rlaif.rewards.verdicts.jury_votes` (the same verdict rule as for one judge, then ``aggregate``).
    """

    members: dict[str, JudgeResponse]
    aggregate: str
    quorum: int


class TransientJudgeError(Exception):
    """Worth retrying: connection refused/reset, timeout, 429, 5xx, throttling, model not ready."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AttemptTimeoutError(TransientJudgeError):
    """No answer within the attempt's timeout. Worth retrying, but on another endpoint when there is one: a
    server that let one attempt time out (a wedged replica) would most likely let the next one time out too."""


class PermanentJudgeError(Exception):
    """Retrying cannot help: other 4xx, validation or access errors, an unparseable reply."""


@runtime_checkable
class Transport(Protocol):
    """Sends one request to one backend. Must be picklable (drop live clients in ``__getstate__``)
    and create its async clients lazily, inside :meth:`send`, on the loop that awaits it.

    It returns what the model said (text, token log-probabilities) and leaves grading to
    :mod:`rlaif.rewards`. Optional attributes the :class:`Judge` reads with ``getattr``:
    ``max_in_flight`` (an int: the most requests worth holding in :meth:`send` at once; the rest
    wait on the judge's semaphore, outside the per-attempt timeout), ``astart`` (a coroutine that
    starts the backend before the first timed attempt) and ``unavailable_hint`` (a str: what to check
    when the backend does not answer, shown by :mod:`rlaif.judges.preflight`).
    """

    @property
    def identity(self) -> str:
        """Backend, endpoint and model: part of the cache key, so two judges never share answers."""
        ...

    async def send(self, request: JudgeRequest) -> TransportResult: ...

    async def aclose(self) -> None: ...


class ReasoningCutOffError(PermanentJudgeError):
    """A thinking judge ran out of tokens (or stopped) inside its reasoning: there is no answer after it. The
    reasoning so far goes with the failed response, so the user sees what the judge was doing."""

    def __init__(self, message: str, reasoning: str | None = None) -> None:
        super().__init__(message)
        self.reasoning = reasoning


class CircuitOpenError(PermanentJudgeError):
    """The breaker is open: the backend failed too often in a row, so requests fail fast."""
