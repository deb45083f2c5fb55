"""The fake Bedrock Runtime and AWS environment fixtures of tests/judges, for the Nova tests."""

from __future__ import annotations

try:  # tests/ as a package or as rootdir-relative modules: either pytest import mode works
    from tests.judges.conftest import aws_dummy_env, aws_no_credentials, converse_reply, converse_server
except ImportError:  # pragma: no cover
    from judges.conftest import aws_dummy_env, aws_no_credentials, converse_reply, converse_server  # type: ignore[no-redef]

__all__ = ["aws_dummy_env", "aws_no_credentials", "converse_reply", "converse_server"]
