"""Judge metrics: counters per window and in total, with latency samples bounded in memory."""

from __future__ import annotations

import math
import random

import pytest

from rlaif.judges._metrics import JudgeMetrics, Reservoir


def test_counters_per_window_and_in_total() -> None:
    metrics = JudgeMetrics()
    metrics.record(ok=True, latency_s=1.0, tokens_in=5, tokens_out=2)
    metrics.record(ok=False, latency_s=3.0, retries=2)
    metrics.record(ok=True, latency_s=0.0, cached=True)
    window = metrics.drain()
    assert (window["requests"], window["failures"], window["retries"], window["cache_hits"]) == (3, 1, 2, 1)
    assert window["failure_rate"] == pytest.approx(1 / 3) and (window["tokens_in"], window["tokens_out"]) == (5, 2)
    # Cache hits carry no latency; percentiles interpolate between the two latencies (numpy's default).
    assert (window["latency_p50_s"], window["latency_p95_s"]) == pytest.approx((2.0, 2.9))
    empty = metrics.drain()
    assert empty["requests"] == 0 and math.isnan(empty["latency_p50_s"])
    assert metrics.totals()["requests"] == 3


def test_reservoir_stays_at_its_size_and_samples_the_whole_stream() -> None:
    reservoir = Reservoir(1000, random.Random(0))
    for i in range(100_000):  # a rising stream: a window of the latest values would sit near the top
        reservoir.add(i / 100_000)
    assert len(reservoir.values) == 1000 and reservoir.seen == 100_000
    ordered = sorted(reservoir.values)
    assert ordered[500] == pytest.approx(0.5, abs=0.06)
    assert ordered[100] == pytest.approx(0.1, abs=0.04) and ordered[950] == pytest.approx(0.95, abs=0.03)
    with pytest.raises(ValueError):
        Reservoir(0)


def test_latency_samples_are_bounded_in_a_long_run() -> None:
    metrics = JudgeMetrics(max_samples=500, seed=1)
    for i in range(20_000):
        metrics.record(ok=True, latency_s=float(i % 100))  # uniform over 0..99
    window, total = metrics._window.latencies, metrics._total.latencies
    assert len(window.values) == len(total.values) == 500 and total.seen == 20_000
    totals = metrics.totals()
    assert totals["requests"] == 20_000
    assert totals["latency_p50_s"] == pytest.approx(49.5, abs=8) and totals["latency_p95_s"] == pytest.approx(95, abs=4)
    assert metrics.drain()["latency_p50_s"] == pytest.approx(49.5, abs=8)
    assert len(metrics._window.latencies.values) == 0  # a drained window starts empty
