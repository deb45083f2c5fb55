"""Judge faults and crashes through the real entry point (``python -m rlaif.train``), each bounded in time.

The misbehaving judge is the scripted OpenAI-compatible server of tests/judges/_flaky_server.py on
127.0.0.1; the policy is the real packaged model, trained for a few cheap steps.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

try:  # tests/ as a package or as rootdir-relative modules: either pytest import mode works
    from tests._entry_point import SMALL, run_train, train_command, train_env
    from tests.judges._flaky_server import FlakyServer
except ImportError:
    from _entry_point import SMALL, run_train, train_command, train_env  # type: ignore[no-redef]
    from judges._flaky_server import FlakyServer  # type: ignore[no-redef]


def vllm_judge(url: str, *extra: str) -> tuple[str, ...]:
    """The vLLM judge config pointed at ``url``, with quick retries so faults show within seconds, and the
    rubric reward without the on-topic gate: 8-token answers may all be gated, and then no judge is asked."""
    return (
        "reward=rubric",
        "judge=vllm",
        f"judge.base_url={url}",
        "judge.policy.max_retries=1",
        "judge.policy.backoff_initial_s=0.1",
        "judge.policy.backoff_jitter_s=0",
        *extra,
    )


@pytest.fixture
def judge_server() -> Iterator[FlakyServer]:
    with FlakyServer() as server:
        yield server


def summary(run_dir: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((run_dir / "run_summary.json").read_text())


@pytest.mark.timeout(120)
def test_nothing_listening_stops_before_the_policy_loads(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"  # closed again: connection refused
    run_dir = tmp_path / "run"
    result = run_train(*vllm_judge(url), f"hydra.run.dir={run_dir}", timeout=90)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert f"the judge openai:{url}:judge did not answer a test request" in output
    assert "scripts/serve_judge_vllm.sh start" in output  # the hint
    assert "Traceback" not in result.stderr  # one message, the traceback is in the folder
    assert "APIConnectionError" in (run_dir / "FAILED").read_text()
    assert not (run_dir / "runs").exists()  # no trainer was built


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_judge_outage_stops_with_a_checkpoint_and_resume_finishes(tmp_path: Path, judge_server: FlakyServer) -> None:
    run_dir = tmp_path / "run"
    args = (
        *vllm_judge(judge_server.url, "reward.failures.window=4"),
        *SMALL,
        "grpo.max_steps=6",
        "grpo.save_steps=2",
        f"hydra.run.dir={run_dir}",
    )
    process = subprocess.Popen(train_command(*args), env=train_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # The judge dies once 3 steps are done (checkpoint-2 exists and a third step was judged).
    deadline = time.monotonic() + 400
    while not _steps_judged(run_dir) >= 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    judge_server.default = "500"
    output, _ = process.communicate(timeout=300)
    text = output.decode(errors="replace")
    assert process.returncode == 1, text[-3000:]
    assert "run stopped: judge failure rate" in text and "max_failure_rate" in text
    assert "checkpoint saved: " in text and "resume=auto" in text
    assert not (run_dir / "run_summary.json").exists() and (run_dir / "FAILED").is_file()
    saved = sorted(int(p.name.split("-")[1]) for p in run_dir.glob("checkpoint-*"))
    assert saved and saved[-1] >= 3, saved  # the steps done before the outage are kept
    # The newest checkpoint is the stopping step's, saved by the Trainer at its end (StopOnRequest), and named.
    assert f"checkpoint saved: {run_dir / f'checkpoint-{saved[-1]}'}" in text
    assert any(r["error"] and "HTTP 500" in r["error"] for r in _rewards(run_dir))
    # The stopped run's report.html, from what it left: its status, why it stopped, the answers the judge failed.
    page = (run_dir / "report.html").read_text()
    assert 'data-testid="status">stopped<' in page and "run stopped: judge failure rate" in page
    assert 'data-kind="failed"' in page and "HTTP 500" in page

    judge_server.default = "ok"  # the judge is back
    result = run_train(*args, "resume=auto", timeout=400)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert f"resuming from {run_dir}/checkpoint-{saved[-1]}" in result.stdout + result.stderr
    assert summary(run_dir)["steps"] == 6
    assert (run_dir / "FAILED.1").is_file() and not (run_dir / "FAILED").exists()
    assert 'data-testid="status">finished<' in (run_dir / "report.html").read_text()  # written again at the end
    resumes = json.loads((run_dir / "run_info.json").read_text())["resumes"]
    assert [r["from"] for r in resumes] == [f"{run_dir}/checkpoint-{saved[-1]}"]


@pytest.mark.timeout(300)
def test_a_hanging_judge_cannot_hang_the_run(tmp_path: Path, judge_server: FlakyServer) -> None:
    judge_server.script = ["ok"]  # the pre-flight request, then nothing ever answers
    judge_server.default = "hang"
    run_dir = tmp_path / "run"
    overrides = vllm_judge(
        judge_server.url,
        "judge.policy.timeout_s=2",
        "judge.policy.batch_deadline_s=6",
        "reward.failures.window=4",
    )
    # canaries=off: their requests would hang too and trip the breaker, and this test reads the reward's errors.
    result = run_train(*overrides, *SMALL, "canaries=off", "grpo.max_steps=2", f"hydra.run.dir={run_dir}", timeout=240)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "run stopped: judge failure rate" in output
    errors = [r["error"] for r in _rewards(run_dir)]
    assert errors and all(e and ("no answer within" in e or "deadline" in e) for e in errors), errors
    # A deliberate stop is no crash: FAILED and report.html give the reason and the command that resumes, and no
    # traceback (which would only show rlaif's own raise).
    failed = (run_dir / "FAILED").read_text()
    assert failed.startswith("run stopped: judge failure rate") and "Traceback" not in failed, failed
    resume = failed.splitlines()[-1].strip()
    command = f"python -m rlaif.train reward=rubric judge=vllm judge.base_url={judge_server.url} "
    assert resume.startswith(command), resume
    assert resume.endswith(f"canaries=off grpo.max_steps=2 resume=auto hydra.run.dir={run_dir}"), resume
    assert resume in output and "Traceback" not in output
    page = (run_dir / "report.html").read_text()
    assert 'data-testid="status">stopped<' in page and "The run stopped on purpose" in page, page[-3000:]
    assert "Traceback" not in page and "resume=auto" in page


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_sigkill_then_resume_completes_and_replays_from_the_cache(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = (*SMALL, "grpo.max_steps=6", "grpo.save_steps=2", f"hydra.run.dir={run_dir}")
    process = subprocess.Popen(
        train_command(*args),
        env=train_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while _steps_judged(run_dir) < 4 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)  # no clean-up of any kind: as a power cut or the OOM killer
    process.wait(timeout=30)
    judged_before = _steps_judged(run_dir)
    assert 4 <= judged_before < 6 and not (run_dir / "run_summary.json").exists()

    result = run_train(*args, "resume=auto", timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    resumed_from = int(output.split(f"resuming from {run_dir}/checkpoint-")[1].split()[0])
    save_steps = 2
    assert resumed_from >= judged_before - save_steps  # lost at most one save interval
    assert summary(run_dir)["steps"] == 6
    # The steps replayed since the checkpoint asked the judge the same questions: answered from the cache.
    assert summary(run_dir)["judge_cache_hits"] > 0


def _rewards(run_dir: Path) -> list[dict]:  # type: ignore[type-arg]
    path = run_dir / "rewards.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def _steps_judged(run_dir: Path) -> int:
    """How many distinct steps have rewards in rewards.jsonl (a line is written as each step is judged)."""
    try:
        return len({r["step"] for r in _rewards(run_dir)})
    except (json.JSONDecodeError, OSError):  # a line being written
        return 0
