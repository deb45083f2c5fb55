"""The on-topic gate (MentionsQuestion) measured on labelled answers to the default data's questions.

``tests/rewards/data/on_topic_gate.jsonl`` holds terse correct answers (label pass, kind ``terse``), the
kind of non-answer the e6 run learned (label fail, kind ``non_answer``, docs/judging.md) and evasions that
name the question's subject (kind ``echo_evasion``: a limit of the gate, reported, not asserted). Each row
names a row of ``rlaif/data/prompts/default.jsonl`` or ``default_eval.jsonl`` by id, whose question and
reference answer it is graded against. Print the rates, before (question words only) and after (the
reference too), with ``python tests/rewards/test_on_topic_gate.py``; docs/judging.md quotes them, and the
tests below fail when the measured rates leave what the docs state.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from rlaif.rewards.conversation import question_text, reference_text
from rlaif.rewards.on_topic import MentionsQuestion

CASES = Path(__file__).parent / "data" / "on_topic_gate.jsonl"
# What docs/judging.md states for the shipped rule (with the reference); the old rule is reported beside.
MAX_FALSE_NEGATIVE_RATE = 0.10
MAX_FALSE_POSITIVE_RATE = 0.0  # on the listed (non-answer, question) pairs
MAX_CROSS_FALSE_POSITIVE_RATE = 0.03  # each non-answer against every question of the default data


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def default_rows() -> dict[str, tuple[str, str | None]]:
    """id -> (question, reference) for the default training and held-out prompts."""
    rows = {}
    for name in ("default", "default_eval"):
        for row in _jsonl(Path(str(files("rlaif.data") / "prompts" / f"{name}.jsonl"))):
            rows[row["id"]] = (question_text(row["messages"]), reference_text(row.get("reference_answer")))
    return rows


def _passes(check: MentionsQuestion, answer: str, row: tuple[str, str | None]) -> bool:
    question, reference = row
    return check(answer, question, reference=reference).passed


def measure(use_reference: bool) -> dict[str, float]:
    """Pass rates by kind, and the cross rate: every non-answer against every question."""
    check, rows, cases = MentionsQuestion(use_reference=use_reference), default_rows(), _jsonl(CASES)
    rates: dict[str, float] = {}
    for kind in ("terse", "non_answer", "echo_evasion"):
        passed = [_passes(check, c["response"], rows[c["row"]]) for c in cases if c["kind"] == kind]
        rates[f"{kind}_pass_rate"] = sum(passed) / len(passed)
        rates[f"{kind}_n"] = len(passed)
    non_answers = sorted({c["response"] for c in cases if c["kind"] == "non_answer"})
    cross = [_passes(check, answer, row) for answer in non_answers for row in rows.values()]
    rates["cross_pass_rate"], rates["cross_n"] = sum(cross) / len(cross), len(cross)
    return rates


@pytest.fixture(scope="module")
def shipped() -> dict[str, float]:
    return measure(use_reference=True)


def test_the_set_is_big_enough_and_names_real_rows() -> None:
    rows, cases = default_rows(), _jsonl(CASES)
    assert all(c["row"] in rows for c in cases)
    assert all(c["label"] == ("pass" if c["kind"] == "terse" else "fail") for c in cases)
    assert sum(c["kind"] == "terse" for c in cases) >= 50
    assert sum(c["kind"] == "non_answer" for c in cases) >= 30
    assert all(len(c["response"].split()) <= 4 for c in cases if c["kind"] == "terse")


def test_false_negatives_on_terse_correct_answers(shipped: dict[str, float]) -> None:
    assert 1.0 - shipped["terse_pass_rate"] <= MAX_FALSE_NEGATIVE_RATE


def test_no_false_positives_on_e6_like_non_answers(shipped: dict[str, float]) -> None:
    assert shipped["non_answer_pass_rate"] <= MAX_FALSE_POSITIVE_RATE
    assert shipped["cross_pass_rate"] <= MAX_CROSS_FALSE_POSITIVE_RATE


def test_a_correct_answer_the_question_words_passed_still_passes() -> None:
    """The question-word rule decides first; the reference only adds passes, except on a question with no
    subject words, which the old rule let through whatever the answer (tested in test_checks.py)."""
    old, new = MentionsQuestion(use_reference=False), MentionsQuestion()
    rows = default_rows()
    for case in _jsonl(CASES):
        if case["kind"] == "terse" and _passes(old, case["response"], rows[case["row"]]):
            assert _passes(new, case["response"], rows[case["row"]])


def main() -> None:
    for label, use_reference in (("question words only (before)", False), ("with the reference (shipped)", True)):
        r = measure(use_reference)
        print(
            f"{label}: false negatives {1 - r['terse_pass_rate']:.1%} of {r['terse_n']:.0f} terse correct answers; "
            f"false positives {r['non_answer_pass_rate']:.1%} of {r['non_answer_n']:.0f} e6-like non-answers, "
            f"{r['cross_pass_rate']:.1%} of {r['cross_n']:.0f} when each is given to every question; "
            f"echo evasions passed {r['echo_evasion_pass_rate']:.0%} of {r['echo_evasion_n']:.0f}"
        )


if __name__ == "__main__":
    main()
