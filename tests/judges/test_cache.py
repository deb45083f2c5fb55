"""The response cache: a bounded LRU in memory, a diskcache directory shared by processes, and disk
errors (locked, corrupt, not a directory, full) that degrade to misses instead of raising."""

from __future__ import annotations

import logging
import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import diskcache
import pytest

from rlaif.judges._cache import ResponseCache

PER_PROCESS = 150
SHARED = 30  # keys both processes write (the same value), to collide on purpose


def value(key: str) -> dict[str, Any]:
    return {"text": f"answer to {key}", "tokens_in": len(key), "token_logprobs": None}


def _worker(directory: str, name: str, barrier: Any, results: Any) -> None:
    """Write this process's keys and the shared ones, then read what both processes wrote."""
    cache = ResponseCache(directory, max_entries=5, timeout_s=30.0)  # tiny memory: reads go to disk
    barrier.wait()
    for i in range(PER_PROCESS):
        cache.put(f"{name}-{i}", value(f"{name}-{i}"))
        if i < SHARED:
            cache.put(f"shared-{i}", value(f"shared-{i}"))
    barrier.wait()
    keys = [f"{n}-{i}" for n in ("p0", "p1") for i in range(PER_PROCESS)] + [f"shared-{i}" for i in range(SHARED)]
    missing = [k for k in keys if cache.get(k) != value(k)]
    cache.close()
    results.put((name, missing, dict(cache.errors)))


@pytest.mark.timeout(120)
def test_two_processes_share_one_directory_and_lose_nothing(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters: separate SQLite connections, as in a real run
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(tmp_path / "cache"), n, barrier, results)) for n in ("p0", "p1")]
    for p in procs:
        p.start()
    outcomes = {}
    for _ in procs:
        name, missing, errors = results.get(timeout=100)
        outcomes[name] = (missing, errors)
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert outcomes == {"p0": ([], {}), "p1": ([], {})}  # every key readable by both, no error at all
    fresh = ResponseCache(tmp_path / "cache")
    assert fresh.get("p0-0") == value("p0-0") and fresh.get("p1-149") == value("p1-149")
    fresh.close()


def test_memory_layer_is_a_bounded_lru() -> None:
    cache = ResponseCache(max_entries=3)
    for key in "abc":
        cache.put(key, value(key))
    assert cache.get("a") == value("a")  # "a" is now the most recently used
    cache.put("d", value("d"))
    assert len(cache) == 3 and cache.get("b") is None  # the least recently used went
    assert [cache.get(k) is not None for k in "acd"] == [True, True, True]
    for i in range(1000):
        cache.put(f"k{i}", value(f"k{i}"))
    assert len(cache) == 3


def test_disk_behind_a_small_memory_layer_still_hits(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c", max_entries=2)
    for i in range(10):
        cache.put(f"k{i}", value(f"k{i}"))
    assert len(cache) == 2
    assert all(cache.get(f"k{i}") == value(f"k{i}") for i in range(10))  # evicted from memory, not from disk
    assert len(cache) == 2 and not cache.errors
    cache.close()


def test_persists_across_instances_and_close_is_reusable(tmp_path: Path) -> None:
    first = ResponseCache(tmp_path / "c")
    first.put("k", value("k"))
    first.close()
    assert first.get("k") == value("k")  # from memory
    first.put("after-close", value("x"))  # the disk reopens
    first.close()
    second = ResponseCache(tmp_path / "c")
    assert second.get("k") == value("k") and second.get("after-close") == value("x")
    assert second.get("never") is None and not second.errors
    second.close()
    assert (tmp_path / "c").is_dir()  # cache_path names a directory


def test_a_path_that_is_a_file_degrades_to_memory(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "cache.sqlite"
    path.write_text("an old SQLite-file cache, or anything that is not a directory")
    cache = ResponseCache(path, reopen_after_s=0.0)
    with caplog.at_level(logging.WARNING, logger="rlaif.judges._cache"):
        for i in range(5):
            assert cache.get(f"k{i}") is None
            cache.put(f"k{i}", value(f"k{i}"))
    assert cache.get("k0") == value("k0")  # memory still serves
    assert sum(cache.errors.values()) == 10 and list(cache.errors) == ["open: OperationalError"]
    assert len(caplog.records) == 1 and "memory only" in caplog.records[0].getMessage()
    path.unlink()  # the problem goes away: the disk is tried again and works
    cache.put("k9", value("k9"))
    cache.close()
    assert ResponseCache(path).get("k9") == value("k9")


def test_a_corrupt_database_degrades_to_misses(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = tmp_path / "c"
    ResponseCache(directory).put("k", value("k"))
    (directory / "cache.db").write_bytes(b"not a database " * 1000)
    for suffix in ("-wal", "-shm"):
        (directory / f"cache.db{suffix}").unlink(missing_ok=True)
    cache = ResponseCache(directory)
    with caplog.at_level(logging.WARNING, logger="rlaif.judges._cache"):
        assert cache.get("k") is None
        cache.put("k2", value("k2"))
    assert cache.get("k2") == value("k2")
    assert any(kind.startswith("open: ") for kind in cache.errors)
    assert len(caplog.records) == 1 and "DatabaseError" in caplog.records[0].getMessage()


def test_a_locked_database_skips_writes_without_raising(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = tmp_path / "c"
    cache = ResponseCache(directory, timeout_s=0.05)
    cache.put("before", value("before"))
    other = sqlite3.connect(directory / "cache.db", isolation_level=None)  # another process's writer
    other.execute("BEGIN IMMEDIATE")
    try:
        with caplog.at_level(logging.WARNING, logger="rlaif.judges._cache"):
            for i in range(5):
                cache.put(f"k{i}", value(f"k{i}"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert cache.errors == {"write: Timeout": 5}
    assert len(caplog.records) == 1 and "skipped write" in caplog.records[0].getMessage()
    assert cache.get("k0") == value("k0")  # memory has it
    cache.put("after", value("after"))  # the lock is gone: writes go through again
    cache.close()
    reopened = ResponseCache(directory)
    assert reopened.get("after") == value("after") and reopened.get("k0") is None
    reopened.close()


@pytest.mark.parametrize("stored", ["{not json", "[1, 2]", b"\x00\xff"])
def test_an_unreadable_entry_is_a_miss(tmp_path: Path, stored: Any) -> None:
    directory = tmp_path / "c"
    with diskcache.Cache(str(directory)) as raw:
        raw.set("k", stored)
    cache = ResponseCache(directory)
    assert cache.get("k") is None and sum(cache.errors.values()) == 1
    cache.put("k", value("k"))  # a fresh answer replaces it
    cache.close()
    assert ResponseCache(directory).get("k") == value("k")


def test_disk_write_errors_are_counted_once_per_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A full or read-only disk (root ignores permissions, so the OSError is injected)."""
    cache = ResponseCache(tmp_path / "c")
    cache.put("ok", value("ok"))

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(diskcache.Cache, "set", full)
    monkeypatch.setattr(diskcache.Cache, "get", full)
    with caplog.at_level(logging.WARNING, logger="rlaif.judges._cache"):
        for i in range(20):
            cache.put(f"k{i}", value(f"k{i}"))
            assert cache.get(f"missing{i}") is None
    assert cache.errors == {"write: OSError": 20, "read: OSError": 20}
    assert len(caplog.records) == 2
    assert cache.get("k3") == value("k3")
    cache.close()


def test_unserialisable_values_stay_in_memory_only(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c")
    odd = {"text": object()}
    cache.put("k", odd)
    assert cache.get("k") is odd and cache.errors == {"write: TypeError": 1}
    cache.close()


def test_max_entries_is_checked() -> None:
    with pytest.raises(ValueError):
        ResponseCache(max_entries=-1)
