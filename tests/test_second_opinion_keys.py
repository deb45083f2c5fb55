"""The keys of a second opinion (rlaif.evaluation.second_opinion_keys, docs/judging.md "Second opinions"): one
model, read from the packaged configs in all four places, and every old key mapped onto its new name. The entry
points: tests/test_judge_eval.py (judge@second_opinion.judge; judge@second_judge in its exit-2 check and in
tests/integration/test_judge_eval_vllm.py), tests/test_evaluate.py
(judges.NAME with second_opinions.NAME.seed), tests/test_train.py (canaries.second_opinion.sample from debug=smoke),
tests/test_row_rubric_data.py (monitor.judge, monitor.judge_sample through rlaif.train)."""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_module

from rlaif.errors import ConfigError
from rlaif.evaluation.adapter_plan import second_opinions
from rlaif.evaluation.judge_eval_settings import EvalSettings
from rlaif.evaluation.second_opinion_keys import SecondOpinion, read_second_opinion
from rlaif.judges.base import Judge
from rlaif.monitoring.alarms import AlarmSink
from rlaif.monitoring.canaries import build_canaries
from rlaif.monitoring.settings import monitor_second_opinion, monitor_settings
from rlaif.rewards.rubric import RubricReward
from tests.monitoring.test_canaries import _by_length, _rubric
from tests.rewards.scripted import ScriptedTransport

JUDGE = {"_target_": "x"}


def _compose(name: str, *overrides: str) -> Any:
    with initialize_config_module("rlaif.conf", version_base="1.3"):
        return compose(name, overrides=list(overrides))


def test_the_model_forbids_unknown_keys_and_checks_the_floors_range() -> None:
    assert SecondOpinion() == SecondOpinion(judge=None, sample=None, seed=None, min_agreement=None)
    with pytest.raises(ConfigError, match=r"^where\.smaple: extra inputs are not permitted"):
        read_second_opinion({"smaple": 4}, "where")
    with pytest.raises(ConfigError, match=r"^where\.min_agreement: input should be less than or equal to 1"):
        read_second_opinion({"min_agreement": 1.5}, "where")
    with pytest.raises(ConfigError, match=r"^where\.sample: input should be greater than or equal to 0"):
        read_second_opinion({"sample": -1}, "where")


def test_an_old_key_is_read_as_its_new_name_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    old = {"sample": ("place.old_sample", 8)}
    with caplog.at_level(logging.WARNING, logger="rlaif"):
        first = read_second_opinion({"sample": 16}, "place.new", {"sample": 16}, old)
        again = read_second_opinion({"sample": 16}, "place.new", {"sample": 16}, old)
    assert first.sample == again.sample == 8 and first.key_of("sample") == "place.old_sample"
    assert first.key_of("seed") == "place.new.seed"
    assert caplog.text.count("place.old_sample -> place.new.sample") == 1  # once per process, however often read
    # Both set to the same value: no conflict; to different values: exit 2 naming both keys.
    assert read_second_opinion({"sample": 8}, "place.new", {"sample": 16}, old).sample == 8
    with pytest.raises(ConfigError, match=r"^place\.old_sample \(8\) and place\.new\.sample \(4\) are both set"):
        read_second_opinion({"sample": 4}, "place.new", {"sample": 16}, old)
    # An old key at the new key's default (an older run's saved config, replayed) changes nothing, says nothing.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rlaif"):
        quiet = read_second_opinion({"sample": 16}, "place.new", {"sample": 16}, {"sample": ("place.older", 16)})
    assert quiet.sample == 16 and quiet.key_of("sample") == "place.new.sample" and "place.older" not in caplog.text
    # A bad value under an old key is named by that key.
    with pytest.raises(ConfigError, match=r"^place\.old_sample: input should be greater than or equal to 0"):
        read_second_opinion(None, "place.new", {"sample": 16}, {"sample": ("place.old_sample", -1)})


def test_judge_eval_second_judge_is_second_opinion_judge() -> None:
    old = EvalSettings.from_config(_compose("judge_eval", "judge@second_judge=local")).second_opinion
    new = EvalSettings.from_config(_compose("judge_eval", "judge@second_opinion.judge=local")).second_opinion
    assert old.judge is not None and old.judge["_target_"].endswith("local_judge")
    assert (
        old.model_dump() == new.model_dump()
        and old.key_of("judge") == "second_judge"
        and new.key_of("judge") == "second_opinion.judge"
    )
    assert EvalSettings.from_config(_compose("judge_eval")).second_opinion.model_dump() == SecondOpinion().model_dump()
    with pytest.raises(ConfigError, match=r"^second_opinion\.sample: the second judge grades every labelled item"):
        EvalSettings.from_config(_compose("judge_eval", "second_opinion.sample=3"))
    with pytest.raises(ConfigError, match=r"^judge_eval\.second_judge: the preflight gate asks no second judge"):
        EvalSettings.from_config({"second_judge": JUDGE}, "judge_eval")


def test_evaluate_judges_name_is_second_opinions_name_judge() -> None:
    old = second_opinions(_compose("evaluate", "adapter=x", "+judge@judges.big=local"))
    new = second_opinions(_compose("evaluate", "adapter=x", "+judge@second_opinions.big.judge=local"))
    assert list(old) == list(new) == ["big"] and old["big"].model_dump() == new["big"].model_dump()
    assert old["big"].key_of("judge") == "judges.big" and new["big"].key_of("judge") == "second_opinions.big.judge"
    mixed = second_opinions(_compose("evaluate", "adapter=x", "+judge@judges.big=local", "+second_opinions.big.seed=3"))
    assert mixed["big"].judge == old["big"].judge and mixed["big"].seed == 3  # an old judge, a new seed: one opinion
    with pytest.raises(ConfigError, match=r"^second_opinions\.big\.min_agreement: rlaif\.evaluate reports the"):
        second_opinions(
            _compose("evaluate", "adapter=x", "+judge@judges.big=local", "+second_opinions.big.min_agreement=0.2")
        )


def test_monitor_judge_judge_sample_and_min_agreement_are_monitor_second_opinion() -> None:
    old = _compose("train", "+judge@monitor.judge=local", "monitor.judge_sample=4", "monitor.min_agreement=0.2")
    new = _compose(
        "train",
        "+judge@monitor.second_opinion.judge=local",
        "monitor.second_opinion.sample=4",
        "monitor.second_opinion.min_agreement=0.2",
    )
    assert monitor_second_opinion(old.monitor).model_dump() == monitor_second_opinion(new.monitor).model_dump()
    assert monitor_settings(old.monitor, None, 4) == monitor_settings(new.monitor, None, 4)
    settings = monitor_settings(new.monitor, None, 4)
    assert settings.judge_sample == 4 and settings.rule.min_agreement == 0.2 and settings.judge_seed == 0
    # The defaults are the old ones: no judged monitor, a floor of 0 once one is set up.
    default = monitor_settings(_compose("train").monitor)
    assert default.judge_sample == 0 and default.rule.min_agreement == 0.0
    assert "judge_agreement" not in default.rule.wrong_way
    # Every answer (sample null): judged, never one alone to cut.
    every = monitor_settings({"second_opinion": {"judge": JUDGE, "sample": None}}, None, 4)
    assert every.judge_sample is None and every.rule.wrong_way["judge_agreement"] == "floor"


def _reward() -> tuple[RubricReward, dict[str, Any]]:
    state: dict[str, Any] = {}
    transport = ScriptedTransport(functools.partial(_by_length, state))
    return RubricReward(Judge(transport, {"max_retries": 0, "cache": False}), _rubric()), state


def test_canaries_rows_and_seed_are_canaries_second_opinion(tmp_path: Path) -> None:
    base = {"enabled": True, "every": 2, "on_alarm": "warn"}
    sink = AlarmSink(None)
    old = build_canaries({**base, "rows": 8, "seed": 3}, _reward()[0], tmp_path, sink)
    new = build_canaries({**base, "second_opinion": {"sample": 8, "seed": 3}}, _reward()[0], tmp_path, sink)
    default = build_canaries(base, _reward()[0], tmp_path, sink)
    assert old is not None and new is not None and default is not None
    assert old.rows == new.rows and len(new.rows) == 8 and len(default.rows) == 16
    assert new.rows != build_canaries({**base, "second_opinion": {"sample": 8}}, _reward()[0], tmp_path, sink).rows  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match=r"^canaries\.second_opinion\.judge: the second opinion is the training"):
        build_canaries({**base, "second_opinion": {"judge": JUDGE}}, _reward()[0], tmp_path, sink)
    with pytest.raises(ConfigError, match=r"^canaries\.rows: 3 rows; the canaries need 4 or more"):
        build_canaries({**base, "rows": 3}, _reward()[0], tmp_path, sink)


@pytest.mark.parametrize("floor", [None, 0.0])
def test_the_canaries_floor_alarms_on_first_spearman_only_when_set(tmp_path: Path, floor: float | None) -> None:
    reward, state = _reward()
    settings = {"every": 2, "second_opinion": {"sample": 8, "min_agreement": floor}}
    canaries = build_canaries(settings, reward, tmp_path, AlarmSink(None))
    assert canaries is not None
    for step in (1, 2):
        asyncio.run(canaries.before_reward(step, {}))
    state["flip"] = True  # the judge ranks the canaries the other way at the check of step 3
    asyncio.run(canaries.before_reward(3, {}))
    assert canaries.checks[-1]["first_spearman"] == pytest.approx(-1.0)
    signals = [a.signal for a in canaries.sink.raised]
    assert ("first_spearman" in signals) is (floor is not None) and "shift" in signals
