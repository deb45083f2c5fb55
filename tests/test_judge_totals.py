"""How several processes' (and attempts') judge totals add up; the files themselves are shown by the entry-point
runs in tests/test_train_faults.py and tests/integration/test_distributed_cpu.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlaif.runs.judge_totals import attempt_path, combined, folder_totals, write_totals


def test_counters_add_up_and_rates_are_recomputed_from_the_sums() -> None:
    rank0 = {"requests": 10.0, "failures": 1.0, "failure_rate": 0.1, "tokens_in": 70.0, "latency_p95_s": 0.5,
             "m1/requests": 10.0, "m1/failures": 0.0, "m1/failure_rate": 0.0}  # fmt: skip
    rank1 = {"requests": 30.0, "failures": 9.0, "failure_rate": 0.3, "tokens_in": 210.0, "latency_p95_s": 0.9,
             "m1/requests": 30.0, "m1/failures": 3.0, "m1/failure_rate": 0.1}  # fmt: skip
    out = combined([rank0, rank1])
    assert list(out) == list(rank0)  # the finished run's key order
    assert out["requests"] == 40 and out["tokens_in"] == 280 and out["m1/requests"] == 40
    assert out["failure_rate"] == pytest.approx(10 / 40) and out["m1/failure_rate"] == pytest.approx(3 / 40)
    assert out["latency_p95_s"] == 0.9  # the slowest process's: percentiles do not add
    assert combined([rank0]) == rank0


def test_a_pools_shares_and_healthy_endpoints() -> None:
    rank0 = {"requests": 4.0, "healthy_endpoints": 2.0, "e1/requests": 4.0, "e1/cache_hits": 0.0, "e1/share": 1.0,
             "e2/requests": 0.0, "e2/cache_hits": 0.0, "e2/share": 0.0}  # fmt: skip
    rank1 = {"requests": 4.0, "healthy_endpoints": 1.0, "e1/requests": 1.0, "e1/cache_hits": 1.0, "e1/share": 0.0,
             "e2/requests": 4.0, "e2/cache_hits": 0.0, "e2/share": 1.0}  # fmt: skip
    out = combined([rank0, rank1])
    assert out["e1/share"] == pytest.approx(0.5) and out["e2/share"] == pytest.approx(0.5)
    assert out["healthy_endpoints"] == 1.0


def test_each_start_has_a_file_of_its_own_and_a_damaged_one_is_skipped(tmp_path: Path) -> None:
    first = attempt_path(tmp_path, 0)
    write_totals(first, {"requests": 5.0, "latency_p50_s": float("nan")}, 2)
    second = attempt_path(tmp_path, 0)  # a resume: its own file, the first attempt's requests still count
    assert (first.name, second.name) == ("rank0.attempt1.json", "rank0.attempt2.json")
    write_totals(second, {"requests": 3.0}, 4)
    attempt_path(tmp_path, 1).write_text('{"step": 1, "tot')  # cut short (not by rlaif: it renames a whole file)
    assert folder_totals(tmp_path) == {"requests": 8.0}
