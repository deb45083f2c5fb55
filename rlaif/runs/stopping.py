"""A run that stops early on purpose (the judge failed too often, or an alarm under ``on_alarm=stop``) keeps a
checkpoint of its last completed step and says how to resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_checkpoint(trainer: Any) -> Path | None:
    """Save a resumable checkpoint of the last completed step (model, optimizer, scheduler, RNG, state).

    TRL has no public call for this outside its save schedule; ``_save_checkpoint`` is what that schedule
    runs, so a checkpoint saved here is one ``resume`` reads like any other.
    """
    step = trainer.state.global_step
    if step == 0:
        return None
    trainer._save_checkpoint(trainer.model, trial=None)
    return Path(trainer.args.output_dir) / f"checkpoint-{step}"


def stopped_message(exc: BaseException, checkpoint: Path | None, run_dir: Path) -> str:
    saved = f"checkpoint saved: {checkpoint}" if checkpoint else "no step had completed: nothing to resume"
    return (
        f"run stopped: {exc}\n{saved}. Once the judge is back (or the alarm is understood: {run_dir}/alarms.jsonl), "
        f"resume with the same overrides plus resume=auto hydra.run.dir={run_dir}"
    )
