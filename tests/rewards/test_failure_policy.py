"""What docs/failures.md promises of the failure policy: its defaults, the rate check in every mode, the message
naming the last error, and the stopping call's lines still reaching rewards.jsonl."""

from __future__ import annotations

import asyncio
import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_module

from rlaif.judges.protocol import JudgeRequest, TransportResult
from rlaif.rewards.failures import FailurePolicy, JudgeFailureError
from rlaif.rewards.rubric import RubricReward
from tests.rewards.scripted import fail, scripted_judge, yes_no

RUBRIC = {"name": "t", "criteria": [{"id": "ok", "question": "Is it fine?"}]}
PROMPT = [{"role": "user", "content": "How do I boil an egg?"}]


def test_the_documented_defaults_in_code_and_in_every_shipped_reward_config() -> None:
    policy = FailurePolicy()
    assert (policy.on_judge_error, policy.max_failure_rate, policy.window, policy.min_calls) == ("none", 0.5, 64, 16)
    with initialize_config_module("rlaif.conf", version_base=None):
        for reward in ("rubric", "rubric_with_checks", "preference", "rubric_on_topic"):
            failures = compose("train", overrides=[f"reward={reward}"]).reward.failures
            assert (failures.on_judge_error, failures.max_failure_rate, failures.window) == ("none", 0.5, 64), reward
            assert "min_calls" not in failures  # set with +reward.failures.min_calls=N, as the page says


def test_the_rate_check_runs_under_neutral_too_and_waits_for_min_calls() -> None:
    policy = FailurePolicy(on_judge_error="neutral", window=8, min_calls=4)
    assert [policy.resolve(None, "down") for _ in range(3)] == [0.5, 0.5, 0.5]  # 3 < min_calls: not yet
    with pytest.raises(JudgeFailureError, match="failure rate 100% over the last 4 answers"):
        policy.resolve(None, "down")


def test_the_message_names_the_last_error_when_a_success_tips_the_rate_over() -> None:
    policy = FailurePolicy(window=4, min_calls=4)
    assert [policy.resolve(None, "HTTP 503 from the judge") for _ in range(3)] == [None, None, None]
    with pytest.raises(JudgeFailureError) as info:
        policy.resolve(1.0, None)  # the 4th answer succeeds, yet 3 of 4 failed
    assert "last error: HTTP 503 from the judge" in str(info.value)
    assert "reward.failures.max_failure_rate" in str(info.value)


def test_the_call_that_stops_the_run_still_writes_its_lines(tmp_path: Path) -> None:
    def script(request: JudgeRequest) -> TransportResult:
        return fail("judge down") if "bad" in str(request.messages) else yes_no(1.0)

    judge, _ = scripted_judge(script)
    path = tmp_path / "rewards.jsonl"
    reward = RubricReward(judge, RUBRIC, log_path=str(path), failures={"on_judge_error": "raise"})
    kwargs: dict[str, Any] = {"prompts": [PROMPT] * 2, "completions": ["good", "bad"]}
    with pytest.raises(JudgeFailureError, match="judge down"):
        asyncio.run(reward(**kwargs))
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["completion"], r["score"]) for r in rows] == [("good", 1.0), ("bad", None)]
    assert "judge down" in rows[1]["error"]


def test_the_counters_start_afresh_in_a_pickled_copy() -> None:
    policy = FailurePolicy(window=4, min_calls=4, max_failure_rate=0.5)
    for _ in range(2):
        policy.resolve(None, "down")
    copy = pickle.loads(pickle.dumps(policy))
    assert (copy.failures, copy.total, copy.last_error) == (0, 0, None) and (policy.failures, policy.total) == (2, 2)
    assert [copy.resolve(1.0, None) for _ in range(4)] == [1.0] * 4  # the original's failures are not in its window
