"""``python -m rlaif.train reward=group judge=vllm``: group judging through the real entry point against the real
vLLM server, which enforces the group's JSON schema (structured outputs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlaif.judges.serving.vllm_server import VLLMServer
from tests._entry_point import run_train

pytestmark = [pytest.mark.vllm, pytest.mark.slow]


def test_a_group_run_scores_every_answer_with_one_request_per_order(vllm_server: VLLMServer, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_train(
        "reward=group",
        "judge=vllm",
        f"judge.base_url={vllm_server.base_url}",
        "debug=smoke",
        "canaries=off",
        # Two orders per group, not the default's G rotations (tests/rewards/test_group.py covers them): on this
        # one-thread CPU server the judge is most of the run, and what this test shows is vLLM's JSON group verdicts.
        "reward.orders=both",
        f"hydra.run.dir={run_dir}",
        timeout=1200,
        env={"OMP_NUM_THREADS": "1"},  # two CPU-heavy processes on 2 cores: one OpenMP thread for the trainer
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [json.loads(line) for line in (run_dir / "rewards.jsonl").read_text().splitlines()]
    assert len(lines) == 8 and {line["step"] for line in lines} == {1, 2}  # 2 steps x one group of 4
    scored = [line for line in lines if line["score"] is not None]
    assert scored, "the schema-constrained judge gave no group verdict at all"
    assert all(0.0 <= line["score"] <= 1.0 and line["rationale"] for line in scored)
    assert all(line["error"] for line in lines if line["score"] is None)  # a failure says why, never a 0
    metrics = json.loads((run_dir / "judge_metrics.json").read_text())
    # orders: both: each step's group is asked twice (as listed, reversed); a reply without a verdict once more.
    for line in scored:  # one score and one set of answer ids per order
        assert set(line["group_scores"]) == set(line["group"]["ids"]) == {"as_listed", "reversed"}
    orders = {line["step"]: 2 if line["group"]["distinct"] > 1 else 0 for line in lines}
    # The baseline's 2 lone answers (one request each), then the orders of each step's group, plus retries.
    assert 2 + sum(orders.values()) <= metrics["requests"] <= 2 + 2 * sum(orders.values())
