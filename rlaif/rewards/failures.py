"""What a judge failure becomes, and when there are too many to go on.

A failure is ``None`` by default: TRL leaves that row out of the group baseline (advantage 0),
so a broken judge never looks like a bad answer. ``neutral`` is the AWS example's 0.5 fallback,
kept as an explicit, counted choice. Past ``max_failure_rate`` over the last ``window`` judged
answers the run stops with a message, instead of training on noise.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Literal

from rlaif.errors import ConfigError

OnJudgeError = Literal["none", "neutral", "raise"]
NEUTRAL_SCORE = 0.5


class JudgeFailureError(RuntimeError):
    """Raised when a judge failure must stop the run (``on_judge_error=raise`` or the rate limit)."""


class FailurePolicy:
    """Turns failed verdicts into ``None`` / 0.5 / an exception, and tracks the recent failure rate."""

    def __init__(
        self,
        on_judge_error: OnJudgeError = "none",
        max_failure_rate: float = 0.5,
        window: int = 64,
        min_calls: int = 16,
    ) -> None:
        if on_judge_error not in ("none", "neutral", "raise"):
            raise ConfigError(f"on_judge_error: expected none, neutral or raise, got {on_judge_error!r}")
        if not 0.0 <= max_failure_rate <= 1.0:
            raise ConfigError(f"max_failure_rate: expected a value in [0, 1], got {max_failure_rate}")
        self.on_judge_error = on_judge_error
        self.max_failure_rate = max_failure_rate
        self.window = window
        self.min_calls = min_calls
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._recent: deque[bool] = deque(maxlen=self.window)
        self._lock = threading.Lock()
        self.failures = 0
        self.total = 0
        self.last_error: str | None = None  # the message names it even when a success tips the rate over

    def __getstate__(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in ("on_judge_error", "max_failure_rate", "window", "min_calls")}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._init_runtime()

    def resolve(self, score: float | None, error: str | None) -> float | None:
        """The score to hand to TRL for one answer; records the outcome."""
        failed = error is not None
        with self._lock:
            self.total += 1
            self.failures += int(failed)
            if failed:
                self.last_error = error
            last_error = self.last_error
            self._recent.append(failed)
            recent_rate = sum(self._recent) / len(self._recent)
            enough = len(self._recent) >= min(self.min_calls, self.window)
        if failed and self.on_judge_error == "raise":
            raise JudgeFailureError(f"judge failed and on_judge_error=raise: {error}")
        if enough and recent_rate > self.max_failure_rate:
            raise JudgeFailureError(
                f"judge failure rate {recent_rate:.0%} over the last {len(self._recent)} answers exceeds "
                f"max_failure_rate={self.max_failure_rate:.0%} (last error: {last_error}). Check the judge endpoint, "
                "or raise reward.failures.max_failure_rate."
            )
        if not failed:
            return score
        return NEUTRAL_SCORE if self.on_judge_error == "neutral" else None
