"""rlaif.judges.quantiles: rlaif's one percentile is numpy's default quantile, to the bit, without numpy."""

from __future__ import annotations

import random
import statistics

import numpy as np
import pytest

from rlaif.judges.quantiles import median, percentile


def test_percentile_is_numpys_default_quantile_to_the_bit() -> None:
    rng = random.Random(0)
    for n in (1, 2, 3, 4, 7, 10, 101):
        for _ in range(50):
            values = [rng.choice((rng.random(), rng.uniform(-1e6, 1e6), float(rng.randint(0, 5)))) for _ in range(n)]
            for q in (0.0, 0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975, 1.0, rng.random()):
                assert percentile(values, q) == float(np.quantile(values, q)), (values, q)


def test_median_is_the_middle_or_the_mean_of_the_middle_two() -> None:
    assert median([3, 1, 2]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == statistics.median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert median([]) is None and percentile([], 0.9) is None


def test_q_outside_zero_to_one_is_an_error() -> None:
    with pytest.raises(ValueError, match="q must be in"):
        percentile([1.0], 1.5)
