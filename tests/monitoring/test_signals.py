"""The monitor's signals on constructed rollouts: each one measures what its name says."""

from __future__ import annotations

import pytest

from rlaif.monitoring.signals import Rollout, all_equal_groups, empty_or_refusal, repetition, step_signals


def _r(answer: str, score: float | None = 0.5, group: str = "g", question: str = "Why is the sky blue?") -> Rollout:
    return Rollout(group=group, question=question, answer=answer, score=score)


def test_on_topic_is_the_gates_rule_as_a_share() -> None:
    rollouts = [_r("The sky is blue because air scatters blue light."), _r("I'm not sure what to do.")]
    assert step_signals(rollouts)["on_topic"] == 0.5


def test_on_topic_accepts_an_answer_sharing_a_word_with_the_reference_as_the_gate_does() -> None:
    terse = Rollout("g", "What is the capital of Japan?", "Tokyo.", 1.0, reference="Tokyo is the capital.")
    assert step_signals([terse])["on_topic"] == 1.0
    assert step_signals([Rollout("g", "What is the capital of Japan?", "Tokyo.", 1.0)])["on_topic"] == 0.0


def test_language_match_counts_answers_in_another_script() -> None:
    rollouts = [_r("The sky is blue because of scattering."), _r("Небо голубое из-за рассеяния света.")]
    assert step_signals(rollouts)["language_match"] == 0.5


def test_answer_words_is_the_median_word_count() -> None:
    rollouts = [_r("one"), _r("one two three"), _r("one two three four five six seven")]
    assert step_signals(rollouts)["answer_words"] == 3


def test_repetition_is_the_share_of_repeated_trigrams() -> None:
    assert repetition("the sky is blue because of light") == 0.0
    assert repetition("No No No No No No") == pytest.approx(3 / 4)
    assert repetition("two words") == 0.0


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("", True),
        (" . ", True),
        ("I'm sorry, I cannot help with that.", True),
        ("I\u2019m not sure what to do.", True),
        ("I'm a helpful assistant. I'm not sure what to do.", True),
        ("As an AI, I have no opinion.", True),
        ("Boil it for seven minutes.", False),
        ("Sorry to hear that; rest and drink water.", False),
    ],
)
def test_empty_or_refusal(answer: str, expected: bool) -> None:
    assert empty_or_refusal(answer) is expected


def test_all_equal_groups_counts_groups_with_no_learning_signal() -> None:
    rollouts = [_r("a", 0.5, "p1"), _r("b", 0.5, "p1"), _r("c", 0.2, "p2"), _r("d", 0.9, "p2"), _r("e", None, "p3")]
    assert all_equal_groups(rollouts) == 0.5  # p3 has one scored answer: not a group
    assert all_equal_groups([_r("a", None)]) is None


def test_the_reward_is_the_mean_of_the_scored_answers() -> None:
    signals = step_signals([_r("a", 0.25), _r("b", 0.75), _r("c", None), _r("d", float("nan"))])
    assert signals["reward"] == 0.5
    assert step_signals([_r("a", None)])["reward"] is None
