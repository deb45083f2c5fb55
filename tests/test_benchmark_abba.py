"""benchmarks/abba.py: the alternated order, and each ratio's median and range, on hand-computed values.

A fake clock stands in for time: nothing here measures or asserts on wall-clock time.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "abba.py"
_spec = importlib.util.spec_from_file_location("benchmarks_abba", _PATH)
assert _spec is not None and _spec.loader is not None
abba = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = abba  # dataclasses look their module up there
_spec.loader.exec_module(abba)


def test_two_sides_run_in_abba_order() -> None:
    assert abba.abba_order(2, 5) == [0, 1, 1, 0, 0, 1, 1, 0, 0, 1]


def test_more_sides_run_forwards_then_backwards() -> None:
    assert abba.abba_order(3, 3) == [0, 1, 2, 2, 1, 0, 0, 1, 2]


@pytest.mark.parametrize(("sides", "repeats"), [(1, 5), (2, 0)])
def test_too_few_sides_or_repeats_is_an_error(sides: int, repeats: int) -> None:
    with pytest.raises(ValueError):
        abba.abba_order(sides, repeats)


def test_timed_rounds_times_each_run_and_counts_runs_per_side() -> None:
    # Each run advances the fake clock by its own duration: A takes 2, 4, 6 s; B takes 1, 1, 3 s.
    now = [0.0]
    durations = {("A", 0): 2.0, ("A", 1): 4.0, ("A", 2): 6.0, ("B", 0): 1.0, ("B", 1): 1.0, ("B", 2): 3.0}
    calls: list[tuple[str, int]] = []

    def run(side: str) -> Callable[[int], None]:
        def call(k: int) -> None:
            calls.append((side, k))
            now[0] += durations[(side, k)]

        return call

    a, b = abba.timed_rounds([run("A"), run("B")], 3, clock=lambda: now[0])
    assert calls == [("A", 0), ("B", 0), ("B", 1), ("A", 1), ("A", 2), ("B", 2)]
    assert a == [2.0, 4.0, 6.0]
    assert b == [1.0, 1.0, 3.0]


def test_ratio_pairs_the_kth_runs_and_reports_median_and_range() -> None:
    ratio = abba.Ratio(a=[2.0, 4.0, 6.0, 3.0, 10.0], b=[1.0, 1.0, 3.0, 3.0, 2.0])
    assert ratio.ratios == [2.0, 4.0, 2.0, 1.0, 5.0]
    assert ratio.median == 2.0
    assert (ratio.low, ratio.high) == (1.0, 5.0)
    line = ratio.describe("slow", "fast")
    assert "slow 4.000 s / fast 2.000 s" in line
    assert "2.00x, range 1.00-5.00x, 5 repeats" in line


def test_ratio_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    ratio = abba.Ratio(a=[1.0, 3.0, 4.0, 8.0], b=[1.0, 1.0, 1.0, 1.0])
    assert ratio.median == 3.5
