"""``rewards.jsonl``: one line per judged completion, written as the run goes."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


class RewardLog:
    """Appends JSON lines to a file; each process of a multi-process run writes its own file."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = _per_rank(Path(path)) if path else None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self._lock = threading.Lock()

    def write(self, rows: list[dict[str, Any]]) -> None:
        if self.path is None or not rows:
            return
        lines = "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(lines)


def _per_rank(path: Path) -> Path:
    rank = int(os.environ.get("RANK", "0") or 0)
    return path if rank == 0 else path.with_name(f"{path.stem}.rank{rank}{path.suffix}")
