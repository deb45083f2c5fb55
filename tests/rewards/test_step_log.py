"""The length Spearman metric (a metric, not an alarm), and judge errors reaching the console."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from types import SimpleNamespace

import pytest

from rlaif.rewards.correlation import spearman
from rlaif.rewards.grades import Grade
from rlaif.rewards.run_log import ERRORS_IN_FULL, RewardLog
from rlaif.rewards.step_log import RewardStep, length_spearman, log_step


def test_spearman_is_none_where_scipy_has_no_value() -> None:
    # scipy's spearmanr is nan (with a warning) for a constant side or one value: rlaif's contract is None.
    assert spearman([1, 1, 1], [1, 2, 3]) is None and spearman([1], [2]) is None
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486832980505138)  # ties share a rank
    with pytest.raises(ValueError, match="2 and 3 values"):
        spearman([1, 2], [1, 2, 3])


def test_length_spearman_averages_groups_and_skips_small_or_unscored_ones() -> None:
    prompts = ["p", "p", "p", "q", "q", "q", "r", "r"]
    answers = ["a", "aa", "aaa", "a", "aa", "aaa", "a", "aa"]
    scores = [0.1, 0.2, 0.3, 0.3, 0.2, 0.1, 0.0, 1.0]
    assert length_spearman(prompts, answers, scores) == pytest.approx(0.0)  # +1 and -1; r has only 2
    assert length_spearman(prompts[:3], answers[:3], [0.1, None, 0.3]) is None


# -- judge errors on the console ------------------------------------------------------------------


def failing_step(failed: int, ok: int = 1, name: str = "rubric") -> RewardStep:
    grades = [Grade(None, error=f"judge error: HTTP 500 #{k}") for k in range(failed)] + [Grade(1.0)] * ok
    grades.append(Grade(None, error="unpaired: no opponent", judged=False))  # decided without the judge: not shown
    n = len(grades)
    return RewardStep(name, ["p"] * n, ["a"] * n, grades, [g.score for g in grades])


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "rlaif.rewards" and r.levelno == logging.WARNING]


def run_steps(log: RewardLog, failed_per_step: list[int], caplog: pytest.LogCaptureFixture) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rlaif.rewards"):
        for step, failed in enumerate(failed_per_step, start=1):  # TRL's step numbers: global_step + 1
            log_step(failing_step(failed), {"trainer_state": SimpleNamespace(global_step=step - 1)}, None, log)
    return warnings(caplog)


def test_first_judge_errors_in_full_then_one_count_per_step(caplog: pytest.LogCaptureFixture) -> None:
    lines = run_steps(RewardLog(None), [3, 0, 4, 6, 1], caplog)
    full = [m for m in lines if "shown in full" in m]
    counts = [m for m in lines if "judged answers failed" in m]
    assert len(full) == ERRORS_IN_FULL and len(lines) == ERRORS_IN_FULL + len(counts)
    assert "HTTP 500 #0" in full[0] and "step 1" in full[0] and "1/5" in full[0]
    assert "step 3" in full[-1] and "HTTP 500 #1" in full[-1]  # 3 from step 1, then 2 of step 3's 4
    assert counts == [
        "reward rubric, step 3: 4 of 5 judged answers failed; latest error: judge error: HTTP 500 #3",
        "reward rubric, step 4: 6 of 7 judged answers failed; latest error: judge error: HTTP 500 #5",
        "reward rubric, step 5: 1 of 2 judged answers failed; latest error: judge error: HTTP 500 #0",
    ]
    assert not any("unpaired" in m for m in lines)


def test_each_reward_counts_its_own_errors_and_a_copy_starts_afresh(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    log = RewardLog(tmp_path / "rewards.jsonl")
    assert len(run_steps(log, [ERRORS_IN_FULL], caplog)) == ERRORS_IN_FULL
    assert run_steps(log, [2], caplog) == [
        "reward rubric, step 1: 2 of 3 judged answers failed; latest error: judge error: HTTP 500 #1"
    ]
    other = RewardLog(None)  # another reward in the same process has its own budget
    assert sum("shown in full" in m for m in run_steps(other, [1], caplog)) == 1
    copy = pickle.loads(pickle.dumps(log))  # as in another process: pickles as before, counts its own
    assert sum("shown in full" in m for m in run_steps(copy, [2], caplog)) == 2
    rows = (ERRORS_IN_FULL + 2) + 2 * (2 + 2)  # failed + 1 ok + 1 unpaired per step; the copy writes on
    assert len((tmp_path / "rewards.jsonl").read_text().splitlines()) == rows


def test_a_step_without_judge_errors_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    assert run_steps(RewardLog(None), [0, 0], caplog) == []
