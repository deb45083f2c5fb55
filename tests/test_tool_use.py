"""Tool-using rollouts (environment=...): the calculator's tools, the config group reaching a real GRPOTrainer,
a raising tool sent back to the model by TRL's own loop and counted, the version check, the reward combination."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_module

from rlaif.data.packaged import packaged_file
from rlaif.environments.calculator import Calculator, evaluate
from rlaif.errors import ConfigError, is_input_error
from rlaif.runs import environments
from rlaif.runs.config_checks import check_train_config
from rlaif.runs.environments import (
    ENV_REWARD,
    CountingFactory,
    ToolErrorCounter,
    ToolUseReward,
    check_environment,
    tool_use,
)
from tests._tiny_trl import tiny_trainer


def _compose(*overrides: str) -> Any:
    with initialize_config_module("rlaif.conf", version_base="1.3"):
        return compose("train", overrides=list(overrides))


def test_the_calculator_computes_and_raises_on_what_is_not_arithmetic() -> None:
    env = Calculator()
    env.reset(reference_answer="1380", id="calc-001", prompt=[])
    assert env.calculate("46 * 30") == "1380" and env.calculate("7 / 2") == "3.5"
    assert env.get_reward() == 1.0
    for bad in ("__import__('os')", "1 / 0", "2 ** 1000", "46 *"):
        with pytest.raises((ValueError, ZeroDivisionError)):
            env.calculate(bad)
    assert env.errors == 4
    env.reset(reference_answer="12")
    assert env.get_reward() == 0.0 and evaluate("-(3 + 1) * 3") == -12.0


def test_every_shipped_question_has_a_numeric_reference_the_calculator_can_reach() -> None:
    rows = [json.loads(line) for line in packaged_file("prompts", "calculator").read_text().splitlines()]
    assert len(rows) >= 32
    assert all(float(r["reference_answer"]) == int(r["reference_answer"]) for r in rows)


def test_a_counted_environment_hides_get_reward_from_trl_and_counts_what_its_tools_raise() -> None:
    counter = ToolErrorCounter()
    env = CountingFactory(Calculator, counter, hide_reward=True)()
    env.reset(reference_answer="6")
    with pytest.raises(ZeroDivisionError):  # raised still: TRL's loop turns it into the tool's result
        env.calculate("1 / 0")
    assert env.calculate("2 * 3") == "6" and counter.take() == 1 and counter.take() == 0
    assert env.get_reward is None and getattr(env, ENV_REWARD)() == 1.0
    assert type(env).__name__ == "Calculator" and type(CountingFactory(Calculator, counter, True)()) is not Calculator


def test_the_environment_reward_is_added_with_its_weight_and_a_judge_failure_stays_none() -> None:
    envs = []
    for reference in ("6", "6", "7"):
        env = CountingFactory(Calculator, ToolErrorCounter(), hide_reward=True)()
        env.reset(reference_answer=reference)
        env.calculate("2 * 3")
        envs.append(env)
    logged: dict[str, float] = {}

    def judge(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        return [0.5, None, 0.25]

    counter = ToolErrorCounter()
    counter.errors = 2
    combined = ToolUseReward(judge, 0.5, counter)
    scores = asyncio.run(combined(["q"] * 3, ["a"] * 3, environments=envs, log_metric=logged.__setitem__))
    assert scores == [1.0, None, 0.25]
    assert logged == {"environment_reward": pytest.approx(2 / 3), "tools/errors": 2} and counter.errors == 0
    alone = ToolUseReward(judge, None, counter)  # reward_weight: null, TRL adds get_reward() itself
    assert asyncio.run(alone(["q"] * 3, ["a"] * 3, environments=envs)) == [0.5, None, 0.25]
    assert combined.__name__ == "judge"


def test_too_old_a_transformers_or_trl_is_refused_before_anything_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _compose("experiment=tool_use")
    monkeypatch.setattr(environments, "installed_versions", lambda: ("1.16.0", "5.1.0"))
    with pytest.raises(ConfigError, match=r"transformers>=5\.2 .*installed: trl 1\.16\.0, transformers 5\.1\.0") as e:
        check_train_config(cfg)
    assert is_input_error(e.value)  # exit 2 (rlaif.errors.exit_code)
    monkeypatch.setattr(environments, "installed_versions", lambda: ("1.15.2", "5.25.0"))
    with pytest.raises(ConfigError, match=r"trl>=1\.16"):
        check_environment(cfg.environment)
    check_train_config(_compose())  # environment=none asks for nothing
    with pytest.raises(ConfigError, match="environment"):
        check_environment(_compose("+environment.reward_wieght=1").environment)


@pytest.mark.parametrize("reward_weight", [0.5, None])
def test_the_config_group_reaches_a_real_grpo_trainer_and_a_raising_tool_goes_back_to_the_model(
    reward_weight: float | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TRL's own tool loop on a tiny model: its parser is made to read a call of calculate("1 / 0") from the first
    turn (a random model writes none), so the tool raises, TRL sends the error back and generates again."""
    import trl.trainer.grpo_trainer as grpo_trainer

    cfg = _compose("experiment=tool_use", f"environment.reward_weight={'null' if reward_weight is None else 0.5}")
    seen: list[list[Any]] = []

    def reward(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        seen.extend(completions)
        return [0.5] * len(completions)

    real_parse, calls = grpo_trainer.parse_response, []

    def parse(tokenizer: Any, ids: list[int], **kwargs: Any) -> dict[str, Any]:
        calls.append(ids)
        if len(calls) > 4:  # the turn after the tool's result: what the model wrote
            return real_parse(tokenizer, ids, **kwargs)
        call = {"type": "function", "function": {"name": "calculate", "arguments": {"expression": "1 / 0"}}}
        return {"role": "assistant", "content": "", "tool_calls": [call]}

    monkeypatch.setattr(grpo_trainer, "parse_response", parse)
    trainer, _ = tiny_trainer(
        tmp_path,
        [],
        trainer_kwargs=lambda tokenizer: tool_use(cfg.environment, reward, tokenizer, []),
        max_tool_calling_iterations=1,
        max_completion_length=512,  # room for the tool's result (the tiny tokenizer spells it out): 4 tokens a turn
        generation_kwargs={"max_new_tokens": 4},
    )
    assert [t.__name__ for t in trainer.tools] == ["calculate"]
    assert trainer.reward_func_names == (["reward"] if reward_weight is not None else ["reward", "Calculator"])
    trainer.train()
    log = trainer.state.log_history[0]  # what every logger gets: metrics.jsonl, TensorBoard, the console
    assert log["tools/call_frequency"] == 1.0 and log["tools/failure_frequency"] == 1.0 and log["tools/errors"] == 4
    tool_turns = [m for completion in seen for m in completion if m["role"] == "tool"]
    assert len(tool_turns) == 4 and all(m["content"] == str({"error": "division by zero"}) for m in tool_turns)
    assert ("environment_reward" in log) == (reward_weight is not None)
    if reward_weight is None:  # TRL's own column, weight 1: the calculator never returned the reference
        assert log["rewards/Calculator/mean"] == 0.0


def test_plain_functions_are_tools_too_and_a_missing_chat_template_is_the_users_error() -> None:
    cfg = _compose(
        "environment=calculator",
        "environment.factory=null",
        "environment.tools=[{_target_: hydra.utils.get_method, path: rlaif.environments.calculator.evaluate}]",
    )

    def judge(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        return [1.0]

    tokenizer = type("Tokenizer", (), {"chat_template": None})()
    built = tool_use(cfg.environment, judge, tokenizer, [])
    (tool,) = built["tools"]
    assert tool.__name__ == "evaluate" and tool("6 * 7") == 42.0 and "environment_factory" not in built
    with pytest.raises(ValueError):
        tool("6 *")
    assert built["reward_funcs"][0].counter.take() == 1 and "<tool_call>" in tokenizer.chat_template
    missing = _compose("environment=calculator", "environment.chat_template=trl:nope").environment
    with pytest.raises(ConfigError, match=r"environment\.chat_template: no such template: trl:nope"):
        tool_use(missing, judge, tokenizer, [])


def test_the_shipped_tool_use_experiment_trains_through_the_entry_point(tmp_path: Path) -> None:
    """python -m rlaif.train experiment=tool_use, one small step with the packaged policy and judge: the rollouts go
    through TRL's tool loop, the judge grades each transcript, and the step's logs carry the tool metrics."""
    from tests._entry_point import run_train

    run = tmp_path / "run"
    done = run_train(
        "experiment=tool_use",
        "grpo.max_steps=1",
        "grpo.per_device_train_batch_size=4",
        "grpo.max_completion_length=48",  # the wiring, not the learning: half the shipped budget
        "data.limit=4",
        f"hydra.run.dir={run}",
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in (run / "rewards.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 4 and all(line["step"] == 1 for line in lines)
    assert all(line["judged"] or line["score"] == 0.0 for line in lines)  # judged, or scored 0 by the edge rule
    assert all(
        set(line["verdicts"]) <= {"called_calculator", "matches_reference", "short"} for line in lines if line["judged"]
    )
    step = json.loads((run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert {"tools/errors", "environment_reward", "tools/call_frequency"} <= set(step)
    monitor = json.loads((run / "monitor.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert 0.0 <= monitor["tool_call_rate"] <= 1.0
