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

from rlaif.errors import ConfigError
from rlaif.judges.backends.openai_compat import openai_judge
from rlaif.judges.base import Judge
from rlaif.monitoring.alarms import AlarmSink, AlarmStopError
from rlaif.monitoring.canaries import Canaries, build_canaries
from rlaif.rewards.preference import PreferenceReward
from rlaif.rewards.row_rubric import RowRubricReward
from rlaif.rewards.rubric import RubricReward
from tests import _forkserver as forked
from tests.judges._flaky_server import FlakyServer
from tests.rewards.scripted import ScriptedTransport, a_or_b, fenced, text_reply, yes_no

SETTINGS = {"enabled": True, "every": 2, "rows": 8, "seed": 0, "on_alarm": "warn"}


def _rubric() -> dict[str, Any]:
    with initialize_config_module(config_module="rlaif.conf", version_base="1.3"):
        cfg = compose(config_name="train")
    return dict(cfg.rubric)


def _by_length(state: dict[str, Any], request: Any) -> Any:
    """P(yes) from the answer's length; ``state["flip"]`` inverts it (a judge swapped under the run)."""
    p = min(0.95, max(0.05, len(fenced(request)) / 120))
    if state.get("garbage") or (state.get("half_garbage") and p < 0.5):
        return text_reply("The weather is nice today.")
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
    _steps(canaries, range(1, 21))  # checks at 1, 3, ..., 19 (the first step, then every 2): ten of them
    assert [c["step"] for c in canaries.checks] == list(range(1, 21, 2))
    assert canaries.sink.raised == []
    assert all(c["shift"] == 0.0 for c in canaries.checks)
    lines = [json.loads(x) for x in (tmp_path / "canaries.jsonl").read_text().splitlines()]
    assert len(lines) == 10 and set(lines[0]) >= {"auc", "pass_rate_on_passes", "pass_rate_on_fails", "shift"}
    # The judge as a second opinion on itself at the first check (rlaif.evaluation.second_opinion): unchanged.
    assert all(c["first_agreement"] == 1.0 and c["first_spearman"] == pytest.approx(1.0) for c in lines)


def test_a_judge_that_changes_raises_the_alarm_at_the_next_check(tmp_path: Path) -> None:
    state: dict[str, Any] = {}
    canaries = _canaries(tmp_path, state)
    _steps(canaries, range(1, 6))
    state["flip"] = True  # between the checks of step 5 and step 7
    _steps(canaries, range(6, 8))
    alarms = canaries.sink.raised
    assert alarms and {a.step for a in alarms} == {7}
    assert "shift" in {a.signal for a in alarms}
    assert canaries.checks[-1]["first_spearman"] == pytest.approx(-1.0)  # the flipped judge ranks them the other way
    assert canaries.checks[-1]["first_agreement"] < canaries.checks[0]["first_agreement"] == 1.0
    written = [json.loads(x) for x in (tmp_path / "alarms.jsonl").read_text().splitlines()]
    assert written[0]["source"] == "canaries" and written[0]["step"] == 7


def test_a_judge_returning_garbage_raises_the_parse_alarm(tmp_path: Path) -> None:
    state: dict[str, Any] = {}
    canaries = _canaries(tmp_path, state)
    _steps(canaries, range(1, 2))
    state["garbage"] = True
    _steps(canaries, range(3, 4))
    assert "parse_failure_rate" in {a.signal for a in canaries.sink.raised}


def test_stop_raises_alarm_stop_error(tmp_path: Path) -> None:
    state: dict[str, Any] = {}
    canaries = _canaries(tmp_path, state, on_alarm="stop")
    _steps(canaries, range(1, 2))
    state["flip"] = True
    with pytest.raises(AlarmStopError, match="canaries alarm at step 3"):
        _steps(canaries, range(3, 4))


def test_checks_bypass_the_cache(tmp_path: Path) -> None:
    canaries = _canaries(tmp_path, {}, cache=True)
    transport = canaries.transport  # type: ignore[attr-defined]
    _steps(canaries, range(1, 2))
    first = len(transport.requests)
    _steps(canaries, range(3, 4))
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
    _steps(canaries, range(1, 2))
    assert canaries.checks[0]["parse_failure_rate"] == 0.0


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("every", 0, "canaries.every"),
        ("rows", 3, "canaries.rows"),
        ("min_auc", 0.5, "canaries.min_auc"),  # the AUC alarm is gone: its key is refused, not ignored
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
            _steps(canaries, range(1, 6))
            assert sink.raised == []
            served = server.hits
            server.default = 'top:{"no": -0.05, "yes": -3.0}'  # the server now answers "no" to everything
            _steps(canaries, range(6, 8))
        finally:
            judge.close()
    assert server.hits > served  # the checks reached the server: the cache was bypassed
    assert [a.step for a in sink.raised if a.signal == "shift"] == [7]


def test_an_auc_that_falls_comes_with_a_shift_so_the_shift_alarm_is_the_one_alarm(tmp_path: Path) -> None:
    """Why there is no AUC alarm: the AUC of a few rows moves with the judge's noise alone (0.5 -> 0.375 on a real
    vLLM server, same judge), so the AUC alarm had to wait for the scores to move beyond their noise too, which
    is the shift alarm's own condition: it could never fire without it. A judge that turns against the labels
    (its AUC falls from above 0.5 to under it) is caught by the shift alarm at that check."""
    state: dict[str, Any] = {}
    canaries = _canaries(tmp_path, state)
    _steps(canaries, range(1, 2))
    state["flip"] = True
    _steps(canaries, range(3, 4))
    first, fallen = canaries.checks
    assert first["auc"] > 0.5 > fallen["auc"]
    assert [(a.step, a.signal) for a in canaries.sink.raised] == [(3, "shift")]
    assert not hasattr(canaries, "min_auc")


def test_a_stop_writes_every_alarm_of_the_check_before_it_stops(tmp_path: Path) -> None:
    """Half the answers get garbage, the others inverted scores: the shift and the parse alarm fire at one check,
    and under on_alarm=stop both are written (and the check's line) before the stop."""
    state: dict[str, Any] = {}
    canaries = _canaries(tmp_path, state, on_alarm="stop")
    _steps(canaries, range(1, 2))
    state["flip"], state["half_garbage"] = True, True
    with pytest.raises(AlarmStopError, match="1 more alarm"):
        _steps(canaries, range(3, 4))
    written = [json.loads(x) for x in (tmp_path / "alarms.jsonl").read_text().splitlines()]
    assert sorted(a["signal"] for a in written) == ["parse_failure_rate", "shift"] and {a["step"] for a in written} == {
        3
    }
    assert len((tmp_path / "canaries.jsonl").read_text().splitlines()) == 2


def test_a_resumed_run_keeps_the_first_check_and_checks_at_its_first_step(tmp_path: Path) -> None:
    """The first check (scores and noise) is saved in the run folder; canaries built for a resumed run compare
    with it, and check at the first step after the resume, whatever ``every`` says: a judge swapped while the
    run was down alarms there, instead of becoming the new first check."""
    state: dict[str, Any] = {}
    _steps(_canaries(tmp_path, state), range(1, 4))  # checks at 1 and 3, then the run dies
    saved = json.loads((tmp_path / "canaries_first.json").read_text())
    assert saved["step"] == 1 and len(saved["scores"]) == 8
    state["flip"] = True  # swapped during the outage
    resumed = _canaries(tmp_path, state)
    assert resumed.resume() is True
    _steps(resumed, range(4, 5))  # the resumed run's first step (4: no check there under every=2)
    assert [(a.step, a.signal) for a in resumed.sink.raised] == [(4, "shift")]
    fresh = _canaries(tmp_path / "other", state)  # without the saved first check the flipped judge looks normal
    (tmp_path / "other").mkdir()
    assert fresh.resume() is False
    _steps(fresh, range(4, 6))
    assert fresh.sink.raised == []


def test_a_check_counts_its_own_judge_requests_apart_from_the_rewards(tmp_path: Path) -> None:
    canaries = _canaries(tmp_path, {})
    judge = canaries.reward.judge
    _steps(canaries, range(1, 2))
    check = canaries.checks[0]
    assert check["judge_requests"] == len(canaries.transport.requests) > 0  # type: ignore[attr-defined]
    assert judge.metrics.drain()["requests"] == 0  # the reward's judge/* of the step will not count them
    assert canaries.take_requests() == (check["judge_requests"], check["judge_requests"])
    assert canaries.take_requests() == (0.0, 0.0)


def _rubric_named(name: str) -> dict[str, Any]:
    with initialize_config_module(config_module="rlaif.conf", version_base="1.3"):
        return dict(compose(config_name="train", overrides=[f"rubric={name}"]).rubric)


def test_a_rubric_whose_criteria_have_labelled_rows_gets_them(tmp_path: Path) -> None:
    """rubric=helpfulness shares the criterion ``concise`` with the packaged set: the canaries use its rows
    (labels that apply), not the whole-answer rows written for rubric=everyday."""
    reward = RubricReward(
        Judge(ScriptedTransport(lambda r: yes_no(0.5)), {"cache": False}), _rubric_named("helpfulness")
    )
    canaries = build_canaries(SETTINGS, reward, tmp_path, AlarmSink(None))
    assert canaries is not None and canaries.labels_apply
    assert {r["criterion"] for r in canaries.rows} == {"concise"}


def test_a_rubric_without_labelled_rows_is_told_so_at_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """(Through the entry point: tests/test_train_faults.py's kill -9 run uses rubric=reference_qa.)"""
    reward = RubricReward(
        Judge(ScriptedTransport(lambda r: yes_no(0.5)), {"cache": False}), _rubric_named("reference_qa")
    )
    canaries = build_canaries(SETTINGS, reward, tmp_path, AlarmSink(None))
    assert canaries is not None and not canaries.labels_apply
    assert "has no labelled rows for rubric reference_qa" in caplog.text and "no AUC or pass rate" in caplog.text
    _steps(canaries, range(1, 2))
    assert canaries.checks[0]["auc"] is None and canaries.checks[0]["pass_rate_on_passes"] is None
    assert canaries.checks[0]["parse_failure_rate"] == 0.0  # drift and parse failures are still watched


def test_a_bad_canaries_setting_exits_2_before_the_policy_loads(tmp_path: Path) -> None:
    """Through the real entry point: exit 2 naming the key, nothing of the invocation left behind."""
    run_dir = tmp_path / "run"
    result = forked.run(
        [sys.executable, "-m", "rlaif.train", "canaries.every=0", f"hydra.run.dir={run_dir}"],
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "canaries.every: input should be greater than 0, got 0" in output
    assert "baseline" not in output  # refused before the policy was loaded and asked anything
    assert not run_dir.exists()


def _row_rubric_canaries(tmp_path: Path, state: dict[str, Any], settings: dict[str, Any] = SETTINGS) -> Canaries:
    reward = RowRubricReward(Judge(ScriptedTransport(functools.partial(_by_length, state)), {"cache": False}))
    canaries = build_canaries(settings, reward, tmp_path, AlarmSink(tmp_path / "alarms.jsonl", "warn"))
    assert canaries is not None
    return canaries


def test_row_rubric_canaries_grade_the_shipped_items_half_met_and_alarm_on_a_change(tmp_path: Path) -> None:
    """reward=row_rubric: rows of packaged:everyday_items, each graded as a one-item rubric (its P(met)); the
    labels apply, so the AUC is measured; a judge swapped under the run moves the scores and alarms."""
    state: dict[str, Any] = {}
    canaries = _row_rubric_canaries(tmp_path, state)
    assert canaries.labels_apply and {"item", "met"} <= set(canaries.rows[0])
    assert [r["met"] for r in canaries.rows].count(True) == 4 and len(canaries.rows) == 8
    _steps(canaries, range(1, 4))  # checks at steps 1 and 3: the same judge, no alarm
    first = canaries.checks[0]
    assert first["parse_failure_rate"] == 0.0 and first["auc"] is not None and first["shift"] == 0.0
    assert first["judge_requests"] == 16  # 8 one-item rubrics, twice (the first check's noise)
    assert not (tmp_path / "alarms.jsonl").exists()
    state["flip"] = True
    _steps(canaries, range(4, 6))
    alarms = [json.loads(line) for line in (tmp_path / "alarms.jsonl").read_text().splitlines()]
    assert [a["signal"] for a in alarms] == ["shift"] and alarms[0]["step"] == 5


def test_row_rubric_canaries_refuse_a_set_that_is_not_of_items(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"canaries\.items_labelled: .* is a pointwise set"):
        _row_rubric_canaries(tmp_path, {}, {**SETTINGS, "items_labelled": "packaged:everyday_pointwise"})
