"""Where a training step's time goes: generation, the judge, the rest (``step_timing.jsonl`` + one log line).

TRL's own profiling reaches only W&B, MLflow and Trackio, and does not say what share of a step the judge
takes. :class:`StepTimer` is a plain ``TrainerCallback`` that times each optimizer step; the reward it wraps
(:meth:`StepTimer.timed`) times the judge. TRL generates a step's completions and then scores them, so
*generation* is the time from the step's start to its first reward call, *judge* the reward calls
themselves less the time of the guards around them (*guards*: the monitor and the canaries,
:class:`~rlaif.monitoring.guard.GuardedReward`), and *optimisation* the rest of the step (log-probabilities,
backward, optimizer). A step that reuses completions generated earlier (``steps_per_generation`` > 1) shows 0
for generation and judge.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from rlaif.judges.quantiles import median
from rlaif.rewards.capabilities import TimesItsGuards, call_reward

log = logging.getLogger("rlaif.train")

FIELDS = ("step_s", "generation_s", "judge_s", "guard_s", "optimisation_s")
RATES = ("rollout_tokens_per_s", "judge_requests_per_s")


class StepTimer(TrainerCallback):
    """Times every optimizer step; rows go to ``path`` (main process only) and to the log."""

    def __init__(self, judge: Any, path: Path | None) -> None:
        self.judge = judge
        self.path = path
        self.rows: list[dict[str, float]] = []
        self._begin: float | None = None
        self._first_reward: float | None = None
        self._judge_s = 0.0
        self._guard_s = 0.0
        self._tokens = 0
        self._requests_before = 0.0
        self._guard_requests = (0.0, 0.0)  # (sent to the training judge, all): the guards', not the reward's
        self.device: Any = None  # the process's own GPU (TrainingArguments.device), told at on_train_begin

    def timed(self, reward: Any) -> Any:  # Any: TRL's reward_funcs type does not name async callables
        """``reward`` with its calls timed into this step's judge time (TRL sees the same name and result)."""
        return TimedReward(reward, self)

    def reward_started(self, rollout_tokens: int) -> float:
        """A reward call begins (its completions' token count); the clock value to pass to reward_finished."""
        _synchronize(self.device)
        start = time.perf_counter()
        if self._first_reward is None:
            self._first_reward = start
        self._tokens += rollout_tokens
        return start

    def reward_finished(self, start: float, guard_s: float = 0.0, guard_requests: tuple[float, float] = (0, 0)) -> None:
        """A reward call ends; ``guard_s`` of it were the guards' and ``guard_requests`` their judge requests (to
        the training judge, in all), counted apart from the reward's."""
        _synchronize(self.device)
        self._judge_s += time.perf_counter() - start - guard_s
        self._guard_s += guard_s
        on_training, every = self._guard_requests
        self._guard_requests = (on_training + guard_requests[0], every + guard_requests[1])

    # -- TrainerCallback ---------------------------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.device = getattr(args, "device", None)

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        _synchronize(self.device)
        self._begin = time.perf_counter()
        self._first_reward, self._judge_s, self._guard_s, self._tokens = None, 0.0, 0.0, 0
        self._guard_requests = (0.0, 0.0)
        self._requests_before = self._judge_requests()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._begin is None:
            return
        _synchronize(self.device)
        step_s = time.perf_counter() - self._begin
        generation_s = self._first_reward - self._begin if self._first_reward is not None else 0.0
        requests = self._judge_requests() - self._requests_before - self._guard_requests[0]  # the reward's own
        row = {
            "step": float(state.global_step),
            "step_s": step_s,
            "generation_s": generation_s,
            "judge_s": self._judge_s,
            "guard_s": self._guard_s,
            "optimisation_s": max(0.0, step_s - generation_s - self._judge_s - self._guard_s),
            "judge_share": self._judge_s / step_s if step_s > 0 else 0.0,
            "rollout_tokens": float(self._tokens),
            "rollout_tokens_per_s": self._tokens / generation_s if generation_s > 0 else 0.0,
            "judge_requests": requests,
            "judge_requests_per_s": requests / self._judge_s if self._judge_s > 0 else 0.0,
            "guard_requests": self._guard_requests[1],
        }
        self.rows.append(row)
        self._begin = None
        if not state.is_world_process_zero:
            return
        log.info(
            "step %d: %.1f s = generation %.1f s + judge %.1f s (%.0f%%) + guards %.2f s + optimisation %.1f s",
            state.global_step,
            step_s,
            generation_s,
            self._judge_s,
            100 * row["judge_share"],
            self._guard_s,
            row["optimisation_s"],
        )
        if self.path is not None:
            with self.path.open("a") as f:
                f.write(json.dumps(row) + "\n")

    # -- summary -----------------------------------------------------------------------------------
    def summary(self) -> dict[str, float]:
        """Median seconds per step of each part, median rates, the judge's share of the total; ``{}`` before any step.

        The first step is left out when there are others: it pays one-off costs (a launched judge server
        starting, CUDA kernels compiling) that say nothing about the steady state.
        """
        rows = self.rows[1:] if len(self.rows) > 1 else self.rows
        if not rows:
            return {}
        # rlaif's one median (rlaif.judges.quantiles); never None here (rows is not empty), `or 0.0` tells mypy.
        out = {key: median(r.get(key, 0.0) for r in rows) or 0.0 for key in (*FIELDS, *RATES)}
        total = sum(r["step_s"] for r in rows)
        out["judge_share"] = sum(r["judge_s"] for r in rows) / total if total > 0 else 0.0
        out["guard_share"] = sum(r.get("guard_s", 0.0) for r in rows) / total if total > 0 else 0.0
        out["steps_timed"] = float(len(rows))
        return out

    def _judge_requests(self) -> float:
        totals = self.judge.metrics.totals()
        return float(totals["requests"] - totals["cache_hits"])


def _synchronize(device: Any) -> None:
    """Wait for the GPU work queued so far on this process's own GPU ``device``, so a clock reading means that
    work is done (CUDA kernels run asynchronously: without this a step's end could be read before its optimiser
    kernels ran, and their time would land in the next step's generation). No-op without an initialised CUDA
    context, or when the process trains on the CPU.

    Always a named device: the reward runs in TRL's event-loop thread, whose current CUDA device is 0 whatever
    the process's is, so on rank k a bare ``torch.cuda.synchronize()`` would wait on GPU 0 (another process's
    work) and create a CUDA context there. Not told (no ``on_train_begin``): ``cuda:$LOCAL_RANK``."""
    import torch

    if not (torch.cuda.is_available() and torch.cuda.is_initialized()):
        return
    if device is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0") or 0) % torch.cuda.device_count())
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


class TimedReward:
    """A reward whose calls are timed by a :class:`StepTimer`; everything else is the wrapped reward's."""

    def __init__(self, reward: Any, timer: StepTimer) -> None:
        self.reward = reward
        self.timer = timer
        self.__name__ = getattr(reward, "__name__", type(reward).__name__)

    async def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        start = self.timer.reward_started(sum(len(ids) for ids in kwargs.get("completion_ids") or []))
        try:
            return await call_reward(self.reward, prompts, completions, **kwargs)  # a plain function works too
        finally:
            guarded = isinstance(self.reward, TimesItsGuards)  # a GuardedReward's guards
            self.timer.reward_finished(
                start,
                self.reward.take_guard_seconds() if guarded else 0.0,
                self.reward.take_guard_requests() if guarded else (0.0, 0.0),
            )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.reward, name)


def table(run_dirs: list[Path]) -> str:
    """A markdown table of the step split of each run folder (its ``run_summary.json``)."""
    lines = [
        "| run | step s | generation s | judge s (share) | guards s | optimisation s | rollout tokens/s "
        "| judge requests/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run_dir in run_dirs:
        t = json.loads((run_dir / "run_summary.json").read_text()).get("step_time") or {}
        if not t:
            lines.append(f"| {run_dir.name} | no steps timed | | | | | | |")
            continue
        lines.append(
            f"| {run_dir.name} | {t['step_s']:.2f} | {t['generation_s']:.2f} | {t['judge_s']:.2f} "
            f"({100 * t['judge_share']:.0f}%) | {t.get('guard_s', 0.0):.2f} | {t['optimisation_s']:.2f} "
            f"| {t['rollout_tokens_per_s']:.0f} "
            f"| {t['judge_requests_per_s']:.1f} |"
        )
    return "\n".join(lines)
