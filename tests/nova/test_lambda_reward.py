"""``reward=nova_lambda``: a Nova-contract reward function as a TRL reward, local or deployed (boto3 invoke)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from rlaif.nova import lambda_handler
from rlaif.nova.lambda_reward import NovaLambdaReward, build_samples
from tests._entry_point import run_train
from tests.judges.converse_server import ConverseServer, RecordedRequest, Reply
from tests.nova.lambda_server import LambdaServer
from tests.nova.payloads import judge_reply, request_text

PROMPT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the capital of France?"}]


def _trl_call(reward: Any, answers: list[str], **columns: Any) -> list[float | None]:
    """Call the reward as TRL 1.16 does: chat prompts and completions, dataset columns as keyword arguments."""
    prompts = [PROMPT] * len(answers)
    completions = [[{"role": "assistant", "content": a}] for a in answers]
    logged: dict[str, float] = {}
    scores = asyncio.run(
        reward(prompts, completions, completion_ids=[[1]] * len(answers), log_metric=logged.__setitem__, **columns)
    )
    reward.logged = logged
    return list(scores)


def test_the_payload_is_the_nova_contracts() -> None:
    columns = {
        "id": ["q1", "q1"],
        "reference_answer": ["Paris", '{"city": "Paris"}'],
        "extra": ['{"task": "geo", "difficulty": "easy"}', '{"difficulty": "easy"}'],
        "trainer_state": None,
        "a_future_trl_argument": ["x", "y"],  # a list as long as the batch: looks like a column, is not one
    }
    samples = build_samples([PROMPT, PROMPT], ["Paris.", "Lyon."], columns)
    assert [s["id"] for s in samples] == ["q1#0", "q1#1"]  # one prompt, two completions: unique ids
    assert samples[0]["messages"] == [*PROMPT, {"role": "assistant", "content": "Paris."}]
    assert samples[0]["reference_answer"] == "Paris" and samples[0]["difficulty"] == "easy"
    assert samples[1]["reference_answer"] == {"city": "Paris"}  # the JSON rlaif.data.loaders stored as text
    assert samples[0]["task"] == "geo" and "task" not in samples[1]  # a row's extra fields, passed through
    assert "trainer_state" not in samples[0] and "extra" not in samples[0]
    assert all("a_future_trl_argument" not in sample for sample in samples)  # an allow-list, not a deny-list


def test_a_tool_using_completion_goes_to_the_function_as_a_multi_turn_sample() -> None:
    """A TRL transcript (tool call arguments as a mapping) is sent in Nova 2.0's OpenAI format (arguments as JSON
    text) and read back by the contract as the same transcript."""
    from rlaif.nova.contract import parse_sample
    from rlaif.rewards.transcript import judged_answer

    call = {"type": "function", "function": {"name": "lookup", "arguments": {"country": "France"}}}
    completion = [
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "name": "lookup", "content": "Paris"},
        {"role": "assistant", "content": "Paris."},
    ]
    [sample] = build_samples([PROMPT], [judged_answer(completion)], {"id": ["q1"]})
    assert sample["messages"][:2] == PROMPT and sample["messages"][-1] == {"role": "assistant", "content": "Paris."}
    assert sample["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"country": "France"}'
    read = parse_sample(json.loads(json.dumps(sample)), 0)
    assert read.prompt == PROMPT and read.answer == [
        {"role": "assistant", "content": "", "tool_calls": sample["messages"][2]["tool_calls"]},
        {"role": "tool", "name": "lookup", "content": "Paris"},
        {"role": "assistant", "content": "Paris."},
    ]


def test_a_local_handler_scores_and_its_metrics_are_logged(tmp_path: Path) -> None:
    seen: list[Any] = []

    def nova_function(event: Any, context: Any) -> list[dict[str, Any]]:
        seen.append(event)
        return [
            {
                "id": s["id"],
                "aggregate_reward_score": 1.0 if "Paris" in s["messages"][-1]["content"] else 0.0,
                "metrics_list": [{"name": "exact", "value": 1.0, "type": "Metric"}],
            }
            for s in event
        ]

    reward = NovaLambdaReward(function=nova_function, batch_size=2, log_path=str(tmp_path / "r.jsonl"))
    scores = _trl_call(reward, ["Paris.", "Lyon.", "It is Paris."], id=["q1"] * 3)
    assert scores == [1.0, 0.0, 1.0]
    assert [len(event) for event in seen] == [2, 1]  # batch_size samples per invocation
    assert reward.logged["nova_lambda/metric/exact"] == 1.0  # type: ignore[attr-defined]
    lines = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [line["score"] for line in lines] == [1.0, 0.0, 1.0] and lines[0]["nova_metrics"] == {"exact": 1.0}


def test_outside_training_the_function_gets_each_rows_fields_as_in_training() -> None:
    # The baseline step grades through grade_rows: a Nova function sees a row's other fields (its extra) there too.
    from rlaif.rewards.capabilities import grade_rows

    seen: list[Any] = []

    def nova_function(event: Any, context: Any) -> list[dict[str, Any]]:
        seen.extend(event)
        return [{"id": s["id"], "aggregate_reward_score": float(s.get("task") == "geo")} for s in event]

    reward = NovaLambdaReward(function=nova_function)
    extras = ['{"task": "geo"}', '{"task": "math"}']
    grades = asyncio.run(grade_rows(reward, [PROMPT, PROMPT], ["Paris.", "Paris."], ["Paris", ""], extras))
    assert [g.score for g in grades] == [1.0, 0.0]
    assert [s.get("task") for s in seen] == ["geo", "math"] and seen[0]["reference_answer"] == "Paris"


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (lambda event: [], "expected a list of 2 results, got 0 results"),
        (lambda event: [{"id": "wrong", "aggregate_reward_score": 1.0}] * 2, "result 0 should have id 'q#0'"),
        (lambda event: [{"id": s["id"], "aggregate_reward_score": None} for s in event], "has no numeric score"),
    ],
)
def test_a_reply_that_breaks_the_contract_leaves_the_batch_unscored(reply: Any, error: str, tmp_path: Path) -> None:
    reward = NovaLambdaReward(function=lambda event, context: reply(event), log_path=str(tmp_path / "r.jsonl"))
    assert _trl_call(reward, ["a", "b"], id=["q", "q"]) == [None, None]  # None, never a silent 0
    lines = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert all(error in line["error"] for line in lines)
    assert reward.failures.failures == 2  # counted like judge failures


def test_exactly_one_function_is_required() -> None:
    with pytest.raises(ValueError, match=r"exactly one of reward\.function"):
        NovaLambdaReward()
    with pytest.raises(ValueError, match=r"exactly one of reward\.function"):
        NovaLambdaReward(function=print, function_arn="arn:aws:lambda:us-east-1:1:function:f")


def _judging(server: ConverseServer) -> None:
    def respond(request: RecordedRequest) -> Reply:
        return Reply.ok(judge_reply(request_text(request.body)))

    server.responder = respond


def test_a_deployed_lambda_scores_a_batch_through_boto3_invoke(
    monkeypatch: pytest.MonkeyPatch, aws_dummy_env: None, converse_server: ConverseServer
) -> None:
    """A fake Lambda endpoint running rlaif's own handler (its judge: the loopback Bedrock), throttling first."""
    _judging(converse_server)
    monkeypatch.setenv("RLAIF_NOVA_OVERRIDES", f"judge.endpoint_url={converse_server.url} reward=rubric")
    monkeypatch.setattr(lambda_handler, "_grader", None)
    arn = "arn:aws:lambda:us-east-1:123456789012:function:SageMaker-rlaif-reward"
    with LambdaServer(lambda_handler.handler) as server:
        server.throttle = 2  # TooManyRequestsException twice: botocore's standard mode retries it
        reward = NovaLambdaReward(function_arn=arn, endpoint_url=server.url, batch_size=2, max_attempts=5)
        answers = ["Thanks: Paris.", "The capital of France is Paris, a city with many museums, bridges and cafes."]
        scores = _trl_call(reward, [*answers, "Paris."], id=["q1"] * 3, reference_answer=["Paris"] * 3)
    assert scores == pytest.approx([1.0, 0.0, 0.8])
    assert server.statuses.count(429) == 2 and server.statuses.count(200) == 2
    assert [name for name, _ in server.invocations] == [arn, arn]
    sent = {sample["id"]: sample for _, event in server.invocations for sample in event}
    assert sorted(sent) == ["q1#0", "q1#1", "q1#2"] and sent["q1#0"]["reference_answer"] == "Paris"
    assert sent["q1#0"]["messages"][-1] == {"role": "assistant", "content": answers[0]}


def test_a_lambda_that_raises_leaves_its_samples_unscored(aws_dummy_env: None) -> None:
    def broken(event: Any, context: Any) -> Any:
        raise RuntimeError("bedrock:InvokeModel denied")

    with LambdaServer(broken) as server:
        reward = NovaLambdaReward(function_arn="my-reward", endpoint_url=server.url)
        assert _trl_call(reward, ["a"], id=["q"]) == [None]


@pytest.mark.slow
def test_reward_nova_lambda_trains_two_steps_through_the_entry_point(tmp_path: Path) -> None:
    # rlaif's own handler as the local Nova function, its judge the packaged local model (no AWS).
    run_dir = tmp_path / "run"
    result = run_train(
        "debug=smoke",
        "reward=nova_lambda",
        f"hydra.run.dir={run_dir}",
        env={"RLAIF_NOVA_OVERRIDES": "judge=local reward=rubric"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [json.loads(line) for line in (run_dir / "rewards.jsonl").read_text().splitlines()]
    assert len(lines) == 2 * 4 and {line["reward"] for line in lines} == {"nova_lambda"}
    assert all(line["score"] is not None and 0 <= line["score"] <= 1 for line in lines)
    assert all("judge_error" in line["nova_metrics"] for line in lines)
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["steps"] == 2
