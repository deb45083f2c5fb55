"""``python -m rlaif.train judge=<a jury>``: three members, one of them killed mid-run.

Two members are the real vLLM server (as it is, and with a grader persona); the third is an
OpenAI-compatible server on 127.0.0.1 that dies during the first training step. The quorum (2 of 3) holds,
so the run completes with no failed verdict, and the dead member's failures are counted as its own.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from rlaif.judges.serving.vllm_server import VLLMServer
from tests import _forkserver as forked
from tests.judges._flaky_server import FlakyServer

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

JURY = """\
_target_: rlaif.judges.jury.jury_judge
_recursive_: false
aggregate: mean
members:
  - {{name: vllm, _target_: rlaif.judges.backends.openai_compat.openai_judge, base_url: "{vllm}"}}
  - {{name: persona, system: You are a strict grader., _target_: rlaif.judges.backends.openai_compat.openai_judge,
     base_url: "{vllm}"}}
  - name: doomed
    _target_: rlaif.judges.backends.openai_compat.openai_judge
    base_url: "{doomed}"
    # A dead member costs each request its timeout and retries until its breaker opens: keep them short.
    policy: {{max_retries: 0, timeout_s: 5, breaker_threshold: 2, breaker_cooldown_s: 600}}
policy: {{cache: false}}
"""


def _kill_after(server: FlakyServer, hits: int, stop: threading.Event) -> None:
    while not stop.is_set() and server.hits < hits:
        time.sleep(0.05)
    server.default = "close"  # kept-alive connections are dropped from now on, new ones refused
    server.stop()


def test_a_member_killed_mid_run_costs_no_verdict_above_quorum(vllm_server: VLLMServer, tmp_path: Path) -> None:
    conf = tmp_path / "conf" / "judge"
    conf.mkdir(parents=True)
    run_dir = tmp_path / "run"
    done = threading.Event()
    with FlakyServer(default="ok") as doomed:
        (conf / "test_jury.yaml").write_text(JURY.format(vllm=vllm_server.base_url, doomed=doomed.url))
        # 1 pre-flight probe + 4 baseline verdicts + 8 per step: it dies during the first step.
        killer = threading.Thread(target=_kill_after, args=(doomed, 9, done), daemon=True)
        killer.start()
        result = forked.run(
            [
                sys.executable,
                "-m",
                "rlaif.train",
                f"--config-dir={tmp_path / 'conf'}",
                "judge=test_jury",
                "reward=rubric",  # no gate: every answer goes to the jury
                "canaries=off",
                "debug=smoke",
                "grpo.max_steps=3",
                f"hydra.run.dir={run_dir}",
            ],
            timeout=1500,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
        )
        done.set()
        killer.join(timeout=30)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [json.loads(x) for x in (run_dir / "rewards.jsonl").read_text().splitlines()]
    judged = [line for line in lines if line["judged"]]
    assert len(lines) == 12 and judged
    assert all(line["score"] is not None and line["error"] is None for line in judged)  # quorum held throughout
    doomed_votes = [v for line in judged for v in line["jury"]["doomed"].values()]
    assert any(v is not None for v in doomed_votes) and any(v is None for v in doomed_votes)  # alive, then dead
    assert all(v is not None for line in judged for v in line["jury"]["vllm"].values())
    metrics = json.loads((run_dir / "judge_metrics.json").read_text())
    assert metrics["failures"] == 0 and metrics["doomed/failures"] > 0 and metrics["vllm/failures"] == 0
