"""Step numbers: TRL's. The first step is 1, ``checkpoint-N`` holds steps 1..N, and every file and log line rlaif
writes uses it: those written while a step runs (``rewards.jsonl``, ``monitor.jsonl``, ``canaries.jsonl``,
``alarms.jsonl``, the alarm and stop messages) name the step being taken, TRL's ``global_step`` + 1 at reward
time, the number TRL's own log, ``metrics.jsonl`` and TensorBoard give that step once it is done.

Run folders written before this rule named the steps done before it (the first was 0) in those files; a run
folder of this rule says so in its ``run_info.json`` (:data:`MARK`), and :func:`during_step_offset` is what a
reader adds to the steps of such a file to get TRL's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MARK = {"step_numbering": "trl"}  # in run_info.json: this folder's files number steps as TRL does


def step_being_taken(trainer_state: Any) -> int | None:
    """The number of the step a reward call belongs to (TRL's ``global_step`` + 1); None outside training."""
    done = getattr(trainer_state, "global_step", None)
    return None if done is None else int(done) + 1


def during_step_offset(run_dir: Path) -> int:
    """What to add to the steps of the files ``run_dir`` wrote while a step ran: 0 for a folder marked with
    :data:`MARK`, 1 for an older one (its first step was 0 there)."""
    try:
        info = json.loads((run_dir / "run_info.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 1
    marked = isinstance(info, dict) and all(info.get(k) == v for k, v in MARK.items())
    return 0 if marked else 1
