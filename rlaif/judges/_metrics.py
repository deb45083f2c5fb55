"""Per-judge counters: what a run needs to plan cost and spot a sick judge.

Latency percentiles come from a fixed-size uniform sample (reservoir sampling, Vitter's algorithm R)
rather than every sample: memory stays bounded in a run of any length, and p50/p95 still describe the
whole run, where a window of the most recent samples would forget how the run began.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

from rlaif.judges.quantiles import percentile

DEFAULT_MAX_SAMPLES = 10_000


def _percentile(values: list[float], q: float) -> float:
    # NaN, not None, for no values: the window's other entries are numbers, and a logger takes NaN.
    value = percentile(values, q)
    return float("nan") if value is None else value


class Reservoir:
    """A uniform random sample of at most ``size`` of the values added so far."""

    def __init__(self, size: int = DEFAULT_MAX_SAMPLES, rng: random.Random | None = None) -> None:
        if size < 1:
            raise ValueError(f"size: expected >= 1, got {size}")
        self.size = size
        self.seen = 0
        self.values: list[float] = []
        self._rng = rng or random.Random()

    def add(self, value: float) -> None:
        self.seen += 1
        if len(self.values) < self.size:
            self.values.append(value)
            return
        # Keep the new value with probability size/seen, in place of a uniformly chosen kept one.
        slot = self._rng.randrange(self.seen)
        if slot < self.size:
            self.values[slot] = value


@dataclass
class _Window:
    requests: int = 0
    failures: int = 0
    retries: int = 0
    cache_hits: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    reasoning_tokens: int = 0  # of tokens_out: a thinking judge's reasoning (rlaif.judges.thinking)
    rate_limit_wait_s: float = 0.0  # summed over attempts: a quota that is the bottleneck shows here
    latencies: Reservoir = field(default_factory=Reservoir)


class JudgeMetrics:
    """Thread-safe counters, both since the last :meth:`drain` (per training step) and in total."""

    def __init__(self, max_samples: int = DEFAULT_MAX_SAMPLES, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._max_samples = max_samples
        self._rng = random.Random(seed)
        self._window = self._new_window()
        self._total = self._new_window()

    def _new_window(self) -> _Window:
        return _Window(latencies=Reservoir(self._max_samples, self._rng))

    def record(
        self,
        *,
        ok: bool,
        latency_s: float,
        cached: bool = False,
        retries: int = 0,
        tokens_in: int = 0,
        tokens_out: int = 0,
        reasoning_tokens: int = 0,
    ) -> None:
        with self._lock:
            for w in (self._window, self._total):
                w.requests += 1
                w.failures += 0 if ok else 1
                w.retries += retries
                w.cache_hits += 1 if cached else 0
                w.tokens_in += tokens_in
                w.tokens_out += tokens_out
                w.reasoning_tokens += reasoning_tokens
                if not cached:
                    w.latencies.add(latency_s)

    def add_rate_limit_wait(self, seconds: float) -> None:
        """Time one attempt waited for ``judge.policy.max_rpm`` / ``max_tpm`` before it was sent."""
        with self._lock:
            for w in (self._window, self._total):
                w.rate_limit_wait_s += seconds

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
            # The server's count (usage.completion_tokens_details.reasoning_tokens) where it gives one, else an
            # estimate from the reasoning text (rlaif.judges.thinking.estimate_tokens); included in tokens_out.
            "reasoning_tokens": float(w.reasoning_tokens),
            "latency_p50_s": _percentile(w.latencies.values, 0.5),
            "latency_p95_s": _percentile(w.latencies.values, 0.95),
            "rate_limit_wait_s": w.rate_limit_wait_s,
        }

    def drain(self) -> dict[str, float]:
        """Summary of the requests since the last drain, then start a new window."""
        with self._lock:
            window, self._window = self._window, self._new_window()
        return self._summary(window)

    def totals(self) -> dict[str, float]:
        """Summary of every request since the judge was built."""
        with self._lock:
            return self._summary(self._total)
