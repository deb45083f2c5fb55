"""``python -m rlaif.train judge=pool``: the real entry point with a pool of two endpoints, the real vLLM server
and a second endpoint speaking its protocol on 127.0.0.1. The second is killed after the first step and
brought back after the second: the run completes every step with no failed verdict, and the endpoint takes
traffic again."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rlaif.judges.preflight import PROBE
from rlaif.judges.serving.vllm_server import VLLMServer
from tests._entry_point import train_command, train_env
from tests.judges._flaky_server import FlakyServer

pytestmark = [pytest.mark.vllm, pytest.mark.slow]


def _steps(rewards: Path) -> set[int]:
    if not rewards.exists():
        return set()
    return {json.loads(line)["step"] for line in rewards.read_text().splitlines() if line.strip()}


def _wait(condition: Callable[[], bool], process: subprocess.Popen[str], what: str, timeout_s: float = 900) -> None:
    end = time.monotonic() + timeout_s
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the run ended (exit {process.returncode}) before {what}")
        if time.monotonic() > end:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.2)


def test_the_run_survives_an_endpoint_killed_mid_run_and_takes_it_back(vllm_server: VLLMServer, tmp_path: Path) -> None:
    run_dir, log = tmp_path / "run", tmp_path / "train.log"
    second = FlakyServer().start()
    port = int(second.url.rsplit(":", 1)[1].split("/")[0])
    command = train_command(
        "judge=pool",
        f"judge.endpoints=[{vllm_server.base_url},{second.url}]",
        "judge.probe_interval_s=1",
        "judge.load_factor=1.0",  # strict balance: each endpoint gets half of every step while both are up
        "debug=smoke",
        "grpo.max_steps=4",
        f"hydra.run.dir={run_dir}",
    )
    back: FlakyServer | None = None
    with log.open("w") as out:
        # Two CPU-heavy processes on 2 cores: one OpenMP thread for the trainer, or both crawl.
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, text=True, env=train_env({"OMP_NUM_THREADS": "1"})
        )
        try:
            rewards = run_dir / "rewards.jsonl"
            _wait(lambda: len(_steps(rewards)) >= 1, process, "the first step")
            served_before = second.hits
            second.stop()  # killed: its listening socket and open connections close
            _wait(lambda: len(_steps(rewards)) >= 2, process, "the second step")
            back = FlakyServer(port=port).start()
            assert process.wait(timeout=900) == 0, log.read_text()[-3000:]
        finally:
            if process.poll() is None:
                process.kill()
            second.stop()
            if back is not None:
                back.stop()
    lines = [json.loads(line) for line in rewards.read_text().splitlines()]
    assert len(_steps(rewards)) == 4
    assert all(line["score"] is not None and line["error"] is None for line in lines), "a verdict was lost"
    metrics = json.loads((run_dir / "judge_metrics.json").read_text())
    assert metrics["failures"] == 0 and metrics["failovers"] > 0 and metrics["e2/failures"] > 0
    assert served_before > 0, "the second endpoint took no traffic before it was killed"
    assert back is not None
    taken = [body for body in back.bodies if body["messages"] != [dict(m) for m in PROBE.messages]]
    assert back.bodies[0]["messages"] == [dict(m) for m in PROBE.messages], "it was probed before taking traffic"
    assert taken, "the endpoint brought back took no traffic"
