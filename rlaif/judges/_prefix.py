"""Grouping a batch of token sequences by the prefix they share, so the shared part is computed once.

rlaif's judge prompts put what many requests have in common first (the chat header, the criterion, the
question) and the answer last, so the requests of one reward call form a few groups with long common
prefixes: one per (criterion, question). :func:`shared_prefix_groups` finds them: sorted, neighbours share
the most, and a group grows while its common prefix stays at least ``min_prefix`` tokens long.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PrefixGroup:
    """Requests (indices into the batch) whose first ``prefix_len`` tokens are identical (0: none shared)."""

    indices: tuple[int, ...]
    prefix_len: int


def common_prefix_len(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for k in range(n):
        if a[k] != b[k]:
            return k
    return n


def shared_prefix_groups(sequences: Sequence[Sequence[int]], min_prefix: int) -> list[PrefixGroup]:
    """Groups of at least two sequences sharing >= ``min_prefix`` tokens, plus one group (prefix 0) of the rest.

    Every sequence keeps at least its last token out of the prefix: that position is the one scored.
    """
    order = sorted(range(len(sequences)), key=lambda i: tuple(sequences[i]))
    groups: list[PrefixGroup] = []
    alone: list[int] = []
    current: list[int] = []
    shared = 0

    def close() -> None:
        if len(current) >= 2 and shared >= min_prefix:
            groups.append(PrefixGroup(tuple(current), shared))
        else:
            alone.extend(current)

    for i in order:
        cap = len(sequences[i]) - 1
        if current:
            candidate = min(shared, common_prefix_len(sequences[current[-1]], sequences[i]), cap)
            if candidate >= min_prefix:
                current.append(i)
                shared = candidate
                continue
            close()
        current, shared = [i], cap
    if current:
        close()
    if alone:
        groups.append(PrefixGroup(tuple(sorted(alone)), 0))
    return groups
