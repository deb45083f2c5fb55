"""The Nova reward Lambda handler with real boto3 against a loopback Bedrock Converse endpoint.

The handler is built the way the deployed Lambda builds it: from ``RLAIF_NOVA_OVERRIDES`` (the Bedrock judge
by default, here pointed at the loopback server with ``judge.endpoint_url``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from rlaif.nova import lambda_handler
from rlaif.nova.contract import SampleError, parse_sample
from rlaif.nova.lambda_handler import NovaConfigError, build_grader, handler
from rlaif.rewards.failures import JudgeFailureError
from tests.judges.converse_server import ConverseServer, RecordedRequest, Reply
from tests.nova.payloads import LONG, POLITE_SHORT, SHAPES, bedrock_sample, judge_reply, request_text

FAST_RETRIES = (
    "judge.policy.backoff_initial_s=0.01",
    "judge.policy.backoff_max_s=0.05",
    "judge.policy.backoff_jitter_s=0",
)


def _judging(server: ConverseServer, delay_s: float = 0.0) -> ConverseServer:
    def respond(request: RecordedRequest) -> Reply:
        return Reply(text=judge_reply(request_text(request.body)), hang_s=delay_s)

    server.responder = respond
    return server


@pytest.fixture
def lambda_env(
    monkeypatch: pytest.MonkeyPatch, aws_dummy_env: None, converse_server: ConverseServer
) -> Iterator[ConverseServer]:
    """RLAIF_NOVA_OVERRIDES as a deployment sets it, pointed at the loopback server; a cold container."""
    overrides = f"judge.endpoint_url={converse_server.url} judge.model_id=us.amazon.nova-pro-v1:0 " + " ".join(
        FAST_RETRIES
    )
    monkeypatch.setenv("RLAIF_NOVA_OVERRIDES", overrides)
    monkeypatch.setattr(lambda_handler, "_grader", None)
    yield converse_server


def _scores(results: list[dict[str, Any]]) -> dict[str, float]:
    return {r["id"]: r["aggregate_reward_score"] for r in results}


def _metrics(result: dict[str, Any]) -> dict[str, tuple[float, str]]:
    return {m["name"]: (m["value"], m["type"]) for m in result["metrics_list"]}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_each_documented_shape_is_scored_in_order_with_ids_echoed(lambda_env: ConverseServer, shape: str) -> None:
    _judging(lambda_env)
    make = SHAPES[shape]
    event = [make("s-polite", POLITE_SHORT), make("s-long", LONG), make("s-plain", "No security team here.")]
    results = handler(json.loads(json.dumps(event)), None)

    assert [r["id"] for r in results] == ["s-polite", "s-long", "s-plain"]
    assert _scores(results) == pytest.approx({"s-polite": 1.0, "s-long": 0.0, "s-plain": 0.8})
    for result in results:
        assert set(result) == {"id", "aggregate_reward_score", "metrics_list"}
        assert 0.0 <= result["aggregate_reward_score"] <= 1.0
        for item in result["metrics_list"]:
            assert set(item) == {"name", "value", "type"} and item["type"] in ("Reward", "Metric")
            assert isinstance(item["value"], float)
    metrics = _metrics(results[0])
    assert metrics["rubric_on_topic"] == (1.0, "Reward")  # the training default reward, by name
    assert metrics["criterion/polite"] == (1.0, "Metric") and metrics["criterion/concise"] == (1.0, "Metric")
    assert (
        metrics["check/on_topic"] == (1.0, "Metric")
        and metrics["check/non_empty"][1] == "Metric"
        and metrics["judge_error"] == (0.0, "Metric")
    )
    # The reference stays out of the everyday rubric's requests (show_reference: false), as in training.
    assert all("traditional security team" not in request_text(r.body) for r in lambda_env.requests)
    assert {r.model_id for r in lambda_env.requests} == {"us.amazon.nova-pro-v1:0"}


def test_one_invocations_judge_calls_run_concurrently(lambda_env: ConverseServer) -> None:
    # Each reply held 1.5 s: a concurrent client has all its calls out well within it even on a loaded machine (with
    # 0.3 s, 7 of the 12 were once in flight beside another worker's training); a sequential one still has 1.
    _judging(lambda_env, delay_s=1.5)
    # 6 different answers x 2 criteria (identical requests would be sent once)
    event = [bedrock_sample(f"s{i}", f"Thanks: no security team, answer {i}.") for i in range(6)]
    results = handler(event, None)
    assert _scores(results) == pytest.approx({f"s{i}": 1.0 for i in range(6)})
    assert lambda_env.count() == 12 and lambda_env.max_in_flight >= 8  # judge.policy.max_concurrency: 16


def test_throttling_is_retried_and_the_scores_are_unchanged(lambda_env: ConverseServer) -> None:
    _judging(lambda_env)
    lambda_env.script(*[Reply.error("ThrottlingException")] * 3)
    results = handler([bedrock_sample("a", POLITE_SHORT), bedrock_sample("b", LONG)], None)
    assert _scores(results) == pytest.approx({"a": 1.0, "b": 0.0})
    assert all(_metrics(r)["judge_error"][0] == 0.0 for r in results)
    assert lambda_env.count() == 4 + 3  # every throttled call was sent again


def test_a_malformed_sample_is_named_and_isolated(lambda_env: ConverseServer, caplog: pytest.LogCaptureFixture) -> None:
    _judging(lambda_env)
    no_answer = bedrock_sample("no-answer", POLITE_SHORT)
    no_answer["messages"] = no_answer["messages"][:1]
    event = [
        bedrock_sample("good-1", POLITE_SHORT),
        {"id": "no-messages"},
        no_answer,
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hi"}]},
        42,
        {"id": "bad-type", "messages": "not a list"},
        bedrock_sample("good-2", LONG),
    ]
    with caplog.at_level("ERROR", logger="rlaif.nova"):
        results = handler(event, None)

    assert [r["id"] for r in results] == [
        "good-1", "no-messages", "no-answer", "sample[3]", "sample[4]", "bad-type", "good-2"
    ]  # fmt: skip
    assert _scores(results)["good-1"] == 1.0 and _scores(results)["good-2"] == 0.0
    for bad in results[1:6]:
        assert bad["aggregate_reward_score"] == 0.0 and _metrics(bad) == {"error": (1.0, "Metric")}
    assert "sample[1] (id 'no-messages'): missing field 'messages'" in caplog.text
    assert "sample[2] (id 'no-answer'): messages[0] has role 'user'; the last message must be" in caplog.text
    assert "sample[3]: missing field 'id'" in caplog.text
    assert "sample[4]: expected a JSON object, got int" in caplog.text
    assert "sample[5] (id 'bad-type'): field 'messages' must be a non-empty list" in caplog.text
    assert lambda_env.count() == 4  # only the two good samples reached the judge


def test_a_judge_failure_is_the_explicit_neutral_score_counted_as_a_metric(lambda_env: ConverseServer) -> None:
    lambda_env.responder = lambda request: Reply.error("AccessDeniedException")  # not retryable
    results = handler([bedrock_sample("a", POLITE_SHORT)], None)
    assert results[0]["aggregate_reward_score"] == 0.5
    assert _metrics(results[0])["judge_error"] == (1.0, "Metric")


def test_on_judge_error_raise_fails_the_whole_invocation(lambda_env: ConverseServer) -> None:
    lambda_env.responder = lambda request: Reply.error("AccessDeniedException")
    grader = build_grader(
        [f"judge.endpoint_url={lambda_env.url}", *FAST_RETRIES, "reward.failures.on_judge_error=raise"]
    )
    with pytest.raises(JudgeFailureError, match="AccessDeniedException"):
        grader.score([bedrock_sample("a", POLITE_SHORT)])


def test_on_judge_error_none_is_refused_because_nova_needs_a_number(lambda_env: ConverseServer) -> None:
    with pytest.raises(NovaConfigError, match=r"on_judge_error=none: Nova needs a number"):
        build_grader([f"judge.endpoint_url={lambda_env.url}", "reward.failures.on_judge_error=none"])
    with pytest.raises(NovaConfigError, match="does not grade one answer at a time"):
        build_grader([f"judge.endpoint_url={lambda_env.url}", "reward=preference"])


def test_a_warm_container_reuses_its_grader(lambda_env: ConverseServer) -> None:
    _judging(lambda_env)
    handler([bedrock_sample("a", POLITE_SHORT)], None)
    first = lambda_handler._grader
    handler([bedrock_sample("b", POLITE_SHORT)], None)
    assert first is not None and lambda_handler._grader is first


def test_verdict_parity_with_the_trl_reward_of_the_same_config(lambda_env: ConverseServer) -> None:
    """The same config and answers: the Lambda's scores are the TRL reward's scores."""
    _judging(lambda_env)
    answers = [POLITE_SHORT, LONG, "No security team here.", "Thanks! No, none at all for security.", ""]
    event = [bedrock_sample(f"s{i}", a) for i, a in enumerate(answers)]
    lambda_scores = [r["aggregate_reward_score"] for r in handler(event, None)]

    # The TRL side: the reward object training builds from the same overrides, called as TRL calls it.
    reward = build_grader(
        [f"judge.endpoint_url={lambda_env.url}", "judge.model_id=us.amazon.nova-pro-v1:0", *FAST_RETRIES]
    ).reward
    samples = [parse_sample(s, i) for i, s in enumerate(event)]
    completions = [[{"role": "assistant", "content": s.answer}] for s in samples]
    trl_scores = asyncio.run(
        reward(
            [s.prompt for s in samples],
            completions,
            reference_answer=[json.dumps(s.reference) for s in samples],
            id=[s.id for s in samples],
        )
    )
    assert lambda_scores == pytest.approx(trl_scores) and len(set(lambda_scores)) >= 3


def test_a_terse_correct_answer_passes_the_on_topic_gate_by_the_reference(lambda_env: ConverseServer) -> None:
    """Issue 16: "Tokyo." names no word of "What is the capital of Japan?"; the sample's reference lets it by."""
    _judging(lambda_env)

    def sample(sample_id: str, reference: str | None) -> dict[str, Any]:
        messages = [
            {"role": "user", "content": "What is the capital of Japan?"},
            {"role": "assistant", "content": "Tokyo."},
        ]
        return {"id": sample_id, "messages": messages, **({"reference_answer": reference} if reference else {})}

    results = handler([sample("with-ref", "Tokyo."), sample("no-ref", None)], None)
    assert _scores(results) == pytest.approx({"with-ref": 0.8, "no-ref": 0.0})  # short, no thanks: 0.8
    assert _metrics(results[0])["check/on_topic"] == (1.0, "Metric")
    assert _metrics(results[1])["check/on_topic"] == (0.0, "Metric")


def test_a_jury_grades_in_the_lambda(lambda_env: ConverseServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """``judge=jury`` in RLAIF_NOVA_OVERRIDES: two Bedrock members (two models) on the loopback server, each asked
    every question; the verdicts combine as in training (docs/jury.md)."""
    _judging(lambda_env)
    member = (
        "{{name:{name},_target_:rlaif.judges.backends.bedrock.bedrock_judge,endpoint_url:'{url}',"
        "model_id:'{model}',policy:{{cache:false,backoff_initial_s:0.01}}}}"
    )
    members = ",".join(
        member.format(name=name, url=lambda_env.url, model=model)
        for name, model in (("pro", "us.amazon.nova-pro-v1:0"), ("lite", "us.amazon.nova-lite-v1:0"))
    )
    monkeypatch.setenv("RLAIF_NOVA_OVERRIDES", f'judge=jury "judge.members=[{members}]"')
    results = handler([bedrock_sample("a", POLITE_SHORT), bedrock_sample("b", LONG)], None)
    assert _scores(results) == pytest.approx({"a": 1.0, "b": 0.0})
    assert all(_metrics(r)["judge_error"][0] == 0.0 for r in results)
    # Each of the 2 answers x 2 criteria was asked of both members.
    assert (
        sorted(r.model_id for r in lambda_env.requests)
        == ["us.amazon.nova-lite-v1:0"] * 4 + ["us.amazon.nova-pro-v1:0"] * 4
    )


def _multi_turn(sample_id: str, with_tools: bool) -> dict[str, Any]:
    """A Nova 2.0 RFT sample in its OpenAI conversational format: assistant turns with ``tool_calls`` (arguments as
    JSON text), ``tool`` results by ``tool_call_id``, the final answer last."""
    call = {"id": "c1", "type": "function", "function": {"name": "calculator", "arguments": '{"expression": "17*23"}'}}
    bad = {"id": "c2", "type": "function", "function": {"name": "convert", "arguments": '{"unit": "parsec"}'}}
    tool_turns = [
        {"role": "assistant", "content": "Let me compute.", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "391 " + "x" * 2500},
        {"role": "assistant", "content": None, "tool_calls": [bad]},
        {"role": "tool", "tool_call_id": "c2", "content": "{'error': 'unknown unit: parsec'}"},
    ]
    return {
        "id": sample_id,
        "messages": [
            {"role": "system", "content": "You can use a calculator."},
            {"role": "user", "content": "What is 17 times 23?"},
            *(tool_turns if with_tools else []),
            {"role": "assistant", "content": "17 times 23 is 391."},
        ],
    }


def test_a_multi_turn_tool_using_sample_is_judged_as_a_whole_transcript(lambda_env: ConverseServer) -> None:
    """Issue 30: several assistant and tool turns through the Lambda; the judge reads every call and result (cut,
    marked), the checks the final answer; the sample's tool calls and errors come back as metrics."""

    def respond(request: RecordedRequest) -> Reply:
        text = request_text(request.body)
        if text.startswith("Is the answer polite"):  # here: did it show its work with the calculator?
            return Reply(text="yes" if "<tool_call>\ncalculator(" in text else "no")
        return Reply(text="no")

    lambda_env.responder = respond
    results = handler([_multi_turn("tools", True), _multi_turn("plain", False)], None)
    assert _scores(results) == pytest.approx({"tools": 1.0, "plain": 0.8})
    metrics = _metrics(results[0])
    assert metrics["tools/calls"] == (2.0, "Metric") and metrics["tools/errors"] == (1.0, "Metric")
    assert "tools/calls" not in _metrics(results[1])
    seen = [request_text(r.body) for r in lambda_env.requests if "<tool_call>" in request_text(r.body)]
    assert seen and all(
        "calculator: 391 " in t
        and "[... 504 more characters cut]" in t  # 2504 characters, cut to reward.max_tool_chars' 2000
        and "convert: {'error': 'unknown unit: parsec'}" in t
        and "<final_answer>\n17 times 23 is 391.\n</final_answer>" in t
        for t in seen
    )
    unfinished = _multi_turn("cut", True)
    unfinished["messages"].pop()  # ends on a tool result: no final answer to grade
    with pytest.raises(SampleError, match=r"sample\[0\] \(id 'cut'\): the last message must be the policy's final"):
        parse_sample(unfinished, 0)
