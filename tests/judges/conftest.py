"""Fixtures for the judge backend tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.judges._flaky_server import FlakyServer
from tests.judges.converse_server import ConverseServer, Reply

# -- OpenAI-compatible (rlaif/judges/backends/openai_compat.py) ----------------------------------------------


@pytest.fixture
def flaky() -> Iterator[Callable[..., FlakyServer]]:
    """Starts scripted OpenAI-compatible servers on 127.0.0.1 (see _flaky_server.py); stops them all."""
    servers: list[FlakyServer] = []

    def make(script: tuple[str, ...] = (), **kwargs: Any) -> FlakyServer:
        servers.append(FlakyServer(script, **kwargs).start())
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


# -- Bedrock (rlaif/judges/backends/bedrock.py) ------------------------------------------------------------

_AWS_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
)


@pytest.fixture
def aws_no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An AWS environment with a region and no credentials anywhere, and no network look-ups for them."""
    for name in _AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        empty = tmp_path / name.lower()
        empty.write_text("")
        monkeypatch.setenv(name, str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata probe off loopback
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def aws_dummy_env(aws_no_credentials: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy static credentials: boto3 signs requests as usual; only the fake server ever sees them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")


@pytest.fixture
def converse_server() -> Iterator[ConverseServer]:
    """A fake Bedrock Runtime speaking the Converse wire format on 127.0.0.1 (see converse_server.py)."""
    with ConverseServer() as server:
        yield server


@pytest.fixture
def converse_reply() -> type[Reply]:
    """The scripted-reply class of :func:`converse_server` (``ok``, ``error``, ``hang``)."""
    return Reply
