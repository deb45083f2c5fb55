"""What a run leaves in its folder: the adapter (saved by train.py), metrics, a reward plot, a summary.

``run_summary.json`` is written last and only on success; a failed run gets ``FAILED`` instead, so
no folder ever looks finished when it is not.
"""

from __future__ import annotations

import dataclasses
import json
import traceback
from pathlib import Path
from typing import Any

from omegaconf import DictConfig


class ConfigError(ValueError):
    """A config value or key is wrong; the message names the key."""


def check_grpo_keys(grpo: DictConfig) -> None:
    """Name unknown GRPOConfig keys ourselves: TRL would only say 'unexpected keyword argument'."""
    from trl import GRPOConfig

    known = {f.name for f in dataclasses.fields(GRPOConfig)}
    unknown = sorted(str(k) for k in grpo if not str(k).startswith("_") and k not in known)
    if unknown:
        raise ConfigError(f"grpo: unknown GRPOConfig field(s) {unknown} (see trl.GRPOConfig for valid names)")


def finish_run(run_dir: Path, trainer: Any, judge: Any) -> dict[str, Any]:
    """Write judge metrics, the reward plot and the summary (main process only)."""
    if not trainer.accelerator.is_main_process:
        return {}
    history = [h for h in trainer.state.log_history if "reward" in h]
    totals = judge.metrics.totals()
    (run_dir / "judge_metrics.json").write_text(json.dumps(totals, indent=2))
    plot_rewards(history, run_dir / "reward_curve.png")
    summary = {
        "steps": trainer.state.global_step,
        "first_reward": history[0]["reward"] if history else None,
        "last_reward": history[-1]["reward"] if history else None,
        "adapter": str(run_dir / "adapter"),
        "judge": judge.identity,
        "judge_requests": totals["requests"],
    }
    (run_dir / "run_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def plot_rewards(history: list[dict[str, Any]], path: Path) -> None:
    """Mean reward per logged step (with its spread across completions) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    means = [h["reward"] for h in history]
    spread = [h.get("reward_std", 0.0) for h in history]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, means, marker="o", markersize=3, label="mean reward")
    low = [m - s for m, s in zip(means, spread, strict=True)]
    high = [m + s for m, s in zip(means, spread, strict=True)]
    ax.fill_between(steps, low, high, alpha=0.2)
    ax.set_xlabel("step")
    ax.set_ylabel("reward")
    ax.set_title("Judge reward per step")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def mark_failed(run_dir: Path, exc: BaseException) -> None:
    """Leave a ``FAILED`` file with the error, so the folder cannot be mistaken for a finished run."""
    if run_dir.is_dir():
        (run_dir / "FAILED").write_text("".join(traceback.format_exception(exc)))
