"""Side-by-side timing for the benchmarks: alternated order, repeats, and each ratio's median and range.

One machine is noisy, and its speed drifts during a run. So the alternatives of one comparison run in
turns, forwards then backwards (A B, B A, A B, ...: for two sides the ABBA order A B B A A B B A), and each
ratio is reported over its repeats as a median with its range (min-max). Medians are rlaif's one definition
(rlaif.judges.quantiles), the one its reports use. No timing assertions: tests/test_benchmark_abba.py checks
it on hand-computed values.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rlaif.judges import quantiles


def median(values: Sequence[float]) -> float:
    """rlaif's median (:func:`rlaif.judges.quantiles.median`); ValueError for no values (nothing was timed)."""
    value = quantiles.median(values)
    if value is None:
        raise ValueError("median of no values")
    return value


def abba_order(sides: int, repeats: int) -> list[int]:
    """The side to run at each turn: ``0..sides-1`` forwards, then backwards, ``repeats`` rounds.

    Two sides: 0 1 1 0 0 1 1 0 ... (A B B A A B B A). Three: 0 1 2 2 1 0 0 1 2 ...
    """
    if sides < 2 or repeats < 1:
        raise ValueError(f"need at least 2 sides and 1 repeat, not {sides} and {repeats}")
    order: list[int] = []
    for r in range(repeats):
        forwards = list(range(sides))
        order += forwards if r % 2 == 0 else forwards[::-1]
    return order


def timed_rounds(
    runs: Sequence[Callable[[int], object]], repeats: int, clock: Callable[[], float] = time.perf_counter
) -> list[list[float]]:
    """Seconds of each run, per side, in :func:`abba_order`.

    ``runs[i](k)`` is side i's k-th run (k from 0): a run builds fresh inputs from ``k`` (and its side),
    so that no run hits a cache another one filled. Its whole call is timed.
    """
    seconds: list[list[float]] = [[] for _ in runs]
    for side in abba_order(len(runs), repeats):
        k = len(seconds[side])
        start = clock()
        runs[side](k)
        seconds[side].append(clock() - start)
    return seconds


@dataclass(frozen=True)
class Ratio:
    """``a`` over ``b``, repeat by repeat: the k-th run of A over the k-th run of B (neighbours in time)."""

    a: Sequence[float]
    b: Sequence[float]

    @property
    def ratios(self) -> list[float]:
        return [x / y for x, y in zip(self.a, self.b, strict=True)]

    @property
    def median(self) -> float:
        return median(self.ratios)

    @property
    def low(self) -> float:
        return min(self.ratios)

    @property
    def high(self) -> float:
        return max(self.ratios)

    def describe(self, a_name: str, b_name: str, digits: int = 2) -> str:
        """One line: both sides' median seconds, the median ratio, its range and the number of repeats."""
        a_s, b_s = median(self.a), median(self.b)
        return (
            f"{a_name} {a_s:.3f} s / {b_name} {b_s:.3f} s (medians): "
            f"{self.median:.{digits}f}x, range {self.low:.{digits}f}-{self.high:.{digits}f}x, {len(self.a)} repeats"
        )
