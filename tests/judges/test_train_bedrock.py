"""``python -m rlaif.train judge=bedrock``: the real entry point and real boto3, with only the endpoint
changed (a local server speaking Converse), 2 steps, riding through a throttle on the way."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import _forkserver as forked

pytestmark = pytest.mark.slow


def test_two_step_run_with_the_bedrock_judge(
    converse_server: Any, converse_reply: Any, aws_dummy_env: None, tmp_path: Path
) -> None:
    # 2 steps x 4 completions x 2 criteria = 16 yes/no questions (fewer if answers repeat).
    # Then the baseline check (2 prompts x 2 criteria) and 2 steps: 20 questions, with spare verdicts.
    verdicts = [converse_reply.ok(text) for text in ["yes", "no", "Yes.", "no"] * 6]
    # First the pre-flight request, before the policy loads: throttled once, retried, answered.
    probe = [converse_reply.error("ThrottlingException"), converse_reply.ok("yes")]
    converse_server.script(*probe, converse_reply.error("ThrottlingException"), *verdicts)
    run_dir = tmp_path / "run"
    result = forked.run(
        [
            sys.executable,
            "-m",
            "rlaif.train",
            "judge=bedrock",
            f"judge.endpoint_url={converse_server.url}",
            "judge.policy.backoff_initial_s=0.01",
            "debug=smoke",
            "canaries=off",  # the server answers a scripted number of verdicts: the canaries' would use them up
            f"hydra.run.dir={run_dir}",
        ],
        timeout=900,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    bodies = [r for r in converse_server.requests if r.path.endswith("/converse")]
    assert bodies and all(r.model_id == "us.amazon.nova-lite-v1:0" and r.signed for r in bodies)
    lines = [json.loads(line) for line in (run_dir / "rewards.jsonl").read_text().splitlines()]
    assert len(lines) == 8
    assert all(line["score"] is not None and 0.0 <= line["score"] <= 1.0 for line in lines)
    # Hard yes/no verdicts from text: every criterion is exactly 0 or 1.
    assert all(v in (0.0, 1.0) for line in lines for v in line["verdicts"].values())
    metrics = json.loads((run_dir / "judge_metrics.json").read_text())
    assert metrics["failures"] == 0 and metrics["retries"] >= 1
    saved = (run_dir / ".hydra" / "config.yaml").read_text()
    assert "not-a-real-secret" not in saved and "AKIDTEST" not in saved
