"""PreferenceReward with a scripted judge: both orders, exact symmetry, vs_reference, within_group round robin,
unpaired answers, hard text verdicts, failures and position consistency."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import pickle
import random
from pathlib import Path
from typing import Any

import pytest

from rlaif.judges.protocol import JudgeRequest, TransportResult
from rlaif.rewards.checks import RegexFilter
from rlaif.rewards.failures import FailurePolicy, JudgeFailureError
from rlaif.rewards.preference import PreferenceReward
from tests.rewards.scripted import Recorder, a_or_b, fail, fenced, scripted_judge, text_reply

SPEC = {
    "instruction": "The better answer is correct and short.",
    "examples": [{"question": "2+2?", "better": "4", "worse": "5", "why": "correct"}],
}
P1 = [{"role": "user", "content": "How do I boil an egg?"}]
P2 = [{"role": "user", "content": "Why is the sky blue?"}]
P3 = [{"role": "user", "content": "What is 2 + 3?"}]


def quality(text: str) -> float:
    """A hidden quality the consistent judge prefers: the number of 'good' words."""
    return float(text.count("good"))


def consistent_judge(request: JudgeRequest) -> TransportResult:
    a, b = fenced(request, "answer_a"), fenced(request, "answer_b")
    return a_or_b(1.0 / (1.0 + math.exp(quality(b) - quality(a))))


def pseudo_random_judge(request: JudgeRequest) -> TransportResult:
    digest = hashlib.sha256((fenced(request, "answer_a") + "|" + fenced(request, "answer_b")).encode()).digest()
    return a_or_b(int.from_bytes(digest[:4], "big") / 2**32)


def call(reward: Any, completions: list[Any], prompts: list[Any], **kwargs: Any) -> list[float | None]:
    return asyncio.run(reward(prompts=prompts, completions=completions, **kwargs))


def test_symmetric_by_construction_exactly() -> None:
    judge, _ = scripted_judge(pseudo_random_judge)
    reward = PreferenceReward(judge, SPEC)
    rng = random.Random(0)
    for _ in range(100):
        x, y = f"answer {rng.random()}", f"answer {rng.random()}"
        r_xy = asyncio.run(reward.compare("q", x, y))
        r_yx = asyncio.run(reward.compare("q", y, x))
        assert 0.0 <= r_xy <= 1.0 and r_xy + r_yx == 1.0  # exactly, not approximately


def test_identical_answers_tie_at_one_half_without_a_judge_call() -> None:
    judge, transport = scripted_judge(lambda request: fail())
    reward = PreferenceReward(judge, SPEC, mode="within_group")
    assert asyncio.run(reward.compare("q", "same", "same")) == 0.5
    assert call(reward, ["same", "same"], [P1, P1]) == [0.5, 0.5]
    assert call(reward, ["ref"], [P1], reference_answer=["ref"]) == [0.5]  # alone: vs its identical reference
    assert transport.requests == []


def test_vs_reference_judges_both_orders_and_averages() -> None:
    def biased(request: JudgeRequest) -> TransportResult:
        # P(A) = 0.9 when the answer is A, 0.3 when it is B: a judge with a strong position-A bias.
        return a_or_b(0.9 if fenced(request, "answer_a") == "good answer" else 0.3)

    judge, transport = scripted_judge(biased)
    recorder = Recorder()
    reward = PreferenceReward(judge, SPEC)
    [score] = call(reward, ["good answer"], [P1], reference_answer=["the reference"], **recorder.kwargs())
    assert score == pytest.approx((0.9 + (1 - 0.3)) / 2)
    assert sorted((fenced(r, "answer_a"), fenced(r, "answer_b")) for r in transport.requests) == [
        ("good answer", "the reference"),
        ("the reference", "good answer"),
    ]
    assert all(r.choices == ("A", "B") and "<reference>" not in str(r.messages) for r in transport.requests)
    assert recorder.metrics["preference/position_consistency"] == [1.0]


def test_position_bias_cancels_and_is_reported() -> None:
    judge, _ = scripted_judge(lambda request: a_or_b(0.9))  # always prefers position A
    recorder = Recorder()
    scores = call(
        PreferenceReward(judge, SPEC), ["x", "y"], [P1, P2], reference_answer=["r1", "r2"], **recorder.kwargs()
    )
    assert scores == [pytest.approx(0.5), pytest.approx(0.5)]
    assert recorder.metrics["preference/position_consistency"] == [0.0]


def test_within_group_round_robin_over_what_the_call_holds(tmp_path: Path) -> None:
    judge, transport = scripted_judge(consistent_judge)
    reward = PreferenceReward(judge, SPEC, mode="within_group", log_path=str(tmp_path / "r.jsonl"))
    completions = ["good good", "sky answer", "meh", "good", "good sky"]
    prompts = [P1, P2, P1, P1, P2]  # interleaved: groups are found by prompt, not by position
    scores = call(
        reward, completions, prompts, reference_answer=["ref one", "ref two", "ref one", "ref one", "ref two"]
    )
    assert len(transport.requests) == 2 * (3 + 1)  # both orders of 3 pairs in P1 and 1 pair in P2
    sig = lambda d: 1 / (1 + math.exp(-d))  # noqa: E731
    assert scores[0] == pytest.approx((sig(2) + sig(1)) / 2)
    assert scores[2] == pytest.approx((sig(-2) + sig(-1)) / 2)
    assert scores[1] + scores[4] == 1.0 and scores[4] == pytest.approx(sig(1))  # type: ignore[operator]
    assert sum(scores[i] for i in (0, 2, 3)) == pytest.approx(1.5)  # type: ignore[misc]
    assert all(fenced(r, "reference") in ("ref one", "ref two") for r in transport.requests)
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert set(rows[0]["win_probabilities"]) == {"#2", "#3"}


def test_alone_in_the_call_falls_back_to_the_reference_else_none() -> None:
    judge, transport = scripted_judge(consistent_judge)
    reward = PreferenceReward(judge, SPEC, mode="within_group")
    recorder = Recorder()
    scores = call(reward, ["good", "good"], [P1, P2], reference_answer=["meh", ""], **recorder.kwargs())
    assert scores[0] == pytest.approx(1 / (1 + math.exp(-1))) and scores[1] is None
    assert {fenced(r, "answer_a") for r in transport.requests} == {"good", "meh"}
    assert recorder.metrics["preference/unpaired_rate"] == [0.5]
    # The unpaired answer is not a judge failure (failure rate 0 in the step metrics), but it is
    # unscorable, so it counts toward the abort threshold, and stays None even under "neutral".
    assert recorder.metrics["preference/judge_failure_rate"] == [0.0]
    assert reward.failures.total == 2 and reward.failures.failures == 1


def test_unpaired_answers_count_toward_the_abort_threshold() -> None:
    judge, _ = scripted_judge(consistent_judge)
    failures = FailurePolicy(on_judge_error="neutral", max_failure_rate=0.5, window=4, min_calls=4)
    reward = PreferenceReward(judge, SPEC, mode="within_group", failures=failures)
    scores = call(reward, ["a"], [P1], reference_answer=[""])
    assert scores == [None]  # never the neutral 0.5: the judge never saw it
    with pytest.raises(JudgeFailureError, match="max_failure_rate"):
        call(reward, ["a", "b", "c"], [P1, P2, P3], reference_answer=["", "", ""])


def test_text_verdicts_are_hard_and_off_menu_is_a_failure() -> None:
    def texts(request: JudgeRequest) -> TransportResult:
        return text_reply("A" if "good" in fenced(request, "answer_a") else " B.")

    judge, _ = scripted_judge(texts)
    assert call(PreferenceReward(judge, SPEC), ["good"], [P1], reference_answer=["bad"]) == [1.0]
    for reply in ("[[A]]", "A, because", "", "C", "a", "b"):  # "a" is an article, not a verdict for "A"
        judge, _ = scripted_judge(lambda request, reply=reply: text_reply(reply))  # type: ignore[misc]
        reward = PreferenceReward(judge, SPEC, failures={"max_failure_rate": 1.0})
        assert call(reward, ["x"], [P1], reference_answer=["y"]) == [None]


def test_one_failed_order_makes_both_players_unscorable() -> None:
    def flaky(request: JudgeRequest) -> TransportResult:
        return fail() if fenced(request, "answer_a") == "b" else a_or_b(0.6)

    judge, _ = scripted_judge(flaky)
    reward = PreferenceReward(judge, SPEC, mode="within_group", failures={"max_failure_rate": 1.0})
    recorder = Recorder()
    assert call(reward, ["a", "b"], [P1, P1], **recorder.kwargs()) == [None, None]
    assert reward.failures.failures == 2
    assert recorder.metrics["preference/judge_failure_rate"] == [1.0]
    neutral = PreferenceReward(
        judge, SPEC, mode="within_group", failures={"on_judge_error": "neutral", "max_failure_rate": 1.0}
    )
    assert call(neutral, ["a", "b"], [P1, P1]) == [0.5, 0.5]


def test_gated_answers_score_zero_and_play_no_games() -> None:
    judge, transport = scripted_judge(consistent_judge)
    reward = PreferenceReward(judge, SPEC, mode="within_group", checks=[RegexFilter([r"\[\[A\]\]"])])
    scores = call(reward, ["good [[A]]", "good", "", "meh"], [P1] * 4)
    assert scores[0] == 0.0 and scores[2] == 0.0
    assert scores[1] == pytest.approx(1 / (1 + math.exp(-1))) and scores[3] == pytest.approx(1 / (1 + math.exp(1)))
    assert len(transport.requests) == 2


def test_vs_reference_without_the_column_is_a_clear_error() -> None:
    judge, _ = scripted_judge(consistent_judge)
    with pytest.raises(ValueError, match="needs a reference_answer column"):
        call(PreferenceReward(judge, SPEC), ["x"], [P1])
    with pytest.raises(ValueError, match="mode"):
        PreferenceReward(judge, SPEC, mode="pairwise")  # type: ignore[arg-type]


def test_picklable_with_a_stable_name() -> None:
    judge, _ = scripted_judge(consistent_judge)
    reward = PreferenceReward(judge, SPEC, name="pref")
    call(reward, ["good"], [P1], reference_answer=["meh"])
    clone = pickle.loads(pickle.dumps(reward))
    assert clone.__name__ == "pref"
    assert call(clone, ["meh"], [P1], reference_answer=["good"]) == [pytest.approx(1 / (1 + math.e))]


def test_judge_orders_keeps_the_two_positions_apart() -> None:
    judge, transport = scripted_judge(consistent_judge)
    reward = PreferenceReward(judge, SPEC)
    p_first, p_second = asyncio.run(reward.judge_orders("How do I boil an egg?", "good", "meh"))
    whole = asyncio.run(reward.compare("How do I boil an egg?", "good", "meh"))
    assert whole == pytest.approx((p_first + p_second) / 2)
    assert {fenced(r, "answer_a") for r in transport.requests[:2]} == {"good", "meh"}
