"""The Bedrock judge with real boto3 against a fake Bedrock Runtime on 127.0.0.1 (and one gated live call)."""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import rlaif
from rlaif.judges.backends.bedrock import BedrockTransport, _classify, bedrock_judge
from rlaif.judges.base import Judge
from rlaif.judges.protocol import JudgeRequest, PermanentJudgeError, TransientJudgeError
from rlaif.rewards.verdicts.choices import choice_distribution
from rlaif.rewards.verdicts.parsing import VerdictError

MODEL_ID = "us.amazon.nova-lite-v1:0"
YAML = Path(rlaif.__file__).parent / "conf" / "judge" / "bedrock.yaml"

# Tiny backoff and timeouts so every retry path runs in well under a second.
FAST_POLICY: dict[str, Any] = {
    "timeout_s": 5.0,
    "batch_deadline_s": 60.0,
    "max_retries": 3,
    "backoff_initial_s": 0.01,
    "backoff_max_s": 0.05,
    "backoff_jitter_s": 0.01,
    "max_concurrency": 4,
    "breaker_threshold": 100,
    "cache": False,
}
TRANSIENT = [
    "ThrottlingException",
    "ModelNotReadyException",
    "ModelTimeoutException",
    "ServiceUnavailableException",
    "InternalServerException",
]
PERMANENT = ["ValidationException", "AccessDeniedException", "ResourceNotFoundException"]


def ask(text: str = "Is Paris the capital of France?", **options: Any) -> JudgeRequest:
    return JudgeRequest.chat(
        [{"role": "system", "content": "You are a strict judge."}, {"role": "user", "content": text}], **options
    )


@pytest.fixture
def make_judge(aws_dummy_env: None, converse_server: Any) -> Iterator[Callable[..., Judge]]:
    judges: list[Judge] = []

    def make(*, model_id: str = MODEL_ID, structured_output: bool = False, **policy: Any) -> Judge:
        judge = bedrock_judge(
            model_id,
            endpoint_url=converse_server.url,
            policy={**FAST_POLICY, **policy},
            read_timeout_s=10.0,
            structured_output=structured_output,
        )
        judges.append(judge)
        return judge

    yield make
    for judge in judges:
        judge.close()


# -- the request on the wire, the reply parsed ---------------------------------------------------


def test_request_reaches_bedrock_in_converse_format(make_judge: Any, converse_server: Any, converse_reply: Any) -> None:
    converse_server.script(converse_reply.ok("PASS", input_tokens=42, output_tokens=7))
    messages = [
        {"role": "system", "content": "Rule one."},
        {"role": "system", "content": "Rule two."},
        {"role": "user", "content": "u1"},
        {"role": "user", "content": "u2"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "u3"},
    ]
    [response] = make_judge().generate([JudgeRequest.chat(messages, max_tokens=64, temperature=0.0)])

    assert response.ok, response.error
    assert (response.text, response.tokens_in, response.tokens_out, response.attempts) == ("PASS", 42, 7, 1)
    assert response.token_logprobs is None  # Converse has no log-probabilities
    [seen] = converse_server.requests
    assert seen.path == "/model/us.amazon.nova-lite-v1%3A0/converse"
    assert seen.model_id == MODEL_ID
    assert seen.signed and "authorization" not in {k.lower() for k in seen.headers}
    assert seen.body["system"] == [{"text": "Rule one."}, {"text": "Rule two."}]
    assert seen.body["messages"] == [
        {"role": "user", "content": [{"text": "u1\n\nu2"}]},
        {"role": "assistant", "content": [{"text": "a1"}]},
        {"role": "user", "content": [{"text": "u3"}]},
    ]
    assert seen.body["inferenceConfig"] == {"maxTokens": 64, "temperature": 0.0}
    assert "outputConfig" not in seen.body


def test_json_schema_instruction_reaches_the_server(make_judge: Any, converse_server: Any, converse_reply: Any) -> None:
    schema = {"type": "object", "properties": {"pass": {"type": "boolean"}}, "required": ["pass"]}
    converse_server.script(converse_reply.ok('{"pass": true}'))
    [response] = make_judge().generate([ask(json_schema=schema)])

    assert response.text == '{"pass": true}'
    system = " ".join(block["text"] for block in converse_server.requests[0].body["system"])
    assert "JSON Schema" in system and json.dumps(schema, indent=2, sort_keys=True) in system
    assert "outputConfig" not in converse_server.requests[0].body  # off by default: Nova rejects it


def test_structured_output_opt_in_sends_output_config(make_judge: Any, converse_server: Any) -> None:
    schema = {"type": "object", "properties": {"score": {"type": "integer"}}}
    make_judge(structured_output=True).generate([ask(json_schema=schema)])

    text_format = converse_server.requests[0].body["outputConfig"]["textFormat"]
    assert text_format["type"] == "json_schema"
    assert json.loads(text_format["structure"]["jsonSchema"]["schema"]) == schema


def test_choices_are_instructed_and_the_reply_returned_as_said(
    make_judge: Any, converse_server: Any, converse_reply: Any
) -> None:
    converse_server.script(converse_reply.ok(" **Yes.** "), converse_reply.ok("Probably yes"))
    judge = make_judge()
    # One request per call: scripted replies go out in arrival order, and a batch runs concurrently.
    [on_menu] = judge.generate([ask(choices=("yes", "no"))])
    [off_menu] = judge.generate([ask("other", choices=("yes", "no"))])

    # The transport moves text; the one verdict rule (rlaif.rewards.verdicts.choices) reads it.
    assert on_menu.text == " **Yes.** " and on_menu.token_logprobs is None
    assert choice_distribution(("yes", "no"), on_menu) == {"yes": 1.0, "no": 0.0}
    assert off_menu.text == "Probably yes"
    with pytest.raises(VerdictError, match="off-menu"):
        choice_distribution(("yes", "no"), off_menu)
    system = converse_server.requests[0].body["system"][-1]["text"]
    assert "exactly one of" in system and "- yes\n- no" in system


# -- retries: what is retried, how often --------------------------------------------------------


def test_throttled_twice_then_success(make_judge: Any, converse_server: Any, converse_reply: Any) -> None:
    converse_server.script(
        converse_reply.error("ThrottlingException"),
        converse_reply.error("ThrottlingException"),
        converse_reply.ok("fine"),
    )
    judge = make_judge()
    [response] = judge.generate([ask()])

    assert response.ok and response.text == "fine"
    assert response.attempts == 3
    assert converse_server.count() == 3  # botocore's own retries are off: one HTTP request per attempt
    assert judge.metrics.totals()["retries"] == 2


@pytest.mark.parametrize("code", TRANSIENT)
def test_each_retryable_code_is_retried(make_judge: Any, converse_server: Any, converse_reply: Any, code: str) -> None:
    converse_server.script(converse_reply.error(code), converse_reply.ok("recovered"))
    [response] = make_judge().generate([ask()])

    assert (response.ok, response.text, response.attempts, converse_server.count()) == (True, "recovered", 2, 2)


def test_lowercase_throttling_code_is_retried_whatever_the_status(
    make_judge: Any, converse_server: Any, converse_reply: Any
) -> None:
    converse_server.script(converse_reply.error("throttlingException", status=400))
    [response] = make_judge().generate([ask()])

    assert response.attempts == 2 and converse_server.count() == 2 and response.ok


def test_retries_stop_at_the_policy_limit(make_judge: Any, converse_server: Any, converse_reply: Any) -> None:
    converse_server.script(*[converse_reply.error("ServiceUnavailableException")] * 5)
    [response] = make_judge(max_retries=1).generate([ask()])

    assert not response.ok and response.attempts == 2 and converse_server.count() == 2
    assert response.error is not None and "TransientJudgeError" in response.error
    assert "ServiceUnavailableException" in response.error


@pytest.mark.parametrize("code", PERMANENT)
def test_permanent_errors_are_not_retried(
    make_judge: Any, converse_server: Any, converse_reply: Any, code: str
) -> None:
    converse_server.script(converse_reply.error(code, message="nope"))
    [response] = make_judge().generate([ask()])

    assert not response.ok and response.attempts == 1 and converse_server.count() == 1
    assert response.error is not None and code in response.error and "PermanentJudgeError" in response.error


def test_a_hang_is_cut_by_the_policy_timeout_and_retried(
    make_judge: Any, converse_server: Any, converse_reply: Any
) -> None:
    converse_server.script(converse_reply.hang(30), converse_reply.ok("second try"))
    # The timeout must also let the healthy second attempt finish: 0.3 s was too short for a loaded
    # 2-core CI machine (the retry timed out too and the test read the server's default reply).
    [response] = make_judge(timeout_s=2.0).generate([ask()])

    assert response.ok and response.text == "second try"
    assert response.attempts == 2 and converse_server.count() == 2


def test_a_judge_that_keeps_hanging_fails_with_a_timeout(
    make_judge: Any, converse_server: Any, converse_reply: Any
) -> None:
    converse_server.script(*[converse_reply.hang(30)] * 3)
    [response] = make_judge(timeout_s=0.3, max_retries=1).generate([ask()])

    assert not response.ok and response.attempts == 2
    assert response.error is not None and "no answer within" in response.error


def test_the_breaker_fails_fast(make_judge: Any, converse_server: Any, converse_reply: Any) -> None:
    converse_server.script(*[converse_reply.error("InternalServerException")] * 5)
    judge = make_judge(max_retries=0, breaker_threshold=2, breaker_cooldown_s=60.0)
    first = judge.generate([ask("one")])[0]
    second = judge.generate([ask("two")])[0]
    third = judge.generate([ask("three")])[0]

    assert "InternalServerException" in (first.error or "") and "InternalServerException" in (second.error or "")
    assert third.error is not None and third.error.startswith("CircuitOpenError")
    assert converse_server.count() == 2  # the third request never left the process


# -- credentials, configuration, pickling ---------------------------------------------------------


def test_missing_credentials_is_a_clear_permanent_error(aws_no_credentials: None, converse_server: Any) -> None:
    judge = bedrock_judge(MODEL_ID, endpoint_url=converse_server.url, policy=FAST_POLICY)
    try:
        [response] = judge.generate([ask()])
    finally:
        judge.close()

    assert not response.ok and response.attempts == 1 and converse_server.count() == 0
    assert response.error is not None and "PermanentJudgeError" in response.error
    assert "AWS_ACCESS_KEY_ID" in response.error and "profile" in response.error


def test_pickled_judge_works_after_use(make_judge: Any, converse_server: Any) -> None:
    judge = make_judge()
    assert judge.generate([ask("before")])[0].ok  # the live client exists now
    clone = pickle.loads(pickle.dumps(judge))
    try:
        assert isinstance(clone.transport, BedrockTransport) and clone.transport._client is None
        assert clone.identity == judge.identity == f"bedrock:us-east-1:{MODEL_ID}"
        assert clone.generate([ask("after")])[0].ok
    finally:
        clone.close()
    assert converse_server.count() == 2


def test_botocore_errors_are_classified() -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError, ReadTimeoutError

    def client_error(code: str, status: int) -> ClientError:
        return ClientError(
            {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Converse"
        )

    assert isinstance(_classify(client_error("SomethingNew", 502), "m"), TransientJudgeError)
    assert isinstance(_classify(client_error("SomethingNew", 429), "m"), TransientJudgeError)
    assert isinstance(_classify(client_error("ModelErrorException", 424), "m"), PermanentJudgeError)
    assert isinstance(_classify(client_error("ValidationException", 500), "m"), PermanentJudgeError)
    assert isinstance(_classify(EndpointConnectionError(endpoint_url="http://x"), "m"), TransientJudgeError)
    assert isinstance(_classify(ReadTimeoutError(endpoint_url="http://x"), "m"), TransientJudgeError)
    assert isinstance(_classify(ParamValidationError(report="bad"), "m"), PermanentJudgeError)
    assert _classify(ValueError("not botocore"), "m") is None


def test_yaml_instantiates_offline() -> None:
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    assert YAML.read_text().startswith("# python -m rlaif.train judge=bedrock")
    cfg = OmegaConf.load(YAML)
    cfg.model_id = "us.amazon.nova-pro-v1:0"
    judge = instantiate(cfg, _convert_="all")
    try:
        assert isinstance(judge, Judge) and isinstance(judge.transport, BedrockTransport)
        assert "us.amazon.nova-pro-v1:0" in judge.identity
        assert judge.policy.max_concurrency == cfg.policy.max_concurrency
        assert judge.transport._client is None  # nothing was contacted
    finally:
        judge.close()


# -- live ----------------------------------------------------------------------------------------


@pytest.mark.live
def test_live_bedrock_converse() -> None:
    model_id = os.environ.get("RLAIF_BEDROCK_MODEL_ID")
    if not model_id:
        pytest.skip("set RLAIF_BEDROCK_MODEL_ID (and AWS credentials) to call Bedrock for real")
    import boto3

    if boto3.session.Session().get_credentials() is None:
        pytest.skip("no AWS credentials in the environment or the standard chain")
    judge = bedrock_judge(model_id, policy={"max_retries": 2, "timeout_s": 60.0, "cache": False})
    try:
        [response] = judge.generate([ask("Answer with one word: what is the capital of France?", max_tokens=16)])
    finally:
        judge.close()
    assert response.ok, response.error
    assert response.text and response.tokens_out > 0
