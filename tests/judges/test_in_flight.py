"""A transport's ``max_in_flight`` bounds what the engine hands it at once; the rest wait untimed."""

from __future__ import annotations

import asyncio

import pytest

from rlaif.judges.base import Judge
from rlaif.judges.protocol import JudgeRequest, TransportResult


class _Holding:
    """Holds every request for a moment and records how many it held at once."""

    identity = "test:holding"

    def __init__(self, max_in_flight: int | None) -> None:
        self.max_in_flight = max_in_flight
        self.inside = self.most_inside = 0

    async def send(self, request: JudgeRequest) -> TransportResult:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        await asyncio.sleep(0.01)  # long enough for every waiting request to try to enter
        self.inside -= 1
        return TransportResult(text="ok")

    async def aclose(self) -> None:
        pass


@pytest.mark.parametrize(("max_in_flight", "max_concurrency", "held"), [(3, 10, 3), (None, 10, 10), (50, 4, 4)])
def test_the_smaller_of_the_two_limits_holds(max_in_flight: int | None, max_concurrency: int, held: int) -> None:
    transport = _Holding(max_in_flight)
    judge = Judge(transport, {"max_concurrency": max_concurrency, "cache": False})
    try:
        requests = [JudgeRequest.chat([{"role": "user", "content": str(i)}]) for i in range(20)]
        assert all(r.ok for r in judge.generate(requests))
    finally:
        judge.close()
    assert transport.most_inside == held
