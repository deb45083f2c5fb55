"""Judge canaries: labelled rows graded every few steps, cache bypassed; an alarm when the judge changed.

The judge that changes mid-run is an OpenAI-compatible server on 127.0.0.1 (the scripted server of the
judge tests, spoken to through the real openai client); an unchanged real vLLM server raises no alarm in
tests/integration/test_canaries_vllm.py. Unit rules use scripted judges.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_module

from rlaif.judges.backends.openai_compat import openai_judge
from rlaif.judges.base import Judge
from rlaif.monitoring.alarms import AlarmSink, AlarmStopError
from rlaif.monitoring.canaries import Canaries, build_canaries
from rlaif.rewards.preference import PreferenceReward
from rlaif.rewards.rubric import RubricReward

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the judge tests' helpers, as plain modules
from judges._flaky_server import FlakyServer
from rewards.scripted import ScriptedTransport, a_or_b, fenced, text_reply, yes_no

SETTINGS = {"enabled": True, "every": 2, "rows": 8, "seed": 0, "on_alarm": "warn"}


def _rubric() -> dict[str, Any]:
    with initialize_config_module(config_module="rlaif.conf", version_base="1.3"):
        cfg = compose(config_name="train")
    return dict(cfg.rubric)


def _by_length(state: dict[str, Any], request: Any) -> Any:
    """P(yes) from the answer's length; ``state["flip"]`` inverts it (a judge swapped under the run)."""
    if state.get("garbage"):
        return text_reply("The weather is nice today.")
    p = min(0.95, max(0.05, len(fenced(request)) / 120))
    return yes_no(1 - p if state.get("flip") else p)


def _canaries(tmp_path: Path, state: dict[str, Any], on_alarm: str = "warn", cache: bool = False) -> Canaries:
    transport = ScriptedTransport(functools.partial(_by_length, state))
    policy = {"max_retries": 0, "cache": cache, "cache_path": str(tmp_path / "cache") if cache else None}
    reward = RubricReward(Judge(transport, policy), _rubric())
    canaries = build_canaries(SETTINGS, reward, tmp_path, AlarmSink(tmp_path / "alarms.jsonl", on_alarm))
    assert canaries is not None
    canaries.transport = transport  # type: ignore[attr-defined]  # for the request counts below
    return canaries


def _steps(canaries: Canaries, steps: range) -> None:
    for step in steps:
        asyncio.run(canaries.before_reward(step, {}))


def test_an_unchanged_judge_raises_no_alarm_in_many_checks(tmp_path: Path) -> None:
    canaries = _canaries(tmp_path, {})
    _steps(canaries, range(0, 20))  # checks at 0, 2, ..., 18: ten of them
    assert [c["step"] for c in canaries.checks] == list(range(0, 20, 2))
    assert canaries.sink.raised == []
    assert all(c["shift"] == 0.0 for c in canaries.checks)
    lines = [json.loads(x) for x in (tmp_path / "canaries.jsonl").read_text().splitlines()]
    assert len(lines) == 10 and set(lines[0]) >= {"auc", "pass_rate_on_passes", "pass_rate_on_fails", "shift"}


def test_a_judge_that_changes_raises_the_alarm_at_the_next_check(tmp_path: Path) -> None:
    state: dict[str, Any] = {}
    canaries = _canaries(tmp_path, state)
    _steps(canaries, range(0, 5))
    state["flip"] = True  # between the checks of step 4 and step 6
    _steps(canaries, range(5, 7))
    alarms = canaries.sink.raised
    assert alarms and {a.step for a in alarms} == {6}
    assert "shift" in {a.signal for a in alarms}
    written = [json.loads(x) for x in (tmp_path / "alarms.jsonl").read_text().splitlines()]
    assert written[0]["source"] == "canaries" and written[0]["step"] == 6


def test_a_judge_returning_garbage_raises_the_parse_alarm(tmp_path: Path) -> None:
    state: dict[str, Any] = {}
    canaries = _canaries(tmp_path, state)
    _steps(canaries, range(0, 1))
    state["garbage"] = True
    _steps(canaries, range(2, 3))
    assert "parse_failure_rate" in {a.signal for a in canaries.sink.raised}


def test_stop_raises_alarm_stop_error(tmp_path: Path) -> None:
    state: dict[str, Any] = {}
    canaries = _canaries(tmp_path, state, on_alarm="stop")
    _steps(canaries, range(0, 1))
    state["flip"] = True
    with pytest.raises(AlarmStopError, match="canaries alarm at step 2"):
        _steps(canaries, range(2, 3))


def test_checks_bypass_the_cache(tmp_path: Path) -> None:
    canaries = _canaries(tmp_path, {}, cache=True)
    transport = canaries.transport  # type: ignore[attr-defined]
    _steps(canaries, range(0, 1))
    first = len(transport.requests)
    _steps(canaries, range(2, 3))
    assert first > 0 and len(transport.requests) == first * 3 // 2  # first check twice, then once more


def test_rows_are_half_passes_and_seeded(tmp_path: Path) -> None:
    a, b = _canaries(tmp_path, {}), _canaries(tmp_path, {})
    assert [r["label"] for r in a.rows].count("pass") == 4
    assert a.rows == b.rows


def test_pairwise_canaries_for_a_preference_reward(tmp_path: Path) -> None:
    transport = ScriptedTransport(lambda r: a_or_b(0.7))
    reward = PreferenceReward(Judge(transport, {"max_retries": 0, "cache": False}), {"instruction": "Better?"})
    canaries = build_canaries(SETTINGS, reward, tmp_path, AlarmSink(None))
    assert canaries is not None and canaries.pairwise
    _steps(canaries, range(0, 1))
    assert canaries.checks[0]["parse_failure_rate"] == 0.0


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("every", 0, "canaries.every"),
        ("rows", 3, "canaries.rows"),
        ("min_auc", 2, "canaries.min_auc"),
        ("min_shift", "big", "canaries.min_shift"),
        ("on_alarm", "panic", "canaries.on_alarm"),
    ],
)
def test_bad_settings_name_the_key(tmp_path: Path, key: str, value: Any, message: str) -> None:
    reward = RubricReward(Judge(ScriptedTransport(lambda r: yes_no(0.5)), {"cache": False}), _rubric())
    with pytest.raises(ValueError, match=message):
        build_canaries({**SETTINGS, key: value}, reward, tmp_path, AlarmSink(None))


def test_a_served_judge_whose_answers_change_mid_run_trips_the_canaries(tmp_path: Path) -> None:
    """A real HTTP judge (the openai client against a server on 127.0.0.1) swapped between two checks."""
    with FlakyServer(default="ok") as server:
        judge = openai_judge(base_url=server.url, policy={"max_retries": 0, "cache": True})
        reward = RubricReward(judge, _rubric())
        sink = AlarmSink(tmp_path / "alarms.jsonl")
        canaries = build_canaries(SETTINGS, reward, tmp_path, sink)
        assert canaries is not None
        try:
            _steps(canaries, range(0, 5))
            assert sink.raised == []
            served = server.hits
            server.default = 'top:{"no": -0.05, "yes": -3.0}'  # the server now answers "no" to everything
            _steps(canaries, range(5, 7))
        finally:
            judge.close()
    assert server.hits > served  # the checks reached the server: the cache was bypassed
    assert [a.step for a in sink.raised if a.signal == "shift"] == [6]


def test_the_auc_alarm_needs_a_fall_under_min_auc(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    canaries = _canaries(tmp_path, {})  # min_auc 0.5; a check is in .checks when its alarms are decided
    canaries.checks = [{"auc": 0.7}, {"auc": 0.4}]
    assert canaries._fell_under_min_auc({"auc": 0.4, "shift": 0.2}) is True
    assert canaries._fell_under_min_auc({"auc": 0.6, "shift": 0.2}) is False
    assert canaries._fell_under_min_auc({"auc": 0.4, "shift": 0.01}) is False  # the scores' noise, not a change
    canaries.checks = [{"auc": 0.375}]  # under the limit from the start: one warning, no alarm
    assert canaries._fell_under_min_auc({"auc": 0.375, "shift": 0.0}) is False
    assert "AUC 0.375 at the first check" in caplog.text
    canaries.checks = [{"auc": 0.375}, {"auc": 0.2}]
    assert canaries._fell_under_min_auc({"auc": 0.2, "shift": 0.2}) is False


def test_a_bad_canaries_setting_exits_2_before_the_policy_loads(tmp_path: Path) -> None:
    """Through the real entry point: exit 2 naming the key, nothing of the invocation left behind."""
    import subprocess

    run_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "rlaif.train", "canaries.every=0", f"hydra.run.dir={run_dir}"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "canaries.every: input should be greater than 0, got 0" in output
    assert "baseline" not in output  # refused before the policy was loaded and asked anything
    assert not run_dir.exists()
