"""The fake Bedrock Runtime and AWS environment fixtures of tests/judges, for the Nova tests."""

from __future__ import annotations

from tests.judges.conftest import aws_dummy_env, aws_no_credentials, converse_reply, converse_server

__all__ = ["aws_dummy_env", "aws_no_credentials", "converse_reply", "converse_server"]
