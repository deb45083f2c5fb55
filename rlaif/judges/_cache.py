"""Response cache keyed by a hash of (transport identity, request): an identical request is sent once.

A bounded LRU in memory, optionally in front of a `diskcache <https://grantjenks.com/docs/diskcache/>`_
directory (SQLite in WAL mode, safe for several processes at once) so a resumed run, or another rank,
does not pay for the same judge calls again. Only successful responses are stored: a failure must be
retried, never replayed. Values go to disk as JSON text, so nothing read back is ever unpickled.

The cache is an optimisation, never a reason to fail a training step: any error from the disk (a
locked or corrupt database, a directory that cannot be created, a value that does not parse) is
logged once per kind, counted in :attr:`ResponseCache.errors`, and the call behaves as a miss or a
skipped write.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import asdict
from pathlib import Path
from typing import Any

import diskcache

log = logging.getLogger(__name__)

DEFAULT_MAX_ENTRIES = 10_000
# The cache is called on the judge's event loop: a write waiting on another process's lock must give
# up quickly (a skipped write only costs a judge call later), not stall every request in flight.
DEFAULT_TIMEOUT_S = 1.0
# After the disk failed to open (corrupt, not a directory, ...), memory only for this long, then retry.
DEFAULT_REOPEN_AFTER_S = 30.0


_ROUTING_ONLY = frozenset({"affinity"})  # JudgeRequest fields that change no reply


def request_key(identity: str, request: Any) -> str:
    """Stable hash of the transport identity and every field of the request that shapes the reply."""
    fields = {k: v for k, v in asdict(request).items() if k not in _ROUTING_ONLY}
    payload = json.dumps({"identity": identity, "request": fields}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ResponseCache:
    """An LRU of at most ``max_entries`` dicts, in front of an optional diskcache ``directory``.

    ``path`` names a directory (created if missing); ``None`` keeps the cache in memory only. Several
    processes may share one directory. ``timeout_s`` bounds a wait for another process's write lock.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        reopen_after_s: float = DEFAULT_REOPEN_AFTER_S,
    ) -> None:
        if max_entries < 0:
            raise ValueError(f"max_entries: expected >= 0, got {max_entries}")
        self.directory = Path(path) if path else None
        self.max_entries = max_entries
        self.timeout_s = timeout_s
        self.reopen_after_s = reopen_after_s
        self.errors: Counter[str] = Counter()  # "<operation>: <exception type>" -> count
        self._memory: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._disk: diskcache.Cache | None = None
        self._closed_until = 0.0  # monotonic time before which the disk is not tried again
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored value, or ``None`` for a miss (including any disk error)."""
        with self._lock:
            if (value := self._memory.get(key)) is not None:
                self._memory.move_to_end(key)
                return value
            value = self._disk_get(key)
            if value is not None:
                self._remember(key, value)
            return value

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store ``value`` in memory and, when there is a directory, on disk (skipped on any error)."""
        with self._lock:
            self._remember(key, value)
            if (disk := self._open()) is None:
                return
            try:
                disk.set(key, json.dumps(value), retry=False)
            except Exception as exc:  # a skipped write costs one judge call later; a raise costs the step
                self._failed("write", exc)

    def close(self) -> None:
        """Close the disk handle; the cache stays usable (the next disk access reopens it)."""
        with self._lock:
            self._close_disk()

    def __len__(self) -> int:
        """Entries in the memory layer (at most ``max_entries``)."""
        with self._lock:
            return len(self._memory)

    # -- under self._lock -------------------------------------------------------------------------

    def _remember(self, key: str, value: dict[str, Any]) -> None:
        self._memory[key] = value
        self._memory.move_to_end(key)
        while len(self._memory) > self.max_entries:
            self._memory.popitem(last=False)

    def _disk_get(self, key: str) -> dict[str, Any] | None:
        if (disk := self._open()) is None:
            return None
        try:
            raw = disk.get(key, retry=False)
            if raw is None:
                return None
            value = json.loads(raw)
            if not isinstance(value, dict):
                raise ValueError(f"stored value is a {type(value).__name__}, not an object")
            return value
        except Exception as exc:  # a corrupt or unreadable entry is a miss: the judge is asked again
            self._failed("read", exc)
            return None

    def _open(self) -> diskcache.Cache | None:
        if self.directory is None or self._disk is not None or time.monotonic() < self._closed_until:
            return self._disk
        try:
            self._disk = diskcache.Cache(str(self.directory), timeout=self.timeout_s)
        except Exception as exc:
            self._closed_until = time.monotonic() + self.reopen_after_s
            self._failed("open", exc)
        return self._disk

    def _close_disk(self) -> None:
        disk, self._disk = self._disk, None
        if disk is not None:
            try:
                disk.close()
            except Exception as exc:
                self._failed("close", exc)

    def _failed(self, operation: str, exc: Exception) -> None:
        kind = f"{operation}: {type(exc).__name__}"
        self.errors[kind] += 1
        if self.errors[kind] == 1:  # once per kind: a locked database must not log once per request
            outcome = {
                "open": f"memory only, the disk is tried again in {self.reopen_after_s:g} s",
                "read": "a miss",
                "write": "a skipped write",
            }.get(operation, "ignored")
            log.warning(
                "judge response cache %s: %s failed (%s: %s); %s. Further %r errors are only counted.",
                self.directory,
                operation,
                type(exc).__name__,
                exc,
                outcome,
                kind,
            )
