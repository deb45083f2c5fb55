"""``python -m rlaif.train judge=vllm``: the real entry point against the real vLLM server, 2 steps."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from rlaif.judges.serving.vllm_server import VLLMServer
from tests import _forkserver as forked

pytestmark = [pytest.mark.vllm, pytest.mark.slow]


def test_two_step_run_with_the_vllm_judge(vllm_server: VLLMServer, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    # Two CPU-heavy processes on 2 cores: one OpenMP thread for the trainer, or both crawl.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = forked.run(
        [
            sys.executable,
            "-m",
            "rlaif.train",
            "judge=vllm",
            f"judge.base_url={vllm_server.base_url}",
            "debug=smoke",
            f"hydra.run.dir={run_dir}",
        ],
        timeout=1200,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [json.loads(line) for line in (run_dir / "rewards.jsonl").read_text().splitlines()]
    assert len(lines) == 8
    scored = [line["score"] for line in lines if line["score"] is not None]
    assert scored and all(0.0 <= s <= 1.0 for s in scored)
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["judge"].startswith("openai:") and summary["judge_requests"] >= 8
    metrics = json.loads((run_dir / "judge_metrics.json").read_text())
    assert metrics["failures"] == 0
