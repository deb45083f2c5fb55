"""The pre-flight check: one real request before training, a clear error in seconds when it fails."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest

from rlaif.judges.backends.bedrock import bedrock_judge
from rlaif.judges.backends.openai_compat import openai_judge
from rlaif.judges.preflight import JudgeUnavailableError, check_judge
from tests._entry_point import run_train
from tests.judges._flaky_server import FlakyServer

# The engine's own limits are deliberately slow (many retries, long backoff): the probe must not use them.
SLOW_POLICY: dict[str, Any] = {"timeout_s": 5.0, "max_retries": 6, "backoff_initial_s": 30.0, "cache": False}


@pytest.mark.timeout(30)
def test_a_transient_error_gets_one_retry_then_the_judge_passes() -> None:
    with FlakyServer(script=["503"]) as server:
        judge = openai_judge(base_url=server.url, policy=SLOW_POLICY)
        try:
            assert check_judge(judge) >= 0.0
        finally:
            judge.close()
        assert server.hits == 2
        assert server.bodies[0]["max_completion_tokens"] == 1 and server.bodies[0]["logprobs"] is True


@pytest.mark.timeout(30)
def test_nothing_listening_fails_fast_without_the_engine_backoff() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    judge = openai_judge(base_url=url, policy=SLOW_POLICY)
    try:
        with pytest.raises(JudgeUnavailableError) as info:
            check_judge(judge)
    finally:
        judge.close()
    message = str(info.value)
    assert f"openai:{url}:judge did not answer" in message and "APIConnectionError" in message
    assert "scripts/serve_judge_vllm.sh start" in message
    assert judge.metrics.totals()["requests"] == 0  # the probe is not a training request


@pytest.mark.timeout(30)
def test_a_permanent_error_is_not_retried() -> None:
    with FlakyServer(script=["400"]) as server:
        judge = openai_judge(base_url=server.url, policy=SLOW_POLICY)
        try:
            with pytest.raises(JudgeUnavailableError, match="HTTP 400"):
                check_judge(judge)
        finally:
            judge.close()
        assert server.hits == 1


@pytest.mark.timeout(30)
def test_bedrock_honours_aws_region(aws_dummy_env: None, converse_server: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")  # boto3 alone would find no region: only AWS_REGION is set
    judge = bedrock_judge(endpoint_url=converse_server.url, policy={"cache": False})
    try:
        check_judge(judge)
    finally:
        judge.close()
    assert converse_server.count() == 1


@pytest.mark.timeout(30)
def test_bedrock_without_a_region_names_every_place_to_set_one(aws_dummy_env: None, monkeypatch: Any) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION")
    judge = bedrock_judge(policy={"cache": False})
    try:
        with pytest.raises(JudgeUnavailableError) as info:
            check_judge(judge)
    finally:
        judge.close()
    assert "judge.region, AWS_REGION or AWS_DEFAULT_REGION" in str(info.value)


@pytest.mark.timeout(120)
def test_train_without_aws_credentials_stops_before_training(
    aws_no_credentials: None, converse_server: Any, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    result = run_train(
        "judge=bedrock",
        f"judge.endpoint_url={converse_server.url}",
        "grpo.max_steps=1",
        f"hydra.run.dir={run_dir}",
        env={k: v for k, v in os.environ.items() if k.startswith("AWS_")},
        timeout=100,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "no AWS credentials found for Bedrock" in output and "AWS_ACCESS_KEY_ID" in output
    assert converse_server.count() == 0 and not (run_dir / "runs").exists()
