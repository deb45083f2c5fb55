"""Secrets never reach the saved config or the logs (unit level; the entry-point test is in test_train)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from rlaif.runs.secrets import MASK, RedactingFilter, looks_secret, redact_saved_config, secret_values


def test_secret_values_from_config_and_environment() -> None:
    cfg = OmegaConf.create(
        {
            "judge": {
                "api_key_env": "MY_KEY_VAR",  # a variable's name, not a secret
                "launch": {"env": {"HF_TOKEN": "hf_abcdefgh", "VLLM_CPU_KVCACHE_SPACE": "1", "X": "plainvalue"}},
                "headers": {"Authorization": "Bearer s3cr3t-value"},
                "from_env": {"token": "${oc.env:HF_TOKEN}"},  # an interpolation stays unresolved: not a secret
            },
            "auth": {"api_key_env": "MY_SERVE_KEY", "key": "literal-key"},  # rlaif.serve: a name under auth
            "seed": 0,
        }
    )
    environ = {"OPENAI_API_KEY": "sk-live-123456789", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI", "HOME": "/root"}
    found = secret_values(cfg, environ)
    assert found == {
        *("hf_abcdefgh", "plainvalue", "Bearer s3cr3t-value", "literal-key", "sk-live-123456789", "wJalrXUtnFEMI"),
    }
    assert not looks_secret("api_key_env") and looks_secret("AWS_ACCESS_KEY_ID")


def test_saved_config_and_log_lines_are_masked(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "overrides.yaml").write_text("- judge.launch.env.HF_TOKEN=hf_abcdefgh\n- seed=1\n")
    redact_saved_config(tmp_path, {"hf_abcdefgh"})
    assert (tmp_path / "overrides.yaml").read_text() == f"- judge.launch.env.HF_TOKEN={MASK}\n- seed=1\n"

    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "token %s failed", ("hf_abcdefgh",), None)
    try:
        raise RuntimeError("server said: bad key hf_abcdefgh")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    RedactingFilter({"hf_abcdefgh"}).filter(record)
    rendered = logging.Formatter().format(record)
    assert "hf_abcdefgh" not in rendered and "token *** failed" in rendered and "bad key ***" in rendered
