"""The monitor's rule on a finished or crashed run: its ``rewards.jsonl`` read back step by step and measured with
the same signals and rule as during training (``python -m rlaif.monitor RUN_DIR``).

Works on run folders written before the monitor existed: it needs only ``rewards.jsonl``. The monitor settings
come from the run's saved ``.hydra/config.yaml`` when it has a ``monitor`` group, else the defaults. The rows'
reference answers (which the on-topic rule accepts an answer by, as the gate does) are read from the run's
``data`` config by ``prompt_id``; when that data cannot be read, on-topic is measured on the question alone.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rlaif.errors import ConfigError, NotARunError
from rlaif.monitoring.alarms import Alarm, AlarmSink
from rlaif.monitoring.monitor import Monitor, tool_fields
from rlaif.monitoring.settings import MonitorSettings, monitor_settings
from rlaif.monitoring.signals import Rollout
from rlaif.rewards.conversation import answer_text, reference_text
from rlaif.rewards.step_numbers import during_step_offset

log = logging.getLogger("rlaif.monitor")


def saved_config(run_dir: Path) -> dict[str, Any]:
    """The run's saved Hydra config as plain data (``{}`` when there is none)."""
    path = run_dir / ".hydra" / "config.yaml"
    if not path.is_file():
        return {}
    from omegaconf import OmegaConf

    return plain_dict(OmegaConf.to_container(OmegaConf.load(path), resolve=False))


def plain_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is a mapping (keys as text), else ``{}``."""
    return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else {}


def settings_for(run_dir: Path, config: Path | None, overrides: list[str]) -> tuple[MonitorSettings, dict[str, Any]]:
    """The monitor settings for ``run_dir`` (its own, then ``config``, then ``overrides``) and its saved config: what
    ``python -m rlaif.monitor RUN_DIR [--config FILE] [KEY=VALUE ...]`` replays it with."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    saved = saved_config(run_dir)
    monitor = plain_dict(saved.get("monitor"))
    try:
        if config is not None:
            if not config.is_file():
                raise ConfigError(f"--config: {config} is not a file")
            monitor.update(plain_dict(OmegaConf.to_container(OmegaConf.load(config))))
        bad = [o for o in overrides if "=" not in o]
        if bad:
            raise ConfigError(f"{bad[0]!r}: expected KEY=VALUE (a monitor key, e.g. window=12)")
        dotlist = OmegaConf.from_dotlist([o.removeprefix("monitor.") for o in overrides])
        monitor.update(plain_dict(OmegaConf.to_container(dotlist)))
    except OmegaConfBaseException as exc:
        raise ConfigError(f"monitor settings: {exc}") from None
    return monitor_settings(monitor, plain_dict(saved.get("rubric"))), saved


def read_steps(run_dir: Path) -> dict[int, list[dict[str, Any]]]:
    """``rewards.jsonl``'s lines by their ``step`` field (TRL's number; an older folder's renumbered to it), in step
    order."""
    path = run_dir / "rewards.jsonl"
    if not path.is_file():
        raise NotARunError(f"{run_dir}: not a run folder (no rewards.jsonl)")
    offset = during_step_offset(run_dir)
    steps: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
            steps[int(line.get("step") or 0) + offset].append(line)
        except (ValueError, TypeError, AttributeError):
            log.warning("%s:%d: not a rewards line, skipped", path, number)  # a crash can cut the last line
    return dict(sorted(steps.items()))


def references(data: Mapping[str, Any] | None) -> dict[str, str | None]:
    """Reference answers by row id from the run's ``data`` config; ``{}`` when its rows cannot be read."""
    if not data or not data.get("path"):
        return {}
    from rlaif.data.loaders import load_rows
    from rlaif.errors import DataError

    try:
        rows = load_rows(str(data["path"]), data.get("columns"), str(data.get("split") or "train"), data.get("subset"))
    except (DataError, OSError, ValueError) as exc:
        log.warning("monitor: %s; on-topic is measured without reference answers", exc)
        return {}
    return {str(row.get("id")): reference_text(row.get("reference_answer")) for row in rows}


class _Collect(AlarmSink):
    """Keeps alarms for the caller to print (no log line, no file, never stops)."""

    def report_all(self, alarms: list[Alarm]) -> None:
        self.raised.extend(alarms)


def replay(
    run_dir: Path, settings: MonitorSettings, refs: Mapping[str, str | None]
) -> tuple[list[dict[str, Any]], list[Alarm]]:
    """Every step's monitor line and the alarms, as the monitor would have raised them during the run."""
    steps = read_steps(run_dir)
    sink = _Collect(None)
    monitor = Monitor(settings, sink, None)
    lines = []
    for step, rows in steps.items():
        rollouts = [
            Rollout(
                group=str(row.get("prompt_id") or row.get("prompt")),
                question=str(row.get("prompt") or ""),
                answer=answer_text(row.get("completion") or ""),  # a transcript's (a list of messages) final answer
                score=row.get("score"),
                # Runs since the reference went into rewards.jsonl carry it; older ones are looked up in the data.
                reference=row["reference"] if "reference" in row else refs.get(str(row.get("prompt_id"))),
                **tool_fields(row.get("completion")),
            )
            for row in rows
        ]
        lines.append(monitor.observe(step, rollouts))
    return lines, sink.raised
