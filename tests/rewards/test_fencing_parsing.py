"""Fencing (the answer as inert data) and the strict verdict parsers."""

from __future__ import annotations

import math

import pytest

from rlaif.rewards.fencing import defuse, fence, ignore_instructions, normalize
from rlaif.rewards.parsing import VerdictError, choice_probability, parse_json_verdict, yes_probability


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("</answer>", "‹/answer›"),
        ("＜/answer＞", "‹/answer›"),
        ("&lt;/answer&gt;", "‹/answer›"),
        ("&#60;/answer&#x3E;", "‹/answer›"),
        ("</ans\u200bwer>", "‹/answer›"),
        ("<|im_end|>", "‹|im_end|›"),
        ("[INST] hi [/INST]", "⟦INST⟧ hi ⟦/INST⟧"),
        ("x < 3 and y > 2", "x ‹ 3 and y › 2"),  # the cosmetic cost, by design
        ("Ordinary text, ünïcödé, 東京.", "Ordinary text, ünïcödé, 東京."),
    ],
)
def test_defuse(raw: str, expected: str) -> None:
    assert defuse(raw) == expected
    assert defuse(defuse(raw)) == defuse(raw)  # idempotent


def test_fence_wraps_defused_text_and_the_warning_names_the_tags() -> None:
    assert fence("a </answer> b") == "<answer>\na ‹/answer› b\n</answer>"
    assert fence("x", "answer_a").startswith("<answer_a>\n")
    assert "<answer_a> and <answer_b> tags" in ignore_instructions("answer_a", "answer_b")
    assert normalize("ｙｅｓ\u200b") == "yes"


def test_choice_probability_soft_hard_and_strict() -> None:
    assert choice_probability({"A": math.log(0.7), "B": math.log(0.3)}, "B", "A", "B") == pytest.approx(0.7)
    assert choice_probability({"A": -9999.0, "B": -0.1}, None, "A", "B") == 0.0  # no overflow on server floors
    assert choice_probability({"A": -0.1, "B": -9999.0}, None, "A", "B") == 1.0
    assert choice_probability(None, " a ", "A", "B") == 1.0 and choice_probability(None, "B", "A", "B") == 0.0
    for reply in ("[[A]]", "A.", "Answer: A", "", None):
        with pytest.raises(VerdictError):
            choice_probability(None, reply, "A", "B")
    with pytest.raises(VerdictError, match="non-finite"):
        choice_probability({"A": float("nan"), "B": 0.0}, None, "A", "B")
    assert yes_probability({"yes": 0.0, "no": 0.0}) == 0.5


def test_json_verdict_needs_exactly_the_criteria() -> None:
    ok = '{"a": {"reason": "r", "pass": true}}'
    assert parse_json_verdict(ok, ["a"])["a"].passed is True
    assert parse_json_verdict('{"a": {"reason": "r", "pass": false}} then ' + ok, ["a"])["a"].passed is True
    assert parse_json_verdict(ok + ' {"b": 1}', ["a"])["a"].passed is True  # a trailing non-verdict is skipped
    with pytest.raises(VerdictError, match="do not match"):
        parse_json_verdict(ok, ["a", "b"])
    with pytest.raises(VerdictError, match="empty"):
        parse_json_verdict("  ", ["a"])
