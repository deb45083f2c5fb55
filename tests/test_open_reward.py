"""``rlaif.open_reward``: python -m rlaif.train's reward in a user's own TRL script (docs/integrations.md).

The example script (examples/trl_grpo.py) trains one step of plain TRL GRPO with LoRA on the packaged model,
rewarded by the packaged judge; the other tests drive the reward outside a trainer, against a dead judge server
and inside a user's own Hydra app.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import rlaif
from rlaif.errors import ConfigError
from rlaif.judges.preflight import JudgeUnavailableError
from rlaif.runs.judge_totals import folder_totals

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "trl_grpo.py"
QUESTION = "How do I boil an egg?"


def _closed_port() -> int:
    with socket.socket() as s:  # bound, then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_example_trains_plain_trl_with_rlaifs_reward(tmp_path: Path) -> None:
    """One GRPO step of examples/trl_grpo.py (docs/reward_anywhere.md): the dataset's reference answers reach the
    reward, every completion is judged and logged, the judge's totals are the run's, the hacking alarm watched the
    step."""
    from rlaif.data.models import packaged_model_dir

    assert len(EXAMPLE.read_text(encoding="utf-8").splitlines()) <= 40  # the bound: a short example
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), str(packaged_model_dir()), "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "outputs" / "trl_grpo"
    lines = _lines(run / "rewards.jsonl")
    assert len(lines) == 4 and {line["step"] for line in lines} == {1}  # 4 completions of one prompt, step 1
    assert all(line["judged"] and line["error"] is None and 0.0 <= line["score"] <= 1.0 for line in lines)
    assert {line["reference"] for line in lines} <= {
        "Simmer it 8-10 minutes.",
        "A 5-7-5 poem.",
        "Unplug it for 30 s.",
    } | {"Rayleigh scattering."}
    assert all(set(line["verdicts"]) == {"polite", "concise"} for line in lines)  # rubric=everyday's criteria
    totals = json.loads((run / "judge_metrics.json").read_text(encoding="utf-8"))
    assert totals["requests"] == 8 and totals["failures"] == 0  # 4 answers x 2 criteria, nothing else
    assert totals == pytest.approx(folder_totals(run))
    assert [row["step"] for row in _lines(run / "monitor.jsonl")] == [1]
    assert (run / "adapter" / "adapter_model.safetensors").is_file()


def test_outside_a_trainer_each_call_is_a_step_and_columns_reach_the_reward(tmp_path: Path) -> None:
    with rlaif.open_reward("reward=rubric", "monitor=off", run_dir=tmp_path) as reward:
        assert reward.__name__ == "rubric"
        first = asyncio.run(reward([QUESTION] * 2, ["Boil it for 8 minutes.", "Go away."]))
        # Up to date after every call, not only at the block's end (a process killed now keeps what it paid).
        assert json.loads((tmp_path / "judge_metrics.json").read_text())["requests"] == 4
        second = asyncio.run(reward.score_batch([QUESTION], ["Boil it."], reference_answer=["8 minutes"]))
    assert len(first) == 2 and all(isinstance(s, float) for s in first)
    assert second.scores[0] is not None and second.stop is None
    assert second.extras[0]["judge_failed"] == 0.0 and "concise" in second.extras[0]["rubric_rationale"]
    # judge/* count since the last call that took metrics (as in TRL's log): the first call took none
    assert second.metrics["judge/requests"] == 6 and second.metrics["rubric/judge_failures"] == 0
    lines = _lines(tmp_path / "rewards.jsonl")
    assert [line["step"] for line in lines] == [1, 1, 2]
    assert lines[2]["reference"] == "8 minutes"
    assert not (tmp_path / "monitor.jsonl").exists()  # monitor=off
    assert json.loads((tmp_path / "judge_metrics.json").read_text())["requests"] == 6


def test_a_judge_that_does_not_answer_fails_before_the_reward_is_yielded() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    overrides = ("judge=vllm", f"judge.base_url={url}", "judge.policy.max_retries=0")
    with pytest.raises(JudgeUnavailableError, match="did not answer a test request"), rlaif.open_reward(*overrides):
        pytest.fail("yielded a reward whose judge never answered")


def test_judge_failures_are_none_and_then_stop_the_run(tmp_path: Path) -> None:
    """Without the pre-flight, every request to a dead server fails: each score is None (TRL leaves the answer
    out), counted; past reward.failures.max_failure_rate the stop is requested, and the next call raises it."""
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    overrides = (
        "judge=vllm",
        f"judge.base_url={url}",
        "judge.policy.max_retries=0",
        "check_judge=false",
        "reward.failures.window=2",
    )
    with rlaif.open_reward(*overrides, "reward=rubric", run_dir=tmp_path) as reward:
        scored = asyncio.run(reward.score_batch([QUESTION] * 2, ["Boil it.", "Ten minutes."]))
        assert scored.scores == [None, None]
        assert [e["judge_failed"] for e in scored.extras] == [1.0, 1.0]
        assert scored.stop is not None and "judge" in scored.stop  # reported to this batch's caller, once
        assert asyncio.run(reward([QUESTION], ["Boil it."])) == [None]
        with pytest.raises(Exception, match="judge"):  # the stop was not acted on by a trainer: the next call raises
            asyncio.run(reward([QUESTION], ["Boil it."]))
    totals = json.loads((tmp_path / "judge_metrics.json").read_text())
    assert totals["failures"] == totals["requests"] == 6


@pytest.mark.parametrize(
    ("override", "named"),
    [("judge=nope", "judge/nope"), ("judge.bogus=1", "judge.bogus"), ("rubric=missing", "rubric/missing")],
)
def test_a_bad_override_is_a_config_error_naming_it(override: str, named: str, tmp_path: Path) -> None:
    opened = rlaif.open_reward(override, run_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match=f"^open_reward: .*{named}") as caught, opened:
        pytest.fail("yielded a reward for a bad override")
    assert "Config search path" not in str(caught.value)
    assert not (tmp_path / "run").exists()  # nothing written for a config that never composed


def test_a_users_own_hydra_app_keeps_its_config(tmp_path: Path) -> None:
    """open_reward inside a user's @hydra.main script: rlaif's tree is composed, the user's state put back."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from rlaif.runs.composed import compose_config

    (tmp_path / "mine.yaml").write_text("lr: 0.1\n")
    with initialize_config_dir(str(tmp_path), version_base="1.3"):
        rlaif_cfg = compose_config(["judge=vllm"])
        assert rlaif_cfg.judge.model == "judge" and "reward" in rlaif_cfg
        assert GlobalHydra.instance().is_initialized()
        assert compose("mine").lr == 0.1  # the user's own tree again
    assert not GlobalHydra.instance().is_initialized()


def test_a_resumed_trainer_logs_each_replayed_step_once(tmp_path: Path) -> None:
    """A TRL run killed after step 3 with its checkpoint at step 1 resumes there: TRL's first reward call then
    comes with global_step 1. Steps 2 and 3, logged before the kill, are replayed; their old lines go."""
    from types import SimpleNamespace

    answers = ["Boil it for 8 minutes.", "Go away."]

    def at(done: int) -> dict:
        return {"trainer_state": SimpleNamespace(global_step=done)}

    with rlaif.open_reward("reward=rubric", run_dir=tmp_path) as reward:
        for done in range(3):  # steps 1, 2, 3; then the process is killed
            asyncio.run(reward([QUESTION] * 2, answers, **at(done)))
    assert [row["step"] for row in _lines(tmp_path / "monitor.jsonl")] == [1, 2, 3]
    with rlaif.open_reward("reward=rubric", run_dir=tmp_path) as reward:  # trainer.train(resume_from_checkpoint=...)
        for done in (1, 2):
            asyncio.run(reward([QUESTION] * 2, answers, **at(done)))
    assert [row["step"] for row in _lines(tmp_path / "rewards.jsonl")] == [1, 1, 2, 2, 3, 3]
    assert [row["step"] for row in _lines(tmp_path / "monitor.jsonl")] == [1, 2, 3]
    # Both starts' requests count (the replayed answers were answered from the run's judge cache).
    totals = json.loads((tmp_path / "judge_metrics.json").read_text())
    assert totals["requests"] == 4 + 4 + 4 + 4 + 4 and totals["cache_hits"] >= 8


def test_with_its_callbacks_a_failing_judge_stops_a_trl_run_after_the_step(tmp_path: Path) -> None:
    """GRPOTrainer(callbacks=reward.callbacks): past max_failure_rate the run ends after that step, with a
    checkpoint to resume from, as rlaif.train stops (not at max_steps, not by a crash inside TRL)."""
    from tests._tiny_trl import tiny_trainer

    url = f"http://127.0.0.1:{_closed_port()}/v1"
    overrides = ("judge=vllm", f"judge.base_url={url}", "judge.policy.max_retries=0", "check_judge=false")
    with rlaif.open_reward(*overrides, "reward=rubric", "reward.failures.window=4", "monitor=off") as reward:
        trainer, out = tiny_trainer(
            tmp_path, [reward], reward.callbacks, max_steps=3, save_strategy="steps", save_steps=10
        )
        trainer.train()
    assert trainer.state.global_step == 1
    assert (out / "checkpoint-1" / "trainer_state.json").is_file()
    assert reward.reward.stop.reason is not None and "failure rate" in str(reward.reward.stop.reason)


def test_a_plain_trl_datasets_rubric_column_grades_with_reward_row_rubric() -> None:
    """In a user's TRL dataset each row's rubric is a column of its own (rlaif's loader keeps it in ``extra``)."""
    rubrics = [
        [{"criterion": "Says how many minutes", "points": 5}],
        ["Mentions cold water", {"criterion": "Is rude", "points": -5}],
    ]
    with rlaif.open_reward("reward=row_rubric", "monitor=off") as reward:
        scored = asyncio.run(reward.score_batch([QUESTION] * 2, ["Boil it for 8 minutes."] * 2, rubric=rubrics))
    assert all(isinstance(s, float) for s in scored.scores) and scored.extras[0]["judge_failed"] == 0.0
    assert scored.metrics["row_rubric/items_per_answer"] == 1.5  # each answer was graded on its own row's items


def test_under_a_neutral_failure_rule_a_failed_answer_still_counts_as_failed() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    overrides = ("judge=vllm", f"judge.base_url={url}", "judge.policy.max_retries=0", "check_judge=false")
    with rlaif.open_reward(*overrides, "reward=rubric", "reward.failures.on_judge_error=neutral") as reward:
        scored = asyncio.run(reward.score_batch([QUESTION], ["Boil it."]))
    assert scored.scores == [0.5] and scored.extras[0]["judge_failed"] == 1.0
