"""The exit-code contract of every entry point, and the one settings validator (rlaif.errors)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hydra.errors import InstantiationException
from pydantic import BaseModel, ConfigDict, PositiveInt

from rlaif.errors import (
    EXIT_BAD_INPUT,
    EXIT_ERROR,
    EXIT_THRESHOLDS_FAILED,
    ConfigError,
    DataError,
    JudgeRejectedError,
    entry_point,
    parse_settings,
)
from rlaif.judges.limits import JudgePolicy

log = logging.getLogger("test")


def run(exc: BaseException, tmp_path: Path) -> tuple[int, list[Path]]:
    removed: list[Path] = []
    with pytest.raises(SystemExit) as info, entry_point(tmp_path, log, removed.append):
        raise exc
    return int(info.value.code or 0), removed


def test_bad_input_exits_2_without_a_traceback_and_clears_what_the_run_created(tmp_path: Path) -> None:
    code, removed = run(DataError("data.jsonl:3: missing field 'messages'"), tmp_path)
    assert code == EXIT_BAD_INPUT and removed == [tmp_path] and not (tmp_path / "FAILED").exists()


def test_a_bug_exits_1_with_its_traceback_even_when_it_is_a_value_error(tmp_path: Path) -> None:
    # A ValueError from a bug is not bad input: it keeps its traceback and nothing is removed.
    code, removed = run(ValueError("list index out of range somewhere"), tmp_path)
    assert code == EXIT_ERROR and removed == []
    assert "ValueError: list index out of range somewhere" in (tmp_path / "FAILED").read_text()


def test_hydra_wrapping_keeps_the_cause_deciding(tmp_path: Path) -> None:
    wrapped_input = InstantiationException("Error in call to target")
    wrapped_input.__cause__ = ConfigError("judge.members: a jury needs at least one member")
    assert run(wrapped_input, tmp_path)[0] == EXIT_BAD_INPUT
    wrapped_key = InstantiationException("Error in call to target")
    wrapped_key.__cause__ = TypeError("RubricReward.__init__() got an unexpected keyword argument 'foo'")
    assert run(wrapped_key, tmp_path)[0] == EXIT_BAD_INPUT  # +reward.foo=1: a key the target does not take
    wrapped_bug = InstantiationException("Error in call to target")
    wrapped_bug.__cause__ = TypeError("unsupported operand")
    assert run(wrapped_bug, tmp_path)[0] == EXIT_ERROR


def test_a_rejected_judge_exits_3(tmp_path: Path) -> None:
    assert run(JudgeRejectedError("auc 0.52 < min_auc 0.6"), tmp_path)[0] == EXIT_THRESHOLDS_FAILED


def test_ctrl_c_passes_through_and_marks_the_folder(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), entry_point(tmp_path, log):
        raise KeyboardInterrupt
    assert (tmp_path / "FAILED").is_file()


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    size: PositiveInt = 1


class _Keys(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = "x"
    block: _Block = _Block()


def test_parse_settings_names_every_bad_key_by_its_path_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(_Keys, {"name": 3, "block": {"size": 0, "sise": 2}, "extra": True}, "group")
    problems = str(info.value).split("; ")
    assert problems == [
        "group.name: input should be a valid string, got 3",
        "group.block.size: input should be greater than 0, got 0",
        "group.block.sise: extra inputs are not permitted, got 2",
        "group.extra: extra inputs are not permitted, got True",
    ]
    assert parse_settings(_Keys, {"block": {"size": 4}}, "group").block.size == 4


def test_the_judge_policy_is_checked_the_same_way() -> None:
    with pytest.raises(ConfigError) as info:
        JudgePolicy.parse({"timeout_s": "fast", "max_retries": -1, "retries": 3})
    message = str(info.value)
    assert "judge.policy.timeout_s: input should be a valid number, got 'fast'" in message
    assert "judge.policy.max_retries: input should be greater than or equal to 0, got -1" in message
    assert "judge.policy.retries:" in message
    assert JudgePolicy.parse({"timeout_s": 5}).timeout_s == 5.0 and JudgePolicy.parse(None) == JudgePolicy()
