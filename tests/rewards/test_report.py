"""The length-hacking alarm's statistics."""

from __future__ import annotations

import pytest

from rlaif.rewards.report import length_spearman, spearman


def test_spearman() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486832980505138)  # ties share a rank
    assert spearman([1, 1, 1], [1, 2, 3]) is None and spearman([1], [2]) is None


def test_length_spearman_averages_groups_and_skips_small_or_unscored_ones() -> None:
    prompts = ["p", "p", "p", "q", "q", "q", "r", "r"]
    answers = ["a", "aa", "aaa", "a", "aa", "aaa", "a", "aa"]
    scores = [0.1, 0.2, 0.3, 0.3, 0.2, 0.1, 0.0, 1.0]
    assert length_spearman(prompts, answers, scores) == pytest.approx(0.0)  # +1 and -1; r has only 2
    assert length_spearman(prompts[:3], answers[:3], [0.1, None, 0.3]) is None
