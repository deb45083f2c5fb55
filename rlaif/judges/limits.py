"""The limits every judge backend shares (:class:`JudgePolicy`) and the circuit breaker that enforces one."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict, Field

from rlaif.errors import parse_settings

# Strict per field (a dataclass as a whole cannot be strict: the config is a mapping, not an instance).
_Seconds = Annotated[float, Field(ge=0.0, strict=True)]
_Count = Annotated[int, Field(ge=0, strict=True)]
_Flag = Annotated[bool, Field(strict=True)]
# A quota of 0 would block every request forever: no limit is ``None``, so a limit must be positive.
_PerMinute = Annotated[float, Field(gt=0.0, strict=True)]


@dataclass
class JudgePolicy:
    """Limits shared by every backend. Defaults follow what the field converged on (slime PR #1582).

    Build it from a config with :meth:`parse`: a string where a number belongs would otherwise only fail
    deep inside asyncio, on every request."""

    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid")

    timeout_s: _Seconds = 60.0  # one attempt
    batch_deadline_s: _Seconds = 600.0  # a whole batch, retries included: a judge can never hang a step
    max_retries: _Count = 4
    backoff_initial_s: _Seconds = 1.0
    backoff_max_s: _Seconds = 30.0
    backoff_jitter_s: _Seconds = 1.0
    max_concurrency: _Count = 32  # requests in flight at once
    # Provider quotas, per judge (each pool endpoint has its own); every attempt counts, retries included.
    # None: no limit. Tokens are estimated, then corrected by the reply's usage (rlaif.judges.rate_limits).
    max_rpm: _PerMinute | None = None  # requests per minute
    max_tpm: _PerMinute | None = None  # prompt + completion tokens per minute
    breaker_threshold: _Count = 20  # consecutive failed attempts that open the circuit
    breaker_cooldown_s: _Seconds = 30.0
    cache: _Flag = True
    cache_path: str | None = None  # a cache directory (diskcache, safe for several processes); None: memory only

    @classmethod
    def parse(cls, policy: JudgePolicy | Mapping[str, Any] | None) -> JudgePolicy:
        """``policy`` (``judge.policy``) checked: every wrong key, type or negative number named at once."""
        if isinstance(policy, JudgePolicy):
            return policy
        return parse_settings(cls, dict(policy or {}), "judge.policy")


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
