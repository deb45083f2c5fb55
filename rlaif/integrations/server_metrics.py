"""What ``python -m rlaif.serve`` shows on ``GET /metrics`` (Prometheus text): the server's own counters and the
judge's totals (``judge.metrics.totals()``), read when the page is scraped.

Names (docs/serving.md): ``rlaif_serve_http_requests_total{path,status}``, ``rlaif_serve_reward_calls_total``
(judge batches: one ``score_batch`` call each), ``rlaif_serve_answers_total{endpoint}``,
``rlaif_serve_failed_answers_total{endpoint}`` (answers that got the failure value), ``rlaif_serve_stops_total``,
the histograms ``rlaif_serve_batch_answers`` and ``rlaif_serve_reward_seconds{endpoint}``, and
``rlaif_judge_{requests,failures,retries,cache_hits,tokens_in,tokens_out}_total`` with
``rlaif_judge_latency_seconds{quantile}`` (the judge's p50 and p95 since it was built).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

PATHS = ("/get_reward", "/nova", "/health", "/metrics")  # any other path is counted as "other"
_JUDGE_COUNTERS = {
    "requests": "judge requests sent or answered from the cache",
    "failures": "judge requests that failed after their retries",
    "retries": "judge request retries",
    "cache_hits": "judge requests answered from the cache",
    "tokens_in": "prompt tokens sent to the judge",
    "tokens_out": "tokens the judge generated",
}


class _JudgeTotals:
    """A Prometheus collector over the judge's own totals (read at scrape time, never copied)."""

    def __init__(self, totals: Callable[[], dict[str, float]]) -> None:
        self._totals = totals

    def collect(self) -> Iterator[Metric]:
        totals = self._totals()
        for key, help_text in _JUDGE_COUNTERS.items():
            yield CounterMetricFamily(f"rlaif_judge_{key}", help_text, value=totals.get(key, 0.0))
        latency = GaugeMetricFamily(
            "rlaif_judge_latency_seconds", "judge request latency since start (NaN before any)", labels=["quantile"]
        )
        latency.add_metric(["0.5"], totals.get("latency_p50_s", float("nan")))
        latency.add_metric(["0.95"], totals.get("latency_p95_s", float("nan")))
        yield latency


class ServerMetrics:
    """The server's counters on a registry of its own (two apps in one process do not collide)."""

    def __init__(self, judge: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rlaif_serve_http_requests", "HTTP requests by path and status", ["path", "status"], registry=self.registry
        )
        self.reward_calls = Counter(
            "rlaif_serve_reward_calls", "judge batches scored (one score_batch call each)", registry=self.registry
        )
        self.answers = Counter("rlaif_serve_answers", "answers scored", ["endpoint"], registry=self.registry)
        self.failed = Counter(
            "rlaif_serve_failed_answers", "answers the judge failed on (given the failure value)", ["endpoint"],
            registry=self.registry,
        )  # fmt: skip
        self.stops = Counter(
            "rlaif_serve_stops", "times the reward asked to stop (failure rate, alarm)", registry=self.registry
        )
        self.batch_answers = Histogram(
            "rlaif_serve_batch_answers", "answers per judge batch", registry=self.registry,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
        )  # fmt: skip
        self.reward_seconds = Histogram(
            "rlaif_serve_reward_seconds", "seconds per reward call (a batch, or a /nova request)", ["endpoint"],
            registry=self.registry,
        )  # fmt: skip
        for endpoint in ("get_reward", "nova"):  # shown at 0 from the start, so a dashboard has the series
            self.answers.labels(endpoint)
            self.failed.labels(endpoint)
        self.registry.register(_JudgeTotals(judge.metrics.totals))

    def count_request(self, path: str, status: int) -> None:
        self.requests.labels(path if path in PATHS else "other", str(status)).inc()

    def text(self) -> bytes:
        return generate_latest(self.registry)
