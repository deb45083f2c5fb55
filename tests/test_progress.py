"""Progress bars for judge_eval, evaluate and the baseline check: shown on a terminal, silent in CI and logs."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Sequence
from typing import Any

import pytest

from rlaif.evaluation.labelled_sets import judge_items
from rlaif.rewards.grades import Grade
from rlaif.runs.progress import progress, watching


class Terminal(io.StringIO):
    """A stream that says it is a TTY, as a terminal does."""

    def isatty(self) -> bool:
        return True


def test_a_bar_shows_on_a_terminal_and_nowhere_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    terminal, log_file = Terminal(), io.StringIO()
    assert watching(terminal) and not watching(log_file)
    for stream in (terminal, log_file):
        with progress(5, "judging things", stream=stream) as bar:
            bar.update(5)
    assert "judging things" in terminal.getvalue() and "5/5" in terminal.getvalue()
    assert log_file.getvalue() == ""


@pytest.mark.parametrize("value", ["true", "TRUE", "1"])
def test_ci_silences_the_bar_even_on_a_terminal(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    terminal = Terminal()
    with progress(3, "judging", stream=terminal) as bar:
        bar.update(3)
    assert not watching(terminal) and terminal.getvalue() == ""


class CountingReward:
    """A scripted reward (unit test only): every answer passes."""

    async def grade(self, prompts: Sequence[Any], answers: Sequence[str], refs: Sequence[Any]) -> list[Grade]:
        return [Grade(1.0, {"ok": 1.0}) for _ in answers]


def test_judging_a_labelled_set_shows_its_bar_with_the_total(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    rows = [{"prompt": f"q{i}", "response": f"a{i}"} for i in range(7)]
    verdicts = asyncio.run(judge_items(CountingReward(), rows, pairwise=False, batch_size=3, what="canaries"))
    assert verdicts.scores == [1.0] * 7
    shown = terminal.getvalue()
    assert "judging canaries" in shown and "0/7" in shown and "7/7" in shown
