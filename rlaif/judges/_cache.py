"""Response cache keyed by a hash of (transport identity, request): an identical request is sent once.

In memory always; optionally also in a SQLite file so a resumed run does not pay for the same judge
calls again. Only successful responses are stored: a failure must be retried, never replayed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any


def request_key(identity: str, request: Any) -> str:
    """Stable hash of the transport identity and every field of the request."""
    payload = json.dumps({"identity": identity, "request": asdict(request)}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ResponseCache:
    """A dict in front of an optional SQLite table; values are JSON-serialisable dicts."""

    def __init__(self, path: str | Path | None = None) -> None:
        self._memory: dict[str, dict[str, Any]] = {}
        self._path = Path(path) if path else None
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            assert self._path is not None
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self._path, check_same_thread=False)
            self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        return self._db

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            if key in self._memory:
                return self._memory[key]
            if self._path is None:
                return None
            row = self._connect().execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            value: dict[str, Any] = json.loads(row[0])
            self._memory[key] = value
            return value

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._memory[key] = value
            if self._path is not None:
                db = self._connect()
                db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?)", (key, json.dumps(value)))
                db.commit()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __len__(self) -> int:
        return len(self._memory)
