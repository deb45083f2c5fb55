"""``rlaif.integrations.verl``: rlaif's reward called the way verl 0.9.1 calls a custom reward function.

verl is not a test dependency (0.9.1 pins ``transformers<5.11`` and needs Ray), so the tests here replay its call
exactly, from verl 0.9.1's source (the wheel ``verl-0.9.1-py3-none-any.whl``):

- ``verl/trainer/ppo/reward.py`` lines 82-86 (``get_custom_reward_fn``): ``reward_kwargs`` merged over the
  call's keyword arguments, an ``async def`` awaited;
- ``verl/experimental/reward_loop/reward_manager/naive.py`` lines 124-166 (``NaiveRewardManager.run_single``, the
  manager of ``reward.reward_manager.name=naive``, verl's default): ``extra_info`` from the row with
  ``num_turns`` and ``rollout_reward_scores`` added, then ``compute_score(data_source=, solution_str=,
  ground_truth=, extra_info=)`` once per answer;
- ``verl/experimental/reward_loop/reward_loop.py`` lines 138-143 (``RewardLoopWorker.compute_score_batch``): one
  task per answer, gathered on the worker's event loop (the agent loop's streaming calls,
  ``verl/experimental/agent_loop/agent_loop.py`` line 1026, arrive on the same loop one answer at a time);
- ``verl/workers/reward_manager/batch.py`` lines 62-76 (``BatchRewardManager.verify``) for the batch form.

``tests/test_integration_verl_own.py`` runs verl's own managers where verl is installed.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from rlaif.errors import ConfigError, DataError
from rlaif.integrations import verl as rlaif_verl

# verl rows as its data recipes write them: the question in extra_info, the reference in reward_model
ROWS: list[dict[str, Any]] = [
    {"data_source": "everyday", "reward_model": {"ground_truth": "Paris"},
     "extra_info": {"index": 0, "question": "What is the capital of France?"}},
    {"data_source": "everyday", "reward_model": {"ground_truth": "Paris"},
     "extra_info": {"index": 0, "question": "What is the capital of France?"}},
    {"data_source": "everyday", "reward_model": {"ground_truth": "366"},
     "extra_info": {"index": 1, "question": "How many days are there in a leap year?"}},
]  # fmt: skip
ANSWERS = ["The capital of France is Paris.", "I like turtles.", "A leap year has 366 days."]


def _call_with_kwargs(raw_fn: Any, extra_kwargs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    return raw_fn(*args, **{**kwargs, **extra_kwargs})  # verl/trainer/ppo/reward.py lines 32-38


async def _call_with_kwargs_async(raw_fn: Any, extra_kwargs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    return await raw_fn(*args, **{**kwargs, **extra_kwargs})  # lines 41-47


def custom_reward_fn(name: str, reward_kwargs: Mapping[str, Any]) -> Any:
    """``get_custom_reward_fn`` (reward.py lines 78-86) for ``path=pkg://rlaif.integrations.verl``."""
    raw_fn = getattr(rlaif_verl, name)
    if not inspect.iscoroutinefunction(raw_fn):
        return partial(_call_with_kwargs, raw_fn, dict(reward_kwargs))
    return partial(_call_with_kwargs_async, raw_fn, dict(reward_kwargs))


async def run_single(compute_score: Any, row: Mapping[str, Any], response_str: str) -> dict[str, Any]:
    """``NaiveRewardManager.run_single`` (naive.py lines 124-181) for one agent-loop output (no reward model)."""
    extra_info = dict(row.get("extra_info", {}))
    extra_info.update({}.items())  # tool_extra_fields: the agent loop's output.extra_fields, empty for one turn
    extra_info["num_turns"] = 2
    extra_info["rollout_reward_scores"] = {}
    assert inspect.iscoroutinefunction(compute_score)  # naive.py line 112: so it is awaited, not run in a thread
    result = await compute_score(
        data_source=row["data_source"],
        solution_str=response_str,
        ground_truth=row["reward_model"]["ground_truth"],
        extra_info=extra_info,
    )
    score = result["score"] if isinstance(result, dict) else result
    return {"reward_score": score, "reward_extra_info": dict(result) if isinstance(result, dict) else {"acc": score}}


def reward_loop(reward_kwargs: Mapping[str, Any], rows: list[dict[str, Any]], answers: list[str]) -> list[Any]:
    """One ``RewardLoopWorker.compute_score_batch`` (reward_loop.py lines 138-143) on a fresh event loop."""
    compute_score = custom_reward_fn("compute_score", reward_kwargs)

    async def batch() -> list[dict[str, Any]]:
        tasks = [asyncio.create_task(run_single(compute_score, r, a)) for r, a in zip(rows, answers, strict=True)]
        return list(await asyncio.gather(*tasks))

    return asyncio.run(batch())


@pytest.fixture(autouse=True)
def fresh_process_reward() -> Iterator[None]:
    """Each test is a new verl worker process: the reward a previous test opened is closed."""
    rlaif_verl.close()
    yield
    rlaif_verl.close()


def test_the_reward_loop_call_scores_as_open_reward_one_judge_per_process(tmp_path: Path) -> None:
    # A worker process of its own, as verl's RewardLoopWorker is: two batches, then it exits without closing.
    script = f"""
import asyncio, atexit, json, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_integration_verl import ROWS, ANSWERS, reward_loop
from rlaif.integrations import verl as rlaif_verl
from rlaif.integrations.in_process import open_reward
judges = []  # exit handlers run last-registered first: this one after the reward's own
atexit.register(lambda: print("AT EXIT judge loop running:", judges[0]._thread is not None))
kwargs = {{"run_dir": {str(tmp_path / "run")!r}}}
first = reward_loop(kwargs, ROWS, ANSWERS)
judges.append(rlaif_verl.reward_function(rlaif_verl.settings_from(kwargs)).judge)
second = reward_loop(kwargs, ROWS[:2], ANSWERS[:2])
with open_reward("monitor=off", "++judge.policy.cache=false") as reward:
    prompts = [[{{"role": "user", "content": r["extra_info"]["question"]}}] for r in ROWS]
    refs = [r["reward_model"]["ground_truth"] for r in ROWS]
    scored = asyncio.run(reward.score_batch(prompts, ANSWERS, reference_answer=refs))
print("JSON", json.dumps({{"first": first, "second": second, "in_process": scored.scores}}))
print("BEFORE EXIT judge loop running:", judges[0]._thread is not None)
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.split("JSON ", 1)[1].splitlines()[0])
    assert "BEFORE EXIT judge loop running: True" in done.stdout
    assert "AT EXIT judge loop running: False" in done.stdout  # closed by the reward's exit handler
    first = out["first"]
    assert [r["reward_score"] for r in first] == pytest.approx(out["in_process"], abs=1e-6)
    assert first[1]["reward_score"] == 0.0  # off-topic: the on-topic gate, as in training
    assert first[1]["reward_extra_info"]["rubric_on_topic_rationale"].startswith("gate")
    assert 0 < first[0]["reward_score"] <= 1 and 0 < first[2]["reward_score"] <= 1
    for result in first + out["second"]:  # verl needs the same keys for every answer (reward_loop.py 365-369)
        assert set(result["reward_extra_info"]) == {"score", "rubric_on_topic_rationale", "judge_failed"}
        assert result["reward_extra_info"]["judge_failed"] == 0.0
    assert [r["reward_score"] for r in out["second"]] == pytest.approx(out["in_process"][:2], abs=1e-6)

    (folder,) = (tmp_path / "run").iterdir()  # one process, one folder: <host>-<pid>
    assert folder.name.startswith(socket.gethostname() + "-")
    lines = [json.loads(line) for line in (folder / "rewards.jsonl").read_text().splitlines()]
    steps = [line["step"] for line in lines]
    assert len(set(steps[:3])) == 1 and len(set(steps[3:])) == 1 and steps[3] != steps[0]  # a batch, one step
    assert [line["completion"] for line in lines] == ANSWERS + ANSWERS[:2]
    assert [line["prompt_id"] for line in lines] == ["0", "0", "1", "0", "0"]  # extra_info["index"]
    assert len(list((folder / "judge_totals").iterdir())) == 1  # the same judge for both batches
    assert (folder / "judge_cache").is_dir() and (folder / "monitor.jsonl").is_file()  # the alarm is on by default
    totals = json.loads((folder / "judge_metrics.json").read_text())  # brought up to date after every batch
    assert totals["requests"] > 0


def _dead_judge(*more: str) -> list[str]:
    with socket.socket() as s:  # a loopback port nothing listens on: every judge request fails
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return ["judge=vllm", f"judge.base_url=http://127.0.0.1:{port}/v1", "check_judge=false",
            "judge.policy.max_retries=0", "++judge.policy.cache=false", "monitor=off", *more]  # fmt: skip


def test_a_judge_failure_is_the_failed_score_and_counted(tmp_path: Path) -> None:
    kwargs = {"overrides": _dead_judge(), "run_dir": str(tmp_path), "failed_score": 0.25}
    results = reward_loop(kwargs, ROWS, ANSWERS)
    assert [r["reward_score"] for r in results] == [0.25, 0.0, 0.25]  # the gated answer needs no judge
    assert [r["reward_extra_info"]["judge_failed"] for r in results] == [1.0, 0.0, 1.0]
    (folder,) = tmp_path.iterdir()
    lines = [json.loads(line) for line in (folder / "rewards.jsonl").read_text().splitlines()]
    assert [line["score"] for line in lines] == [None, 0.0, None] and lines[0]["error"]

    rlaif_verl.close()  # the batch form, default failed_score
    batch = rlaif_verl.compute_score_batch(
        [r["data_source"] for r in ROWS], ANSWERS, [r["reward_model"]["ground_truth"] for r in ROWS],
        [r["extra_info"] for r in ROWS], overrides=_dead_judge(),
    )  # fmt: skip
    assert [(r["score"], r["judge_failed"]) for r in batch] == [(0.5, 1.0), (0.0, 0.0), (0.5, 1.0)]


def test_too_many_judge_failures_stop_the_run_with_the_reason() -> None:
    kwargs = {"overrides": _dead_judge("+reward.failures.min_calls=1")}
    with pytest.raises(RuntimeError, match=r"rlaif reward: .*judge fail"):
        reward_loop(kwargs, ROWS, ANSWERS)


def test_a_row_without_its_question_is_named() -> None:
    row = {**ROWS[0], "extra_info": {"index": 7}}
    with pytest.raises(DataError, match=r"verl row 0 .*extra_info\['question'\]"):
        reward_loop({"overrides": _dead_judge()}, [row], ANSWERS[:1])


def test_a_bad_setting_raises_config_error_naming_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"judge\.nope"):
        reward_loop({"overrides": ["judge.nope=1"]}, ROWS[:1], ANSWERS[:1])
    with pytest.raises(ConfigError, match=r"reward_kwargs\.overide: unknown key"):
        reward_loop({"overide": ["judge=vllm"]}, ROWS[:1], ANSWERS[:1])
    with pytest.raises(ConfigError, match=r"reward_kwargs\.failed_score: expected a number"):
        rlaif_verl.settings_from({"failed_score": "low"})
    monkeypatch.setenv(rlaif_verl.OVERRIDES_ENV, "judge.nope=1")
    with pytest.raises(ConfigError, match=r"judge\.nope"):
        rlaif_verl.compute_score_batch(["d"], ["a"], [None], [{"question": "q"}])


def test_environment_overrides_come_first_and_reward_kwargs_win(monkeypatch: pytest.MonkeyPatch) -> None:
    from rlaif.runs.composed import compose_config

    monkeypatch.setenv(rlaif_verl.OVERRIDES_ENV, "judge.dtype=bfloat16 'judge.model=my model'")
    monkeypatch.setenv(rlaif_verl.RUN_DIR_ENV, "/from/env")
    settings = rlaif_verl.settings_from({"overrides": "judge.dtype=float16", "run_dir": "/from/kwargs"})
    assert settings.overrides == ("judge.dtype=bfloat16", "judge.model=my model", "judge.dtype=float16")
    assert settings.run_dir == "/from/kwargs"
    config = compose_config(settings.overrides)
    assert (config.judge.dtype, config.judge.model) == ("float16", "my model")
    assert rlaif_verl.settings_from({}).run_dir == "/from/env"
