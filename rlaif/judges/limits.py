"""The limits every judge backend shares (:class:`JudgePolicy`) and the circuit breaker that enforces one."""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

from rlaif.errors import ConfigError


@dataclass
class JudgePolicy:
    """Limits shared by every backend. Defaults follow what the field converged on (slime PR #1582)."""

    timeout_s: float = 60.0  # one attempt
    batch_deadline_s: float = 600.0  # a whole batch, retries included: a judge can never hang a step
    max_retries: int = 4
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    backoff_jitter_s: float = 1.0
    max_concurrency: int = 32  # requests in flight at once
    breaker_threshold: int = 20  # consecutive failed attempts that open the circuit
    breaker_cooldown_s: float = 30.0
    cache: bool = True
    cache_path: str | None = None  # a cache directory (diskcache, safe for several processes); None: memory only

    def __post_init__(self) -> None:
        # A string where a number belongs would only fail deep inside asyncio, on every request.
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "float" and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
                setattr(self, f.name, value)
            expected = {"float": float, "int": int, "bool": bool}.get(str(f.type))
            wrong_bool = isinstance(value, bool) and expected is not bool
            if expected is not None and (not isinstance(value, expected) or wrong_bool):
                raise ConfigError(f"judge.policy.{f.name}: expected {f.type}, got {value!r}")
            if expected in (int, float) and value < 0:
                raise ConfigError(f"judge.policy.{f.name}: must be >= 0, got {value!r}")


class Breaker:
    """Opens after ``threshold`` consecutive failed attempts; then lets one probe through per ``cooldown``."""

    def __init__(self, threshold: int, cooldown_s: float) -> None:
        self.threshold, self.cooldown_s = threshold, cooldown_s
        self.consecutive_failures = 0
        self.open_until = 0.0

    def allow(self) -> bool:
        if self.consecutive_failures < self.threshold:
            return True
        now = time.monotonic()
        if now < self.open_until:
            return False
        self.open_until = now + self.cooldown_s  # half-open: this request probes, the rest still fail fast
        return True

    def success(self) -> None:
        self.consecutive_failures = 0

    def failure(self) -> None:
        self.consecutive_failures += 1
        if self.consecutive_failures >= self.threshold:
            self.open_until = time.monotonic() + self.cooldown_s
