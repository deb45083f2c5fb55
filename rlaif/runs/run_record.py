"""What a run records for its report as it goes, so a failed or stopped run can be shown from its folder:

- ``metrics.jsonl``: every log TRL makes (the same scalars TensorBoard gets: reward, its spread, each criterion's
  pass rate, judge/*, monitor/*, canary/*), one line per logging step with TRL's ``step``. TRL keeps them in
  ``trainer.state.log_history`` only in memory and in checkpoints, so a crash between checkpoints lost them.
- ``run_info.json``: when the run started (and each resume), the library versions and the machine, written once
  at the start; a resume adds its own start.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

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


def write_run_info(run_dir: Path, resumed_from: str | None, now: float) -> dict[str, Any]:
    """Write (or, on a resume, extend) ``run_info.json`` for a start at ``now``; returns what it holds."""
    path = run_dir / "run_info.json"
    try:
        info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {}
    if info.get("started_at") is not None:
        info.setdefault("resumes", []).append({"started_at": now, "from": resumed_from, **_where()})
    else:
        info = {"started_at": now, **_where()}
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
