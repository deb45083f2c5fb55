"""What an alarm is and where it goes: a WARNING naming the signal, the steps and the numbers, one line in
``alarms.jsonl``, and with ``on_alarm=stop`` an :class:`AlarmStopError` that the reward wrapper
(``monitoring.guard``) turns into a stop request, as a judge failure past its threshold: the step in which the
alarm fired completes on its real scores, the Trainer saves its checkpoint and stops (``rlaif.runs.stopping``),
and ``rlaif.train`` exits 1 with the resume command.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from rlaif.errors import ConfigError

log = logging.getLogger("rlaif.monitor")

OnAlarm = Literal["warn", "stop"]


class AlarmStopError(RuntimeError):
    """An alarm fired under ``on_alarm=stop``: the run stops with a checkpoint, as on a judge failure."""


@dataclass
class Alarm:
    """One alarm: who raised it (``monitor`` or ``canaries``), on which signal, at which step, and why."""

    source: str
    signal: str
    step: int
    message: str
    numbers: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return f"{self.source} alarm at step {self.step}: {self.signal}: {self.message}"


class AlarmSink:
    """Reports alarms (log + ``alarms.jsonl``) and decides whether one stops the run."""

    def __init__(self, path: Path | None, on_alarm: OnAlarm = "warn") -> None:
        if on_alarm not in ("warn", "stop"):
            raise ConfigError(f"on_alarm: expected warn or stop, got {on_alarm!r}")
        self.path = path
        self.on_alarm = on_alarm
        self.raised: list[Alarm] = []
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "on_alarm": self.on_alarm, "raised": list(self.raised)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def report(self, alarm: Alarm) -> None:
        """Log and record ``alarm``; raise :class:`AlarmStopError` when alarms stop the run."""
        self.report_all([alarm])

    def report_all(self, alarms: list[Alarm]) -> None:
        """Log and record every alarm of one check (a step's findings), then raise :class:`AlarmStopError` once
        when alarms stop the run: a stop must not keep the step's other alarms out of ``alarms.jsonl``."""
        if not alarms:
            return
        with self._lock:
            for alarm in alarms:
                self.raised.append(alarm)
                log.warning("%s", alarm.line())
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as f:
                    f.writelines(json.dumps(asdict(alarm)) + "\n" for alarm in alarms)
        if self.on_alarm == "stop":
            more = f" (and {len(alarms) - 1} more alarm(s) of this step in alarms.jsonl)" if len(alarms) > 1 else ""
            raise AlarmStopError(alarms[0].line() + more)
