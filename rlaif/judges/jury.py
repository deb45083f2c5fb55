"""A jury: several judges asked the same requests, wherever one judge goes (``judge=jury``).

Each member is any judge config (local, vLLM/OpenAI-compatible, Bedrock) with its own ``policy`` limits,
cache and metrics. The jury sends every request to every member at once and returns one response per
request carrying all the members' responses (:class:`~rlaif.judges.base.Votes`). It never reads a
verdict: which choice each member made, the aggregation (``mean | median | majority | min``) and the
quorum are applied by :mod:`rlaif.rewards.verdicts.jury_votes`, so judges still only move text. Here the quorum
only decides early what no verdict rule could rescue: fewer members answered at all than the quorum.

Why a jury: a panel of small, diverse judges agrees with people better than one large judge, with less
bias, at a fraction of the cost (PoLL, 2024), and one member's blind spot is harder to exploit. Members
of one model (one model with two personas) are not independent judges: they share its blind spots.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import Any

from rlaif.errors import ConfigError, plain
from rlaif.judges._members import build_part, member_policy
from rlaif.judges._metrics import JudgeMetrics
from rlaif.judges.base import Judge
from rlaif.judges.limits import JudgePolicy
from rlaif.judges.protocol import JudgeRequest, JudgeResponse, Votes

log = logging.getLogger(__name__)

AGGREGATES = ("mean", "median", "majority", "min")
# Keys of a member's config that belong to the jury, not to the member's judge factory.
_MEMBER_KEYS = ("name", "system")


class Jury:
    """Judges asked together. Quacks like a :class:`~rlaif.judges.base.Judge` (``agenerate``, ``generate``,
    ``probe``, ``close``, ``metrics``, ``identity``, ``policy``), so every reward takes it unchanged."""

    def __init__(
        self,
        members: Mapping[str, Judge],
        aggregate: str = "mean",
        quorum: int | None = None,
    ) -> None:
        if not members:
            raise ConfigError("judge.members: a jury needs at least one member, got none")
        for name, member in members.items():
            if isinstance(member, Jury):
                raise ConfigError(f"judge.members: member {name!r} is itself a jury; list its members instead")
        if aggregate not in AGGREGATES:
            raise ConfigError(f"judge.aggregate: expected one of {', '.join(AGGREGATES)}, got {aggregate!r}")
        # Default quorum: a majority of the members (2 of 2, 2 of 3, 3 of 4): never a verdict from a minority.
        quorum = len(members) // 2 + 1 if quorum is None else quorum
        if isinstance(quorum, bool) or not isinstance(quorum, int) or not 1 <= quorum <= len(members):
            raise ConfigError(f"judge.quorum: expected 1 to {len(members)} (the number of members), got {quorum!r}")
        self.members = dict(members)
        self.aggregate = aggregate
        self.quorum = quorum
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._own = JudgeMetrics()
        self.metrics = JuryMetrics(self._own, self.members)

    def __getstate__(self) -> dict[str, Any]:
        return {"members": self.members, "aggregate": self.aggregate, "quorum": self.quorum}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    @property
    def identity(self) -> str:
        names = ", ".join(f"{name}={m.identity}" for name, m in self.members.items())
        return f"jury[{self.aggregate}, quorum {self.quorum}/{len(self.members)}]({names})"

    @property
    def policy(self) -> JudgePolicy:
        """The limits a caller reads of one judge: the slowest member's timeout; cached if any member caches."""
        policies = [m.policy for m in self.members.values()]
        return JudgePolicy(
            timeout_s=max(p.timeout_s for p in policies),
            batch_deadline_s=max(p.batch_deadline_s for p in policies),
            cache=any(p.cache for p in policies),
        )

    # -- the Judge surface -------------------------------------------------------------------------

    async def agenerate(self, requests: Sequence[JudgeRequest]) -> list[JudgeResponse]:
        """Every request to every member at once; one response per request with all the members' votes."""
        started = time.perf_counter()
        answers = await asyncio.gather(*(m.agenerate(requests) for m in self.members.values()))
        return self._combine(len(requests), answers, time.perf_counter() - started)

    def generate(self, requests: Sequence[JudgeRequest]) -> list[JudgeResponse]:
        """Blocking form of :meth:`agenerate` (each member on its own loop thread, all at once)."""
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(self.members)) as pool:
            answers = list(pool.map(lambda member: member.generate(requests), self.members.values()))
        return self._combine(len(requests), answers, time.perf_counter() - started)

    def probe(self, request: JudgeRequest, timeout_s: float, attempts: int = 2) -> JudgeResponse:
        """Probe every member; a WARNING names each one that does not answer. Fails below the quorum."""
        responses = {name: m.probe(request, timeout_s, attempts) for name, m in self.members.items()}
        for name, response in responses.items():
            if not response.ok:
                log.warning("jury member %s (%s) did not answer: %s", name, self.members[name].identity, response.error)
        return self._vote(responses, max((r.latency_s for r in responses.values()), default=0.0))

    @contextmanager
    def uncached(self) -> Iterator[None]:
        """Every member answers from its backend, not its cache (see :meth:`Judge.uncached`)."""
        with ExitStack() as stack:
            for member in self.members.values():
                stack.enter_context(member.uncached())
            yield

    def close(self) -> None:
        for member in self.members.values():
            member.close()

    @property
    def unavailable_hint(self) -> str:
        return "check each member's judge.members[...] settings; a member that is down counts against judge.quorum"

    # -- machinery ---------------------------------------------------------------------------------

    def _combine(self, n: int, answers: Sequence[list[JudgeResponse]], latency_s: float) -> list[JudgeResponse]:
        names = list(self.members)
        return [self._vote({name: answers[k][i] for k, name in enumerate(names)}, latency_s) for i in range(n)]

    def _vote(self, responses: dict[str, JudgeResponse], latency_s: float) -> JudgeResponse:
        answered = [r for r in responses.values() if r.ok]
        error = None
        if len(answered) < self.quorum:
            errors = "; ".join(f"{name}: {r.error}" for name, r in responses.items() if not r.ok)
            error = (
                f"jury below quorum: {len(answered)} of {len(responses)} members answered "
                f"(quorum {self.quorum}); {errors}"
            )
        # Only calls that reached a model: a member's cache hit, or an answer it shared with the same request
        # in flight, carries the tokens of the call that made it, which were counted then.
        called = [r for r in responses.values() if not r.cached]
        response = JudgeResponse(
            tokens_in=sum(r.tokens_in for r in called),
            tokens_out=sum(r.tokens_out for r in called),
            reasoning_tokens=sum(r.reasoning_tokens for r in called),
            latency_s=max((r.latency_s for r in responses.values()), default=latency_s),
            attempts=max((r.attempts for r in responses.values()), default=0),
            cached=all(r.cached for r in responses.values()),
            error=error,
            votes=Votes(members=responses, aggregate=self.aggregate, quorum=self.quorum),
        )
        self._own.record(
            ok=response.ok,
            latency_s=response.latency_s,
            cached=response.cached,
            tokens_in=response.tokens_in,
            tokens_out=response.tokens_out,
            reasoning_tokens=response.reasoning_tokens,
        )
        return response


class JuryMetrics:
    """The jury's own counters (one request per jury request) plus each member's, prefixed ``<name>/``:
    per step, each member's requests, failures and latency reach TensorBoard as ``judge/<name>/...``."""

    def __init__(self, own: JudgeMetrics, members: Mapping[str, Judge]) -> None:
        self._own = own
        self._members = members

    def drain(self) -> dict[str, float]:
        out = self._own.drain()
        for name, member in self._members.items():
            out.update({f"{name}/{k}": v for k, v in member.metrics.drain().items()})
        return out

    def totals(self) -> dict[str, float]:
        out = self._own.totals()
        for name, member in self._members.items():
            out.update({f"{name}/{k}": v for k, v in member.metrics.totals().items()})
        return out


def jury_judge(
    members: Sequence[Any],
    aggregate: str = "mean",
    quorum: int | None = None,
    policy: Mapping[str, Any] | None = None,
) -> Jury:
    """Build a jury from its members' judge configs (``judge=jury``; the config sets ``_recursive_: false``
    so each member is built here, with its own limits).

    A member is any judge config plus two optional keys: ``name`` (its label in metrics and
    ``rewards.jsonl``; default ``m1``, ``m2``, ...) and ``system`` (a system turn put before each request it
    sees: one model, two personas). The jury's own ``policy`` says where the members' caches go: with
    ``cache: false`` no member caches; with a ``cache_path``, each caching member without its own path
    gets ``<cache_path>/<name>``.
    """
    configs = plain(members)
    if not isinstance(configs, list):
        raise ConfigError(f"judge.members: expected a list of judge configs, got {type(configs).__name__}")
    jury_policy = dict(plain(policy) or {})
    built: dict[str, Judge] = {}
    try:
        for k, raw in enumerate(configs):
            if not isinstance(raw, dict) or "_target_" not in raw:
                raise ConfigError(f"judge.members[{k}]: expected a judge config with a _target_, got {raw!r}")
            if raw["_target_"].endswith(".jury_judge"):
                raise ConfigError(f"judge.members[{k}]: a member cannot itself be a jury; list its members instead")
            config = {key: value for key, value in raw.items() if key not in _MEMBER_KEYS}
            name = str(raw.get("name") or f"m{k + 1}")
            if name in built:
                raise ConfigError(f"judge.members[{k}]: the name {name!r} is used twice")
            config["policy"] = member_policy(config.get("policy"), jury_policy, name)
            member = build_part(config, f"judge.members[{k}]", f"judge.members[{k}]")
            built[name] = with_system(member, str(raw["system"])) if raw.get("system") else member
        return Jury(built, aggregate=aggregate, quorum=quorum)
    except BaseException:
        for judge in built.values():
            judge.close()
        raise


def with_system(judge: Judge, system: str) -> Judge:
    """``judge`` with ``system`` put before every request it sends (one model, another persona). The system
    turn lives in the member's transport, so the member evaluated alone (``judge_eval``) is the same judge,
    and its identity, hence its cache keys, differ from the plain model's."""
    return Judge(SystemTurn(judge.transport, system), judge.policy)


class SystemTurn:
    """A :class:`~rlaif.judges.base.Transport` that puts a system turn before each request, then sends it on."""

    def __init__(self, inner: Any, system: str) -> None:
        self.inner = inner
        self.system = system

    @property
    def identity(self) -> str:
        digest = hashlib.sha256(self.system.encode()).hexdigest()[:8]
        return f"{self.inner.identity}+system:{digest}"

    async def send(self, request: JudgeRequest) -> Any:
        return await self.inner.send(_with_system(request, self.system))

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:  # max_in_flight, astart, unavailable_hint: the inner transport's
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def _with_system(request: JudgeRequest, system: str) -> JudgeRequest:
    messages = [dict(m) for m in request.messages]
    if messages and messages[0].get("role") == "system":
        messages[0]["content"] = f"{system}\n\n{messages[0]['content']}"
    else:
        messages.insert(0, {"role": "system", "content": system})
    return replace(request, messages=tuple(messages))
