"""The judge transport contract and the machinery every backend shares.

A *transport* (vLLM/OpenAI-compatible, in-process transformers, Bedrock, ...) knows how to send one
:class:`JudgeRequest` and classify what went wrong. The :class:`Judge` wraps any transport with what
the open RL frameworks leave to their users: a per-request timeout and a per-batch deadline, retries
with exponential backoff and jitter on transient errors only, a concurrency cap, request and token rate
limits (:mod:`rlaif.judges.rate_limits`), a circuit breaker, a response cache and metrics. It never raises
into the trainer: a request that cannot be answered comes back as a :class:`JudgeResponse` with ``error`` set.

Judges move text; grading (rubrics, preferences, parsing) lives in :mod:`rlaif.rewards`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import asdict, fields, replace
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_base,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from rlaif.judges._cache import ResponseCache, request_key
from rlaif.judges._metrics import JudgeMetrics
from rlaif.judges.limits import Breaker, JudgePolicy
from rlaif.judges.protocol import (
    AttemptTimeoutError,
    CircuitOpenError,
    JudgeRequest,
    JudgeResponse,
    PermanentJudgeError,
    TokenLogprob,
    TransientJudgeError,
    Transport,
    TransportResult,
)
from rlaif.judges.rate_limits import RateLimitDeadlineError, RateLimits, estimate_tokens

log = logging.getLogger(__name__)


class Judge:
    """Any :class:`Transport` plus timeouts, retries, a concurrency cap, rate limits, a breaker, a cache and metrics.

    Requests run on the judge's own event-loop thread, so async clients always live on one loop
    whether the caller is TRL's async reward loop, a plain thread or a test.
    """

    def __init__(self, transport: Transport, policy: JudgePolicy | Mapping[str, Any] | None = None) -> None:
        self.transport = transport
        self.policy = JudgePolicy.parse(policy)
        self._init_runtime()

    def _init_runtime(self) -> None:
        self.metrics = JudgeMetrics()
        self._cache = ResponseCache(self.policy.cache_path) if self.policy.cache else None
        self._breaker = Breaker(self.policy.breaker_threshold, self.policy.breaker_cooldown_s)
        self._limits = RateLimits(self.policy.max_rpm, self.policy.max_tpm)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._start_lock = threading.Lock()
        # Identical requests in flight at the same time share one call (the cache only helps later ones).
        self._inflight: dict[str, asyncio.Future[JudgeResponse]] = {}
        self._bypass_cache = False

    def __getstate__(self) -> dict[str, Any]:
        return {"transport": self.transport, "policy": self.policy}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.transport, self.policy = state["transport"], state["policy"]
        self._init_runtime()

    @property
    def identity(self) -> str:
        return self.transport.identity

    # -- public API -------------------------------------------------------------------------------

    async def agenerate(
        self, requests: Sequence[JudgeRequest], *, deadline: float | None = None, retry_timeouts: bool = True
    ) -> list[JudgeResponse]:
        """Answer every request (in order); failures come back as responses with ``error`` set.

        A caller that owns a larger deadline (a pool's batch, failovers included) passes it as ``deadline``
        (a ``time.monotonic()`` value): the batch ends by it, or by ``policy.batch_deadline_s``, whichever
        comes first. ``retry_timeouts=False``: an attempt that timed out is not tried again here (the caller
        has another endpoint to send it to)."""
        return await asyncio.wrap_future(self._submit(requests, deadline, retry_timeouts))

    def generate(self, requests: Sequence[JudgeRequest]) -> list[JudgeResponse]:
        """Blocking form of :meth:`agenerate`, for sync reward functions and scripts."""
        return self._submit(requests).result()

    @contextmanager
    def uncached(self) -> Iterator[None]:
        """Requests made inside go to the backend, never the cache (read or written): the canaries ask
        whether the judge still answers as it did, which a cached answer cannot tell."""
        self._bypass_cache = True
        try:
            yield
        finally:
            self._bypass_cache = False

    def close(self) -> None:
        """Close the transport's clients, stop the loop thread and the disk cache. Safe to call twice."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.transport.aclose(), self._loop).result(timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            if not self._thread.is_alive():
                self._loop.close()
        # A closed judge can be used again: the next call starts a new loop, semaphore and clients.
        self._loop = self._thread = None
        self._semaphore = None
        self._inflight = {}
        if self._cache is not None:
            self._cache.close()

    # -- machinery --------------------------------------------------------------------------------

    def _submit(
        self, requests: Sequence[JudgeRequest], deadline: float | None = None, retry_timeouts: bool = True
    ) -> Future[list[JudgeResponse]]:
        batch = self._run_batch(list(requests), deadline, retry_timeouts)
        return asyncio.run_coroutine_threadsafe(batch, self._ensure_loop())

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=loop.run_forever, name="rlaif-judge", daemon=True)
                self._thread.start()
                self._loop = loop
            return self._loop

    async def _run_batch(
        self, requests: list[JudgeRequest], outer_deadline: float | None, retry_timeouts: bool
    ) -> list[JudgeResponse]:
        if self._semaphore is None:
            # A transport that queues internally (the local judge's batches) would count that queue
            # against each attempt's timeout: hold only what it can use now, the rest wait here untimed.
            held = getattr(self.transport, "max_in_flight", None) or self.policy.max_concurrency
            self._semaphore = asyncio.Semaphore(min(self.policy.max_concurrency, held))
        deadline = time.monotonic() + self.policy.batch_deadline_s
        if outer_deadline is not None:
            deadline = min(deadline, outer_deadline)
        start_error = await self._start_transport(deadline)
        if start_error is not None:
            for _ in requests:
                self.metrics.record(ok=False, latency_s=0.0)
            return [JudgeResponse(error=start_error, retryable=True) for _ in requests]
        return list(await asyncio.gather(*(self._run_shared(r, deadline, retry_timeouts) for r in requests)))

    async def _start_transport(self, deadline: float) -> str | None:
        """Let a transport that starts its own server (``judge.launch``) do it outside the per-request
        timeout: a 40 s server start must not time out every waiting request and trip the breaker."""
        start = getattr(self.transport, "astart", None)
        if start is None:
            return None
        try:
            await asyncio.wait_for(start(), timeout=max(0.0, deadline - time.monotonic()))
        except Exception as exc:
            return f"judge backend failed to start: {type(exc).__name__}: {exc}"
        return None

    async def _run_shared(self, request: JudgeRequest, deadline: float, retry_timeouts: bool) -> JudgeResponse:
        key = request_key(self.transport.identity, request)
        if (pending := self._inflight.get(key)) is not None:
            shared = await asyncio.shield(pending)
            cached = shared.ok  # served without a call of its own, like a cache hit
            self.metrics.record(ok=shared.ok, latency_s=0.0, cached=cached)
            return replace(shared, cached=cached)
        future: asyncio.Future[JudgeResponse] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            response = await self._run_one(request, deadline, key, retry_timeouts)
            future.set_result(response)
            return response
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: sharers re-raise it, nobody else needs to
            raise
        finally:
            self._inflight.pop(key, None)

    async def _run_one(self, request: JudgeRequest, deadline: float, key: str, retry_timeouts: bool) -> JudgeResponse:
        cache = None if self._bypass_cache else self._cache
        if cache is not None and (hit := cache.get(key)) is not None:
            response = _response_from(hit, cached=True)
            self.metrics.record(ok=True, latency_s=0.0, cached=True)
            return response
        assert self._semaphore is not None
        async with self._semaphore:
            started = time.perf_counter()
            attempts = 0
            try:
                retrying = self._retrying(deadline, retry_timeouts)
                async for attempt in retrying:
                    with attempt:
                        attempts += 1
                        result = await self._attempt(request, deadline)
                response = JudgeResponse.answered(result, attempts)
            except Exception as exc:  # a judge failure is a response with an error, never a crash
                response = JudgeResponse(
                    error=f"{type(exc).__name__}: {exc}",
                    attempts=attempts,
                    retryable=_endpoint_at_fault(exc),
                    own_quota=isinstance(exc, RateLimitDeadlineError),
                    reasoning=getattr(exc, "reasoning", None),  # a reply cut off in its reasoning
                )
            response.latency_s = time.perf_counter() - started
        if response.ok and cache is not None:
            cache.put(key, _cacheable(response))
        self.metrics.record(
            ok=response.ok,
            latency_s=response.latency_s,
            retries=max(0, attempts - 1),
            tokens_in=response.tokens_in,
            tokens_out=response.tokens_out,
            reasoning_tokens=response.reasoning_tokens,
        )
        if not response.ok:
            log.debug("judge request failed after %d attempt(s): %s", attempts, response.error)
        return response

    def _retrying(self, deadline: float, retry_timeouts: bool = True) -> AsyncRetrying:
        policy = self.policy
        backoff = wait_exponential_jitter(
            multiplier=policy.backoff_initial_s, max=policy.backoff_max_s, jitter=policy.backoff_jitter_s
        )

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            hinted = getattr(exc, "retry_after_s", None) or 0.0
            # Never sleep past the batch deadline: the next attempt would only fail on it.
            return max(0.0, min(max(backoff(state), hinted), deadline - time.monotonic()))

        retry: retry_base = retry_if_exception_type(TransientJudgeError)
        if not retry_timeouts:
            retry = retry & retry_if_not_exception_type(AttemptTimeoutError)
        return AsyncRetrying(
            retry=retry,
            stop=stop_after_attempt(policy.max_retries + 1) | stop_after_delay(max(0.0, deadline - time.monotonic())),
            wait=wait,
            reraise=True,
        )

    async def _attempt(self, request: JudgeRequest, deadline: float) -> TransportResult:
        if not self._breaker.allow():
            raise CircuitOpenError(
                f"{self._breaker.consecutive_failures} consecutive failures from {self.identity}; "
                f"failing fast for {self.policy.breaker_cooldown_s:.0f} s"
            )
        tokens = await self._wait_for_quota(request, deadline)
        # Computed after the rate-limit wait: a queue for the quota is not the backend being slow.
        timeout = min(self.policy.timeout_s, deadline - time.monotonic())
        if timeout <= 0:
            raise PermanentJudgeError("batch deadline exceeded (judge.policy.batch_deadline_s)")
        try:
            result = await asyncio.wait_for(self.transport.send(request), timeout=timeout)
        except TimeoutError as exc:
            self._breaker.failure()
            raise AttemptTimeoutError(f"no answer within {timeout:.1f} s") from exc
        except TransientJudgeError:
            self._breaker.failure()
            raise
        self._breaker.success()
        self._limits.settle(tokens, result)
        return result

    async def _wait_for_quota(self, request: JudgeRequest, deadline: float) -> int:
        """Take this attempt's request and estimated tokens from the rate limits (every attempt does, so a
        429 storm's retries cannot raise the rate); the time waited goes to the metrics. Returns the estimate."""
        if not self._limits.active:
            return 0
        tokens = estimate_tokens(request)
        try:
            waited = await self._limits.acquire(tokens, deadline)
        except RateLimitDeadlineError as exc:
            self.metrics.add_rate_limit_wait(exc.waited_s)
            raise
        self.metrics.add_rate_limit_wait(waited)
        return tokens

    # -- pre-flight -------------------------------------------------------------------------------

    def probe(self, request: JudgeRequest, timeout_s: float, attempts: int = 2, breaker: bool = False) -> JudgeResponse:
        """Send one request straight to the backend, outside the cache and metrics: is it there?

        A launched server is started first (its own start-up timeout applies). Transient errors get
        ``attempts`` tries one second apart; so an unreachable judge is reported in seconds, not after
        the minutes of backoff a training batch would spend on it. ``breaker=True`` (a pool asking an
        endpoint it took out whether it is back): nothing is sent while the breaker is open, and the outcome
        counts for the breaker as a request's would, so a probe cannot bring back an endpoint whose requests
        would all still fail fast.
        """
        probe = self._probe(request, timeout_s, attempts, breaker)
        return asyncio.run_coroutine_threadsafe(probe, self._ensure_loop()).result()

    async def _probe(self, request: JudgeRequest, timeout_s: float, attempts: int, breaker: bool) -> JudgeResponse:
        if breaker and not self._breaker.allow():
            return JudgeResponse(error=f"CircuitOpenError: the breaker of {self.identity} is open")
        response = await self._probe_backend(request, timeout_s, attempts)
        if breaker and response.ok:
            self._breaker.success()
        elif breaker and response.retryable:  # the endpoint's fault (down, timed out, 5xx), as in _attempt
            self._breaker.failure()
        return response

    async def _probe_backend(self, request: JudgeRequest, timeout_s: float, attempts: int) -> JudgeResponse:
        start_error = await self._start_transport(time.monotonic() + self.policy.batch_deadline_s)
        if start_error is not None:
            return JudgeResponse(error=start_error)
        started = time.perf_counter()
        tokens = estimate_tokens(request)
        for attempt in range(1, attempts + 1):
            try:
                if self._limits.active:  # a probe is a real request to the provider: it counts against the quota
                    await self._limits.acquire(tokens, time.monotonic() + timeout_s)
                result = await asyncio.wait_for(self.transport.send(request), timeout=timeout_s)
            except TimeoutError:
                error = f"AttemptTimeoutError: no answer within {timeout_s:.1f} s"
            except TransientJudgeError as exc:
                error = f"{type(exc).__name__}: {exc}"
            except Exception as exc:
                return JudgeResponse(error=f"{type(exc).__name__}: {exc}", attempts=attempt)
            else:
                self._limits.settle(tokens, result)
                return JudgeResponse.answered(result, attempt, latency_s=time.perf_counter() - started)
            if attempt < attempts:
                await asyncio.sleep(1.0)
        return JudgeResponse(error=error, attempts=attempts, latency_s=time.perf_counter() - started, retryable=True)


def _endpoint_at_fault(exc: Exception) -> bool:
    """Another endpoint may answer what this one could not: it was down, slow, throttled (by the provider or by
    its own rate limit) or tripped."""
    return isinstance(exc, TransientJudgeError | CircuitOpenError | RateLimitDeadlineError)


def _cacheable(response: JudgeResponse) -> dict[str, Any]:
    data = asdict(response)
    for transient in ("latency_s", "attempts", "cached", "error", "retryable", "own_quota", "votes"):
        data.pop(transient)
    return data


def _response_from(data: Mapping[str, Any], cached: bool) -> JudgeResponse:
    # Entries outlive code changes (cache_path): unknown fields are dropped rather than crash a run.
    values = {k: v for k, v in data.items() if k in _CACHED_FIELDS}
    tokens = values.get("token_logprobs")
    if tokens is not None:
        values["token_logprobs"] = [TokenLogprob(**t) for t in tokens]
    elif isinstance(old := data.get("choice_logprobs"), Mapping) and old and values.get("text") in old:
        # Written before transports stopped scoring choices: log P(choice) per choice reads as a top
        # list of the choices themselves, so the old soft verdict survives instead of turning hard.
        text = str(values["text"])
        values["token_logprobs"] = [TokenLogprob(token=text, logprob=float(old[text]), top=dict(old))]
    return JudgeResponse(**values, cached=cached)


_CACHED_FIELDS = frozenset(f.name for f in fields(JudgeResponse)) - {"cached", "retryable", "own_quota", "votes"}
