"""What a reward writes as the run goes: ``rewards.jsonl`` (one line per judged completion) and its judge
errors on the console (logger ``rlaif.rewards``, WARNING: the first :data:`ERRORS_IN_FULL` of the run in
full, then one line per step with that step's count and its latest error).

Every reward (rubric, preference, checks, the Nova Lambda's) writes its lines through
:meth:`RewardLog.write_step`, so every line has the keys of :data:`LINE_KEYS`, in that order (see
:class:`RewardLine`), then the reward's own details (``checks``, ``win_probabilities``, ``jury``,
``item_scores``, ...). ``rlaif.monitor`` replays a run from them (``step``, ``prompt_id``, ``prompt``,
``reference``, ``completion``, ``score``: :mod:`rlaif.monitoring.replay`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlaif.rewards.transcript import logged_completion

ERRORS_IN_FULL = 5
_console = logging.getLogger("rlaif.rewards")

LINE_KEYS = (
    "step",
    "reward",
    "prompt_id",
    "prompt",
    "reference",
    "completion",
    "score",
    "judged",
    "verdicts",
    "rationale",
    "error",
)


@dataclass(frozen=True)
class RewardLine:
    """One completion's line, less ``step`` and ``reward`` (the step's own, given to :meth:`RewardLog.write_step`).

    ``prompt_id``: the row's ``id`` (None without one); ``prompt``: the question as text; ``reference``: the
    reference answer as text, or None; ``completion``: the answer as text, written as the list of the completion's
    messages when it is a tool-using transcript (:class:`rlaif.rewards.transcript.Transcript`); ``score``: what TRL
    got (None: no score); ``judged``: whether a judge was asked (False when an edge rule or a check decided, and
    always for the check-only reward); ``verdicts``: criterion id -> pass (0/1) or P(pass) (a per-row rubric: item
    id -> ``{text, points, met, reason?}``); ``rationale``: label -> text (a criterion's reason, ``gate`` for why
    the checks decided, ``vs <opponent>`` for a comparison); ``error``: why there is no verdict, or None;
    ``details``: the reward's own extra keys, written last.
    """

    prompt_id: Any
    prompt: str
    reference: str | None
    completion: str
    score: float | None
    judged: bool
    verdicts: dict[str, Any] = field(default_factory=dict)
    rationale: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class RewardLog:
    """Appends JSON lines to a file; each process of a multi-process run writes its own file."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = per_rank(Path(path)) if path else None
        self._lock = threading.Lock()
        self.console = ErrorConsole()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A copy (another process) starts its own count of errors shown in full.
        self.path = state["path"]
        self._lock = threading.Lock()
        self.console = ErrorConsole()

    def write_step(self, step: int | None, reward: str, lines: Sequence[RewardLine]) -> None:
        """Append one step's lines of ``reward``: the keys of :data:`LINE_KEYS`, then each line's details. ``step``:
        TRL's number of the step being taken (:mod:`rlaif.rewards.step_numbers`), None outside training."""
        if self.path is None or not lines:
            return
        rows = [
            {
                "step": step,
                "reward": reward,
                "prompt_id": line.prompt_id,
                "prompt": line.prompt,
                "reference": line.reference,
                "completion": logged_completion(line.completion),
                "score": line.score,
                "judged": line.judged,
                "verdicts": line.verdicts,
                "rationale": line.rationale,
                "error": line.error,
                **line.details,
            }
            for line in lines
        ]
        text = "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(text)


class ErrorConsole:
    """Judge errors on the console for one reward: the first ``in_full`` of the run, then a count per step."""

    def __init__(self, in_full: int = ERRORS_IN_FULL) -> None:
        self.in_full = in_full
        self.shown = 0
        self._lock = threading.Lock()

    def show(self, reward: str, step: int | None, failed: Sequence[tuple[int, str]], judged: int) -> None:
        """``failed``: (answer index, error) of this step's judged answers that got no verdict."""
        if not failed:
            return
        with self._lock:  # a reward may be called from several threads; each error is shown once
            first = self.shown
            full = failed[: max(0, self.in_full - first)]
            self.shown += len(full)
        for k, (i, error) in enumerate(full, start=first + 1):
            _console.warning(
                "reward %s, step %s: judge error on answer %d (%d/%d shown in full, later ones as a count "
                "per step): %s",
                reward,
                step,
                i,
                k,
                self.in_full,
                error,
            )
        if len(full) < len(failed):
            _console.warning(
                "reward %s, step %s: %d of %d judged answers failed; latest error: %s",
                reward,
                step,
                len(failed),
                judged,
                failed[-1][1],
            )


def per_rank(path: Path) -> Path:
    rank = int(os.environ.get("RANK", "0") or 0)
    return path if rank == 0 else path.with_name(f"{path.stem}.rank{rank}{path.suffix}")
