"""What a run leaves in its folder, and the rule that protects what was there before.

- The adapter (saved by train.py), checkpoints (``checkpoint-N``, TRL's own), metrics, a reward plot,
  ``run_summary.json`` written last and only on success, ``FAILED`` instead when a run fails.
- rlaif deletes only what this invocation created. Hydra creates the run folder (and ``.hydra/``,
  ``train.log``) before rlaif's code runs, so :class:`RunFolderGuard`, a Hydra callback, records what
  the folder held *before* that; a set-up failure then removes only the entries that were not there.
  A folder that existed (``hydra.run.dir=.``, a run being resumed) is never removed.
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from rlaif.runs.judge_totals import write_folder_totals
from rlaif.runs.secrets import install_log_redaction, redact_saved_config, secret_values

log = logging.getLogger(__name__)

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# Run folder -> the names it held before this invocation (None: it did not exist).
_BEFORE: dict[Path, frozenset[str] | None] = {}


class RunFolderGuard(Callback):
    """Hydra callback (``hydra.callbacks`` in train.yaml): snapshot the run folder before Hydra writes to
    it, and mask secrets in what Hydra saved before the job starts."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        folder = Path(str(OmegaConf.select(config, "hydra.run.dir"))).resolve()
        _BEFORE[folder] = frozenset(p.name for p in folder.iterdir()) if folder.is_dir() else None

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        # The job's own keys, unresolved: what the user wrote (a command-line override lands here too).
        job = OmegaConf.to_container(config, resolve=False)
        assert isinstance(job, dict)
        secrets = secret_values({str(k): v for k, v in job.items() if k != "hydra"})
        install_log_redaction(secrets)
        output_dir = Path(str(config.hydra.runtime.output_dir))
        if config.hydra.output_subdir is not None:
            redact_saved_config(output_dir / str(config.hydra.output_subdir), secrets)


def remove_created(run_dir: Path) -> None:
    """Remove what this invocation added to ``run_dir``: the whole folder if it is new, else only new entries.

    Without a snapshot (the callback did not run, e.g. a multirun) nothing is removed: when in doubt, keep.
    """
    folder = run_dir.resolve()
    if folder not in _BEFORE:
        log.debug("no snapshot of %s: leaving it as it is", folder)
        return
    before = _BEFORE[folder]
    if before is None:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for entry in folder.iterdir():
        if entry.name not in before:
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest *complete* ``checkpoint-N`` in ``run_dir``: TRL writes ``trainer_state.json`` last, so a
    checkpoint cut short by a crash is skipped rather than resumed from."""
    if not run_dir.is_dir():
        return None
    found = []
    for entry in run_dir.iterdir():
        match = _CHECKPOINT.match(entry.name)
        if match and (entry / "trainer_state.json").is_file():
            found.append((int(match.group(1)), entry))
    return max(found)[1] if found else None


def finish_run(run_dir: Path, trainer: Any, judge: Any, step_time: dict[str, float] | None = None) -> dict[str, Any]:
    """Write judge metrics, the reward plot and the summary (main process only; ``{}`` elsewhere).

    ``judge_metrics.json`` is every process's judge totals added up, over every attempt of the run (resumes
    included): the files of :mod:`~rlaif.runs.judge_totals`, final once every process is here."""
    trainer.accelerator.wait_for_everyone()  # each process wrote its totals at the end of training
    if not trainer.accelerator.is_main_process:
        return {}
    history = [h for h in trainer.state.log_history if "reward" in h]
    rewards = [(h["step"], h["reward"], h.get("reward_std")) for h in history if _finite(h["reward"])]
    totals = write_folder_totals(run_dir, fallback=judge.metrics.totals())
    baseline = _baseline_reward(run_dir / "baseline.json")
    plot_rewards(rewards, run_dir / "reward_curve.png", baseline=baseline)
    summary = {
        "steps": trainer.state.global_step,
        "first_reward": rewards[0][1] if rewards else None,
        "last_reward": rewards[-1][1] if rewards else None,
        # Steps whose every answer went unscored (a judge outage): they trained on nothing.
        "steps_without_reward": len(history) - len(rewards),
        "baseline_reward": baseline,
        "adapter": str(run_dir / "adapter"),
        "judge": judge.identity,
        "judge_requests": totals["requests"],
        "judge_cache_hits": totals["cache_hits"],
        # Median seconds per step: generation, judge, optimisation (per step in step_timing.jsonl)
        "step_time": step_time or {},
    }
    (run_dir / "run_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _baseline_reward(path: Path) -> float | None:
    try:
        value = json.loads(path.read_text()).get("mean_reward")
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if _finite(value) else None


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def plot_rewards(rewards: list[tuple[int, float, float | None]], path: Path, baseline: float | None = None) -> None:
    """Mean reward per logged step (with its spread across completions) as a PNG, starting from the base
    policy's ``baseline`` at step 0; steps without a reward are left out, so a judge outage shows as a
    gap, never as a crash."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no backend to choose, no display needed

    steps = [s for s, _, _ in rewards]
    means = [m for _, m, _ in rewards]
    spread = [float(sd) if sd is not None and _finite(sd) else 0.0 for _, _, sd in rewards]
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    ax.plot(steps, means, marker="o", markersize=3, label="mean reward")
    low = [m - s for m, s in zip(means, spread, strict=True)]
    high = [m + s for m, s in zip(means, spread, strict=True)]
    ax.fill_between(steps, low, high, alpha=0.2)
    if baseline is not None:
        ax.plot([0], [baseline], marker="s", linestyle="none", color="black", label="base policy (before training)")
        ax.axhline(baseline, color="black", linewidth=0.8, linestyle=":")
        ax.legend(loc="best", fontsize=8)
    ax.set_xlabel("step")
    ax.set_ylabel("reward")
    ax.set_title("Judge reward per step" if rewards else "Judge reward per step (no step was scored)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def set_aside_failed_marker(run_dir: Path) -> None:
    """A resumed run keeps the earlier failure's record as ``FAILED.<n>`` instead of deleting it."""
    marker = run_dir / "FAILED"
    if marker.is_file():
        n = 1
        while (run_dir / f"FAILED.{n}").exists():
            n += 1
        marker.rename(run_dir / f"FAILED.{n}")
