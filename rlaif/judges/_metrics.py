"""Per-judge counters: what a run needs to plan cost and spot a sick judge."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class _Window:
    requests: int = 0
    failures: int = 0
    retries: int = 0
    cache_hits: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    latencies: list[float] = field(default_factory=list)


class JudgeMetrics:
    """Thread-safe counters, both since the last :meth:`drain` (per training step) and in total."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._window = _Window()
        self._total = _Window()

    def record(
        self,
        *,
        ok: bool,
        latency_s: float,
        cached: bool = False,
        retries: int = 0,
        tokens_in: int = 0,
        tokens_out: int = 0,
    ) -> None:
        with self._lock:
            for w in (self._window, self._total):
                w.requests += 1
                w.failures += 0 if ok else 1
                w.retries += retries
                w.cache_hits += 1 if cached else 0
                w.tokens_in += tokens_in
                w.tokens_out += tokens_out
                if not cached:
                    w.latencies.append(latency_s)

    @staticmethod
    def _summary(w: _Window) -> dict[str, float]:
        return {
            "requests": float(w.requests),
            "failures": float(w.failures),
            "failure_rate": w.failures / w.requests if w.requests else 0.0,
            "retries": float(w.retries),
            "cache_hits": float(w.cache_hits),
            "tokens_in": float(w.tokens_in),
            "tokens_out": float(w.tokens_out),
            "latency_p50_s": _percentile(w.latencies, 0.5),
            "latency_p95_s": _percentile(w.latencies, 0.95),
        }

    def drain(self) -> dict[str, float]:
        """Summary of the requests since the last drain, then start a new window."""
        with self._lock:
            window, self._window = self._window, _Window()
        return self._summary(window)

    def totals(self) -> dict[str, float]:
        """Summary of every request since the judge was built."""
        with self._lock:
            return self._summary(self._total)
