"""A resumed run's logs hold one set of rows per step.

A run killed between two checkpoints has logged steps that its newest checkpoint does not hold; the resume
replays them from the checkpoint and logs them again. :func:`start_resume` cuts every per-step log that rlaif
writes in the run folder back to the checkpoint's steps *before* anything of the resumed run reads or appends to
them, so each step is there once, as the resumed run did it. Each file is rewritten whole into a temporary file
and renamed over the old one: a crash during the cut leaves either the old file or the cut one, never half.

Step numbers: TRL's ``global_step``. ``metrics.jsonl`` and ``step_timing.jsonl`` are written when a step is done
(the first step is 1); the files written while a step runs name the steps done before it (the first is 0), as
``rlaif/reporting/run_files.py`` reads them. A checkpoint after step G keeps rows <= G of the first kind, < G of
the second. TensorBoard keeps its event files; :func:`continue_tensorboard` makes the resumed run write into the
same TensorBoard runs with ``purge_step``, which hides the events of the replayed steps from every reader.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from rlaif.rewards.run_log import per_rank
from rlaif.runs.config_checks import resolve_resume
from rlaif.runs.processes import is_main_process
from rlaif.runs.run_record import CompletionsTable, tensorboard_writer

log = logging.getLogger("rlaif.train")

# The main process's per-step logs: file -> True when its step is the one done *after* the row was written.
MAIN_LOGS = {
    "metrics.jsonl": True,
    "step_timing.jsonl": True,
    "monitor.jsonl": False,
    "canaries.jsonl": False,
    "alarms.jsonl": False,
}
# Every process writes its own answers' file (rewards.rank<N>.jsonl beside rank 0's rewards.jsonl).
RANK_LOGS = ("rewards.jsonl", "monitor_judge/rewards.jsonl")


def start_resume(resume: Any, run_dir: Path) -> str | None:
    """The checkpoint to resume from (``resume``: null, auto or a path; see ``resolve_resume``), with the run
    folder's per-step logs cut back to its step; None for a fresh start (nothing is cut)."""
    checkpoint = resolve_resume(resume, run_dir)
    if checkpoint is not None:
        step = checkpoint_step(checkpoint)
        names = [str(per_rank(Path(name))) for name in RANK_LOGS]
        if is_main_process():
            names += list(MAIN_LOGS)
        cut = cut_logs(run_dir, step, names)
        if cut:
            log.info("resuming after step %d: rows of later steps removed from %s", step, _listed(cut))
    return checkpoint


def checkpoint_step(checkpoint: str | Path) -> int:
    """The ``global_step`` a checkpoint was saved after (its ``trainer_state.json``; a complete one has it)."""
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text(encoding="utf-8"))
    return int(state["global_step"])


def cut_logs(run_dir: Path, step: int, names: list[str]) -> dict[str, int]:
    """Cut each of ``names`` (paths in ``run_dir``) to the rows of steps up to ``step``; name -> rows removed
    (files with none to remove are not rewritten)."""
    removed = {}
    for name in names:
        after = MAIN_LOGS.get(name, False)
        count = _cut(run_dir / name, step if after else step - 1)
        if count:
            removed[name] = count
    return removed


def _cut(path: Path, last: int) -> int:
    """Keep the rows of ``path`` whose step is <= ``last``; the number of rows (or damaged lines) removed.

    A row without a step number (none of rlaif's per-step rows) is kept. A last line without its newline was cut
    short by the crash: it goes, or the resumed run's first row would be appended to it."""
    if not path.is_file():
        return 0
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    lines = text.splitlines(keepends=True)
    kept = [line for line in lines if line.endswith("\n") and _step(line) <= last]
    if len(kept) == len(lines):
        return 0
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.writelines(kept)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return len(lines) - len(kept)


def _step(line: str) -> float:
    try:
        step = json.loads(line).get("step")
    except (ValueError, AttributeError):  # not a JSON object: kept, as a reader would skip it
        return float("-inf")
    return float(step) if isinstance(step, int | float) and not isinstance(step, bool) else float("-inf")


def _listed(cut: dict[str, int]) -> str:
    return ", ".join(f"{name} ({count})" for name, count in cut.items())


def continue_tensorboard(trainer: Any, resume: str | None, run_dir: Path) -> Any:
    """``trainer``, set so that on a resume TRL's TensorBoard scalars go on in the run's newest TensorBoard run and
    rlaif's completions table in its own, each hiding (``purge_step``) the events of the steps after the checkpoint.
    Call before ``trainer.train``. Without an earlier TensorBoard run, TRL's writer is left as it is."""
    from transformers.integrations import TensorBoardCallback

    if resume is None or not trainer.is_world_process_zero():
        return trainer
    purge = checkpoint_step(resume) + 1
    callbacks = trainer.callback_handler.callbacks
    tensorboard = next((c for c in callbacks if type(c) is TensorBoardCallback), None)
    shared = os.environ.get("TENSORBOARD_LOGGING_DIR")  # TRL's and the table's one folder: one purge is enough
    for table in (c for c in callbacks if isinstance(c, CompletionsTable)):
        table.purge_step = None if shared else purge
    scalars = os.path.expanduser(shared) if shared else _newest_tensorboard_run(run_dir / "runs")
    if tensorboard is None or scalars is None:
        return trainer
    trainer.remove_callback(tensorboard)
    trainer.add_callback(TensorBoardCallback(tb_writer=tensorboard_writer(scalars, purge)))
    return trainer


def _newest_tensorboard_run(runs: Path) -> str | None:
    """The TensorBoard run TRL wrote last in ``runs`` (its own are named by time and host), or None."""
    found = [
        (max(e.stat().st_mtime for e in events), folder)
        for folder in (runs.iterdir() if runs.is_dir() else [])
        if folder.is_dir() and folder.name != "completions" and (events := list(folder.glob("events.out.tfevents.*")))
    ]
    return str(max(found)[1]) if found else None
