"""The suite's fork server (tests/_forkserver.py) runs an entry point as a fresh ``python -m`` would: the tests that
go through it prove what they say only if this holds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests import _forkserver as forked
from tests._entry_point import train_command, train_env
from tests.judges._flaky_server import FlakyServer


def test_a_forked_run_gives_what_a_fresh_interpreter_gives(tmp_path: Path) -> None:
    """Arguments, working directory, environment, exit status, stdout and stderr: the same, line for line (log
    timestamps aside), for a bad-input run (exit 2) of two entry points: a labelled set given relative to the
    working directory (found only there); a dataset path read from an environment variable set for this run only."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "labelled.jsonl").write_text("{broken\n")
    env = train_env({"RLAIF_FORKSERVER_TEST_DATA": "from-the-env.jsonl"})
    assert "RLAIF_FORKSERVER_TEST_DATA" not in os.environ
    judge_eval = [sys.executable, "-m", "rlaif.judge_eval", "labelled=labelled.jsonl", "hydra.run.dir=run"]
    train = train_command("data.path=${oc.env:RLAIF_FORKSERVER_TEST_DATA}", "hydra.run.dir=run")
    for command, expected in ((judge_eval, "labelled.jsonl:1: not valid JSON"), (train, "from-the-env.jsonl")):
        assert forked._forkable(command, env) or os.environ.get(forked.FRESH) == "1"
        forked_run = forked.run(command, cwd=work, env=env, timeout=300)
        fresh = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=work, env=env)
        assert forked_run.returncode == fresh.returncode == 2, fresh.stdout[-2000:] + fresh.stderr[-2000:]
        assert expected in fresh.stdout + fresh.stderr
        assert _untimed(forked_run.stdout) == _untimed(fresh.stdout)
        assert _untimed(forked_run.stderr) == _untimed(fresh.stderr)
    assert sorted(work.iterdir()) == [work / "labelled.jsonl"]  # the bad input left nothing behind, either way


def _untimed(text: str) -> list[str]:
    """The lines without the log's timestamp (``[2026-12-06 22:17:23,541][logger]...``)."""
    return [line.split("]", 1)[-1] if line.startswith("[20") else line for line in text.splitlines()]


def test_a_run_that_changes_what_a_library_reads_at_import_gets_a_fresh_interpreter() -> None:
    server = forked._Server.get()
    assert server.same_imports({**server.env, "RLAIF_SOMETHING": "1", "AWS_REGION": "us-east-1"})
    for key in ("HF_HOME", "OMP_NUM_THREADS", "PYTHONPATH", "CUDA_VISIBLE_DEVICES", "TRANSFORMERS_CACHE"):
        assert not server.same_imports({**server.env, key: "/elsewhere"}), key
    assert not forked._forkable([sys.executable, "-S", "-m", "rlaif.train"], os.environ)
    assert not forked._forkable([sys.executable, "-m", "pip", "list"], os.environ)
    assert not forked._forkable([sys.executable, "-m", "rlaif.monitor", "RUN"], os.environ)  # imports no torch
    assert not forked._forkable([sys.executable, "-m", "rlaif.train"], {forked.FRESH: "1"})
    assert forked._forkable([sys.executable, "-m", "rlaif.train"], os.environ) == (os.environ.get(forked.FRESH) != "1")


@pytest.mark.skipif(os.environ.get(forked.FRESH) == "1", reason="fresh processes asked for: no fork server")
def test_a_run_past_its_timeout_is_killed_and_the_next_run_works(tmp_path: Path) -> None:
    """As subprocess.run: TimeoutExpired, with the process gone (here its whole session) before it returns."""
    with FlakyServer(default="hang") as judge:
        command = train_command("judge=vllm", f"judge.base_url={judge.url}", f"hydra.run.dir={tmp_path / 'run'}")
        with pytest.raises(subprocess.TimeoutExpired):
            forked.run(command, env=train_env(), timeout=5)
        judge.done()
    server = forked._Server.get()
    assert psutil.Process(server.process.pid).children(recursive=True) == []
    again = forked.run(train_command("data.path=none.jsonl", f"hydra.run.dir={tmp_path / 'again'}"), timeout=300)
    assert again.returncode == 2 and "none.jsonl: dataset file not found" in again.stdout + again.stderr
