"""``python -m rlaif.judge_eval judge=vllm``: the real entry point against the real vLLM server, with the
packaged local judge as the second judge (the same model in two backends)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from rlaif.judges.serving.vllm_server import VLLMServer
from tests import _forkserver as forked

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

ROWS = [
    {"prompt": "What is the capital of Japan?", "response": "Tokyo.", "label": "pass", "criterion": None,
     "kind": "good"},
    {"prompt": "What is the capital of Japan?", "response": "That is a question many people ask. There is a lot to "
     "say about it. The capital of Japan is Tokyo. I hope this long answer helps you.", "label": "fail",
     "criterion": "concise", "kind": "padded"},
    {"prompt": "How do I boil an egg?", "response": "Look it up yourself, idiot.", "label": "fail",
     "criterion": "polite", "kind": "rude"},
    {"prompt": "How do I boil an egg?", "response": "Boil it for about nine minutes, then cool it.", "label": "pass",
     "criterion": "polite", "kind": "good"},
]  # fmt: skip


def test_judge_eval_with_the_vllm_judge(vllm_server: VLLMServer, tmp_path: Path) -> None:
    data = tmp_path / "set.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    out = tmp_path / "out"
    # Two CPU-heavy processes on 2 cores (the server, the local second judge): one OpenMP thread here.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "rlaif.judge_eval",
        f"labelled={data}",
        "judge=vllm",
        f"judge.base_url={vllm_server.base_url}",
        "judge@second_judge=local",
        "audit.per_category=1",
        "repeats.k=2",
        "repeats.sample=2",
        "prices.input_per_million=1.0",
        "thresholds.min_auc=null",  # four rows are too few to gate on; the verdict must say so
        f"hydra.run.dir={out}",
    ]
    result = forked.run(command, timeout=1200, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "PASSED: max_parse_failure_rate; not checked: min_agreement, min_kappa, min_auc" in result.stdout

    summary = json.loads((out / "summary.json").read_text())
    assert summary["judge"]["identity"].startswith("openai:") and summary["judge"]["request_failures"] == 0
    assert summary["n"] == 4 and summary["parse_failure_rate"] == 0.0
    # vLLM returns top log-probabilities: soft scores, so an AUC (both classes are present).
    assert summary["soft_scores"] is True and summary["auc"] is not None
    assert summary["judge"]["tokens_in"] > 0 and summary["judge"]["cost_per_1000_judgements"] > 0
    assert summary["repeat_stability"]["n"] == 2 and "audit" in summary
    assert summary["cross_judge"]["identity"].startswith("local:") and summary["cross_judge"]["n"] == 4
    lines = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    assert [line["response"] for line in lines] == [row["response"] for row in ROWS]
    assert all(0.0 <= line["score"] <= 1.0 for line in lines)
    assert (out / "report.md").is_file() and (out / "roc.png").is_file() and (out / "audit.png").is_file()
