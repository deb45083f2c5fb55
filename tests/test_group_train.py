"""``python -m rlaif.train reward=group``: the config check, and a real run with the packaged local judge.

The packaged judge (SmolLM2-135M, in process) generates free text: its backend does not constrain output to the
group's JSON schema, so it almost never writes a valid group verdict. The run shows what that becomes: every
answer ``None`` with the error in rewards.jsonl, counted as a judge failure, never a 0. The run with a judge
that enforces the schema (a real vLLM server) is tests/integration/test_group_vllm.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._entry_point import run_train


def test_one_generation_per_prompt_is_refused_naming_the_key(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_train("reward=group", "grpo.num_generations=1", f"hydra.run.dir={run_dir}")
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "grpo.num_generations: 1 answer(s) per prompt" in output and "reward 'group'" in output
    assert "Traceback" not in output and not run_dir.exists()


@pytest.mark.slow
def test_a_judge_without_json_gives_none_counted_never_zero(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_train(
        "reward=group",
        "debug=smoke",
        "canaries=off",
        "baseline.enabled=false",
        "grpo.max_steps=1",
        "reward.max_tokens_per_answer=8",  # the replies fail anyway: keep the generation short
        f"hydra.run.dir={run_dir}",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [json.loads(line) for line in (run_dir / "rewards.jsonl").read_text().splitlines()]
    assert len(lines) == 4 and {line["prompt_id"] for line in lines} == {lines[0]["prompt_id"]}
    for line in lines:  # one group of 4; what a failure is: None with the reason, judged, never 0
        assert line["judged"] and line["group"]["answers"] == 4
        if line["score"] is None:
            assert line["error"].startswith("group of 4 answers:")
        else:
            assert 0.0 <= line["score"] <= 1.0 and line["rationale"]
    failed = sum(line["score"] is None for line in lines)
    metrics = json.loads((run_dir / "judge_metrics.json").read_text())
    orders = lines[0]["group"]["distinct"]  # orders: cyclic, one request per rotation of the distinct answers
    assert orders + (1 if failed else 0) <= metrics["requests"] <= 2 * orders  # each retried once when it failed
    events = b"".join(p.read_bytes() for p in (run_dir / "runs").rglob("events.out.tfevents.*"))
    assert b"group/judge_failures" in events and b"group/retried_requests" in events
    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert summary["steps_without_reward"] == (1 if failed == 4 else 0)
