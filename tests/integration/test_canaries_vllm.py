"""Judge canaries against the real vLLM server: an unchanged judge raises no alarm check after check
(vLLM's own batch-to-batch noise stays inside what the first, doubled check measured)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from rlaif.judges.backends.openai_compat import openai_judge
from rlaif.judges.serving.vllm_server import VLLMServer
from rlaif.monitoring.alarms import AlarmSink
from rlaif.monitoring.canaries import build_canaries
from rlaif.rewards.rubric import RubricReward

pytestmark = [pytest.mark.vllm]


def test_an_unchanged_vllm_judge_raises_no_canary_alarm(vllm_server: VLLMServer, tmp_path: Path) -> None:
    with initialize_config_module(config_module="rlaif.conf", version_base="1.3"):
        cfg = compose(config_name="train")
    judge = openai_judge(base_url=vllm_server.base_url, policy={"cache": True, "cache_path": str(tmp_path / "c")})
    sink = AlarmSink(tmp_path / "alarms.jsonl")
    canaries = build_canaries(
        {**cfg.canaries, "every": 1, "rows": 8}, RubricReward(judge, dict(cfg.rubric)), tmp_path, sink
    )
    assert canaries is not None
    try:
        for step in range(4):
            asyncio.run(canaries.before_reward(step, {}))
    finally:
        judge.close()
    assert len(canaries.checks) == 4 and all(c["parse_failure_rate"] == 0.0 for c in canaries.checks)
    assert sink.raised == [], [a.line() for a in sink.raised]
    assert all(c["shift"] is not None and c["shift"] <= 0.05 for c in canaries.checks)
