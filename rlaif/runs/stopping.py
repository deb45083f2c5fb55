"""A run that stops early on purpose: the judge failed too often (``reward.failures``), or an alarm fired under
``on_alarm=stop``. Through TRL's public control flags, not by raising out of ``trainer.train``:

- the reward wrapper (``monitoring.guard.GuardedReward``) catches the failure and calls
  :meth:`StopRequest.request`; a failed reward call scores every answer None (TRL gives an unscorable
  answer advantage 0, so the step learns nothing from it), an alarm keeps the step's real scores;
- at the end of that step :class:`StopOnRequest`, a ``TrainerCallback``, sets ``control.should_save`` and
  ``control.should_training_stop``: the Trainer saves ``checkpoint-N`` itself, as on its schedule, and stops;
- ``rlaif.train`` then raises ``RunStoppedError`` with :func:`stopped_message` (exit 1; ``FAILED`` holds the
  reason and the command that resumes, no traceback: a stop is no crash).

Unlike an exception, the stopping step completes (its checkpoint is the one saved), and with several
processes every rank stops at the same step: the request is shared across them before anyone acts on it, and a
process whose own reward saw nothing wrong reports the reason of the one that did (so no rank saves the adapter
and a summary as if the run had finished).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from rlaif.errors import STOPPED

log = logging.getLogger("rlaif.train")


class StopRequest:
    """Why the run must stop (the first reason wins), set by the reward wrapper. Picklable."""

    def __init__(self) -> None:
        self.reason: BaseException | None = None

    def request(self, reason: BaseException, step: int | None = None) -> None:
        """``step``: TRL's number of the step the reason arose in (the one that completes, then stops)."""
        if self.reason is None:
            log.error("rlaif: stopping after %s: %s", "this step" if step is None else f"step {step}", reason)
            self.reason = reason


class StopOnRequest(TrainerCallback):
    """Saves a checkpoint and stops training at the end of the step in which a stop was requested."""

    def __init__(self, stop: StopRequest) -> None:
        self.stop = stop

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> TrainerControl:
        if _anyone(self.stop.reason is not None):
            self.stop.reason = _first_reason(self.stop.reason)
            control.should_save = True
            control.should_training_stop = True
        return control


def stop_reason(trainer: Any) -> BaseException | None:
    """Why the trainer's :class:`StopOnRequest` stopped the run (None: it ran to its end)."""
    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, StopOnRequest):
            return callback.stop.reason
    return None


def _anyone(flag: bool) -> bool:
    """Whether any training process has ``flag`` set (one process alone: its own)."""
    from accelerate import PartialState

    state = PartialState()
    if state.num_processes == 1:
        return flag
    import torch
    from accelerate.utils import reduce

    return bool(reduce(torch.tensor([float(flag)], device=state.device), reduction="sum").item() > 0)


class StoppedElsewhereError(RuntimeError):
    """Another training process requested the stop; the message is its reason, with its rank."""


def _first_reason(reason: BaseException | None) -> BaseException:
    """``reason`` when this process has one, else the first other process's (a collective: every rank calls it)."""
    texts = _gathered(None if reason is None else str(reason))
    if reason is not None:
        return reason
    rank, text = next((rank, text) for rank, text in enumerate(texts) if text is not None)
    return StoppedElsewhereError(f"training process {rank}: {text}")


def _gathered(text: str | None) -> list[str | None]:
    """``text`` of every training process, in rank order."""
    from accelerate import PartialState

    if PartialState().num_processes == 1:
        return [text]
    from accelerate.utils import gather_object

    return list(gather_object([text]))


def saved_checkpoint(output_dir: str | Path, step: int) -> Path | None:
    """The checkpoint the Trainer saved at ``step`` (None when no step had completed)."""
    folder = Path(output_dir) / f"checkpoint-{step}"
    return folder if step > 0 and folder.is_dir() else None


def stopped_message(exc: BaseException, checkpoint: Path | None, run_dir: Path) -> str:
    """Why the run stopped, the checkpoint it saved and the command that resumes it (:data:`STOPPED` first)."""
    saved = (
        f"checkpoint saved: {checkpoint} (the run stopped after step {checkpoint.name.rpartition('-')[2]})"
        if checkpoint
        else "no step had completed: nothing to resume"
    )
    return (
        f"{STOPPED}{exc}\n{saved}.\nOnce the judge is back (or the alarm is understood: {run_dir}/alarms.jsonl), "
        f"resume with:\n  {resume_command(run_dir)}"
    )


def resume_command(run_dir: Path) -> str:
    """``python -m rlaif.train`` with the run's own overrides (as saved, secrets masked) and ``resume=auto``."""
    import shlex

    import yaml

    saved = run_dir / ".hydra" / "overrides.yaml"
    try:
        overrides = yaml.safe_load(saved.read_text(encoding="utf-8")) if saved.is_file() else []
    except (OSError, yaml.YAMLError):
        overrides = []
    kept = [str(o) for o in overrides or [] if not str(o).startswith(("resume=", "hydra.run.dir="))]
    return shlex.join(["python", "-m", "rlaif.train", *kept, "resume=auto", f"hydra.run.dir={run_dir}"])
