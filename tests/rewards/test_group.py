"""reward=group: a GRPO group judged in one request per order, retry then None, dedup, shared prefixes.

A scripted judge answers from the request it is sent (it reads the ids and answers the way a model would read
them), so these tests check what the reward asks and how it reads the reply; the real judges run in
tests/integration/test_group_vllm.py and tests/test_group_train.py.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rlaif.errors import ConfigError
from rlaif.judges.protocol import JudgeRequest, PermanentJudgeError, TransportResult
from rlaif.rewards.correlation import kendall_tau
from rlaif.rewards.group import GroupReward
from rlaif.rewards.prompts.group import draw_ids, shared_prefix
from rlaif.rewards.verdicts.group import parse_group_verdict
from rlaif.rewards.verdicts.parsing import VerdictError
from tests.rewards.scripted import scripted_judge, user_text

RUBRIC = {
    "name": "t",
    "criteria": [{"id": "polite", "question": "Is it polite?"}, {"id": "concise", "question": "Is it long?"}],
}
_ANSWER = re.compile(r'Answer "([a-z]{3})":\n<answer>\n(.*?)\n</answer>', re.DOTALL)


def listed(request: JudgeRequest) -> list[tuple[str, str]]:
    """(id, shown text) of every answer in the request, in the order shown."""
    return _ANSWER.findall(user_text(request))


def reply(scores: dict[str, Any]) -> TransportResult:
    body = {i: {"rationale": f"because {s}", "score": s} for i, s in scores.items()}
    return TransportResult(text=json.dumps(body))


def by_text(score_of: Callable[[str], int], first_bonus: int = 0) -> Callable[[JudgeRequest], TransportResult]:
    """A judge scoring each answer by its text, plus ``first_bonus`` for whichever is listed first."""

    def script(request: JudgeRequest) -> TransportResult:
        shown = listed(request)
        return reply({i: min(10, score_of(t) + (first_bonus if k == 0 else 0)) for k, (i, t) in enumerate(shown)})

    return script


def call(reward: GroupReward, prompts: list[str], answers: list[str], **kwargs: Any) -> list[float | None]:
    return asyncio.run(reward(prompts, answers, **kwargs))


def test_each_prompt_group_is_one_request_per_order_with_shuffled_ids_and_a_strict_schema() -> None:
    judge, transport = scripted_judge(by_text(len))
    reward = GroupReward(judge, rubric=RUBRIC)
    prompts = ["What is 2+2?"] * 3 + ["Name a colour."] * 3
    answers = ["four", "4", "it is 4", "red", "blue", "green!"]
    scores = call(reward, prompts, answers)
    assert scores == pytest.approx([0.4, 0.1, 0.7, 0.3, 0.4, 0.6])
    assert len(transport.requests) == 6  # 2 groups x 3 orders (cyclic, the default), not 6 answers x 2 criteria
    for request in transport.requests:
        ids = [i for i, _ in listed(request)]
        assert request.affinity in ("What is 2+2?", "Name a colour.")
        assert request.json_schema is not None and request.json_schema["required"] == ids
        assert request.json_schema["additionalProperties"] is False and len(set(ids)) == 3
        assert set(request.json_schema["properties"][ids[0]]["required"]) == {"rationale", "score"}
        assert "polite: Is it polite?" in user_text(request)
    shown = [[t for _, t in listed(r)] for r in transport.requests if r.affinity == "What is 2+2?"]
    assert shown == [answers[0:3], [*answers[1:3], answers[0]], [answers[2], *answers[0:2]]]  # each at each place
    assert len({frozenset(i for i, _ in listed(r)) for r in transport.requests}) == 6  # fresh ids per request


def by_position(score_of: Callable[[str], int], bonus: list[int]) -> Callable[[JudgeRequest], TransportResult]:
    """A judge scoring each answer by its text plus ``bonus[k]`` for whichever is listed at place k."""

    def script(request: JudgeRequest) -> TransportResult:
        return reply({i: score_of(t) + bonus[k] for k, (i, t) in enumerate(listed(request))})

    return script


ANSWERS = ["aa", "bbbb", "c"]  # true scores 2, 4, 1


def test_cyclic_orders_cancel_any_position_effect_and_their_agreement_is_logged() -> None:
    for bonus in ([3, 0, 0], [0, 0, 3], [3, 0, 3], [0, 3, 0], [2, 1, 0]):  # primacy, recency, both ends, middle, linear
        judge, transport = scripted_judge(by_position(len, bonus))
        metrics: dict[str, float] = {}
        scores = call(GroupReward(judge, rubric=RUBRIC), ["q"] * 3, ANSWERS, log_metric=metrics.__setitem__)
        shift = sum(bonus) / 3  # every answer sat at every place once: each gets the mean bonus
        assert scores == pytest.approx([(len(a) + shift) / 10 for a in ANSWERS]), bonus
        assert len(transport.requests) == 3 and metrics["group/groups"] == 1
    judge, _ = scripted_judge(by_position(len, [3, 0, 0]))
    metrics = {}
    call(GroupReward(judge, rubric=RUBRIC), ["q"] * 3, ANSWERS, log_metric=metrics.__setitem__)
    rotations = [[5, 4, 1], [2, 7, 1], [2, 4, 4]]  # the first-listed answer gets +3: aa, then bbbb, then c
    taus = [kendall_tau(rotations[i], rotations[j]) for i, j in ((0, 1), (0, 2), (1, 2))]
    assert metrics["group/order_agreement"] == pytest.approx(sum(taus) / 3)  # type: ignore[arg-type]


def test_two_orders_cancel_a_linear_position_effect_only() -> None:
    judge, transport = scripted_judge(by_position(len, [2, 1, 0]))  # linear: reversed, each answer gets +1
    scores = call(GroupReward(judge, rubric=RUBRIC, orders="both"), ["q"] * 3, ANSWERS)
    assert scores == pytest.approx([(2 + 1) / 10, (4 + 1) / 10, (1 + 1) / 10]) and len(transport.requests) == 2
    # A first-place bonus (primacy) does not cancel: "aa" and "c" each get it once, "bbbb" (in the middle) never.
    judge, _ = scripted_judge(by_position(len, [3, 0, 0]))
    metrics: dict[str, float] = {}
    scores = call(GroupReward(judge, rubric=RUBRIC, orders="both"), ["q"] * 3, ANSWERS, log_metric=metrics.__setitem__)
    assert scores == pytest.approx([(5 + 2) / 20, (4 + 4) / 20, (1 + 4) / 20])
    assert metrics["group/order_agreement"] == pytest.approx(kendall_tau([5, 4, 1], [2, 4, 4]))
    assert metrics["group/groups"] == 1 and metrics["group/retried_requests"] == 0

    judge, transport = scripted_judge(by_text(len, first_bonus=3))
    one = GroupReward(judge, rubric=RUBRIC, orders="as_listed")
    assert call(one, ["q"] * 3, ANSWERS) == pytest.approx([0.5, 0.4, 0.1])
    assert len(transport.requests) == 1


def test_rank_mode_gives_best_one_worst_zero_and_ties_share() -> None:
    judge, _ = scripted_judge(by_text(len))
    reward = GroupReward(judge, instruction="Longer is better.", score="rank")
    assert call(reward, ["q"] * 4, ["aaa", "b", "cc", "ddd"]) == pytest.approx([5 / 6, 0.0, 1 / 3, 5 / 6])


def test_rank_mode_never_mixes_in_an_absolute_score() -> None:
    # One step: a pair, an answer alone (its group split over processes), a group of identical answers.
    judge, transport = scripted_judge(by_text(len))
    reward = GroupReward(judge, instruction="Longer is better.", score="rank")
    scores = call(reward, ["q1", "q1", "q2", "q3", "q3"], ["a", "bbbbbbb", "a lone one", "same", "same"])
    assert scores == pytest.approx([0.0, 1.0, 0.5, 0.5, 0.5])  # 0.5: ties with itself, never 9/10 or 4/10
    assert len(transport.requests) == 2  # only the pair is asked (its two orders)


def test_identical_answers_are_judged_once_and_share_their_score() -> None:
    judge, transport = scripted_judge(by_text(len))
    metrics: dict[str, float] = {}
    reward = GroupReward(judge, rubric=RUBRIC)
    scores = call(reward, ["q"] * 4, ["same", "other!", "same", "same"], log_metric=metrics.__setitem__)
    assert scores == pytest.approx([0.4, 0.6, 0.4, 0.4])
    assert all(len(listed(r)) == 2 for r in transport.requests)
    assert metrics["group/duplicate_answers"] == 2
    # Only identical answers: one distinct answer, one request (nothing to reverse).
    judge, transport = scripted_judge(by_text(len))
    assert call(GroupReward(judge, rubric=RUBRIC), ["q"] * 2, ["same", "same"]) == [0.4, 0.4]
    assert len(transport.requests) == 1


def test_a_long_shared_beginning_is_shown_once() -> None:
    opening = "Here is a careful answer to your question, step by step. " * 5  # ~290 characters
    answers = [opening + "Boil it for nine minutes.", opening + "Fry it.", opening + "Ask a chef, really."]
    judge, transport = scripted_judge(by_text(len))
    call(GroupReward(judge, rubric=RUBRIC), ["q"] * 3, answers)
    for request in transport.requests:
        text = user_text(request)
        assert text.count("careful answer") == 5 and "Every answer begins with the same text" in text
        assert sorted(t for _, t in listed(request)) == ["Ask a chef, really.", "Boil it for nine minutes.", "Fry it."]
    # Short shared beginnings are shown in full.
    assert shared_prefix(["The answer is 4.", "The answer is 5."], 200) == 0
    assert shared_prefix([opening + "a b", opening + "a c"], 200) == len(opening) + 2  # cut at a word boundary
    assert shared_prefix([opening + "x", opening + "xylophone"], 200) == len(opening)


def test_a_reply_missing_an_id_is_retried_as_a_new_request_then_every_answer_fails() -> None:
    sent: list[JudgeRequest] = []

    def drops_one(request: JudgeRequest) -> TransportResult:
        sent.append(request)
        shown = listed(request)
        if len(sent) <= 2:  # the first reply of each order leaves the last id out
            shown = shown[:-1]
        return reply({i: 5 for i, _ in shown})

    judge, _ = scripted_judge(drops_one)
    metrics: dict[str, float] = {}
    reward = GroupReward(judge, rubric=RUBRIC, orders="both")
    scores = call(reward, ["q"] * 3, ["a", "b", "c"], log_metric=metrics.__setitem__)
    assert scores == [0.5, 0.5, 0.5] and len(sent) == 4 and metrics["group/retried_requests"] == 2
    assert {user_text(r) for r in sent[:2]}.isdisjoint({user_text(r) for r in sent[2:]})  # new ids: a new request

    def never_valid(request: JudgeRequest) -> TransportResult:
        sent.append(request)
        return reply({i: 5 for i, _ in listed(request)[1:]})

    sent.clear()
    judge, _ = scripted_judge(never_valid)
    metrics.clear()
    scores = call(GroupReward(judge, rubric=RUBRIC), ["q"] * 3, ["a", "b", "c"], log_metric=metrics.__setitem__)
    assert scores == [None, None, None] and len(sent) == 6  # three orders, each retried once
    assert metrics["group/judge_failures"] == 3 and metrics["group/failed_groups"] == 1


@pytest.mark.parametrize(
    "body",
    [
        '{"ID0": {"rationale": "x", "score": 3}, "ID0": {"rationale": "y", "score": 4}}',  # named twice
        '{"ID0": {"rationale": "x", "score": 3}, "zzz": {"rationale": "y", "score": 4}}',  # an id shifted away
        '{"ID0": {"rationale": "x", "score": 11}, "ID1": {"rationale": "y", "score": 4}}',  # out of range
        '{"ID0": {"rationale": "x", "score": true}, "ID1": {"rationale": "y", "score": 4}}',  # not a number
        "The first answer is better.",
    ],
)
def test_an_invalid_reply_is_never_assigned_in_part(body: str) -> None:
    def script(request: JudgeRequest) -> TransportResult:
        ids = [i for i, _ in listed(request)]
        return TransportResult(text=body.replace("ID0", ids[0]).replace("ID1", ids[1]))

    judge, transport = scripted_judge(script)
    assert call(GroupReward(judge, rubric=RUBRIC), ["q", "q"], ["a", "b"]) == [None, None]
    assert len(transport.requests) == 4  # each order retried once


def test_a_judge_error_is_not_asked_again_and_counts_as_a_failure(tmp_path: Path) -> None:
    def down(request: JudgeRequest) -> TransportResult:
        raise PermanentJudgeError("HTTP 400")

    judge, transport = scripted_judge(down)
    reward = GroupReward(judge, rubric=RUBRIC, log_path=str(tmp_path / "rewards.jsonl"))
    assert call(reward, ["q"] * 2, ["a", "b"]) == [None, None] and len(transport.requests) == 2
    lines = [json.loads(line) for line in (tmp_path / "rewards.jsonl").read_text().splitlines()]
    assert all(line["score"] is None and "HTTP 400" in line["error"] and line["judged"] for line in lines)


def test_a_lone_answer_is_scored_alone_and_the_run_log_keeps_each_rationale(tmp_path: Path) -> None:
    judge, transport = scripted_judge(by_text(len))
    reward = GroupReward(judge, rubric=RUBRIC, log_path=str(tmp_path / "rewards.jsonl"))
    scores = call(reward, ["q1", "q2", "q2"], ["alone", "aa", "bbb"], id=["r1", "r2", "r2"])
    assert scores == pytest.approx([0.5, 0.2, 0.3])
    assert len(transport.requests) == 3  # one for the lone answer, two orders for the pair
    lines = [json.loads(line) for line in (tmp_path / "rewards.jsonl").read_text().splitlines()]
    assert lines[0]["rationale"] == {"as_listed": "because 5"} and lines[0]["group"]["answers"] == 1
    assert lines[2]["rationale"] == {"as_listed": "because 3", "reversed": "because 3"}
    assert lines[2]["group_scores"] == {"as_listed": 3.0, "reversed": 3.0} and lines[2]["prompt_id"] == "r2"
    assert set(lines[2]["group"]["ids"]) == {"as_listed", "reversed"}


def test_gated_answers_stay_out_of_the_group() -> None:
    judge, transport = scripted_judge(by_text(len))
    assert call(GroupReward(judge, rubric=RUBRIC), ["q"] * 3, ["aa", "  ", "bbbb"]) == pytest.approx([0.2, 0.0, 0.4])
    assert all(len(listed(r)) == 2 for r in transport.requests)


def test_judge_orders_and_judge_group_for_the_evaluations() -> None:
    judge, _ = scripted_judge(by_text(len, first_bonus=2))
    reward = GroupReward(judge, rubric=RUBRIC, orders="as_listed")  # the evaluations always judge both orders
    as_first, as_second = asyncio.run(reward.judge_orders("q", "longer", "ab"))
    assert (as_first, as_second) == pytest.approx((0.5 + 6 / 20, 0.5 + 2 / 20))
    assert asyncio.run(reward.judge_orders("q", "same", "same")) == (0.5, 0.5)
    per_answer = asyncio.run(reward.judge_group("q", ["a", "bbb", "a"]))
    assert per_answer == [pytest.approx((0.3, 0.1))] * 1 + [pytest.approx((0.3, 0.5)), pytest.approx((0.3, 0.1))]


def test_config_errors_name_the_key() -> None:
    judge, _ = scripted_judge(by_text(len))
    with pytest.raises(ConfigError, match=r"reward\.score"):
        GroupReward(judge, rubric=RUBRIC, score="best")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"reward\.orders"):
        GroupReward(judge, rubric=RUBRIC, orders="twice")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"reward\.rubric"):
        GroupReward(judge)
    reward = GroupReward(judge, rubric=RUBRIC)
    reward.judge = None  # type: ignore[assignment]  # the scripted judge's script is a local function
    assert pickle.loads(pickle.dumps(reward)).__name__ == "group"


def test_the_reader_takes_the_last_complete_verdict_and_ids_are_reproducible() -> None:
    ids = ["bcd", "fgh"]
    text = 'draft {"bcd": {"score": 1}} final {"bcd": {"rationale": "r", "score": 7}, "fgh": {"score": 2.5}}'
    verdict = parse_group_verdict(TransportResult(text=text), ids, 10)
    assert verdict["bcd"].score == 7 and verdict["fgh"].score == 2.5 and verdict["fgh"].rationale == ""
    with pytest.raises(VerdictError, match="missing"):
        parse_group_verdict(TransportResult(text='{"bcd": {"score": 1}}'), ids, 10)
    assert draw_ids(4, "s") == draw_ids(4, "s") and len(set(draw_ids(8, "t"))) == 8
    assert draw_ids(4, "s") != draw_ids(4, "u")


def test_kendall_tau_is_none_where_scipy_has_no_value() -> None:
    # scipy's tau-b is nan (with a warning) for a constant side or one item: rlaif's contract is None.
    assert kendall_tau([1, 2], [5, 5]) is None and kendall_tau([3], [1]) is None
    assert kendall_tau([4, 3, 2, 1], [1, 2, 3, 4]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="3 and 2 values"):
        kendall_tau([1, 2, 3], [1, 2])


def test_rank_mode_has_no_baseline(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # The baseline has one answer per prompt: in rank mode each would be 0.5, and a 100% "pass rate" would warn
    # that RFT cannot help. It is skipped before anything is generated (no model needed to show it).
    from rlaif.evaluation.baseline import baseline_check

    judge, transport = scripted_judge(by_text(len))
    reward = GroupReward(judge, rubric=RUBRIC, score="rank")
    with caplog.at_level("INFO"):
        assert baseline_check(None, None, reward, None, tmp_path / "baseline.json") is None
    assert "reward.score=rank" in caplog.text and not (tmp_path / "baseline.json").exists() and not transport.requests


def test_the_group_reward_holds_its_rubric_by_name_yet_declares_no_per_criterion_grading() -> None:
    # What a reward can do is the protocol it declares (rlaif.rewards.capabilities), not which attribute names it
    # happens to have: reward=group keeps its rubric as ``rubric`` and still is no rubric reward to the callers that
    # read grades per criterion (a pointwise labelled set, the Nova Lambda); score=rank declares it only ranks
    # (test_rank_mode_has_no_baseline: the baseline step skips it).
    from rlaif.evaluation.labelled_sets import LabelledSet, check_compatible
    from rlaif.nova.lambda_handler import NovaConfigError, NovaGrader
    from rlaif.rewards.capabilities import GradesCriteria, reads_first_token
    from rlaif.rewards.failures import FailurePolicy
    from rlaif.rewards.rubric import RubricReward

    judge, _ = scripted_judge(by_text(len))
    group, ranked = GroupReward(judge, rubric=RUBRIC), GroupReward(judge, rubric=RUBRIC, score="rank")
    rubric = RubricReward(judge, RUBRIC, mode="json")
    assert group.rubric is not None and group.rubric.name == rubric.rubric.name
    assert not isinstance(group, GradesCriteria) and isinstance(rubric, GradesCriteria)
    pointwise = LabelledSet(path=Path("points.jsonl"), pairwise=False, rows=[], where=[])
    with pytest.raises(ConfigError, match="is a pointwise set: use a rubric reward"):
        check_compatible(pointwise, group)
    check_compatible(pointwise, rubric)
    with pytest.raises(NovaConfigError, match="does not grade one answer at a time"):
        NovaGrader(group)
    assert NovaGrader(rubric, failures=FailurePolicy("neutral")).reward is rubric
    assert not group.ranks_within_group and ranked.ranks_within_group
    # The judge check: a json rubric reads a written verdict; a reward that declares nothing gets the strict check.
    assert not reads_first_token(rubric) and reads_first_token(RubricReward(judge, RUBRIC))
    assert reads_first_token(group)
