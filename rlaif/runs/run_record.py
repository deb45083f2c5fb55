"""What a run records for its report as it goes, so a failed or stopped run can be shown from its folder:

- ``metrics.jsonl``: every log TRL makes (the same scalars TensorBoard gets: reward, its spread, each criterion's
  pass rate, judge/*, monitor/*, canary/*), one line per logging step with TRL's ``step``. TRL keeps them in
  ``trainer.state.log_history`` only in memory and in checkpoints, so a crash between checkpoints lost them.
- ``run_info.json``: when the run started (and each resume), the library versions and the machine, written once
  at the start, and the step numbering of its files (``step_numbering``: ``trl``); a resume adds its own start.
- ``judge_totals/rank<R>.attempt<N>.json`` (:class:`JudgeTotals`, every process): its judge's running totals,
  replaced after every reward call and step (:mod:`~rlaif.runs.judge_totals`): TRL's averaged logs cannot be
  summed into them.

:class:`CompletionsTable` puts each logged step's answers, scores and the judge's rationales into TensorBoard as
a text table (TRL's ``log_completions`` reaches only W&B and Trackio, and there, with rlaif's rationale column).
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from rlaif.rewards.capabilities import call_reward
from rlaif.rewards.step_numbers import MARK
from rlaif.runs.judge_totals import attempt_path, write_totals
from rlaif.runs.processes import process_index

log = logging.getLogger("rlaif.train")

# What decides a run's numbers; a package that is not installed is left out.
PACKAGES = ("rlaif", "torch", "transformers", "trl", "peft", "accelerate", "vllm", "boto3", "hydra-core")


class RunRecord(TrainerCallback):
    """Main process only: ``run_info.json`` when training begins (its start: when this was built, before the
    model loaded), and each of TRL's logs appended to ``metrics.jsonl`` as ``{"step": N, "time": ..., ...}``. A
    value that is not a finite number (TRL logs NaN for a step without a reward) is written as null."""

    def __init__(self, run_dir: Path, resumed_from: str | None) -> None:
        self.run_dir = run_dir
        self.path = run_dir / "metrics.jsonl"
        self.resumed_from = resumed_from
        self.started_at = time.time()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.resumed_from is not None:
            log.info("resuming from %s", self.resumed_from)
        if state.is_world_process_zero:
            write_run_info(self.run_dir, self.resumed_from, self.started_at)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or not logs:
            return
        row: dict[str, Any] = {"step": state.global_step, "time": time.time()}
        for key, value in logs.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue  # TRL logs only numbers per step; anything else is not a metric
            row[key] = float(value) if math.isfinite(value) else None
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")


class JudgeTotals(TrainerCallback):
    """Every process: its judge's totals (``judge.metrics.totals()``) in its own file of ``judge_totals/``, written
    when built (the baseline's and the pre-flight's requests count too), after every reward call however it ends
    (:meth:`counted`), and at every step's end: a crash loses at most the requests in flight."""

    def __init__(self, judge: Any, run_dir: Path) -> None:
        self.judge = judge
        self.path = attempt_path(run_dir, process_index())
        self.step = 0
        self._lock = threading.Lock()  # the reward's thread (TRL's event loop) and the training thread both write
        self.write()

    def write(self) -> None:
        with self._lock:
            write_totals(self.path, self.judge.metrics.totals(), self.step)

    def counted(self, reward: Any) -> Any:  # Any: TRL's reward_funcs type does not name async callables
        """``reward`` with the totals written after each of its calls (TRL sees the same name and result)."""
        return CountedReward(reward, self)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.step = int(state.global_step)
        self.write()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.write()


class CountedReward:
    """A reward after whose every call its process's judge totals are written; all else is the wrapped reward's."""

    def __init__(self, reward: Any, totals: JudgeTotals) -> None:
        self.reward = reward
        self.totals = totals
        self.__name__ = getattr(reward, "__name__", type(reward).__name__)

    async def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        try:
            return await call_reward(self.reward, prompts, completions, **kwargs)
        finally:
            self.totals.write()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.reward, name)


def write_run_info(run_dir: Path, resumed_from: str | None, now: float) -> dict[str, Any]:
    """Write (or, on a resume, extend) ``run_info.json`` for a start at ``now``; returns what it holds."""
    path = run_dir / "run_info.json"
    try:
        info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {}
    if info.get("started_at") is not None:  # a resume: its cut renumbered an older folder's files (resume_logs)
        info.setdefault("resumes", []).append({"started_at": now, "from": resumed_from, **_where()})
    else:
        info = {"started_at": now, **_where()}
    info.update(MARK)  # the files this run writes number steps as TRL does (rlaif.rewards.step_numbers)
    path.write_text(json.dumps(info, indent=2), encoding="utf-8")
    return info


def _where() -> dict[str, Any]:
    return {"versions": _versions(), "machine": _machine()}


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _machine() -> dict[str, Any]:
    machine: dict[str, Any] = {
        "host": platform.node(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processes": int(os.environ.get("WORLD_SIZE", "1") or 1),
    }
    try:
        import torch

        if torch.cuda.is_available():
            machine["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # a broken CUDA set-up must not stop the run from recording where it ran
        machine["gpus"] = None
    return machine


class CompletionsTable(TrainerCallback):
    """Main process, when ``report_to`` names tensorboard: on each log, the answers written to ``rewards.jsonl``
    since the last one, as a markdown table (step, question, answer, score, verdicts and rationale) under the
    text tag ``completions`` in ``<run>/runs/completions`` (or ``$TENSORBOARD_LOGGING_DIR``): TensorBoard shows it
    as a run of its own. At most ``grpo.num_completions_to_print`` rows a step (all when unset, as in TRL); only the
    lines written since training began (a resumed run's file holds the steps before its checkpoint, shown then)."""

    def __init__(self, run_dir: Path) -> None:
        self.rewards = run_dir / "rewards.jsonl"
        self.log_dir = os.environ.get("TENSORBOARD_LOGGING_DIR") or str(run_dir / "runs" / "completions")
        self.offset = 0
        self.writer: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.offset = self.rewards.stat().st_size if self.rewards.is_file() else 0

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if not state.is_world_process_zero or "tensorboard" not in (args.report_to or []):
            return
        rows = self._new_rows()
        if not rows:
            return
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=self.log_dir)
        limit = args.num_completions_to_print
        self.writer.add_text("completions", completions_markdown(rows[:limit] if limit else rows), state.global_step)
        self.writer.flush()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.writer is not None:
            self.writer.close()

    def _new_rows(self) -> list[dict[str, Any]]:
        if not self.rewards.is_file():
            return []
        with self.rewards.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits for the next log
        self.offset += len(complete)
        rows = []
        for line in complete.decode("utf-8", errors="replace").splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
        return rows


def completions_markdown(rows: list[dict[str, Any]]) -> str:
    """Rows of ``rewards.jsonl`` as a markdown table (TensorBoard's text plugin renders markdown)."""

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| step | question | answer | score | verdicts | rationale / error |", "|---|---|---|---|---|---|"]
    for row in rows:
        score = row.get("score")
        verdicts = ", ".join(f"{k} {_p_met(v):.2f}" for k, v in (row.get("verdicts") or {}).items())
        why = "; ".join(f"{k}: {v}" for k, v in (row.get("rationale") or {}).items()) or row.get("error") or ""
        shown = "none" if score is None else f"{score:.3f}"
        lines.append(
            f"| {row.get('step')} | {cell(row.get('prompt'))} | {cell(row.get('completion'))} | {shown} "
            f"| {cell(verdicts)} | {cell(why)} |"
        )
    return "\n".join(lines)


def _p_met(verdict: Any) -> float:
    """A verdict's P(pass): a number, or a per-row rubric item's ``{text, points, met, reason?}`` (its ``met``)."""
    return float(verdict["met"] if isinstance(verdict, dict) else verdict)
