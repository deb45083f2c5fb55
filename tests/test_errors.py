"""The exit-code contract of every entry point, and the one settings validator (rlaif.errors)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from pydantic import BaseModel, ConfigDict, PositiveInt

from rlaif.errors import (
    EXIT_BAD_INPUT,
    EXIT_ERROR,
    EXIT_THRESHOLDS_FAILED,
    ConfigError,
    DataError,
    InputError,
    JudgeRejectedError,
    NotARunError,
    entry_point,
    parse_settings,
    plain,
)
from rlaif.judges.limits import JudgePolicy
from tests._entry_point import run_train

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


def _instantiated(target: Any, **kwargs: Any) -> InstantiationException:
    """What Hydra raises when building ``target`` with ``kwargs`` fails (the real wrapping, with its traceback)."""
    with pytest.raises(InstantiationException) as info:
        instantiate({"_target_": f"{__name__}.{target.__name__}", **kwargs})
    return info.value


class _Needs:
    def __init__(self, size: int = 1) -> None:
        if size < 1:
            raise ConfigError("reward.size: expected at least 1, got 0")
        self.size = _take(size=size, extra=True) if size > 5 else size  # type: ignore[call-arg]  # a bug past 5


def _take(size: int) -> int:
    return size


def test_hydra_wrapping_keeps_the_cause_deciding(tmp_path: Path) -> None:
    assert run(_instantiated(_Needs, size=0), tmp_path)[0] == EXIT_BAD_INPUT  # the constructor's ConfigError
    assert run(_instantiated(_Needs, foo=1), tmp_path)[0] == EXIT_BAD_INPUT  # +reward.foo=1: a key it does not take
    bug = _instantiated(_Needs, size=6)  # the same words from a call inside the constructor: a bug
    assert "unexpected keyword argument 'extra'" in str(bug)
    assert run(bug, tmp_path)[0] == EXIT_ERROR and "in __init__" in (tmp_path / "FAILED").read_text()


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


# Through the real entry point: set-up errors, before any model loads (a few seconds each).


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (("judge=jury", "judge.quorum=0"), "rlaif: judge.quorum: expected 1 to 2 (the number of members), got 0"),
        (("judge.policy.max_rpm=0",), "rlaif: judge.policy.max_rpm: input should be greater than 0, got 0"),
        (("+reward.foo=1",), "rlaif: reward: RubricReward.__init__() got an unexpected keyword argument 'foo'"),
    ],
)
def test_a_bad_key_met_inside_a_constructor_exits_2_in_one_line(
    tmp_path: Path, overrides: tuple[str, ...], line: str
) -> None:
    run_dir = tmp_path / "run"
    result = run_train(*overrides, f"hydra.run.dir={run_dir}", timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_BAD_INPUT, output[-3000:]
    assert output.rstrip().endswith(line), output[-3000:]  # the message alone, the last line
    assert "Error in call to target" not in output and "full_key" not in output
    assert not run_dir.exists()


def test_a_type_error_from_a_bug_inside_a_constructor_exits_1_with_its_traceback(tmp_path: Path) -> None:
    # A user's own reward class with a bug: a call inside its constructor passes a keyword the callee lacks. Python's
    # words are those of a config key the class does not take, but this is no bad input: exit 1, traceback kept.
    (tmp_path / "buggy_reward.py").write_text(
        "def _helper(x):\n    return x\n\n\nclass BuggyReward:\n"
        "    def __init__(self, **kwargs):\n        _helper(x=1, y=2)\n"
    )
    run_dir = tmp_path / "run"
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    result = run_train("reward._target_=buggy_reward.BuggyReward", f"hydra.run.dir={run_dir}", env={"PYTHONPATH": path})
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_ERROR, output[-3000:]
    said = "rlaif: reward: TypeError: _helper() got an unexpected keyword argument 'y'"
    assert f"{said} (traceback in {run_dir}" in output
    failed = (run_dir / "FAILED").read_text()
    assert failed.startswith("Traceback") and f'{tmp_path / "buggy_reward.py"}", line 7, in __init__' in failed


def test_both_readers_of_a_run_folder_refuse_a_non_run_with_the_one_not_a_run_error(tmp_path: Path) -> None:
    # python -m rlaif.report and python -m rlaif.monitor catch it as bad input (exit 2): one class, from rlaif.errors.
    from rlaif.monitoring.replay import read_steps
    from rlaif.reporting.run_files import read_run

    for read in (read_run, read_steps):
        with pytest.raises(NotARunError, match="not a run folder"):
            read(tmp_path)
    assert issubclass(NotARunError, InputError)


def test_plain_turns_hydra_nodes_into_plain_values_resolved_and_leaves_the_rest() -> None:
    from omegaconf import DictConfig, ListConfig, OmegaConf

    node = OmegaConf.create({"a": 1, "b": "${a}", "c": [{"d": "${a}"}]})
    value = plain(node)
    assert value == {"a": 1, "b": 1, "c": [{"d": 1}]} and type(value) is dict
    assert not isinstance(value["c"], ListConfig) and not isinstance(value["c"][0], DictConfig)
    assert plain(OmegaConf.create([1, "x"])) == [1, "x"]
    kept = {"k": 1}
    assert plain(kept) is kept and plain(None) is None
