"""A pool of judge endpoints behind one judge (``judge=pool``): routing, health and failover.

Past one machine the judge is where runs break: one endpoint saturates, dies or throttles, and every request
it held becomes a missing reward. A pool spreads requests over endpoints serving the same judge (vLLM
replicas, Bedrock in several regions), each a full judge with its own limits, retries, breaker and cache:

- **Routing with affinity.** Requests that share a prompt prefix (one question's answers: the rewards set
  :attr:`JudgeRequest.affinity`) go to the same endpoint, so its prefix cache stays warm, while its load
  stays within ``load_factor`` x the mean (:mod:`rlaif.judges._routing`).
- **Failover.** An endpoint whose request fails for a reason of its own (unreachable, timed out, 429/5xx,
  breaker open: :attr:`JudgeResponse.retryable`), after its own retries (none after a time-out while another
  endpoint is left), is taken out, and that request goes to the next endpoint at once, on its own, until each
  was tried or ``policy.batch_deadline_s`` has passed; every attempt ends by that deadline. A refused request
  (4xx, a malformed reply) is not sent elsewhere: every endpoint would refuse it. One this client's own rate
  limit could not serve in time goes elsewhere too, and the endpoint stays in.
- **Health.** An endpoint taken out is probed (the pre-flight request, through its breaker) every
  ``probe_interval_s`` in the background and takes traffic again once it answers. With none healthy, the
  pool still tries the ones that are out rather than fail a batch without asking. The pre-flight does not
  wait out a hung endpoint once ``min_healthy`` have answered.

Like every judge it moves text and never reads a verdict.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict, Field

from rlaif.errors import ConfigError, parse_settings
from rlaif.judges._metrics import JudgeMetrics
from rlaif.judges._routing import affinity, pick
from rlaif.judges.base import Judge
from rlaif.judges.limits import JudgePolicy
from rlaif.judges.preflight import PROBE
from rlaif.judges.protocol import JudgeRequest, JudgeResponse

log = logging.getLogger(__name__)

# The pre-flight waits for the endpoints that have not answered yet at least this long once min_healthy have.
PREFLIGHT_GRACE_S = 1.0


@dataclass
class _Settings:
    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid")

    min_healthy: Annotated[int, Field(ge=1, strict=True)] = 1
    probe_interval_s: Annotated[float, Field(gt=0)] = 10.0
    load_factor: Annotated[float, Field(ge=1.0)] = 1.25  # 1: strict balance
    batch_deadline_s: Annotated[float, Field(gt=0)] | None = None


@dataclass
class _Health:
    healthy: bool = True
    next_probe: float = 0.0
    probing: bool = False
    last_error: str | None = None
    in_flight: int = 0


class JudgePool:
    """Judge endpoints behind one judge. Quacks like a :class:`~rlaif.judges.base.Judge` (``agenerate``,
    ``generate``, ``probe``, ``uncached``, ``close``, ``metrics``, ``identity``, ``policy``), so every
    reward takes it unchanged."""

    def __init__(
        self,
        endpoints: Mapping[str, Judge],
        *,
        min_healthy: int = 1,
        probe_interval_s: float = 10.0,
        load_factor: float = 1.25,
        batch_deadline_s: float | None = None,
    ) -> None:
        if not endpoints:
            raise ConfigError("judge.endpoints: a pool needs at least one endpoint, got none")
        given = {"min_healthy": min_healthy, "probe_interval_s": probe_interval_s, "load_factor": load_factor}
        settings = parse_settings(_Settings, {**given, "batch_deadline_s": batch_deadline_s}, "judge")
        if settings.min_healthy > len(endpoints):
            raise ConfigError(f"judge.min_healthy: {min_healthy} of {len(endpoints)} endpoints can never be healthy")
        self.endpoints = dict(endpoints)
        self.min_healthy = settings.min_healthy
        self.probe_interval_s = settings.probe_interval_s
        self.load_factor = settings.load_factor
        self.batch_deadline_s = settings.batch_deadline_s
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._lock = threading.Lock()
        self._health = {name: _Health() for name in self.endpoints}
        self._own = JudgeMetrics()
        self.metrics = PoolMetrics(self._own, self.endpoints, self)
        self._failovers = {"window": 0, "total": 0}  # requests sent again to another endpoint

    def __getstate__(self) -> dict[str, Any]:
        keys = ("endpoints", "min_healthy", "probe_interval_s", "load_factor", "batch_deadline_s")
        return {key: self.__dict__[key] for key in keys}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    @property
    def identity(self) -> str:
        return "pool(" + ", ".join(f"{name}={e.identity}" for name, e in self.endpoints.items()) + ")"

    @property
    def policy(self) -> JudgePolicy:
        """The limits a caller reads of one judge: the slowest endpoint's timeout; cached if any endpoint caches."""
        policies = [e.policy for e in self.endpoints.values()]
        return JudgePolicy(
            timeout_s=max(p.timeout_s for p in policies),
            batch_deadline_s=self._deadline_s(),
            cache=any(p.cache for p in policies),
        )

    @property
    def unavailable_hint(self) -> str:
        return (
            "check each endpoint of judge.endpoints (a server listening there?); judge.min_healthy of them must "
            "answer for the run to start"
        )

    def healthy(self) -> list[str]:
        """The endpoints taking traffic now."""
        with self._lock:
            return [name for name, h in self._health.items() if h.healthy]

    # -- the Judge surface -------------------------------------------------------------------------

    async def agenerate(self, requests: Sequence[JudgeRequest]) -> list[JudgeResponse]:
        """Answer every request (in order) on some endpoint; failures come back as responses with ``error``."""
        self._probe_due()
        deadline = time.monotonic() + self._deadline_s()
        with self._lock:  # routed one after the other: each sees the load the ones before it added
            first = [self._take(request, set()) for request in requests]
        answers = await asyncio.gather(
            *(self._answer(r, name, deadline) for r, name in zip(requests, first, strict=True))
        )
        for response, latency_s in answers:
            self._own.record(
                ok=response.ok,
                latency_s=latency_s,
                cached=response.cached,
                # Only what reached a model: a cache hit, or an answer shared with a request already in flight,
                # carries the tokens of the call that made it, which were counted then.
                tokens_in=0 if response.cached else response.tokens_in,
                tokens_out=0 if response.cached else response.tokens_out,
                reasoning_tokens=0 if response.cached else response.reasoning_tokens,
            )
        return [response for response, _ in answers]

    def generate(self, requests: Sequence[JudgeRequest]) -> list[JudgeResponse]:
        """Blocking form of :meth:`agenerate`, on a loop of its own (the endpoints run on theirs)."""
        with ThreadPoolExecutor(max_workers=1) as worker:
            return worker.submit(asyncio.run, self.agenerate(requests)).result()

    def probe(self, request: JudgeRequest, timeout_s: float, attempts: int = 2) -> JudgeResponse:
        """Probe every endpoint at once (the pre-flight request); fewer than ``min_healthy`` answering is the
        pool's failure. Once ``min_healthy`` have answered, the others get as long again (at least
        :data:`PREFLIGHT_GRACE_S`), not ``attempts`` x ``timeout_s``: one that has not answered by then (a hung
        replica) is taken out, with a WARNING, while its probe goes on; it takes traffic once it answers."""
        answers: queue.SimpleQueue[tuple[str, JudgeResponse]] = queue.SimpleQueue()
        with self._lock:
            for health in self._health.values():
                health.probing = True
        started = time.monotonic()
        for name in self.endpoints:
            self._start_probe(name, request, timeout_s, attempts, breaker=False, answers=answers)
        responses: dict[str, JudgeResponse] = {}
        until: float | None = None
        while len(responses) < len(self.endpoints):
            try:
                name, response = answers.get(timeout=None if until is None else max(0.0, until - time.monotonic()))
            except queue.Empty:
                break
            responses[name] = response
            if until is None and sum(r.ok for r in responses.values()) >= self.min_healthy:
                until = time.monotonic() + max(PREFLIGHT_GRACE_S, time.monotonic() - started)
        waited = time.monotonic() - started
        for name in [name for name in self.endpoints if name not in responses]:
            error = f"no answer to the pre-flight request within {waited:.1f} s (still asked: back once it answers)"
            responses[name] = JudgeResponse(error=error)
            self._mark_down(name, error, unless_answered=True)
        answered = [r for r in responses.values() if r.ok]
        if len(answered) >= self.min_healthy:
            return answered[0]
        errors = "; ".join(f"{name}: {r.error}" for name, r in responses.items() if not r.ok)
        return JudgeResponse(
            error=f"{len(answered)} of {len(responses)} judge endpoints answered (judge.min_healthy "
            f"{self.min_healthy}); {errors}"
        )

    @contextmanager
    def uncached(self) -> Iterator[None]:
        """Every endpoint answers from its backend, not its cache (see :meth:`Judge.uncached`)."""
        with ExitStack() as stack:
            for endpoint in self.endpoints.values():
                stack.enter_context(endpoint.uncached())
            yield

    def close(self) -> None:
        for endpoint in self.endpoints.values():
            endpoint.close()

    # -- routing and failover ----------------------------------------------------------------------

    def _take(self, request: JudgeRequest, tried: set[str]) -> str:
        """The endpoint for one request (called under the lock), among the healthy untried ones (any untried
        one when none is healthy): :func:`rlaif.judges._routing.pick`; its load counts the request from now."""
        untried = [name for name in self.endpoints if name not in tried]
        candidates = [name for name in untried if self._health[name].healthy] or untried
        load = {name: self._health[name].in_flight for name in candidates}
        name = pick(candidates, affinity(request), load, self.load_factor)
        self._health[name].in_flight += 1
        return name

    async def _answer(self, request: JudgeRequest, name: str, deadline: float) -> tuple[JudgeResponse, float]:
        """One request on ``name`` and, after a fault of that endpoint, on the next one at once (each request on
        its own: one that failed does not wait for the others sent with it), all within ``deadline``. With
        another endpoint left to try, an attempt that timed out is not tried again on the same one. Returns
        the response and the seconds it took, failovers included."""
        started = time.perf_counter()
        tried: set[str] = set()
        while True:
            tried.add(name)
            last = len(tried) == len(self.endpoints)
            try:
                [response] = await self.endpoints[name].agenerate([request], deadline=deadline, retry_timeouts=last)
            finally:
                with self._lock:
                    self._health[name].in_flight -= 1
            if response.ok or not response.retryable:
                return response, time.perf_counter() - started
            if not response.own_quota:  # this client's own rate limit is no fault of the endpoint's
                self._mark_down(name, str(response.error))
            if last or time.monotonic() >= deadline:
                return response, time.perf_counter() - started
            with self._lock:
                self._failovers = {k: v + 1 for k, v in self._failovers.items()}
                name = self._take(request, tried)

    # -- health ------------------------------------------------------------------------------------

    def _mark_down(self, name: str, error: str, unless_answered: bool = False) -> None:
        """Take ``name`` out (``unless_answered``: only while its probe is still waiting for an answer)."""
        with self._lock:
            health = self._health[name]
            if unless_answered and not health.probing:
                return
            if health.healthy:
                log.warning("judge endpoint %s (%s) taken out: %s", name, self.endpoints[name].identity, error)
            health.healthy, health.last_error = False, error
            health.next_probe = max(health.next_probe, time.monotonic() + self.probe_interval_s)

    def _mark_up(self, name: str) -> None:
        with self._lock:
            health = self._health[name]
            if not health.healthy:
                log.info("judge endpoint %s (%s) answers again: back in the pool", name, self.endpoints[name].identity)
            health.healthy, health.last_error = True, None

    def _probe_due(self) -> None:
        """Probe, each in a thread of its own, the endpoints out of the pool whose time has come (the batch
        does not wait: an endpoint that answers takes traffic from the next batch on). The probe goes through
        the endpoint's breaker: while it is open nothing is sent, and the endpoint stays out."""
        now = time.monotonic()
        with self._lock:
            due = [n for n, h in self._health.items() if not h.healthy and not h.probing and h.next_probe <= now]
            for name in due:
                self._health[name].probing = True
        for name in due:
            endpoint = self.endpoints[name]
            self._start_probe(name, PROBE, min(endpoint.policy.timeout_s, 30.0), attempts=1, breaker=True)

    def _start_probe(
        self,
        name: str,
        request: JudgeRequest,
        timeout_s: float,
        attempts: int,
        breaker: bool,
        answers: queue.SimpleQueue[tuple[str, JudgeResponse]] | None = None,
    ) -> None:
        """Probe ``name`` (marked ``probing``) in a daemon thread: a hung endpoint's probe never holds up the
        run, nor its exit. Its outcome puts the endpoint in or out, and goes to ``answers`` if given."""

        def run() -> None:
            try:
                response = self.endpoints[name].probe(request, timeout_s, attempts, breaker=breaker)
            except Exception as exc:  # a probe must never kill its thread silently with the endpoint marked probing
                response = JudgeResponse(error=f"{type(exc).__name__}: {exc}")
            if response.ok:
                self._mark_up(name)
            else:
                self._mark_down(name, str(response.error))
            with self._lock:
                self._health[name].probing = False
            if answers is not None:
                answers.put((name, response))

        threading.Thread(target=run, name=f"rlaif-probe-{name}", daemon=True).start()

    def _deadline_s(self) -> float:
        if self.batch_deadline_s is not None:
            return self.batch_deadline_s
        return max(e.policy.batch_deadline_s for e in self.endpoints.values())

    def state(self, drain: bool) -> dict[str, float]:
        """Failovers (since the last drain, or in total) and the endpoints healthy now."""
        with self._lock:
            failovers = self._failovers["window" if drain else "total"]
            if drain:
                self._failovers["window"] = 0
            healthy = sum(h.healthy for h in self._health.values())
        return {"failovers": float(failovers), "healthy_endpoints": float(healthy)}


class PoolMetrics:
    """The pool's own counters (one request per pool request, failovers, healthy endpoints) plus each
    endpoint's, prefixed ``<name>/``, with its ``share`` of the window's traffic: per step they reach
    TensorBoard as ``judge/<name>/...`` and ``judge_metrics.json``."""

    def __init__(self, own: JudgeMetrics, endpoints: Mapping[str, Judge], pool: JudgePool) -> None:
        self._own, self._endpoints, self._pool = own, endpoints, pool

    def drain(self) -> dict[str, float]:
        own = {**self._own.drain(), **self._pool.state(drain=True)}
        return _with_endpoints(own, {n: e.metrics.drain() for n, e in self._endpoints.items()})

    def totals(self) -> dict[str, float]:
        own = {**self._own.totals(), **self._pool.state(drain=False)}
        return _with_endpoints(own, {n: e.metrics.totals() for n, e in self._endpoints.items()})


def _with_endpoints(own: dict[str, float], each: Mapping[str, dict[str, float]]) -> dict[str, float]:
    out = dict(own)
    sent = sum(m["requests"] - m["cache_hits"] for m in each.values())
    for name, metrics in each.items():
        share = (metrics["requests"] - metrics["cache_hits"]) / sent if sent else 0.0
        out.update({f"{name}/{k}": v for k, v in {**metrics, "share": share}.items()})
    return out


def pool_judge(
    endpoints: Sequence[Any],
    endpoint: Mapping[str, Any] | None = None,
    min_healthy: int = 1,
    probe_interval_s: float = 10.0,
    load_factor: float = 1.25,
    policy: Mapping[str, Any] | None = None,
) -> JudgePool:
    """Build a pool from ``judge.endpoints`` (``judge=pool``; the config sets ``_recursive_: false``).

    ``endpoints``: a list, or one string of comma-separated URLs. An endpoint is a base URL (it gets the
    ``endpoint`` judge config, the URL as its ``base_url``) or a full judge config with a ``_target_`` and an
    optional ``name`` (its label in metrics; default ``e1``, ``e2``, ...). The pool's ``policy`` says where
    the endpoints' caches go (``<cache_path>/<name>``; ``cache: false``: none) and may set a
    ``batch_deadline_s`` for a batch with its failovers (default: the longest of the endpoints').
    """
    from rlaif.errors import plain
    from rlaif.judges._members import build_endpoints

    pool_policy = dict(plain(policy) or {})
    built = build_endpoints(endpoints, endpoint, pool_policy)
    try:
        return JudgePool(
            built,
            min_healthy=min_healthy,
            probe_interval_s=probe_interval_s,
            load_factor=load_factor,
            batch_deadline_s=pool_policy.get("batch_deadline_s"),
        )
    except BaseException:
        for judge in built.values():
            judge.close()
        raise
