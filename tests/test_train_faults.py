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
from typing import Any

import pytest

from tests._entry_point import SMALL, run_train, train_command, train_env
from tests.judges._flaky_server import FlakyServer


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
    # The judge's totals as the stopped run left them: its failures counted, every request the server received
    # (a request that failed made 1 + retries attempts, or fewer once the breaker opened).
    stopped = _report_totals(run_dir, set_aside=())
    hits_before = judge_server.hits
    assert (
        stopped["failures"] > 0 and hits_before - 1 <= stopped["requests"] - stopped["cache_hits"] + stopped["retries"]
    )

    judge_server.default = "ok"  # the judge is back
    result = run_train(*args, "resume=auto", timeout=400)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert f"resuming from {run_dir}/checkpoint-{saved[-1]}" in result.stdout + result.stderr
    assert summary(run_dir)["steps"] == 6
    assert (run_dir / "FAILED.1").is_file() and not (run_dir / "FAILED").exists()
    assert 'data-testid="status">finished<' in (run_dir / "report.html").read_text()  # written again at the end
    resumes = json.loads((run_dir / "run_info.json").read_text())["resumes"]
    assert [r["from"] for r in resumes] == [f"{run_dir}/checkpoint-{saved[-1]}"]
    # The resumed run's totals are what both attempts paid: the stopped one's, and the resumed one's (each
    # request the server received since, less the probe; the replayed steps' requests included).
    finished = json.loads((run_dir / "judge_metrics.json").read_text())
    resumed = json.loads((run_dir / "judge_totals" / "rank0.attempt2.json").read_text())["totals"]
    assert resumed["requests"] - resumed["cache_hits"] == judge_server.hits - hits_before - 1 > 0
    assert finished["requests"] == stopped["requests"] + resumed["requests"]
    assert sorted(p.name for p in (run_dir / "judge_totals").iterdir()) == [
        "rank0.attempt1.json",
        "rank0.attempt2.json",
    ]


@pytest.mark.timeout(600)
def test_an_unfinished_runs_report_has_every_judge_request_the_server_received(
    tmp_path: Path, judge_server: FlakyServer
) -> None:
    """TRL averages a logged value over its logging window: with logging every 2 steps, summing the logged
    ``judge/requests`` halves them. The report of a run that left no judge_metrics.json (a crash) must still say
    what the judge was asked: each request the server received, and the tokens it reported (7 in, 1 out each)."""
    run_dir = tmp_path / "run"
    args = (*vllm_judge(judge_server.url), *SMALL, "canaries=off", "baseline.prompts=2", "grpo.max_steps=4")
    prices = ("report.prices.input_per_million=1000000", "report.prices.output_per_million=3000000")  # 1, 3 a token
    result = run_train(*args, *prices, "grpo.logging_steps=2", "grpo.save_strategy=no", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    sent = judge_server.hits - 1  # the pre-flight probe is sent outside the judge's counters
    finished = json.loads((run_dir / "judge_metrics.json").read_text())
    for totals in (finished, _report_totals(run_dir, set_aside=("judge_metrics.json", "run_summary.json"))):
        assert totals["requests"] - totals["cache_hits"] == sent > 16, (totals, sent)
        assert (totals["tokens_in"], totals["tokens_out"], totals["failures"]) == (7 * sent, sent, 0)
    page = (run_dir / "report.html").read_text()
    assert f'<td>tokens_in</td><td class="num">{7 * sent}</td>' in page
    assert f'<td>cost</td><td class="num">{7 * sent + 3 * sent:.4f}</td>' in page  # what those tokens cost


def _report_totals(run_dir: Path, set_aside: tuple[str, ...]) -> dict[str, float]:
    """The report's judge totals (and its page, written again) once ``set_aside`` are gone, as a crash leaves it."""
    from rlaif.reporting.run_files import read_run
    from rlaif.reporting.run_report import judge_totals, write_report

    for name in set_aside:
        (run_dir / name).rename(run_dir / f"{name}.aside")
    write_report([run_dir])
    return judge_totals(read_run(run_dir))


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
    # One step number for the stop everywhere (TRL's: checkpoint-N holds steps 1..N): the log's stop line, the
    # judge errors' log lines and rewards.jsonl rows of that step, FAILED, report.html and the checkpoint.
    step = int(output.split("rlaif: stopping after step ")[1].split(":")[0])
    assert max(r["step"] for r in _rewards(run_dir)) == step and min(r["step"] for r in _rewards(run_dir)) == 1
    assert f"step {step}: judge error on answer" in output or f"step {step}: 4 of 4 judged" in output, output[-3000:]
    assert f"checkpoint saved: {run_dir / f'checkpoint-{step}'} (the run stopped after step {step})" in failed
    assert f"(the run stopped after step {step})" in page
    assert sorted(p.name for p in run_dir.glob("checkpoint-*")) == [f"checkpoint-{step}"]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_sigkill_then_resume_completes_replays_from_the_cache_and_keeps_the_watchers(
    tmp_path: Path, judge_server: FlakyServer
) -> None:
    """kill -9 after checkpoint-4, the judge swapped while the run is down, resume=auto: the run completes from the
    checkpoint, the replayed step is answered from the cache, the monitor's rule resumes with its window (no
    ``min_steps`` wait again), and the canaries compare with the run's first check, so the swap alarms at the
    resumed run's first step. The canaries' requests are counted apart from the reward's. The rubric is
    reference_qa, which has no rows in the canaries' shipped set: the run says so at its start, and its canaries
    still catch the swap."""
    run_dir = tmp_path / "run"
    watchers = ("rubric=reference_qa", "monitor.min_steps=4", "monitor.window=4", "canaries.every=2")
    args = (*vllm_judge(judge_server.url), *SMALL, *watchers, "grpo.max_steps=6", "grpo.save_steps=2")
    args = (*args, f"hydra.run.dir={run_dir}")
    process = subprocess.Popen(
        train_command(*args),
        env=train_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while _steps_judged(run_dir) < 5 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # no clean-up of any kind: as a power cut or the OOM killer
    process.wait(timeout=30)
    judged_before = _steps_judged(run_dir)
    assert 5 <= judged_before < 6 and not (run_dir / "run_summary.json").exists()
    killed = {name: _jsonl(run_dir / name) for name in _PER_STEP}
    monitored_before = len(_jsonl(run_dir / "monitor.jsonl"))
    judge_server.default = 'top:{"no": -0.05, "yes": -3.0}'  # another judge behind the same address

    result = run_train(*args, "resume=auto", timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    resumed_from = int(output.split(f"resuming from {run_dir}/checkpoint-")[1].split()[0])
    assert resumed_from == 4
    told = [line for line in output.splitlines() if "canaries:" in line and "no labelled rows" in line]
    assert told and "rubric reference_qa (criteria: matches_reference, no_contradiction, direct)" in told[0]
    assert "no AUC or pass rate is measured" in told[0] and "canaries.labelled" in told[0]
    assert summary(run_dir)["steps"] == 6
    # The steps replayed since the checkpoint asked the judge the same questions: answered from the cache, none paid
    # twice (step_timing's judge_requests are the requests the cache did not answer).
    assert summary(run_dir)["judge_cache_hits"] > 0
    # The monitor's rule resumed with the steps before the checkpoint: at its first step it has a window (5 steps
    # >= min_steps 4) and a trend z; a rule that started over would have none until 4 new steps.
    monitored = _jsonl(run_dir / "monitor.jsonl")
    first_resumed = [line for line in monitored if line["step"] == 5][-1]  # the resumed run's own
    assert len(monitored) > monitored_before and first_resumed["reward_z"] is not None
    # The canaries checked at the resumed run's first step (5) against the first check of step 1: the swap alarms,
    # under one step number in the log, alarms.jsonl and report.html.
    alarms = [a for a in _jsonl(run_dir / "alarms.jsonl") if a["source"] == "canaries"]
    assert [(a["step"], a["signal"]) for a in alarms] == [(5, "shift")], alarms
    assert "canaries alarm at step 5: shift" in output
    assert "step 5 · canaries · <strong>shift</strong>" in (run_dir / "report.html").read_text()
    # Their requests are theirs: the reward's judge/requests of a step with a check are the reward's own (one per
    # criterion of each judged answer), the check's are in canaries.jsonl and step_timing.jsonl's guard_requests.
    checks = {c["step"]: c for c in _jsonl(run_dir / "canaries.jsonl")}
    timing = {int(r["step"]): r for r in _jsonl(run_dir / "step_timing.jsonl")}
    history = json.loads((run_dir / "checkpoint-6" / "trainer_state.json").read_text())["log_history"]
    logged = {h["step"]: h["judge/requests"] for h in history if "judge/requests" in h}
    own = {s: sum(len(r["verdicts"]) for r in _rewards(run_dir) if r["step"] == s and r["judged"]) for s in (1, 3)}
    assert checks[1]["judge_requests"] > 0 and checks[3]["judge_requests"] > 0  # canaries.every=2: steps 1, 3, 5
    assert logged[1] == own[1] and logged[3] == own[3], (logged, own)
    assert timing[3]["guard_requests"] == checks[3]["judge_requests"]
    paid = {row["step"]: row["judge_requests"] for row in _jsonl(run_dir / "step_timing.jsonl")}
    assert [paid[step] for step in range(resumed_from + 1, judged_before + 1)] == [0] * (judged_before - resumed_from)
    # The killed run had logged steps after the checkpoint (else there is nothing to replay here)...
    assert max(r["step"] for r in killed["step_timing.jsonl"]) > resumed_from or judged_before > resumed_from
    _assert_one_set_per_step(run_dir, killed, resumed_from, steps=6, answers_per_step=4)


# Per-step logs: each names a step by TRL's number (the first is 1; checkpoint-N holds steps 1..N).
_PER_STEP = ("rewards.jsonl", "monitor.jsonl", "step_timing.jsonl", "metrics.jsonl")


def _assert_one_set_per_step(
    run_dir: Path,
    killed: dict[str, list[dict]],
    resumed_from: int,
    steps: int,
    answers_per_step: int,  # type: ignore[type-arg]
) -> None:
    """Every per-step log holds one set of rows per step after a resume; the rows of the steps before the checkpoint
    are the killed run's own, untouched; the report's reader, the monitor and TensorBoard see one set."""
    from collections import Counter

    from rlaif.monitoring.replay import replay, settings_for
    from rlaif.reporting.run_files import read_run

    rows = {name: _jsonl(run_dir / name) for name in _PER_STEP}
    answers = Counter(r["step"] for r in rows["rewards.jsonl"])
    assert answers == dict.fromkeys(range(1, steps + 1), answers_per_step), answers
    assert [r["step"] for r in rows["monitor.jsonl"]] == list(range(1, steps + 1))
    assert [r["step"] for r in rows["step_timing.jsonl"]] == list(range(1, steps + 1))
    assert [r["step"] for r in rows["metrics.jsonl"] if "reward" in r] == list(range(1, steps + 1))
    for name in _PER_STEP:  # nothing of the steps kept by the checkpoint was lost or changed
        kept = resumed_from
        assert [r for r in rows[name] if r["step"] <= kept] == [r for r in killed[name] if r["step"] <= kept]
    # On CPU the replay is bit-identical (TRL restores the RNG): the replayed steps' answers and scores are the killed
    # run's (docs/failures.md says what differs on GPU and with vLLM).
    replayed = [(r["step"], r["completion"], r["score"]) for r in killed["rewards.jsonl"] if r["step"] > resumed_from]
    assert replayed and set(replayed) <= {(r["step"], r["completion"], r["score"]) for r in rows["rewards.jsonl"]}
    # The report's reader (python -m rlaif.report) and the monitor's replay (python -m rlaif.monitor).
    run = read_run(run_dir)
    assert Counter(a["step"] for a in run.answers) == dict.fromkeys(range(1, steps + 1), answers_per_step)
    assert [t["step"] for t in run.timing] == list(range(1, steps + 1))
    assert [m["step"] for m in run.monitor] == list(range(1, steps + 1)) and run.skipped_lines == 0
    lines, _ = replay(run_dir, settings_for(run_dir, None, [])[0], {})  # what python -m rlaif.monitor RUN_DIR reads
    assert [(line["step"], line["rollouts"]) for line in lines] == [(s, answers_per_step) for s in range(1, steps + 1)]
    # TensorBoard: rlaif's completions table and TRL's scalars, read back as TensorBoard reads them.
    tables = _tensorboard(run_dir / "runs" / "completions")["tensors"]
    assert [step for step, _ in tables] == list(range(1, steps + 1)), [step for step, _ in tables]
    for step, text in tables:  # each step's table holds that step's answers, under the same step number
        assert {row.split(" | ")[0] for row in text.splitlines()[2:]} == {f"| {step}"}, text
    trl_runs = [p for p in sorted((run_dir / "runs").iterdir()) if p.name != "completions"]  # one per invocation
    assert len(trl_runs) == 2
    assert sorted(s for p in trl_runs for s in _tensorboard(p)["scalars"]) == list(range(1, steps + 1))


def _tensorboard(log_dir: Path) -> dict[str, Any]:
    """The ``completions`` texts (step, text) and the steps of TRL's ``train/reward``, read back by the accumulator
    TensorBoard's server uses (it honours ``purge_step``; the older ``event_accumulator`` purges no text)."""
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    events.Reload()
    tags = events.Tags()["tensors"]
    found: dict[str, Any] = {"tensors": [], "scalars": []}
    for tag in (t for t in tags if t.startswith("completions")):
        found["tensors"] = [(e.step, e.tensor_proto.string_val[0].decode()) for e in events.Tensors(tag)]
    if "train/reward" in tags:
        found["scalars"] = [e.step for e in events.Tensors("train/reward")]
    return found


def _jsonl(path: Path) -> list[dict]:  # type: ignore[type-arg]
    """The rows of a JSONL log; a line the kill cut short is left out."""
    rows = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _rewards(run_dir: Path) -> list[dict]:  # type: ignore[type-arg]
    path = run_dir / "rewards.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def _steps_judged(run_dir: Path) -> int:
    """How many distinct steps have rewards in rewards.jsonl (a line is written as each step is judged)."""
    try:
        return len({r["step"] for r in _rewards(run_dir)})
    except (json.JSONDecodeError, OSError):  # a line being written
        return 0
