"""Per-judge request and token rate limits (``judge.policy.max_rpm`` / ``max_tpm``), as provider quotas count them.

One :class:`RateLimits` per :class:`rlaif.judges.base.Judge` (so every pool endpoint has its own), with a token
bucket per limit. Every attempt, retries included, takes one request and its estimated tokens before it is
sent; the reply's reported usage then corrects the estimate (a refund, or a charge that may put the bucket in
debt so that later requests wait). docs/rate_limits.md has the whole story and the measured accuracy.

**Capacity: one second of the rate** (:data:`BURST_S`). A bucket that holds a whole minute lets twice the
limit through in the first minute (a full bucket, then a minute of refill). With one second, any window of
``W`` seconds admits at most ``rate * (W + 1 s)``: a 60 s window at most 1/60 (1.7 %) over the quota, and
providers that enforce a per-minute quota per second (OpenAI quantizes 600 RPM to 10 per second) see at most
one second's worth at once. Throughput does not suffer: under steady demand the bucket is empty anyway and
requests leave evenly spaced at the rate. A request larger than the capacity (a 4k-token prompt under a small
TPM) is admitted once the bucket is full and puts it into debt, so it is never refused and the rate still holds.

Hand-written rather than ``aiolimiter``: its ``AsyncLimiter`` (the well-kept asyncio limiter) takes a weighted
``acquire`` but has no public way to charge or refund a correction after the reply, refuses a request larger
than its capacity, and cannot tell in advance that a wait would pass the batch deadline; all three are what a
token quota needs, and the bucket below is some forty lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable

from rlaif.judges.protocol import JudgeRequest, PermanentJudgeError, TransportResult

# No tokenizer is available for every backend (a hosted model's is not public): ~4 characters per token is
# the usual figure for English text under BPE tokenizers. The reply's usage corrects it either way.
CHARS_PER_TOKEN = 4
BURST_S = 1.0  # the buckets' capacity, in seconds of the rate: why one second is in the module docstring
_EPSILON = 1e-9  # float slack: a bucket refilled to exactly what a request needs admits it


def estimate_tokens(request: JudgeRequest) -> int:
    """What a request may cost against a token quota before its reply says: the prompt (at
    :data:`CHARS_PER_TOKEN`) plus ``max_tokens``, as providers themselves reserve it."""
    chars = sum(len(str(message.get("content", ""))) for message in request.messages)
    return math.ceil(chars / CHARS_PER_TOKEN) + request.max_tokens


class RateLimitDeadlineError(PermanentJudgeError):
    """The rate limit cannot serve this attempt before the batch deadline. Permanent (a retry would meet the same
    deadline), but the endpoint's quota is at fault, so the response is ``retryable``: another endpoint may serve it."""

    def __init__(self, message: str, waited_s: float = 0.0) -> None:
        super().__init__(message)
        self.waited_s = waited_s  # how long it queued before the quota gave up on it


class TokenBucket:
    """``rate_per_min`` units a minute, holding at most :data:`BURST_S` seconds of them; ``level`` may go below
    zero (debt). Plain arithmetic on a clock value passed in, so tests drive it with a fake clock."""

    def __init__(self, rate_per_min: float, now: float, burst_s: float = BURST_S) -> None:
        self.rate = rate_per_min / 60.0  # units per second
        self.capacity = self.rate * burst_s
        self.level = self.capacity
        self._updated = now

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self.level = min(self.capacity, self.level + (now - self._updated) * self.rate)
            self._updated = now

    def wait_s(self, cost: float, now: float) -> float:
        """Seconds until ``cost`` may be taken: when the level reaches ``cost``, or a full bucket for a cost
        above the capacity (which then goes into debt rather than waiting forever)."""
        self._refill(now)
        return max(0.0, (min(cost, self.capacity) - self.level - _EPSILON) / self.rate)

    def take(self, cost: float, now: float) -> None:
        self._refill(now)
        self.level -= cost

    def adjust(self, charge: float, now: float) -> None:
        """Charge ``charge`` more (the reply used more than taken: debt is allowed) or, negative, refund it
        (never above the capacity: unused quota does not pile up into a burst)."""
        self._refill(now)
        self.level = min(self.capacity, self.level - charge)


class RateLimits:
    """A request bucket (``max_rpm``) and a token bucket (``max_tpm``), either optional, served first come first
    served: one waiter at a time watches the buckets, so a large request is not starved by small ones.

    Lives on the judge's event loop; the asyncio primitives are made on the loop that first awaits them (a closed
    judge starts a new loop), while the levels carry over."""

    def __init__(
        self, max_rpm: float | None, max_tpm: float | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        now = clock()
        self.requests = TokenBucket(max_rpm, now) if max_rpm else None
        self.tokens = TokenBucket(max_tpm, now) if max_tpm else None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._turn = asyncio.Lock()  # FIFO: whoever holds it is next through
        self._changed = asyncio.Event()  # a correction arrived: the waiter recomputes its wait

    @property
    def active(self) -> bool:
        return self.requests is not None or self.tokens is not None

    def _primitives(self) -> tuple[asyncio.Lock, asyncio.Event]:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._turn, self._changed = loop, asyncio.Lock(), asyncio.Event()
        return self._turn, self._changed

    def _wait_s(self, tokens: int, now: float) -> float:
        waits = [0.0]
        if self.requests is not None:
            waits.append(self.requests.wait_s(1, now))
        if self.tokens is not None:
            waits.append(self.tokens.wait_s(tokens, now))
        return max(waits)

    async def acquire(self, tokens: int, deadline: float) -> float:
        """Wait for one request and ``tokens`` (after those queued before), then take them together; returns the
        seconds waited (exactly 0.0 when served at once). Raises :class:`RateLimitDeadlineError` as soon as the
        buckets cannot serve it before ``deadline`` (a ``time.monotonic()`` value), and never waits past it."""
        turn, changed = self._primitives()
        started = self._clock()
        queued = turn.locked()
        try:
            async with asyncio.timeout(max(0.0, deadline - started)):
                await turn.acquire()
        except TimeoutError:
            raise self._too_late(started) from None
        try:
            while (wait := self._wait_s(tokens, now := self._clock())) > 0:
                if now + wait > deadline:
                    raise self._too_late(started)
                queued = True
                changed.clear()
                with contextlib.suppress(TimeoutError):  # a refund may admit it sooner, a charge later: recompute
                    await asyncio.wait_for(changed.wait(), timeout=wait)
            now = self._clock()
            if self.requests is not None:
                self.requests.take(1, now)
            if self.tokens is not None:
                self.tokens.take(tokens, now)
        finally:
            turn.release()
        return now - started if queued else 0.0

    def settle(self, estimated: int, result: TransportResult) -> None:
        """Correct the token bucket by what the reply says it used. No usage reported: the estimate stands."""
        used = result.tokens_in + result.tokens_out
        if self.tokens is None or used <= 0 or used == estimated:
            return
        self.tokens.adjust(used - estimated, self._clock())
        self._changed.set()

    def _too_late(self, started: float) -> RateLimitDeadlineError:
        return RateLimitDeadlineError(
            "batch deadline exceeded waiting for the rate limit (judge.policy.max_rpm / max_tpm): "
            "the quota cannot serve this request in time",
            waited_s=self._clock() - started,
        )
