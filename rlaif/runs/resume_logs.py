"""A resumed run's logs hold one set of rows per step.

A run killed between two checkpoints has logged steps that its newest checkpoint does not hold; the resume
replays them from the checkpoint and logs them again. :func:`cut_to_checkpoint` (called by ``resolve_resume``
when a run resumes, before anything reads the logs) cuts every per-step log that rlaif writes in the run folder
back to the checkpoint's step, so each step is there once, as the resumed run did it. Each file is written whole
to a temporary file and renamed over the old one: a crash during the cut leaves the old file or the cut one.

Step numbers are TRL's (:mod:`rlaif.rewards.step_numbers`): a checkpoint after step G keeps the rows of steps
<= G of every file. A folder written before that rule (no mark in ``run_info.json``) named the steps done before
the step in the files written while it runs (0 = the first): its rows < G of those are kept and renumbered, and
the folder is marked, so the resumed run appends to files of one numbering.

TensorBoard's event files are not rewritten: each TensorBoard run in ``<run>/runs/`` gets a small event file
that tells readers to drop the events of steps after G written before it (as torch's ``purge_step`` does), so
the replayed steps show once, from the resumed run.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from rlaif.rewards.run_log import per_rank
from rlaif.rewards.step_numbers import MARK, during_step_offset
from rlaif.runs.processes import is_main_process

log = logging.getLogger("rlaif.train")

# The main process's per-step logs: file -> True when a row's step was the one done when it was written, in a
# folder of either numbering (False: written while the step ran; an older folder numbered those one less).
MAIN_LOGS = {
    "metrics.jsonl": True,
    "step_timing.jsonl": True,
    "monitor.jsonl": False,
    "canaries.jsonl": False,
    "alarms.jsonl": False,
}
# Every process writes its own answers' files (rewards.rank<N>.jsonl beside rank 0's rewards.jsonl).
RANK_LOGS = ("rewards.jsonl", "monitor_judge/rewards.jsonl")


def cut_to_checkpoint(run_dir: Path, checkpoint: str | Path) -> dict[str, int]:
    """Cut this process's per-step logs in ``run_dir`` (and, on the main process, hide the replayed steps in its
    TensorBoard runs) back to ``checkpoint``'s step; file name -> rows removed."""
    step = checkpoint_step(checkpoint)
    names = [str(per_rank(Path(name))) for name in RANK_LOGS]
    main = is_main_process()
    offset = during_step_offset(run_dir)
    if offset:
        log.info("resuming a run folder from before TRL's step numbers: its per-step logs are renumbered to them")
    cut = cut_logs(run_dir, step, names + (list(MAIN_LOGS) if main else []), offset)
    if main and offset:  # renumbered just now: marked at once, so a second resume does not renumber again
        mark_step_numbering(run_dir)
    if cut:
        listed = ", ".join(f"{name} ({count})" for name, count in cut.items())
        log.info("resuming after step %d: rows of later steps removed from %s", step, listed)
    if main:
        for folder in tensorboard_runs(run_dir):
            hide_steps_from(folder, step + 1)
    return cut


def checkpoint_step(checkpoint: str | Path) -> int:
    """The ``global_step`` a checkpoint was saved after (its ``trainer_state.json``; a complete one has it)."""
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text(encoding="utf-8"))
    return int(state["global_step"])


def cut_logs(run_dir: Path, step: int, names: list[str], offset: int = 0) -> dict[str, int]:
    """Cut each of ``names`` (paths in ``run_dir``) to the rows of steps up to ``step``; name -> rows removed
    (a file with none to remove is not rewritten). ``offset``: what the folder's numbering adds to the steps of
    the files written while a step ran (:func:`~rlaif.rewards.step_numbers.during_step_offset`): they are
    renumbered to TRL's."""
    removed = {}
    for name in names:
        add = 0 if MAIN_LOGS.get(name, False) else offset
        count = _cut(run_dir / name, step - add, add)
        if count:
            removed[name] = count
    return removed


def mark_step_numbering(run_dir: Path) -> None:
    """Mark ``run_info.json`` with TRL's step numbering (the files were just renumbered to it), keeping what it
    holds."""
    path = run_dir / "run_info.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {}
    info = {**(info if isinstance(info, dict) else {}), **MARK}
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(info, indent=2), encoding="utf-8")
    os.replace(partial, path)


def _cut(path: Path, last: int, add: int = 0) -> int:
    """Keep the rows of ``path`` whose step is <= ``last``, ``add`` added to their steps; the number of lines
    removed.

    A line without a step number (none of rlaif's per-step rows; a line that is not JSON) is kept, as a reader
    would skip it. A last line without its newline was cut short by the crash: it goes, or the resumed run's
    first row would be appended to it."""
    if not path.is_file():
        return 0
    lines = path.read_text(encoding="utf-8", errors="surrogateescape").splitlines(keepends=True)
    kept = [_renumbered(line, add) for line in lines if line.endswith("\n") and _step(line) <= last]
    if len(kept) == len(lines) and not add:
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


def _renumbered(line: str, add: int) -> str:
    if not add or _step(line) == float("-inf"):
        return line
    row = json.loads(line)
    row["step"] += add
    return json.dumps(row, ensure_ascii=False) + "\n"


def _step(line: str) -> float:
    try:
        step = json.loads(line).get("step")
    except (ValueError, AttributeError):
        return float("-inf")
    return float(step) if isinstance(step, int | float) and not isinstance(step, bool) else float("-inf")


def tensorboard_runs(run_dir: Path) -> list[Path]:
    """The TensorBoard runs in the run folder: each folder of ``<run>/runs/`` with an event file (TRL's, one per
    invocation, and rlaif's ``completions``). A ``$TENSORBOARD_LOGGING_DIR`` elsewhere is left alone: other runs
    may write there too."""
    runs = run_dir / "runs"
    found = sorted(f for f in runs.iterdir() if f.is_dir()) if runs.is_dir() else []
    return [f for f in found if any(f.glob("events.out.tfevents.*"))]


def hide_steps_from(log_dir: Path, step: int) -> None:
    """Add an event file to ``log_dir`` after which TensorBoard shows no event of ``step`` or later written before
    it: the resumed run's own, in later files, show instead.

    This is what torch's ``SummaryWriter(purge_step=step)`` writes first, a ``SessionLog.START`` at ``step``, twice:
    the older ``event_accumulator`` purges at every START, but TensorBoard's server (``plugin_event_accumulator``)
    takes a run's first START as its beginning and purges only at a later one, and a run written without
    ``purge_step`` (TRL's, the completions table) has none."""
    import time

    from tensorboard.compat.proto.event_pb2 import Event, SessionLog
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(log_dir))
    for _ in range(2):
        writer.add_event(Event(wall_time=time.time(), step=step, session_log=SessionLog(status=SessionLog.START)))
    writer.close()
