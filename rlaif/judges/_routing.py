"""Where a pool sends one request: rendezvous hashing on the request's affinity, within a bound on load.

Rendezvous (highest-random-weight) hashing ranks the endpoints the same way for a key every time, and an
endpoint that leaves moves only the keys it was first for: one question's requests keep finding the endpoint
whose prefix cache holds that question. The load bound (consistent hashing with bounded loads, Mirrokni,
Thorup and Zadimoghaddam 2018) moves a request down its ranking while the first choice holds more than
``load_factor`` x the mean load, so a pool is least-loaded within that factor and sticky below it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence

from rlaif.judges.protocol import JudgeRequest

# Without an explicit affinity, requests that open alike (the system turn, the criterion, the question)
# are routed alike: the opening of the last message is where the rewards' prompts put what they share.
AFFINITY_CHARS = 200


def affinity(request: JudgeRequest) -> str:
    """The key a request is routed by: its :attr:`~JudgeRequest.affinity`, else its prompt's opening."""
    if request.affinity is not None:
        return request.affinity
    *head, last = request.messages or ({"content": ""},)
    return "\x00".join([*(m.get("content", "") for m in head), last.get("content", "")[:AFFINITY_CHARS]])


def pick(candidates: Sequence[str], key: str, load: Mapping[str, int], load_factor: float) -> str:
    """The first of ``candidates`` in ``key``'s rendezvous order whose load, with this request, stays within
    ``load_factor`` x the mean (the least loaded if none does)."""
    order = sorted(candidates, key=lambda name: _weight(name, key), reverse=True)
    cap = math.ceil(load_factor * (sum(load[name] for name in order) + 1) / len(order))
    return next((name for name in order if load[name] + 1 <= cap), min(order, key=lambda name: load[name]))


def _weight(name: str, key: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{name}\x00{key}".encode(), digest_size=8).digest(), "big")
