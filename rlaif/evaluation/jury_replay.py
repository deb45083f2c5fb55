"""A jury's members evaluated alone without asking them again: each member's replies read from the jury's own.

A jury sends every request to every member and its reply carries each member's response
(:class:`~rlaif.judges.protocol.Votes`). :class:`RecordingJury` keeps those while ``judge_eval`` judges the
labelled set with the jury; :meth:`RecordingJury.member` is then a judge that answers each request with that
member's recorded response, in the order it was given (the main pass, the repeats, the audit: a member
evaluated alone asks the same requests in the same order). Each member's verdicts, latency and tokens are its
own; not one request more reaches it, so evaluating a jury's members costs nothing beyond the jury.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence
from typing import Any

from rlaif.judges._cache import request_key
from rlaif.judges._metrics import JudgeMetrics
from rlaif.judges.protocol import JudgeRequest, JudgeResponse


class RecordingJury:
    """The jury, as judge_eval asks it, keeping each member's response to each request. Everything else is the
    jury's (``identity``, ``policy``, ``metrics``, ``members``...)."""

    def __init__(self, jury: Any) -> None:
        self.jury = jury
        self.replies: dict[str, dict[str, deque[JudgeResponse]]] = {name: defaultdict(deque) for name in jury.members}

    async def agenerate(self, requests: Sequence[JudgeRequest]) -> list[JudgeResponse]:
        responses: list[JudgeResponse] = await self.jury.agenerate(requests)
        for request, response in zip(requests, responses, strict=True):
            for name, reply in (response.votes.members if response.votes is not None else {}).items():
                self.replies[name][_key(request)].append(reply)
        return responses

    def member(self, name: str) -> ReplayedMember:
        """Member ``name`` as a judge answering from what it told the jury (the replies are consumed)."""
        return ReplayedMember(self.jury.members[name], self.jury.policy, self.replies[name])

    def __getattr__(self, name: str) -> Any:
        return getattr(self.jury, name)


class ReplayedMember:
    """One jury member answering from its recorded replies; a request it was never asked is a failed reply."""

    replayed = True  # judge_eval: no time of its own to report (it answered within the jury's passes)

    def __init__(self, member: Any, policy: Any, replies: dict[str, deque[JudgeResponse]]) -> None:
        self.identity = member.identity
        self.policy = policy  # the jury's: the same stages run (repeats are skipped for a caching jury)
        self.metrics = JudgeMetrics()
        self._replies = replies

    async def agenerate(self, requests: Sequence[JudgeRequest]) -> list[JudgeResponse]:
        out = []
        for request in requests:
            queue = self._replies.get(_key(request))
            reply = queue.popleft() if queue else JudgeResponse(error="this request was not asked of the jury")
            self.metrics.record(
                ok=reply.ok,
                latency_s=reply.latency_s,
                cached=reply.cached,
                retries=max(0, reply.attempts - 1),
                tokens_in=reply.tokens_in,
                tokens_out=reply.tokens_out,
                reasoning_tokens=reply.reasoning_tokens,
            )
            out.append(reply)
        return out


def _key(request: JudgeRequest) -> str:
    """The request as the judge cache knows it (every field that shapes the reply; routing left out)."""
    return request_key("", request)
