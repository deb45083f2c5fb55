"""The Nova reward Lambda with ``reward=row_rubric``: each sample graded against the rubric it carries, through
the real handler, real boto3 and a loopback Bedrock Converse server; the same verdicts as a training row.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rlaif.data.loaders import load_prompts
from rlaif.nova import lambda_handler
from rlaif.nova.lambda_handler import build_grader, handler
from tests.judges.converse_server import ConverseServer, RecordedRequest, Reply
from tests.nova.payloads import request_text

QUESTION = "What is the capital of Japan?"
# One item of each published shape: RaR (5 points), a HealthBench pitfall (-5), a plain string (1), a NeMo Gym
# question met when the answer is NO (2). Positive points: 8.
RUBRIC: list[Any] = [
    {"title": "Names the city", "description": "The answer names Tokyo as the capital.", "weight": 5},
    {"criterion": "The answer says Kyoto is the capital.", "points": -5, "tags": ["axis:accuracy"]},
    "The answer is one sentence.",
    {"question": "Does the answer apologise?", "pass_criteria": "NO", "weight": 2},
]
# answer -> score by HealthBench's rule over the judge below
EXPECTED = {
    "Tokyo.": 1.0,  # 5 + 1 + 2
    "Tokyo, sorry.": 0.75,  # 5 + 1
    "Kyoto or Tokyo.": 0.375,  # 5 - 5 + 1 + 2
    "Sorry. Kyoto is the capital.": 0.0,  # -5, clipped
}
OVERRIDES = (
    "reward=row_rubric",
    "judge.model_id=us.amazon.nova-pro-v1:0",
    "judge.policy.backoff_initial_s=0.01",
    "judge.policy.backoff_jitter_s=0",
)


def judge_reply(text: str) -> str:
    """A judge that answers each item's yes/no question from the fenced answer."""
    answer = re.findall(r"<answer>\n(.*?)\n</answer>", text, re.DOTALL)[-1].lower()
    if "names Tokyo" in text:
        met = "tokyo" in answer
    elif "says Kyoto" in text:
        met = "kyoto" in answer
    elif "one sentence" in text:
        met = answer.count(".") <= 1
    elif "apologise" in text:
        met = "sorry" in answer
    else:
        raise AssertionError(f"not an item request: {text[-200:]!r}")
    return "yes" if met else "no"


@pytest.fixture
def row_lambda(
    monkeypatch: pytest.MonkeyPatch, aws_dummy_env: None, converse_server: ConverseServer
) -> Iterator[ConverseServer]:
    """The deployed Lambda's set-up (RLAIF_NOVA_OVERRIDES) with reward=row_rubric, judging on the loopback server."""
    monkeypatch.setenv("RLAIF_NOVA_OVERRIDES", f"judge.endpoint_url={converse_server.url} " + " ".join(OVERRIDES))
    monkeypatch.setattr(lambda_handler, "_grader", None)

    def respond(request: RecordedRequest) -> Reply:
        return Reply(text=judge_reply(request_text(request.body)))

    converse_server.responder = respond
    yield converse_server


def _sample(sample_id: str, answer: str, rubric: Any = RUBRIC, where: str = "metadata") -> dict[str, Any]:
    sample: dict[str, Any] = {
        "id": sample_id,
        "messages": [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": answer}],
    }
    if where == "metadata":  # Bedrock RFT: custom fields under metadata
        sample["metadata"] = {"rubric": rubric, "my_key": "x"}
    elif where == "root":  # SageMaker: custom fields at the root
        sample["rubric"] = rubric
    return sample


def _metrics(result: dict[str, Any]) -> dict[str, tuple[float, str]]:
    return {m["name"]: (m["value"], m["type"]) for m in result["metrics_list"]}


def test_each_sample_is_graded_against_its_own_rubric_with_per_item_metrics(row_lambda: ConverseServer) -> None:
    answers = list(EXPECTED)
    event = [_sample(f"s{k}", a, where="metadata" if k % 2 else "root") for k, a in enumerate(answers)]
    # A sample whose rubric is only its first item: the same answer scores by that rubric, not the others'.
    event.append(_sample("own", "Kyoto or Tokyo.", rubric=RUBRIC[:1]))
    results = handler(json.loads(json.dumps(event)), None)

    assert [r["id"] for r in results] == [*(f"s{k}" for k in range(4)), "own"]
    scores = [r["aggregate_reward_score"] for r in results]
    assert scores == pytest.approx([*EXPECTED.values(), 1.0])
    sorry = _metrics(results[1])  # "Tokyo, sorry.": the city named, one sentence, but an apology
    assert sorry["row_rubric"] == (0.75, "Reward")
    assert {k: v for k, v in sorry.items() if k.startswith("item/")} == {
        "item/i0": (1.0, "Metric"),
        "item/i1": (0.0, "Metric"),
        "item/i2": (1.0, "Metric"),
        "item/i3": (0.0, "Metric"),
    }
    assert sorry["top_items/met_rate"] == (1.0, "Metric") and sorry["pitfalls/met_rate"] == (0.0, "Metric")
    assert sorry["items_per_answer"] == (4.0, "Metric") and sorry["judge_error"] == (0.0, "Metric")
    assert _metrics(results[3])["pitfalls/met_rate"] == (1.0, "Metric")  # the Kyoto answer did the bad thing
    own = _metrics(results[4])
    assert sorted(k for k in own if k.startswith("item/")) == ["item/i0"] and "pitfalls/met_rate" not in own
    assert row_lambda.count() == 4 * 4  # one request per item ("own"'s one item is s2's first: sent once)


def test_a_sample_without_a_usable_rubric_is_a_named_error_never_a_grade(
    row_lambda: ConverseServer, caplog: pytest.LogCaptureFixture
) -> None:
    bad = {
        "no-rubric": _sample("no-rubric", "Tokyo.", where="none"),
        "empty": _sample("empty", "Tokyo.", rubric=[]),
        "no-text": _sample("no-text", "Tokyo.", rubric=[{"title": "t", "description": " ", "weight": 1}]),
        "weight": _sample("weight", "Tokyo.", rubric=["ok", {"criterion": "c", "points": "heavy", "tags": []}]),
        "pitfalls": _sample("pitfalls", "Tokyo.", rubric=[RUBRIC[1]], where="root"),
        "not-json": _sample("not-json", "Tokyo.", rubric="names Tokyo", where="root"),
    }
    event = [_sample("good-1", "Tokyo."), *bad.values(), _sample("good-2", "Tokyo, sorry.")]
    with caplog.at_level("ERROR", logger="rlaif.nova"):
        results = handler(json.loads(json.dumps(event)), None)

    assert [r["id"] for r in results] == ["good-1", *bad, "good-2"]
    assert [results[0]["aggregate_reward_score"], results[-1]["aggregate_reward_score"]] == [1.0, 0.75]
    for result in results[1:-1]:  # the contract's malformed-sample shape: no Reward metric, an error Metric
        assert result["aggregate_reward_score"] == 0.0 and _metrics(result) == {"error": (1.0, "Metric")}
    logged = caplog.text
    assert "sample[1] (id 'no-rubric'): missing field 'rubric' (at the root or under 'metadata')" in logged
    assert "sample[2] (id 'empty'): rubric: the rubric is empty" in logged
    assert "sample[3] (id 'no-text'): rubric[0].description: an item with no text" in logged
    assert "sample[4] (id 'weight'): rubric[1].points: expected a number, got 'heavy'" in logged
    assert "sample[5] (id 'pitfalls'): rubric: no item has positive points" in logged
    assert "sample[6] (id 'not-json'): rubric: the rubric is text but not a JSON list of items" in logged
    assert row_lambda.count() == 2 * 4  # only the good samples reached the judge


def test_a_training_row_and_a_lambda_sample_with_the_same_rubric_get_the_same_score(
    row_lambda: ConverseServer, tmp_path: Path
) -> None:
    """The same rubric, answers and judge: the Lambda's scores and requests are the TRL reward's on a training row
    read from a Nova JSONL file (rubric under metadata), as ``python -m rlaif.train reward=row_rubric`` reads it."""
    answers = list(EXPECTED)
    lambda_scores = [r["aggregate_reward_score"] for r in handler([_sample(f"s{k}", a) for k, a in enumerate(answers)])]
    lambda_requests = sorted(request_text(r.body) for r in row_lambda.requests)

    data = tmp_path / "rows.jsonl"
    data.write_text(
        json.dumps({"id": "q1", "messages": [{"role": "user", "content": QUESTION}], "metadata": {"rubric": RUBRIC}})
        + "\n"
    )
    row = load_prompts(str(data), shuffle=False)[0]
    reward = build_grader([f"judge.endpoint_url={row_lambda.url}", *OVERRIDES]).reward
    row_lambda.requests.clear()
    n = len(answers)
    trl_scores = asyncio.run(
        reward(
            [row["prompt"]] * n,
            [[{"role": "assistant", "content": a}] for a in answers],
            reference_answer=[row["reference_answer"]] * n,
            extra=[row["extra"]] * n,
            id=[row["id"]] * n,
        )
    )
    assert lambda_scores == pytest.approx(trl_scores) and trl_scores == pytest.approx(list(EXPECTED.values()))
    assert sorted(request_text(r.body) for r in row_lambda.requests) == lambda_requests


def test_reward_nova_lambda_sends_a_training_rows_rubric_to_the_lambda(
    row_lambda: ConverseServer, tmp_path: Path
) -> None:
    """``reward=nova_lambda`` with rlaif's own handler: a training row's rubric (its extra fields, at the sample's
    root) reaches the Lambda, which grades against it and reports its items."""
    from rlaif.nova.lambda_reward import NovaLambdaReward

    data = tmp_path / "rows.jsonl"
    data.write_text(
        json.dumps({"id": "q1", "messages": [{"role": "user", "content": QUESTION}], "rubric": RUBRIC}) + "\n"
    )
    row = load_prompts(str(data), shuffle=False)[0]
    answers = list(EXPECTED)
    n = len(answers)
    logged: dict[str, float] = {}
    scores = asyncio.run(
        NovaLambdaReward(function=handler)(
            [row["prompt"]] * n,
            [[{"role": "assistant", "content": a}] for a in answers],
            reference_answer=[row["reference_answer"]] * n,
            extra=[row["extra"]] * n,
            id=[row["id"]] * n,
            log_metric=lambda name, value: logged.__setitem__(name, value),
        )
    )
    assert scores == pytest.approx(list(EXPECTED.values()))
    assert logged["nova_lambda/metric/item/i0"] == pytest.approx(3 / 4)  # Tokyo named in 3 of the 4 answers
    assert logged["nova_lambda/metric/pitfalls/met_rate"] == pytest.approx(2 / 4)
