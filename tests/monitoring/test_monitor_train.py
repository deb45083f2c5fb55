"""A bad monitor setting stops ``python -m rlaif.train`` before anything loads: exit 2 naming the key, nothing left."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlaif.errors import ConfigError
from rlaif.monitoring.settings import monitor_settings
from tests._entry_point import run_train


def test_a_judge_sample_that_leaves_an_answer_alone_in_its_group_exits_2(tmp_path: Path) -> None:
    """A bad monitor setting stops the run before anything loads: exit 2 naming the key, nothing left behind. Here
    the one that needs the GRPO config to be seen: the second judge's agreement is ranked within each prompt's
    group (grpo.num_generations answers), and 5 answers of groups of 4 leave one with nothing to be ranked against.
    (A key's own type or range, e.g. monitor.on_alarm=panic, goes the same way: the unit test below.)"""
    run_dir = tmp_path / "run"
    result = run_train(
        "+judge@monitor.judge=local", "monitor.judge_sample=5", "grpo.num_generations=4", f"hydra.run.dir={run_dir}"
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert (
        "monitor.judge_sample: 5 answers a reward call are 1 whole group(s) of 4 (grpo.num_generations) and 1 answer"
        in output
    )
    assert not run_dir.exists()


def test_a_bad_monitor_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"monitor\.on_alarm: input should be 'warn' or 'stop', got 'panic'"):
        monitor_settings({"on_alarm": "panic"})


@pytest.mark.parametrize(("sample", "size"), [(1, None), (1, 4), (9, 4), (3, 2)])
def test_a_judge_sample_that_can_never_rank_an_answer_is_refused(sample: int, size: int | None) -> None:
    with pytest.raises(ConfigError, match=f"monitor.judge_sample: {sample} answers"):
        monitor_settings({"judge": {"_target_": "x"}, "judge_sample": sample}, None, size)


@pytest.mark.parametrize(("sample", "size"), [(2, None), (2, 4), (4, 4), (8, 4), (6, 4)])
def test_a_judge_sample_of_two_or_more_per_group_is_accepted(sample: int, size: int | None) -> None:
    assert monitor_settings({"judge": {"_target_": "x"}, "judge_sample": sample}, None, size).judge_sample == sample
