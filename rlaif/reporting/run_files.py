"""A run folder read back for its report: :func:`read_run` gives a :class:`RunFiles` from what is there.

Every file is optional but one that tells the folder is a run (``rewards.jsonl``, ``metrics.jsonl``,
``.hydra/config.yaml`` or a checkpoint): a failed or stopped run is reported from what it left. Steps are TRL's
numbers (the first is 1: :mod:`rlaif.rewards.step_numbers`), as in every file of the run; an older folder's files
written while a step ran (``rewards.jsonl``, ``monitor.jsonl``, ``canaries.jsonl``, ``alarms.jsonl``) counted the
steps done before it, and are renumbered as they are read.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlaif.errors import STOPPED, NotARunError
from rlaif.rewards.step_numbers import during_step_offset
from rlaif.runs.judge_totals import read_files


@dataclass
class RunFiles:
    """One run folder's contents, as plain data; a missing file is an empty value, never an error."""

    path: Path
    config: dict[str, Any] = field(default_factory=dict)  # .hydra/config.yaml: secrets already masked there
    overrides: list[str] = field(default_factory=list)
    metrics: dict[int, dict[str, float | None]] = field(default_factory=dict)  # step -> TRL's scalars
    answers: list[dict[str, Any]] = field(default_factory=list)  # rewards.jsonl lines, "step" TRL's
    timing: list[dict[str, float]] = field(default_factory=list)
    monitor: list[dict[str, Any]] = field(default_factory=list)
    canaries: list[dict[str, Any]] = field(default_factory=list)
    alarms: list[dict[str, Any]] = field(default_factory=list)
    baseline: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)  # run_summary.json: only a finished run has one
    judge_totals: dict[str, Any] = field(default_factory=dict)  # judge_metrics.json: only a finished run has one
    judge_running: list[dict[str, float]] = field(default_factory=list)  # judge_totals/*.json: each process, attempt
    info: dict[str, Any] = field(default_factory=dict)  # run_info.json: versions, machine, start
    failed: str | None = None  # FAILED: a crash's error and traceback, or a stop's reason and resume command
    skipped_lines: int = 0  # lines that were not JSON (a crash mid-write): counted, shown, not fatal

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def status(self) -> str:
        if self.summary:
            return "finished"
        if self.failed is not None:
            stopped = self.failed.startswith(STOPPED) or "RunStoppedError" in self.failed  # the latter: older runs
            return "stopped" if stopped else "failed"
        return "unfinished"

    def series(self, key: str) -> list[tuple[int, float]]:
        """(step, value) of one of TRL's scalars, steps without a finite value left out."""
        return [(s, v) for s, m in sorted(self.metrics.items()) if isinstance(v := m.get(key), float)]

    def reward_per_step(self) -> list[tuple[int, float, float]]:
        """(step, mean, std) of the reward TRL trained on; from rewards.jsonl when TRL's log is missing."""
        means = dict(self.series("reward"))
        if means:
            stds = dict(self.series("reward_std"))
            return [(s, m, stds.get(s, 0.0)) for s, m in sorted(means.items())]
        by_step: dict[int, list[float]] = {}
        for line in self.answers:
            if isinstance(line.get("score"), int | float) and isinstance(line.get("step"), int):
                by_step.setdefault(line["step"], []).append(float(line["score"]))
        return [(s, _mean(v), _std(v)) for s, v in sorted(by_step.items())]


_MARKERS = ("rewards.jsonl", "metrics.jsonl", ".hydra/config.yaml")


def is_run_folder(path: Path) -> bool:
    """Whether ``path`` holds something only a training run writes."""
    return path.is_dir() and (any((path / m).is_file() for m in _MARKERS) or any(path.glob("checkpoint-*")))


def read_run(path: Path) -> RunFiles:
    """Read ``path``; a folder with none of a run's files is a :class:`NotARunError` naming it."""
    if not path.is_dir():
        raise NotARunError(f"{path}: no such folder")
    if not is_run_folder(path):
        raise NotARunError(f"{path}: not a run folder (none of {', '.join(_MARKERS)} or a checkpoint-N in it)")
    run = RunFiles(path=path)
    run.config = _yaml(path / ".hydra" / "config.yaml")
    overrides = _yaml_any(path / ".hydra" / "overrides.yaml")
    run.overrides = [str(o) for o in overrides] if isinstance(overrides, list) else []
    for row in _jsonl(run, path / "metrics.jsonl") or _checkpoint_history(path):
        if isinstance(row.get("step"), int | float):
            # Merged per step: TRL's end-of-training log (train_runtime, ...) shares the last step's number, and a
            # resumed run logs its steps again (the later value wins).
            values = {k: _number(v) for k, v in row.items() if k not in ("step", "time")}
            run.metrics.setdefault(int(row["step"]), {}).update(values)
    offset = during_step_offset(path)
    run.answers = _shifted(_jsonl(run, path / "rewards.jsonl"), offset)
    run.timing = _jsonl(run, path / "step_timing.jsonl")
    run.monitor = _shifted(_jsonl(run, path / "monitor.jsonl"), offset)
    run.canaries = _shifted(_jsonl(run, path / "canaries.jsonl"), offset)
    run.alarms = _shifted(_jsonl(run, path / "alarms.jsonl"), offset)
    run.baseline = json_object(path / "baseline.json")
    run.summary = json_object(path / "run_summary.json")
    run.judge_totals = json_object(path / "judge_metrics.json")
    run.judge_running = read_files(path)
    run.info = json_object(path / "run_info.json")
    failed = path / "FAILED"
    run.failed = failed.read_text(encoding="utf-8", errors="replace") if failed.is_file() else None
    return run


def _checkpoint_history(path: Path) -> list[dict[str, Any]]:
    """TRL's log in the newest checkpoint: a run from before ``metrics.jsonl`` existed still has its curve."""
    states = sorted(path.glob("checkpoint-*/trainer_state.json"), key=lambda p: _step_of(p.parent.name))
    history = json_object(states[-1]).get("log_history") if states else None
    return [h for h in history if isinstance(h, dict)] if isinstance(history, list) else []


def _step_of(name: str) -> int:
    tail = name.rpartition("-")[2]
    return int(tail) if tail.isdigit() else -1


def _shifted(rows: list[dict[str, Any]], offset: int) -> list[dict[str, Any]]:
    for row in rows:
        if isinstance(row.get("step"), int | float):
            row["step"] = int(row["step"]) + offset
    return rows


def _jsonl(run: RunFiles, path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if not path.is_file():
        return rows
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                run.skipped_lines += 1
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows


def json_object(path: Path) -> dict[str, Any]:
    """A JSON file holding an object, or ``{}`` when it is missing, damaged or not an object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _yaml_any(path: Path) -> Any:
    if not path.is_file():
        return None
    import yaml
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        return OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    except (OmegaConfBaseException, yaml.YAMLError, ValueError):  # a damaged file: the report shows no config
        return None


def _yaml(path: Path) -> dict[str, Any]:
    value = _yaml_any(path)
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _std(values: list[float]) -> float:
    mean = _mean(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
