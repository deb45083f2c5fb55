"""StepTimer splits a step into generation, judge and optimisation from the reward calls inside it."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from rlaif.runs.step_timing import StepTimer


class _Metrics:
    def __init__(self) -> None:
        self.requests = 0.0

    def totals(self) -> dict[str, float]:
        return {"requests": self.requests, "cache_hits": 1.0}


class _SleepyReward:
    __name__ = "sleepy"
    requires_reference = True

    def __init__(self, metrics: _Metrics) -> None:
        self.metrics = metrics

    async def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        await asyncio.sleep(0.05)
        self.metrics.requests += len(completions)
        return [0.5] * len(completions)


def _state(step: int, main: bool = True) -> Any:
    return SimpleNamespace(global_step=step, is_world_process_zero=main)


def test_a_step_is_split_at_the_reward_call(tmp_path: Path) -> None:
    metrics = _Metrics()
    timer = StepTimer(SimpleNamespace(metrics=metrics), tmp_path / "t.jsonl")
    reward = timer.timed(_SleepyReward(metrics))
    assert reward.__name__ == "sleepy" and reward.requires_reference  # TRL and rlaif see the wrapped reward

    for step in (1, 2):
        timer.on_step_begin(None, _state(step - 1), None)
        time.sleep(0.03)  # "generation"
        out = asyncio.run(reward(["p"] * 4, ["c"] * 4, completion_ids=[[1, 2, 3]] * 4))
        time.sleep(0.02)  # "optimisation"
        timer.on_step_end(None, _state(step), None)
        assert out == [0.5] * 4

    rows = [json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    for row in rows:
        assert row["generation_s"] >= 0.03 and row["judge_s"] >= 0.05 and row["optimisation_s"] >= 0.02
        assert row["generation_s"] + row["judge_s"] + row["optimisation_s"] == pytest.approx(row["step_s"])
        assert row["rollout_tokens"] == 12 and row["judge_requests"] == 4
        assert row["judge_requests_per_s"] == pytest.approx(4 / row["judge_s"])
    summary = timer.summary()
    assert summary["steps_timed"] == 1 and summary["judge_s"] == pytest.approx(rows[1]["judge_s"])


def test_a_step_without_rewards_has_no_generation_or_judge_time(tmp_path: Path) -> None:
    timer = StepTimer(SimpleNamespace(metrics=_Metrics()), tmp_path / "t.jsonl")
    timer.on_step_begin(None, _state(0), None)
    timer.on_step_end(None, _state(1), None)
    (row,) = timer.rows
    assert row["generation_s"] == 0 and row["judge_s"] == 0 and row["optimisation_s"] == row["step_s"]


def test_only_the_main_process_writes_the_file(tmp_path: Path) -> None:
    timer = StepTimer(SimpleNamespace(metrics=_Metrics()), tmp_path / "t.jsonl")
    timer.on_step_begin(None, _state(0, main=False), None)
    timer.on_step_end(None, _state(1, main=False), None)
    assert len(timer.rows) == 1 and not (tmp_path / "t.jsonl").exists()


def test_a_plain_function_reward_is_timed_too(tmp_path: Path) -> None:
    timer = StepTimer(SimpleNamespace(metrics=_Metrics()), None)

    def length(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        return [float(len(c)) for c in completions]

    timer.on_step_begin(None, _state(0), None)
    assert asyncio.run(timer.timed(length)(["p"], ["abc"])) == [3.0]
    timer.on_step_end(None, _state(1), None)
    assert timer.rows[0]["judge_s"] > 0 and timer.summary()["steps_timed"] == 1


def test_every_clock_reading_waits_for_the_processs_own_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rank 1 trains on cuda:1. The reward runs in TRL's event-loop thread (here: a thread of its own, with its own
    loop), whose current CUDA device is 0: a bare ``torch.cuda.synchronize()`` there would wait on GPU 0."""
    import threading

    import torch

    calls: list[object] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(device))
    metrics = _Metrics()
    timer = StepTimer(SimpleNamespace(metrics=metrics), None)
    reward = timer.timed(_SleepyReward(metrics))
    state = _state(1)
    timer.on_train_begin(SimpleNamespace(device=torch.device("cuda", 1)), state, None)
    timer.on_step_begin(None, state, None)
    loop_thread = threading.Thread(target=lambda: asyncio.run(reward(["p"], ["c"], completion_ids=[[1]])))
    loop_thread.start()
    loop_thread.join()
    timer.on_step_end(None, state, None)
    assert calls == [torch.device("cuda", 1)] * 4  # step begin, reward start and end (in the loop's thread), step end

    calls.clear()  # never told its device (no on_train_begin): the one accelerate gives rank LOCAL_RANK
    monkeypatch.setenv("LOCAL_RANK", "3")
    fresh = StepTimer(SimpleNamespace(metrics=metrics), None)
    fresh.on_step_begin(None, state, None)
    assert calls == [torch.device("cuda", 3)]
    calls.clear()  # a process training on the CPU waits for no GPU (a judge may use one: not the step's work)
    timer.on_train_begin(SimpleNamespace(device=torch.device("cpu")), state, None)
    timer.on_step_begin(None, state, None)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)  # no CUDA context yet: nothing to wait for
    fresh.on_step_begin(None, state, None)
    assert calls == []
