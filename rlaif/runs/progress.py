"""Progress bars for long work outside the training loop (judge_eval, evaluate, the baseline check): tqdm, as
TRL and transformers use for training, so the terminal looks the same throughout. Silent where nobody watches
a terminal: under ``CI=true`` and when stderr is not a TTY (a log file, a pipe, SLURM's output); the log lines
those places read are kept beside the bars."""

from __future__ import annotations

import os
import sys
from typing import IO, Any


def watching(stream: IO[str] | None = None) -> bool:
    """Whether a person watches ``stream`` (stderr by default): a TTY, and not a CI run."""
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        return False
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def progress(total: int, desc: str, unit: str = "item", stream: IO[str] | None = None) -> Any:
    """A tqdm bar over ``total`` units, disabled (every call a no-op) when nobody watches (:func:`watching`)."""
    from tqdm.auto import tqdm

    stream = stream if stream is not None else sys.stderr
    return tqdm(total=total, desc=desc, unit=unit, file=stream, disable=not watching(stream), dynamic_ncols=True)
